//! Timestamps as stored: UTC, ISO 8601 with microseconds, so text order is time order.

use chrono::{DateTime, SecondsFormat, Utc};

pub(crate) fn format(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn now() -> String {
    format(Utc::now())
}
