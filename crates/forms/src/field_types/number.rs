//! Numeric fields. All are JSON numbers; integer kinds refuse fractions.

use defs::{Field, FieldKind};
use serde_json::{Map, Value, json};

use super::{Column, FieldType};

fn bounded(kind: &str, field: &Field, default_min: Option<f64>, default_max: Option<f64>) -> Value {
    let mut schema = Map::new();
    schema.insert("type".into(), json!(kind));
    if let Some(min) = field.min.or(default_min) {
        schema.insert("minimum".into(), json!(min));
    }
    if let Some(max) = field.max.or(default_max) {
        schema.insert("maximum".into(), json!(max));
    }
    Value::Object(schema)
}

pub(super) struct Number;
impl FieldType for Number {
    fn kind(&self) -> FieldKind {
        FieldKind::Number
    }
    fn schema(&self, field: &Field) -> Value {
        bounded("number", field, None, None)
    }
    fn column(&self) -> Column {
        Column::Number
    }
}

pub(super) struct Integer;
impl FieldType for Integer {
    fn kind(&self) -> FieldKind {
        FieldKind::Integer
    }
    fn schema(&self, field: &Field) -> Value {
        bounded("integer", field, None, None)
    }
    fn column(&self) -> Column {
        Column::Number
    }
}

pub(super) struct Decimal;
impl FieldType for Decimal {
    fn kind(&self) -> FieldKind {
        FieldKind::Decimal
    }
    fn schema(&self, field: &Field) -> Value {
        bounded("number", field, None, None)
    }
    fn column(&self) -> Column {
        Column::Number
    }
}

/// Money in the app's currency; never negative unless the field allows it with `min`.
pub(super) struct Currency;
impl FieldType for Currency {
    fn kind(&self) -> FieldKind {
        FieldKind::Currency
    }
    fn schema(&self, field: &Field) -> Value {
        bounded("number", field, Some(0.0), Some(1e15))
    }
    fn column(&self) -> Column {
        Column::Number
    }
}

/// Stars from 0 to `max` (5 unless set).
pub(super) struct Rating;
impl FieldType for Rating {
    fn kind(&self) -> FieldKind {
        FieldKind::Rating
    }
    fn schema(&self, field: &Field) -> Value {
        bounded("integer", field, Some(0.0), Some(5.0))
    }
    fn column(&self) -> Column {
        Column::Number
    }
}
