//! Opening a database and running the system migrations.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseBackend, DatabaseConnection, DatabaseConnectionType, DatabaseTransaction, DbErr,
    MockDatabaseConnection, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use crate::StoreError;
use crate::sqlite_writer::{BeginError, SqliteWriter};

/// How long a writer waits for another process to finish writing an SQLite file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// An SQLite file's write transactions: its writer connection and the turns writers take.
    writer: Option<Writer>,
}

/// Writers of an SQLite file take turns, first come first served, on the connection of
/// [`SqliteWriter`]. SQLite allows one writer; the others would sleep in its busy handler with
/// growing back-off and wake in no order, so under load some waited half a second while others
/// went straight through.
#[derive(Debug, Clone)]
struct Writer {
    db: DatabaseConnection,
    connection: SqliteWriter,
    turns: Arc<tokio::sync::Mutex<()>>,
}

/// This process's turn to write, held with a write transaction until it ends; commit through it.
#[must_use = "the turn must live as long as the transaction"]
pub struct WriteTurn {
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
    writer: Option<SqliteWriter>,
}

impl WriteTurn {
    /// Commits `tx` and ends the turn. On an SQLite file a commit that failed (a full disk, an
    /// I/O error) is rolled back and reported here: sea-orm's own `commit` cannot tell.
    pub async fn commit(self, tx: DatabaseTransaction) -> Result<(), StoreError> {
        tx.commit().await?;
        match &self.writer {
            Some(writer) => Ok(writer.committed()?),
            None => Ok(()),
        }
    }

    /// Rows changed so far by this turn's SQLite connection (`None` on PostgreSQL and in-memory
    /// SQLite). Unchanged across a piece of work: that work wrote nothing.
    pub fn changes(&self) -> Option<u64> {
        self.writer.as_ref().map(SqliteWriter::total_changes)
    }
}

impl Store {
    /// Connects to `url` (`sqlite://file.db`, `sqlite::memory:` or `postgres://…`) and brings
    /// the system tables up to date.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let backend = if url.starts_with("postgres") { Backend::Postgres } else { Backend::Sqlite };
        // An in-memory database exists once per connection: one connection, and no writer of its own.
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let mut options = ConnectOptions::new(url.to_owned());
        options.sqlx_logging(false);
        match backend {
            Backend::Postgres => {
                options.max_connections(16).min_connections(1);
            }
            Backend::Sqlite => {
                options
                    .max_connections(if in_memory { 1 } else { 8 })
                    .min_connections(1)
                    .idle_timeout(None::<Duration>)
                    .max_lifetime(None::<Duration>)
                    .map_sqlx_sqlite_opts(|o| {
                        o.create_if_missing(true)
                            .journal_mode(SqliteJournalMode::Wal)
                            .synchronous(SqliteSynchronous::Normal)
                            .busy_timeout(BUSY_TIMEOUT)
                            .foreign_keys(true)
                    });
            }
        }
        let db = Database::connect(options).await?;
        let writer = match backend {
            // The pool has created the file and put it in WAL mode.
            Backend::Sqlite if !in_memory => {
                let connection = SqliteWriter::open(sqlite_path(url))?;
                let db = DatabaseConnectionType::MockDatabaseConnection(Arc::new(MockDatabaseConnection::new(connection.clone()))).into();
                Some(Writer { db, connection, turns: Arc::new(tokio::sync::Mutex::new(())) })
            }
            _ => None,
        };
        let store = Store { db, backend, writer };
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
    /// the transaction ends, and commit through it: `let (turn, tx) = store.begin().await?; …
    /// turn.commit(tx).await?;`.
    pub async fn begin(&self) -> Result<(WriteTurn, DatabaseTransaction), StoreError> {
        let Some(writer) = &self.writer else {
            let options = TransactionOptions { sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate), ..Default::default() };
            return Ok((WriteTurn { _turn: None, writer: None }, self.db.begin_with_options(options).await?));
        };
        let turn = writer.turns.clone().lock_owned().await;
        // Another process writing to the file: wait for it without blocking this thread, as
        // long as SQLite's own busy timeout would have.
        let deadline = Instant::now() + BUSY_TIMEOUT;
        let mut pause = Duration::from_millis(1);
        let tx = loop {
            let tx = writer.db.begin().await?;
            match writer.connection.began() {
                Ok(()) => break tx,
                Err(BeginError::Busy) if Instant::now() < deadline => {
                    drop(tx);
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
                Err(BeginError::Busy) => return Err(DbErr::Custom("the database file stayed locked by another writer".into()).into()),
                Err(BeginError::Failed(e)) => return Err(e.into()),
            }
        };
        Ok((WriteTurn { _turn: Some(turn), writer: Some(writer.connection.clone()) }, tx))
    }

    /// Closes the pool, waiting for connections in use.
    pub async fn close(self) -> Result<(), StoreError> {
        Ok(self.db.close().await?)
    }
}

/// The file of an SQLite URL (`sqlite://file.db?mode=rwc`, `sqlite:file.db`).
fn sqlite_path(url: &str) -> &str {
    let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
    path.split('?').next().unwrap_or(path)
}

pub(crate) fn backend_of(db: &impl sea_orm::ConnectionTrait) -> Backend {
    match db.get_database_backend() {
        DatabaseBackend::Postgres => Backend::Postgres,
        _ => Backend::Sqlite,
    }
}
