//! Dates (`2026-11-23`) and instants (`2026-11-23T10:00:00Z`), stored as ISO 8601 text so
//! text order is time order.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use defs::{Field, FieldKind};
use serde_json::{Value, json};

use super::{FieldType, PaletteGroup, PaletteInfo};

pub(super) struct Date;
impl FieldType for Date {
    fn kind(&self) -> FieldKind {
        FieldKind::DATE
    }
    fn palette(&self) -> PaletteInfo {
        PaletteInfo::named(PaletteGroup::Time, "Date", "日期")
    }
    fn schema(&self, _field: &Field) -> Value {
        json!({"type": "string", "format": "date"})
    }
    /// `2026-03-04`, `2026/3/4` or `2026.3.4`, with any time after it ignored.
    fn parse_text(&self, _field: &Field, text: &str) -> Result<Value, String> {
        let normal = text.split_whitespace().next().unwrap_or(text).replace(['/', '.'], "-");
        let date = NaiveDate::parse_from_str(&normal, "%Y-%m-%d").map_err(|_| format!("`{text}` is not a date (YYYY-MM-DD)"))?;
        Ok(json!(date.format("%Y-%m-%d").to_string()))
    }
    fn date_like(&self) -> bool {
        true
    }
    fn widget(&self) -> Option<&'static str> {
        Some("DateWidget")
    }
}

pub(super) struct Datetime;
impl FieldType for Datetime {
    fn kind(&self) -> FieldKind {
        FieldKind::DATETIME
    }
    fn palette(&self) -> PaletteInfo {
        PaletteInfo::named(PaletteGroup::Time, "Date & time", "日期时间")
    }
    fn schema(&self, _field: &Field) -> Value {
        json!({"type": "string", "format": "date-time"})
    }
    /// RFC 3339, or `2026-03-04 05:06:07` read as UTC; stored in UTC to the second.
    fn parse_text(&self, _field: &Field, text: &str) -> Result<Value, String> {
        let parsed = DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").map(|t| t.and_utc()))
            .map_err(|_| format!("`{text}` is not a date and time"))?;
        Ok(json!(parsed.to_rfc3339_opts(SecondsFormat::Secs, true)))
    }
    fn date_like(&self) -> bool {
        true
    }
    fn widget(&self) -> Option<&'static str> {
        Some("DatetimeWidget")
    }
}
