//! Every version of every record, kept once: history and time travel read it. The version a
//! record is at lives in its form's table, so its history row holds no snapshot
//! ([`LIVE_SNAPSHOT`]); the write that supersedes it fills the snapshot in ([`fill_snapshot`]).
//! Rows of older releases hold every version's snapshot, the current one too, and stay valid.

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, Order, Query};

use crate::StoreError;
use crate::names::record_history;

/// One version of a record as it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    pub record_id: String,
    pub version: i64,
    pub app: String,
    pub form: String,
    /// `create`, `update`, `delete` or `restore`.
    pub op: String,
    /// The whole record (system fields and data) at this version, as JSON text; or
    /// [`LIVE_SNAPSHOT`] while this version is the live record.
    pub snapshot: String,
    pub changed_by: String,
    pub changed_at: String,
}

/// The snapshot of the version the record is at: the live row holds it. An empty text rather
/// than NULL keeps the column NOT NULL, so databases of older releases need no migration.
pub const LIVE_SNAPSHOT: &str = "";

const COLUMNS: [&str; 8] = [
    record_history::RECORD_ID,
    record_history::VERSION,
    record_history::APP,
    record_history::FORM,
    record_history::OP,
    record_history::SNAPSHOT,
    record_history::CHANGED_BY,
    record_history::CHANGED_AT,
];

pub async fn insert_history(db: &impl ConnectionTrait, entry: &HistoryEntry) -> Result<(), StoreError> {
    insert_history_rows(db, std::slice::from_ref(entry)).await
}

/// Inserts versions with one statement.
pub async fn insert_history_rows(db: &impl ConnectionTrait, entries: &[HistoryEntry]) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut q = Query::insert();
    q.into_table(record_history::TABLE).columns(COLUMNS);
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

/// Keeps `snapshot` as version `version` of record `record_id` once a newer version replaced it
/// in the live row. A row that already holds a snapshot (written by an older release) is left
/// as it is.
pub async fn fill_snapshot(db: &impl ConnectionTrait, record_id: &str, version: i64, snapshot: &str) -> Result<(), StoreError> {
    let q = Query::update()
        .table(record_history::TABLE)
        .value(record_history::SNAPSHOT, snapshot)
        .and_where(Expr::col(record_history::RECORD_ID).eq(record_id))
        .and_where(Expr::col(record_history::VERSION).eq(version))
        .and_where(Expr::col(record_history::SNAPSHOT).eq(LIVE_SNAPSHOT))
        .to_owned();
    db.execute(&q).await?;
    Ok(())
}

/// All versions of a record, oldest first.
pub async fn history(db: &impl ConnectionTrait, record_id: &str) -> Result<Vec<HistoryEntry>, StoreError> {
    let q = Query::select()
        .columns(COLUMNS)
        .from(record_history::TABLE)
        .and_where(Expr::col(record_history::RECORD_ID).eq(record_id))
        .order_by(record_history::VERSION, Order::Asc)
        .to_owned();
    let rows = db.query_all(&q).await?;
    rows.iter()
        .map(|row| {
            Ok(HistoryEntry {
                record_id: row.try_get("", record_history::RECORD_ID)?,
                version: row.try_get("", record_history::VERSION)?,
                app: row.try_get("", record_history::APP)?,
                form: row.try_get("", record_history::FORM)?,
                op: row.try_get("", record_history::OP)?,
                snapshot: row.try_get("", record_history::SNAPSHOT)?,
                changed_by: row.try_get("", record_history::CHANGED_BY)?,
                changed_at: row.try_get("", record_history::CHANGED_AT)?,
            })
        })
        .collect()
}

/// Sets record `id` of `table` back to `at`: its creation, its last change and every version of
/// its history. For seeds that make demo data with a past; nothing else rewrites time.
pub async fn backdate(db: &impl ConnectionTrait, table: &crate::FormTable, id: &str, at: &str) -> Result<(), StoreError> {
    let row = Query::update()
        .table(sea_orm::sea_query::Alias::new(table.name.as_str()))
        .value(sea_orm::sea_query::Alias::new("created_at"), at)
        .value(sea_orm::sea_query::Alias::new("updated_at"), at)
        .and_where(Expr::col("id").eq(id))
        .to_owned();
    db.execute(&row).await?;
    let versions = Query::update()
        .table(record_history::TABLE)
        .value(record_history::CHANGED_AT, at)
        .and_where(Expr::col(record_history::RECORD_ID).eq(id))
        .to_owned();
    db.execute(&versions).await?;
    Ok(())
}
