//! Listing records: a filter (parsed by `filter`) limited to what the caller may see, sort,
//! keyset cursors and field selection, translated to the store's query.

use std::collections::BTreeSet;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use defs::Action;
use serde::Deserialize;
use serde_json::{Value, json};
use store::{Cursor, Deleted, Filter, ListQuery, Scalar, SortKey, SystemColumn, Target};

use crate::access::Access;
use crate::advisor::Shape;
use crate::apps::{FormRuntime, LoadedApp};
use crate::audit::Subject;
use crate::filter::{FilterParser, LinkScopes, linked_forms, scalar_of, target};
use crate::{Actor, AppId, Engine, EngineError, Envelope, FormId, Page, Total};

/// Query parameters of a list, as they arrive.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListParams {
    /// JSON: `{"stage": "proposal", "amount": {"gt": 50000}, "or": [{…}, {…}]}`.
    pub filter: Option<String>,
    /// Comma-separated keys, `-` for descending: `-amount,name`.
    pub sort: Option<String>,
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Comma-separated field ids to return in `data`.
    pub fields: Option<String>,
    /// `true` lists deleted records (the trash) instead of live ones.
    pub deleted: Option<bool>,
    /// `true` also counts the matching records (up to [`MAX_COUNT`]).
    pub count: Option<bool>,
}

pub(crate) const DEFAULT_LIMIT: u64 = 50;
/// Where counting a list's matches stops. A count is a scan of every match (of the table, when
/// the filter has no index), so past this it would cost more than the page it labels; a list
/// shows "10,000+" instead, and a report counts exactly.
pub(crate) const MAX_COUNT: u64 = 10_000;
pub(crate) const MAX_LIMIT: u64 = 500;
const MAX_SORT_KEYS: usize = 4;

impl Engine {
    /// One page of `form`'s records matching `params`, among those the actor may see.
    pub async fn list(&self, actor: &Actor, app: &AppId, form: &FormId, params: &ListParams) -> Result<Page, EngineError> {
        let (app, form) = (app.as_str(), form.as_str());
        self.command(actor, Subject { action: "list", app, form, id: "" }, self.list_unaudited(actor, app, form, params)).await
    }

    async fn list_unaudited(&self, actor: &Actor, app: &str, form: &str, params: &ListParams) -> Result<Page, EngineError> {
        let loaded = &self.app(app)?;
        let rt = loaded.form(form)?;
        let access = Access::of(actor, rt);
        let trash = params.deleted == Some(true);
        access.require(if trash { Action::Delete } else { Action::Read }, form)?;
        let filter = match params.filter.as_deref() {
            None | Some("") => None,
            Some(text) => {
                let value: Value = serde_json::from_str(text)
                    .map_err(|e| EngineError::malformed_at("/filter", format!("filter is not valid JSON: {e}")))?;
                // Parsed once to answer a malformed filter (400) before a forbidden one (403), and
                // again with the linked forms' scopes, which are read only for a filter allowed.
                FilterParser::new(loaded, &LinkScopes::new()).filter(rt, &value, "/filter", 0)?;
                check_filter_visible(actor, loaded, rt, &access, &value, "/filter")?;
                let scopes = self.link_scopes(actor, loaded, rt, &value).await?;
                Some(FilterParser::new(loaded, &scopes).filter(rt, &value, "/filter", 0)?)
            }
        };
        let scope = self.scope(self.store.db(), actor, loaded, rt, &access, if trash { Action::Delete } else { Action::Read }).await?;
        // What the caller asked, before their row scope: the index advisor's shape of this list.
        let asked = filter.clone();
        let filter = match (filter, scope) {
            (Some(f), Some(s)) => Some(Filter::All(vec![f, s])),
            (f, s) => f.or(s),
        };
        let sort_text = params.sort.clone().unwrap_or_default();
        let sort = parse_sort(rt, &sort_text)?;
        for key in &sort {
            if let Target::Field { name, .. } = &key.target {
                access.check_visible(name, "/sort")?;
            }
        }
        let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(EngineError::malformed_at("/limit", format!("limit must be between 1 and {MAX_LIMIT}")));
        }
        let after = params.cursor.as_deref().map(|c| decode_cursor(c, &sort_text, sort.len())).transpose()?;
        let fields = parse_fields(rt, params.fields.as_deref())?;
        for name in fields.iter().flatten() {
            access.check_visible(name, "/fields")?;
        }
        let deleted = if trash { Deleted::Only } else { Deleted::Exclude };
        let query = &ListQuery { filter, sort: sort.clone(), after, limit: limit + 1, deleted };
        let total = match params.count {
            Some(true) => {
                let counted =
                    self.read_replicated(actor, |db| async move { store::count(&db, &rt.table, query, MAX_COUNT + 1).await }).await?;
                Some(Total { records: counted.min(MAX_COUNT), capped: counted > MAX_COUNT })
            }
            _ => None,
        };
        let started = Instant::now();
        let mut records = self.read_replicated(actor, |db| async move { store::list(&db, &rt.table, query).await }).await?;
        self.observe_query(loaded, started.elapsed(), || Shape::of_list(rt, asked.as_ref(), &sort));
        let more = records.len() as u64 > limit;
        records.truncate(limit as usize);
        let items: Vec<Envelope> = records.into_iter().map(|r| Envelope::new(form, r)).collect();
        let next_cursor = match items.last() {
            Some(last) if more => Some(encode_cursor(&sort_text, &sort, last)),
            _ => None,
        };
        let items = items
            .into_iter()
            .map(|mut e| {
                access.redact_record(loaded, actor, &mut e);
                if let Some(keep) = &fields {
                    e.data.retain(|k, _| keep.iter().any(|f| f == k));
                }
                e
            })
            .collect();
        Ok(Page { items, next_cursor, total })
    }
}

/// Refuses a filter that names a field the actor may not see, here or through a link (a filter
/// on a hidden field would reveal its values one question at a time).
fn check_filter_visible(
    actor: &Actor,
    app: &LoadedApp,
    rt: &FormRuntime,
    access: &Access,
    value: &Value,
    path: &str,
) -> Result<(), EngineError> {
    let Value::Object(map) = value else { return Ok(()) };
    for (key, cond) in map {
        let here = format!("{path}/{key}");
        match key.as_str() {
            "or" | "and" => {
                for (i, part) in cond.as_array().into_iter().flatten().enumerate() {
                    check_filter_visible(actor, app, rt, access, part, &format!("{here}/{i}"))?;
                }
            }
            _ => {
                let (head, rest) = key.split_once('.').map_or((key.as_str(), None), |(h, r)| (h, Some(r)));
                access.check_visible(head, &here)?;
                if let Some(rest) = rest {
                    let target = app.form(rt.compiled.field(head).and_then(|f| f.form.as_deref()).unwrap_or_default())?;
                    let target_access = Access::of(actor, target);
                    target_access.require(Action::Read, &target.compiled.id)?;
                    let nested = Value::Object([(rest.to_owned(), cond.clone())].into_iter().collect());
                    check_filter_visible(actor, app, target, &target_access, &nested, path)?;
                }
            }
        }
    }
    Ok(())
}

impl Engine {
    /// The read scopes of the forms `filter` reaches through links (see [`LinkScopes`]).
    async fn link_scopes(&self, actor: &Actor, app: &LoadedApp, rt: &FormRuntime, filter: &Value) -> Result<LinkScopes, EngineError> {
        let mut forms = BTreeSet::new();
        linked_forms(app, rt, filter, &mut forms);
        let mut scopes = LinkScopes::new();
        for id in forms {
            let target = app.form(&id)?;
            let access = Access::of(actor, target);
            scopes.insert(id, self.scope(self.store.db(), actor, app, target, &access, Action::Read).await?);
        }
        Ok(scopes)
    }
}

fn parse_sort(rt: &FormRuntime, text: &str) -> Result<Vec<SortKey>, EngineError> {
    let keys: Vec<&str> = text.split(',').map(str::trim).filter(|k| !k.is_empty()).collect();
    if keys.len() > MAX_SORT_KEYS {
        return Err(EngineError::malformed_at("/sort", format!("at most {MAX_SORT_KEYS} sort keys")));
    }
    keys.into_iter()
        .map(|key| {
            let (descending, name) = match key.strip_prefix('-') {
                Some(name) => (true, name),
                None => (false, key.strip_prefix('+').unwrap_or(key)),
            };
            match target(rt, name) {
                Some((target, Some(_))) => Ok(SortKey { target, descending }),
                Some((_, None)) => Err(EngineError::malformed_at("/sort", format!("`{name}` holds a list and cannot be sorted"))),
                None => Err(EngineError::malformed_at("/sort", format!("unknown field `{name}` in {}", rt.compiled.id))),
            }
        })
        .collect()
}

fn parse_fields(rt: &FormRuntime, text: Option<&str>) -> Result<Option<Vec<String>>, EngineError> {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let names: Vec<String> = text.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
    if let Some(bad) = names.iter().find(|n| rt.compiled.field(n).is_none()) {
        return Err(EngineError::malformed_at("/fields", format!("unknown field `{bad}` in {}", rt.compiled.id)));
    }
    Ok(Some(names))
}

fn sort_value(key: &SortKey, e: &Envelope) -> Option<Scalar> {
    let text = |s: &str| Some(Scalar::Text(s.to_owned()));
    match &key.target {
        Target::System(col) => match col {
            SystemColumn::Id => text(&e.id),
            SystemColumn::Version => Some(Scalar::Number(e.version as f64)),
            SystemColumn::Owner => text(&e.owner),
            SystemColumn::State => e.state.as_deref().and_then(text),
            SystemColumn::CreatedBy => text(&e.created_by),
            SystemColumn::CreatedAt => text(&e.created_at),
            SystemColumn::UpdatedBy => text(&e.updated_by),
            SystemColumn::UpdatedAt => text(&e.updated_at),
        },
        Target::Field { name, kind } => e.data.get(name).and_then(|v| scalar_of(v, *kind)),
    }
}

fn encode_cursor(sort_text: &str, sort: &[SortKey], last: &Envelope) -> String {
    let values: Vec<Value> = sort
        .iter()
        .map(|k| match sort_value(k, last) {
            None => Value::Null,
            Some(Scalar::Text(s)) => json!(s),
            Some(Scalar::Number(n)) => json!(n),
            Some(Scalar::Bool(b)) => json!(b),
        })
        .collect();
    URL_SAFE_NO_PAD.encode(json!({"sort": sort_text, "values": values, "id": last.id}).to_string())
}

fn decode_cursor(text: &str, sort_text: &str, keys: usize) -> Result<Cursor, EngineError> {
    let bad = || EngineError::malformed_at("/cursor", "not a cursor this list returned");
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if value["sort"].as_str() != Some(sort_text) {
        return Err(EngineError::malformed_at("/cursor", "the cursor belongs to a different sort; start again without it"));
    }
    let values = value["values"].as_array().filter(|v| v.len() == keys).ok_or_else(bad)?;
    let values = values
        .iter()
        .map(|v| match v {
            Value::Null => Some(None),
            Value::String(s) => Some(Some(Scalar::Text(s.clone()))),
            Value::Number(n) => n.as_f64().map(|n| Some(Scalar::Number(n))),
            Value::Bool(b) => Some(Some(Scalar::Bool(*b))),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(bad)?;
    let id = value["id"].as_str().ok_or_else(bad)?.to_owned();
    Ok(Cursor { values, id })
}
