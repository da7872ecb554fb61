//! The API's filter language (field conditions with operators, `or`/`and`, dot paths through
//! link fields) translated to the store's filter, within bounds. Record lists, permission
//! scopes and rules' `find` all parse filters here.

use std::collections::{BTreeMap, BTreeSet};

use reports::{MAX_FILTER_CONDITIONS, MAX_FILTER_VALUES};
use serde_json::Value;
use store::{CmpOp, ColumnKind, Filter, Scalar, SystemColumn, Target};

use crate::EngineError;
use crate::apps::{FormRuntime, LoadedApp, column_kind};

/// The comparable value of `v` in a column of `kind`, if it has that type.
pub(crate) fn scalar_of(v: &Value, kind: ColumnKind) -> Option<Scalar> {
    match (kind, v) {
        (ColumnKind::Text, Value::String(s)) => Some(Scalar::Text(s.clone())),
        (ColumnKind::Number, Value::Number(n)) => n.as_f64().map(Scalar::Number),
        (ColumnKind::Bool, Value::Bool(b)) => Some(Scalar::Bool(*b)),
        _ => None,
    }
}

pub(crate) fn system_column(name: &str) -> Option<(SystemColumn, ColumnKind)> {
    use SystemColumn::*;
    let col = match name {
        "id" => Id,
        "version" => return Some((Version, ColumnKind::Number)),
        "owner" => Owner,
        "state" => State,
        "created_by" => CreatedBy,
        "created_at" => CreatedAt,
        "updated_by" => UpdatedBy,
        "updated_at" => UpdatedAt,
        _ => return None,
    };
    Some((col, ColumnKind::Text))
}

/// A top-level field or system column as a query target; `None` for unknown names.
/// `Some((target, None))` is a field holding a list or object (presence tests only).
pub(crate) fn target(rt: &FormRuntime, name: &str) -> Option<(Target, Option<ColumnKind>)> {
    if let Some(column) = rt.compiled.column(name) {
        let kind = column_kind(column);
        return Some((Target::Field { name: name.to_owned(), kind: kind.unwrap_or(ColumnKind::Text) }, kind));
    }
    system_column(name).map(|(col, kind)| (Target::System(col), Some(kind)))
}

/// The read scope of each form a filter reaches through links, by form id (`None`: every
/// record). Dot paths match only linked records the user may read, so a linked record outside
/// their scope behaves as if the link were empty: a filter cannot ask questions about it.
pub(crate) type LinkScopes = BTreeMap<String, Option<Filter>>;

/// The deepest a filter may nest `or`, `and` and links. (Its size is bounded as a report's filter
/// is: [`MAX_FILTER_CONDITIONS`], [`MAX_FILTER_VALUES`].)
pub(crate) const MAX_FILTER_DEPTH: usize = 8;

/// Adds to `out` every form a dot path of `filter` passes through.
pub(crate) fn linked_forms(app: &LoadedApp, rt: &FormRuntime, filter: &Value, out: &mut BTreeSet<String>) {
    let Value::Object(map) = filter else { return };
    for (key, cond) in map {
        if key == "or" || key == "and" {
            cond.as_array().into_iter().flatten().for_each(|part| linked_forms(app, rt, part, out));
            continue;
        }
        let mut form = rt;
        let mut segments: Vec<&str> = key.split('.').collect();
        segments.pop();
        for link in segments {
            let field = form.compiled.field(link).filter(|f| f.kind == defs::FieldKind::LINK);
            let Some(target) = field.and_then(|f| f.form.as_deref()).and_then(|id| app.form(id).ok()) else { break };
            out.insert(target.compiled.id.clone());
            form = target;
        }
    }
}

/// Parses a filter of the app's author (a permission scope, a rule's `find`): dot paths see every
/// linked record.
pub(crate) fn parse_filter(app: &LoadedApp, rt: &FormRuntime, value: &Value, path: &str) -> Result<Filter, EngineError> {
    FilterParser::new(app, &LinkScopes::new()).filter(rt, value, path, 0)
}

/// Translates the API's filter language to the store's, within the bounds above.
pub(crate) struct FilterParser<'a> {
    app: &'a LoadedApp,
    link_scopes: &'a LinkScopes,
    conditions: usize,
    values: usize,
}

impl<'a> FilterParser<'a> {
    pub(crate) fn new(app: &'a LoadedApp, link_scopes: &'a LinkScopes) -> Self {
        FilterParser { app, link_scopes, conditions: 0, values: 0 }
    }

    pub(crate) fn filter(&mut self, rt: &FormRuntime, value: &Value, path: &str, depth: usize) -> Result<Filter, EngineError> {
        let Value::Object(map) = value else {
            return Err(EngineError::malformed_at(path, "a filter is an object of field conditions"));
        };
        within_depth(depth, path)?;
        if map.is_empty() {
            // Always true, yet a condition in the statement all the same: an `or` of empty
            // filters would otherwise go past every bound.
            self.spend(1, 0, path)?;
        }
        let mut all = Vec::new();
        for (key, cond) in map {
            let here = format!("{path}/{key}");
            match key.as_str() {
                "or" | "and" => {
                    let Value::Array(parts) = cond else {
                        return Err(EngineError::malformed_at(here, format!("`{key}` takes an array of filters")));
                    };
                    let parts = parts
                        .iter()
                        .enumerate()
                        .map(|(i, p)| self.filter(rt, p, &format!("{here}/{i}"), depth + 1))
                        .collect::<Result<Vec<_>, _>>()?;
                    all.push(if key == "or" { Filter::Any(parts) } else { Filter::All(parts) });
                }
                _ => all.push(self.condition(rt, key, cond, &here, depth)?),
            }
        }
        Ok(Filter::All(all))
    }

    /// Counts `conditions` more conditions binding `values` values against the bounds.
    fn spend(&mut self, conditions: usize, values: usize, path: &str) -> Result<(), EngineError> {
        self.conditions += conditions;
        self.values += values;
        if self.conditions > MAX_FILTER_CONDITIONS {
            return Err(EngineError::malformed_at(path, format!("a filter may hold at most {MAX_FILTER_CONDITIONS} conditions")));
        }
        if self.values > MAX_FILTER_VALUES {
            return Err(EngineError::malformed_at(path, format!("a filter may hold at most {MAX_FILTER_VALUES} values in all")));
        }
        Ok(())
    }

    /// The condition on one (possibly dotted) field name.
    fn condition(&mut self, rt: &FormRuntime, name: &str, cond: &Value, path: &str, depth: usize) -> Result<Filter, EngineError> {
        if let Some((link, rest)) = name.split_once('.') {
            let field = rt
                .compiled
                .field(link)
                .filter(|f| f.kind == defs::FieldKind::LINK)
                .ok_or_else(|| EngineError::malformed_at(path, format!("`{link}` is not a link field of {}", rt.compiled.id)))?;
            within_depth(depth + 1, path)?;
            let target = self.app.form(field.form.as_deref().unwrap_or_default())?;
            let mut inner = self.condition(target, rest, cond, path, depth + 1)?;
            if let Some(Some(scope)) = self.link_scopes.get(&target.compiled.id) {
                inner = Filter::All(vec![inner, scope.clone()]);
            }
            return Ok(Filter::Link { field: link.to_owned(), table: target.table.clone(), filter: Box::new(inner) });
        }
        let (target, kind) =
            target(rt, name).ok_or_else(|| EngineError::malformed_at(path, format!("unknown field `{name}` in {}", rt.compiled.id)))?;
        let ops = match cond {
            Value::Object(ops) => ops.clone(),
            other => [("eq".to_owned(), other.clone())].into_iter().collect(),
        };
        if ops.is_empty() {
            self.spend(1, 0, path)?;
        }
        let mut parts = Vec::new();
        for (op, arg) in &ops {
            let at = format!("{path}/{op}");
            self.spend(1, arg.as_array().map_or(1, Vec::len), &at)?;
            let scalar = |v: &Value| -> Result<Scalar, EngineError> {
                let kind =
                    kind.ok_or_else(|| EngineError::malformed_at(&at, format!("`{name}` holds a list; only has and is_null apply")))?;
                scalar_of(v, kind).ok_or_else(|| EngineError::malformed_at(&at, format!("expected {} for `{name}`", describe(kind))))
            };
            let list = |v: &Value| -> Result<Vec<Scalar>, EngineError> {
                match v {
                    Value::Array(items) => items.iter().map(scalar).collect(),
                    _ => Err(EngineError::malformed_at(&at, format!("`{op}` takes an array"))),
                }
            };
            let cmp = |op: CmpOp| -> Result<Filter, EngineError> { Ok(Filter::Cmp(target.clone(), op, scalar(arg)?)) };
            parts.push(match op.as_str() {
                "eq" if arg.is_null() => Filter::IsNull(target.clone(), true),
                "ne" if arg.is_null() => Filter::IsNull(target.clone(), false),
                "eq" => cmp(CmpOp::Eq)?,
                "ne" => cmp(CmpOp::Ne)?,
                "gt" => cmp(CmpOp::Gt)?,
                "gte" => cmp(CmpOp::Gte)?,
                "lt" => cmp(CmpOp::Lt)?,
                "lte" => cmp(CmpOp::Lte)?,
                "has" => match (kind, arg, &target) {
                    (None, Value::String(value), Target::Field { name, .. }) => Filter::Has { field: name.clone(), value: value.clone() },
                    (None, _, _) => return Err(EngineError::malformed_at(&at, "`has` takes one value of the list")),
                    _ => {
                        return Err(EngineError::malformed_at(
                            &at,
                            format!("`has` applies to list fields (tags, multi-select), not `{name}`"),
                        ));
                    }
                },
                "contains" | "starts_with" if kind != Some(ColumnKind::Text) => {
                    return Err(EngineError::malformed_at(&at, format!("`{op}` applies to text fields only")));
                }
                "contains" => cmp(CmpOp::Contains)?,
                "starts_with" => cmp(CmpOp::StartsWith)?,
                "in" => Filter::In { target: target.clone(), values: list(arg)?, negate: false },
                "nin" => Filter::In { target: target.clone(), values: list(arg)?, negate: true },
                "between" => match list(arg)?.as_slice() {
                    [low, high] => Filter::Between(target.clone(), low.clone(), high.clone()),
                    _ => return Err(EngineError::malformed_at(&at, "`between` takes [low, high]")),
                },
                "is_null" => match arg {
                    Value::Bool(b) => Filter::IsNull(target.clone(), *b),
                    _ => return Err(EngineError::malformed_at(&at, "`is_null` takes true or false")),
                },
                _ => {
                    return Err(EngineError::malformed_at(
                        &at,
                        format!(
                            "unknown operator `{op}` (eq, ne, gt, gte, lt, lte, in, nin, contains, starts_with, between, is_null, has)"
                        ),
                    ));
                }
            });
        }
        Ok(Filter::All(parts))
    }
}

fn within_depth(depth: usize, path: &str) -> Result<(), EngineError> {
    if depth > MAX_FILTER_DEPTH {
        return Err(EngineError::malformed_at(path, format!("a filter may nest `or`, `and` and links at most {MAX_FILTER_DEPTH} deep")));
    }
    Ok(())
}

fn describe(kind: ColumnKind) -> &'static str {
    match kind {
        ColumnKind::Text => "a string",
        ColumnKind::Number => "a number",
        ColumnKind::Bool => "true or false",
    }
}
