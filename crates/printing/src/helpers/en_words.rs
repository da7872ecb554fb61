//! `{{en_words amount}}`: an amount in English words the way cheques and contracts write it,
//! whole units in words and cents as a fraction: 12345.67 → "twelve thousand three hundred
//! forty-five and 67/100". American style (no "and" inside the hundreds), rounding half up at the
//! cent, the same bounds as `cn_upper` so both lines of a bilingual document always agree.

use crate::number::{Decimal, NumberError};

/// The largest amount in cents, the same as `cn_upper`'s: 999,999,999,999.99.
const MAX_CENTS: i128 = 99_999_999_999_999;

const ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 10] = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
/// The scale word after each group of three digits, from the lowest group up.
const SCALES: [&str; 4] = ["", "thousand", "million", "billion"];

/// The amount in words; see the module documentation.
pub(crate) fn to_words(amount: &Decimal) -> Result<String, NumberError> {
    let too_large = || NumberError::TooLarge { value: amount.to_string(), limit: Some("999,999,999,999.99") };
    let cents = amount.scaled(2).ok_or_else(too_large)?;
    if cents.abs() > MAX_CENTS {
        return Err(too_large());
    }
    let sign = if cents < 0 { "minus " } else { "" };
    let cents = cents.unsigned_abs();
    Ok(format!("{sign}{} and {:02}/100", whole_words(cents / 100), cents % 100))
}

fn whole_words(mut n: u128) -> String {
    if n == 0 {
        return ONES[0].to_owned();
    }
    let mut groups = Vec::new();
    while n > 0 {
        groups.push((n % 1000) as usize);
        n /= 1000;
    }
    let mut words: Vec<String> = Vec::new();
    for (index, &group) in groups.iter().enumerate().rev() {
        if group == 0 {
            continue;
        }
        words.push(hundreds(group));
        if !SCALES[index].is_empty() {
            words.push(SCALES[index].to_owned());
        }
    }
    words.join(" ")
}

/// 1..=999 in words: "three hundred forty-five".
fn hundreds(n: usize) -> String {
    let mut words = Vec::new();
    if n >= 100 {
        words.push(format!("{} hundred", ONES[n / 100]));
    }
    let rest = n % 100;
    if rest >= 20 {
        words.push(match rest % 10 {
            0 => TENS[rest / 10].to_owned(),
            ones => format!("{}-{}", TENS[rest / 10], ONES[ones]),
        });
    } else if rest > 0 {
        words.push(ONES[rest].to_owned());
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        let amount = Decimal::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(to_words(&amount).as_deref(), Ok(expected), "{input}");
    }

    #[test]
    fn words() {
        check("12345.67", "twelve thousand three hundred forty-five and 67/100");
        check("0", "zero and 00/100");
        check("0.05", "zero and 05/100");
        check("10", "ten and 00/100");
        check("19.5", "nineteen and 50/100");
        check("100", "one hundred and 00/100");
        check("1001", "one thousand one and 00/100");
        check("1000000", "one million and 00/100");
        check("100000010", "one hundred million ten and 00/100");
        check("1000000000.99", "one billion and 99/100");
        check("2000021.005", "two million twenty-one and 01/100");
        check("-40", "minus forty and 00/100");
        check(
            "999999999999.99",
            "nine hundred ninety-nine billion nine hundred ninety-nine million nine hundred \
             ninety-nine thousand nine hundred ninety-nine and 99/100",
        );
    }

    #[test]
    fn too_large() {
        let amount = Decimal::parse("1e12").unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(to_words(&amount), Err(NumberError::TooLarge { .. })));
    }
}
