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

use sea_orm::sea_query::{ColumnDef, Expr, Func, IndexCreateStatement, Query, Table, TableCreateStatement};
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

/// One numbered migration: its version is recorded once its steps ran.
struct Migration {
    version: i64,
    steps: fn() -> Vec<Step>,
}

/// Every migration, in the order they are applied; versions count up from 1.
const MIGRATIONS: [Migration; 11] = [
    Migration { version: 1, steps: base::steps },
    Migration { version: 2, steps: outbox::steps },
    Migration { version: 3, steps: jobs::steps },
    Migration { version: 4, steps: audit::steps },
    Migration { version: 5, steps: flows::steps },
    Migration { version: 6, steps: index_advice::steps },
    Migration { version: 7, steps: definitions::steps },
    Migration { version: 8, steps: organisation::steps },
    Migration { version: 9, steps: notifications_read::steps },
    Migration { version: 10, steps: outbox_delivery::steps },
    Migration { version: 11, steps: audit_chains::steps },
];

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
        if found != latest() {
            store.close().await.ok();
            return Err(StoreError::Outdated { found, wanted: latest() });
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
        return Err(StoreError::Newer { found, known: latest() });
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
            let record = Query::insert()
                .into_table(schema_migrations::TABLE)
                .columns([schema_migrations::VERSION])
                .values_panic([Expr::val(migration.version)])
                .to_owned();
            tx.execute(&record).await?;
            tracing::info!(version = migration.version, "applied migration");
        }
        turn.commit(tx).await?;
    }
    Ok(())
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

    #[test]
    fn versions_count_up_from_one() {
        for (i, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version, i as i64 + 1, "migration {} is out of order", migration.version);
        }
    }
}
