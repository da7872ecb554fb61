//! `reports/<id>.json`: a declarative query over one form — filters, dimensions, measures,
//! having, sort, limit, pivot and a chart hint. The same shape is what the report builder sends
//! as an ad-hoc query; the `reports` crate compiles it to SQL.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{Label, is_false};

/// A report. Its id is the file name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Report {
    #[serde(rename = "$schema", default, skip_serializing_if = "String::is_empty")]
    pub schema: String,
    /// Required in saved reports; ad-hoc queries may leave it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Label>,
    /// The form whose records are counted.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub source: String,
    /// Count the rows of this child table of `source` instead of its records: a payment plan's
    /// instalments, a quote's lines. A row's fields are named through the table
    /// (`payment_plan.due_date`); every other name reads the row's record as usual
    /// (`status`, `account.name`), and a drill-down lists the records holding the rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub rows: Option<String>,
    /// Which records count: the list API's filter language (`{"stage": {"in": [...]}, "or": [...]}`,
    /// dot paths through links) plus relative dates (`{"close_date": {"period": "this_quarter"}}`,
    /// `{"last_n_days": 30}`, `{"next_n_days": 7}`, `{"older_than_days": 30}`, `{"before_now": true}`).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub filter: Map<String, Value>,
    /// Group-by columns, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<Dimension>,
    /// Computed columns; at least one.
    pub measures: Vec<Measure>,
    /// Conditions on measures after grouping: `{"count": {"gte": 5}}` (same operators).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub having: Map<String, Value>,
    /// Dimension or measure ids, `-` for descending: `["-amount", "stage"]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sort: Vec<String>,
    /// Most rows returned (default and maximum 10,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Show as a cross table: some dimensions down, the others across.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pivot: Option<Pivot>,
    /// Add a grand total (and, in a pivot, row and column totals), computed by the database.
    #[serde(default, skip_serializing_if = "is_false")]
    pub totals: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<Chart>,
}

/// A group-by column: a field (or a dot path through link fields, `account.industry`, a part
/// of a region field, `province.province`, or a system column such as `owner` or `state`),
/// optionally bucketed by date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dimension {
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub id: String,
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<DateBucket>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
}

/// How dates are grouped. Values are text: `2026-11-23`, `2026-11-16` (the Monday),
/// `2026-11`, `2026-Q4`, `2026`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DateBucket {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

/// A computed column: an aggregate (`agg` over `field`, optionally only over records matching
/// `filter`) or a calculation over other measures (`calc`, e.g. `"won / closed"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Measure {
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agg: Option<Aggregate>,
    /// The field aggregated; `count` counts records when it is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// A number field each value is multiplied by before aggregating (a weighted sum, e.g.
    /// `amount` times `probability`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<String>,
    /// Only records matching this filter contribute (a conditional aggregate).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub filter: Map<String, Value>,
    /// Arithmetic over other measures' ids and numbers: `+ - * /` and parentheses. Division by
    /// zero gives no value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calc: Option<String>,
    /// How the figure reads; a plain number without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<MeasureFormat>,
}

/// How a measure's figure reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MeasureFormat {
    /// A ratio shown as a percentage: 0.25 reads 25%.
    Percent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    Count,
    CountDistinct,
    /// The total; 0 over no records.
    Sum,
    /// The mean; none over no records (as `min` and `max`).
    Avg,
    Min,
    Max,
}

/// A cross table: `rows` and `columns` are dimension ids; together they name every dimension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pivot {
    pub rows: Vec<String>,
    pub columns: Vec<String>,
}

/// How the UI draws the result; the data is the same for every kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Chart {
    pub kind: ChartKind,
    /// Dimension on the category axis (default: the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Measures drawn (default: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub y: Vec<String>,
    /// Dimension splitting the measures into series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<String>,
}

/// How a report's result is drawn. A kind draws only results of its shape, and a chart that
/// cannot draw its report's is refused at `/chart/kind`: a `table` takes any result; a `kpi`
/// no dimension and one measure; the others at least one dimension (a `pivot` two) and
/// measure, `pie`, `funnel` and `map` exactly one measure (the chart's `y`, else every
/// measure); only `table`, `bar`, `line` and `pivot` take a `series`. `GET /api/chart-kinds`
/// lists each kind's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChartKind {
    Table,
    Kpi,
    Bar,
    Line,
    Pie,
    Funnel,
    Pivot,
    /// A map of China by province: the category dimension (`x`, else the first) is a text
    /// field naming provinces, or a region field's `province`.
    Map,
}

impl ChartKind {
    /// Every kind, in the order a kind picker offers them.
    pub const ALL: [ChartKind; 8] = [
        ChartKind::Table,
        ChartKind::Kpi,
        ChartKind::Bar,
        ChartKind::Line,
        ChartKind::Pie,
        ChartKind::Funnel,
        ChartKind::Pivot,
        ChartKind::Map,
    ];
}

/// What the loader can check without compiling: schema references, that sources and tile
/// reports exist, that saved reports have labels. Fields are resolved by the `reports` crate,
/// which the engine runs over every saved report when it loads the app.
pub(crate) fn cross_references(defs: &crate::AppDefs) -> Vec<crate::Diagnostic> {
    use crate::{DefKind, Diagnostic};
    let mut out = Vec::new();
    for (id, report) in &defs.reports {
        let file = defs.dir.join("reports").join(format!("{id}.json"));
        if !report.schema.ends_with(DefKind::Report.schema_file()) {
            out.push(Diagnostic::new(&file, "/$schema", format!("must name the schema `{}`", DefKind::Report.schema_file())));
        }
        if report.label.is_none() {
            out.push(Diagnostic::new(&file, "/label", "a saved report needs a `label`"));
        }
        if !defs.form_exists(&report.source) {
            out.push(Diagnostic::new(&file, "/source", format!("no form `{}`", report.source)));
        }
    }
    for (id, dashboard) in &defs.dashboards {
        let file = defs.dir.join("dashboards").join(format!("{id}.json"));
        if !dashboard.schema.ends_with(DefKind::Dashboard.schema_file()) {
            out.push(Diagnostic::new(&file, "/$schema", format!("must name the schema `{}`", DefKind::Dashboard.schema_file())));
        }
        for (t, tile) in dashboard.tiles.iter().enumerate() {
            if !defs.reports.contains_key(&tile.report) {
                out.push(Diagnostic::new(&file, format!("/tiles/{t}/report"), format!("no report `{}`", tile.report)));
            }
        }
        for (r, role) in dashboard.roles.iter().enumerate() {
            if !defs.app.roles.iter().any(|declared| &declared.id == role) {
                out.push(Diagnostic::new(&file, format!("/roles/{r}"), format!("no role `{role}` in app.json")));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kinds the definition format accepts (its schema's names) are every kind of `ALL`,
    /// so a kind added to the enum cannot miss the registries that walk `ALL`.
    #[test]
    fn all_chart_kinds_are_listed() {
        let schema = serde_json::to_value(schemars::schema_for!(ChartKind)).unwrap();
        let mut accepted: Vec<String> = Vec::new();
        for variant in schema["oneOf"].as_array().into_iter().flatten().chain([&schema]) {
            accepted.extend(variant["enum"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(Into::into)));
            accepted.extend(variant["const"].as_str().map(Into::into));
        }
        let listed: Vec<String> = ChartKind::ALL.iter().map(|k| serde_json::to_value(k).unwrap().as_str().unwrap().into()).collect();
        accepted.sort();
        let mut sorted = listed.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!((sorted.len(), sorted), (listed.len(), accepted));
    }
}
