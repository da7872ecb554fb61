//! From a file's columns and cells to field values: which field each column fills (and whether
//! the importer may write it), each cell read by its field type, links named by title looked up
//! among the records the importer may read, and a refused row's errors named by column.

use std::collections::HashMap;

use defs::{Action, Field, FieldKind};
use forms::{FieldCode, FieldError};
use serde_json::{Map, Value, json};
use store::{CmpOp, Conn, Deleted, Filter, ListQuery, Scalar, Target};
use uuid::Uuid;

use super::{ImportOptions, OnDuplicate, RowContext, RowError};
use crate::access::Access;
use crate::apps::LoadedApp;
use crate::command::Cmd;
use crate::{Actor, Engine, EngineError};

impl Engine {
    /// The row's cells as field values, linked records looked up by title.
    pub(super) async fn convert(
        &self,
        cmd: Cmd<'_, impl Conn>,
        ctx: &RowContext<'_>,
        cells: &[String],
        links: &mut LinkCache,
    ) -> Result<Map<String, Value>, EngineError> {
        let (columns, headers) = (ctx.columns, ctx.headers);
        let Converted { mut data, mut errors, .. } = convert_cells(columns, headers, cells);
        for ((field, header), text) in cells_of(columns, headers, cells).filter(|((f, _), _)| f.kind == FieldKind::LINK) {
            match self.resolve_link(cmd, field, text, links).await {
                Ok(v) => {
                    data.insert(field.id.clone(), v);
                }
                Err(message) => errors.push(unreadable(field, header, message)),
            }
        }
        if errors.is_empty() { Ok(data) } else { Err(EngineError::Invalid(errors)) }
    }

    /// A link cell holds the target's id, or its title (e.g. the account's name).
    async fn resolve_link(&self, cmd: Cmd<'_, impl Conn>, field: &Field, text: &str, cache: &mut LinkCache) -> Result<Value, String> {
        let (tx, actor, app) = (cmd.tx, cmd.actor, cmd.app);
        if Uuid::parse_str(text).is_ok() {
            return Ok(json!(text));
        }
        let target_id = field.form.clone().unwrap_or_default();
        let key = (target_id.clone(), text.to_owned());
        if let Some(found) = cache.0.get(&key) {
            return found.clone();
        }
        let found = async {
            let target = app.form(&target_id).map_err(|e| e.to_string())?;
            let title = target.compiled.def.title_field.clone().ok_or_else(|| format!("{target_id} has no title field; use record ids"))?;
            let access = Access::of(actor, target);
            let scope = self.scope(tx, actor, app, target, &access, Action::Read).await.map_err(|e| e.to_string())?;
            let by_title =
                Filter::Cmp(Target::Field { name: title, kind: store::ColumnKind::Text }, CmpOp::Eq, Scalar::Text(text.to_owned()));
            let filter = Filter::All(vec![by_title].into_iter().chain(scope).collect());
            let query = ListQuery { filter: Some(filter), sort: Vec::new(), after: None, limit: 2, deleted: Deleted::Exclude };
            let rows = store::list(tx, &target.table, &query).await.map_err(|e| e.to_string())?;
            match rows.as_slice() {
                [one] => Ok(json!(one.id)),
                [] => Err(format!("no {target_id} named `{text}`")),
                _ => Err(format!("more than one {target_id} is named `{text}`; use its id")),
            }
        }
        .await;
        cache.0.insert(key, found.clone());
        found
    }
}

/// Export columns that are not fields; an import of an export ignores them.
const SYSTEM_COLUMNS: [&str; 4] = ["id", "owner", "created_at", "updated_at"];

/// A row's cells converted to values, but for links given by title.
pub(super) struct Converted {
    pub(super) data: Map<String, Value>,
    pub(super) errors: Vec<FieldError>,
    /// Whether a link cell names its record by title.
    pub(super) pending_links: bool,
}

/// The non-empty cells of mapped columns, trimmed, with their field and header.
fn cells_of<'a>(
    columns: &'a [Option<Field>],
    headers: &'a [String],
    cells: &'a [String],
) -> impl Iterator<Item = ((&'a Field, &'a String), &'a str)> {
    let cells = cells.iter().map(|c| c.trim()).chain(std::iter::repeat(""));
    columns
        .iter()
        .zip(headers)
        .zip(cells)
        .filter_map(|((field, header), text)| Some(((field.as_ref()?, header), text)))
        .filter(|(_, t)| !t.is_empty())
}

/// Converts a row's cells by field type; link cells holding a record id are taken as they are.
pub(super) fn convert_cells(columns: &[Option<Field>], headers: &[String], cells: &[String]) -> Converted {
    let mut converted = Converted { data: Map::new(), errors: Vec::new(), pending_links: false };
    for ((field, header), text) in cells_of(columns, headers, cells) {
        let value = if field.kind != FieldKind::LINK {
            forms::field_type(&field.kind).parse_text(field, text)
        } else if Uuid::parse_str(text).is_ok() {
            Ok(json!(text))
        } else {
            converted.pending_links = true;
            continue;
        };
        match value {
            Ok(v) => {
                converted.data.insert(field.id.clone(), v);
            }
            Err(message) => converted.errors.push(unreadable(field, header, message)),
        }
    }
    converted
}

/// A cell `field`'s type cannot read, in column `header`; `reason` says why.
fn unreadable(field: &Field, header: &str, reason: String) -> FieldError {
    let error = FieldError::coded(format!("/{}", field.id), FieldCode::UnreadableCell, format!("{header}: {reason}"));
    error.with("column", header).with("text", reason)
}

#[derive(Default)]
pub(super) struct LinkCache(HashMap<(String, String), Result<Value, String>>);

/// An import needs the import and create rights, and update too when duplicates are to be updated.
pub(super) fn require_import_rights(access: &Access, form: &str, on_duplicate: OnDuplicate) -> Result<(), EngineError> {
    access.require(Action::Import, form)?;
    access.require(Action::Create, form)?;
    if on_duplicate == OnDuplicate::Update {
        access.require(Action::Update, form)?;
    }
    Ok(())
}

/// The field of each column (`None`: ignored), after checking the actor may import into the form
/// and write every mapped field.
pub(super) fn plan(
    actor: &Actor,
    app: &LoadedApp,
    form: &str,
    headers: &[String],
    options: &ImportOptions,
) -> Result<Vec<Option<Field>>, EngineError> {
    let rt = app.form(form)?;
    let access = Access::of(actor, rt);
    require_import_rights(&access, form, options.on_duplicate)?;
    let fields = &rt.compiled.def.fields;
    let mut columns = Vec::new();
    for (i, header) in headers.iter().enumerate() {
        let name = header.trim();
        let field = match options.map.get(name) {
            Some(id) => Some(
                fields
                    .iter()
                    .find(|f| &f.id == id)
                    .ok_or_else(|| EngineError::malformed_at(format!("/map/{name}"), format!("no field `{id}` in {form}")))?,
            ),
            None if SYSTEM_COLUMNS.contains(&name) => None,
            None => fields.iter().find(|f| f.id == name || f.label.texts().iter().any(|t| t.trim().eq_ignore_ascii_case(name))),
        };
        if let Some(f) = field {
            let computed = f.formula.is_some() || f.read_only || f.kind == FieldKind::AUTO_NUMBER;
            if computed || access.locked.contains(&f.id) || access.hidden.contains(&f.id) {
                let message = format!("column `{name}` maps to `{}`, which you may not write", f.id);
                return Err(EngineError::ForbiddenFields(vec![
                    FieldError::coded(format!("/columns/{i}"), FieldCode::NotWritable, message).with("column", name),
                ]));
            }
        }
        columns.push(field.cloned());
    }
    if columns.iter().all(Option::is_none) {
        return Err(EngineError::malformed_at("/columns", format!("no column matches a field of {form}")));
    }
    Ok(columns)
}

/// The row's errors, each named by the column of its field where there is one.
pub(super) fn row_errors(row: usize, error: &EngineError, columns: &[Option<Field>], headers: &[String]) -> Vec<RowError> {
    let column_of = |path: &str| {
        let field = path.trim_start_matches('/').split('/').next().unwrap_or_default();
        columns.iter().zip(headers).find(|(f, _)| f.as_ref().is_some_and(|f| f.id == field)).map(|(_, h)| h.clone())
    };
    let (details, code) = (error.details(), error.code());
    if details.is_empty() {
        return vec![RowError { row, column: None, message: error.to_string(), error: code, code: None, params: Map::new() }];
    }
    details
        .into_iter()
        .map(|d| RowError { row, column: column_of(&d.path), message: d.message, error: code, code: Some(d.code), params: d.params })
        .collect()
}
