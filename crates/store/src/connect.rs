//! Opening a database and running the system migrations.

use std::sync::Arc;
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
    /// Writers of an SQLite file take turns here, first come first served. SQLite allows one
    /// writer; the others would sleep in its busy handler with growing back-off and wake in no
    /// order, so under load some waited half a second while others went straight through.
    writers: Option<Arc<tokio::sync::Mutex<()>>>,
}

/// This process's turn to write, held with a write transaction until it ends.
#[must_use = "the turn must live as long as the transaction"]
pub struct WriteTurn(#[allow(dead_code)] Option<tokio::sync::OwnedMutexGuard<()>>);

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
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let writers = (backend == Backend::Sqlite && !in_memory).then(|| Arc::new(tokio::sync::Mutex::new(())));
        let store = Store { db, backend, writers };
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

    /// Starts a write transaction, after waiting for this process's turn to write (SQLite
    /// files). On SQLite it takes the write lock at once (IMMEDIATE): a deferred transaction
    /// that later writes fails with SQLITE_BUSY under a concurrent writer. Keep the turn until
    /// the transaction ends: `let (_turn, tx) = store.begin().await?;`.
    pub async fn begin(&self) -> Result<(WriteTurn, DatabaseTransaction), StoreError> {
        let turn = match &self.writers {
            Some(writers) => Some(writers.clone().lock_owned().await),
            None => None,
        };
        let options = TransactionOptions { sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate), ..Default::default() };
        Ok((WriteTurn(turn), self.db.begin_with_options(options).await?))
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
