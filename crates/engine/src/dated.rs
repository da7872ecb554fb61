//! Figures that depend on the date: rollups whose filter is relative to today, and fields that
//! save-time rules or formulas compute with `today()` or `now()` (a contract's overdue amount).
//! Nothing saves a record when only the date changes, so the job worker computes them again
//! every day at midnight (UTC, the day relative dates are computed in), a page of records a
//! transaction, and writes only the records whose figures changed.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use store::{Conn, Cursor, FormTable, ListQuery};
use uuid::Uuid;

use crate::apps::{FormRuntime, LoadedApp};
use crate::command::Cmd;
use crate::jobs::JobKind;
use crate::{Actor, Engine, EngineError, rollups, time};

/// The history op of a version written because a figure computed with the date changed.
pub(crate) const RECOMPUTE: &str = "recompute";

/// Records the daily job handles in one transaction, so the write turn goes back to other
/// writers between pages; rollups bind this many ids in one aggregate, well under the report
/// filter's `MAX_FILTER_VALUES` (1,000).
pub(crate) const RECORDS_PER_PAGE: usize = 200;

/// Forms of `app` whose save-time computations read the date: `before_save` and `score` hooks
/// of scripts calling `today()` or `now()`, and formulas doing so.
fn dated_forms(app: &LoadedApp) -> Vec<&str> {
    let computes = [defs::HookKind::BeforeSave, defs::HookKind::Score];
    app.forms
        .iter()
        .filter(|(_, rt)| {
            let hooks = rt.compiled.def.hooks.iter().filter(|h| computes.contains(&h.on));
            let scripts = hooks.filter_map(|h| h.rule.split_once('.').map(|(script, _)| script));
            rt.expressions.formulas.iter().any(|(_, e)| e.reads_clock()) || scripts.into_iter().any(|s| app.rules.reads_clock(s))
        })
        .map(|(id, _)| id.as_str())
        .collect()
}

/// The job computing `app`'s dated figures at the next midnight after `now`, if it has any.
pub(crate) fn daily_job(app: &LoadedApp, now: DateTime<Utc>) -> Option<store::Job> {
    (rollups::any_dated(app) || !dated_forms(app).is_empty()).then(|| store::Job {
        id: Uuid::now_v7().to_string(),
        key: format!("{}:{}", JobKind::DatedFigures.name(), app.id()),
        app: app.id().to_owned(),
        kind: JobKind::DatedFigures.name().into(),
        due_at: time::format(next_midnight(now)),
        payload: json!({}),
        attempts: 0,
    })
}

/// The first midnight (UTC) after `now`.
pub(crate) fn next_midnight(now: DateTime<Utc>) -> DateTime<Utc> {
    (now.date_naive() + chrono::Days::new(1)).and_time(chrono::NaiveTime::MIN).and_utc()
}

/// The ids of a form's records, a page at a time, each page read in the transaction that
/// handles it.
pub(crate) struct Pages<'a> {
    table: &'a FormTable,
    after: Option<Cursor>,
    done: bool,
}

impl<'a> Pages<'a> {
    pub(crate) fn of(table: &'a FormTable) -> Pages<'a> {
        Pages { table, after: None, done: false }
    }

    pub(crate) fn done(&self) -> bool {
        self.done
    }

    pub(crate) async fn next(&mut self, tx: &impl Conn) -> Result<Vec<String>, EngineError> {
        let query = ListQuery { after: self.after.take(), limit: RECORDS_PER_PAGE as u64, ..Default::default() };
        let ids: Vec<String> = store::list(tx, self.table, &query).await?.into_iter().map(|r| r.id).collect();
        match ids.last() {
            Some(last) if ids.len() == RECORDS_PER_PAGE => self.after = Some(Cursor { values: Vec::new(), id: last.clone() }),
            _ => self.done = true,
        }
        Ok(ids)
    }
}

impl Engine {
    /// The daily job: `app`'s time-dependent rollups, then the records of its dated forms.
    pub(crate) async fn run_dated_job(&self, app: &str, now: DateTime<Utc>) -> Result<(), EngineError> {
        self.refresh_dated_rollups(app, now).await?;
        let loaded = self.app_arc(app)?;
        let system = Actor::system();
        for form in dated_forms(loaded) {
            let rt = loaded.form(form)?;
            let mut pages = Pages::of(&rt.table);
            while !pages.done() {
                let (turn, tx) = self.store.begin().await?;
                for id in pages.next(&tx).await? {
                    self.recompute(Cmd::new(&tx, &system, loaded), rt, &id).await?;
                }
                turn.commit(tx).await?;
            }
        }
        Ok(())
    }

    /// Saves record `id` of `rt` as it is, as the platform (`cmd`'s actor), so its rules compute
    /// again with today's date; written only when a figure changed. A record its rules now refuse
    /// (the definition changed since it was saved) is left as it is and named in the log, not
    /// allowed to stop the others.
    async fn recompute(&self, cmd: Cmd<'_, impl Conn>, rt: &FormRuntime, id: &str) -> Result<(), EngineError> {
        match Box::pin(self.update_in(cmd.first_effect(), rt, id, None, Value::Object(Default::default()), RECOMPUTE)).await {
            Err(e @ (EngineError::Invalid(_) | EngineError::Rule(_))) => {
                let (app, form) = (cmd.app.id(), rt.id());
                tracing::warn!(app, form, id, error = %e, "a dated figure could not be computed again");
                Ok(())
            }
            other => other.map(drop),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daily_job_is_due_at_the_next_midnight() {
        let now: DateTime<Utc> = "2026-03-31T23:59:00Z".parse().unwrap();
        assert_eq!(time::format(next_midnight(now)), "2026-04-01T00:00:00.000000Z");
    }
}
