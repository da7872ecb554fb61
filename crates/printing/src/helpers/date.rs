//! `{{date value}}`: an ISO date or date-time in the document's locale: zh-CN `2026年11月23日`,
//! en `23 Nov 2026`; a date-time adds `14:05` in the offset it was written with (the engine passes
//! times in the app's offset), unless `time=false`.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use handlebars::{Context, Helper, RenderError};
use serde_json::Value;

use super::{Locale, helper_error, locale};

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// The helper; see the module documentation.
pub(crate) fn date(h: &Helper<'_>, ctx: &Context) -> Result<Value, RenderError> {
    let value = h.param(0).ok_or_else(|| helper_error(h, "needs a date as parameter 1"))?.value();
    let text = match value {
        Value::Null => String::new(),
        Value::String(s) if s.trim().is_empty() => String::new(),
        Value::String(s) => {
            let (date, time) = parse(s.trim()).ok_or_else(|| helper_error(h, format!("{s:?} is not an ISO date")))?;
            let with_time = h.hash_get("time").is_none_or(|v| v.value().as_bool() != Some(false));
            format(date, time.filter(|_| with_time), locale(h, ctx))
        }
        other => return Err(helper_error(h, format!("{other} is not an ISO date"))),
    };
    Ok(Value::String(text))
}

/// `2026-11-23`, `2026-11-23T14:05:00+08:00` (any RFC 3339 form) or a date-time without offset.
fn parse(s: &str) -> Option<(NaiveDate, Option<NaiveTime>)> {
    if let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some((date, None));
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(s) {
        let local = at.naive_local();
        return Some((local.date(), Some(local.time())));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(|at| (at.date(), Some(at.time())))
}

/// Written out by hand rather than with a strftime pattern: no locale data is needed, and there
/// is no pattern that could fail at run time.
fn format(date: NaiveDate, time: Option<NaiveTime>, locale: Locale) -> String {
    let mut out = match locale {
        Locale::Zh => format!("{}年{}月{}日", date.year(), date.month(), date.day()),
        Locale::En => format!("{} {} {}", date.day(), MONTHS[date.month0() as usize], date.year()),
    };
    if let Some(t) = time {
        out.push_str(&format!(" {:02}:{:02}", t.hour(), t.minute()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, locale: Locale, expected: &str) {
        let (date, time) = parse(input).unwrap_or_else(|| panic!("{input} did not parse"));
        assert_eq!(format(date, time, locale), expected, "{input}");
    }

    #[test]
    fn dates_and_times() {
        check("2026-11-23", Locale::Zh, "2026年11月23日");
        check("2026-11-23", Locale::En, "23 Nov 2026");
        check("2026-01-05", Locale::Zh, "2026年1月5日");
        check("2026-01-05", Locale::En, "5 Jan 2026");
        check("2026-11-23T14:05:09+08:00", Locale::Zh, "2026年11月23日 14:05");
        check("2026-11-23T06:05:09.123Z", Locale::En, "23 Nov 2026 06:05");
        check("2026-11-23T14:05:09", Locale::En, "23 Nov 2026 14:05");
        check("2026-11-23 14:05", Locale::Zh, "2026年11月23日 14:05");
    }

    #[test]
    fn refuses_what_is_not_a_date() {
        for bad in ["2026-13-01", "23/11/2026", "tomorrow", "2026-02-30"] {
            assert!(parse(bad).is_none(), "{bad} parsed");
        }
    }
}
