//! The audit log: every write and every refused attempt, hash-chained. Each row's hash covers
//! its content and the previous row's hash, so editing or deleting a row breaks the chain at
//! that row. Rows are appended under a lock, so the chain has one order even with several
//! servers on one PostgreSQL.
//!
//! The previous hash is the previous row's `hash`: the `prev_hash` column, which rows of
//! earlier releases filled with a copy of it (64 bytes a row), is left empty. Verification
//! never needed the copy: a row whose hash holds was hashed over the right previous hash.

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, Order, Query};
use sha2::{Digest, Sha256};

use crate::names::audit_log;
use crate::query::limited;
use crate::{StoreError, lock_key};

/// One audit row as written.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuditEntry {
    pub at: String,
    pub actor: String,
    /// `create`, `update`, `delete`, `restore`, `read`, `list`, `login` …
    pub action: String,
    pub app: String,
    pub form: String,
    pub record_id: String,
    /// `ok`, or `denied` for a refused attempt.
    pub outcome: String,
    /// JSON text of the record before and after (empty when not applicable).
    pub before: String,
    pub after: String,
}

/// A stored row: the entry plus its place in the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    pub seq: i64,
    pub entry: AuditEntry,
    pub hash: String,
}

/// The columns written, in order; read are all but `prev_hash`.
const COLUMNS: [&str; 12] = [
    audit_log::SEQ,
    audit_log::AT,
    audit_log::ACTOR,
    audit_log::ACTION,
    audit_log::APP,
    audit_log::FORM,
    audit_log::RECORD_ID,
    audit_log::OUTCOME,
    audit_log::BEFORE,
    audit_log::AFTER,
    audit_log::PREV_HASH,
    audit_log::HASH,
];

/// The hash of a row: SHA-256 over the previous hash and every field, unit-separated.
pub fn audit_hash(seq: i64, e: &AuditEntry, prev_hash: &str) -> String {
    // The parts joined by U+001F, hashed as they come rather than copied into one text first.
    let parts = [prev_hash, &seq.to_string(), &e.at, &e.actor, &e.action, &e.app, &e.form, &e.record_id, &e.outcome, &e.before, &e.after];
    let mut hasher = Sha256::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hasher.update("\u{1f}".as_bytes());
        }
        hasher.update(part.as_bytes());
    }
    format!("{:x}", hasher.finalize())
}

/// Appends `entry` to the chain inside the caller's transaction.
pub async fn append_audit(db: &impl ConnectionTrait, entry: &AuditEntry) -> Result<(), StoreError> {
    append_audit_rows(db, std::slice::from_ref(entry)).await
}

/// Appends `entries`, in order, to the chain inside the caller's transaction: the head is read
/// once and the rows are inserted with one statement.
pub async fn append_audit_rows(db: &impl ConnectionTrait, entries: &[AuditEntry]) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    lock_key(db, "audit-chain").await?;
    let last =
        Query::select().columns([audit_log::SEQ, audit_log::HASH]).from(audit_log::TABLE).order_by(audit_log::SEQ, Order::Desc).to_owned();
    let (mut seq, mut prev_hash) = match db.query_one_raw(limited(db, &last, 1)).await? {
        Some(row) => (row.try_get::<i64>("", audit_log::SEQ)?, row.try_get::<String>("", audit_log::HASH)?),
        None => (0, String::new()),
    };
    let mut q = Query::insert();
    q.into_table(audit_log::TABLE).columns(COLUMNS);
    for e in entries {
        seq += 1;
        let hash = audit_hash(seq, e, &prev_hash);
        q.values_panic([
            Expr::val(seq),
            Expr::val(e.at.clone()),
            Expr::val(e.actor.clone()),
            Expr::val(e.action.clone()),
            Expr::val(e.app.clone()),
            Expr::val(e.form.clone()),
            Expr::val(e.record_id.clone()),
            Expr::val(e.outcome.clone()),
            Expr::val(e.before.clone()),
            Expr::val(e.after.clone()),
            Expr::val(""),
            Expr::val(hash.clone()),
        ]);
        prev_hash = hash;
    }
    db.execute(&q).await?;
    Ok(())
}

/// Filters for reading the log.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub app: Option<String>,
    pub form: Option<String>,
    pub record_id: Option<String>,
    pub actor: Option<String>,
    pub outcome: Option<String>,
    /// Rows with a sequence number below this (paging backwards from the newest).
    pub before_seq: Option<i64>,
    pub after_seq: Option<i64>,
    /// Rows at or after this time, and before this one (RFC 3339, as `at` is written).
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: u64,
    /// Oldest first (for verification) instead of newest first.
    pub ascending: bool,
}

pub async fn audit_rows(db: &impl ConnectionTrait, q: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
    let mut s = Query::select();
    s.columns(COLUMNS.into_iter().filter(|c| *c != audit_log::PREV_HASH)).from(audit_log::TABLE);
    for (column, value) in [
        (audit_log::APP, &q.app),
        (audit_log::FORM, &q.form),
        (audit_log::RECORD_ID, &q.record_id),
        (audit_log::ACTOR, &q.actor),
        (audit_log::OUTCOME, &q.outcome),
    ] {
        if let Some(v) = value {
            s.and_where(Expr::col(column).eq(v.clone()));
        }
    }
    if let Some(seq) = q.before_seq {
        s.and_where(Expr::col(audit_log::SEQ).lt(seq));
    }
    if let Some(seq) = q.after_seq {
        s.and_where(Expr::col(audit_log::SEQ).gt(seq));
    }
    if let Some(from) = &q.from {
        s.and_where(Expr::col(audit_log::AT).gte(from.clone()));
    }
    if let Some(to) = &q.to {
        s.and_where(Expr::col(audit_log::AT).lt(to.clone()));
    }
    s.order_by(audit_log::SEQ, if q.ascending { Order::Asc } else { Order::Desc });
    db.query_all_raw(limited(db, &s, q.limit))
        .await?
        .iter()
        .map(|row| {
            Ok(AuditRow {
                seq: row.try_get("", audit_log::SEQ)?,
                entry: AuditEntry {
                    at: row.try_get("", audit_log::AT)?,
                    actor: row.try_get("", audit_log::ACTOR)?,
                    action: row.try_get("", audit_log::ACTION)?,
                    app: row.try_get("", audit_log::APP)?,
                    form: row.try_get("", audit_log::FORM)?,
                    record_id: row.try_get("", audit_log::RECORD_ID)?,
                    outcome: row.try_get("", audit_log::OUTCOME)?,
                    before: row.try_get("", audit_log::BEFORE)?,
                    after: row.try_get("", audit_log::AFTER)?,
                },
                hash: row.try_get("", audit_log::HASH)?,
            })
        })
        .collect()
}

/// Walks the whole chain. Returns the number of rows, or the first row that does not hold.
pub async fn verify_audit(db: &impl ConnectionTrait) -> Result<Result<u64, String>, StoreError> {
    let mut expected_seq = 1;
    let mut prev_hash = String::new();
    let mut checked = 0;
    loop {
        let page = AuditQuery { after_seq: Some(expected_seq - 1), limit: 1000, ascending: true, ..Default::default() };
        let rows = audit_rows(db, &page).await?;
        if rows.is_empty() {
            return Ok(Ok(checked));
        }
        for row in rows {
            if row.seq != expected_seq {
                return Ok(Err(format!("audit row {expected_seq} is missing (the next row is {})", row.seq)));
            }
            if audit_hash(row.seq, &row.entry, &prev_hash) != row.hash {
                return Ok(Err(format!("audit row {}: its content does not match its hash (edited, or the row before it was)", row.seq)));
            }
            prev_hash = row.hash;
            expected_seq += 1;
            checked += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_the_sha256_of_the_parts_joined_by_unit_separators() {
        // Rows written by earlier versions must still verify: the hash may not change.
        let e = AuditEntry {
            at: "2026-11-23T10:00:00Z".into(),
            actor: "admin".into(),
            action: "create".into(),
            app: "crm".into(),
            form: "lead".into(),
            record_id: "r1".into(),
            outcome: "ok".into(),
            before: String::new(),
            after: r#"{"id":"r1"}"#.into(),
        };
        let joined =
            ["prev", "7", &e.at, &e.actor, &e.action, &e.app, &e.form, &e.record_id, &e.outcome, &e.before, &e.after].join("\u{1f}");
        let expected: String = Sha256::digest(joined.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(audit_hash(7, &e, "prev"), expected);
    }
}
