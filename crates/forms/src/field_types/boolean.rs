//! Yes / no.

use defs::{Field, FieldKind};
use serde_json::{Value, json};

use super::{Column, FieldType, PaletteGroup, PaletteInfo};

pub(super) struct Boolean;
impl FieldType for Boolean {
    fn kind(&self) -> FieldKind {
        FieldKind::BOOLEAN
    }
    fn palette(&self) -> PaletteInfo {
        PaletteInfo::named(PaletteGroup::Choice, "Yes/No", "是/否")
    }
    fn schema(&self, _field: &Field) -> Value {
        json!({"type": "boolean"})
    }
    fn column(&self) -> Column {
        Column::Bool
    }
    /// The words spreadsheets and people write for yes and no, in English and Chinese.
    fn parse_text(&self, _field: &Field, text: &str) -> Result<Value, String> {
        match text.to_lowercase().as_str() {
            "true" | "yes" | "y" | "1" | "是" | "✓" => Ok(json!(true)),
            "false" | "no" | "n" | "0" | "否" => Ok(json!(false)),
            _ => Err(format!("`{text}` is not yes or no")),
        }
    }
    fn widget(&self) -> Option<&'static str> {
        Some("BooleanWidget")
    }
}
