//! A saved filter over the records of another form, in the list API's filter language
//! (`{"account.industry": "manufacturing", "tags": {"has": "vip"}}`): a segment an app keeps as
//! data, offered as a view of that form's list and read by rules (a campaign's audience). The
//! engine checks it against the target form as a list filter is checked.

use defs::{Field, FieldKind};
use serde_json::{Value, json};

use super::{Column, FieldType, PaletteGroup, PaletteInfo, parse_json};

pub(super) struct Filter;
impl FieldType for Filter {
    fn kind(&self) -> FieldKind {
        FieldKind::FILTER
    }
    fn palette(&self) -> PaletteInfo {
        PaletteInfo::named(PaletteGroup::Relation, "Saved filter", "筛选条件")
    }
    fn schema(&self, _field: &Field) -> Value {
        json!({"type": "object"})
    }
    fn column(&self) -> Column {
        Column::Opaque
    }
    fn parse_text(&self, _field: &Field, text: &str) -> Result<Value, String> {
        parse_json(text)
    }
    fn widget(&self) -> Option<&'static str> {
        Some("FilterWidget")
    }
    /// The form whose records the filter selects.
    fn properties(&self) -> &'static [&'static str] {
        &["form"]
    }
}
