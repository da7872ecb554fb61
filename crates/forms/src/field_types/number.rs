//! Numeric fields. All are JSON numbers; integer kinds refuse fractions.

use defs::{Field, FieldKind};
use serde_json::{Map, Value, json};

use super::{Column, FieldType};
use crate::decimal::{decimal_scale, largest};

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

/// The largest magnitude a decimal field stores exactly at its scale
/// ([`crate::decimal::MAX_SIGNIFICANT_DIGITS`] digits), as the schema's bound.
fn exact_bound(field: &Field) -> f64 {
    let (scale, _) = decimal_scale(field).expect("a decimal field");
    largest(scale).to_string().parse().expect("a decimal's text is a number")
}

/// `schema` with its `minimum` and `maximum` held within ±`largest`: a field's own wider bounds
/// cannot let in a value that would not be stored exactly.
fn within_exact_bound(mut schema: Value, largest: f64) -> Value {
    if let Some(min) = schema.get_mut("minimum") {
        *min = json!(min.as_f64().map_or(-largest, |m| m.max(-largest)));
    }
    if let Some(max) = schema.get_mut("maximum") {
        *max = json!(max.as_f64().map_or(largest, |m| m.min(largest)));
    }
    schema
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

/// An exact decimal, rounded to its `scale` on save (see `crate::decimal`).
pub(super) struct Decimal;
impl FieldType for Decimal {
    fn kind(&self) -> FieldKind {
        FieldKind::Decimal
    }
    fn schema(&self, field: &Field) -> Value {
        let largest = exact_bound(field);
        within_exact_bound(bounded("number", field, Some(-largest), Some(largest)), largest)
    }
    fn column(&self) -> Column {
        Column::Number
    }
}

/// Money in the app's currency, an exact decimal like `decimal`; never negative unless the
/// field allows it with `min`.
pub(super) struct Currency;
impl FieldType for Currency {
    fn kind(&self) -> FieldKind {
        FieldKind::Currency
    }
    fn schema(&self, field: &Field) -> Value {
        let largest = exact_bound(field);
        within_exact_bound(bounded("number", field, Some(0.0), Some(largest)), largest)
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
