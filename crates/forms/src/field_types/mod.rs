//! The field type registry: each type is a unit struct in its own file, listed once in
//! [`REGISTRY`]. A new type is one file here, one line there, and its widget in the UI.

use defs::{Field, FieldKind};
use serde_json::{Value, json};

mod attachment;
mod auto_number;
mod boolean;
mod date;
mod link;
mod number;
mod region;
mod rollup;
mod select;
mod table;
mod text;

/// How a value is compared, sorted and indexed in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Text,
    Number,
    Bool,
    /// Lists and objects: not comparable, only tested for presence.
    Opaque,
}

/// One kind of field.
pub trait FieldType: Sync {
    fn kind(&self) -> FieldKind;
    /// JSON Schema of one value of `field`.
    fn schema(&self, field: &Field) -> Value;
    /// How the value behaves in filters, sorts and indexes.
    fn column(&self) -> Column {
        Column::Text
    }
    /// Whether users may write the value (auto-numbers are assigned by the engine).
    fn user_writable(&self) -> bool {
        true
    }
}

static REGISTRY: &[&dyn FieldType] = &[
    &text::Text,
    &text::Textarea,
    &text::Email,
    &text::Phone,
    &text::Url,
    &text::User,
    &number::Number,
    &number::Integer,
    &number::Decimal,
    &number::Currency,
    &number::Rating,
    &boolean::Boolean,
    &date::Date,
    &date::Datetime,
    &select::Select,
    &select::Multiselect,
    &select::Tags,
    &link::Link,
    &table::Table,
    &attachment::Attachment,
    &auto_number::AutoNumber,
    &region::Region,
    &rollup::Rollup,
];

/// The registered type of `kind`.
pub fn field_type(kind: FieldKind) -> &'static dyn FieldType {
    REGISTRY.iter().copied().find(|t| t.kind() == kind).expect("every FieldKind is registered (checked by a test)")
}

/// `{"type": "string"}` with the field's `max_length`, or `default_max` when it sets none.
fn string_schema(field: &Field, default_max: u32) -> Value {
    json!({"type": "string", "maxLength": field.max_length.unwrap_or(default_max)})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_registered_once() {
        let all: Vec<FieldKind> =
            serde_json::from_value(defs::schema_json(defs::DefKind::Form)["$defs"]["FieldKind"]["enum"].clone()).unwrap();
        assert!(all.len() >= 20);
        for kind in all {
            assert_eq!(REGISTRY.iter().filter(|t| t.kind() == kind).count(), 1, "{kind:?}");
        }
    }
}
