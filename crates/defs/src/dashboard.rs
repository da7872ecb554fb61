//! `dashboards/<id>.json`: report tiles on a grid, with filters that apply to every tile.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{ChartKind, Label};

/// A dashboard. Its id is the file name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dashboard {
    #[serde(rename = "$schema", default, skip_serializing_if = "String::is_empty")]
    pub schema: String,
    pub label: Label,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Label>,
    /// Filters the viewer sets once for every tile whose report's form has the field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<DashboardFilter>,
    pub tiles: Vec<Tile>,
    /// The roles whose holders see the dashboard (admins always do); none: everyone who uses
    /// the app. Each tile still shows only what its viewer may read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

impl Dashboard {
    /// Whether someone holding `roles` in the app (`admin` among them for an admin) sees it.
    pub fn shown_to(&self, roles: &[String]) -> bool {
        self.roles.is_empty() || roles.iter().any(|r| r == "admin" || self.roles.contains(r))
    }
}

/// A dashboard-level filter on `field` (a field or system column, e.g. `owner`, `close_date`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DashboardFilter {
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub id: String,
    pub label: Label,
    pub field: String,
    /// `period` offers relative dates (this_month …); `value` a single value; `values` a choice of several.
    pub input: FilterInput,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FilterInput {
    Period,
    Value,
    Values,
}

/// One report on the grid (12 columns wide).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tile {
    /// Id of a report of the app.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub report: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<Label>,
    /// Overrides the report's chart kind, which must draw the report's result as well (a
    /// `kpi` of a report with dimensions is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<ChartKind>,
    /// Columns of the 12-column grid.
    #[schemars(range(min = 1, max = 12))]
    pub width: u8,
    /// Rows of the grid (one row is about 80 px).
    #[schemars(range(min = 1, max = 12))]
    pub height: u8,
}
