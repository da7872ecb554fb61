//! Exact values of `decimal` and `currency` fields: each is rounded to its field's `scale` with
//! its `rounding` (rust_decimal, never binary arithmetic) and kept as the JSON number whose
//! shortest text is that decimal, so 0.1 × 3 is stored, summed and printed as 0.3.
//!
//! Stored values stay JSON numbers, which every reader (serde_json, SQLite's REAL, PostgreSQL's
//! float8 casts) holds as an `f64`. An `f64` gives back every decimal of up to
//! [`MAX_SIGNIFICANT_DIGITS`] digits as its shortest text, so a value bounded to that many
//! digits at its scale round-trips exactly; the field's JSON Schema enforces the bound.

use std::str::FromStr;

use defs::{Field, FieldKind, Rounding};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Map, Number, Value};

use crate::find_field_type;

/// Digits after the point of a decimal or currency field that sets no `scale`: cents.
pub const DEFAULT_SCALE: u32 = 2;

/// Most significant digits a decimal value keeps at its scale (so at most 9,999,999,999,999.99
/// at scale 2): DBL_DIG, the most an `f64` — what SQLite, PostgreSQL's float8 and serde_json
/// read a JSON number as — holds for every decimal, i.e. gives back as its shortest text.
pub const MAX_SIGNIFICANT_DIGITS: u32 = 15;

/// The scale and rounding of `field`, if it holds an exact decimal.
pub fn decimal_scale(field: &Field) -> Option<(u32, Rounding)> {
    find_field_type(&field.kind)
        .is_some_and(|t| t.properties().contains(&"scale"))
        .then(|| (field.scale.map_or(DEFAULT_SCALE, u32::from), field.rounding.unwrap_or_default()))
}

/// The largest value a field of `scale` stores: [`MAX_SIGNIFICANT_DIGITS`] nines with `scale`
/// of them after the point.
pub fn largest(scale: u32) -> Decimal {
    let units = 10i64.pow(MAX_SIGNIFICANT_DIGITS) - 1;
    Decimal::new(units, scale)
}

/// The decimal `x` writes: its shortest text (2.675, not the binary 2.67499…). `None` beyond
/// rust_decimal's range (about ±7.9 × 10^28).
pub fn written(x: f64) -> Option<Decimal> {
    // Rust prints floats in full (no exponent) with the fewest digits that read back.
    Decimal::from_str(&x.to_string()).ok()
}

/// The `f64` nearest to `value`, whose shortest text is `value` itself within the digits bound.
pub fn nearest_f64(value: Decimal) -> f64 {
    // The text of a decimal always parses as a finite f64.
    value.to_string().parse().unwrap_or(f64::NAN)
}

/// The decimal a JSON value holds: a number as its shortest text (the digits the user or the
/// rule wrote: 2.675, not the binary 2.67499…), or decimal text (see [`parse_text`]). `None` for anything else, and for numbers beyond rust_decimal's range.
pub fn parse(value: &Value) -> Option<Decimal> {
    match value {
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Some(Decimal::from(i)),
            // Rust prints floats in full (no exponent) with the fewest digits that read back.
            (None, Some(f)) => written(f),
            (None, None) => None,
        },
        Value::String(text) => parse_text(text),
        _ => None,
    }
}

/// The decimal `text` writes, exactly: `0.10`, ` -1234.5 `, `1.5e-3`. `None` for anything else
/// and for more digits than rust_decimal holds (28).
pub fn parse_text(text: &str) -> Option<Decimal> {
    let text = text.trim();
    Decimal::from_str_exact(text).or_else(|_| Decimal::from_scientific(text)).ok()
}

/// `value` rounded to `scale` places by `rounding`.
pub fn round(value: Decimal, scale: u32, rounding: Rounding) -> Decimal {
    let strategy = match rounding {
        Rounding::HalfUp => RoundingStrategy::MidpointAwayFromZero,
        Rounding::HalfEven => RoundingStrategy::MidpointNearestEven,
        Rounding::Down => RoundingStrategy::ToZero,
    };
    value.round_dp_with_strategy(scale, strategy)
}

/// The JSON number of `value`: an integer when it is whole (so 500000 stays `500000`), else the
/// `f64` nearest to it, whose shortest text is `value` itself within the digits bound.
pub fn to_json(value: Decimal) -> Value {
    if value.is_integer()
        && let Ok(whole) = i64::try_from(value)
    {
        return Value::Number(whole.into());
    }
    Number::from_f64(nearest_f64(value)).map_or(Value::Null, Value::Number)
}

/// Rounds every decimal and currency value of `data` (child rows included) to its field's scale
/// and turns decimal text into numbers. Values that are no decimal are left for validation to
/// refuse, with its message and pointer.
pub(crate) fn normalise(fields: &[Field], data: &mut Map<String, Value>) {
    for field in fields {
        let Some(value) = data.get_mut(&field.id) else { continue };
        if let Some((scale, rounding)) = decimal_scale(field) {
            if let Some(exact) = parse(value) {
                *value = to_json(round(exact, scale, rounding));
            }
        } else if field.kind == FieldKind::TABLE
            && let Value::Array(rows) = value
        {
            for row in rows.iter_mut().filter_map(Value::as_object_mut) {
                normalise(&field.fields, row);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn field(extra: Value) -> Field {
        let mut f = json!({"id": "amount", "type": "currency", "label": "Amount"});
        f.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        serde_json::from_value(f).unwrap()
    }

    fn saved(field: &Field, value: Value) -> Value {
        let mut data = Map::from_iter([(field.id.clone(), value)]);
        normalise(std::slice::from_ref(field), &mut data);
        data.remove(&field.id).unwrap()
    }

    #[test]
    fn binary_noise_is_rounded_away_at_the_scale() {
        let amount = field(json!({}));
        assert_eq!(saved(&amount, json!(0.1 * 3.0)), json!(0.3));
        assert_eq!(saved(&amount, json!(0.1 * 3.0)).to_string(), "0.3");
        assert_eq!(saved(&amount, json!(500000)), json!(500000));
        assert_eq!(saved(&amount, json!(2250.45)), json!(2250.45));
        assert_eq!(saved(&amount, json!(1.0)).to_string(), "1", "a whole amount is stored as an integer");
    }

    #[test]
    fn rounding_modes_round_the_written_digits() {
        let at = |rounding: &str, value: Value| saved(&field(json!({"rounding": rounding})), value);
        assert_eq!(at("half_up", json!(2.675)), json!(2.68), "2.675 as written, not the binary 2.67499…");
        assert_eq!(at("half_up", json!(-2.675)), json!(-2.68));
        assert_eq!(at("half_even", json!(2.665)), json!(2.66));
        assert_eq!(at("half_even", json!(2.675)), json!(2.68));
        assert_eq!(at("down", json!(2.679)), json!(2.67));
        assert_eq!(at("down", json!(-2.679)), json!(-2.67));
        assert_eq!(saved(&field(json!({"scale": 0})), json!(2.5)), json!(3));
        assert_eq!(saved(&field(json!({"scale": 4})), json!(0.123456)), json!(0.1235));
    }

    #[test]
    fn decimal_text_becomes_a_number_and_other_values_are_left_for_validation() {
        let amount = field(json!({}));
        assert_eq!(saved(&amount, json!("0.10")), json!(0.1));
        assert_eq!(saved(&amount, json!(" -1234.567 ")), json!(-1234.57));
        assert_eq!(saved(&amount, json!("ten")), json!("ten"));
        assert_eq!(saved(&amount, json!("1.5e3")), json!(1500));
        assert_eq!(saved(&amount, json!("1,000")), json!("1,000"));
        assert_eq!(saved(&amount, json!(1e300)), json!(1e300));
        assert_eq!(saved(&amount, json!(true)), json!(true));
    }

    #[test]
    fn child_rows_are_rounded_too() {
        let items: Field = serde_json::from_value(json!({"id": "items", "type": "table", "label": "Items", "fields": [
            {"id": "price", "type": "decimal", "label": "Price", "scale": 3},
            {"id": "note", "type": "text", "label": "Note"}]}))
        .unwrap();
        let rows = saved(&items, json!([{"price": 0.1 + 0.2, "note": "0.30000000000000004"}, {"price": "1.0005"}]));
        assert_eq!(rows, json!([{"price": 0.3, "note": "0.30000000000000004"}, {"price": 1.001}]));
    }

    #[test]
    fn the_largest_value_round_trips_through_f64() {
        for scale in 0..=10 {
            let top = largest(scale);
            assert_eq!(parse(&to_json(top)), Some(top), "scale {scale}");
            assert_eq!(parse(&to_json(-top)), Some(-top), "scale {scale}");
        }
        assert_eq!(largest(2).to_string(), "9999999999999.99");
    }
}
