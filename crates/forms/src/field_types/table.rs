//! Child rows: an array of objects, each validated as a small form of its own.

use defs::{Field, FieldKind};
use serde_json::{Value, json};

use super::object_schema;
use super::{Column, FieldType, PaletteGroup, PaletteInfo, parse_json};

pub(super) struct Table;
impl FieldType for Table {
    fn kind(&self) -> FieldKind {
        FieldKind::TABLE
    }
    fn palette(&self) -> PaletteInfo {
        PaletteInfo::named(PaletteGroup::Relation, "Child table", "子表")
    }
    fn schema(&self, field: &Field) -> Value {
        let mut schema = json!({"type": "array", "items": object_schema(&field.fields)});
        schema["minItems"] = json!(field.min.unwrap_or(0.0) as u64);
        schema["maxItems"] = json!(field.max.unwrap_or(1000.0) as u64);
        schema
    }
    fn column(&self) -> Column {
        Column::Opaque
    }
    fn parse_text(&self, _field: &Field, text: &str) -> Result<Value, String> {
        parse_json(text)
    }
    fn widget(&self) -> Option<&'static str> {
        Some("TableWidget")
    }
    /// `min` and `max` bound the number of rows.
    fn properties(&self) -> &'static [&'static str] {
        &["fields", "min", "max"]
    }
}
