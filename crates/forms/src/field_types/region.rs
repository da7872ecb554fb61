//! A place in China's administrative divisions: province and, optionally, city.

use defs::{Field, FieldKind};
use serde_json::{Value, json};

use super::{Column, FieldType, PaletteGroup, PaletteInfo, parse_json};

pub(super) struct Region;
impl FieldType for Region {
    fn kind(&self) -> FieldKind {
        FieldKind::REGION
    }
    fn palette(&self) -> PaletteInfo {
        PaletteInfo::named(PaletteGroup::Other, "Region", "地区")
    }
    fn schema(&self, _field: &Field) -> Value {
        json!({"type": "object", "additionalProperties": false, "required": ["province"],
               "properties": {"province": {"type": "string", "minLength": 1, "maxLength": 32},
                              "city": {"type": "string", "maxLength": 32}}})
    }
    fn column(&self) -> Column {
        Column::Opaque
    }
    fn parts(&self) -> &'static [&'static str] {
        &["province", "city"]
    }
    fn parse_text(&self, _field: &Field, text: &str) -> Result<Value, String> {
        parse_json(text)
    }
    fn widget(&self) -> Option<&'static str> {
        Some("RegionWidget")
    }
}
