//! Numeric fields. All are JSON numbers; integer kinds refuse fractions.

use defs::{Field, FieldKind};
use serde_json::{Map, Value, json};

use super::{Column, FieldType, PaletteGroup, PaletteInfo};
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

/// A cell's number without the grouping commas, currency signs, spaces and percent signs
/// spreadsheets write around it.
fn cleaned(text: &str) -> String {
    text.chars().filter(|c| !matches!(c, ',' | '¥' | '￥' | ' ' | '%')).collect()
}

fn float(text: &str) -> Result<f64, String> {
    cleaned(text).parse::<f64>().map_err(|_| format!("`{text}` is not a number"))
}

/// A whole number stays an integer in JSON (below 2⁵³, where every integer is an exact `f64`).
fn parse_number(text: &str) -> Result<Value, String> {
    let n = float(text)?;
    Ok(if n.fract() == 0.0 && n.abs() < 9e15 { json!(n as i64) } else { json!(n) })
}

fn parse_whole(text: &str) -> Result<Value, String> {
    let n = float(text)?;
    if n.fract() != 0.0 {
        return Err(format!("`{text}` is not a whole number"));
    }
    Ok(json!(n as i64))
}

/// Decimal text as written, which the save reads exactly and rounds at the field's scale (as it
/// does an API client's): `1,234.505` is 1234.51 at scale 2, never a float near it.
fn parse_exact(text: &str) -> Result<Value, String> {
    let exact = crate::decimal::parse_text(&cleaned(text)).ok_or_else(|| format!("`{text}` is not a number"))?;
    Ok(json!(exact.to_string()))
}

pub(super) struct Number;
impl FieldType for Number {
    fn kind(&self) -> FieldKind {
        FieldKind::NUMBER
    }
    fn palette(&self) -> PaletteInfo {
        PaletteInfo::named(PaletteGroup::Number, "Number", "数字")
    }
    fn schema(&self, field: &Field) -> Value {
        bounded("number", field, None, None)
    }
    fn column(&self) -> Column {
        Column::Number
    }
    fn parse_text(&self, _field: &Field, text: &str) -> Result<Value, String> {
        parse_number(text)
    }
    fn widget(&self) -> Option<&'static str> {
        Some("NumberWidget")
    }
    fn properties(&self) -> &'static [&'static str] {
        &["min", "max"]
    }
}

pub(super) struct Integer;
impl FieldType for Integer {
    fn kind(&self) -> FieldKind {
        FieldKind::INTEGER
    }
    fn palette(&self) -> PaletteInfo {
        PaletteInfo::named(PaletteGroup::Number, "Integer", "整数")
    }
    fn schema(&self, field: &Field) -> Value {
        bounded("integer", field, None, None)
    }
    fn column(&self) -> Column {
        Column::Number
    }
    fn parse_text(&self, _field: &Field, text: &str) -> Result<Value, String> {
        parse_whole(text)
    }
    fn widget(&self) -> Option<&'static str> {
        Some("IntegerWidget")
    }
    fn properties(&self) -> &'static [&'static str] {
        &["min", "max"]
    }
}

/// An exact decimal, rounded to its `scale` on save (see `crate::decimal`).
pub(super) struct Decimal;
impl FieldType for Decimal {
    fn kind(&self) -> FieldKind {
        FieldKind::DECIMAL
    }
    fn palette(&self) -> PaletteInfo {
        PaletteInfo::named(PaletteGroup::Number, "Decimal", "小数")
    }
    fn schema(&self, field: &Field) -> Value {
        let largest = exact_bound(field);
        within_exact_bound(bounded("number", field, Some(-largest), Some(largest)), largest)
    }
    fn column(&self) -> Column {
        Column::Number
    }
    fn parse_text(&self, _field: &Field, text: &str) -> Result<Value, String> {
        parse_exact(text)
    }
    fn widget(&self) -> Option<&'static str> {
        Some("DecimalWidget")
    }
    fn properties(&self) -> &'static [&'static str] {
        &["min", "max", "scale", "rounding"]
    }
}

/// Money in the app's currency, an exact decimal like `decimal`; never negative unless the
/// field allows it with `min`.
pub(super) struct Currency;
impl FieldType for Currency {
    fn kind(&self) -> FieldKind {
        FieldKind::CURRENCY
    }
    fn palette(&self) -> PaletteInfo {
        PaletteInfo::named(PaletteGroup::Number, "Currency", "金额")
    }
    fn schema(&self, field: &Field) -> Value {
        let largest = exact_bound(field);
        within_exact_bound(bounded("number", field, Some(0.0), Some(largest)), largest)
    }
    fn column(&self) -> Column {
        Column::Number
    }
    fn parse_text(&self, _field: &Field, text: &str) -> Result<Value, String> {
        parse_exact(text)
    }
    fn widget(&self) -> Option<&'static str> {
        Some("CurrencyWidget")
    }
    fn properties(&self) -> &'static [&'static str] {
        &["min", "max", "scale", "rounding"]
    }
}

/// Stars from 0 to `max` (5 unless set).
pub(super) struct Rating;
impl FieldType for Rating {
    fn kind(&self) -> FieldKind {
        FieldKind::RATING
    }
    fn palette(&self) -> PaletteInfo {
        PaletteInfo::named(PaletteGroup::Number, "Rating", "评分")
    }
    fn schema(&self, field: &Field) -> Value {
        bounded("integer", field, Some(0.0), Some(5.0))
    }
    fn column(&self) -> Column {
        Column::Number
    }
    fn parse_text(&self, _field: &Field, text: &str) -> Result<Value, String> {
        parse_whole(text)
    }
    fn widget(&self) -> Option<&'static str> {
        Some("RatingWidget")
    }
    fn properties(&self) -> &'static [&'static str] {
        &["min", "max"]
    }
}
