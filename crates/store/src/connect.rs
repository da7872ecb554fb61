//! Opening a database and running the system migrations.

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseBackend, DatabaseConnection, DatabaseTransaction, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

use crate::StoreError;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A connection pool plus the knowledge of its backend.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    backend: Backend,
}

impl Store {
    /// Connects to `url` (`sqlite://file.db`, `sqlite::memory:` or `postgres://…`) and brings
    /// the system tables up to date.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let backend = if url.starts_with("postgres") { Backend::Postgres } else { Backend::Sqlite };
        let mut options = ConnectOptions::new(url.to_owned());
        options.sqlx_logging(false);
        match backend {
            Backend::Postgres => {
                options.max_connections(16).min_connections(1);
            }
            Backend::Sqlite => {
                // An in-memory database exists once per connection.
                let in_memory = url.contains(":memory:") || url.contains("mode=memory");
                options
                    .max_connections(if in_memory { 1 } else { 8 })
                    .min_connections(1)
                    .idle_timeout(None::<Duration>)
                    .max_lifetime(None::<Duration>)
                    .map_sqlx_sqlite_opts(|o| {
                        o.create_if_missing(true)
                            .journal_mode(SqliteJournalMode::Wal)
                            .synchronous(SqliteSynchronous::Normal)
                            .busy_timeout(Duration::from_secs(10))
                            .foreign_keys(true)
                    });
            }
        }
        let db = Database::connect(options).await?;
        let store = Store { db, backend };
        crate::schema::migrate(&store).await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for reads outside a transaction.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once (IMMEDIATE): a
    /// deferred transaction that later writes fails with SQLITE_BUSY under a concurrent writer.
    pub async fn begin(&self) -> Result<DatabaseTransaction, StoreError> {
        let options = TransactionOptions { sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate), ..Default::default() };
        Ok(self.db.begin_with_options(options).await?)
    }

    /// Closes the pool, waiting for connections in use.
    pub async fn close(self) -> Result<(), StoreError> {
        Ok(self.db.close().await?)
    }
}

pub(crate) fn backend_of(db: &impl sea_orm::ConnectionTrait) -> Backend {
    match db.get_database_backend() {
        DatabaseBackend::Postgres => Backend::Postgres,
        _ => Backend::Sqlite,
    }
}
