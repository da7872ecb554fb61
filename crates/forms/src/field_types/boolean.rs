//! Yes / no.

use defs::{Field, FieldKind};
use serde_json::{Value, json};

use super::{Column, FieldType};

pub(super) struct Boolean;
impl FieldType for Boolean {
    fn kind(&self) -> FieldKind {
        FieldKind::Boolean
    }
    fn schema(&self, _field: &Field) -> Value {
        json!({"type": "boolean"})
    }
    fn column(&self) -> Column {
        Column::Bool
    }
}
