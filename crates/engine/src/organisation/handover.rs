//! Hand-over: everything a user owns — their records of the chosen forms, their open approval
//! tasks, and with the records the timers pending on them, which act for the record's owner —
//! given to a successor in one admin command, previewed first as counts per form.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::json;
use store::{CmpOp, Deleted, Filter, ListQuery, Scalar, SystemColumn, Target};

use super::{audit_entry, require_admin};
use crate::command::Cmd;
use crate::{ActRequest, Actor, Engine, EngineError};

/// What a user owns or has to do.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Work {
    /// Live records they own, per form (forms with none left out).
    pub forms: Vec<FormWork>,
    /// Approval tasks waiting for them.
    pub tasks: u64,
    /// Flow timers pending on their records.
    pub timers: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FormWork {
    pub app: String,
    pub form: String,
    pub records: u64,
}

impl Work {
    /// Nothing owned and nothing to decide (timers go with their records, so none are left).
    pub fn is_empty(&self) -> bool {
        self.forms.is_empty() && self.tasks == 0
    }
}

/// What to hand over, and to whom.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoverRequest {
    /// The successor's username.
    pub to: String,
    /// `app/form` of the forms whose records move; all of them when absent.
    #[serde(default)]
    pub forms: Option<Vec<String>>,
    /// Whether open approval tasks move too (default: yes).
    #[serde(default = "yes")]
    pub tasks: bool,
}

fn yes() -> bool {
    true
}

/// Records a hand-over reads at a time.
const PAGE: u64 = 500;
/// Record ids a timer count binds at once: well under what a statement may bind.
const TIMER_BATCH: usize = 500;
/// No bound: the largest a database's LIMIT takes.
const EVERY: u64 = i64::MAX as u64;

fn owned_by(username: &str) -> Filter {
    Filter::Cmp(Target::System(SystemColumn::Owner), CmpOp::Eq, Scalar::Text(username.to_owned()))
}

impl Engine {
    /// What `username` owns and has open: the preview of a hand-over (admins).
    pub async fn handover_preview(&self, actor: &Actor, username: &str) -> Result<Work, EngineError> {
        require_admin(actor, "hand over users' work")?;
        if !store::user_exists(self.store.db(), username).await? {
            return Err(EngineError::NotFound(format!("user `{username}`")));
        }
        self.open_work(username, None).await
    }

    /// The live records `username` owns in `forms` (`app/form`; every form when `None`), their
    /// pending tasks and the timers pending on those records.
    pub(crate) async fn open_work(&self, username: &str, forms: Option<&[String]>) -> Result<Work, EngineError> {
        let db = self.store.db();
        let mut work = Work::default();
        for app in self.apps() {
            let timers: Vec<String> = store::pending_jobs(db, app.id())
                .await?
                .into_iter()
                .filter_map(|(key, _)| key.strip_prefix("timer:").and_then(|k| k.split(':').next()).map(str::to_owned))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            for (form, rt) in &app.forms {
                if forms.is_some_and(|f| !f.contains(&format!("{}/{form}", app.id()))) {
                    continue;
                }
                let query =
                    ListQuery { filter: Some(owned_by(username)), sort: Vec::new(), after: None, limit: EVERY, deleted: Deleted::Exclude };
                let records = store::count(db, &rt.table, &query, EVERY).await?;
                if records == 0 {
                    continue;
                }
                // Records with a pending timer that the user owns, counted a bound batch at a time.
                for batch in timers.chunks(TIMER_BATCH) {
                    let ids = Filter::In {
                        target: Target::System(SystemColumn::Id),
                        values: batch.iter().cloned().map(Scalar::Text).collect(),
                        negate: false,
                    };
                    let query = ListQuery { filter: Some(Filter::All(vec![owned_by(username), ids])), ..query.clone() };
                    work.timers += store::count(db, &rt.table, &query, EVERY).await?;
                }
                work.forms.push(FormWork { app: app.id().to_owned(), form: form.clone(), records });
            }
        }
        work.tasks = store::tasks_of(db, username, "pending", EVERY).await?.len() as u64;
        Ok(work)
    }

    /// Gives `from`'s records of the chosen forms to `request.to` — each a new version with
    /// history and audit — and their open tasks, each by the flow's own `transfer` (so the
    /// record's flow log shows it), and records the whole in the audit log, all in one
    /// transaction. Answers what moved.
    pub async fn hand_over(&self, actor: &Actor, from: &str, request: HandoverRequest) -> Result<Work, EngineError> {
        require_admin(actor, "hand over users' work")?;
        let to = request.to.as_str();
        if to == from {
            return Err(EngineError::malformed_at("/to", "the successor must be someone else"));
        }
        match store::get_user(self.store.db(), to).await? {
            Some(user) if user.active && user.kind == crate::auth::PERSON => {}
            _ => return Err(EngineError::malformed_at("/to", format!("no active person `{to}`"))),
        }
        if !store::user_exists(self.store.db(), from).await? {
            return Err(EngineError::NotFound(format!("user `{from}`")));
        }
        if let Some(forms) = &request.forms {
            for (i, path) in forms.iter().enumerate() {
                let known = path.split_once('/').is_some_and(|(app, form)| self.app(app).is_ok_and(|a| a.forms.contains_key(form)));
                if !known {
                    return Err(EngineError::malformed_at(format!("/forms/{i}"), format!("no form `{path}` (write `app/form`)")));
                }
            }
        }
        let planned = self.open_work(from, request.forms.as_deref()).await?;
        let mut moved = Work { timers: planned.timers, ..Work::default() };
        let giver = self.actor_named(from).await?;

        // One transaction: the records, the tasks and the summary land together or not at all.
        let (turn, tx) = self.store.begin().await?;
        for part in &planned.forms {
            let loaded = self.app(&part.app)?;
            let rt = loaded.form(&part.form)?;
            let cmd = Cmd::new(&tx, actor, &loaded).first_effect();
            let query = ListQuery { filter: Some(owned_by(from)), sort: Vec::new(), after: None, limit: PAGE, deleted: Deleted::Exclude };
            let mut records = 0;
            // Each page is gone from the query once moved: ask again until none is left.
            loop {
                let page = store::list(&tx, &rt.table, &query).await?;
                if page.is_empty() {
                    break;
                }
                for record in &page {
                    self.reassign(cmd, rt, record, to, "handover").await?;
                }
                records += page.len() as u64;
            }
            moved.forms.push(FormWork { records, ..part.clone() });
        }
        if request.tasks {
            let comment = format!("handed over to {to} by {}", actor.username);
            for task in store::tasks_of(&tx, from, "pending", EVERY).await? {
                let loaded = self.app(&task.app)?;
                let rt = loaded.form(&task.form)?;
                let act = ActRequest { comment: Some(comment.clone()), to: Some(to.to_owned()), expected_version: None };
                // As the giver, by the flow's own `transfer`, so the record's flow log shows it.
                match Box::pin(self.act_in(Cmd::new(&tx, &giver, &loaded), rt, &task.record_id, "transfer", act)).await {
                    Ok(_) => moved.tasks += 1,
                    // No longer theirs to pass on (the step was decided): nothing to move.
                    Err(EngineError::Conflict(_) | EngineError::Forbidden(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let summary = json!({"to": to, "moved": moved});
        store::append_audit(&tx, &audit_entry(actor, "user.handover", "user", from, summary)).await?;
        turn.commit(tx).await?;
        Ok(moved)
    }
}
