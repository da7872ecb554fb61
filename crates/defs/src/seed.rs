//! `seed/<name>.json`: settings of the deterministic demo-data generator. Part of an app, so a
//! template ships its own realistic demo without any code.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Demo users and records to create on a fresh database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    #[serde(rename = "$schema", default, skip_serializing_if = "String::is_empty")]
    pub schema: String,
    /// Seed of the pseudo-random generator: the same seed gives the same data.
    pub random_seed: u64,
    /// Password of every demo user.
    pub password: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<SeedUser>,
    /// Word lists that templates draw from, by name.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub lists: IndexMap<String, Vec<String>>,
    /// Forms to fill, in order (link targets first).
    pub forms: Vec<SeedForm>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeedUser {
    pub username: String,
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeedForm {
    pub form: String,
    pub count: u32,
    /// Owners assigned round the list; empty means the admin.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owners: Vec<String>,
    /// Generators by field id, evaluated in order (a template may use earlier fields).
    pub fields: IndexMap<String, Generator>,
    /// How many days old each record is, at random in this range: its creation, last change
    /// and history are set back, so demo data has a past (a deal untouched for weeks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_days: Option<[u32; 2]>,
}

/// How one field's value is made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Generator {
    /// Always this value.
    Value(Value),
    /// One of these, uniformly.
    Choice(Vec<Value>),
    /// One of these, with weights: `[[value, weight], …]`.
    Weighted(Vec<(Value, u32)>),
    /// A whole number in `[min, max]`.
    Int([i64; 2]),
    /// A number in `[min, max]`, rounded to a multiple of `step`.
    Number { min: f64, max: f64, step: f64 },
    /// A date (`YYYY-MM-DD`) in the inclusive range.
    Date([String; 2]),
    /// The id of a random record of the named form created earlier.
    Link(String),
    /// Text with placeholders: `{list}` a random word of a list, `{#}` the 1-based row number,
    /// `{=field}` the value of an earlier field of the same record.
    Template(String),
    /// The field is set only with this probability (0–1).
    Sometimes { probability: f64, then: Box<Generator> },
    /// Child rows of a table field.
    Rows { min: u32, max: u32, fields: IndexMap<String, Generator> },
}
