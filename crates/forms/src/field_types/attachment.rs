//! Files attached to a record: a list of stored-file references.

use defs::{Field, FieldKind};
use serde_json::{Value, json};

use super::{Column, FieldType, PaletteGroup, PaletteInfo, parse_json};

pub(super) struct Attachment;
impl FieldType for Attachment {
    fn kind(&self) -> FieldKind {
        FieldKind::ATTACHMENT
    }
    fn palette(&self) -> PaletteInfo {
        PaletteInfo::named(PaletteGroup::Other, "Attachment", "附件")
    }
    fn schema(&self, _field: &Field) -> Value {
        json!({"type": "array", "maxItems": 20, "items": {
            "type": "object", "additionalProperties": false, "required": ["id", "name"],
            "properties": {
                "id": {"type": "string", "maxLength": 64},
                "name": {"type": "string", "maxLength": 255},
                "size": {"type": "integer", "minimum": 0},
                "content_type": {"type": "string", "maxLength": 127}
            }
        }})
    }
    fn column(&self) -> Column {
        Column::Opaque
    }
    fn parse_text(&self, _field: &Field, text: &str) -> Result<Value, String> {
        parse_json(text)
    }
    /// Files are uploaded beside the record, not typed into a widget of the form.
    fn widget(&self) -> Option<&'static str> {
        None
    }
}
