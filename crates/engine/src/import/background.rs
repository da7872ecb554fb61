//! Imports started in the background: their progress, read while they run, and their reports,
//! kept for a while after they finish.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use uuid::Uuid;

use super::{ImportOptions, ImportReport, Table, check_size, plan};
use crate::{Actor, AppId, Engine, EngineError, FormId, gather};

/// How long the report of a finished background import stays readable.
pub const IMPORT_REPORT_RETENTION: Duration = Duration::from_secs(60 * 60);
/// Finished background import reports kept per user (the newest): a report holds every row
/// error, and one user's imports must not evict another's reports.
pub const IMPORT_REPORTS_KEPT: usize = 20;
/// Background imports one user may have running at a time: each holds its uploaded file (on
/// disk) and a drafting thread, and they queue for the one write turn anyway.
pub const RUNNING_IMPORTS_PER_USER: usize = 2;

/// How far an import has come, readable while it runs.
#[derive(Debug, Default)]
pub(crate) struct ImportProgress {
    pub(super) total: AtomicU64,
    pub(super) done: AtomicU64,
    finished: Mutex<Option<Finished>>,
    owner: String,
}

/// The outcome of a background import and when it came.
#[derive(Debug)]
struct Finished {
    at: Instant,
    report: Result<ImportReport, String>,
}

impl ImportProgress {
    fn finished_at(&self) -> Option<Instant> {
        self.finished.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|f| f.at)
    }
}

/// Running and finished background imports of this process, by id. Finished ones are kept for
/// [`IMPORT_REPORT_RETENTION`], at most [`IMPORT_REPORTS_KEPT`] a user; then they answer 404.
#[derive(Clone, Default)]
pub(crate) struct Imports(Arc<Mutex<HashMap<String, Arc<ImportProgress>>>>);

impl Imports {
    /// Registers a new import, unless its owner already has [`RUNNING_IMPORTS_PER_USER`] running.
    fn add(&self, id: String, progress: Arc<ImportProgress>) -> Result<(), EngineError> {
        let mut imports = self.0.lock().unwrap_or_else(|e| e.into_inner());
        expire(&mut imports, Instant::now());
        let running = imports.values().filter(|p| p.owner == progress.owner && p.finished_at().is_none()).count();
        if running >= RUNNING_IMPORTS_PER_USER {
            return Err(EngineError::RateLimited { retry_after_secs: 10 });
        }
        imports.insert(id, progress);
        Ok(())
    }

    fn get(&self, id: &str) -> Option<Arc<ImportProgress>> {
        let mut imports = self.0.lock().unwrap_or_else(|e| e.into_inner());
        expire(&mut imports, Instant::now());
        imports.get(id).cloned()
    }
}

/// Forgets the reports finished longer than [`IMPORT_REPORT_RETENTION`] before `now`, and each
/// user's finished reports beyond the newest [`IMPORT_REPORTS_KEPT`]. Running imports stay.
fn expire(imports: &mut HashMap<String, Arc<ImportProgress>>, now: Instant) {
    imports.retain(|_, p| p.finished_at().is_none_or(|at| now.saturating_duration_since(at) < IMPORT_REPORT_RETENTION));
    let mut finished: Vec<(&str, Instant, &str)> =
        imports.iter().filter_map(|(id, p)| Some((p.owner.as_str(), p.finished_at()?, id.as_str()))).collect();
    // Each user's reports together, newest first.
    finished.sort_unstable_by(|a, b| a.0.cmp(b.0).then(b.1.cmp(&a.1)));
    let evicted: Vec<String> = finished
        .chunk_by(|a, b| a.0 == b.0)
        .flat_map(|reports| reports.iter().skip(IMPORT_REPORTS_KEPT).map(|(_, _, id)| (*id).to_owned()))
        .collect();
    for id in evicted {
        imports.remove(&id);
    }
}

impl Engine {
    /// Starts an import in the background; its progress and report are read with
    /// [`Engine::import_status`]. Problems found before any row is read (rights, columns) are
    /// returned at once.
    pub fn start_import(
        &self,
        actor: &Actor,
        app: &AppId,
        form: &FormId,
        table: Table,
        options: ImportOptions,
    ) -> Result<String, EngineError> {
        let (app, form) = (app.as_str(), form.as_str());
        let loaded = &self.app(app)?;
        plan(actor, loaded, form, &table.headers, &options)?;
        check_size(&table, &options)?;
        let id = Uuid::now_v7().to_string();
        // The total is known before the first row is read, so a progress bar can show it at once.
        let progress =
            Arc::new(ImportProgress { owner: actor.username.clone(), total: AtomicU64::new(table.total() as u64), ..Default::default() });
        self.imports.add(id.clone(), progress.clone())?;
        let (engine, actor, app, form) = (self.clone(), actor.clone(), app.to_owned(), form.to_owned());
        tokio::spawn(async move {
            let rows = gather::scope(engine.import_rows(&actor, &app, &form, table, &options, &progress));
            let report = engine.noting_writes(&actor, Box::pin(rows)).await.map_err(|e| e.to_string());
            *progress.finished.lock().unwrap_or_else(|e| e.into_inner()) = Some(Finished { at: Instant::now(), report });
        });
        Ok(id)
    }

    /// `{status, done, total, report?}` of an import the actor started (404 once its report
    /// expired, see [`Imports`]).
    pub fn import_status(&self, actor: &Actor, id: &str) -> Result<Value, EngineError> {
        let progress =
            self.imports.get(id).filter(|p| p.owner == actor.username).ok_or_else(|| EngineError::NotFound(format!("import {id}")))?;
        let (done, total) = (progress.done.load(Ordering::Relaxed), progress.total.load(Ordering::Relaxed));
        Ok(match &*progress.finished.lock().unwrap_or_else(|e| e.into_inner()) {
            None => json!({"status": "running", "done": done, "total": total}),
            Some(Finished { report: Ok(report), .. }) => json!({"status": "done", "done": done, "total": total, "report": report}),
            Some(Finished { report: Err(message), .. }) => json!({"status": "failed", "done": done, "total": total, "error": message}),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_import_reports_expire_with_age_and_beyond_each_users_newest() {
        let start = Instant::now();
        let import = |owner: &str, finished_after: Option<u64>| {
            let finished =
                finished_after.map(|secs| Finished { at: start + Duration::from_secs(secs), report: Ok(ImportReport::default()) });
            Arc::new(ImportProgress { owner: owner.into(), finished: Mutex::new(finished), ..Default::default() })
        };
        let mut imports = HashMap::from([
            ("running".to_owned(), import("ann", None)),
            ("old".to_owned(), import("ann", Some(0))),
            ("recent".to_owned(), import("ann", Some(60))),
            ("bob's".to_owned(), import("bob", Some(0))),
        ]);
        expire(&mut imports, start + IMPORT_REPORT_RETENTION - Duration::from_secs(1));
        assert_eq!(imports.len(), 4, "nothing is old enough yet");
        expire(&mut imports, start + IMPORT_REPORT_RETENTION + Duration::from_secs(1));
        let mut kept: Vec<&str> = imports.keys().map(String::as_str).collect();
        kept.sort_unstable();
        assert_eq!(kept, ["recent", "running"], "finished over an hour ago: forgotten; running: kept");

        for i in 0..IMPORT_REPORTS_KEPT as u64 + 2 {
            imports.insert(format!("ann {i}"), import("ann", Some(100 + i)));
        }
        expire(&mut imports, start + Duration::from_secs(200));
        let anns: Vec<&String> = imports.keys().filter(|id| id.starts_with("ann ")).collect();
        assert_eq!(anns.len(), IMPORT_REPORTS_KEPT, "{anns:?}");
        assert!(!imports.contains_key("recent") && !imports.contains_key("ann 0") && !imports.contains_key("ann 1"), "the oldest go");
        assert!(imports.contains_key("running"));
    }
}
