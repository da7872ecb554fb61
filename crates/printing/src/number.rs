//! Exact decimal numbers for the money helpers: read from JSON numbers or strings as written and
//! rounded half up, so 1.005 prints as 1.01 like a person expects (binary floating point would
//! round it to 1.00), and sums of many amounts do not drift.

use std::fmt;

use serde_json::{Number, Value};

/// Decimal places the arithmetic helpers (`sum`, `add`, `sub`, `mul`) keep. Amounts have two;
/// the extra places keep quantities × unit prices exact before the final rounding.
pub(crate) const FIXED_PLACES: u32 = 9;

/// Significant digits kept when parsing: far more than any amount needs, and small enough that
/// every step below fits in a `u128` without checks.
const MAX_DIGITS: u32 = 36;

/// A decimal number `mantissa × 10^-scale`, exactly as written (up to [`MAX_DIGITS`] digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decimal {
    negative: bool,
    mantissa: u128,
    scale: i32,
}

/// Why a value is not an amount a helper can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NumberError {
    /// Not a number at all: text, `true`, an object, `NaN`…
    NotANumber(String),
    /// A number too large for the helper, with the largest it takes if there is one.
    TooLarge { value: String, limit: Option<&'static str> },
}

impl fmt::Display for NumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NumberError::NotANumber(v) => write!(f, "{v} is not a number"),
            NumberError::TooLarge { value, limit: None } => write!(f, "{value} is too large"),
            NumberError::TooLarge { value, limit: Some(max) } => write!(f, "{value} is too large (at most {max})"),
        }
    }
}

impl Decimal {
    /// Parses `-12345.67`, `1e3`, `+0.5`; refuses everything else (`NaN`, `1,000`, empty).
    pub(crate) fn parse(text: &str) -> Result<Decimal, NumberError> {
        let not_a_number = || NumberError::NotANumber(format!("{text:?}"));
        let s = text.trim();
        let (negative, s) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let (body, exponent) = match s.find(['e', 'E']) {
            Some(i) => {
                let e: i64 = s[i + 1..].parse().map_err(|_| not_a_number())?;
                // Beyond ±10,000 the number is zero or overflows either way; clamping keeps
                // the scale arithmetic in range.
                (&s[..i], e.clamp(-10_000, 10_000) as i32)
            }
            None => (s, 0),
        };
        let (int_part, frac_part) = match body.split_once('.') {
            Some((i, f)) => (i, f),
            None => (body, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(not_a_number());
        }
        let mut mantissa: u128 = 0;
        let mut scale: i32 = 0;
        let mut significant = 0;
        for (c, fractional) in int_part.chars().map(|c| (c, false)).chain(frac_part.chars().map(|c| (c, true))) {
            let d = c.to_digit(10).ok_or_else(not_a_number)?;
            if significant < MAX_DIGITS {
                mantissa = mantissa * 10 + u128::from(d);
                if mantissa > 0 {
                    significant += 1;
                }
                if fractional {
                    scale += 1;
                }
            } else if !fractional {
                // An integer digit we cannot keep still multiplies the value by ten.
                scale -= 1;
            }
            // A fractional digit past MAX_DIGITS significant ones cannot change any rounding
            // a helper does (amounts this long are refused as too large first).
        }
        Ok(Decimal { negative: negative && mantissa != 0, mantissa, scale: scale - exponent })
    }

    /// Reads a JSON number or numeric string; `None` for `null` (an empty field prints nothing).
    pub(crate) fn from_json(value: &Value) -> Result<Option<Decimal>, NumberError> {
        match value {
            Value::Null => Ok(None),
            // serde_json prints floats in their shortest round-trip form, which is the decimal
            // the user typed: 1.005 stays "1.005".
            Value::Number(n) => Decimal::parse(&n.to_string()).map(Some),
            Value::String(s) if s.trim().is_empty() => Ok(None),
            Value::String(s) => Decimal::parse(s).map(Some),
            other => Err(NumberError::NotANumber(other.to_string())),
        }
    }

    /// Reads a finite `f64` (as its shortest decimal form); for tests that start from floats.
    #[cfg(test)]
    pub(crate) fn from_f64(value: f64) -> Result<Decimal, NumberError> {
        if !value.is_finite() {
            return Err(NumberError::NotANumber(value.to_string()));
        }
        Decimal::parse(&value.to_string())
    }

    /// The value × 10^places rounded half away from zero (the commercial rule: 0.005 → 0.01,
    /// -0.005 → -0.01), or `None` if it does not fit.
    pub(crate) fn scaled(&self, places: u32) -> Option<i128> {
        let shift = places as i32 - self.scale;
        let magnitude = if self.mantissa == 0 {
            0
        } else if shift >= 0 {
            10u128.checked_pow(shift as u32).and_then(|p| self.mantissa.checked_mul(p))?
        } else {
            let down = (-shift) as u32;
            match 10u128.checked_pow(down) {
                // mantissa < 10^36, so dividing by more than 10^38 leaves less than a half.
                None => 0,
                Some(p) => {
                    let (q, r) = (self.mantissa / p, self.mantissa % p);
                    // r < p ≤ 10^38, so 2r fits in a u128 (max ≈ 3.4 × 10^38).
                    if r * 2 >= p { q + 1 } else { q }
                }
            }
        };
        let signed = i128::try_from(magnitude).ok()?;
        Some(if self.negative { -signed } else { signed })
    }

    /// As a fixed-point integer of [`FIXED_PLACES`] decimals, for the arithmetic helpers.
    pub(crate) fn fixed(&self) -> Result<i128, NumberError> {
        self.scaled(FIXED_PLACES).ok_or_else(|| NumberError::TooLarge { value: self.to_string(), limit: None })
    }
}

/// Plain decimal notation (`-1234.5`, `10000000000000`), or `1e300` for huge exponents.
impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.negative { "-" } else { "" };
        let digits = self.mantissa.to_string();
        match self.scale {
            s if (-20..=0).contains(&s) => write!(f, "{sign}{digits}{}", "0".repeat((-s) as usize)),
            s if s <= 0 => write!(f, "{sign}{digits}e{}", -s),
            s => {
                let s = s as usize;
                let padded = if digits.len() <= s { format!("{}{digits}", "0".repeat(s - digits.len() + 1)) } else { digits };
                let (int, frac) = padded.split_at(padded.len() - s);
                let frac = frac.trim_end_matches('0');
                if frac.is_empty() { write!(f, "{sign}{int}") } else { write!(f, "{sign}{int}.{frac}") }
            }
        }
    }
}

/// A fixed-point integer of [`FIXED_PLACES`] decimals as a JSON number: an integer when it is
/// whole (so `{{sum items "qty"}}` prints `3`, not `3.0`), else the nearest `f64`, whose shortest
/// form is the decimal itself for any amount with up to 15 significant digits.
pub(crate) fn fixed_to_json(fixed: i128) -> Value {
    let unit = 10i128.pow(FIXED_PLACES);
    if fixed % unit == 0
        && let Ok(whole) = i64::try_from(fixed / unit)
    {
        return Value::Number(whole.into());
    }
    let sign = if fixed < 0 { "-" } else { "" };
    let abs = fixed.unsigned_abs();
    let unit = unit.unsigned_abs();
    let text = format!("{sign}{}.{:0width$}", abs / unit, abs % unit, width = FIXED_PLACES as usize);
    // Parsing decimal digits always gives a finite f64, and from_f64 only refuses NaN/inf.
    text.parse::<f64>().ok().and_then(Number::from_f64).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cents(text: &str) -> Option<i128> {
        Decimal::parse(text).ok()?.scaled(2)
    }

    #[test]
    fn parses_and_rounds_half_up() {
        assert_eq!(cents("12345.67"), Some(1_234_567));
        assert_eq!(cents("1.005"), Some(101));
        assert_eq!(cents("1.004999"), Some(100));
        assert_eq!(cents("-1.005"), Some(-101));
        assert_eq!(cents("0.005"), Some(1));
        assert_eq!(cents("1e3"), Some(100_000));
        assert_eq!(cents("1.5E-2"), Some(2));
        assert_eq!(cents("+.5"), Some(50));
        assert_eq!(cents("7."), Some(700));
        assert_eq!(cents("1e-400"), Some(0));
        assert_eq!(cents("1e400"), None);
        assert_eq!(cents("-0.001"), Some(0));
    }

    #[test]
    fn refuses_what_is_not_a_number() {
        for bad in ["", "-", ".", "NaN", "inf", "1,000", "12a", "1e", "1e+x", "--1", "¥12"] {
            assert!(Decimal::parse(bad).is_err(), "{bad:?} parsed");
        }
        assert!(Decimal::from_f64(f64::NAN).is_err());
        assert!(Decimal::from_f64(f64::INFINITY).is_err());
        assert!(Decimal::from_json(&json!(true)).is_err());
        assert_eq!(Decimal::from_json(&json!(null)), Ok(None));
        assert_eq!(Decimal::from_json(&json!(" ")), Ok(None));
    }

    #[test]
    fn json_floats_read_as_typed() {
        let d = Decimal::from_json(&json!(0.1 + 0.2)).ok().flatten();
        assert_eq!(d.and_then(|d| d.scaled(2)), Some(30));
        let d = Decimal::from_json(&json!(1.005)).ok().flatten();
        assert_eq!(d.and_then(|d| d.scaled(2)), Some(101));
    }

    #[test]
    fn displays_plainly() {
        let shown = |t: &str| Decimal::parse(t).map(|d| d.to_string()).unwrap_or_default();
        assert_eq!(shown("1e13"), "10000000000000");
        assert_eq!(shown("-1234.50"), "-1234.5");
        assert_eq!(shown("0.05"), "0.05");
        assert_eq!(shown("1e300"), "1e300");
        assert_eq!(shown("12.00"), "12");
    }

    #[test]
    fn fixed_back_to_json() {
        assert_eq!(fixed_to_json(3_000_000_000), json!(3));
        assert_eq!(fixed_to_json(12_345_670_000_000), json!(12345.67));
        assert_eq!(fixed_to_json(-500_000_000), json!(-0.5));
    }
}
