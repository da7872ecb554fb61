//! Schema changes: the lock every one of them takes, and the per-form record tables and their
//! indexes, created when an app is loaded. The system tables' migrations are in
//! [`crate::migrations`].

use sea_orm::sea_query::{Alias, ColumnDef, Func, Query, Table};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseTransaction, Statement};

use crate::connect::{Backend, backend_of};
use crate::{ColumnKind, Store, StoreError, WriteTurn};

/// The PostgreSQL advisory lock every schema change holds until its transaction ends, so that
/// servers starting together on one database change it one at a time (two creating the same
/// table at once fail on PostgreSQL's catalogue, "relation already exists"). Its two 32-bit
/// keys — "TESS" and 1 — are a key space apart from the one 64-bit keys of dedupe checks
/// ([`crate::lock_key`]), so no record's key can collide with it.
const SCHEMA_LOCK: (i32, i32) = (0x5445_5353, 1);

/// Starts a transaction for a schema change. On PostgreSQL it waits for the schema lock; on
/// SQLite the write transaction's lock on the file already serialises processes.
pub(crate) async fn begin_schema_change(store: &Store) -> Result<(WriteTurn, DatabaseTransaction), StoreError> {
    let (turn, tx) = store.begin().await?;
    if store.backend() == Backend::Postgres {
        let lock = Query::select().expr(Func::cust("pg_advisory_xact_lock").arg(SCHEMA_LOCK.0).arg(SCHEMA_LOCK.1)).to_owned();
        tx.query_one(&lock).await?;
    }
    Ok((turn, tx))
}

impl Store {
    /// A write transaction holding the schema lock, for work at start-up that servers starting
    /// together must do one at a time (registering an app's flow versions, read then written).
    pub async fn begin_serialised(&self) -> Result<(WriteTurn, DatabaseTransaction), StoreError> {
        begin_schema_change(self).await
    }
}

/// Whether `table` exists (in the current schema on PostgreSQL).
pub(crate) async fn table_exists(db: &impl ConnectionTrait, table: &str) -> Result<bool, StoreError> {
    let q = match backend_of(db) {
        Backend::Sqlite => Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?",
            [table.into()],
        ),
        Backend::Postgres => Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_name = $1 AND table_schema = current_schema()",
            [table.into()],
        ),
    };
    let row = db.query_one_raw(q).await?.ok_or_else(|| StoreError::corrupt(table, "a count returned no row"))?;
    Ok(row.try_get::<i64>("", "n")? > 0)
}

/// The names of `table`'s columns, generated ones included.
pub(crate) async fn columns_of(db: &impl ConnectionTrait, table: &str) -> Result<Vec<String>, StoreError> {
    let q = match backend_of(db) {
        Backend::Sqlite => Statement::from_string(DatabaseBackend::Sqlite, format!("SELECT name FROM pragma_table_xinfo('{table}')")),
        Backend::Postgres => Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT column_name::text AS name FROM information_schema.columns WHERE table_name = $1 AND table_schema = current_schema()",
            [table.into()],
        ),
    };
    Ok(db.query_all_raw(q).await?.iter().filter_map(|r| r.try_get("", "name").ok()).collect())
}

/// Creates a form's record table and indexes if they are missing. `indexes` are lists of SQL
/// expressions made by [`crate::query`] from field ids, so a query and its index match exactly.
///
/// It runs as a schema change: servers loading the same app at once create each table once.
pub(crate) async fn ensure_form_table(
    store: &Store,
    table: &str,
    typed: &[(String, ColumnKind)],
    indexes: &[Vec<String>],
) -> Result<(), StoreError> {
    let (turn, tx) = begin_schema_change(store).await?;
    let db = &tx;
    let data_type = match store.backend() {
        Backend::Postgres => "jsonb",
        Backend::Sqlite => "text",
    };
    let create = Table::create()
        .table(Alias::new(table))
        .if_not_exists()
        .col(ColumnDef::new("id").string().not_null().primary_key())
        .col(ColumnDef::new("version").big_integer().not_null())
        .col(ColumnDef::new("owner").string().not_null())
        .col(ColumnDef::new("state").string().null())
        .col(ColumnDef::new("data").custom(Alias::new(data_type)).not_null())
        .col(ColumnDef::new("created_by").string().not_null())
        .col(ColumnDef::new("created_at").string().not_null())
        .col(ColumnDef::new("updated_by").string().not_null())
        .col(ColumnDef::new("updated_at").string().not_null())
        .col(ColumnDef::new("deleted_at").string().null())
        .col(ColumnDef::new("flow").text().null())
        .to_owned();
    db.execute(&create).await?;
    ensure_typed_columns(db, store.backend(), table, typed).await?;
    // Index DDL carries no values; names are derived from the expressions, so a changed index
    // gets a new name and the old one stays until an operator drops it. Field indexes are
    // partial on live records: every list and report filters `deleted_at IS NULL`, and without
    // the column in the index SQLite would visit each row just to read it.
    let quote = |s: &str| match db.get_database_backend() {
        DatabaseBackend::Postgres | DatabaseBackend::Sqlite => format!("\"{s}\""),
        _ => s.to_owned(),
    };
    let system = [(vec!["owner".to_owned()], ""), (vec!["updated_at".to_owned()], "")];
    let fields = indexes.iter().map(|exprs| (exprs.clone(), " WHERE deleted_at IS NULL"));
    // Lists sort missing values first ascending and last descending (SQLite's own order). A
    // PostgreSQL index sorts them last by default, so neither direction could be read from it:
    // declare them first, and a backward scan gives descending with missing values last.
    let nulls = if store.backend() == Backend::Postgres { " NULLS FIRST" } else { "" };
    for (exprs, condition) in system.into_iter().chain(fields) {
        let exprs: Vec<String> = exprs.iter().map(|e| format!("{e}{nulls}")).collect();
        let name = format!("ix_{:016x}", fnv(&format!("{table}:{}{condition}", exprs.join(","))));
        let sql = format!("CREATE INDEX IF NOT EXISTS {} ON {} ({}){condition}", quote(&name), quote(table), exprs.join(", "));
        db.execute_unprepared(&sql).await?;
    }
    turn.commit(tx).await
}

/// Adds a generated column `f_<field>` for each typed field that lacks one: the field's value
/// read from `data` with the type of its kind. SQLite computes a virtual column on read (it costs
/// no space, and an index on it is a plain column index the planner knows covers a query);
/// PostgreSQL stores it, so index-only scans and narrow reads need no JSON at all.
async fn ensure_typed_columns(
    db: &DatabaseTransaction,
    backend: Backend,
    table: &str,
    typed: &[(String, ColumnKind)],
) -> Result<(), StoreError> {
    if typed.is_empty() {
        return Ok(());
    }
    let existing = columns_of(db, table).await?;
    for (field, kind) in typed {
        let column = crate::query::typed_column(field);
        if existing.iter().any(|c| format!("\"{c}\"") == column) {
            continue;
        }
        let value = crate::query::json_field_sql(backend, field, *kind);
        let sql = match (backend, kind) {
            (Backend::Sqlite, ColumnKind::Text) => {
                format!("ALTER TABLE \"{table}\" ADD COLUMN {column} TEXT GENERATED ALWAYS AS ({value}) VIRTUAL")
            }
            (Backend::Sqlite, ColumnKind::Number) => {
                format!("ALTER TABLE \"{table}\" ADD COLUMN {column} REAL GENERATED ALWAYS AS ({value}) VIRTUAL")
            }
            (Backend::Sqlite, ColumnKind::Bool) => {
                format!("ALTER TABLE \"{table}\" ADD COLUMN {column} INTEGER GENERATED ALWAYS AS ({value}) VIRTUAL")
            }
            (Backend::Postgres, ColumnKind::Text) => {
                format!("ALTER TABLE \"{table}\" ADD COLUMN {column} text GENERATED ALWAYS AS ({value}) STORED")
            }
            (Backend::Postgres, ColumnKind::Number) => {
                format!("ALTER TABLE \"{table}\" ADD COLUMN {column} double precision GENERATED ALWAYS AS ({value}) STORED")
            }
            (Backend::Postgres, ColumnKind::Bool) => {
                format!("ALTER TABLE \"{table}\" ADD COLUMN {column} boolean GENERATED ALWAYS AS ({value}) STORED")
            }
        };
        db.execute_unprepared(&sql).await?;
    }
    Ok(())
}

/// FNV-1a: a stable short hash for index names (std's hasher is not stable across releases).
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}
