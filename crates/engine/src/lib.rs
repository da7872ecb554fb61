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
mod envelope;
mod error;
mod export;
mod filter;
mod flows;
mod gather;
mod hooks;
mod ids;
mod import;
mod jobs;
mod list;
mod load;
mod locks;
mod observe;
mod pages;
mod palette;
mod print;
mod records;
mod reports;
mod rollups;
mod seed;
mod time;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

pub use self::reports::{DrillParams, ExportFormat, ReportParams, ReportResult};
pub use advisor::{
    AUTOMATIC_AFTER_SLOW_RUNS, AdvisorSettings, AppliedIndex, CreatedIndex, IndexAdvice, IndexProposal, MAX_AUTOMATIC_INDEXES_PER_FORM,
    Observed, SLOW_QUERY, Shape, ShapeKind,
};
pub use apps::LoadedApp;
pub use audit::AuditParams;
pub use auth::{Actor, Csrf, Login, MAX_PASSWORD_CHARS, MAX_USERNAME_CHARS, check_login_lengths};
pub use envelope::{Envelope, HistoryItem, Page, Total};
pub use error::{Code, EngineError, Kind, Limit};
pub use export::{Export, csv_chunk};
pub use flows::{ActRequest, ActResult, ApprovalView, FlowView, TaskView};
pub use forms::{FieldCode, FieldError};
pub use ids::{AppId, FormId, IdError, RecordId};
pub use import::{
    ALL_OR_NOTHING_MAX_ROWS, IMPORT_REPORT_RETENTION, IMPORT_REPORTS_KEPT, ImportOptions, ImportReport, OnDuplicate,
    RUNNING_IMPORTS_PER_USER, RowError, Table,
};
pub use list::ListParams;
pub use observe::QueueDepths;
pub use rules::{Limits as RuleLimits, RuleError};
pub use seed::SeedReport;
pub use store::Backend;

/// How an engine runs, beyond where its data lives.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Sandbox limits of every rule call (time, operations, sizes).
    pub rule_limits: RuleLimits,
    /// When the index advisor counts a list or report as slow.
    pub index_advisor: AdvisorSettings,
}

/// The running platform: a store and the apps loaded into it.
#[derive(Clone)]
pub struct Engine {
    store: store::Store,
    apps: Arc<BTreeMap<String, Arc<LoadedApp>>>,
    /// Names this process when it claims jobs.
    worker_id: Arc<str>,
    /// Imports started in the background by this process.
    imports: import::Imports,
    /// Sessions recently authenticated.
    sessions: auth::SessionCache,
    /// Slow lists and reports by shape, for the index advisor.
    advisor: Arc<advisor::Advisor>,
}

impl Engine {
    /// Connects to `database_url`, loads every app folder in `app_dirs` and creates their
    /// tables. An app with any definition problem is refused with all of them listed.
    pub async fn open(database_url: &str, app_dirs: &[PathBuf]) -> Result<Engine, EngineError> {
        Engine::open_with(database_url, app_dirs, &Settings::default()).await
    }

    /// [`Engine::open`] with explicit settings.
    pub async fn open_with(database_url: &str, app_dirs: &[PathBuf], settings: &Settings) -> Result<Engine, EngineError> {
        let store = store::Store::connect(database_url).await?;
        let mut apps = BTreeMap::new();
        for dir in app_dirs {
            let mut app = LoadedApp::load(dir, &settings.rule_limits)?;
            app.ensure_tables(&store).await?;
            let (turn, tx) = store.begin_serialised().await?;
            app.register_flows(&tx).await?;
            turn.commit(tx).await?;
            tracing::info!(app = %app.defs.app.id, forms = app.forms.len(), "loaded app");
            apps.insert(app.defs.app.id.clone(), Arc::new(app));
        }
        let engine = Engine::over(store, apps, settings);
        engine.ensure_schedules(chrono::Utc::now()).await?;
        engine.restore_advised_indexes().await?;
        Ok(engine)
    }

    fn over(store: store::Store, apps: BTreeMap<String, Arc<LoadedApp>>, settings: &Settings) -> Engine {
        Engine {
            store,
            apps: Arc::new(apps),
            worker_id: uuid::Uuid::now_v7().to_string().into(),
            imports: Default::default(),
            sessions: Default::default(),
            advisor: Arc::new(advisor::Advisor::new(&settings.index_advisor)),
        }
    }

    /// Opens the database at `database_url` as it is, with no app, for commands that only read
    /// it (`tessera audit verify`): nothing is created, migrated or scheduled. A missing
    /// database, or one this build would migrate, is refused with what to do.
    pub async fn open_existing(database_url: &str) -> Result<Engine, EngineError> {
        Ok(Engine::over(store::Store::connect_existing(database_url).await?, BTreeMap::new(), &Settings::default()))
    }

    pub fn backend(&self) -> Backend {
        self.store.backend()
    }

    /// The loaded apps by id.
    pub(crate) fn apps(&self) -> impl Iterator<Item = &LoadedApp> {
        self.apps.values().map(|a| a.as_ref())
    }

    pub(crate) fn app(&self, id: &str) -> Result<&LoadedApp, EngineError> {
        self.app_arc(id).map(|a| a.as_ref())
    }

    pub(crate) fn app_arc(&self, id: &str) -> Result<&Arc<LoadedApp>, EngineError> {
        self.apps.get(id).ok_or_else(|| EngineError::app_not_found(id))
    }

    /// Pending jobs of `app` as `(key, due_at)`, soonest first.
    pub async fn pending_jobs(&self, app: &str) -> Result<Vec<(String, String)>, EngineError> {
        Ok(store::pending_jobs(self.store.db(), app).await?)
    }

    /// The newest notifications (`notify` effects of rules) addressed to the actor.
    pub async fn notifications(&self, actor: &Actor, limit: u64) -> Result<Vec<serde_json::Value>, EngineError> {
        let messages = store::outbox_for(self.store.db(), "notify", &actor.username, limit).await?;
        Ok(messages
            .into_iter()
            .map(|m| serde_json::json!({"id": m.id, "app": m.app, "created_at": m.created_at, "message": m.payload}))
            .collect())
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
