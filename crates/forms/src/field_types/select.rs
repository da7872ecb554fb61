//! Choices: one of the options, several of them, or free tags.

use defs::{Field, FieldKind};
use serde_json::{Value, json};

use super::{Column, FieldType, PaletteGroup, PaletteInfo};

fn values(field: &Field) -> Vec<&str> {
    field.options.iter().map(|c| c.value.as_str()).collect()
}

/// The option a cell names, by its value or by its label in any language (any case).
fn choice(field: &Field, text: &str) -> Result<String, String> {
    field
        .options
        .iter()
        .find(|o| o.value == text || o.label.texts().iter().any(|l| l.eq_ignore_ascii_case(text)))
        .map(|o| o.value.clone())
        .ok_or_else(|| format!("`{text}` is not one of {}", values(field).join(", ")))
}

/// The items of a cell listing several, separated by `;` or `,` (in ASCII or full width).
fn list(text: &str) -> impl Iterator<Item = &str> {
    text.split([';', ',', '；', '，']).map(str::trim).filter(|s| !s.is_empty())
}

pub(super) struct Select;
impl FieldType for Select {
    fn kind(&self) -> FieldKind {
        FieldKind::SELECT
    }
    fn palette(&self) -> PaletteInfo {
        PaletteInfo::named(PaletteGroup::Choice, "Select", "单选")
    }
    fn schema(&self, field: &Field) -> Value {
        json!({"type": "string", "enum": values(field)})
    }
    fn parse_text(&self, field: &Field, text: &str) -> Result<Value, String> {
        Ok(json!(choice(field, text)?))
    }
    fn widget(&self) -> Option<&'static str> {
        Some("SelectWidget")
    }
    fn properties(&self) -> &'static [&'static str] {
        &["options"]
    }
}

pub(super) struct Multiselect;
impl FieldType for Multiselect {
    fn kind(&self) -> FieldKind {
        FieldKind::MULTISELECT
    }
    fn palette(&self) -> PaletteInfo {
        PaletteInfo::named(PaletteGroup::Choice, "Multi-select", "多选")
    }
    fn schema(&self, field: &Field) -> Value {
        json!({"type": "array", "uniqueItems": true, "items": {"type": "string", "enum": values(field)}})
    }
    fn column(&self) -> Column {
        Column::Opaque
    }
    fn operators(&self) -> &'static [&'static str] {
        super::LIST_OPERATORS
    }
    fn parse_text(&self, field: &Field, text: &str) -> Result<Value, String> {
        Ok(json!(list(text).map(|t| choice(field, t)).collect::<Result<Vec<_>, _>>()?))
    }
    fn widget(&self) -> Option<&'static str> {
        Some("MultiselectWidget")
    }
    fn properties(&self) -> &'static [&'static str] {
        &["options"]
    }
}

pub(super) struct Tags;
impl FieldType for Tags {
    fn kind(&self) -> FieldKind {
        FieldKind::TAGS
    }
    fn palette(&self) -> PaletteInfo {
        PaletteInfo::named(PaletteGroup::Choice, "Tags", "标签")
    }
    fn schema(&self, _field: &Field) -> Value {
        json!({"type": "array", "uniqueItems": true, "maxItems": 50,
               "items": {"type": "string", "minLength": 1, "maxLength": 50}})
    }
    fn column(&self) -> Column {
        Column::Opaque
    }
    fn operators(&self) -> &'static [&'static str] {
        super::LIST_OPERATORS
    }
    fn parse_text(&self, _field: &Field, text: &str) -> Result<Value, String> {
        Ok(json!(list(text).collect::<Vec<_>>()))
    }
    fn widget(&self) -> Option<&'static str> {
        Some("TagsWidget")
    }
}
