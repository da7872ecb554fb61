//! Tessera engine: the one door. It loads apps, and every command (create, update, list,
//! login …) passes through it with the calling user, across the engines, in one database
//! transaction. Only the engine applies effects and decides what a user may see.
//!
//! Knows nothing of HTTP: the server turns requests into commands and [`EngineError`]s into
//! responses.

mod access;
mod advisor;
mod apps;
mod audit;
mod auth;
mod catalog;
mod command;
mod dated;
mod definitions;
mod delivery;
mod envelope;
mod error;
mod export;
mod filter;
mod flows;
#[cfg(test)]
mod fuzz;
mod gather;
mod hooks;
mod ids;
mod import;
mod jobs;
mod list;
mod load;
mod locks;
mod observe;
mod organisation;
mod pages;
mod palette;
mod people;
mod print;
mod records;
mod replica;
mod reports;
mod rollups;
mod scenarios;
mod seed;
mod time;
mod web_forms;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

pub use self::reports::{DrillParams, ExportFormat, ReportParams, ReportResult};
pub use advisor::{
    AUTOMATIC_AFTER_SLOW_RUNS, AdvisorSettings, AppliedIndex, CreatedIndex, IndexAdvice, IndexProposal, MAX_AUTOMATIC_INDEXES_PER_FORM,
    Observed, SLOW_QUERY, Shape, ShapeKind,
};
pub use apps::LoadedApp;
pub use audit::AuditParams;
pub use auth::{Actor, Csrf, Login, MAX_PASSWORD_CHARS, MAX_USERNAME_CHARS, Resumed, check_login_lengths};
pub use definitions::{
    DefinitionEntry, DefinitionIndex, DefinitionView, ExpressionProblem, FileChange, FlowInFlight, FormImpact, Impact, Installed,
    ItemChanges, Migration, Problem, ProblemGroup, ReleaseView, Saved, ViewAs,
};
pub use delivery::{MAX_DELIVERY_ATTEMPTS, WebhookClient};
pub use envelope::{Envelope, HistoryItem, Page, Total};
pub use error::{Code, EngineError, Kind, Limit};
pub use export::{Export, csv_chunk};
pub use flows::{ActRequest, ActResult, ApprovalView, FlowView, TaskView};
pub use forms::{FieldCode, FieldError};
pub use ids::{AppId, FormId, IdError, RecordId};
pub use import::{
    ALL_OR_NOTHING_MAX_ROWS, IMPORT_REPORT_RETENTION, IMPORT_REPORTS_KEPT, ImportOptions, ImportReport, MAX_REPORTED_ERRORS, OnDuplicate,
    RUNNING_IMPORTS_PER_USER, RowError, Table,
};
pub use list::ListParams;
pub use observe::QueueDepths;
pub use organisation::{
    CreatedUser, DepartmentChange, DepartmentView, FormWork, GeneratedPassword, HandoverRequest, IssuedToken, MAX_NAME_CHARS,
    MAX_USER_IMPORT_ROWS, NewDepartment, NewToken, NewUser, ProfileChange, TokenView, UserChange, UserView, UsersImport, Work,
};
pub use records::{MAX_MERGE_RELINKS, MergeMove, MergePlan, Preview};
pub use rules::{FUNCTIONS as RULE_FUNCTIONS, Function as RuleFunction, Limits as RuleLimits, RuleError};
pub use scenarios::{FlowPath, Move, ScenarioOutcome, run_scenarios};
pub use seed::SeedReport;
pub use store::Backend;

/// How an engine runs, beyond where its data lives.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Sandbox limits of every rule call (time, operations, sizes).
    pub rule_limits: RuleLimits,
    /// When the index advisor counts a list or report as slow.
    pub index_advisor: AdvisorSettings,
    /// A PostgreSQL read replica of the database, for lists, exports and reports (see
    /// `replica.rs`).
    pub read_replica: Option<String>,
}

/// The running platform: a store and the apps loaded into it.
#[derive(Clone)]
pub struct Engine {
    store: store::Store,
    /// The published release of each app, swapped whole when a new one is published: a
    /// command holds the `Arc` of the app it began with until it ends.
    apps: Arc<RwLock<BTreeMap<String, Arc<LoadedApp>>>>,
    /// Sandbox limits of every rule call, for apps loaded as they are published.
    rule_limits: RuleLimits,
    /// Names this process when it claims jobs.
    worker_id: Arc<str>,
    /// Imports started in the background by this process.
    imports: import::Imports,
    /// Sessions recently authenticated.
    sessions: auth::SessionCache,
    /// Slow lists and reports by shape, for the index advisor.
    advisor: Arc<advisor::Advisor>,
    /// Where lists, exports and reports may read, besides the primary.
    replica: Option<Arc<replica::Replica>>,
}

/// How many unread notifications are counted before the count says "more".
pub const UNREAD_COUNTED: u64 = 99;
/// How many notifications one request lists.
pub const MAX_NOTIFICATIONS_LISTED: u64 = 100;
/// How many notifications one request may mark read by id.
pub const MAX_MARKED: usize = 500;

impl Engine {
    /// Connects to `database_url`, loads every app folder in `app_dirs` and creates their
    /// tables. An app with any definition problem is refused with all of them listed.
    pub async fn open(database_url: &str, app_dirs: &[PathBuf]) -> Result<Engine, EngineError> {
        Engine::open_with(database_url, app_dirs, &Settings::default()).await
    }

    /// [`Engine::open`] with explicit settings.
    pub async fn open_with(database_url: &str, app_dirs: &[PathBuf], settings: &Settings) -> Result<Engine, EngineError> {
        let mut engine = Engine::over(store::Store::connect(database_url).await?, settings);
        if let Some(url) = &settings.read_replica {
            engine.replica = Some(Arc::new(replica::Replica::connect(url).await?));
        }
        for dir in app_dirs {
            engine.install_folder(dir).await?;
        }
        engine.follow_releases().await?;
        engine.grant_legacy_roles().await?;
        Ok(engine)
    }

    fn over(store: store::Store, settings: &Settings) -> Engine {
        Engine {
            store,
            apps: Default::default(),
            rule_limits: settings.rule_limits.clone(),
            worker_id: uuid::Uuid::now_v7().to_string().into(),
            imports: Default::default(),
            sessions: Default::default(),
            advisor: Arc::new(advisor::Advisor::new(&settings.index_advisor)),
            replica: None,
        }
    }

    /// Opens the database at `database_url` as it is, with no app, for commands that only read
    /// it (`tessera audit verify`): nothing is created, migrated or scheduled. A missing
    /// database, or one this build would migrate, is refused with what to do.
    pub async fn open_existing(database_url: &str) -> Result<Engine, EngineError> {
        Ok(Engine::over(store::Store::connect_existing(database_url).await?, &Settings::default()))
    }

    /// Writes a consistent copy of the database to `out`, a new file, while it is in use
    /// (SQLite; PostgreSQL is backed up with its own tools).
    pub async fn backup_to(&self, out: &std::path::Path) -> Result<(), EngineError> {
        Ok(self.store.backup_to(out).await?)
    }

    /// Puts the backup `backup` in place as the new database at `database_url` — checked
    /// before, never over an existing database — and walks the restored audit chain: its rows,
    /// or the first that does not hold.
    pub async fn restore_backup(backup: &std::path::Path, database_url: &str) -> Result<Result<u64, String>, EngineError> {
        store::restore(backup, database_url).await?;
        let restored = Engine::open_existing(database_url).await?;
        let verdict = restored.verify_audit().await;
        restored.close().await?;
        verdict
    }

    pub fn backend(&self) -> Backend {
        self.store.backend()
    }

    /// The loaded apps, by id.
    pub(crate) fn apps(&self) -> Vec<Arc<LoadedApp>> {
        self.apps.read().unwrap_or_else(|poisoned| poisoned.into_inner()).values().cloned().collect()
    }

    /// The loaded app `id`, as published when this is called.
    pub(crate) fn app(&self, id: &str) -> Result<Arc<LoadedApp>, EngineError> {
        let apps = self.apps.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        apps.get(id).cloned().ok_or_else(|| EngineError::app_not_found(id))
    }

    /// Stops serving app `id`; commands already running keep the one they hold.
    pub(crate) fn unload_app(&self, id: &str) {
        self.apps.write().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(id);
    }

    /// Makes `app` the loaded app of its id; commands already running keep the one they hold.
    pub(crate) fn swap_app(&self, app: LoadedApp) {
        let mut apps = self.apps.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        apps.insert(app.id().to_owned(), Arc::new(app));
    }

    /// Pending jobs of `app` as `(key, due_at)`, soonest first.
    pub async fn pending_jobs(&self, app: &str) -> Result<Vec<(String, String)>, EngineError> {
        Ok(store::pending_jobs(self.store.db(), app).await?)
    }

    /// The newest `limit` (at most [`MAX_NOTIFICATIONS_LISTED`], the default) notifications
    /// (`notify` effects of rules and flows) addressed to the actor, only the unread ones with
    /// `unread_only`, and how many are unread — counted up to [`UNREAD_COUNTED`] (`capped` past
    /// it: a bell shows "99+").
    pub async fn notifications(&self, actor: &Actor, limit: Option<u64>, unread_only: bool) -> Result<serde_json::Value, EngineError> {
        let limit = limit.unwrap_or(MAX_NOTIFICATIONS_LISTED);
        if !(1..=MAX_NOTIFICATIONS_LISTED).contains(&limit) {
            return Err(EngineError::malformed_at("/limit", format!("limit must be between 1 and {MAX_NOTIFICATIONS_LISTED}")));
        }
        let db = self.store.db();
        let usable = |items: Vec<store::InboxItem>| items.into_iter().filter(|i| actor.may_use(&i.message.app)).collect::<Vec<_>>();
        let items = usable(store::inbox(db, &actor.username, unread_only, limit).await?);
        let unread = usable(store::inbox(db, &actor.username, true, UNREAD_COUNTED + 1).await?).len() as u64;
        let items: Vec<_> = (items.into_iter())
            .map(|i| {
                let m = i.message;
                serde_json::json!({"id": m.id, "app": m.app, "created_at": m.created_at, "read_at": i.read_at, "message": m.payload})
            })
            .collect();
        Ok(serde_json::json!({"items": items, "unread": unread.min(UNREAD_COUNTED), "capped": unread > UNREAD_COUNTED}))
    }

    /// Marks the actor's notifications `ids` read (every unread one without ids); answers how
    /// many it marked.
    pub async fn mark_notifications_read(&self, actor: &Actor, ids: Option<&[String]>) -> Result<u64, EngineError> {
        if ids.is_some_and(|ids| ids.len() > MAX_MARKED) {
            return Err(EngineError::malformed_at("/ids", format!("at most {MAX_MARKED} ids at once")));
        }
        Ok(store::mark_read(self.store.db(), &actor.username, ids, &time::now()).await?)
    }

    /// Checks the database answers.
    pub async fn health(&self) -> Result<(), EngineError> {
        store::get_meta(self.store.db(), "health").await?;
        Ok(())
    }

    /// Closes the database pool.
    pub async fn close(self) -> Result<(), EngineError> {
        Ok(self.store.close().await?)
    }
}

/// A message for the outbox of `app`, made now: a person's notification (`notify`) or a call
/// for an outside system (`webhook`), written by the caller in its transaction.
pub(crate) fn outbox_message(app: &str, kind: &str, recipient: String, payload: serde_json::Value) -> store::OutboxMessage {
    store::OutboxMessage {
        id: uuid::Uuid::now_v7().to_string(),
        app: app.to_owned(),
        kind: kind.to_owned(),
        recipient,
        payload,
        created_at: time::now(),
        delivered_at: None,
    }
}
