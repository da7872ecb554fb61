//! Import of a table (rows of text from CSV or a spreadsheet) into a form, through the same
//! validation, rules and permissions as the API. Columns are matched to fields by explicit map,
//! field id or label in any language; values are converted by field type; duplicates (by the
//! form's dedupe keys) are skipped, updated or reported. A dry run does everything and rolls
//! back; all-or-nothing commits only a clean file; row by row keeps the good rows.
//!
//! An import shares the write turn with everyone else's writes (SQLite has one writer; on
//! PostgreSQL its transaction holds the audit chain's lock). Row by row commits every [`BATCH`]
//! rows, and sooner, after any chunk, when another writer waits. A dry run checks each chunk in
//! a transaction of its own, rolled back, so other writers go between any two chunks; its rows
//! see the database and the rows before them in their chunk, and rows repeating a row of an
//! earlier chunk by a dedupe key are found by [`FileKeys`]. (What it cannot foresee: a row whose
//! rules look up, or whose link names by title, a record created by an earlier chunk of the same
//! file; and the update of such an earlier row by `on_duplicate=update`, counted as updated
//! without being checked.) All-or-nothing must be one transaction to stay atomic: it holds the
//! turn to its end, so its files are bounded by [`ALL_OR_NOTHING_MAX_ROWS`]; other writers wait
//! in the queue meanwhile, never fail.

mod background;
mod columns;
mod file_keys;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use defs::{Action, Field};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use store::{Conn, TransactionTrait, Tx, WriteTurn};
use tokio::sync::mpsc;

use self::background::ImportProgress;
pub(crate) use self::background::Imports;
pub use self::background::{IMPORT_REPORT_RETENTION, IMPORT_REPORTS_KEPT, RUNNING_IMPORTS_PER_USER};
use self::columns::{Converted, LinkCache, convert_cells, plan, require_import_rights, row_errors};
use self::file_keys::FileKeys;
use crate::access::Access;
use crate::apps::{FormRuntime, LoadedApp};
use crate::audit::Subject;
use crate::command::Cmd;
use crate::gather;
use crate::hooks::Turn;
use crate::records::Draft;
use crate::{Actor, AppId, Engine, EngineError, FormId};

/// Rows committed together in row-by-row mode (each row still in its own savepoint), rounded up
/// to whole chunks, while no other writer waits.
const BATCH: usize = 500;
/// Rows the drafting thread hands over at a time: one thread switch a chunk, not a row. Also how
/// long, at most, another writer waits for an import (dry run or row by row): 64 rows take a few
/// milliseconds.
const CHUNK: usize = 64;
/// Rows an all-or-nothing import may have. It is one transaction, holding the write turn (and on
/// PostgreSQL the audit chain's lock) from its first row to its last, while every other write
/// waits: 5,000 rows take a quarter of a second at the import benchmark's speed and about two
/// seconds with heavy rules. Larger files import row by row, or in parts.
pub const ALL_OR_NOTHING_MAX_ROWS: usize = 5_000;
/// Chunks drafted ahead of the one being written.
const CHUNKS_AHEAD: usize = 4;
/// How long the writer waits for the drafting thread's next chunk while holding the write turn;
/// past it, what is written is committed and the turn let go while it waits on (a commit a chunk
/// when drafting is only a little slower than writing cost imports about 6 %: 18.6–19.2k against
/// 19.9–20.7k rows/s at 20,000 leads).
const DRAFT_WAIT_HOLDING_TURN: std::time::Duration = std::time::Duration::from_millis(2);

/// Row errors an import report lists; the rest are counted in `failed` and `errors_omitted`.
/// A report is held in memory (and kept for an hour when the import ran in the background), so
/// a file of bad rows must not make it as large as itself.
pub const MAX_REPORTED_ERRORS: usize = 1_000;

/// A table as read from a file: its header row, and its data rows as text, counted beforehand
/// and read as the import goes. A file's rows need not be held in memory: the import takes
/// them a chunk at a time.
pub struct Table {
    pub headers: Vec<String>,
    total: usize,
    rows: Box<dyn Iterator<Item = std::io::Result<Vec<String>>> + Send>,
}

impl Table {
    /// A table of rows held in memory.
    pub fn new(headers: Vec<String>, rows: Vec<Vec<String>>) -> Table {
        Table::streamed(headers, rows.len(), rows.into_iter().map(Ok))
    }

    /// A table of `total` rows, read from `rows` as the import goes. Reading a row can fail
    /// only as reading a file fails (the rows were checked when they were counted): that stops
    /// the import.
    pub fn streamed(
        headers: Vec<String>,
        total: usize,
        rows: impl Iterator<Item = std::io::Result<Vec<String>>> + Send + 'static,
    ) -> Table {
        Table { headers, total, rows: Box::new(rows) }
    }

    /// How many data rows the table has.
    pub fn total(&self) -> usize {
        self.total
    }

    /// The data rows, in order.
    pub fn into_rows(self) -> impl Iterator<Item = std::io::Result<Vec<String>>> {
        self.rows
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDuplicate {
    /// Leave the existing record as it is.
    #[default]
    Skip,
    /// Write the row's values onto the existing record.
    Update,
    /// Report the row as an error.
    Error,
}

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub dry_run: bool,
    /// Commit nothing unless every row is good.
    pub all_or_nothing: bool,
    pub on_duplicate: OnDuplicate,
    /// Header → field id, overriding the automatic match.
    pub map: BTreeMap<String, String>,
}

/// A problem with one row: spreadsheet row number (the header is row 1), column header, reason
/// — the row's error `code`, and the field problem's `code` and `params` where it has one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowError {
    pub row: usize,
    pub column: Option<String>,
    pub message: String,
    pub error: crate::Code,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<forms::FieldCode>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub params: Map<String, Value>,
}

/// The outcome of an import.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    pub total: usize,
    pub created: usize,
    pub updated: usize,
    pub skipped: usize,
    pub failed: usize,
    pub dry_run: bool,
    /// Whether the good rows were written (false for dry runs and failed all-or-nothing imports).
    pub committed: bool,
    /// How each header was matched (`null`: ignored).
    pub columns: Vec<(String, Option<String>)>,
    /// The first [`MAX_REPORTED_ERRORS`] row errors.
    pub errors: Vec<RowError>,
    /// Row errors past those listed.
    pub errors_omitted: usize,
}

impl Engine {
    /// Imports `table` into `form` and returns the report when done.
    pub async fn import(
        &self,
        actor: &Actor,
        app: &AppId,
        form: &FormId,
        table: Table,
        options: &ImportOptions,
    ) -> Result<ImportReport, EngineError> {
        let progress = ImportProgress::default();
        let rows = gather::scope(self.import_rows(actor, app.as_str(), form.as_str(), table, options, &progress));
        self.noting_writes(actor, Box::pin(rows)).await
    }

    /// Imports the rows; call it inside [`gather::scope`], which gathers their side rows.
    async fn import_rows(
        &self,
        actor: &Actor,
        app: &str,
        form: &str,
        table: Table,
        options: &ImportOptions,
        progress: &ImportProgress,
    ) -> Result<ImportReport, EngineError> {
        let loaded = &self.app(app)?;
        let columns = plan(actor, loaded, form, &table.headers, options)?;
        let rt = loaded.form(form)?;
        check_size(&table, options)?;
        let report = ImportReport {
            total: table.total,
            dry_run: options.dry_run,
            columns: table.headers.iter().cloned().zip(columns.iter().map(|c| c.as_ref().map(|f| f.id.clone()))).collect(),
            ..Default::default()
        };
        progress.total.store(table.total as u64, Ordering::Relaxed);
        let headers = table.headers.clone();
        // A row's values are kept beside its draft only to update a duplicate with them.
        let updating = options.on_duplicate == OnDuplicate::Update;
        let (mut drafts, drafter) = self.draft_ahead(actor, loaded, rt, &columns, table, updating);
        let memory = Memory { links: LinkCache::default(), file_keys: options.dry_run.then(FileKeys::default) };
        let ctx = RowContext { actor, app: loaded, rt, columns: &columns, headers: &headers, on_duplicate: options.on_duplicate };
        let mut state = ImportState { row: 1, report, memory }; // the header is row 1
        // The transaction, begun when a chunk arrives: waiting for the drafting thread holds no
        // turn (but in an all-or-nothing import, which is one transaction).
        let mut open: Option<(WriteTurn, Tx)> = None;
        let mut uncommitted = 0;
        loop {
            let chunk = match tokio::time::timeout(DRAFT_WAIT_HOLDING_TURN, drafts.recv()).await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(_) => {
                    if !options.all_or_nothing
                        && let Some((turn, tx)) = open.take()
                    {
                        turn.commit(tx).await?;
                        uncommitted = 0;
                    }
                    match drafts.recv().await {
                        Some(chunk) => chunk,
                        None => break,
                    }
                }
            };
            let (turn, tx) = match open.take() {
                Some(open) => open,
                None => self.store.begin().await?,
            };
            let size = chunk.len();
            self.write_chunk(&tx, &turn, &ctx, chunk, &mut state).await?;
            progress.done.fetch_add(size as u64, Ordering::Relaxed);
            gather::flush(&tx).await?;
            uncommitted += size;
            // A request on this thread that wants to write gets to queue for the turn now: an
            // SQLite file's statements and most rule runs never wait, so the chunk did not yield.
            tokio::task::yield_now().await;
            if options.dry_run {
                // Checked, and never kept: whoever waits writes before the next chunk.
                tx.rollback().await.map_err(store::StoreError::from)?;
                state.memory.chunk_checked();
            } else if options.all_or_nothing || (uncommitted < BATCH && !turn.awaited()) {
                open = Some((turn, tx));
            } else {
                turn.commit(tx).await?;
                uncommitted = 0;
            }
        }
        // A file that could not be read on stops the import (what is open is rolled back).
        drafter.await.map_err(|e| EngineError::Internal(format!("drafting the import's rows failed: {e}")))??;
        let ImportState { mut report, .. } = state;
        let rejected = options.all_or_nothing && report.failed > 0;
        report.committed = !options.dry_run && !rejected;
        match open {
            Some((turn, tx)) if report.committed => turn.commit(tx).await?,
            Some((_, tx)) => tx.rollback().await.map_err(store::StoreError::from)?,
            None => {}
        }
        Ok(report)
    }

    /// Writes a chunk's rows in `tx`. On an SQLite file the rows share one savepoint: SQLite
    /// counts the rows its connection changed, so a failed row that changed nothing (most:
    /// invalid values, duplicates) is only counted; one that did undoes the chunk, which is
    /// written again with a savepoint a row — as every chunk is on PostgreSQL. (A savepoint a row
    /// cost a fifth of an import: SQLite copies each page a savepoint first changes.)
    async fn write_chunk(
        &self,
        tx: &Tx,
        turn: &WriteTurn,
        ctx: &RowContext<'_>,
        chunk: Vec<Row>,
        state: &mut ImportState,
    ) -> Result<(), EngineError> {
        let one_by_one = match turn.changes() {
            Some(_) => self.write_together(tx, turn, ctx, chunk, state).await?,
            None => chunk,
        };
        for Row { cells, ahead } in one_by_one {
            state.row += 1;
            let outcome = self.write_row(tx, ctx, &cells, ahead, &mut state.memory, true).await;
            state.report.tally(state.row, outcome, ctx)?;
        }
        Ok(())
    }

    /// Converts and drafts the table's rows on a thread of their own, a bounded way ahead of
    /// the rows being written: the writer's turn is then left with what needs the database.
    fn draft_ahead(
        &self,
        actor: &Actor,
        app: &Arc<LoadedApp>,
        rt: &FormRuntime,
        columns: &[Option<Field>],
        table: Table,
        keep_values: bool,
    ) -> (mpsc::Receiver<Vec<Row>>, tokio::task::JoinHandle<Result<(), EngineError>>) {
        let (sender, drafts) = mpsc::channel(CHUNKS_AHEAD);
        let (engine, actor, app, form, columns) = (self.clone(), actor.clone(), app.clone(), rt.id().to_owned(), columns.to_vec());
        let drafter = tokio::task::spawn_blocking(move || {
            let headers = table.headers.clone();
            let mut rows = table.into_rows();
            loop {
                let mut chunk = Vec::with_capacity(CHUNK);
                for cells in rows.by_ref().take(CHUNK) {
                    let cells = cells.map_err(|e| EngineError::Internal(format!("reading the file's rows: {e}")))?;
                    let ahead = match convert_cells(&columns, &headers, &cells) {
                        Converted { pending_links: true, .. } => Ahead::Convert,
                        Converted { errors, .. } if !errors.is_empty() => Ahead::Failed(EngineError::Invalid(errors)),
                        Converted { data, .. } => {
                            let kept = keep_values.then(|| data.clone());
                            let drafting = Cmd::new(&(), &actor, &app);
                            Ahead::Drafted(kept, app.form(&form).and_then(|rt| engine.draft(drafting, rt, Value::Object(data), None)))
                        }
                    };
                    chunk.push(Row { cells, ahead });
                }
                if chunk.is_empty() || sender.blocking_send(chunk).is_err() {
                    return Ok(()); // the end of the file, or the import stopped
                }
            }
        });
        (drafts, drafter)
    }

    /// Writes a chunk's rows under one savepoint (on an SQLite file, see [`Engine::write_chunk`]).
    /// Returns the rows left to write with a savepoint each: none, or the whole chunk, undone,
    /// when a row failed after it wrote.
    async fn write_together(
        &self,
        tx: &Tx,
        turn: &WriteTurn,
        ctx: &RowContext<'_>,
        chunk: Vec<Row>,
        state: &mut ImportState,
    ) -> Result<Vec<Row>, EngineError> {
        let ImportState { row, report, memory } = state;
        let (start, counted, chunk_mark) = (*row, report.counts(), gather::mark());
        let savepoint = tx.begin().await.map_err(store::StoreError::from)?;
        let mut written = Vec::with_capacity(chunk.len());
        let mut rows = chunk.into_iter();
        while let Some(Row { cells, ahead }) = rows.next() {
            *row += 1;
            let changes = turn.changes();
            let outcome = self.write_row(&savepoint, ctx, &cells, ahead, memory, false).await;
            written.push(Row { cells, ahead: Ahead::Convert });
            if matches!(&outcome, Err(e) if !fatal(e)) && turn.changes() != changes {
                savepoint.rollback().await.map_err(store::StoreError::from)?;
                gather::truncate(chunk_mark);
                memory.chunk_undone();
                report.reset(counted);
                *row = start;
                return Ok(written.into_iter().chain(rows).collect());
            }
            report.tally(*row, outcome, ctx)?;
        }
        savepoint.commit().await.map_err(store::StoreError::from)?;
        Ok(Vec::new())
    }

    /// Writes one row, converting and drafting it first when the drafting thread could not, in a
    /// savepoint of its own when `savepoint`. A row that fails drops the side rows it gathered.
    async fn write_row(
        &self,
        tx: &Tx,
        ctx: &RowContext<'_>,
        cells: &[String],
        ahead: Ahead,
        memory: &mut Memory,
        savepoint: bool,
    ) -> Result<Written, EngineError> {
        let mark = gather::mark();
        let written = async {
            let (values, draft) = match ahead {
                Ahead::Drafted(values, draft) => (values, draft?),
                Ahead::Failed(e) => return Err(e),
                Ahead::Convert => {
                    let data = self.convert(ctx.cmd(tx), ctx, cells, &mut memory.links).await?;
                    let kept = (ctx.on_duplicate == OnDuplicate::Update).then(|| data.clone());
                    (kept, self.draft_with_rules(Turn::Held, ctx.cmd(tx), ctx.rt, Value::Object(data), None).await?)
                }
            };
            if !savepoint {
                return self.import_row(tx, ctx, values, draft, memory).await;
            }
            // A row that fails halfway leaves nothing behind.
            let savepoint = tx.begin().await.map_err(store::StoreError::from)?;
            let written = self.import_row(&savepoint, ctx, values, draft, memory).await?;
            savepoint.commit().await.map_err(store::StoreError::from)?;
            Ok(written)
        }
        .await;
        if written.is_err() {
            gather::truncate(mark);
        }
        written
    }

    /// Writes one row: creates its record, or skips or updates the record it duplicates.
    async fn import_row(
        &self,
        tx: &impl Conn,
        ctx: &RowContext<'_>,
        values: Option<Map<String, Value>>,
        draft: Draft,
        memory: &mut Memory,
    ) -> Result<Written, EngineError> {
        match self.import_row_as_it_is(tx, ctx, values, draft, memory).await {
            // A duplicate — of this row's keys, or of another key when updating — names the other
            // record only to whom may read it, as every error that leaves the engine.
            Err(e) => Err(self.disclose(ctx.actor, ctx.app.id(), ctx.rt.id(), e).await),
            written => written,
        }
    }

    async fn import_row_as_it_is(
        &self,
        tx: &impl Conn,
        ctx: &RowContext<'_>,
        values: Option<Map<String, Value>>,
        draft: Draft,
        memory: &mut Memory,
    ) -> Result<Written, EngineError> {
        let (cmd, rt, on_duplicate) = (ctx.cmd(tx), ctx.rt, ctx.on_duplicate);
        let form = rt.id();
        match self.create_drafted(cmd, rt, draft).await {
            Ok(created) => match memory.file_keys.as_mut().and_then(|keys| keys.created(rt, &created.data)) {
                None => Ok(Written::Created),
                // The file repeats itself: importing it will find the earlier row's record.
                Some(fields) => match on_duplicate {
                    OnDuplicate::Skip => Ok(Written::Skipped),
                    OnDuplicate::Update => Ok(Written::Updated),
                    OnDuplicate::Error => Err(EngineError::Duplicate { existing: None, fields }),
                },
            },
            Err(EngineError::Duplicate { existing, fields }) => match on_duplicate {
                OnDuplicate::Skip => Ok(Written::Skipped),
                OnDuplicate::Error => Err(EngineError::Duplicate { existing, fields }),
                OnDuplicate::Update => {
                    let existing = existing.ok_or_else(|| EngineError::Internal("a duplicate without its record".into()))?;
                    let stored = store::get(tx, &rt.table, &existing)
                        .await?
                        .ok_or_else(|| EngineError::NotFound(format!("the duplicate {form} record")))?;
                    // Updating is writing to someone's record: the same rights as PATCH.
                    let access = Access::of(cmd.actor, rt);
                    access.require(Action::Update, form)?;
                    if !self.in_scope(cmd, rt, &access, Action::Update, &stored).await? {
                        return Err(EngineError::Forbidden(format!("the duplicate {form} record is not yours to update")));
                    }
                    let values = values.ok_or_else(|| EngineError::Internal("the row's values were not kept".into()))?;
                    self.update_in(cmd, rt, &existing, None, Value::Object(values), crate::records::UPDATE).await?;
                    Ok(Written::Updated)
                }
            },
            Err(e) => Err(e),
        }
    }
}

/// A row as the drafting thread hands it to the writer: its cells (to write it again, should its
/// chunk be undone) and what was made of them.
struct Row {
    cells: Vec<String>,
    ahead: Ahead,
}

enum Ahead {
    /// The row's values (when kept to update a duplicate with) and the new record's draft.
    Drafted(Option<Map<String, Value>>, Result<Draft, EngineError>),
    /// Cells that could not be converted.
    Failed(EngineError),
    /// To be converted and drafted by the writer: the row names linked records by title, looked
    /// up in the import's transaction, or is written again.
    Convert,
}

/// What every row of an import is written with.
struct RowContext<'a> {
    actor: &'a Actor,
    app: &'a Arc<LoadedApp>,
    rt: &'a FormRuntime,
    columns: &'a [Option<Field>],
    headers: &'a [String],
    on_duplicate: OnDuplicate,
}

impl RowContext<'_> {
    /// A row's command in `tx`: the importing person's (depth 0), with their rights.
    fn cmd<'a, C>(&'a self, tx: &'a C) -> Cmd<'a, C> {
        Cmd::new(tx, self.actor, self.app)
    }
}

/// Where an import stands between chunks.
struct ImportState {
    /// The spreadsheet row last written (the header is row 1).
    row: usize,
    report: ImportReport,
    memory: Memory,
}

/// What an import remembers from row to row.
struct Memory {
    links: LinkCache,
    /// A dry run's: see [`FileKeys`].
    file_keys: Option<FileKeys>,
}

impl Memory {
    /// The chunk was written and rolled back (a dry run).
    fn chunk_checked(&mut self) {
        if let Some(keys) = &mut self.file_keys {
            keys.chunk_checked();
        }
    }

    /// The chunk was undone, to be written again.
    fn chunk_undone(&mut self) {
        if let Some(keys) = &mut self.file_keys {
            keys.chunk_undone();
        }
    }
}

/// Refuses, before any row is read, an all-or-nothing import above [`ALL_OR_NOTHING_MAX_ROWS`].
fn check_size(table: &Table, options: &ImportOptions) -> Result<(), EngineError> {
    if options.all_or_nothing && !options.dry_run && table.total > ALL_OR_NOTHING_MAX_ROWS {
        let message = format!(
            "an all-or-nothing import holds every other write until it ends, so it takes at most {ALL_OR_NOTHING_MAX_ROWS} rows; \
             this file has {}: import it row by row, or in parts",
            table.total
        );
        return Err(EngineError::TooLarge {
            message,
            limit: crate::error::Limit { name: "ALL_OR_NOTHING_MAX_ROWS", value: ALL_OR_NOTHING_MAX_ROWS as u64 },
        });
    }
    Ok(())
}

/// A store or internal error stops an import; other errors fail their row.
fn fatal(error: &EngineError) -> bool {
    matches!(error, EngineError::Store(_) | EngineError::Internal(_))
}

/// An import report's counts at some point, to go back to.
#[derive(Clone, Copy)]
struct Counts {
    created: usize,
    updated: usize,
    skipped: usize,
    failed: usize,
    errors: usize,
    errors_omitted: usize,
}

impl ImportReport {
    /// Counts a row's outcome; a fatal error stops the import.
    fn tally(&mut self, row: usize, outcome: Result<Written, EngineError>, ctx: &RowContext<'_>) -> Result<(), EngineError> {
        match outcome {
            Ok(Written::Created) => self.created += 1,
            Ok(Written::Updated) => self.updated += 1,
            Ok(Written::Skipped) => self.skipped += 1,
            Err(e) => {
                self.failed += 1;
                self.list_errors(row_errors(row, &e, ctx.columns, ctx.headers));
                if fatal(&e) {
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Lists row errors up to [`MAX_REPORTED_ERRORS`], and counts the others.
    pub(crate) fn list_errors(&mut self, errors: impl IntoIterator<Item = RowError>) {
        for error in errors {
            if self.errors.len() < MAX_REPORTED_ERRORS {
                self.errors.push(error);
            } else {
                self.errors_omitted += 1;
            }
        }
    }

    fn counts(&self) -> Counts {
        let (created, updated, skipped, failed) = (self.created, self.updated, self.skipped, self.failed);
        Counts { created, updated, skipped, failed, errors: self.errors.len(), errors_omitted: self.errors_omitted }
    }

    fn reset(&mut self, counts: Counts) {
        (self.created, self.updated, self.skipped, self.failed) = (counts.created, counts.updated, counts.skipped, counts.failed);
        self.errors.truncate(counts.errors);
        self.errors_omitted = counts.errors_omitted;
    }
}

enum Written {
    Created,
    Updated,
    Skipped,
}

impl Engine {
    /// Refuses with 403 unless the actor may import into `form` (see [`require_import_rights`]).
    /// The import itself checks again; a route asks first, so that no upload is read for someone
    /// who may not import.
    pub async fn check_import_right(
        &self,
        actor: &Actor,
        app: &AppId,
        form: &FormId,
        on_duplicate: OnDuplicate,
    ) -> Result<(), EngineError> {
        let (app, form) = (app.as_str(), form.as_str());
        let result = self.app(app).and_then(|a| require_import_rights(&Access::of(actor, a.form(form)?), form, on_duplicate));
        self.command(actor, Subject { action: "import", app, form, id: "" }, std::future::ready(result)).await
    }
}
