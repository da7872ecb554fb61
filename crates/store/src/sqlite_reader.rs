//! Reads of an SQLite file on the calling thread.
//!
//! Through sqlx a read runs on the connection's own thread and every row comes back over a
//! channel, a thread switch each: a list page of 50 records spent more time handing rows over
//! and copying their values than SQLite spent finding them. Here a read runs on the calling
//! thread and its rows come back at once. The store keeps a few readers, each a connection of
//! its own, and hands them out in turn ([`crate::Store::read`]). A read that is not done within
//! [`READ_BUDGET`] is interrupted and answered [`READ_BUDGET_SPENT`]; `Store::read` then runs
//! it again on sqlx's pool, so a long read (a scan, a report) never holds the calling thread —
//! a server's request worker — for longer than that.
//!
//! It plugs into sea-orm as the writer does ([`crate::sqlite_writer`]); it only reads, and has
//! no transactions (a read inside a write transaction runs on the writer's connection).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rusqlite::OpenFlags;
use sea_orm::{DbBackend, DbErr, ExecResult, MockDatabase, MockDatabaseTrait, QueryResult, Statement, Transaction};

use crate::sqlite_rows::{STATEMENT_CACHE, error, rows_of};

/// How long a read may hold the calling thread before it is handed to the pool instead.
const READ_BUDGET: Duration = Duration::from_millis(2);
/// SQLite's virtual machine steps between two looks at the clock.
const STEPS_BETWEEN_CHECKS: i32 = 1000;
/// The error of a read interrupted at its budget.
pub(crate) const READ_BUDGET_SPENT: &str = "the read ran past its budget on the calling thread";

/// One connection that only reads. sea-orm holds it behind a lock, so one read at a time.
#[derive(Debug)]
pub(crate) struct SqliteReader {
    conn: rusqlite::Connection,
}

impl SqliteReader {
    /// Reads the file at `path`, which the pool has created and put in WAL mode.
    pub(crate) fn open(path: &str) -> Result<SqliteReader, DbErr> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let conn = rusqlite::Connection::open_with_flags(path, flags).map_err(error)?;
        // Opened read-write, as any reader of a WAL file that may have to rebuild its index;
        // `query_only` keeps a statement that writes from ever running outside the writer's turn.
        // A page cache of 16 MB (SQLite's default is 2 MB): reads cut short at their budget
        // pass through it too, and at 2 MB pushed out the pages lists come back to.
        conn.execute_batch("PRAGMA query_only = ON; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -16384;").map_err(error)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(SqliteReader { conn })
    }
}

impl MockDatabaseTrait for SqliteReader {
    fn query(&mut self, _: usize, statement: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let conn = &self.conn;
        let deadline = Instant::now() + READ_BUDGET;
        let spent = Arc::new(AtomicBool::new(false));
        let spent_here = spent.clone();
        let past_deadline = move || {
            let past = Instant::now() > deadline;
            spent_here.store(past, Ordering::Relaxed);
            past
        };
        conn.progress_handler(STEPS_BETWEEN_CHECKS, Some(past_deadline)).map_err(error)?;
        let rows = rows_of(conn, &statement);
        conn.progress_handler(0, None::<fn() -> bool>).map_err(error)?;
        let rows = match rows {
            Err(_) if spent.load(Ordering::Relaxed) => return Err(DbErr::Custom(READ_BUDGET_SPENT.into())),
            rows => rows?,
        };
        MockDatabase::new(DbBackend::Sqlite).append_query_results([rows]).query(0, statement)
    }

    fn execute(&mut self, _: usize, statement: Statement) -> Result<ExecResult, DbErr> {
        Err(DbErr::Custom(format!("the SQLite reader does not write: {}", statement.sql)))
    }

    fn begin(&mut self) {}

    fn commit(&mut self) {}

    fn rollback(&mut self) {}

    fn drain_transaction_log(&mut self) -> Vec<Transaction> {
        Vec::new()
    }

    fn get_database_backend(&self) -> DbBackend {
        DbBackend::Sqlite
    }

    fn ping(&self) -> Result<(), DbErr> {
        self.conn.execute_batch("SELECT 1").map_err(error)
    }
}
