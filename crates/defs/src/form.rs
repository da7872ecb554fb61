//! `forms/<id>.json`: the fields of a form, its layout, indexes and dedupe keys.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Label, Rollup, is_false};

/// What an identifier looks like (a snake_case name): field ids and field type names.
const IDENTIFIER_PATTERN: &str = "^[a-z][a-z0-9_]*$";

/// A form: the shape of one kind of record. Its id is the file name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Form {
    #[serde(rename = "$schema", default, skip_serializing_if = "String::is_empty")]
    pub schema: String,
    pub label: Label,
    /// The field that names a record in lists and link pickers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title_field: Option<String>,
    pub fields: Vec<Field>,
    /// Sections of the record page; fields not placed in any section follow at the end.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layout: Vec<Section>,
    /// Tabs of the record page, in order; each shows the sections that name it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tabs: Vec<Tab>,
    /// The columns a list of the form shows until a user picks their own, in order; without
    /// them, the title field, the required fields and the first section's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub list_columns: Vec<String>,
    /// Database indexes, each a list of field ids (leading field first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<Vec<String>>,
    /// Duplicate keys: a new or changed record whose values of all fields of one key equal
    /// those of a live record is refused, naming that record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dedupe: Vec<Vec<String>>,
    /// Rules run when a record of this form is saved, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<Hook>,
    /// Who may do what with this form's records. Only `admin` has access to a form that grants
    /// nothing; a user's rights are the union of the grants of all their roles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<Grant>,
    /// Lists of other forms' records that point here, shown on the record page with their
    /// counts and a "new" button (an account's contacts, deals and tickets: its 360° page).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<Related>,
    /// A pool of records nobody owns, which users claim and return (a public lead pool). Grant
    /// the pool with the scope `pool`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<Pool>,
    /// A public form anyone may submit without signing in, which creates a record of this form
    /// (a contact-us form that makes leads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_form: Option<WebForm>,
}

/// Records of another form that point at this one through `link`: a link field of that form,
/// or a dot path through its links that ends at this form (`contact.account`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Related {
    pub form: String,
    pub link: String,
    /// The list's heading; the form's label without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
}

/// How a form's pool works. A record is in the pool while nobody owns it: created so by a web
/// form or a rule, or returned to it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    /// The most open records of the form (not in a terminal state of its flow) a user may hold
    /// and still claim another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100000))]
    pub limit: Option<u32>,
    /// An open record nobody has changed for this many days goes back to the pool by itself
    /// (checked nightly), and its owner is told: leads a rep sits on return to the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3650))]
    pub return_after_days: Option<u32>,
}

/// A public form: which fields a visitor fills, and what every submission sets besides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebForm {
    /// The page's heading; the form's label without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<Label>,
    /// The fields a visitor fills, in order (text, number, date, select, boolean and the like).
    pub fields: Vec<String>,
    /// Fields the embedding page may fill through the address (`?campaign=…`), never shown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hidden: Vec<String>,
    /// Values every submission sets (`{"source": "website"}`).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub set: serde_json::Map<String, Value>,
    /// What the visitor reads once it is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thanks: Option<Label>,
}

/// Rights of some roles on a form: actions, on which records, and which fields they may not see
/// or change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    pub roles: Vec<String>,
    pub actions: Vec<Action>,
    /// Which records the actions (other than create) apply to.
    pub scope: Scope,
    /// Fields these roles may not see: absent from every output.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hidden: Vec<String>,
    /// Fields these roles see but may not change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read_only: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Read,
    Update,
    Delete,
    Export,
    Print,
    Import,
    /// Give records in scope to another owner.
    Assign,
}

/// Which records a grant covers, by their owner or by a filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Records the user owns.
    Own,
    /// Records owned by anyone in the user's department.
    Department,
    /// Records owned by anyone in the user's department or the departments below it.
    DepartmentTree,
    All,
    /// Records matching a filter in the list API's language.
    Filter(Value),
    /// Records whose link field `via` names a record the user may read (a rep sees the payments
    /// of the contracts they see). The linked form's scopes decide; they may not be `via`
    /// themselves.
    Via(String),
    /// Records in the form's pool, which nobody owns (the form needs a `pool`).
    Pool,
    /// Records whose user field `user_field` names the user (a work order's technician).
    UserField(String),
}

impl Form {
    pub fn field(&self, id: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.id == id)
    }
}

/// One field of a form, or one column of a child table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Field {
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub id: String,
    /// The field's type: a built-in one or one the program running Tessera registers.
    #[serde(rename = "type")]
    pub kind: FieldKind,
    pub label: Label,
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    /// Shown but not editable by users (set by defaults, rules or flows).
    #[serde(default, skip_serializing_if = "is_false")]
    pub read_only: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<Label>,
    /// Choices of `select` and `multiselect` fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<Choice>,
    /// Target form of a `link` field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<String>,
    /// Columns of a `table` field (child rows).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Field>,
    /// Lowest value of a number, or fewest rows of a table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Highest value of a number (or rating), or most rows of a table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    /// Digits after the decimal point of a `decimal` or `currency` value (0 to 10; 2 unless
    /// set). Every save rounds the value to it, so stored figures, sums and prints are exact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 10))]
    pub scale: Option<u8>,
    /// How a `decimal` or `currency` value with more digits than its `scale` is rounded on
    /// save: `half_up` unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounding: Option<Rounding>,
    /// Of a `text` field: a regular expression its values must match (unanchored: write `^…$`
    /// for the whole value; at most 500 characters, no look-around or back-references).
    /// Of an `auto_number`: the template of its numbers, `{YYYY}`, `{MM}`, `{DD}` and a run of
    /// `#` for the counter, e.g. `QT-{YYYY}-{#####}`; the counter restarts whenever the text
    /// around it changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Value given to a new record that does not set the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// Expression computing the default of a new record (`today()`, `user.username`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_expr: Option<String>,
    /// Expression computing the value on every save; the field is then read-only to users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formula: Option<String>,
    /// Expression; when false the field is hidden and its value dropped on save.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visible_if: Option<String>,
    /// Expression; when true the field must have a value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_if: Option<String>,
    /// What a `rollup` field aggregates: records of another form that link to this record.
    /// The engine keeps the value up to date; users cannot write it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollup: Option<Rollup>,
}

/// A field's type, by name: one of the built-in types below or one the embedding program
/// registers with the form engine (`forms::register_field_type`). Definitions only name it;
/// which names exist is the registry's knowledge, so `forms` refuses an unknown one when the
/// app loads. Built-ins are constants (`FieldKind::LINK`) for the code that gives them meaning.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FieldKind(Cow<'static, str>);

impl FieldKind {
    pub const TEXT: FieldKind = FieldKind::named("text");
    pub const TEXTAREA: FieldKind = FieldKind::named("textarea");
    pub const NUMBER: FieldKind = FieldKind::named("number");
    pub const INTEGER: FieldKind = FieldKind::named("integer");
    pub const DECIMAL: FieldKind = FieldKind::named("decimal");
    pub const CURRENCY: FieldKind = FieldKind::named("currency");
    pub const BOOLEAN: FieldKind = FieldKind::named("boolean");
    pub const DATE: FieldKind = FieldKind::named("date");
    pub const DATETIME: FieldKind = FieldKind::named("datetime");
    pub const SELECT: FieldKind = FieldKind::named("select");
    pub const MULTISELECT: FieldKind = FieldKind::named("multiselect");
    pub const EMAIL: FieldKind = FieldKind::named("email");
    pub const PHONE: FieldKind = FieldKind::named("phone");
    pub const URL: FieldKind = FieldKind::named("url");
    pub const USER: FieldKind = FieldKind::named("user");
    pub const LINK: FieldKind = FieldKind::named("link");
    pub const TABLE: FieldKind = FieldKind::named("table");
    pub const ATTACHMENT: FieldKind = FieldKind::named("attachment");
    pub const AUTO_NUMBER: FieldKind = FieldKind::named("auto_number");
    pub const RATING: FieldKind = FieldKind::named("rating");
    pub const REGION: FieldKind = FieldKind::named("region");
    pub const TAGS: FieldKind = FieldKind::named("tags");
    pub const ROLLUP: FieldKind = FieldKind::named("rollup");
    pub const FILTER: FieldKind = FieldKind::named("filter");

    /// The types every Tessera has, as the form schema offers them to editors.
    pub const BUILT_IN: &[FieldKind] = &[
        FieldKind::TEXT,
        FieldKind::TEXTAREA,
        FieldKind::NUMBER,
        FieldKind::INTEGER,
        FieldKind::DECIMAL,
        FieldKind::CURRENCY,
        FieldKind::BOOLEAN,
        FieldKind::DATE,
        FieldKind::DATETIME,
        FieldKind::SELECT,
        FieldKind::MULTISELECT,
        FieldKind::EMAIL,
        FieldKind::PHONE,
        FieldKind::URL,
        FieldKind::USER,
        FieldKind::LINK,
        FieldKind::TABLE,
        FieldKind::ATTACHMENT,
        FieldKind::AUTO_NUMBER,
        FieldKind::RATING,
        FieldKind::REGION,
        FieldKind::TAGS,
        FieldKind::ROLLUP,
        FieldKind::FILTER,
    ];

    /// The kind named `name` (snake_case, as definitions write it).
    pub const fn named(name: &'static str) -> FieldKind {
        FieldKind(Cow::Borrowed(name))
    }

    /// The name definitions give the type in `type`.
    pub fn name(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FieldKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Any snake_case name, with the built-in ones as `examples` for editors' completion: the
/// schema cannot list the types a program registers.
impl JsonSchema for FieldKind {
    fn schema_name() -> Cow<'static, str> {
        "FieldKind".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let built_in: Vec<&str> = FieldKind::BUILT_IN.iter().map(FieldKind::name).collect();
        json_schema!({
            "description": "A field type: a built-in one (the examples) or one registered by the program running Tessera.",
            "type": "string",
            "pattern": IDENTIFIER_PATTERN,
            "examples": built_in,
        })
    }
}

/// How a decimal value is rounded to its field's `scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Half away from zero (四舍五入): 2.675 → 2.68, -2.675 → -2.68. The commercial rule.
    #[default]
    HalfUp,
    /// Half to the even neighbour (banker's rounding): 2.665 → 2.66, 2.675 → 2.68.
    HalfEven,
    /// Toward zero (truncation): 2.679 → 2.67, -2.679 → -2.67.
    Down,
}

/// A rule bound to a moment of a record's save. `rule` names `script.function` of a script in
/// the app's `rules/` folder; the function takes `(record, old, user)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hook {
    pub on: HookKind,
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]*\.[a-zA-Z_][a-zA-Z0-9_]*$"))]
    pub rule: String,
    /// For `score`: the field that receives the number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// When a hook runs and what its function returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HookKind {
    /// Before saving; returns a map of fields to set (or nothing).
    BeforeSave,
    /// After computing fields, before writing; reports problems with `error(path, message)`.
    Validate,
    /// On create; returns the username that will own the record.
    Assign,
    /// On every save; returns a number stored in the hook's `field`.
    Score,
    /// After writing, in the same transaction; asks for effects (`notify`, `create`, `update`).
    AfterSave,
}

impl Hook {
    /// `(script, function)` of `rule`.
    pub fn target(&self) -> (&str, &str) {
        self.rule.split_once('.').unwrap_or((&self.rule, ""))
    }
}

/// One choice of a select field: the stored value and what people see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    pub value: String,
    pub label: Label,
    /// The colour the choice is shown in: one of [`CHOICE_COLORS`] or `#rrggbb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

/// The named colours of choices, which the UI draws in its theme's shades.
pub const CHOICE_COLORS: [&str; 8] = ["blue", "green", "orange", "red", "purple", "grey", "cyan", "yellow"];

impl Choice {
    /// Whether the colour, if any, is a named one or `#rrggbb`.
    pub fn color_is_valid(&self) -> bool {
        self.color.as_deref().is_none_or(|c| {
            CHOICE_COLORS.contains(&c) || (c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|d| d.is_ascii_hexdigit()))
        })
    }
}

/// A titled group of fields on the record page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub label: Label,
    pub fields: Vec<String>,
    /// How many columns its fields are laid out in on a wide screen (one on a phone); when
    /// absent, as many as fit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 4))]
    pub columns: Option<u8>,
    /// The tab (of the form's `tabs`) the section is shown on; a section without one is shown
    /// above the tabs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tab: Option<String>,
}

/// A tab of the record page, holding the sections that name it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tab {
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub id: String,
    pub label: Label,
}
