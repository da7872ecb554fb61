//! Schema changes: the lock every one of them takes, and the per-form record tables and their
//! indexes, created when an app is loaded. The system tables' migrations are in
//! [`crate::migrations`].

use sea_orm::sea_query::{Func, Query};
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

/// Creates or reshapes a form's record table: every field in `typed` kept as a typed column
/// beside `data`, and the indexes. `indexes` are lists of SQL expressions made by
/// [`crate::query`] from field ids, so a query and its index match exactly.
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
    let backend = store.backend();
    if !table_exists(db, table).await? {
        db.execute_unprepared(&create_table_sql(backend, table, typed)).await?;
    } else {
        match backend {
            Backend::Sqlite => rebuild_if_reshaped(db, table, typed).await?,
            Backend::Postgres => alter_typed_columns(db, table, typed).await?,
        }
    }
    // Index DDL carries no values; names are derived from the expressions, so a changed index
    // gets a new name and the old one stays until an operator drops it. Field indexes are
    // partial on live records: every list and report filters `deleted_at IS NULL`, and without
    // the column in the index SQLite would visit each row just to read it. What every list may
    // sort or filter by without asking — owner, state, last change — is indexed for every form.
    let system = ["owner", "state", "updated_at"].map(|column| (vec![column.to_owned()], ""));
    let fields = indexes.iter().map(|exprs| (exprs.clone(), " WHERE deleted_at IS NULL"));
    // Lists sort missing values first ascending and last descending (SQLite's own order). A
    // PostgreSQL index sorts them last by default, so neither direction could be read from it:
    // declare them first, and a backward scan gives descending with missing values last.
    let nulls = if backend == Backend::Postgres { " NULLS FIRST" } else { "" };
    for (exprs, condition) in system.into_iter().chain(fields) {
        let exprs: Vec<String> = exprs.iter().map(|e| format!("{e}{nulls}")).collect();
        let name = format!("ix_{:016x}", fnv(&format!("{table}:{}{condition}", exprs.join(","))));
        let sql = format!("CREATE INDEX IF NOT EXISTS \"{name}\" ON \"{table}\" ({}){condition}", exprs.join(", "));
        db.execute_unprepared(&sql).await?;
    }
    turn.commit(tx).await
}

/// `CREATE TABLE` of a record table named `name`: system columns, the
/// typed columns (before `data`, so a scan reads them without stepping over the document), the
/// document, and the flow.
fn create_table_sql(backend: Backend, name: &str, typed: &[(String, ColumnKind)]) -> String {
    let document = match backend {
        Backend::Postgres => "jsonb",
        Backend::Sqlite => "text",
    };
    let mut columns: Vec<String> = ["\"id\" varchar NOT NULL PRIMARY KEY", "\"version\" bigint NOT NULL", "\"owner\" varchar NOT NULL"]
        .into_iter()
        .chain(["\"state\" varchar NULL"])
        .map(str::to_owned)
        .collect();
    columns.extend(typed.iter().map(|(field, kind)| typed_column_def(backend, field, *kind)));
    columns.push(format!("\"data\" {document} NOT NULL"));
    for column in ["created_by", "created_at", "updated_by", "updated_at"] {
        columns.push(format!("\"{column}\" varchar NOT NULL"));
    }
    columns.extend(["\"deleted_at\" varchar NULL".to_owned(), "\"flow\" text NULL".to_owned()]);
    format!("CREATE TABLE IF NOT EXISTS \"{name}\" ({})", columns.join(", "))
}

/// The definition of field `field`'s typed column: generated from `data` and stored, so the
/// database keeps it in step with every write and reads it as a plain column. A value of
/// another JSON type than the column's (a record saved before its field changed type) is NULL
/// rather than a failed write.
fn typed_column_def(backend: Backend, field: &str, kind: ColumnKind) -> String {
    let column = crate::query::typed_column(field);
    let value = crate::query::json_field_sql(backend, field, kind);
    let name: String = field.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    let (sql_type, is_of_type) = match (backend, kind) {
        (Backend::Sqlite, ColumnKind::Text) => ("TEXT", format!("json_type(data, '$.{name}') = 'text'")),
        (Backend::Sqlite, ColumnKind::Number) => ("REAL", format!("json_type(data, '$.{name}') IN ('integer', 'real')")),
        (Backend::Sqlite, ColumnKind::Bool) => ("INTEGER", format!("json_type(data, '$.{name}') IN ('true', 'false')")),
        (Backend::Postgres, ColumnKind::Text) => ("text", format!("jsonb_typeof(data->'{name}') = 'string'")),
        (Backend::Postgres, ColumnKind::Number) => ("double precision", format!("jsonb_typeof(data->'{name}') = 'number'")),
        (Backend::Postgres, ColumnKind::Bool) => ("boolean", format!("jsonb_typeof(data->'{name}') = 'boolean'")),
    };
    format!("{column} {sql_type} GENERATED ALWAYS AS (CASE WHEN {is_of_type} THEN {value} END) STORED")
}

/// SQLite cannot add a stored column to a table, nor change one: when the typed columns the
/// table has differ from those wanted (a field added, removed or given another type, or a table
/// of an older release whose typed columns were computed on every read), the table is rebuilt
/// as SQLite documents it — a new table, the rows copied, the old one dropped, the new one
/// renamed — in the schema change's transaction. Indexes are made again by the caller.
async fn rebuild_if_reshaped(db: &DatabaseTransaction, table: &str, typed: &[(String, ColumnKind)]) -> Result<(), StoreError> {
    let q = Statement::from_sql_and_values(
        DatabaseBackend::Sqlite,
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
        [table.into()],
    );
    let sql: String = match db.query_one_raw(q).await? {
        Some(row) => row.try_get("", "sql")?,
        None => return Err(StoreError::corrupt(table, "the table has no definition")),
    };
    let wanted: Vec<String> = typed.iter().map(|(field, kind)| typed_column_def(Backend::Sqlite, field, *kind)).collect();
    if wanted.iter().all(|def| sql.contains(def.as_str())) && sql.matches("GENERATED ALWAYS").count() == wanted.len() {
        return Ok(());
    }
    let rebuilt = format!("{table}__rebuilt");
    db.execute_unprepared(&format!("DROP TABLE IF EXISTS \"{rebuilt}\"")).await?;
    db.execute_unprepared(&create_table_sql(Backend::Sqlite, &rebuilt, typed)).await?;
    // The stored columns of the old table that the new one has too: generated ones are computed.
    let stored = stored_columns(db, table).await?;
    let kept: Vec<String> =
        stored_columns(db, &rebuilt).await?.into_iter().filter(|c| stored.contains(c)).map(|c| format!("\"{c}\"")).collect();
    let kept = kept.join(", ");
    db.execute_unprepared(&format!("INSERT INTO \"{rebuilt}\" ({kept}) SELECT {kept} FROM \"{table}\"")).await?;
    db.execute_unprepared(&format!("DROP TABLE \"{table}\"")).await?;
    db.execute_unprepared(&format!("ALTER TABLE \"{rebuilt}\" RENAME TO \"{table}\"")).await?;
    tracing::info!(table, typed = typed.len(), "record table rebuilt with its typed columns");
    Ok(())
}

/// The columns of an SQLite table that hold what was written (not generated).
async fn stored_columns(db: &DatabaseTransaction, table: &str) -> Result<Vec<String>, StoreError> {
    let q = Statement::from_string(DatabaseBackend::Sqlite, format!("SELECT name FROM pragma_table_xinfo('{table}') WHERE hidden = 0"));
    Ok(db.query_all_raw(q).await?.iter().filter_map(|r| r.try_get("", "name").ok()).collect())
}

/// On PostgreSQL typed columns are added, dropped and replaced in place: a typed column whose
/// field is gone, or whose type is not the one wanted, is dropped (its indexes with it); a
/// missing one is added as a stored generated column. Adding one rewrites the table under an
/// exclusive lock — at start-up; publishing definitions at run time (the live-apps work) needs
/// a backfill that leaves writes running.
async fn alter_typed_columns(db: &DatabaseTransaction, table: &str, typed: &[(String, ColumnKind)]) -> Result<(), StoreError> {
    let q = Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        "SELECT column_name::text AS name, data_type::text AS type, is_generated::text AS generated FROM information_schema.columns \
         WHERE table_name = $1 AND table_schema = current_schema() AND column_name LIKE 'f\\_%'",
        [table.into()],
    );
    let present: Vec<(String, String, String)> = db
        .query_all_raw(q)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("", "name")?, r.try_get("", "type")?, r.try_get("", "generated")?)))
        .collect::<Result<_, StoreError>>()?;
    let wanted: Vec<(String, &str, String)> = typed
        .iter()
        .map(|(field, kind)| {
            let sql_type = match kind {
                ColumnKind::Text => "text",
                ColumnKind::Number => "double precision",
                ColumnKind::Bool => "boolean",
            };
            (crate::query::typed_column(field).trim_matches('"').to_owned(), sql_type, typed_column_def(Backend::Postgres, field, *kind))
        })
        .collect();
    for (name, sql_type, generated) in &present {
        let fits = wanted.iter().any(|(w, t, _)| w == name && t == sql_type) && generated == "ALWAYS";
        if !fits {
            db.execute_unprepared(&format!("ALTER TABLE \"{table}\" DROP COLUMN \"{name}\"")).await?;
        }
    }
    for (name, sql_type, def) in &wanted {
        let kept = present.iter().any(|(p, t, g)| p == name && t == sql_type && g == "ALWAYS");
        if !kept {
            db.execute_unprepared(&format!("ALTER TABLE \"{table}\" ADD COLUMN {def}")).await?;
        }
    }
    Ok(())
}

/// FNV-1a: a stable short hash for index names (std's hasher is not stable across releases).
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}
