//! System tables and their versioned migrations, each applied in its own transaction, plus the
//! per-form record tables and their indexes, created when an app is loaded.

use sea_orm::sea_query::{Alias, ColumnDef, Expr, Index, Query, Table, TableCreateStatement};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, TransactionTrait};

use crate::connect::Backend;
use crate::{ColumnKind, Store, StoreError};

/// Migrations in order; the position (1-based) is the version recorded once applied.
fn migrations(backend: DatabaseBackend) -> Vec<Vec<Statement>> {
    let tables: Vec<TableCreateStatement> = vec![
        Table::create()
            .table("users")
            .if_not_exists()
            .col(ColumnDef::new("username").string().not_null().primary_key())
            .col(ColumnDef::new("display_name").string().not_null())
            .col(ColumnDef::new("password_hash").string().not_null())
            .col(ColumnDef::new("roles").text().not_null())
            .col(ColumnDef::new("department").string().null())
            .col(ColumnDef::new("created_at").string().not_null())
            .to_owned(),
        Table::create()
            .table("sessions")
            .if_not_exists()
            .col(ColumnDef::new("token_hash").string().not_null().primary_key())
            .col(ColumnDef::new("username").string().not_null())
            .col(ColumnDef::new("created_at").string().not_null())
            .col(ColumnDef::new("expires_at").string().not_null())
            .col(ColumnDef::new("csrf_hash").string().not_null())
            .to_owned(),
        Table::create()
            .table("counters")
            .if_not_exists()
            .col(ColumnDef::new("key").string().not_null().primary_key())
            .col(ColumnDef::new("value").big_integer().not_null())
            .to_owned(),
        Table::create()
            .table("meta")
            .if_not_exists()
            .col(ColumnDef::new("key").string().not_null().primary_key())
            .col(ColumnDef::new("value").text().not_null())
            .to_owned(),
        Table::create()
            .table("record_history")
            .if_not_exists()
            .col(ColumnDef::new("record_id").string().not_null())
            .col(ColumnDef::new("version").big_integer().not_null())
            .col(ColumnDef::new("app").string().not_null())
            .col(ColumnDef::new("form").string().not_null())
            .col(ColumnDef::new("op").string().not_null())
            .col(ColumnDef::new("snapshot").text().not_null())
            .col(ColumnDef::new("changed_by").string().not_null())
            .col(ColumnDef::new("changed_at").string().not_null())
            .primary_key(Index::create().col("record_id").col("version"))
            .to_owned(),
        Table::create()
            .table("outbox")
            .if_not_exists()
            .col(ColumnDef::new("id").string().not_null().primary_key())
            .col(ColumnDef::new("app").string().not_null())
            .col(ColumnDef::new("kind").string().not_null())
            .col(ColumnDef::new("recipient").string().not_null())
            .col(ColumnDef::new("payload").text().not_null())
            .col(ColumnDef::new("created_at").string().not_null())
            .col(ColumnDef::new("delivered_at").string().null())
            .to_owned(),
        Table::create()
            .table("jobs")
            .if_not_exists()
            .col(ColumnDef::new("id").string().not_null().primary_key())
            .col(ColumnDef::new("key").string().not_null().unique_key())
            .col(ColumnDef::new("app").string().not_null())
            .col(ColumnDef::new("kind").string().not_null())
            .col(ColumnDef::new("state").string().not_null())
            .col(ColumnDef::new("due_at").string().not_null())
            .col(ColumnDef::new("payload").text().not_null())
            .col(ColumnDef::new("attempts").big_integer().not_null())
            .col(ColumnDef::new("claimed_by").string().null())
            .col(ColumnDef::new("claimed_at").string().null())
            .col(ColumnDef::new("last_error").text().null())
            .to_owned(),
        Table::create()
            .table("audit_log")
            .if_not_exists()
            .col(ColumnDef::new("seq").big_integer().not_null().primary_key())
            .col(ColumnDef::new("at").string().not_null())
            .col(ColumnDef::new("actor").string().not_null())
            .col(ColumnDef::new("action").string().not_null())
            .col(ColumnDef::new("app").string().not_null())
            .col(ColumnDef::new("form").string().not_null())
            .col(ColumnDef::new("record_id").string().not_null())
            .col(ColumnDef::new("outcome").string().not_null())
            .col(ColumnDef::new("before").text().not_null())
            .col(ColumnDef::new("after").text().not_null())
            .col(ColumnDef::new("prev_hash").string().not_null())
            .col(ColumnDef::new("hash").string().not_null())
            .to_owned(),
        Table::create()
            .table("tasks")
            .if_not_exists()
            .col(ColumnDef::new("id").string().not_null().primary_key())
            .col(ColumnDef::new("app").string().not_null())
            .col(ColumnDef::new("form").string().not_null())
            .col(ColumnDef::new("record_id").string().not_null())
            .col(ColumnDef::new("entry").big_integer().not_null())
            .col(ColumnDef::new("step").string().not_null())
            .col(ColumnDef::new("seat").big_integer().not_null())
            .col(ColumnDef::new("assignee").string().not_null())
            .col(ColumnDef::new("status").string().not_null())
            .col(ColumnDef::new("created_at").string().not_null())
            .col(ColumnDef::new("decided_at").string().null())
            .to_owned(),
        Table::create()
            .table("flow_versions")
            .if_not_exists()
            .col(ColumnDef::new("app").string().not_null())
            .col(ColumnDef::new("flow").string().not_null())
            .col(ColumnDef::new("version").big_integer().not_null())
            .col(ColumnDef::new("definition").text().not_null())
            .col(ColumnDef::new("created_at").string().not_null())
            .primary_key(Index::create().col("app").col("flow").col("version"))
            .to_owned(),
    ];
    // Tasks are read by assignee (my to-dos) and by record (reconciling an approval).
    let indexes = [
        Index::create().if_not_exists().name("ix_tasks_assignee").table("tasks").col("assignee").col("status").to_owned(),
        Index::create().if_not_exists().name("ix_tasks_record").table("tasks").col("record_id").col("status").to_owned(),
    ];
    let statements = tables.iter().map(|t| backend.build(t)).chain(indexes.iter().map(|i| backend.build(i)));
    vec![statements.collect()]
}

pub(crate) async fn migrate(store: &Store) -> Result<(), StoreError> {
    let db = store.db();
    let create = Table::create()
        .table("schema_migrations")
        .if_not_exists()
        .col(ColumnDef::new("version").integer().not_null().primary_key())
        .to_owned();
    db.execute(&create).await?;
    let applied = db
        .query_all(&Query::select().column("version").from("schema_migrations").to_owned())
        .await?
        .iter()
        .filter_map(|row| row.try_get::<i32>("", "version").ok())
        .max()
        .unwrap_or(0);
    for (i, statements) in migrations(db.get_database_backend()).into_iter().enumerate() {
        let version = i as i32 + 1;
        if version <= applied {
            continue;
        }
        let tx = db.begin().await?;
        for statement in statements {
            tx.execute_raw(statement).await?;
        }
        let record = Query::insert().into_table("schema_migrations").columns(["version"]).values_panic([Expr::val(version)]).to_owned();
        tx.execute(&record).await?;
        tx.commit().await?;
        tracing::info!(version, "applied migration");
    }
    Ok(())
}

/// Creates a form's record table and indexes if they are missing. `indexes` are lists of SQL
/// expressions made by [`crate::query`] from field ids, so a query and its index match exactly.
pub(crate) async fn ensure_form_table(
    store: &Store,
    table: &str,
    typed: &[(String, ColumnKind)],
    indexes: &[Vec<String>],
) -> Result<(), StoreError> {
    let db = store.db();
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
    ensure_typed_columns(store, table, typed).await?;
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
    Ok(())
}

/// Adds a generated column `f_<field>` for each typed field that lacks one: the field's value
/// read from `data` with the type of its kind. SQLite computes a virtual column on read (it costs
/// no space, and an index on it is a plain column index the planner knows covers a query);
/// PostgreSQL stores it, so index-only scans and narrow reads need no JSON at all.
async fn ensure_typed_columns(store: &Store, table: &str, typed: &[(String, ColumnKind)]) -> Result<(), StoreError> {
    if typed.is_empty() {
        return Ok(());
    }
    let db = store.db();
    let backend = store.backend();
    let existing: Vec<String> = match backend {
        Backend::Sqlite => {
            let q = format!("SELECT name FROM pragma_table_xinfo('{table}')");
            db.query_all_raw(Statement::from_string(DatabaseBackend::Sqlite, q))
                .await?
                .iter()
                .filter_map(|r| r.try_get("", "name").ok())
                .collect()
        }
        Backend::Postgres => {
            let q = Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT column_name::text AS name FROM information_schema.columns WHERE table_name = $1 AND table_schema = current_schema()",
                [table.into()],
            );
            db.query_all_raw(q).await?.iter().filter_map(|r| r.try_get("", "name").ok()).collect()
        }
    };
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
