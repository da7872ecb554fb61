//! Timestamps as stored: UTC, ISO 8601 with microseconds, so text order is time order.

use std::future::Future;

use chrono::{DateTime, SecondsFormat, Utc};

tokio::task_local! {
    /// The time of the job the worker runs: what rules read as `today()` and `now()` meanwhile.
    static JOB_TIME: DateTime<Utc>;
}

pub(crate) fn format(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn now() -> String {
    format(Utc::now())
}

/// What a record's change is stamped with (its `created_at`, `updated_at`, `deleted_at` and
/// history time): the time of the work running ([`current`]), so a scenario's records are as
/// old as its clock says and a pool's "untouched for 30 days" counts on that clock too.
pub(crate) fn stamp() -> String {
    format(current())
}

/// The first midnight (UTC) after `now`.
pub(crate) fn next_midnight(now: DateTime<Utc>) -> DateTime<Utc> {
    (now.date_naive() + chrono::Days::new(1)).and_time(chrono::NaiveTime::MIN).and_utc()
}

/// Runs `work` as at `now`: rules it runs read that time. The job worker runs each job so, with
/// the time it was given — a test's moved clock reaches the rules too.
pub(crate) async fn as_at<F: Future>(now: DateTime<Utc>, work: F) -> F::Output {
    JOB_TIME.scope(now, work).await
}

/// The time of the work running: the job's (or a scenario step's), else the wall clock. Timers
/// fall due counted from it, so a timer a job or a scenario's step sets runs on their clock.
pub(crate) fn current() -> DateTime<Utc> {
    rules_time().unwrap_or_else(Utc::now)
}

/// The time rules read: the running job's, or `None` for the wall clock.
pub(crate) fn rules_time() -> Option<DateTime<Utc>> {
    JOB_TIME.try_with(|t| *t).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_midnight_is_the_next_day_at_zero() {
        let now: DateTime<Utc> = "2026-03-31T23:59:00Z".parse().unwrap();
        assert_eq!(format(next_midnight(now)), "2026-04-01T00:00:00.000000Z");
    }
}
