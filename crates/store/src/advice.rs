//! Indexes the index advisor makes on record tables, and the system table that keeps them
//! (`index_advice`) so they are made again when a table is rebuilt and dropped only on purpose.
//!
//! An advised index reads its fields with the same expression text as the queries
//! ([`crate::query::field_sql`]) and, like the declared field indexes, is partial on live
//! records, so the planner matches it. On PostgreSQL it is built `CONCURRENTLY`, outside any
//! transaction, so writes to the table go on meanwhile.

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sha2::{Digest, Sha256};

use crate::connect::Backend;
use crate::names::index_advice;
use crate::query::field_sql;
use crate::{AuditEntry, ColumnKind, FormTable, Store, StoreError};

/// The columns of `index_advice`, in the order [`AdvisedIndex`] reads and writes them.
const COLUMNS: [&str; 8] = [
    index_advice::NAME,
    index_advice::APP,
    index_advice::FORM,
    index_advice::FIELDS,
    index_advice::SHAPE,
    index_advice::BEFORE,
    index_advice::CREATED_BY,
    index_advice::CREATED_AT,
];

/// An index the advisor made, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvisedIndex {
    /// The index's name in the database.
    pub name: String,
    pub app: String,
    pub form: String,
    /// Field ids in index order.
    pub fields: Vec<String>,
    /// The query shape it was made for and its figures before (JSON text the engine writes).
    pub shape: String,
    pub before: String,
    /// The admin who applied it, or the advisor itself.
    pub created_by: String,
    pub created_at: String,
}

/// The name of the advised index over `fields` of `table`: `ax_` and a hash of the table and
/// the expressions, so the same index asked twice is one index, and it cannot be taken for a
/// declared one (`ix_`), which only a definition change removes.
pub fn advised_index_name(backend: Backend, table: &FormTable, fields: &[(String, ColumnKind)]) -> String {
    let digest = Sha256::digest(format!("{}:{}", table.name, index_columns(backend, table, fields)));
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("ax_{hex}")
}

/// The column list of an index over `fields`. Lists sort missing values first ascending
/// (SQLite's own order); a PostgreSQL index sorts them last unless told, so neither direction
/// could be read from it (as `schema::ensure_form_table` does for declared indexes).
/// The record's `id` ends the index: it breaks ties in a list's order
/// ([`crate::query::descending_ties`]), so a page is read from the index in order.
fn index_columns(backend: Backend, table: &FormTable, fields: &[(String, ColumnKind)]) -> String {
    let nulls = if backend == Backend::Postgres { " NULLS FIRST" } else { "" };
    let mut exprs: Vec<String> = fields.iter().map(|(name, kind)| format!("{}{nulls}", field_sql(backend, table, name, *kind))).collect();
    exprs.push("id".to_owned());
    exprs.join(", ")
}

/// Creates the index `name` over `fields` of `table` unless a valid one exists: on PostgreSQL
/// concurrently, writes going on ([`crate::schema::create_index_concurrently`]), on SQLite in a
/// write transaction of its own.
pub async fn ensure_advised_index(store: &Store, table: &FormTable, name: &str, fields: &[(String, ColumnKind)]) -> Result<(), StoreError> {
    let backend = store.backend();
    let on = format!("\"{name}\" ON \"{}\" ({}) WHERE deleted_at IS NULL", table.name, index_columns(backend, table, fields));
    match backend {
        Backend::Postgres => crate::schema::create_index_concurrently(store, name, &on).await,
        Backend::Sqlite => {
            let (turn, tx) = store.begin().await?;
            tx.execute_unprepared(&format!("CREATE INDEX IF NOT EXISTS {on}")).await?;
            turn.commit(tx).await
        }
    }
}

/// Creates `index` over `fields` of `table` and records it, with `audit`'s row, once it exists.
pub async fn create_advised_index(
    store: &Store,
    table: &FormTable,
    index: &AdvisedIndex,
    fields: &[(String, ColumnKind)],
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    ensure_advised_index(store, table, &index.name, fields).await?;
    let insert = Query::insert()
        .into_table(index_advice::TABLE)
        .columns(COLUMNS)
        .values_panic([
            Expr::val(index.name.as_str()),
            Expr::val(index.app.as_str()),
            Expr::val(index.form.as_str()),
            Expr::val(serde_json::to_string(&index.fields).unwrap_or_default()),
            Expr::val(index.shape.as_str()),
            Expr::val(index.before.as_str()),
            Expr::val(index.created_by.as_str()),
            Expr::val(index.created_at.as_str()),
        ])
        .to_owned();
    let (turn, tx) = store.begin().await?;
    tx.execute(&insert).await?;
    crate::append_audit(&tx, audit).await?;
    turn.commit(tx).await
}

/// Drops the advised index `name` of `app` (concurrently on PostgreSQL) and forgets it, with
/// `audit`'s row. Returns whether it was still recorded (another server may have dropped it).
pub async fn drop_advised_index(store: &Store, app: &str, name: &str, audit: &AuditEntry) -> Result<bool, StoreError> {
    if store.backend() == Backend::Postgres {
        store.db().execute_unprepared(&format!("DROP INDEX CONCURRENTLY IF EXISTS \"{name}\"")).await?;
    }
    let delete = Query::delete()
        .from_table(index_advice::TABLE)
        .and_where(Expr::col(index_advice::NAME).eq(name))
        .and_where(Expr::col(index_advice::APP).eq(app))
        .to_owned();
    let (turn, tx) = store.begin().await?;
    if store.backend() == Backend::Sqlite {
        tx.execute_unprepared(&format!("DROP INDEX IF EXISTS \"{name}\"")).await?;
    }
    let forgotten = tx.execute(&delete).await?.rows_affected() > 0;
    if forgotten {
        crate::append_audit(&tx, audit).await?;
    }
    turn.commit(tx).await?;
    Ok(forgotten)
}

/// The advised indexes of `app`, oldest first.
pub async fn advised_indexes(db: &impl ConnectionTrait, app: &str) -> Result<Vec<AdvisedIndex>, StoreError> {
    let q = Query::select()
        .columns(COLUMNS)
        .from(index_advice::TABLE)
        .and_where(Expr::col(index_advice::APP).eq(app))
        .order_by(index_advice::CREATED_AT, sea_orm::sea_query::Order::Asc)
        .to_owned();
    db.query_all(&q)
        .await?
        .iter()
        .map(|row| {
            let fields: String = row.try_get("", index_advice::FIELDS)?;
            Ok(AdvisedIndex {
                name: row.try_get("", index_advice::NAME)?,
                app: row.try_get("", index_advice::APP)?,
                form: row.try_get("", index_advice::FORM)?,
                fields: serde_json::from_str(&fields).map_err(|_| StoreError::corrupt(index_advice::TABLE, "fields are not a list"))?,
                shape: row.try_get("", index_advice::SHAPE)?,
                before: row.try_get("", index_advice::BEFORE)?,
                created_by: row.try_get("", index_advice::CREATED_BY)?,
                created_at: row.try_get("", index_advice::CREATED_AT)?,
            })
        })
        .collect()
}
