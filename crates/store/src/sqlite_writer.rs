//! The connection write transactions of an SQLite file run on.
//!
//! sqlx runs each SQLite connection on a thread of its own and hands every statement over a
//! channel and back: two thread switches a statement, some 40 µs each on a small virtual machine.
//! A write transaction is a dozen statements and SQLite lets only one run at a time, so those
//! hand-offs, not SQLite, set how many writes a second the whole server could make. Here the
//! writer's statements run on the calling thread against a connection it owns (they take
//! microseconds: WAL mode, no sync at commit). Reads outside a write transaction stay on sqlx's
//! pool.
//!
//! The code above sees the same sea-orm `ConnectionTrait` as on PostgreSQL: the writer plugs into
//! sea-orm as a `MockDatabaseTrait`, sea-orm's hook for a connection it does not drive itself.
//! (Its `ProxyDatabaseTrait` is meant for this but does not compile beside sqlx-sqlite in sea-orm
//! 2.0.4.) Rows reach sea-orm through `MockDatabase`, the one public way to make its results;
//! it keeps a row's columns by name, so they must be read by name (the store does), not position.
//!
//! The store's writer turn admits one transaction at a time, so the one connection is never
//! shared between two transactions; nesting (`begin` inside a transaction) becomes savepoints.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::ErrorCode;

use sea_orm::{DbBackend, DbErr, ExecResult, MockDatabase, MockDatabaseTrait, MockExecResult, QueryResult, Statement, Transaction};

use crate::sqlite_rows::{STATEMENT_CACHE, bound, error, rows_of};
use crate::wal_sync::WalSync;

/// How long a statement inside a transaction may wait for a lock (blocking its thread). Once
/// `BEGIN IMMEDIATE` holds the write lock, a WAL database has nothing left to wait for but
/// rare checkpoint work; waiting to begin happens in the store, without blocking.
const STATEMENT_BUSY_TIMEOUT: Duration = Duration::from_millis(200);
/// How often the checkpoint thread copies the log into the database while writes go on.
const CHECKPOINT_PAUSE: Duration = Duration::from_millis(20);
/// Pages in the log (4 KiB each) past which the writer checkpoints itself: only when the
/// checkpoint thread cannot keep up (SQLite's own default is 1,000).
const BACKSTOP_CHECKPOINT_PAGES: i64 = 2000;

/// When an SQLite commit is acknowledged. `Normal` (the default): once it is in the write-ahead
/// log; a process that dies loses nothing acknowledged, a machine that loses power may lose the
/// last commits. `Full`: once the log is synced to the disk too, by a sync the commits made
/// meanwhile share ([`WalSync`]; `docs/benchmarks.md` has both). Chosen with `?synchronous=full` on the database URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    Normal,
    Full,
}

impl Durability {
    pub(crate) fn pragma(self) -> &'static str {
        match self {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        }
    }
}

/// One connection; clones share it.
#[derive(Debug, Clone)]
pub(crate) struct SqliteWriter {
    state: Arc<Mutex<State>>,
    /// With `?synchronous=full`: the syncs of the log that make commits durable together.
    wal_sync: Option<Arc<WalSync>>,
}

#[derive(Debug)]
struct State {
    conn: rusqlite::Connection,
    /// Open transactions: 0 none, 1 the transaction, more its savepoints.
    depth: u32,
    /// Why the last `begin` failed, if it did.
    begin_error: Option<rusqlite::Error>,
    /// Why the last commit failed, if it did (sea-orm's `commit` cannot report it either).
    commit_error: Option<DbErr>,
    checkpointer: Checkpointer,
}

/// Copies committed pages from the write-ahead log into the database file, on a thread of its
/// own. SQLite would make the checkpoint inside whichever commit takes the log past its
/// threshold: a pause of tens of milliseconds (the copy and an fsync) for that one writer and
/// every writer queued behind it. Woken by commits, it checkpoints at most once a
/// [`CHECKPOINT_PAUSE`], however many commits came in between.
#[derive(Debug)]
struct Checkpointer(std::sync::mpsc::SyncSender<()>);

impl Checkpointer {
    fn start(path: &str, durability: Durability) -> Result<Checkpointer, DbErr> {
        let conn = rusqlite::Connection::open(path).map_err(error)?;
        conn.execute_batch(&format!("PRAGMA synchronous = {};", durability.pragma())).map_err(error)?;
        let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
        let checkpoints = move || {
            // Ends when the writer is dropped.
            while woken.recv().is_ok() {
                std::thread::sleep(CHECKPOINT_PAUSE);
                // PASSIVE: copies what no reader still needs and never waits; busy (another
                // process checkpointing) is fine, the next round catches up.
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::debug!(error = %e, "checkpoint skipped");
                }
            }
        };
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(checkpoints)
            .map_err(|e| DbErr::Custom(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Checkpointer(wake))
    }

    fn committed(&self) {
        // Full: a checkpoint is already due.
        let _ = self.0.try_send(());
    }
}

impl State {
    /// Runs one statement without values, prepared once: an import opens and ends a savepoint
    /// for every row.
    fn run(&self, sql: &str) -> rusqlite::Result<()> {
        self.conn.prepare_cached(sql)?.execute([]).map(drop)
    }
}

/// Why no write transaction could begin.
pub(crate) enum BeginError {
    /// Another connection or process is writing: try again shortly.
    Busy,
    Failed(DbErr),
}

impl SqliteWriter {
    /// Opens `path` with the pool's settings (WAL is already the file's mode).
    pub(crate) fn open(path: &str, durability: Durability) -> Result<SqliteWriter, DbErr> {
        let conn = rusqlite::Connection::open(path).map_err(error)?;
        conn.busy_timeout(STATEMENT_BUSY_TIMEOUT).map_err(error)?;
        // A savepoint (one per imported row) copies each page it first changes to a statement
        // journal; in memory that is a copy, in a temporary file a write.
        // With FULL durability the commit itself does not sync: `wal_sync` does, for all the
        // commits made meanwhile, and each is acknowledged after (`WriteTurn::commit`).
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;").map_err(error)?;
        // Checkpoints run on a thread of their own; the writer makes one only if that thread
        // falls far behind.
        conn.pragma_update(None, "wal_autocheckpoint", BACKSTOP_CHECKPOINT_PAGES).map_err(error)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let checkpointer = Checkpointer::start(path, durability)?;
        let wal_sync = match durability {
            Durability::Normal => None,
            // A read first, so the log file exists.
            Durability::Full => Some(
                conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(())).map_err(error).and_then(|()| WalSync::start(path))?,
            ),
        };
        let state = State { conn, depth: 0, begin_error: None, commit_error: None, checkpointer };
        Ok(SqliteWriter { state: Arc::new(Mutex::new(state)), wal_sync })
    }

    /// Whether the `begin` just made opened a transaction (sea-orm's `begin` cannot report
    /// failing to).
    pub(crate) fn began(&self) -> Result<(), BeginError> {
        let mut state = self.state();
        match state.begin_error.take() {
            None if state.depth > 0 => Ok(()),
            None => Err(BeginError::Failed(DbErr::Custom("no write transaction is open".into()))),
            Some(e) if matches!(e.sqlite_error_code(), Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)) => Err(BeginError::Busy),
            Some(e) => Err(BeginError::Failed(error(e))),
        }
    }

    /// Whether the transaction just committed is stored; a failed commit was rolled back. With
    /// FULL durability, what waits until it is also synced to disk.
    pub(crate) fn committed(&self) -> Result<Option<impl Future<Output = Result<(), DbErr>> + use<>>, DbErr> {
        self.state().commit_error.take().map_or(Ok(()), Err)?;
        Ok(self.wal_sync.as_ref().map(|sync| sync.committed()))
    }

    /// Syncs of the log made so far (FULL durability only).
    #[cfg(test)]
    pub(crate) fn wal_syncs(&self) -> Option<u64> {
        self.wal_sync.as_ref().map(|sync| sync.syncs.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Rows inserted, updated or deleted on this connection since it opened.
    pub(crate) fn total_changes(&self) -> u64 {
        self.state().conn.total_changes()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves nothing half-done that the next user would trip
        // on: an open transaction is rolled back by the dropped `DatabaseTransaction`.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ends the innermost open transaction or savepoint.
    fn end(&self, commit: bool) -> Result<(), DbErr> {
        let mut state = self.state();
        // Nothing is open after a `begin` that failed; its transaction is dropped unused.
        let Some(depth) = state.depth.checked_sub(1) else { return Ok(()) };
        state.depth = depth;
        match (depth, commit) {
            (0, true) => state.run("COMMIT").inspect(|()| state.checkpointer.committed()),
            (0, false) => state.run("ROLLBACK"),
            (n, true) => state.run(&format!("RELEASE SAVEPOINT sp{n}")),
            (n, false) => state.run(&format!("ROLLBACK TO SAVEPOINT sp{n}")).and_then(|()| state.run(&format!("RELEASE SAVEPOINT sp{n}"))),
        }
        .map_err(error)
    }
}

impl MockDatabaseTrait for SqliteWriter {
    fn query(&mut self, _: usize, statement: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let rows = rows_of(&self.state().conn, &statement)?;
        MockDatabase::new(DbBackend::Sqlite).append_query_results([rows]).query(0, statement)
    }

    fn execute(&mut self, _: usize, statement: Statement) -> Result<ExecResult, DbErr> {
        let result = {
            let state = self.state();
            let mut prepared = state.conn.prepare_cached(&statement.sql).map_err(error)?;
            let changed = prepared.execute(rusqlite::params_from_iter(bound(&statement)?)).map_err(error)?;
            MockExecResult {
                last_insert_id: u64::try_from(state.conn.last_insert_rowid()).unwrap_or_default(),
                rows_affected: changed as u64,
            }
        };
        MockDatabase::new(DbBackend::Sqlite).append_exec_results([result]).execute(0, statement)
    }

    fn begin(&mut self) {
        let mut state = self.state();
        let result = match state.depth {
            // IMMEDIATE takes the write lock now: a deferred transaction that later writes
            // fails with SQLITE_BUSY when another process wrote in between. It does not wait
            // for the lock here, where it would block the thread.
            0 => state.conn.busy_timeout(Duration::ZERO).and_then(|()| {
                let begun = state.run("BEGIN IMMEDIATE");
                state.conn.busy_timeout(STATEMENT_BUSY_TIMEOUT).and(begun)
            }),
            n => state.run(&format!("SAVEPOINT sp{n}")),
        };
        // sea-orm's `begin` cannot return an error: the store asks `began` before handing the
        // transaction out.
        match result {
            Ok(()) => state.depth += 1,
            Err(e) => state.begin_error = Some(e),
        }
    }

    fn commit(&mut self) {
        if let Err(e) = self.end(true) {
            // Whatever failed to commit must not stay open for the next writer.
            self.rollback_all();
            self.state().commit_error = Some(e);
        }
    }

    fn rollback(&mut self) {
        if let Err(e) = self.end(false) {
            tracing::error!(error = %e, "could not roll back a write transaction");
            self.rollback_all();
        }
    }

    fn drain_transaction_log(&mut self) -> Vec<Transaction> {
        Vec::new()
    }

    fn get_database_backend(&self) -> DbBackend {
        DbBackend::Sqlite
    }

    fn ping(&self) -> Result<(), DbErr> {
        self.state().conn.execute_batch("SELECT 1").map_err(error)
    }
}

impl SqliteWriter {
    fn rollback_all(&self) {
        let mut state = self.state();
        state.depth = 0;
        if !state.conn.is_autocommit() {
            state.conn.execute_batch("ROLLBACK").ok();
        }
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};

    use crate::Store;

    #[tokio::test]
    async fn a_failed_commit_is_rolled_back_reported_and_leaves_the_writer_usable() {
        let dir = std::env::temp_dir().join(format!("tessera-writer-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::connect(&format!("sqlite://{}/w.db", dir.display())).await.unwrap();
        store.db().execute_unprepared("CREATE TABLE parent (id INTEGER PRIMARY KEY)").await.unwrap();
        let child = "CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)";
        store.db().execute_unprepared(child).await.unwrap();

        // A deferred foreign key is checked at COMMIT, which then fails.
        let (turn, tx) = store.begin().await.unwrap();
        tx.execute_unprepared("INSERT INTO child (id, parent) VALUES (1, 42)").await.unwrap();
        let error = turn.commit(tx).await.unwrap_err();
        assert!(error.to_string().contains("FOREIGN KEY"), "{error}");
        let count = |table: &'static str| {
            let db = store.db().clone();
            async move {
                let q = Statement::from_string(DbBackend::Sqlite, format!("SELECT COUNT(*) AS n FROM {table}"));
                db.query_one_raw(q).await.unwrap().unwrap().try_get::<i64>("", "n").unwrap()
            }
        };
        assert_eq!(count("child").await, 0, "nothing of the failed transaction is stored");

        let (turn, tx) = store.begin().await.unwrap();
        tx.execute_unprepared("INSERT INTO parent (id) VALUES (42)").await.unwrap();
        tx.execute_unprepared("INSERT INTO child (id, parent) VALUES (1, 42)").await.unwrap();
        turn.commit(tx).await.unwrap();
        assert_eq!(count("child").await, 1);
        std::fs::remove_dir_all(&dir).ok();
    }
}
