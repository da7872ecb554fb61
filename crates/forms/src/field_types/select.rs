//! Choices: one of the options, several of them, or free tags.

use defs::{Field, FieldKind};
use serde_json::{Value, json};

use super::{Column, FieldType};

fn values(field: &Field) -> Vec<&str> {
    field.options.iter().map(|c| c.value.as_str()).collect()
}

pub(super) struct Select;
impl FieldType for Select {
    fn kind(&self) -> FieldKind {
        FieldKind::Select
    }
    fn schema(&self, field: &Field) -> Value {
        json!({"type": "string", "enum": values(field)})
    }
}

pub(super) struct Multiselect;
impl FieldType for Multiselect {
    fn kind(&self) -> FieldKind {
        FieldKind::Multiselect
    }
    fn schema(&self, field: &Field) -> Value {
        json!({"type": "array", "uniqueItems": true, "items": {"type": "string", "enum": values(field)}})
    }
    fn column(&self) -> Column {
        Column::Opaque
    }
}

pub(super) struct Tags;
impl FieldType for Tags {
    fn kind(&self) -> FieldKind {
        FieldKind::Tags
    }
    fn schema(&self, _field: &Field) -> Value {
        json!({"type": "array", "uniqueItems": true, "maxItems": 50,
               "items": {"type": "string", "minLength": 1, "maxLength": 50}})
    }
    fn column(&self) -> Column {
        Column::Opaque
    }
}
