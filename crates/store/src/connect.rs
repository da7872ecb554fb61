//! Opening a database: the pool, SQLite's writer and the write turns every write takes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DatabaseConnectionType, DatabaseTransaction, DbErr,
    MockDatabaseConnection, SqliteTransactionMode, StatementBuilder, TransactionOptions, TransactionTrait,
};

use crate::StoreError;
use crate::sqlite_reader::{READ_BUDGET_SPENT, SqliteReader};
use crate::sqlite_writer::{BeginError, Durability, SqliteWriter};

/// How long a writer waits for another process to finish writing an SQLite file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request waits for a database connection. While the database is down every wait
/// runs out: the request is answered 503 in this time rather than held (sqlx's default is 30 s),
/// and once the database is back the pool connects again by itself.
pub(crate) const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections an SQLite file's reads on the calling thread take in turn: a read holds one
/// for at most its budget, and a server's threads read at once about as many as it has cores.
const READERS: usize = 4;
/// Upper bounds (seconds) of the buckets of [`Store::write_waits`]: 100 µs, ×4 each, to 1.6 s;
/// past that is the slow tail, up to [`BUSY_TIMEOUT`]. A turn free at once takes microseconds.
const WRITE_WAIT_BUCKETS: [f64; 8] = [0.0001, 0.0004, 0.0016, 0.0064, 0.0256, 0.1024, 0.4096, 1.6384];

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
    /// An SQLite file's connections for reads on the calling thread ([`Store::read`]), handed
    /// out in turn.
    readers: Arc<[DatabaseConnection]>,
    next_reader: Arc<AtomicUsize>,
}

/// Writers of an SQLite file take turns, first come first served, on the connection of
/// [`SqliteWriter`]. SQLite allows one writer; the others would sleep in its busy handler with
/// growing back-off and wake in no order, so under load some waited half a second while others
/// went straight through.
///
/// Every write of the process takes its turn here, sessions and job bookkeeping included: a
/// statement written on the pool instead would meet a long transaction as SQLite's lock, wait
/// out the busy timeout and fail with "database is locked".
#[derive(Debug, Clone)]
struct Writer {
    db: DatabaseConnection,
    connection: SqliteWriter,
    turns: Arc<tokio::sync::Mutex<()>>,
    /// Writers waiting for their turn, so a long piece of work (an import) can tell when to
    /// end its transaction and let them in.
    waiting: Arc<AtomicUsize>,
    /// How long each write waited for its turn and the file's lock.
    waits: prometheus::Histogram,
}

/// This process's turn to write, held with a write transaction until it ends; commit through it.
#[must_use = "the turn must live as long as the transaction"]
pub struct WriteTurn {
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
    writer: Option<SqliteWriter>,
    waiting: Option<Arc<AtomicUsize>>,
}

/// Counts a writer as waiting for its turn until dropped, also when the wait is given up.
struct Waiting(Arc<AtomicUsize>);

impl Waiting {
    fn start(count: &Arc<AtomicUsize>) -> Waiting {
        count.fetch_add(1, Ordering::Relaxed);
        Waiting(count.clone())
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl WriteTurn {
    /// Commits `tx` and ends the turn. On an SQLite file a commit that failed (a full disk, an
    /// I/O error) is rolled back and reported here: sea-orm's own `commit` cannot tell.
    ///
    /// With `?synchronous=full` the commit is acknowledged once the log is synced to disk, and
    /// the next writer's turn begins while this one waits for that sync (`wal_sync.rs`).
    pub async fn commit(self, tx: DatabaseTransaction) -> Result<(), StoreError> {
        tx.commit().await?;
        crate::replica::committed();
        let Some(writer) = &self.writer else { return Ok(()) };
        let durable = writer.committed()?;
        drop(self);
        if let Some(durable) = durable {
            durable.await?;
        }
        Ok(())
    }

    /// Rows changed so far by this turn's SQLite connection (`None` on PostgreSQL and in-memory
    /// SQLite). Unchanged across a piece of work: that work wrote nothing.
    pub fn changes(&self) -> Option<u64> {
        self.writer.as_ref().map(SqliteWriter::total_changes)
    }

    /// Whether another writer may be waiting for this transaction to end. On an SQLite file:
    /// whether one of this process's writers queues for its turn. Elsewhere always: on
    /// PostgreSQL others may wait for a lock the transaction holds (the audit chain's), and an
    /// in-memory SQLite database has one connection for everyone.
    pub fn awaited(&self) -> bool {
        self.waiting.as_ref().is_none_or(|waiting| waiting.load(Ordering::Relaxed) > 0)
    }
}

/// Opens the pool. Servers starting together on a new SQLite file race to put it in WAL mode;
/// SQLite answers the losers "database is locked" at once, without its busy handler, so they
/// try again for as long as the busy timeout would have waited.
async fn connect_pool(options: ConnectOptions, backend: Backend) -> Result<DatabaseConnection, StoreError> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(5);
    loop {
        match Database::connect(options.clone()).await {
            Err(e) if backend == Backend::Sqlite && e.to_string().contains("database is locked") && Instant::now() < deadline => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            done => return Ok(done?),
        }
    }
}

impl Store {
    /// Connects to `url` (`sqlite://file.db`, `sqlite::memory:` or `postgres://…`), as it is:
    /// [`Store::connect`] brings the system tables up to date too.
    pub(crate) async fn open(url: &str) -> Result<Store, StoreError> {
        let backend = if url.starts_with("postgres") { Backend::Postgres } else { Backend::Sqlite };
        let (url, durability) = match backend {
            Backend::Sqlite => sqlite_durability(url)?,
            Backend::Postgres => (url.to_owned(), Durability::Normal),
        };
        let url = url.as_str();
        // An in-memory database exists once per connection: one connection, and no writer of its own.
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let mut options = ConnectOptions::new(url.to_owned());
        options.sqlx_logging(false).acquire_timeout(ACQUIRE_TIMEOUT);
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
                    .map_sqlx_sqlite_opts(move |o| {
                        o.create_if_missing(true)
                            .journal_mode(SqliteJournalMode::Wal)
                            .synchronous(match durability {
                                Durability::Normal => SqliteSynchronous::Normal,
                                Durability::Full => SqliteSynchronous::Full,
                            })
                            .busy_timeout(BUSY_TIMEOUT)
                            .foreign_keys(true)
                    });
            }
        }
        let db = connect_pool(options, backend).await?;
        let (writer, readers) = match backend {
            // The pool has created the file and put it in WAL mode.
            Backend::Sqlite if !in_memory => {
                let connection = SqliteWriter::open(sqlite_path(url), durability)?;
                let db = mock_connection(connection.clone());
                let writer =
                    Writer { db, connection, turns: Default::default(), waiting: Default::default(), waits: write_wait_histogram()? };
                let readers = (0..READERS).map(|_| SqliteReader::open(sqlite_path(url)).map(mock_connection)).collect::<Result<_, _>>()?;
                (Some(writer), readers)
            }
            _ => (None, Arc::from([])),
        };
        Ok(Store { db, backend, writer, readers, next_reader: Default::default() })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// How long writes waited to begin (their turn, then the file's lock), in seconds; `None`
    /// where writers do not queue in this process (PostgreSQL, in-memory SQLite).
    pub fn write_waits(&self) -> Option<&prometheus::Histogram> {
        self.writer.as_ref().map(|writer| &writer.waits)
    }

    /// The pool, for reads outside a transaction.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Runs `read` — reads outside a transaction, a few rows at a time — on the connection that
    /// answers them soonest: on an SQLite file, on the calling thread, where rows come back
    /// without a thread switch each; past its budget there, or elsewhere, on the pool. `read`
    /// may run twice, so it must only read.
    pub async fn read<T, F, Fut>(&self, read: F) -> Result<T, StoreError>
    where
        F: Fn(DatabaseConnection) -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        if !self.readers.is_empty() {
            let reader = &self.readers[self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len()];
            match read(reader.clone()).await {
                Err(StoreError::Db(DbErr::Custom(e))) if e == READ_BUDGET_SPENT => {}
                done => return done,
            }
        }
        read(self.db.clone()).await
    }

    /// Starts a write transaction, after waiting for this process's turn to write (SQLite
    /// files). On SQLite it takes the write lock at once (IMMEDIATE): a deferred transaction
    /// that later writes fails with SQLITE_BUSY under a concurrent writer. Keep the turn until
    /// the transaction ends, and commit through it: `let (turn, tx) = store.begin().await?; …
    /// turn.commit(tx).await?;`.
    pub async fn begin(&self) -> Result<(WriteTurn, DatabaseTransaction), StoreError> {
        let Some(writer) = &self.writer else {
            let options = TransactionOptions { sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate), ..Default::default() };
            return Ok((WriteTurn { _turn: None, writer: None, waiting: None }, self.db.begin_with_options(options).await?));
        };
        // Observed when the transaction has begun, or when waiting for it failed.
        let waited = writer.waits.start_timer();
        let waiting = Waiting::start(&writer.waiting);
        let turn = writer.turns.clone().lock_owned().await;
        drop(waiting);
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
        waited.observe_duration();
        let turn = WriteTurn { _turn: Some(turn), writer: Some(writer.connection.clone()), waiting: Some(writer.waiting.clone()) };
        Ok((turn, tx))
    }

    /// Runs one statement that writes as a transaction of its own, in turn with the process's
    /// other writers: never on the pool, where it would meet a long transaction as SQLite's lock
    /// and fail once the busy timeout ran out. Returns the rows it changed.
    pub async fn write(&self, statement: &impl StatementBuilder) -> Result<u64, StoreError> {
        let (turn, tx) = self.begin().await?;
        let changed = tx.execute(statement).await?.rows_affected();
        turn.commit(tx).await?;
        Ok(changed)
    }

    /// Closes the pool, waiting for connections in use.
    pub async fn close(self) -> Result<(), StoreError> {
        Ok(self.db.close().await?)
    }
}

/// A sea-orm connection over a connection the store drives itself.
fn mock_connection(connection: impl sea_orm::MockDatabaseTrait + 'static) -> DatabaseConnection {
    DatabaseConnectionType::MockDatabaseConnection(Arc::new(MockDatabaseConnection::new(connection))).into()
}

fn write_wait_histogram() -> Result<prometheus::Histogram, StoreError> {
    let opts =
        prometheus::HistogramOpts::new("tessera_sqlite_write_wait_seconds", "Time a write waited for its turn to write the SQLite file")
            .buckets(WRITE_WAIT_BUCKETS.to_vec());
    prometheus::Histogram::with_opts(opts).map_err(|e| DbErr::Custom(format!("cannot make the write wait histogram: {e}")).into())
}

/// The file of an SQLite URL (`sqlite://file.db?mode=rwc`, `sqlite:file.db`).
fn sqlite_path(url: &str) -> &str {
    let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
    path.split('?').next().unwrap_or(path)
}

/// Takes Tessera's own `synchronous` parameter (`normal` or `full`) out of an SQLite `url`, which
/// is then sqlx's.
fn sqlite_durability(url: &str) -> Result<(String, Durability), StoreError> {
    let Some((base, query)) = url.split_once('?') else { return Ok((url.to_owned(), Durability::Normal)) };
    let mut durability = Durability::Normal;
    let mut rest = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("synchronous", value)) => {
                durability = match value.to_ascii_lowercase().as_str() {
                    "normal" => Durability::Normal,
                    "full" => Durability::Full,
                    other => return Err(StoreError::Url(format!("synchronous={other}: it is `normal` or `full`"))),
                }
            }
            _ => rest.push(pair),
        }
    }
    let url = if rest.is_empty() { base.to_owned() } else { format!("{base}?{}", rest.join("&")) };
    Ok((url, durability))
}

/// The file of an SQLite `url`; `None` for PostgreSQL and in-memory databases.
pub(crate) fn sqlite_file(url: &str) -> Option<&str> {
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    (url.starts_with("sqlite") && !in_memory).then(|| sqlite_path(url))
}

pub(crate) fn backend_of(db: &impl sea_orm::ConnectionTrait) -> Backend {
    match db.get_database_backend() {
        DatabaseBackend::Postgres => Backend::Postgres,
        _ => Backend::Sqlite,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sea_orm::ConnectionTrait;
    use sea_orm::sea_query::{Expr, Query};

    use super::READ_BUDGET_SPENT;
    use crate::Store;

    /// `PRAGMA synchronous` on the pool and on the writer: 1 is NORMAL, 2 FULL.
    async fn synchronous_of(store: &Store) -> (i64, i64) {
        let pragma = sea_orm::Statement::from_string(sea_orm::DatabaseBackend::Sqlite, "PRAGMA synchronous");
        let read = |row: Option<sea_orm::QueryResult>| row.unwrap().try_get_by_index::<i64>(0).unwrap();
        let pool = read(store.db().query_one_raw(pragma.clone()).await.unwrap());
        let (turn, tx) = store.begin().await.unwrap();
        let writer = read(tx.query_one_raw(pragma).await.unwrap());
        turn.commit(tx).await.unwrap();
        (pool, writer)
    }

    #[tokio::test]
    async fn the_database_url_chooses_when_a_commit_is_durable() {
        let dir = std::env::temp_dir().join(format!("tessera-sync-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let syncs = |store: &Store| store.writer.as_ref().unwrap().connection.wal_syncs();
        let normal = Store::connect(&format!("sqlite://{}/a.db", dir.display())).await.unwrap();
        assert_eq!(synchronous_of(&normal).await, (1, 1), "NORMAL by default");
        assert_eq!(syncs(&normal), None, "and commits are acknowledged once written");
        let full = Store::connect(&format!("sqlite://{}/b.db?synchronous=full", dir.display())).await.unwrap();
        assert_eq!(synchronous_of(&full).await, (2, 1), "FULL: the writer's commits are synced by the log's sync thread");
        assert!(syncs(&full).unwrap() >= 1, "the commit of `synchronous_of` waited for a sync");
        let refused = Store::connect(&format!("sqlite://{}/c.db?synchronous=sometimes", dir.display())).await;
        assert!(matches!(refused, Err(crate::StoreError::Url(ref m)) if m.contains("normal")), "{refused:?}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn with_full_durability_commits_made_together_share_a_sync() {
        let dir = std::env::temp_dir().join(format!("tessera-group-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::connect(&format!("sqlite://{}/g.db?synchronous=full", dir.display())).await.unwrap();
        store.db().execute_unprepared("CREATE TABLE t (id INTEGER PRIMARY KEY)").await.unwrap();
        let before = store.writer.as_ref().unwrap().connection.wal_syncs().unwrap();
        const WRITES: i64 = 64;
        let writes = (0..WRITES).map(|id| {
            let store = store.clone();
            tokio::spawn(async move {
                store.write(&Query::insert().into_table("t").columns(["id"]).values_panic([Expr::val(id)]).to_owned()).await
            })
        });
        for write in writes.collect::<Vec<_>>() {
            assert_eq!(write.await.unwrap().unwrap(), 1, "every write is acknowledged");
        }
        let syncs = store.writer.as_ref().unwrap().connection.wal_syncs().unwrap() - before;
        assert!((1..WRITES as u64).contains(&syncs), "{WRITES} commits made together took {syncs} syncs");
        let count =
            store.db().query_one_raw(sea_orm::Statement::from_string(sea_orm::DatabaseBackend::Sqlite, "SELECT COUNT(*) AS n FROM t"));
        assert_eq!(count.await.unwrap().unwrap().try_get::<i64>("", "n").unwrap(), WRITES);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test]
    async fn a_write_outside_a_transaction_queues_for_the_turn_and_is_seen_waiting() {
        // Before: sessions and job bookkeeping were written on the pool, outside the queue: behind
        // a long transaction they waited out SQLite's busy timeout and failed, "database is locked".
        let dir = std::env::temp_dir().join(format!("tessera-turn-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::connect(&format!("sqlite://{}/t.db", dir.display())).await.unwrap();
        store.db().execute_unprepared("CREATE TABLE t (id INTEGER PRIMARY KEY)").await.unwrap();

        let (turn, tx) = store.begin().await.unwrap();
        assert!(!turn.awaited(), "nobody waits yet");
        let insert = |id: i64| Query::insert().into_table("t").columns(["id"]).values_panic([Expr::val(id)]).to_owned();
        let queued = tokio::spawn({
            let (store, insert) = (store.clone(), insert(2));
            async move { store.write(&insert).await }
        });
        for _ in 0..10_000 {
            if turn.awaited() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(turn.awaited(), "the write waits for the turn, where the transaction holding it can see it");
        tx.execute(&insert(1)).await.unwrap();
        turn.commit(tx).await.unwrap();
        assert_eq!(queued.await.unwrap().unwrap(), 1, "then it is written");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test]
    async fn a_read_past_its_budget_on_the_calling_thread_is_answered_by_the_pool() {
        let dir = std::env::temp_dir().join(format!("tessera-read-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::connect(&format!("sqlite://{}/r.db", dir.display())).await.unwrap();
        store
            .write(&Query::insert().into_table("meta").columns(["key", "value"]).values_panic([Expr::val("k"), Expr::val("v")]).to_owned())
            .await
            .unwrap();
        let statement = |sql: &str| sea_orm::Statement::from_string(sea_orm::DatabaseBackend::Sqlite, sql.to_owned());
        let count = |db: sea_orm::DatabaseConnection, sql: &'static str| async move {
            let row = db.query_one_raw(statement(sql)).await?.expect("a row");
            Ok::<i64, crate::StoreError>(row.try_get("", "n")?)
        };
        let quick = "SELECT COUNT(*) AS n FROM meta WHERE key = 'k'";
        let long = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT COUNT(*) AS n FROM c";

        assert_eq!(count(store.readers[0].clone(), quick).await.unwrap(), 1, "a short read runs on the calling thread");
        let cut = count(store.readers[0].clone(), long).await;
        assert!(matches!(cut, Err(crate::StoreError::Db(sea_orm::DbErr::Custom(ref m))) if m == READ_BUDGET_SPENT), "{cut:?}");
        assert_eq!(store.read(|db| count(db, long)).await.unwrap(), 3_000_000, "the pool runs it to the end");
        assert_eq!(store.read(|db| count(db, quick)).await.unwrap(), 1);

        let write = store.readers[0].execute_unprepared("DELETE FROM meta").await;
        assert!(write.is_err(), "the reader never writes: {write:?}");
        let hidden_write = store.readers[0].query_one_raw(statement("DELETE FROM meta RETURNING key")).await;
        assert!(hidden_write.is_err(), "not even through a query: {hidden_write:?}");
        assert_eq!(store.read(|db| count(db, quick)).await.unwrap(), 1);
        std::fs::remove_dir_all(&dir).ok();
    }
}
