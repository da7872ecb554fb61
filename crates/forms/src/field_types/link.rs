//! A reference to a record of another form, by id. The engine checks the target exists.

use defs::{Field, FieldKind};
use serde_json::{Value, json};

use super::{FieldType, PaletteGroup, PaletteInfo};

pub(super) struct Link;
impl FieldType for Link {
    fn kind(&self) -> FieldKind {
        FieldKind::LINK
    }
    fn palette(&self) -> PaletteInfo {
        PaletteInfo::named(PaletteGroup::Relation, "Link", "关联")
    }
    fn schema(&self, _field: &Field) -> Value {
        json!({"type": "string", "format": "uuid"})
    }
    fn widget(&self) -> Option<&'static str> {
        Some("LinkWidget")
    }
    /// The target form; the link shows the target's `title_field`.
    fn properties(&self) -> &'static [&'static str] {
        &["form"]
    }
}
