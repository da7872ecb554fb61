//! The palette: every registered field type with its facets and the schema of the properties a
//! designer may set on it, so that a form designer is generated from the registry rather than
//! kept beside it.

use defs::{DefKind, FieldKind};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{Column, FieldType, all_field_types};

/// Every field type a form may use.
#[derive(Debug, Clone, Serialize)]
pub struct Palette {
    /// The groups a palette shows the types in, in order.
    pub groups: Vec<GroupEntry>,
    /// In the registry's order.
    pub types: Vec<PaletteEntry>,
    /// The definitions the properties' schemas refer to (`#/$defs/Choice` …): those of the
    /// form definition's schema, so each property reads as it does there.
    #[serde(rename = "$defs")]
    pub defs: Value,
}

/// The groups of a designer's palette, in the order shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PaletteGroup {
    Basic,
    Number,
    Choice,
    Time,
    Relation,
    #[default]
    Other,
}

impl PaletteGroup {
    const ALL: [PaletteGroup; 6] =
        [PaletteGroup::Basic, PaletteGroup::Number, PaletteGroup::Choice, PaletteGroup::Time, PaletteGroup::Relation, PaletteGroup::Other];

    /// The group's name in English and Chinese.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            PaletteGroup::Basic => ("Text", "文本"),
            PaletteGroup::Number => ("Numbers", "数字"),
            PaletteGroup::Choice => ("Choices", "选择"),
            PaletteGroup::Time => ("Dates", "日期时间"),
            PaletteGroup::Relation => ("Relations", "关联与子表"),
            PaletteGroup::Other => ("Other", "其他"),
        }
    }
}

/// How a palette shows a field type: its group, and its name in English and Chinese.
#[derive(Debug, Clone, Copy, Default)]
pub struct PaletteInfo {
    pub group: PaletteGroup,
    pub names: Option<(&'static str, &'static str)>,
}

impl PaletteInfo {
    pub const fn named(group: PaletteGroup, en: &'static str, zh: &'static str) -> PaletteInfo {
        PaletteInfo { group, names: Some((en, zh)) }
    }
}

/// A group of the palette and its label.
#[derive(Debug, Clone, Serialize)]
pub struct GroupEntry {
    pub id: PaletteGroup,
    pub label: Value,
}

/// One field type and its facets.
#[derive(Debug, Clone, Serialize)]
pub struct PaletteEntry {
    /// The name definitions give it in `type`.
    #[serde(rename = "type")]
    pub kind: FieldKind,
    /// Its group in the palette.
    pub group: PaletteGroup,
    /// Its name, `{"en": …, "zh-CN": …}` (its id when the type has none).
    pub label: Value,
    /// The web UI's widget editing the value; none when people never write it.
    pub widget: Option<&'static str>,
    /// How the value is compared and sorted.
    pub column: Column,
    /// Whether users may write the value.
    pub user_writable: bool,
    /// The filter operators a condition on it may use.
    pub operators: &'static [&'static str],
    /// Whether reports may group by it.
    pub groupable: bool,
    /// Whether date buckets and relative dates apply.
    pub date_like: bool,
    /// Whether reports may sum and average it.
    pub summable: bool,
    /// The text parts of an object value reports may group by (`<field>.<part>`).
    pub parts: &'static [&'static str],
    /// JSON Schema of the properties a designer may set on this type beyond those of every
    /// field, each as the form definition's schema has it.
    pub properties: Value,
}

/// Every registered field type with its facets, built on each call: types may be registered
/// after a first call, and only admins' form designers ask.
pub fn palette() -> Palette {
    let mut form = defs::schema_json(DefKind::Form);
    let defs = form["$defs"].take();
    let field_properties = &defs["Field"]["properties"];
    let types = all_field_types().into_iter().map(|t| entry(t, field_properties)).collect();
    let groups = PaletteGroup::ALL
        .into_iter()
        .map(|id| {
            let (en, zh) = id.names();
            GroupEntry { id, label: json!({"en": en, "zh-CN": zh}) }
        })
        .collect();
    Palette { groups, types, defs }
}

/// The properties of a field definition, each with its schema.
pub(super) fn field_properties() -> Map<String, Value> {
    match defs::schema_json(DefKind::Form)["$defs"]["Field"]["properties"].take() {
        Value::Object(properties) => properties,
        _ => Map::new(),
    }
}

fn entry(t: &dyn FieldType, field_properties: &Value) -> PaletteEntry {
    let properties: Map<String, Value> = t.properties().iter().map(|name| ((*name).to_owned(), field_properties[*name].clone())).collect();
    let info = t.palette();
    let label = match info.names {
        Some((en, zh)) => json!({"en": en, "zh-CN": zh}),
        None => {
            let id = t.kind().to_string();
            json!({"en": id, "zh-CN": id})
        }
    };
    PaletteEntry {
        kind: t.kind(),
        group: info.group,
        label,
        widget: t.widget(),
        column: t.column(),
        user_writable: t.user_writable(),
        operators: t.operators(),
        groupable: t.groupable(),
        date_like: t.date_like(),
        summable: t.summable(),
        parts: t.parts(),
        properties: json!({"type": "object", "properties": properties}),
    }
}
