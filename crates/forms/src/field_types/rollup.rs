//! A number the engine aggregates from linked records (`rollup`): a count, or the sum, least
//! or greatest value of a field of theirs.

use defs::{Field, FieldKind};
use serde_json::{Value, json};

use super::{Column, FieldType, PaletteGroup, PaletteInfo};

pub(super) struct Rollup;
impl FieldType for Rollup {
    fn kind(&self) -> FieldKind {
        FieldKind::ROLLUP
    }
    fn palette(&self) -> PaletteInfo {
        PaletteInfo::named(PaletteGroup::Relation, "Rollup", "汇总")
    }
    fn schema(&self, _field: &Field) -> Value {
        json!({"type": "number"})
    }
    fn column(&self) -> Column {
        Column::Number
    }
    /// Kept by the engine whenever a linked record changes.
    fn user_writable(&self) -> bool {
        false
    }
    fn widget(&self) -> Option<&'static str> {
        None
    }
    fn properties(&self) -> &'static [&'static str] {
        &["rollup"]
    }
}
