//! A PostgreSQL read replica: its connection, and the positions in the primary's write-ahead
//! log that tell whether it has replayed a write yet. Which reads go to it is the engine's.

use std::cell::Cell;
use std::future::Future;

use sea_orm::{ConnectOptions, ConnectionTrait, DatabaseConnection, Statement};

use crate::StoreError;

tokio::task_local! {
    /// Whether the task committed a write, while [`noting_commits`] watches it.
    static COMMITTED: Cell<bool>;
}

/// Runs `work`, answering also whether it committed a write through a [`crate::WriteTurn`].
pub async fn noting_commits<T>(work: impl Future<Output = T>) -> (T, bool) {
    COMMITTED
        .scope(Cell::new(false), async {
            let out = work.await;
            (out, COMMITTED.with(Cell::get))
        })
        .await
}

/// Notes a commit for the [`noting_commits`] around this task, if there is one.
pub(crate) fn committed() {
    let _ = COMMITTED.try_with(|c| c.set(true));
}

/// Connects to the replica at `url` (`postgres://…`), a pool of its own; nothing is migrated:
/// the replica has what the primary has.
pub async fn connect_replica(url: &str) -> Result<DatabaseConnection, StoreError> {
    if !url.starts_with("postgres") {
        return Err(StoreError::Url(format!("a read replica is a PostgreSQL server, not `{url}`")));
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options.sqlx_logging(false).acquire_timeout(crate::connect::ACQUIRE_TIMEOUT).max_connections(16).min_connections(0);
    Ok(sea_orm::Database::connect(options).await?)
}

/// How far the primary `db` has written its log: past every commit acknowledged so far.
pub async fn wal_written(db: &impl ConnectionTrait) -> Result<u64, StoreError> {
    let position = wal_position(db, "SELECT pg_current_wal_lsn()::text").await?;
    position.ok_or_else(|| StoreError::corrupt("pg_current_wal_lsn", "no position"))
}

/// How far the replica `db` has replayed the primary's log (`None`: it is not replaying one,
/// so it has whatever it has).
pub async fn wal_replayed(db: &impl ConnectionTrait) -> Result<Option<u64>, StoreError> {
    wal_position(db, "SELECT pg_last_wal_replay_lsn()::text").await
}

async fn wal_position(db: &impl ConnectionTrait, sql: &str) -> Result<Option<u64>, StoreError> {
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await?;
    let text: Option<String> = match row {
        Some(row) => row.try_get_by_index(0)?,
        None => None,
    };
    text.map(|t| parse_lsn(&t).ok_or_else(|| StoreError::corrupt("wal position", format!("`{t}` is not a log position")))).transpose()
}

/// A log position as PostgreSQL writes it (`16/B374D848`: two hexadecimal halves).
fn parse_lsn(text: &str) -> Option<u64> {
    let (high, low) = text.split_once('/')?;
    Some((u64::from_str_radix(high, 16).ok()? << 32) | u64::from_str_radix(low, 16).ok()?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn log_positions_order_by_both_halves() {
        assert_eq!(super::parse_lsn("0/16B3748"), Some(0x16B_3748));
        assert!(super::parse_lsn("1/0") > super::parse_lsn("0/FFFFFFFF"));
        assert_eq!(super::parse_lsn("nonsense"), None);
    }
}
