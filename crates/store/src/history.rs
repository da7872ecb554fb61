//! Every version of every record, kept as a snapshot: history and time travel read it.

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, Order, Query};

use crate::StoreError;

/// One version of a record as it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    pub record_id: String,
    pub version: i64,
    pub app: String,
    pub form: String,
    /// `create`, `update`, `delete` or `restore`.
    pub op: String,
    /// The whole record (system fields and data) at this version, as JSON text.
    pub snapshot: String,
    pub changed_by: String,
    pub changed_at: String,
}

pub async fn insert_history(db: &impl ConnectionTrait, entry: &HistoryEntry) -> Result<(), StoreError> {
    insert_history_rows(db, std::slice::from_ref(entry)).await
}

/// Inserts versions with one statement.
pub async fn insert_history_rows(db: &impl ConnectionTrait, entries: &[HistoryEntry]) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut q = Query::insert();
    q.into_table("record_history").columns(["record_id", "version", "app", "form", "op", "snapshot", "changed_by", "changed_at"]);
    for e in entries {
        q.values_panic([
            Expr::val(e.record_id.clone()),
            Expr::val(e.version),
            Expr::val(e.app.clone()),
            Expr::val(e.form.clone()),
            Expr::val(e.op.clone()),
            Expr::val(e.snapshot.clone()),
            Expr::val(e.changed_by.clone()),
            Expr::val(e.changed_at.clone()),
        ]);
    }
    db.execute(&q).await?;
    Ok(())
}

/// All versions of a record, oldest first.
pub async fn history(db: &impl ConnectionTrait, record_id: &str) -> Result<Vec<HistoryEntry>, StoreError> {
    let q = Query::select()
        .columns(["record_id", "version", "app", "form", "op", "snapshot", "changed_by", "changed_at"])
        .from("record_history")
        .and_where(Expr::col("record_id").eq(record_id))
        .order_by("version", Order::Asc)
        .to_owned();
    let rows = db.query_all(&q).await?;
    rows.iter()
        .map(|row| {
            Ok(HistoryEntry {
                record_id: row.try_get("", "record_id")?,
                version: row.try_get("", "version")?,
                app: row.try_get("", "app")?,
                form: row.try_get("", "form")?,
                op: row.try_get("", "op")?,
                snapshot: row.try_get("", "snapshot")?,
                changed_by: row.try_get("", "changed_by")?,
                changed_at: row.try_get("", "changed_at")?,
            })
        })
        .collect()
}
