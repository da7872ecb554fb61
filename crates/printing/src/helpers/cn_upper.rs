//! `{{cn_upper amount}}`: an amount in Chinese financial capitals (大写金额), as written on
//! contracts, invoices and cheques: 12345.67 → 壹万贰仟叁佰肆拾伍元陆角柒分.
//!
//! The rules are those of the People's Bank of China for writing amounts on bills and vouchers
//! (《支付结算办法》附件一《正确填写票据和结算凭证的基本规定》):
//! - Amounts ending at 元 end with 整; amounts with 分 do not; after 角 整 is optional and left
//!   out, as in the rules' own example (¥1409.50 → 壹仟肆佰零玖元伍角).
//! - A run of zeros between non-zero digits is written as one 零 (¥6007.14 → 陆仟零柒元壹角肆分),
//!   also across 万 and 亿 (100000010 → 壹亿零壹拾元整).
//! - Where the rules allow 零 or nothing — a zero in the 元 place before non-zero 角
//!   (¥1680.32 → 壹仟陆佰捌拾元叁角贰分), or zeros at the end of a 万 group before a non-zero
//!   thousands digit (¥107000.53 → 壹拾万柒仟元伍角叁分) — we write nothing, like the spoken form.
//! - A zero 角 before a non-zero 分 is written as 零 after 元 (¥325.04 → 叁佰贰拾伍元零肆分).
//! - 壹 is never dropped before 拾 (10 → 壹拾元整), so nothing can be written in front of it.
//! - Amounts under one 元 start at 角 or 分 (0.05 → 伍分); zero is 零元整; negatives start with 负.
//!
//! Rounding is half up at the 分. Amounts of a 万亿 (10^12) or more are refused: no bill form has
//! room for them and 兆 is ambiguous.

use crate::number::{Decimal, NumberError};

/// The largest amount in 分: 9999亿9999万9999元9角9分.
const MAX_FEN: i128 = 99_999_999_999_999;

const DIGITS: [&str; 10] = ["零", "壹", "贰", "叁", "肆", "伍", "陆", "柒", "捌", "玖"];
/// Places inside a group of four digits, from the thousands down.
const PLACES: [&str; 4] = ["仟", "佰", "拾", ""];
/// The unit after each group of four digits, from the lowest group up.
const GROUPS: [&str; 3] = ["", "万", "亿"];

/// The amount in Chinese capitals; see the module documentation for the rules.
pub(crate) fn to_chinese(amount: &Decimal) -> Result<String, NumberError> {
    let too_large = || NumberError::TooLarge { value: amount.to_string(), limit: Some("999,999,999,999.99") };
    let fen = amount.scaled(2).ok_or_else(too_large)?;
    if fen.abs() > MAX_FEN {
        return Err(too_large());
    }
    let negative = fen < 0;
    let fen = fen.unsigned_abs();
    let (yuan, jiao, fen) = (fen / 100, (fen / 10 % 10) as usize, (fen % 10) as usize);

    let mut out = String::new();
    if negative {
        out.push('负');
    }
    if yuan > 0 {
        out.push_str(&integer_part(yuan));
        out.push('元');
        match (jiao, fen) {
            (0, 0) => out.push('整'),
            (0, f) => {
                out.push('零');
                out.push_str(DIGITS[f]);
                out.push('分');
            }
            (j, f) => {
                out.push_str(DIGITS[j]);
                out.push('角');
                if f > 0 {
                    out.push_str(DIGITS[f]);
                    out.push('分');
                }
            }
        }
    } else {
        match (jiao, fen) {
            (0, 0) => return Ok("零元整".to_owned()),
            (j, f) => {
                if j > 0 {
                    out.push_str(DIGITS[j]);
                    out.push('角');
                }
                if f > 0 {
                    out.push_str(DIGITS[f]);
                    out.push('分');
                }
            }
        }
    }
    Ok(out)
}

/// The 元 part (> 0): groups of four digits, each followed by its unit (万, 亿), with one 零 for
/// every run of zeros that sits between non-zero digits.
fn integer_part(mut yuan: u128) -> String {
    let mut groups = Vec::new();
    while yuan > 0 {
        groups.push((yuan % 10_000) as usize);
        yuan /= 10_000;
    }
    let mut out = String::new();
    // A zero seen since the last digit written; written as 零 only if a digit follows.
    let mut pending_zero = false;
    for (index, &group) in groups.iter().enumerate().rev() {
        if group == 0 {
            pending_zero |= !out.is_empty();
            continue;
        }
        // A group under 1000 after a higher one starts with zeros (1|0010 → 壹万零壹拾).
        if !out.is_empty() && group < 1000 {
            pending_zero = true;
        }
        let digits = [group / 1000, group / 100 % 10, group / 10 % 10, group % 10];
        let mut started = false;
        for (place, &d) in digits.iter().enumerate() {
            if d == 0 {
                pending_zero |= started;
                continue;
            }
            if pending_zero {
                out.push('零');
                pending_zero = false;
            }
            out.push_str(DIGITS[d]);
            out.push_str(PLACES[place]);
            started = true;
        }
        out.push_str(GROUPS[index]);
        // Zeros ending a group (the 0 of 10|7000) are not carried over: 壹拾万柒仟.
        pending_zero = false;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        let amount = Decimal::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(to_chinese(&amount).as_deref(), Ok(expected), "{input}");
    }

    #[test]
    fn the_issue_examples() {
        check("12345.67", "壹万贰仟叁佰肆拾伍元陆角柒分");
        check("0", "零元整");
        check("0.05", "伍分");
        check("10", "壹拾元整");
        check("10000", "壹万元整");
        check("100000010", "壹亿零壹拾元整");
        check("1000000000.99", "壹拾亿元玖角玖分");
    }

    #[test]
    fn the_central_bank_examples() {
        check("1409.50", "壹仟肆佰零玖元伍角");
        check("6007.14", "陆仟零柒元壹角肆分");
        check("1680.32", "壹仟陆佰捌拾元叁角贰分");
        check("107000.53", "壹拾万柒仟元伍角叁分");
        check("16409.02", "壹万陆仟肆佰零玖元零贰分");
        check("325.04", "叁佰贰拾伍元零肆分");
    }

    #[test]
    fn zeros_inside_and_across_groups() {
        check("1001", "壹仟零壹元整");
        check("1010", "壹仟零壹拾元整");
        check("1100", "壹仟壹佰元整");
        check("10010", "壹万零壹拾元整");
        check("10100", "壹万零壹佰元整");
        check("11000", "壹万壹仟元整");
        check("1000001", "壹佰万零壹元整");
        check("100010000", "壹亿零壹万元整");
        check("100007000", "壹亿零柒仟元整");
        check("100100000", "壹亿零壹拾万元整");
        check("110000000", "壹亿壹仟万元整");
        check("200000002", "贰亿零贰元整");
        check("1000000000", "壹拾亿元整");
        check("30000000000", "叁佰亿元整");
        check("15", "壹拾伍元整");
        check("105", "壹佰零伍元整");
    }

    #[test]
    fn fractions() {
        check("0.1", "壹角");
        check("0.10", "壹角");
        check("0.01", "壹分");
        check("0.15", "壹角伍分");
        check("100.5", "壹佰元伍角");
        check("12.00", "壹拾贰元整");
        check("12.3", "壹拾贰元叁角");
        check("20.07", "贰拾元零柒分");
        check("1.2", "壹元贰角");
    }

    #[test]
    fn rounding_half_up_at_the_fen() {
        check("0.005", "壹分");
        check("0.004", "零元整");
        check("1.005", "壹元零壹分");
        check("9.995", "壹拾元整");
        check("99999.999", "壹拾万元整");
        check("2.675", "贰元陆角捌分");
    }

    #[test]
    fn negatives() {
        check("-12345.67", "负壹万贰仟叁佰肆拾伍元陆角柒分");
        check("-0.05", "负伍分");
        check("-0.001", "零元整");
    }

    #[test]
    fn bounds() {
        check("999999999999", "玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元整");
        check("999999999999.99", "玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分");
        check("-999999999999.99", "负玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分");
        for too_large in ["1000000000000", "999999999999.995", "-1e12", "1e300"] {
            let amount = Decimal::parse(too_large).unwrap_or_else(|e| panic!("{too_large}: {e}"));
            assert!(matches!(to_chinese(&amount), Err(NumberError::TooLarge { .. })), "{too_large} accepted");
        }
        assert!(Decimal::from_f64(f64::NAN).is_err());
    }

    #[test]
    fn from_floats() {
        let amount = Decimal::from_f64(1e12 - 1.0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(to_chinese(&amount).as_deref(), Ok("玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元整"));
        let amount = Decimal::from_f64(0.1 + 0.2).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(to_chinese(&amount).as_deref(), Ok("叁角"));
    }
}
