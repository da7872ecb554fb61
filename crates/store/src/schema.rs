//! Schema changes: the lock every one of them takes, and the per-form record tables and their
//! indexes, created when an app is loaded. The system tables' migrations are in
//! [`crate::migrations`].

use sea_orm::sea_query::{Func, Query};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseTransaction, Statement};

use crate::connect::{Backend, backend_of};
use crate::{ColumnKind, FormTable, Store, StoreError, WriteTurn};

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

impl FormTable {
    /// Creates the table with its typed columns, or reshapes it when they changed, and creates
    /// the given indexes (each a list of fields) if missing.
    pub async fn ensure(&self, store: &Store, indexes: &[Vec<(String, ColumnKind)>]) -> Result<(), StoreError> {
        let exprs: Vec<Vec<String>> = indexes
            .iter()
            .map(|fields| fields.iter().map(|(name, kind)| crate::query::field_sql(store.backend(), self, name, *kind)).collect())
            .collect();
        ensure_form_table(store, self, &exprs).await
    }
}

/// Creates or reshapes a form's record table — a typed column for each of its typed fields
/// beside `data` ([`crate::layout`]) — and its indexes. `indexes` are lists of SQL expressions
/// made by [`crate::query`] from field ids, so a query and its index match exactly.
///
/// It runs as a schema change: servers loading the same app at once create each table once.
async fn ensure_form_table(store: &Store, table: &FormTable, indexes: &[Vec<String>]) -> Result<(), StoreError> {
    let (turn, tx) = begin_schema_change(store).await?;
    let db = &tx;
    let backend = store.backend();
    let name = table.name.as_str();
    if !table_exists(db, name).await? {
        db.execute_unprepared(&create_table_sql(backend, name, table.typed())).await?;
    } else {
        // A table of a release before records were stamped: first, so a rebuild reads it.
        if !columns_of(db, name).await?.iter().any(|c| c == "form_version") {
            db.execute_unprepared(&format!("ALTER TABLE \"{name}\" ADD COLUMN {FORM_VERSION_COLUMN}")).await?;
        }
        reshape(db, backend, table).await?;
    }
    // Index DDL carries no values; names are derived from the expressions, so a changed index
    // gets a new name and the old one stays until an operator drops it (a rebuild of the table
    // drops every index, those made by hand too; the advisor makes its own again). Field
    // indexes are partial on live records: every list and report filters `deleted_at IS NULL`,
    // and without the column in the index SQLite would visit each row just to read it. What
    // every list may sort or filter by without asking — owner, state, last change — is indexed
    // for every form.
    let system = ["owner", "state", "updated_at"].map(|column| (vec![column.to_owned()], ""));
    let fields = indexes.iter().map(|exprs| (exprs.clone(), " WHERE deleted_at IS NULL"));
    // Lists sort missing values first ascending and last descending (SQLite's own order). A
    // PostgreSQL index sorts them last by default, so neither direction could be read from it:
    // declare them first, and a backward scan gives descending with missing values last.
    let nulls = if backend == Backend::Postgres { " NULLS FIRST" } else { "" };
    for (exprs, condition) in system.into_iter().chain(fields) {
        let exprs: Vec<String> = exprs.iter().map(|e| format!("{e}{nulls}")).collect();
        let index = format!("ix_{:016x}", fnv(&format!("{name}:{}{condition}", exprs.join(","))));
        let sql = format!("CREATE INDEX IF NOT EXISTS \"{index}\" ON \"{name}\" ({}){condition}", exprs.join(", "));
        db.execute_unprepared(&sql).await?;
    }
    turn.commit(tx).await
}

/// The system column a record's form version is kept in ([`crate::Record::form_version`]).
const FORM_VERSION_COLUMN: &str = "\"form_version\" bigint NULL";

/// `CREATE TABLE` of a record table named `name`: system columns, the typed columns (before
/// `data`, so a scan reads them without stepping over the document), the document, and the
/// flow.
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
    columns.extend(["\"deleted_at\" varchar NULL", "\"flow\" text NULL", FORM_VERSION_COLUMN].map(str::to_owned));
    format!("CREATE TABLE IF NOT EXISTS \"{name}\" ({})", columns.join(", "))
}

/// The definition of field `field`'s typed column.
fn typed_column_def(backend: Backend, field: &str, kind: ColumnKind) -> String {
    format!("{} {}", crate::query::typed_column(field), crate::layout::sql_type(backend, kind))
}

/// The typed columns a record table has: the fields and kinds of its plain `f_` columns, and
/// whether it has generated ones (an older release's, computed from a `data` that held every
/// value).
async fn present_layout(db: &DatabaseTransaction, backend: Backend, table: &str) -> Result<(Vec<(String, ColumnKind)>, bool), StoreError> {
    let q = match backend {
        Backend::Sqlite => Statement::from_string(
            DatabaseBackend::Sqlite,
            format!("SELECT name, type, hidden AS generated FROM pragma_table_xinfo('{table}') WHERE name LIKE 'f\\_%' ESCAPE '\\'"),
        ),
        Backend::Postgres => Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT column_name::text AS name, data_type::text AS type, (CASE WHEN is_generated::text = 'ALWAYS' THEN 1 ELSE 0 END)::int8 AS generated \
             FROM information_schema.columns WHERE table_name = $1 AND table_schema = current_schema() AND column_name LIKE 'f\\_%'",
            [table.into()],
        ),
    };
    let (mut plain, mut generated) = (Vec::new(), false);
    for row in db.query_all_raw(q).await? {
        let (name, sql): (String, String) = (row.try_get("", "name")?, row.try_get("", "type")?);
        let is_generated = row.try_get::<i64>("", "generated")? != 0;
        let kind = [ColumnKind::Text, ColumnKind::Number, ColumnKind::Bool]
            .into_iter()
            .find(|k| crate::layout::sql_type(backend, *k).eq_ignore_ascii_case(&sql));
        match (kind, name.strip_prefix("f_")) {
            _ if is_generated => generated = true,
            (Some(kind), Some(field)) => plain.push((field.to_owned(), kind)),
            // Its values would not be read into the new layout: refuse rather than lose them.
            _ => return Err(StoreError::corrupt(table, format!("column {name} has a type no field kind has ({sql})"))),
        }
    }
    Ok((plain, generated))
}

/// Brings an existing record table to `table`'s typed columns. A field given a column that no
/// stored document holds a value for (a field added since) is one `ADD COLUMN`. Anything else —
/// a field removed or given another type, values to move between the document and a column, a
/// table of an older release whose columns were generated from the document — rebuilds the
/// table: a new one, every record read in the old layout and written in the new one, the old
/// table dropped, the new one renamed. That holds the table's lock while it runs — at start-up;
/// publishing definitions at run time (the live-apps work) needs a migration that leaves writes
/// running.
async fn reshape(db: &DatabaseTransaction, backend: Backend, table: &FormTable) -> Result<(), StoreError> {
    let (present, generated) = present_layout(db, backend, &table.name).await?;
    let wanted = table.typed();
    let added: Vec<&(String, ColumnKind)> = wanted.iter().filter(|w| !present.contains(w)).collect();
    let kept_all = present.iter().all(|p| wanted.contains(p));
    if !generated && kept_all && added.is_empty() {
        return Ok(());
    }
    if !generated && kept_all && !documents_hold(db, backend, &table.name, &added).await? {
        for (field, kind) in added {
            db.execute_unprepared(&format!("ALTER TABLE \"{}\" ADD COLUMN {}", table.name, typed_column_def(backend, field, *kind)))
                .await?;
        }
        return Ok(());
    }
    let old = FormTable::new_named(&table.name).with_typed(present.iter().map(|(f, k)| (f.as_str(), *k)));
    let new = FormTable::new_named(&format!("t_{:016x}", fnv(&table.name))).with_typed(wanted.iter().map(|(f, k)| (f.as_str(), *k)));
    db.execute_unprepared(&format!("DROP TABLE IF EXISTS \"{}\"", new.name)).await?;
    db.execute_unprepared(&create_table_sql(backend, &new.name, wanted)).await?;
    let copied = crate::records::copy_all(db, &old, &new).await?;
    db.execute_unprepared(&format!("DROP TABLE \"{}\"", old.name)).await?;
    db.execute_unprepared(&format!("ALTER TABLE \"{}\" RENAME TO \"{}\"", new.name, old.name)).await?;
    if backend == Backend::Postgres {
        // The key's index keeps the name it was made with; the next rebuild would need it.
        db.execute_unprepared(&format!("ALTER INDEX IF EXISTS \"{}_pkey\" RENAME TO \"{}_pkey\"", new.name, old.name)).await?;
    }
    // The planner's statistics went with the old table.
    db.execute_unprepared(&format!("ANALYZE \"{}\"", old.name)).await?;
    tracing::info!(table = %table.name, typed = wanted.len(), records = copied, "record table rebuilt with its typed columns");
    Ok(())
}

/// Whether any stored document of `table` holds a value for one of `fields`.
async fn documents_hold(
    db: &DatabaseTransaction,
    backend: Backend,
    table: &str,
    fields: &[&(String, ColumnKind)],
) -> Result<bool, StoreError> {
    if fields.is_empty() {
        return Ok(false);
    }
    let held: Vec<String> =
        fields.iter().map(|(field, _)| format!("{} IS NOT NULL", crate::query::json_field_sql(backend, field, ColumnKind::Text))).collect();
    let q =
        Statement::from_string(db.get_database_backend(), format!("SELECT 1 AS held FROM \"{table}\" WHERE {} LIMIT 1", held.join(" OR ")));
    Ok(db.query_one_raw(q).await?.is_some())
}

/// FNV-1a: a stable short hash for index names (std's hasher is not stable across releases).
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}
