//! Dates (`2026-11-23`) and instants (`2026-11-23T10:00:00Z`), stored as ISO 8601 text so
//! text order is time order.

use defs::{Field, FieldKind};
use serde_json::{Value, json};

use super::FieldType;

pub(super) struct Date;
impl FieldType for Date {
    fn kind(&self) -> FieldKind {
        FieldKind::Date
    }
    fn schema(&self, _field: &Field) -> Value {
        json!({"type": "string", "format": "date"})
    }
}

pub(super) struct Datetime;
impl FieldType for Datetime {
    fn kind(&self) -> FieldKind {
        FieldKind::Datetime
    }
    fn schema(&self, _field: &Field) -> Value {
        json!({"type": "string", "format": "date-time"})
    }
}
