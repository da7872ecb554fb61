//! Rollup fields: a figure of a record aggregated from the records of another form that link
//! to it (a contract's paid amount, the sum of its payments). The engine keeps them up to date;
//! here are their definition and what `tessera check` verifies of them.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{AppDefs, FieldKind, Form};

/// What a `rollup` field aggregates: the records of `form` whose `link` names this record,
/// those matching `where`, counted or their `field` summed, or its least or greatest value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rollup {
    /// The form whose records are aggregated.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub form: String,
    /// The link field of `form` that points to this form.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub link: String,
    pub op: RollupOp,
    /// The number field of `form` aggregated; required except for `count`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Only records matching this filter count, in the report filter language (dot paths,
    /// relative dates such as `{"due_date": {"before_now": true}}`). A filter relative to today
    /// makes the rollup time-dependent: the job worker recomputes it every day.
    #[serde(rename = "where", default, skip_serializing_if = "Map::is_empty")]
    pub filter: Map<String, Value>,
}

/// How a rollup aggregates. Over no records, `count` and `sum` are 0; `min` and `max` have no
/// value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RollupOp {
    Count,
    Sum,
    Min,
    Max,
}

/// Filter operators whose meaning depends on the day they are evaluated.
const RELATIVE_DATE_OPERATORS: &[&str] = &["period", "last_n_days", "next_n_days", "older_than_days", "before_now"];

impl Rollup {
    /// Whether the rollup's filter is relative to today, so its value changes with the date alone.
    pub fn is_time_dependent(&self) -> bool {
        mentions_relative_date(&self.filter)
    }
}

fn mentions_relative_date(filter: &Map<String, Value>) -> bool {
    filter.iter().any(|(key, condition)| match (key.as_str(), condition) {
        ("or" | "and", Value::Array(parts)) => parts.iter().filter_map(Value::as_object).any(mentions_relative_date),
        (_, Value::Object(ops)) => ops.keys().any(|op| RELATIVE_DATE_OPERATORS.contains(&op.as_str())),
        _ => false,
    })
}

/// Field kinds a rollup may sum or take the least or greatest of.
const NUMERIC_KINDS: &[FieldKind] = &[FieldKind::NUMBER, FieldKind::INTEGER, FieldKind::DECIMAL, FieldKind::CURRENCY, FieldKind::RATING];

/// Checks the rollup fields of form `form_id`: each declares its `rollup`, over a form that
/// links back to this one, aggregating a number field that exists. (The `where` filter is
/// compiled by the engine when it loads the app.)
pub(crate) fn check_rollups(defs: &AppDefs, form_id: &str, form: &Form, file: &PathBuf, at: &mut impl FnMut(&PathBuf, String, String)) {
    for (i, field) in form.fields.iter().enumerate() {
        let p = format!("/fields/{i}");
        // `rollup` on another type is refused by `forms`, as every property not of its type.
        match &field.rollup {
            None if field.kind == FieldKind::ROLLUP => {
                at(file, format!("{p}/rollup"), "a rollup field declares what it aggregates in `rollup`".into())
            }
            Some(rollup) if field.kind == FieldKind::ROLLUP => check_rollup(defs, form_id, rollup, &format!("{p}/rollup"), file, at),
            _ => {}
        }
        for (c, column) in field.fields.iter().enumerate().filter(|(_, c)| c.kind == FieldKind::ROLLUP || c.rollup.is_some()) {
            at(file, format!("{p}/fields/{c}/type"), format!("`{}`: a table column cannot be a rollup", column.id));
        }
    }
}

fn check_rollup(defs: &AppDefs, form_id: &str, rollup: &Rollup, p: &str, file: &PathBuf, at: &mut impl FnMut(&PathBuf, String, String)) {
    let Some(source) = defs.forms.get(&rollup.form) else {
        at(file, format!("{p}/form"), format!("no form `{}`", rollup.form));
        return;
    };
    match source.field(&rollup.link) {
        None => at(file, format!("{p}/link"), format!("form `{}` has no field `{}`", rollup.form, rollup.link)),
        Some(link) if link.kind != FieldKind::LINK || link.form.as_deref() != Some(form_id) => at(
            file,
            format!("{p}/link"),
            format!("`{}.{}` is not a link to `{form_id}`: a rollup aggregates records that link back", rollup.form, rollup.link),
        ),
        Some(_) => {}
    }
    match (rollup.op, &rollup.field) {
        (RollupOp::Count, None) => {}
        (RollupOp::Count, Some(_)) => at(file, format!("{p}/field"), "`count` counts records and takes no `field`".into()),
        (op, None) => at(file, format!("{p}/field"), format!("`{op:?}` needs the `field` it aggregates").to_lowercase()),
        (_, Some(name)) => match source.field(name) {
            None => at(file, format!("{p}/field"), format!("form `{}` has no field `{name}`", rollup.form)),
            Some(summed) if !NUMERIC_KINDS.contains(&summed.kind) => {
                at(file, format!("{p}/field"), format!("`{}.{name}` is not a number field", rollup.form))
            }
            Some(_) => {}
        },
    }
}
