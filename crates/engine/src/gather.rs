//! Side rows — history versions, audit rows, jobs — gathered while an import runs and written a
//! chunk of rows at a time, with one multi-row INSERT a table, instead of three or four
//! statements a row. Nothing in the transaction reads them back before they are written.
//!
//! An import runs its rows inside [`scope`]; every engine write in that task then hands its side
//! rows here ([`history`], [`audit`], [`job`], and the snapshot of the version it superseded,
//! [`supersede`]) rather than writing them, so the audit chain keeps the order of the writes.
//! A superseded version gathered in the same chunk gets its snapshot before it is inserted.
//! Outside an import they are written at once. The import marks where a row begins and drops
//! what the row gathered when it fails, as its savepoint rolls back; it [`flush`]es before each
//! commit.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;

use store::{AuditEntry, Conn, HistoryEntry, Job, StoreError};

tokio::task_local! {
    static GATHERED: RefCell<SideRows>;
}

#[derive(Default)]
struct SideRows {
    history: Vec<HistoryEntry>,
    audit: Vec<AuditEntry>,
    jobs: Vec<Job>,
    superseded: Vec<Superseded>,
}

impl SideRows {
    /// Gives each superseded version gathered here its snapshot, the first one given (as the
    /// store's [`store::fill_snapshot`] keeps a filled row); returns those written before.
    fn fill_gathered_history(&mut self, superseded: Vec<Superseded>) -> Vec<Superseded> {
        let live: HashMap<(&str, i64), usize> = self
            .history
            .iter()
            .enumerate()
            .filter(|(_, e)| e.snapshot == store::LIVE_SNAPSHOT)
            .map(|(i, e)| ((e.record_id.as_str(), e.version), i))
            .collect();
        let places: Vec<Option<usize>> = superseded.iter().map(|s| live.get(&(s.record_id.as_str(), s.version)).copied()).collect();
        let mut written_before = Vec::new();
        for (s, place) in superseded.into_iter().zip(places) {
            match place {
                Some(i) if self.history[i].snapshot == store::LIVE_SNAPSHOT => self.history[i].snapshot = s.snapshot,
                Some(_) => {}
                None => written_before.push(s),
            }
        }
        written_before
    }
}

/// A version of a record that a newer one replaced in the live row, with its snapshot, which
/// its history row now keeps.
pub(crate) struct Superseded {
    pub(crate) record_id: String,
    pub(crate) version: i64,
    pub(crate) snapshot: String,
}

/// How many side rows were gathered at some point (see [`truncate`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark(usize, usize, usize, usize);

/// Runs `work` with side rows gathered.
pub(crate) async fn scope<T>(work: impl Future<Output = T>) -> T {
    GATHERED.scope(RefCell::default(), work).await
}

/// Gives `f` the gathered rows, when this task gathers them.
fn gathered<T>(f: impl FnOnce(&mut SideRows) -> T) -> Option<T> {
    GATHERED.try_with(|rows| f(&mut rows.borrow_mut())).ok()
}

pub(crate) fn mark() -> Mark {
    gathered(|rows| Mark(rows.history.len(), rows.audit.len(), rows.jobs.len(), rows.superseded.len())).unwrap_or(Mark(0, 0, 0, 0))
}

/// Drops what was gathered since `mark`.
pub(crate) fn truncate(mark: Mark) {
    gathered(|rows| {
        rows.history.truncate(mark.0);
        rows.audit.truncate(mark.1);
        rows.jobs.truncate(mark.2);
        rows.superseded.truncate(mark.3);
    });
}

/// Writes what was gathered.
pub(crate) async fn flush(tx: &impl Conn) -> Result<(), StoreError> {
    let Some(mut rows) = gathered(std::mem::take) else { return Ok(()) };
    let superseded = std::mem::take(&mut rows.superseded);
    let written_before = rows.fill_gathered_history(superseded);
    store::insert_history_rows(tx, &rows.history).await?;
    for s in &written_before {
        store::fill_snapshot(tx, &s.record_id, s.version, &s.snapshot).await?;
    }
    store::append_audit_rows(tx, &rows.audit).await?;
    store::add_jobs(tx, &rows.jobs).await?;
    Ok(())
}

/// Hands `row` over to the gathered rows when this task gathers them; otherwise gives it back.
fn hand_over<T>(row: T, list: fn(&mut SideRows) -> &mut Vec<T>) -> Option<T> {
    let mut row = Some(row);
    gathered(|rows| list(rows).extend(row.take()));
    row
}

pub(crate) async fn history(tx: &impl Conn, entry: HistoryEntry) -> Result<(), StoreError> {
    match hand_over(entry, |rows| &mut rows.history) {
        Some(entry) => store::insert_history(tx, &entry).await,
        None => Ok(()),
    }
}

pub(crate) async fn supersede(tx: &impl Conn, superseded: Superseded) -> Result<(), StoreError> {
    match hand_over(superseded, |rows| &mut rows.superseded) {
        Some(s) => store::fill_snapshot(tx, &s.record_id, s.version, &s.snapshot).await,
        None => Ok(()),
    }
}

pub(crate) async fn audit(tx: &impl Conn, entry: AuditEntry) -> Result<(), StoreError> {
    match hand_over(entry, |rows| &mut rows.audit) {
        Some(entry) => store::append_audit(tx, &entry).await,
        None => Ok(()),
    }
}

pub(crate) async fn job(tx: &impl Conn, job: Job) -> Result<(), StoreError> {
    match hand_over(job, |rows| &mut rows.jobs) {
        Some(job) => store::add_job(tx, &job).await.map(drop),
        None => Ok(()),
    }
}
