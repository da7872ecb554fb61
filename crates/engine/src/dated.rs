//! Figures that depend on the date: rollups whose filter is relative to today, and fields that
//! save-time rules or formulas compute with `today()` or `now()` (a contract's overdue amount).
//! Nothing saves a record when only the date changes, so the job worker computes them again
//! every day at midnight (UTC, the day relative dates are computed in), a page of records a
//! transaction, and writes only the records whose figures changed.

use chrono::{DateTime, Utc};
use serde_json::Value;
use store::Conn;

use crate::apps::{FormRuntime, LoadedApp};
use crate::command::Cmd;
use crate::pages::Pages;
use crate::{Actor, Engine, EngineError, rollups};

/// The history op of a version written because a figure computed with the date changed.
pub(crate) const RECOMPUTE: &str = "recompute";

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

/// Whether `app` has figures the daily job computes again.
pub(crate) fn has_dated_figures(app: &LoadedApp) -> bool {
    rollups::any_dated(app) || !dated_forms(app).is_empty()
}

impl Engine {
    /// The daily job: `app`'s time-dependent rollups, then the records of its dated forms.
    pub(crate) async fn run_dated_job(&self, app: &str, now: DateTime<Utc>) -> Result<(), EngineError> {
        self.refresh_dated_rollups(app, now).await?;
        let loaded = &self.app(app)?;
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
