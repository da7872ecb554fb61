//! Schema changes: the lock every one of them takes, and the per-form record tables and their
//! indexes, created when an app is loaded. The system tables' migrations are in
//! [`crate::migrations`].

use sea_orm::sea_query::{Func, Query};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseTransaction, Statement, TransactionTrait};

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
/// A new table, and any table on SQLite (whose one writer waits anyway), is made in the
/// transaction holding the schema lock. An existing table on PostgreSQL, which a publish reshapes
/// while the app is being written, is changed step by step beside it, so writes go on: columns
/// added without a rewrite, a rebuild copying the records while they are written
/// ([`rebuild_online`]), indexes built `CONCURRENTLY`.
async fn ensure_form_table(store: &Store, table: &FormTable, indexes: &[Vec<String>]) -> Result<(), StoreError> {
    let backend = store.backend();
    let index_sql = index_statements(backend, &table.name, indexes);
    let (turn, tx) = begin_schema_change(store).await?;
    let exists = table_exists(&tx, &table.name).await?;
    if !exists || backend == Backend::Sqlite {
        if exists {
            stamp_column(&tx, &table.name).await?;
            match plan(&tx, backend, table).await? {
                Reshape::Keep => {}
                Reshape::Add(added) => add_columns(&tx, backend, &table.name, &added).await?,
                Reshape::Rebuild(old) => rebuild(&tx, backend, &old, table).await?,
            }
        } else {
            tx.execute_unprepared(&create_table_sql(backend, &table.name, table.typed())).await?;
        }
        for (_, on) in &index_sql {
            tx.execute_unprepared(&format!("CREATE INDEX IF NOT EXISTS {on}")).await?;
        }
        for stale in stale_indexes(&tx, backend, &table.name, &index_sql).await? {
            tx.execute_unprepared(&format!("DROP INDEX IF EXISTS \"{stale}\"")).await?;
        }
        return turn.commit(tx).await;
    }
    // `tx` holds the lock and touches nothing else: a lock of its on the table would hold the
    // steps below up (and they it).
    let done = match reshape_online(store, table).await {
        Ok(()) => ensure_indexes_online(store, &table.name, &index_sql).await,
        failed => failed,
    };
    turn.commit(tx).await?;
    done
}

/// Each index a form table has: its name, and what follows `CREATE INDEX` after `IF NOT EXISTS`.
///
/// Index DDL carries no values; names are derived from the expressions, so a changed index gets
/// a new name and the old one is dropped (a rebuild of the table drops every index, those made
/// by hand too; the advisor makes its own again). Field indexes are
/// partial on live records: every list and report filters `deleted_at IS NULL`, and without the
/// column in the index SQLite would visit each row just to read it. What every list may sort or
/// filter by without asking — owner, state, last change — is indexed for every form.
fn index_statements(backend: Backend, name: &str, indexes: &[Vec<String>]) -> Vec<(String, String)> {
    let system = ["owner", "state", "updated_at"].map(|column| (vec![column.to_owned()], ""));
    let fields = indexes.iter().map(|exprs| (exprs.clone(), " WHERE deleted_at IS NULL"));
    // Lists sort missing values first ascending and last descending (SQLite's own order). A
    // PostgreSQL index sorts them last by default, so neither direction could be read from it:
    // declare them first, and a backward scan gives descending with missing values last.
    let nulls = if backend == Backend::Postgres { " NULLS FIRST" } else { "" };
    system
        .into_iter()
        .chain(fields)
        .map(|(exprs, condition)| {
            let exprs: Vec<String> = exprs.iter().map(|e| format!("{e}{nulls}")).collect();
            let index = format!("ix_{:016x}", fnv(&format!("{name}:{}{condition}", exprs.join(","))));
            let on = format!("\"{index}\" ON \"{name}\" ({}){condition}", exprs.join(", "));
            (index, on)
        })
        .collect()
}

/// Builds on PostgreSQL each of `indexes` ([`index_statements`]) that has no valid index yet,
/// `CONCURRENTLY`: writes go on while it is built.
async fn ensure_indexes_online(store: &Store, table: &str, indexes: &[(String, String)]) -> Result<(), StoreError> {
    for (name, on) in indexes {
        create_index_concurrently(store, name, on).await?;
    }
    for stale in stale_indexes(store.db(), Backend::Postgres, table, indexes).await? {
        store.db().execute_unprepared(&format!("DROP INDEX CONCURRENTLY IF EXISTS \"{stale}\"")).await?;
    }
    Ok(())
}

/// The indexes of `table` made for a form's definition (`ix_…`: not the advisor's, not one an
/// operator made) that `indexes` no longer has: the definition dropped or changed them.
async fn stale_indexes(
    db: &impl ConnectionTrait,
    backend: Backend,
    table: &str,
    indexes: &[(String, String)],
) -> Result<Vec<String>, StoreError> {
    let q = match backend {
        Backend::Sqlite => Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND name LIKE 'ix\\_%' ESCAPE '\\'",
            [table.into()],
        ),
        Backend::Postgres => Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT indexname::text AS name FROM pg_indexes WHERE tablename = $1 AND schemaname = current_schema() AND indexname LIKE 'ix\\_%'",
            [table.into()],
        ),
    };
    let present: Vec<String> = db.query_all_raw(q).await?.iter().map(|row| row.try_get("", "name")).collect::<Result<_, _>>()?;
    Ok(present.into_iter().filter(|name| !indexes.iter().any(|(wanted, _)| wanted == name)).collect())
}

/// Creates PostgreSQL's index `name` (`on`: what follows the name in `CREATE INDEX`) unless a
/// valid one exists, concurrently: writes go on. A build that failed, or died with its process,
/// leaves an invalid index: found here, it is dropped and built again.
pub(crate) async fn create_index_concurrently(store: &Store, name: &str, on: &str) -> Result<(), StoreError> {
    let drop = format!("DROP INDEX CONCURRENTLY IF EXISTS \"{name}\"");
    match postgres_index_valid(store, name).await? {
        Some(true) => return Ok(()),
        Some(false) => {
            store.db().execute_unprepared(&drop).await?;
        }
        None => {}
    }
    if let Err(e) = store.db().execute_unprepared(&format!("CREATE INDEX CONCURRENTLY IF NOT EXISTS {on}")).await {
        // Another server building the same index at once owns the name: leave its build.
        if postgres_index_valid(store, name).await? == Some(false) {
            store.db().execute_unprepared(&drop).await.ok();
        }
        return Err(e.into());
    }
    Ok(())
}

/// Whether PostgreSQL's index `name` is valid (usable by queries); `None` when there is none.
async fn postgres_index_valid(store: &Store, name: &str) -> Result<Option<bool>, StoreError> {
    let q = Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        "SELECT (CASE WHEN i.indisvalid THEN 1 ELSE 0 END)::int8 AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace",
        [name.into()],
    );
    let row = store.db().query_one_raw(q).await?;
    Ok(row.map(|r| r.try_get::<i64>("", "valid")).transpose()?.map(|v| v == 1))
}

/// Gives a table of a build before records were stamped its `form_version` column: first, so
/// a rebuild reads it. No rewrite: the column is empty.
async fn stamp_column(db: &impl ConnectionTrait, table: &str) -> Result<(), StoreError> {
    if !columns_of(db, table).await?.iter().any(|c| c == "form_version") {
        db.execute_unprepared(&format!("ALTER TABLE \"{table}\" ADD COLUMN {FORM_VERSION_COLUMN}")).await?;
    }
    Ok(())
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
async fn present_layout(db: &impl ConnectionTrait, backend: Backend, table: &str) -> Result<(Vec<(String, ColumnKind)>, bool), StoreError> {
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

/// What an existing record table needs to have `table`'s typed columns.
enum Reshape {
    Keep,
    /// Columns for fields that no stored document holds a value for (fields added since): one
    /// `ADD COLUMN` each.
    Add(Vec<(String, ColumnKind)>),
    /// Anything else — a field removed or given another type, values to move between the
    /// document and a column, a table of an older release whose columns were generated from
    /// the document: a new table, every record read in the old layout (this one) and written
    /// in the new.
    Rebuild(FormTable),
}

async fn plan(db: &impl ConnectionTrait, backend: Backend, table: &FormTable) -> Result<Reshape, StoreError> {
    let (present, generated) = present_layout(db, backend, &table.name).await?;
    let wanted = table.typed();
    let added: Vec<(String, ColumnKind)> = wanted.iter().filter(|w| !present.contains(w)).cloned().collect();
    let kept_all = present.iter().all(|p| wanted.contains(p));
    if !generated && kept_all && added.is_empty() {
        return Ok(Reshape::Keep);
    }
    if !generated && kept_all && !documents_hold(db, backend, &table.name, &added).await? {
        return Ok(Reshape::Add(added));
    }
    Ok(Reshape::Rebuild(FormTable::new_named(&table.name).with_typed(present.iter().map(|(f, k)| (f.as_str(), *k)))))
}

async fn add_columns(db: &impl ConnectionTrait, backend: Backend, table: &str, added: &[(String, ColumnKind)]) -> Result<(), StoreError> {
    for (field, kind) in added {
        db.execute_unprepared(&format!("ALTER TABLE \"{table}\" ADD COLUMN {}", typed_column_def(backend, field, *kind))).await?;
    }
    Ok(())
}

/// The table a rebuild of `table` fills before it takes its name.
fn rebuilt(table: &FormTable) -> FormTable {
    FormTable::new_named(&format!("t_{:016x}", fnv(&table.name))).with_typed(table.typed().iter().map(|(f, k)| (f.as_str(), *k)))
}

/// Rebuilds `old` as `table` within `db`'s transaction, which holds the table's lock until it
/// commits: SQLite's one writer waits for it in any case.
async fn rebuild(db: &DatabaseTransaction, backend: Backend, old: &FormTable, table: &FormTable) -> Result<(), StoreError> {
    let new = rebuilt(table);
    db.execute_unprepared(&format!("DROP TABLE IF EXISTS \"{}\"", new.name)).await?;
    db.execute_unprepared(&create_table_sql(backend, &new.name, table.typed())).await?;
    let copied = crate::records::copy_all(db, old, &new).await?;
    take_place(db, backend, &new.name, &old.name).await?;
    tracing::info!(table = %table.name, typed = table.typed().len(), records = copied, "record table rebuilt with its typed columns");
    Ok(())
}

/// Brings an existing PostgreSQL table to `table`'s typed columns while it is written, each
/// step in a transaction of its own.
async fn reshape_online(store: &Store, table: &FormTable) -> Result<(), StoreError> {
    let db = store.db();
    stamp_column(db, &table.name).await?;
    match plan(db, Backend::Postgres, table).await? {
        Reshape::Keep => Ok(()),
        // A nullable column without a default is a change of the catalogue: no rewrite.
        Reshape::Add(added) => add_columns(db, Backend::Postgres, &table.name, &added).await,
        Reshape::Rebuild(old) => rebuild_online(store, &old, table).await,
    }
}

/// Rebuilds `old` as `table` on PostgreSQL while it is written: the new table is filled a page
/// at a time, each page in its own transaction; then, with the table locked, the records
/// written meanwhile — those whose version differs from their copy's, or that have none — are
/// copied again and the new table takes the old one's place. Reads and writes wait only for
/// that catch-up.
async fn rebuild_online(store: &Store, old: &FormTable, table: &FormTable) -> Result<(), StoreError> {
    let db = store.db();
    let new = rebuilt(table);
    // A rebuild that died leaves its half-filled table.
    db.execute_unprepared(&format!("DROP TABLE IF EXISTS \"{}\"", new.name)).await?;
    db.execute_unprepared(&create_table_sql(Backend::Postgres, &new.name, table.typed())).await?;
    let (mut copied, mut after) = (0, None);
    loop {
        let tx = db.begin().await?;
        let page = crate::records::copy_page(&tx, old, &new, after.take()).await?;
        tx.commit().await?;
        copied += page.copied;
        match page.last {
            Some(last) => after = Some(last),
            None => break,
        }
    }
    let tx = db.begin().await?;
    // The lock the swap needs, taken first: taken after a lighter one, it would wait for a
    // writer that read the table and then waits for that lighter lock — a deadlock.
    tx.execute_unprepared(&format!("LOCK TABLE \"{}\" IN ACCESS EXCLUSIVE MODE", old.name)).await?;
    let caught_up = crate::records::copy_changed(&tx, old, &new).await?;
    take_place(&tx, Backend::Postgres, &new.name, &old.name).await?;
    tx.commit().await?;
    tracing::info!(table = %table.name, typed = table.typed().len(), records = copied, caught_up, "record table rebuilt online with its typed columns");
    Ok(())
}

/// Drops table `old` and gives its name to `new`.
async fn take_place(db: &impl ConnectionTrait, backend: Backend, new: &str, old: &str) -> Result<(), StoreError> {
    db.execute_unprepared(&format!("DROP TABLE \"{old}\"")).await?;
    db.execute_unprepared(&format!("ALTER TABLE \"{new}\" RENAME TO \"{old}\"")).await?;
    if backend == Backend::Postgres {
        // The key's index keeps the name it was made with; the next rebuild would need it.
        db.execute_unprepared(&format!("ALTER INDEX IF EXISTS \"{new}_pkey\" RENAME TO \"{old}_pkey\"")).await?;
    }
    // The planner's statistics went with the old table.
    db.execute_unprepared(&format!("ANALYZE \"{old}\"")).await?;
    Ok(())
}

/// Whether any stored document of `table` holds a value for one of `fields`.
async fn documents_hold(
    db: &impl ConnectionTrait,
    backend: Backend,
    table: &str,
    fields: &[(String, ColumnKind)],
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
