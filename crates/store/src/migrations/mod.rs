//! The system tables' migrations: frozen, numbered, applied in order, each in a transaction of
//! its own that records its number in `schema_migrations`. A released migration is never edited;
//! a change to the system tables is a new file and one line in [`MIGRATIONS`].
//!
//! Until they were split, every system table came from one migration numbered 1, grown in
//! place: a database at version 1 may hold anything from the first release's tables to all of
//! them. So each migration after the first creates only what is missing (`IF NOT EXISTS`, and
//! [`Step::AddColumnIfMissing`]), and a database of any earlier build ends up with every table.
//!
//! Servers starting together on one database migrate one at a time: every migration holds the
//! schema lock ([`crate::schema::begin_schema_change`]) and reads the applied version under it.
//! A database already at [`latest`] is only read: no lock, no DDL.
//!
//! Rolling upgrades expand, then contract. A migration is an *expansion* when servers of the
//! build before it run correctly on what it made (a new table, a column with a default or
//! null); any other is a *contraction*. From migration 12 on each records `serves_from`, the
//! oldest schema version a server may know and still serve the database: an expansion keeps the
//! one before it, a contraction sets its own. So a newer server can join a cluster of older
//! ones: it expands the schema, and the older ones, restarted, still serve it; a release that
//! contracts is rolled out once every server runs the one before it (an older server then
//! refuses the database with a clear error, rather than write it the old way).

use sea_orm::sea_query::{ColumnDef, Expr, ExprTrait, Func, IndexCreateStatement, Query, Table, TableCreateStatement};
use sea_orm::{ConnectionTrait, DatabaseTransaction};

use crate::names::schema_migrations;
use crate::{Store, StoreError};

#[path = "0004_audit.rs"]
mod audit;
#[path = "0011_audit_chains.rs"]
mod audit_chains;
#[path = "0001_base.rs"]
mod base;
#[path = "0007_definitions.rs"]
mod definitions;
#[path = "0005_flows.rs"]
mod flows;
#[path = "0006_index_advice.rs"]
mod index_advice;
#[path = "0003_jobs.rs"]
mod jobs;
#[path = "0009_notifications_read.rs"]
mod notifications_read;
#[path = "0008_organisation.rs"]
mod organisation;
#[path = "0002_outbox.rs"]
mod outbox;
#[path = "0010_outbox_delivery.rs"]
mod outbox_delivery;
#[path = "0012_serves_from.rs"]
mod serves_from;

/// One numbered migration: its version is recorded once its steps ran.
struct Migration {
    version: i64,
    steps: fn() -> Vec<Step>,
    /// Servers of the build before it run correctly on what it made (see the module's note).
    expands: bool,
}

impl Migration {
    const fn contracts(version: i64, steps: fn() -> Vec<Step>) -> Migration {
        Migration { version, steps, expands: false }
    }

    const fn expands(version: i64, steps: fn() -> Vec<Step>) -> Migration {
        Migration { version, steps, expands: true }
    }
}

/// Every migration, in the order they are applied; versions count up from 1. Those before 12
/// are counted as contractions: no server before them knew of `serves_from`.
const MIGRATIONS: [Migration; 12] = [
    Migration::contracts(1, base::steps),
    Migration::contracts(2, outbox::steps),
    Migration::contracts(3, jobs::steps),
    Migration::contracts(4, audit::steps),
    Migration::contracts(5, flows::steps),
    Migration::contracts(6, index_advice::steps),
    Migration::contracts(7, definitions::steps),
    Migration::contracts(8, organisation::steps),
    Migration::contracts(9, notifications_read::steps),
    Migration::contracts(10, outbox_delivery::steps),
    Migration::contracts(11, audit_chains::steps),
    Migration::expands(SERVES_FROM_RECORDED, serves_from::steps),
];

/// The migration that made `schema_migrations.serves_from`: it and every later one record it.
const SERVES_FROM_RECORDED: i64 = 12;

/// The oldest schema version a server may know and serve a database at `version`: the version
/// of the last contraction up to it.
fn serves_from(version: i64) -> i64 {
    MIGRATIONS.iter().filter(|m| m.version <= version && !m.expands).map(|m| m.version).max().unwrap_or(0)
}

/// One change of a migration.
pub(crate) enum Step {
    Table(TableCreateStatement),
    Index(IndexCreateStatement),
    /// Adds a column to a table unless it has it (SQLite has no `ADD COLUMN IF NOT EXISTS`).
    AddColumnIfMissing {
        table: &'static str,
        column: ColumnDef,
    },
    /// A statement only PostgreSQL runs (sequences, which SQLite has not).
    Postgres(&'static str),
}

impl From<TableCreateStatement> for Step {
    fn from(statement: TableCreateStatement) -> Step {
        Step::Table(statement)
    }
}

impl From<IndexCreateStatement> for Step {
    fn from(statement: IndexCreateStatement) -> Step {
        Step::Index(statement)
    }
}

/// The version of a database that ran every migration.
pub(crate) fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

impl Store {
    /// Connects to `url` (`sqlite://file.db`, `sqlite::memory:` or `postgres://…`) and brings
    /// the system tables up to date.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let store = Store::open(url).await?;
        migrate(&store).await?;
        Ok(store)
    }

    /// Connects to the database at `url` as it is, for commands that only read it: no file is
    /// created and no statement changes the schema. A missing SQLite file, or a database whose
    /// system tables this build would migrate, is refused instead.
    pub async fn connect_existing(url: &str) -> Result<Store, StoreError> {
        if let Some(path) = crate::connect::sqlite_file(url)
            && !std::path::Path::new(path).exists()
        {
            return Err(StoreError::Missing(path.to_owned()));
        }
        let store = Store::open(url).await?;
        let found = applied_version(store.db()).await?;
        let refused = match found.cmp(&latest()) {
            std::cmp::Ordering::Less => Some(StoreError::Outdated { found, wanted: latest() }),
            std::cmp::Ordering::Equal => None,
            std::cmp::Ordering::Greater => servable_newer(store.db(), found).await.err(),
        };
        if let Some(refused) = refused {
            store.close().await.ok();
            return Err(refused);
        }
        Ok(store)
    }
}

/// Brings the system tables up to [`latest`]. A database a newer build migrated is refused: this
/// build would write it the old way (records without their typed columns, versions without
/// their snapshots), and a newer server reading it after would trust what it finds.
pub(crate) async fn migrate(store: &Store) -> Result<(), StoreError> {
    let found = applied_version(store.db()).await?;
    if found > latest() {
        return servable_newer(store.db(), found).await;
    }
    if found == latest() {
        return Ok(());
    }
    for migration in &MIGRATIONS {
        let (turn, tx) = crate::schema::begin_schema_change(store).await?;
        tx.execute(&version_table()).await?;
        // Read under the lock: another server may have applied it while this one waited.
        if applied_version(&tx).await? < migration.version {
            apply(&tx, (migration.steps)()).await?;
            let mut record = Query::insert().into_table(schema_migrations::TABLE).to_owned();
            if migration.version < SERVES_FROM_RECORDED {
                record.columns([schema_migrations::VERSION]).values_panic([Expr::val(migration.version)]);
            } else {
                let serves = serves_from(migration.version);
                record
                    .columns([schema_migrations::VERSION, schema_migrations::SERVES_FROM])
                    .values_panic([Expr::val(migration.version), Expr::val(serves)]);
            }
            tx.execute(&record).await?;
            tracing::info!(version = migration.version, "applied migration");
        }
        turn.commit(tx).await?;
    }
    Ok(())
}

/// Whether this build may serve a database a newer one migrated to `found`: only when every
/// migration past this build's expanded the schema (the last one's `serves_from` is at most
/// this build's version). It is then served as it is, migrating nothing.
async fn servable_newer(db: &impl ConnectionTrait, found: i64) -> Result<(), StoreError> {
    let q = Query::select()
        .expr_as(Func::cast_as(Expr::col(schema_migrations::SERVES_FROM), "BIGINT"), "serves_from")
        .from(schema_migrations::TABLE)
        .and_where(Expr::col(schema_migrations::VERSION).eq(found))
        .to_owned();
    let serves: Option<i64> = match db.query_one(&q).await? {
        Some(row) => row.try_get("", "serves_from")?,
        None => None,
    };
    match serves {
        Some(serves) if serves <= latest() => {
            tracing::warn!(found, known = latest(), serves_from = serves, "a newer build expanded the database; serving it as it is");
            Ok(())
        }
        _ => Err(StoreError::Newer { found, known: latest() }),
    }
}

fn version_table() -> TableCreateStatement {
    Table::create()
        .table(schema_migrations::TABLE)
        .if_not_exists()
        .col(ColumnDef::new(schema_migrations::VERSION).integer().not_null().primary_key())
        .to_owned()
}

/// The highest version recorded, 0 on a database that never migrated.
pub(crate) async fn applied_version(db: &impl ConnectionTrait) -> Result<i64, StoreError> {
    if !crate::schema::table_exists(db, schema_migrations::TABLE).await? {
        return Ok(0);
    }
    // COALESCE and the cast make it a BIGINT on both databases, also on an empty table.
    let highest = Func::coalesce([Expr::from(Func::max(Expr::col(schema_migrations::VERSION))), Expr::val(0)]);
    let q = Query::select().expr_as(Func::cast_as(highest, "BIGINT"), "version").from(schema_migrations::TABLE).to_owned();
    let row = db.query_one(&q).await?.ok_or_else(|| StoreError::corrupt(schema_migrations::TABLE, "an aggregate returned no row"))?;
    Ok(row.try_get("", "version")?)
}

async fn apply(tx: &DatabaseTransaction, steps: Vec<Step>) -> Result<(), StoreError> {
    for step in steps {
        match step {
            Step::Table(statement) => {
                tx.execute(&statement).await?;
            }
            Step::Index(statement) => {
                tx.execute(&statement).await?;
            }
            Step::AddColumnIfMissing { table, mut column } => {
                if !crate::schema::columns_of(tx, table).await?.contains(&column.get_column_name()) {
                    tx.execute(&Table::alter().table(table).add_column(&mut column).to_owned()).await?;
                }
            }
            Step::Postgres(sql) => {
                if crate::connect::backend_of(tx) == crate::Backend::Postgres {
                    tx.execute_unprepared(sql).await?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;
    use crate::Store;

    #[tokio::test]
    async fn every_system_name_the_queries_use_is_in_a_migrated_database() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        for (table, columns) in crate::names::ALL {
            let present = crate::schema::columns_of(store.db(), table).await.unwrap();
            for column in *columns {
                assert!(present.iter().any(|c| c == column), "{table}.{column} is not made by the migrations");
            }
        }
    }

    #[tokio::test]
    async fn a_database_a_newer_build_migrated_is_refused() {
        use sea_orm::ConnectionTrait;
        let dir = std::env::temp_dir().join(format!("tessera-newer-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}/t.db", dir.display());
        let store = Store::connect(&url).await.unwrap();
        let next = super::latest() + 1;
        let (turn, tx) = store.begin().await.unwrap();
        tx.execute_unprepared(&format!("INSERT INTO schema_migrations (version) VALUES ({next})")).await.unwrap();
        turn.commit(tx).await.unwrap();
        store.close().await.unwrap();
        let refused = Store::connect(&url).await;
        assert!(matches!(refused, Err(crate::StoreError::Newer { found, .. }) if found == next), "{refused:?}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test]
    async fn a_database_a_newer_build_expanded_is_served_and_one_it_contracted_is_refused() {
        use sea_orm::ConnectionTrait;
        let dir = std::env::temp_dir().join(format!("tessera-expanded-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}/t.db", dir.display());
        let store = Store::connect(&url).await.unwrap();
        let latest = super::latest();
        let recorded =
            |version: i64, serves: i64| format!("INSERT INTO schema_migrations (version, serves_from) VALUES ({version}, {serves})");
        // This build's own expansion keeps the servers of the build before it.
        let row = store.db().query_one_raw(sea_orm::Statement::from_string(
            store.db().get_database_backend(),
            format!("SELECT serves_from FROM schema_migrations WHERE version = {}", super::SERVES_FROM_RECORDED),
        ));
        let serves: i64 = row.await.unwrap().unwrap().try_get_by_index(0).unwrap();
        assert_eq!(serves, super::SERVES_FROM_RECORDED - 1);

        // A newer build expands the schema: this one serves it as it is, and reads it.
        let (turn, tx) = store.begin().await.unwrap();
        tx.execute_unprepared(&recorded(latest + 1, latest)).await.unwrap();
        tx.execute_unprepared("CREATE TABLE from_a_newer_build (id INTEGER PRIMARY KEY)").await.unwrap();
        turn.commit(tx).await.unwrap();
        store.close().await.unwrap();
        let served = Store::connect(&url).await.unwrap();
        assert_eq!(super::applied_version(served.db()).await.unwrap(), latest + 1, "nothing migrated back");
        served.close().await.unwrap();
        Store::connect_existing(&url).await.unwrap().close().await.unwrap();

        // Then it contracts the schema: this one refuses it, also for reading.
        let store = Store::connect(&url).await.unwrap();
        let (turn, tx) = store.begin().await.unwrap();
        tx.execute_unprepared(&recorded(latest + 2, latest + 2)).await.unwrap();
        turn.commit(tx).await.unwrap();
        store.close().await.unwrap();
        for refused in [Store::connect(&url).await.err(), Store::connect_existing(&url).await.err()] {
            assert!(matches!(refused, Some(crate::StoreError::Newer { found, .. }) if found == latest + 2), "{refused:?}");
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn versions_count_up_from_one() {
        for (i, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version, i as i64 + 1, "migration {} is out of order", migration.version);
        }
    }
}
