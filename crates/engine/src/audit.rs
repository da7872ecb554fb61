//! The audit trail of the engine: every write in its own transaction, every refused attempt
//! afterwards in a transaction of its own (the refused command's was rolled back).

use std::time::Instant;

use serde::Deserialize;
use serde_json::{Value, json};
use store::{AuditEntry, AuditQuery, Conn};
use tracing::Instrument as _;
use tracing::field::Empty;

use crate::access::ADMIN;
use crate::command::Cmd;
use crate::{Actor, Engine, EngineError, Envelope, time};

/// Filters of the audit API.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuditParams {
    pub app: Option<String>,
    pub form: Option<String>,
    pub record: Option<String>,
    pub actor: Option<String>,
    /// `ok` or `denied`.
    pub outcome: Option<String>,
    /// Rows older than this sequence number (the `next` of the previous page).
    pub before: Option<i64>,
    pub limit: Option<u64>,
}

/// What a command was about, for its audit row.
pub(crate) struct Subject<'a> {
    pub(crate) action: &'a str,
    pub(crate) app: &'a str,
    pub(crate) form: &'a str,
    pub(crate) id: &'a str,
}

impl Engine {
    /// Records a write inside the command's transaction; `after_text` is `after` as JSON.
    pub(crate) async fn audit_write(
        &self,
        cmd: Cmd<'_, impl Conn>,
        op: &str,
        before: Option<&Envelope>,
        after: &Envelope,
        after_text: String,
    ) -> Result<(), EngineError> {
        let before = before.map(|e| serde_json::to_string(e).unwrap_or_default()).unwrap_or_default();
        let entry = AuditEntry {
            at: time::now(),
            actor: cmd.actor.username.clone(),
            action: op.to_owned(),
            app: cmd.app.id().to_owned(),
            form: after.form.clone(),
            record_id: after.id.clone(),
            outcome: "ok".into(),
            before,
            after: after_text,
        };
        Ok(crate::gather::audit(cmd.tx, entry).await?)
    }

    /// Runs one command of `actor` in a span of its own — the user, the action, its app, form
    /// and record, then its duration and outcome (`ok` or the error's code) — and passes its
    /// result through [`Engine::audited`]. Events logged while it runs carry the span.
    pub(crate) async fn command<T>(
        &self,
        actor: &Actor,
        subject: Subject<'_>,
        work: impl Future<Output = Result<T, EngineError>>,
    ) -> Result<T, EngineError> {
        let span = tracing::info_span!(
            "command",
            action = subject.action,
            user = %actor.username,
            app = subject.app,
            form = subject.form,
            record = subject.id,
            duration_ms = Empty,
            outcome = Empty,
        );
        let started = Instant::now();
        let result = async { self.audited(actor, subject, work.await).await }.instrument(span.clone()).await;
        span.record("duration_ms", started.elapsed().as_secs_f64() * 1000.0);
        match &result {
            Ok(_) => span.record("outcome", "ok"),
            Err(e) => span.record("outcome", tracing::field::display(e.code())),
        };
        result
    }

    /// Passes `result` through; when it is a refusal, records the attempt first.
    /// Errors leave through here, so this is also where they are told as the actor may see them.
    pub(crate) async fn audited<T>(&self, actor: &Actor, subject: Subject<'_>, result: Result<T, EngineError>) -> Result<T, EngineError> {
        let result = match result {
            Err(e @ EngineError::Duplicate { .. }) => Err(self.disclose(actor, subject.app, subject.form, e).await),
            other => other,
        };
        if let Err(e @ (EngineError::Forbidden(_) | EngineError::ForbiddenFields(_) | EngineError::OutOfScope(_))) = &result {
            let entry = AuditEntry {
                at: time::now(),
                actor: actor.username.clone(),
                action: subject.action.to_owned(),
                app: subject.app.to_owned(),
                form: subject.form.to_owned(),
                record_id: subject.id.to_owned(),
                outcome: "denied".into(),
                before: String::new(),
                after: json!({"error": e.code(), "message": e.to_string()}).to_string(),
            };
            let written = async {
                let (turn, tx) = self.store.begin().await?;
                store::append_audit(&tx, &entry).await?;
                turn.commit(tx).await
            };
            if let Err(e) = written.await {
                tracing::error!(error = %e, "could not record a refused attempt in the audit log");
            }
        }
        result
    }

    /// Audit rows, newest first; admins only.
    pub async fn audit_log(&self, actor: &Actor, params: &AuditParams) -> Result<Value, EngineError> {
        if !actor.roles.iter().any(|r| r == ADMIN) {
            return Err(EngineError::Forbidden("only admins may read the audit log".into()));
        }
        let limit = params.limit.unwrap_or(100).clamp(1, 1000);
        let query = AuditQuery {
            app: params.app.clone(),
            form: params.form.clone(),
            record_id: params.record.clone(),
            actor: params.actor.clone(),
            outcome: params.outcome.clone(),
            before_seq: params.before,
            limit,
            ..Default::default()
        };
        let rows = store::audit_rows(self.store.db(), &query).await?;
        let parse = |t: &str| if t.is_empty() { Value::Null } else { serde_json::from_str(t).unwrap_or(Value::Null) };
        let next = (rows.len() as u64 == limit).then(|| rows.last().map(|r| r.seq)).flatten();
        let items: Vec<Value> = rows
            .iter()
            .map(|r| {
                let e = &r.entry;
                json!({"seq": r.seq, "at": e.at, "actor": e.actor, "action": e.action, "app": e.app, "form": e.form,
                       "record": e.record_id, "outcome": e.outcome, "before": parse(&e.before), "after": parse(&e.after), "hash": r.hash})
            })
            .collect();
        Ok(json!({"items": items, "next": next}))
    }

    /// Walks the hash chain: the number of rows, or the first row that does not hold.
    pub async fn verify_audit(&self) -> Result<Result<u64, String>, EngineError> {
        Ok(store::verify_audit(self.store.db()).await?)
    }
}
