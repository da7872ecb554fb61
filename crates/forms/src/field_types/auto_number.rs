//! A number the engine assigns on create from the field's pattern (`QT-{YYYY}-{#####}`).

use defs::{Field, FieldKind};
use serde_json::{Value, json};

use super::{FieldType, PaletteGroup, PaletteInfo};

pub(super) struct AutoNumber;
impl FieldType for AutoNumber {
    fn kind(&self) -> FieldKind {
        FieldKind::AUTO_NUMBER
    }
    fn palette(&self) -> PaletteInfo {
        PaletteInfo::named(PaletteGroup::Other, "Auto number", "自动编号")
    }
    fn schema(&self, _field: &Field) -> Value {
        json!({"type": "string", "maxLength": 64})
    }
    fn user_writable(&self) -> bool {
        false
    }
    fn widget(&self) -> Option<&'static str> {
        None
    }
    fn properties(&self) -> &'static [&'static str] {
        &["pattern"]
    }
}
