//! `app.json`: what an app is called, its roles and its navigation.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Label;

/// The manifest of an app folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct App {
    /// Where editors find the schema of this file.
    #[serde(rename = "$schema", default, skip_serializing_if = "String::is_empty")]
    pub schema: String,
    /// The definition format the file is written in.
    pub format_version: u32,
    /// Identifier used in URLs and table names (snake_case).
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub id: String,
    pub name: Label,
    /// The app's own version, chosen by its author.
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Label>,
    /// The icon shown beside the app's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<AppIcon>,
    /// The currency of the app's amounts (ISO 4217, e.g. `CNY`, `USD`): how the UI shows a
    /// `currency` field. `CNY` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Z]{3}$"))]
    pub currency: Option<String>,
    /// The languages the app's labels are written in, which its designers ask for; both when
    /// absent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<Language>,
    /// Roles users of this app can hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<Role>,
    /// Menu groups, each listing forms in the order shown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub navigation: Vec<NavGroup>,
    /// Rules run on a timetable by the job worker.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<Schedule>,
    /// The company documents are printed for (letterhead, the seller on contracts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<Company>,
    /// The organisation: a tree of departments, each with an optional manager. Users belong to
    /// one department; data scopes and approvals follow the tree.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub departments: Vec<Department>,
    /// What the index advisor may do on this app's tables by itself. Without it, the advisor
    /// only proposes indexes, and an admin applies them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indexes: Option<IndexSettings>,
    /// Roles whose holders may change this app's definitions and publish them, besides admins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub builders: Vec<String>,
    /// Outside services rules ask with `connector(id, key)`, by id (a business registry asked
    /// for a company by its credit code).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub connectors: std::collections::BTreeMap<String, Connector>,
}

/// The most records a connector's fixture may hold.
pub const MAX_FIXTURE_RECORDS: usize = 10_000;

/// An outside service that answers one record for a key, and where its answers come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Connector {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
    /// The member of each answer that the key is matched against (`credit_code`).
    pub key: String,
    /// Who answers.
    pub provider: Provider,
}

/// Who answers a connector's questions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// The records kept here: for demos, tests and sites without a network. Each is an object
    /// holding the connector's `key`.
    Fixture(Vec<serde_json::Map<String, serde_json::Value>>),
}

/// The icons an app may show beside its name: names of the UI's icon set (Element Plus).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum AppIcon {
    Briefcase,
    User,
    Goods,
    Document,
    Tickets,
    Shop,
    OfficeBuilding,
    Histogram,
    Calendar,
    Money,
    Box,
    Van,
    Service,
    Management,
    Files,
    Flag,
    Star,
    Bell,
    Grid,
    Setting,
}

/// A language labels are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Language {
    #[serde(rename = "zh-CN")]
    Chinese,
    #[serde(rename = "en")]
    English,
}

/// The index advisor's freedom on an app: it records filters, sorts and report groupings that
/// were slow and proposes an index for each (shown to admins with the time measured before and
/// after).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IndexSettings {
    /// `true` lets the advisor create a proposed index itself once the query it serves was slow
    /// several times, with an audit row (action `index`) and at most a few advised indexes per
    /// form; `false` leaves every index to an admin.
    pub automatic: bool,
}

/// The company an app serves, as its documents name it. Plain strings: a legal name is one text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Company {
    /// Legal name, e.g. 上海云杉信息科技有限公司.
    pub name: String,
    /// The name in another language (English).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_alt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// An absolute URL or a `data:` URI (documents are also rendered outside the server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<String>,
    /// Unified social credit code (统一社会信用代码).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_account: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Department {
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub id: String,
    pub label: Label,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Username of the department's manager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
}

/// A rule run on a timetable: `rule` names `script.function`, called with an empty record,
/// no old record and the system user; it reads what it needs with `find`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub id: String,
    /// Cron expression in UTC: `minute hour day-of-month month day-of-week` (e.g. `0 1 * * *`).
    pub cron: String,
    pub rule: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Role {
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub id: String,
    pub label: Label,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NavGroup {
    pub label: Label,
    pub forms: Vec<String>,
}
