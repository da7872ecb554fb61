//! Commits made durable together, for an SQLite file opened with `?synchronous=full`.
//!
//! SQLite's own `synchronous = FULL` syncs the write-ahead log inside every commit, while the
//! writer holds the file's only write lock: writers queue behind each other's disk flushes, one
//! flush a write. Here the writer commits as with NORMAL (the log written, not synced) and lets
//! the next writer in; each commit is acknowledged only once a sync of the log that began after
//! it has finished. A thread of its own syncs the log whenever commits are waiting, so one sync
//! covers every commit made while the last one ran: group commit, without changing what a
//! transaction is. Linux flushes a file's written pages whichever descriptor asks, so a
//! descriptor of our own on the `-wal` file serves.

use std::fs::File;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sea_orm::DbErr;
use tokio::sync::watch;

/// Where the syncs stand: every commit numbered up to `upto` is durable — unless a sync failed
/// (`failed`). A failed sync may have lost written pages that a later sync would not report, so
/// from then on no commit is acknowledged as durable (as PostgreSQL stops at a failed fsync).
#[derive(Debug, Clone, Default)]
struct Synced {
    upto: u64,
    failed: Option<Arc<str>>,
}

#[derive(Debug)]
pub(crate) struct WalSync {
    /// Commits made so far; a commit's number is its place in this count.
    committed: AtomicU64,
    /// Syncs made so far (what a test and a reader of the metrics can see grouped).
    pub(crate) syncs: Arc<AtomicU64>,
    wake: std::sync::mpsc::SyncSender<()>,
    synced: watch::Receiver<Synced>,
}

impl WalSync {
    /// Starts the sync thread for the database file at `path` (its log is `<path>-wal`, which
    /// exists once the file is in WAL mode and a connection is open).
    pub(crate) fn start(path: &str) -> Result<Arc<WalSync>, DbErr> {
        let log_path = format!("{path}-wal");
        let log = File::open(&log_path).map_err(|e| DbErr::Custom(format!("cannot open the write-ahead log {log_path}: {e}")))?;
        let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
        let (publish, synced) = watch::channel(Synced::default());
        let sync = Arc::new(WalSync { committed: AtomicU64::new(0), syncs: Default::default(), wake, synced });
        let (counted, syncs) = (Arc::downgrade(&sync), sync.syncs.clone());
        let run = move || {
            // Ends when the writer (and with it the last `WalSync`) is gone.
            while woken.recv().is_ok() {
                let Some(upto) = counted.upgrade().map(|s| s.committed.load(Ordering::Acquire)) else { break };
                if upto <= publish.borrow().upto {
                    continue;
                }
                let failed = publish.borrow().failed.clone().or_else(|| {
                    let e = log.sync_data().err()?;
                    tracing::error!(error = %e, "could not sync the write-ahead log: no commit is acknowledged from now on");
                    Some(Arc::from(e.to_string()))
                });
                syncs.fetch_add(1, Ordering::Relaxed);
                publish.send_replace(Synced { upto, failed });
            }
        };
        std::thread::Builder::new()
            .name("sqlite-wal-sync".into())
            .spawn(run)
            .map_err(|e| DbErr::Custom(format!("cannot start the write-ahead log's sync thread: {e}")))?;
        Ok(sync)
    }

    /// Numbers the commit just made and returns what waits until it is durable. Call after
    /// the commit, then let the next writer in before waiting.
    pub(crate) fn committed(&self) -> impl Future<Output = Result<(), DbErr>> + use<> {
        let number = self.committed.fetch_add(1, Ordering::AcqRel) + 1;
        // Full: the thread is already due to look again, and will see this commit.
        let _ = self.wake.try_send(());
        let mut synced = self.synced.clone();
        async move {
            let state = synced
                .wait_for(|s| s.upto >= number)
                .await
                .map_err(|_| DbErr::Custom("the write-ahead log's sync thread stopped".into()))?
                .clone();
            match state.failed {
                None => Ok(()),
                Some(e) => Err(DbErr::Custom(format!("the commit is written but could not be synced to disk: {e}"))),
            }
        }
    }
}
