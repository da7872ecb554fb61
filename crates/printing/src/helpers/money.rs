//! `{{money amount}}`: an amount with thousands separators and two decimals (rounded half up), in
//! the document's locale: zh-CN `¥12,345.67`, en `CNY 12,345.67`; negatives `-¥1.00`.
//! `currency="USD"` names another currency (written as its code, also in Chinese, since ¥ alone
//! would say yuan); `symbol=false` prints the bare number for columns whose heading says the unit.

use handlebars::{Context, Helper, RenderError};
use serde_json::Value;

use super::{Locale, amount_param, helper_error, locale};

/// The helper; see the module documentation.
pub(crate) fn money(h: &Helper<'_>, ctx: &Context) -> Result<Value, RenderError> {
    let Some(amount) = amount_param(h, 0)? else {
        return Ok(Value::String(String::new()));
    };
    let cents = amount.scaled(2).ok_or_else(|| helper_error(h, format!("{amount} is too large")))?;
    let currency = h.hash_get("currency").and_then(|v| v.value().as_str()).unwrap_or("CNY");
    let symbol = h.hash_get("symbol").is_none_or(|v| v.value().as_bool() != Some(false));
    let prefix = match (symbol, locale(h, ctx), currency) {
        (false, _, _) => String::new(),
        (true, Locale::Zh, "CNY") => "¥".to_owned(),
        (true, _, code) => format!("{code} "),
    };
    Ok(Value::String(format_money(cents, &prefix)))
}

/// `-¥12,345.67` from -1234567 cents and the prefix `¥`.
pub(crate) fn format_money(cents: i128, prefix: &str) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    format!("{sign}{prefix}{}.{:02}", group_thousands(cents / 100), cents % 100)
}

/// `12345` → `12,345`.
fn group_thousands(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(format_money(1_234_567, "¥"), "¥12,345.67");
        assert_eq!(format_money(1_234_567, "CNY "), "CNY 12,345.67");
        assert_eq!(format_money(-100, "¥"), "-¥1.00");
        assert_eq!(format_money(5, ""), "0.05");
        assert_eq!(format_money(0, "¥"), "¥0.00");
        assert_eq!(format_money(100_000_000_000, "¥"), "¥1,000,000,000.00");
        assert_eq!(format_money(99_999, "¥"), "¥999.99");
    }
}
