//! The audit trail of the engine: every write in its own transaction, every refused attempt
//! afterwards in a transaction of its own (the refused command's was rolled back).

use std::time::Instant;

use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use store::{AuditEntry, AuditQuery, Conn};
use tracing::Instrument as _;
use tracing::field::Empty;

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
    /// Rows at or after this time, and before this one (RFC 3339).
    pub from: Option<String>,
    pub to: Option<String>,
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
    /// Records a write inside the command's transaction: what changed from `before` (none for a
    /// create) to `after`, whose whole text `after_snapshot` the row vouches for by its hash
    /// ([`record_change`]).
    pub(crate) async fn audit_write(
        &self,
        cmd: Cmd<'_, impl Conn>,
        op: &str,
        before: Option<&Envelope>,
        after: &Envelope,
        after_snapshot: &str,
    ) -> Result<(), EngineError> {
        let (before, after_change) = record_change(before, after, after_snapshot)?;
        let entry = AuditEntry {
            at: time::now(),
            actor: cmd.actor.username.clone(),
            action: op.to_owned(),
            app: cmd.app.id().to_owned(),
            form: after.form.clone(),
            record_id: after.id.clone(),
            outcome: "ok".into(),
            before,
            after: after_change,
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
        let result = async {
            // A token limited to other apps: refused before anything is read.
            let reached = if actor.may_use(subject.app) {
                self.noting_writes(actor, Box::pin(work)).await
            } else {
                Err(EngineError::Forbidden(format!("this token is limited to other apps than `{}`", subject.app)))
            };
            self.audited(actor, subject, reached).await
        }
        .instrument(span.clone())
        .await;
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
        crate::access::require_admin(actor, "read the audit log")?;
        let limit = params.limit.unwrap_or(100).clamp(1, 1000);
        let instant = |pointer: &str, text: &Option<String>| -> Result<Option<String>, EngineError> {
            let Some(text) = text else { return Ok(None) };
            let at = chrono::DateTime::parse_from_rfc3339(text)
                .map_err(|_| EngineError::malformed_at(pointer, "a time such as `2026-12-01T00:00:00Z`"))?;
            // Written as every row's `at` is, so the text compares as the time does.
            Ok(Some(time::format(at.with_timezone(&chrono::Utc))))
        };
        let query = AuditQuery {
            from: instant("/from", &params.from)?,
            to: instant("/to", &params.to)?,
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

    /// The chain's verification for an admin: `{ok, rows, message?}`.
    pub async fn verify_audit_for(&self, actor: &Actor) -> Result<Value, EngineError> {
        crate::access::require_admin(actor, "verify the audit log")?;
        Ok(match self.verify_audit().await? {
            Ok(rows) => json!({"ok": true, "rows": rows}),
            Err(message) => json!({"ok": false, "rows": null, "message": message}),
        })
    }

    /// Walks the hash chain: the number of rows, or the first row that does not hold.
    pub async fn verify_audit(&self) -> Result<Result<u64, String>, EngineError> {
        Ok(store::verify_audit(self.store.db()).await?)
    }
}

/// Envelope members that change with every version and that the audit row says itself: its
/// `actor` is who wrote the version, its `at` when.
const SAID_BY_THE_ROW: [&str; 2] = ["updated_by", "updated_at"];

/// The audit row's `before` and `after` texts of a record write: only what differs between the
/// two versions — changed fields under `data` (a field that had no value is absent from
/// `before`, one cleared is `null` in `after`), changed system members, the versions — and in
/// `after` the SHA-256 of the new version's whole snapshot, which the history keeps, so the
/// hash chain vouches for the content without a copy of it. A create's `after` is its version
/// and that hash: the values are the record's first version.
pub(crate) fn record_change(before: Option<&Envelope>, after: &Envelope, after_snapshot: &str) -> Result<(String, String), EngineError> {
    let sha256 = format!("{:x}", Sha256::digest(after_snapshot.as_bytes()));
    let Some(before) = before else {
        return Ok((String::new(), json!({"version": after.version, "sha256": sha256}).to_string()));
    };
    let (mut old, mut new) = (object(before)?, object(after)?);
    let (old_data, new_data) = (take_data(&mut old), take_data(&mut new));
    let (mut was, mut is) = changed_members(&old, &new);
    let (data_was, data_is) = changed_members(&old_data, &new_data);
    for (side, data) in [(&mut was, data_was), (&mut is, data_is)] {
        if !data.is_empty() {
            side.insert("data".into(), Value::Object(data));
        }
    }
    was.insert("version".into(), before.version.into());
    is.insert("version".into(), after.version.into());
    is.insert("sha256".into(), sha256.into());
    Ok((Value::Object(was).to_string(), Value::Object(is).to_string()))
}

fn object(envelope: &Envelope) -> Result<Map<String, Value>, EngineError> {
    match serde_json::to_value(envelope) {
        Ok(Value::Object(members)) => Ok(members),
        other => Err(EngineError::Internal(format!("a record envelope serialised as {other:?}"))),
    }
}

fn take_data(members: &mut Map<String, Value>) -> Map<String, Value> {
    match members.remove("data") {
        Some(Value::Object(data)) => data,
        _ => Map::new(),
    }
}

/// The members of `old` and `new` that differ (but those [`SAID_BY_THE_ROW`] and the version):
/// their old values (absent when there was none) and their new ones (`null` when gone).
fn changed_members(old: &Map<String, Value>, new: &Map<String, Value>) -> (Map<String, Value>, Map<String, Value>) {
    let (mut was, mut is) = (Map::new(), Map::new());
    let keys = old.keys().chain(new.keys().filter(|k| !old.contains_key(*k)));
    for key in keys.filter(|k| !SAID_BY_THE_ROW.contains(&k.as_str()) && *k != "version") {
        let (before, after) = (old.get(key), new.get(key));
        if before == after {
            continue;
        }
        if let Some(value) = before {
            was.insert(key.clone(), value.clone());
        }
        is.insert(key.clone(), after.cloned().unwrap_or(Value::Null));
    }
    (was, is)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(version: i64, owner: &str, data: Value) -> Envelope {
        let Value::Object(data) = data else { panic!("data is an object") };
        let at = format!("2026-11-23T10:00:0{version}Z");
        Envelope {
            id: "r1".into(),
            form: "lead".into(),
            version,
            state: None,
            owner: owner.into(),
            created_by: "u1".into(),
            created_at: "2026-11-23T10:00:01Z".into(),
            updated_by: format!("u{version}"),
            updated_at: at,
            deleted_at: None,
            form_version: Some(1),
            data,
            flow: None,
        }
    }

    fn parsed((before, after): (String, String)) -> (Value, Value) {
        let parse = |t: &str| if t.is_empty() { Value::Null } else { serde_json::from_str(t).unwrap() };
        (parse(&before), parse(&after))
    }

    #[test]
    fn a_create_is_its_version_and_the_hash_of_its_snapshot() {
        let after = envelope(1, "u1", json!({"name": "Acme"}));
        let change = parsed(record_change(None, &after, "snapshot").unwrap());
        let sha256 = "16a0eeb0791b6c92451fd284dd9f599e0a7dbe7f6ebea6e2d2d06c7f74aec112";
        assert_eq!(change, (Value::Null, json!({"version": 1, "sha256": sha256})));
    }

    #[test]
    fn an_update_holds_only_what_changed() {
        let before = envelope(1, "u1", json!({"name": "Acme", "phone": "1", "notes": "old", "score": 5}));
        let after = envelope(2, "u2", json!({"name": "Acme", "phone": "2", "score": 5, "title": "CTO"}));
        let (was, is) = parsed(record_change(Some(&before), &after, "snapshot").unwrap());
        assert_eq!(was, json!({"owner": "u1", "data": {"phone": "1", "notes": "old"}, "version": 1}));
        assert_eq!(
            is,
            json!({"owner": "u2", "data": {"phone": "2", "notes": null, "title": "CTO"}, "version": 2,
                   "sha256": format!("{:x}", Sha256::digest(b"snapshot"))})
        );
    }

    #[test]
    fn an_update_changing_no_field_names_no_data() {
        let before = envelope(1, "u1", json!({"name": "Acme"}));
        let after = Envelope { deleted_at: Some("2026-11-23T10:00:09Z".into()), ..envelope(2, "u1", json!({"name": "Acme"})) };
        let (was, is) = parsed(record_change(Some(&before), &after, "").unwrap());
        assert_eq!(was, json!({"version": 1}));
        assert_eq!(is["deleted_at"], "2026-11-23T10:00:09Z");
        assert!(is.get("data").is_none() && is.get("updated_at").is_none());
    }
}
