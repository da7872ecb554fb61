//! Exact arithmetic on amounts, for figures a template shows but the record does not store:
//! `{{money (sum record.data.items "amount")}}` (a subtotal over child rows),
//! `(sub a b)`, `(add a b …)`, `(mul qty unit_price)`, `{{percent part whole}}` (`30%`) and
//! `{{inc @index}}` (1-based row numbers).
//!
//! Numbers are decimals with nine places, so sums do not drift the way floats do. In `sum`, `add`
//! and `sub` an empty value counts as zero, as in a spreadsheet; `mul` and `percent` of an empty
//! value are empty, since a product of something unknown is unknown.

use handlebars::{Context, Helper, RenderError};
use serde_json::Value;

use super::{amount_param, helper_error};
use crate::number::{Decimal, FIXED_PLACES, fixed_to_json};

/// `{{sum rows "field"}}` adds `field` over an array of rows; `{{sum numbers}}` adds an array.
pub(crate) fn sum(h: &Helper<'_>, _: &Context) -> Result<Value, RenderError> {
    let rows = h.param(0).ok_or_else(|| helper_error(h, "needs rows as parameter 1"))?.value();
    let field = match h.param(1).map(|p| p.value()) {
        None => None,
        Some(Value::String(f)) => Some(f.as_str()),
        Some(other) => return Err(helper_error(h, format!("the field name must be text, not {other}"))),
    };
    let rows: &[Value] = match rows {
        Value::Null => &[],
        Value::Array(rows) => rows,
        other => return Err(helper_error(h, format!("{} is not a list of rows", kind(other)))),
    };
    let mut total: i128 = 0;
    for (i, row) in rows.iter().enumerate() {
        let value = match field {
            Some(f) => row.get(f).unwrap_or(&Value::Null),
            None => row,
        };
        let amount = Decimal::from_json(value).map_err(|e| helper_error(h, format!("row {}: {e}", i + 1)))?;
        let fixed = amount.map(|a| a.fixed()).transpose().map_err(|e| helper_error(h, e))?.unwrap_or(0);
        total = total.checked_add(fixed).ok_or_else(|| helper_error(h, "the total is too large"))?;
    }
    Ok(fixed_to_json(total))
}

/// `(add a b …)`: the sum of its parameters.
pub(crate) fn add(h: &Helper<'_>, _: &Context) -> Result<Value, RenderError> {
    let mut total: i128 = 0;
    for i in 0..h.params().len().max(2) {
        total = total.checked_add(fixed_or_zero(h, i)?).ok_or_else(|| helper_error(h, "the sum is too large"))?;
    }
    Ok(fixed_to_json(total))
}

/// `(sub a b)`: a − b.
pub(crate) fn sub(h: &Helper<'_>, _: &Context) -> Result<Value, RenderError> {
    let difference =
        fixed_or_zero(h, 0)?.checked_sub(fixed_or_zero(h, 1)?).ok_or_else(|| helper_error(h, "the difference is too large"))?;
    Ok(fixed_to_json(difference))
}

/// `(mul a b …)`: the product, rounded half up to nine places after each step.
pub(crate) fn mul(h: &Helper<'_>, _: &Context) -> Result<Value, RenderError> {
    let unit = 10i128.pow(FIXED_PLACES);
    let mut product = unit;
    for i in 0..h.params().len().max(2) {
        let Some(factor) = amount_param(h, i)? else {
            return Ok(Value::Null);
        };
        let factor = factor.fixed().map_err(|e| helper_error(h, e))?;
        let wide = product.checked_mul(factor).ok_or_else(|| helper_error(h, "the product is too large"))?;
        product = div_half_up(wide, unit);
    }
    Ok(fixed_to_json(product))
}

/// `{{percent part whole}}`: `30%`; `decimals=1` gives `33.3%`. Empty when either is empty or
/// the whole is zero.
pub(crate) fn percent(h: &Helper<'_>, _: &Context) -> Result<Value, RenderError> {
    let empty = Ok(Value::String(String::new()));
    let (Some(part), Some(whole)) = (amount_param(h, 0)?, amount_param(h, 1)?) else {
        return empty;
    };
    let (part, whole) = (part.fixed().map_err(|e| helper_error(h, e))?, whole.fixed().map_err(|e| helper_error(h, e))?);
    if whole == 0 {
        return empty;
    }
    let decimals = match h.hash_get("decimals").map(|v| v.value()) {
        None => 0,
        Some(v) => v.as_u64().filter(|d| *d <= 4).ok_or_else(|| helper_error(h, "decimals must be 0 to 4"))? as u32,
    };
    let scale = 10i128.pow(decimals);
    let scaled = part.checked_mul(100 * scale).map(|p| div_half_up(p, whole)).ok_or_else(|| helper_error(h, "the share is too large"))?;
    let sign = if scaled < 0 { "-" } else { "" };
    let (abs, scale) = (scaled.unsigned_abs(), scale.unsigned_abs());
    let text = if decimals == 0 {
        format!("{sign}{abs}%")
    } else {
        format!("{sign}{}.{:0width$}%", abs / scale, abs % scale, width = decimals as usize)
    };
    Ok(Value::String(text))
}

/// `{{inc @index}}`: the number plus one, for row numbers that start at 1.
pub(crate) fn inc(h: &Helper<'_>, _: &Context) -> Result<Value, RenderError> {
    let value = h.param(0).ok_or_else(|| helper_error(h, "needs a number as parameter 1"))?.value();
    let n = value.as_i64().and_then(|n| n.checked_add(1)).ok_or_else(|| helper_error(h, format!("{value} is not a whole number")))?;
    Ok(Value::Number(n.into()))
}

/// Parameter `index` as fixed-point, zero when empty.
fn fixed_or_zero(h: &Helper<'_>, index: usize) -> Result<i128, RenderError> {
    match amount_param(h, index)? {
        Some(amount) => amount.fixed().map_err(|e| helper_error(h, e)),
        None => Ok(0),
    }
}

/// n / d rounded half away from zero; `d` is not zero.
fn div_half_up(n: i128, d: i128) -> i128 {
    let (q, r) = (n / d, n % d);
    // If doubling the remainder overflows, it is certainly at least |d|.
    let at_least_half = r.abs().checked_mul(2).is_none_or(|twice| twice >= d.abs());
    if at_least_half && r != 0 { q + n.signum() * d.signum() } else { q }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a yes/no value",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_division() {
        assert_eq!(div_half_up(5, 2), 3);
        assert_eq!(div_half_up(-5, 2), -3);
        assert_eq!(div_half_up(4, 3), 1);
        assert_eq!(div_half_up(-4, 3), -1);
        assert_eq!(div_half_up(5, -2), -3);
    }
}
