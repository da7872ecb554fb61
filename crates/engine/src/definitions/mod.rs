//! Live apps: an app's definitions live in the database, edited as a draft and made live by a
//! publish that checks the whole app as `tessera check` does. Each file's saves are numbered
//! versions; a release names the version of every file the app is made of; the loaded app is
//! swapped whole when a release is published (commands already running keep the app they
//! began with). An app folder is installed as a release, and its later changes are merged in
//! ([`install`]).

mod diff;
mod impact;
mod install;
mod merge;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use defs::{AppFiles, Diagnostic, FileKind};
use serde::Serialize;
use serde_json::{Value, json};
use store::{AuditEntry, Conn, DefinitionVersion, Release};

pub use self::diff::{FileChange, ItemChanges};
pub use self::impact::{FlowInFlight, FormImpact, Impact, Migration, ProblemGroup};
pub use self::install::Installed;
use crate::audit::Subject;
use crate::command::Cmd;
use crate::{Actor, AppId, Engine, EngineError, LoadedApp, time};

/// How many releases a listing answers at most.
const RELEASES_LISTED: u64 = 200;

/// One file of an app as the definitions index lists it.
#[derive(Debug, Clone, Serialize)]
pub struct DefinitionEntry {
    pub kind: &'static str,
    pub id: String,
    pub path: String,
    /// The version an edit names in `If-Match`: the draft's when there is one.
    pub version: i64,
    /// The version the live release holds (`None`: added by the draft).
    pub published: Option<i64>,
    /// Changed by the draft (`deleted` when the draft removes it).
    pub draft: bool,
    pub deleted: bool,
}

/// An app's files and the state of its draft.
#[derive(Debug, Clone, Serialize)]
pub struct DefinitionIndex {
    pub app: String,
    pub release: i64,
    pub items: Vec<DefinitionEntry>,
}

/// One file's text at the version an edit would name.
#[derive(Debug, Clone, Serialize)]
pub struct DefinitionView {
    pub kind: &'static str,
    pub id: String,
    pub version: i64,
    pub draft: bool,
    /// A JSON definition as JSON; absent for scripts and templates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub definition: Option<Value>,
    /// A script's or template's text; absent for JSON definitions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// What a save answers: the draft's new version and every problem of the draft as a whole.
#[derive(Debug, Clone, Serialize)]
pub struct Saved {
    pub version: i64,
    /// Merged with an edit saved since the version the request named.
    pub merged: bool,
    pub problems: Vec<Problem>,
}

/// A problem of a draft: the file, the JSON pointer (or `line:col` in a script) and what.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    pub file: String,
    pub pointer: String,
    pub message: String,
}

impl From<&Diagnostic> for Problem {
    fn from(d: &Diagnostic) -> Problem {
        Problem { file: d.file.display().to_string(), pointer: d.pointer.clone(), message: d.message.clone() }
    }
}

/// A published release as listed.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseView {
    pub release: i64,
    pub source: String,
    pub author: String,
    pub published_at: String,
    pub message: String,
    pub files: usize,
}

impl From<Release> for ReleaseView {
    fn from(r: Release) -> ReleaseView {
        ReleaseView {
            release: r.release,
            source: r.source,
            author: r.author,
            published_at: r.published_at,
            message: r.message,
            files: r.files.len(),
        }
    }
}

impl Engine {
    /// The files of `app`, with what its draft changes; admins only.
    pub async fn definitions(&self, actor: &Actor, app: &AppId) -> Result<DefinitionIndex, EngineError> {
        let app = app.as_str();
        self.command(actor, Subject { action: "definitions", app, form: "", id: "" }, async {
            self.require_builder(actor, app)?;
            let db = self.store.db();
            let release = live_release(db, app).await?;
            let drafts = store::drafts(db, app).await?;
            let mut paths: Vec<&String> = release.files.keys().chain(drafts.keys()).collect();
            paths.sort();
            paths.dedup();
            let mut items = Vec::new();
            for path in paths {
                let Some((kind, id)) = FileKind::of_path(path) else { continue };
                let published = release.files.get(path).copied();
                let draft = drafts.get(path).copied();
                let deleted = match draft {
                    Some(version) => store::definition_text(db, app, path, version).await?.flatten().is_none(),
                    None => false,
                };
                let version = draft.or(published).unwrap_or(0);
                items.push(DefinitionEntry {
                    kind: kind.name(),
                    id,
                    path: path.clone(),
                    version,
                    published,
                    draft: draft.is_some(),
                    deleted,
                });
            }
            Ok(DefinitionIndex { app: app.to_owned(), release: release.release, items })
        })
        .await
    }

    /// File `id` of `kind` as the draft has it (or the live release, when the draft leaves it).
    pub async fn definition(&self, actor: &Actor, app: &AppId, kind: FileKind, id: &str) -> Result<DefinitionView, EngineError> {
        let app = app.as_str();
        self.command(actor, Subject { action: "definition", app, form: "", id }, async {
            self.require_builder(actor, app)?;
            let path = kind.path(id);
            let (version, draft) = self.current_version(app, &path).await?;
            let text = match version {
                0 => None,
                v => store::definition_text(self.store.db(), app, &path, v).await?.flatten(),
            };
            let text = text.ok_or_else(|| EngineError::NotFound(format!("{} `{id}` of app `{app}`", kind.name())))?;
            definition_view(kind, id, version, draft, text)
        })
        .await
    }

    /// One file as release `release` of `app` had it: the history shows an old release's form
    /// as it looked, removed fields named by their labels.
    pub async fn released_definition(
        &self,
        actor: &Actor,
        app: &AppId,
        release: i64,
        kind: FileKind,
        id: &str,
    ) -> Result<DefinitionView, EngineError> {
        let app = app.as_str();
        self.command(actor, Subject { action: "released_definition", app, form: "", id }, async {
            self.require_builder(actor, app)?;
            let db = self.store.db();
            let missing = || EngineError::NotFound(format!("{} `{id}` in release {release} of app `{app}`", kind.name()));
            let old = store::release(db, app, release).await?.ok_or_else(missing)?;
            let path = kind.path(id);
            let version = *old.files.get(&path).ok_or_else(missing)?;
            let text = store::definition_text(db, app, &path, version).await?.flatten().ok_or_else(missing)?;
            definition_view(kind, id, version, false, text)
        })
        .await
    }

    /// Saves `body` as the draft of file `id` of `kind`, edited from version `based_on` (`None`
    /// only for a new file): `{"definition": …}` (JSON) for definitions, `{"source": "…"}` for
    /// scripts and templates. A draft is kept even with problems; they are answered.
    /// An edit of an older version is merged with the edits saved since, three-way; where
    /// both changed the same part, it is refused as stale.
    pub async fn save_definition(
        &self,
        actor: &Actor,
        app: &AppId,
        kind: FileKind,
        id: &str,
        based_on: Option<i64>,
        body: &Value,
    ) -> Result<Saved, EngineError> {
        let app = app.as_str();
        self.command(actor, Subject { action: "save_definition", app, form: "", id }, async {
            self.require_builder(actor, app)?;
            if !defs::is_identifier(id) && kind != FileKind::App {
                return Err(EngineError::malformed_at("/id", "a definition id is snake_case, at most 48 characters"));
            }
            let text = draft_text(kind, body)?;
            self.write_draft(actor, app, kind, id, based_on, Some(text)).await
        })
        .await
    }

    /// Removes file `id` of `kind` in the draft, as of version `based_on`.
    pub async fn delete_definition(
        &self,
        actor: &Actor,
        app: &AppId,
        kind: FileKind,
        id: &str,
        based_on: i64,
    ) -> Result<Saved, EngineError> {
        let app = app.as_str();
        self.command(actor, Subject { action: "delete_definition", app, form: "", id }, async {
            self.require_builder(actor, app)?;
            if kind == FileKind::App {
                return Err(EngineError::Conflict("an app cannot be without app.json".into()));
            }
            self.write_draft(actor, app, kind, id, Some(based_on), None).await
        })
        .await
    }

    async fn write_draft(
        &self,
        actor: &Actor,
        app: &str,
        kind: FileKind,
        id: &str,
        based_on: Option<i64>,
        text: Option<String>,
    ) -> Result<Saved, EngineError> {
        let path = kind.path(id);
        let (turn, tx) = self.store.begin().await?;
        store::lock_key(&tx, &format!("definitions:{app}")).await?;
        let (current, _) = current_version_in(&tx, app, &path).await?;
        let current_text = match current {
            0 => None,
            v => store::definition_text(&tx, app, &path, v).await?.flatten(),
        };
        let (text, merged) = match based_on {
            Some(v) if v == current => (text, false),
            None if current_text.is_none() => (text, false),
            None => return Err(EngineError::StaleVersion { current }),
            Some(v) => {
                let base = store::definition_text(&tx, app, &path, v).await?.ok_or(EngineError::StaleVersion { current })?;
                (merge_edits(kind, base, current_text, text).ok_or(EngineError::StaleVersion { current })?, true)
            }
        };
        let version = store::latest_definition_version(&tx, app, &path).await? + 1;
        let saved = DefinitionVersion {
            app: app.to_owned(),
            path: path.clone(),
            version,
            text,
            author: actor.username.clone(),
            saved_at: time::now(),
        };
        store::save_definition(&tx, &saved).await?;
        store::set_draft(&tx, app, &path, version).await?;
        let files = draft_files(&tx, app).await?;
        turn.commit(tx).await?;
        let problems = self.problems_of(files).await;
        Ok(Saved { version, merged, problems })
    }

    /// What publishing `app`'s draft with `migrations` would do to the records stored: for each
    /// form it changes, how many records would no longer validate, and why.
    pub async fn impact(&self, actor: &Actor, app: &AppId, migrations: &[Migration]) -> Result<Impact, EngineError> {
        let app = app.as_str();
        self.command(actor, Subject { action: "impact", app, form: "", id: "" }, async {
            self.require_builder(actor, app)?;
            let files = draft_files(self.store.db(), app).await?;
            let new = self.check_files(&files, Path::new(""))?;
            self.measure_impact(self.app(app)?.as_ref(), &new, migrations, None).await
        })
        .await
    }

    /// Starts measuring what publishing `app`'s draft with `migrations` would do, as a job any
    /// server's worker may run (this one runs it at once), for tables too big to read within a
    /// request; answers the run's id for [`Engine::impact_run`]. The draft is checked now, so
    /// its problems answer at once.
    pub async fn start_impact(&self, actor: &Actor, app: &AppId, migrations: Vec<Migration>) -> Result<String, EngineError> {
        let app = app.as_str();
        self.command(actor, Subject { action: "impact", app, form: "", id: "" }, async {
            self.require_builder(actor, app)?;
            self.check_files(&draft_files(self.store.db(), app).await?, Path::new(""))?;
            let id = uuid::Uuid::now_v7().to_string();
            let job = store::Job {
                id: id.clone(),
                key: format!("{}:{id}", crate::jobs::JobKind::Impact.name()),
                app: app.to_owned(),
                kind: crate::jobs::JobKind::Impact.name().into(),
                due_at: time::now(),
                payload: json!({"by": actor.username, "migrations": migrations}),
                attempts: 0,
            };
            let (turn, tx) = self.store.begin().await?;
            store::add_job(&tx, &job).await?;
            turn.commit(tx).await?;
            let engine = self.clone();
            tokio::spawn(async move {
                if let Err(e) = engine.run_due_jobs(chrono::Utc::now()).await {
                    tracing::warn!(error = %e, "running an impact measure at once failed; the worker will");
                }
            });
            Ok(id)
        })
        .await
    }

    /// How impact run `run` of `app` stands: `{state: queued | running | done | failed,
    /// checked, total, impact, error}` (`impact` once done, `error` once failed).
    pub async fn impact_run(&self, actor: &Actor, app: &AppId, run: &str) -> Result<Value, EngineError> {
        let app = app.as_str();
        self.require_builder(actor, app)?;
        let kind = crate::jobs::JobKind::Impact.name();
        let found = store::job_status(self.store.db(), run).await?.filter(|s| s.job.app == app && s.job.kind == kind);
        let status = found.ok_or_else(|| EngineError::NotFound(format!("impact run {run}")))?;
        let state = match (status.state.as_str(), &status.last_error) {
            ("pending", _) => "queued",
            ("running", _) => "running",
            (_, Some(_)) => "failed",
            _ => "done",
        };
        let payload = &status.job.payload;
        Ok(
            json!({"state": state, "checked": payload["checked"], "total": payload["total"], "impact": payload["impact"], "error": status.last_error}),
        )
    }

    /// Runs impact job `job`: the draft as it is now, measured with the job's migrations; the
    /// result goes into its payload.
    pub(crate) async fn run_impact_job(&self, job: &store::Job) -> Result<(), EngineError> {
        let migrations: Vec<Migration> = serde_json::from_value(job.payload["migrations"].clone())
            .map_err(|e| EngineError::Internal(format!("impact job {} has no migrations it can read: {e}", job.id)))?;
        let new = self.check_files(&draft_files(self.store.db(), &job.app).await?, Path::new(""))?;
        let impact = self.measure_impact(self.app(&job.app)?.as_ref(), &new, &migrations, Some(job)).await?;
        let mut payload = store::job_status(self.store.db(), &job.id).await?.map_or_else(|| job.payload.clone(), |s| s.job.payload);
        payload["impact"] = serde_json::to_value(&impact).map_err(|e| EngineError::Internal(e.to_string()))?;
        let (turn, tx) = self.store.begin().await?;
        store::set_job_payload(&tx, &job.id, &payload).await?;
        Ok(turn.commit(tx).await?)
    }

    /// Checks `app`'s draft and makes it the live release, or refuses with every problem: its
    /// definitions', and each group of stored records it would leave invalid after `migrations`.
    pub async fn publish(&self, actor: &Actor, app: &AppId, message: &str, migrations: &[Migration]) -> Result<ReleaseView, EngineError> {
        let app = app.as_str();
        self.command(actor, Subject { action: "publish", app, form: "", id: "" }, async {
            self.require_builder(actor, app)?;
            let db = self.store.db();
            let release = live_release(db, app).await?;
            let drafts = store::drafts(db, app).await?;
            if drafts.is_empty() {
                return Err(EngineError::Conflict("nothing to publish: the draft changes no file".into()));
            }
            let mut files = release.files.clone();
            for (path, version) in drafts {
                match store::definition_text(db, app, &path, version).await?.flatten() {
                    Some(_) => files.insert(path, version),
                    None => files.remove(&path),
                };
            }
            // A draft that came back to the live text (a file saved as it was, a new one deleted
            // again) changes nothing either: no release of nothing.
            if same_texts(db, app, &files, &release.files).await? {
                let (turn, tx) = self.store.begin().await?;
                store::clear_drafts(&tx, app).await?;
                turn.commit(tx).await?;
                return Err(EngineError::Conflict("nothing to publish: the draft changes no file".into()));
            }
            Box::pin(self.release_files(actor, files, Publish { app, source: "publish", message, migrations, clear_draft: true })).await
        })
        .await
    }

    /// Publishes the files of release `release` again, checked (and migrated) like any publish;
    /// the draft is left as it is.
    pub async fn rollback(
        &self,
        actor: &Actor,
        app: &AppId,
        release: i64,
        message: &str,
        migrations: &[Migration],
    ) -> Result<ReleaseView, EngineError> {
        let app = app.as_str();
        self.command(actor, Subject { action: "rollback", app, form: "", id: "" }, async {
            self.require_builder(actor, app)?;
            let old = store::release(self.store.db(), app, release)
                .await?
                .ok_or_else(|| EngineError::NotFound(format!("release {release} of app `{app}`")))?;
            let message = if message.is_empty() { format!("rollback to release {release}") } else { message.to_owned() };
            Box::pin(self.release_files(
                actor,
                old.files,
                Publish { app, source: "rollback", message: &message, migrations, clear_draft: false },
            ))
            .await
        })
        .await
    }

    /// What changed from release `from` to release `to` of `app`, file by file: fields, states,
    /// transitions and other listed items added, removed and changed, and the other parts.
    pub async fn release_diff(&self, actor: &Actor, app: &AppId, from: i64, to: i64) -> Result<Vec<FileChange>, EngineError> {
        let app = app.as_str();
        self.command(actor, Subject { action: "release_diff", app, form: "", id: "" }, async {
            self.require_builder(actor, app)?;
            let db = self.store.db();
            let mut texts = Vec::new();
            for number in [from, to] {
                let release = store::release(db, app, number)
                    .await?
                    .ok_or_else(|| EngineError::NotFound(format!("release {number} of app `{app}`")))?;
                texts.push(store::definition_texts(db, app, &release.files).await?);
            }
            Ok(diff::diff_files(&texts[0], &texts[1]))
        })
        .await
    }

    /// Runs `app`'s scenario tests (`tests/*.json`) against its draft, each in a throwaway
    /// database; admins only.
    pub async fn test_draft(&self, actor: &Actor, app: &AppId) -> Result<Vec<crate::ScenarioOutcome>, EngineError> {
        let app = app.as_str();
        self.command(actor, Subject { action: "test_draft", app, form: "", id: "" }, async {
            self.require_builder(actor, app)?;
            let files = draft_files(self.store.db(), app).await?;
            let settings = crate::Settings { rule_limits: self.rule_limits.clone(), ..Default::default() };
            crate::scenarios::run_scenarios_apart(files, settings).await
        })
        .await
    }

    /// A record of `form` as the draft of `app` would make it: the designer's preview, by the
    /// same rules engine a save uses, over the draft's definitions. For the app's builders; it
    /// reads (rules' `find`) with the app's authority and writes nothing. A draft with problems
    /// answers them (422), as publishing would.
    pub async fn preview_draft(
        &self,
        actor: &Actor,
        app: &AppId,
        form: &crate::FormId,
        data: Value,
    ) -> Result<crate::Preview, EngineError> {
        let (app, form) = (app.as_str(), form.as_str());
        self.command(actor, Subject { action: "preview_draft", app, form, id: "" }, async {
            self.require_builder(actor, app)?;
            let compiled = self.compiled_draft(app).await?;
            Box::pin(self.preview_with(actor, &compiled, form, data)).await
        })
        .await
    }

    /// The problems of a field's expression (formula, default, condition) over a form with the
    /// fields `fields`, as `tessera check` would name them, for an editor to mark as the
    /// builder types: none when it compiles. It is compiled, never run.
    /// With `script`, `source` is a whole rules script (`rules/*.rhai`) instead, and `fields`
    /// are not looked at.
    pub async fn check_expression(
        &self,
        actor: &Actor,
        app: &AppId,
        source: &str,
        fields: &[String],
        script: bool,
    ) -> Result<Vec<ExpressionProblem>, EngineError> {
        let app = app.as_str();
        self.command(actor, Subject { action: "check_expression", app, form: "", id: "" }, async {
            self.require_builder(actor, app)?;
            let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
            let rules = &self.app(app)?.rules;
            let problems = if script {
                rules.check_script(source).err().into_iter().collect()
            } else {
                crate::load::checked_expression(rules, source, &fields).err().unwrap_or_default()
            };
            Ok(problems.into_iter().map(|p| ExpressionProblem { line: p.line, column: p.column, message: p.message }).collect())
        })
        .await
    }

    /// The app as `who` would see it — the forms they may read, the fields shown and read-only,
    /// their actions — as published, or as the draft would make it: the permission editor's
    /// "view as". For the app's builders; it reads definitions only, never records.
    pub async fn view_as(&self, actor: &Actor, app: &AppId, who: &ViewAs, draft: bool) -> Result<Value, EngineError> {
        let app = app.as_str();
        self.command(actor, Subject { action: "view_as", app, form: "", id: "" }, async {
            self.require_builder(actor, app)?;
            let loaded = if draft { self.compiled_draft(app).await? } else { self.app(app)? };
            let viewer = match who {
                ViewAs::User(username) => self.actor_named(username).await?,
                ViewAs::Role(role) if loaded.defs.app.roles.iter().any(|r| &r.id == role) => Actor::holding(app, role),
                ViewAs::Role(role) => return Err(EngineError::NotFound(format!("role `{role}` of app `{app}`"))),
            };
            // What their grants open: the forms of decisions pending on them are not a grant.
            Ok(crate::catalog::view_for(&loaded, &viewer, &[]))
        })
        .await
    }

    /// The app its draft would make, compiled on a blocking thread (milliseconds of CPU), so
    /// requests on this worker go on meanwhile; a draft with problems answers them.
    async fn compiled_draft(&self, app: &str) -> Result<Arc<LoadedApp>, EngineError> {
        let files = draft_files(self.store.db(), app).await?;
        let limits = self.rule_limits.clone();
        let compiled = tokio::task::spawn_blocking(move || LoadedApp::from_files(&files, Path::new(""), Vec::new(), &limits))
            .await
            .map_err(|e| EngineError::Internal(format!("compiling the draft stopped: {e}")))??;
        Ok(Arc::new(compiled))
    }

    /// The published releases of `app`, newest first.
    pub async fn releases(&self, actor: &Actor, app: &AppId) -> Result<Vec<ReleaseView>, EngineError> {
        let app = app.as_str();
        self.command(actor, Subject { action: "releases", app, form: "", id: "" }, async {
            self.require_builder(actor, app)?;
            self.app(app)?;
            Ok(store::releases(self.store.db(), app, None, RELEASES_LISTED).await?.into_iter().map(ReleaseView::from).collect())
        })
        .await
    }

    /// Loads the app of the newest release of every app another server published since this
    /// one loaded it. Servers sharing a database call it every second.
    pub async fn follow_releases(&self) -> Result<(), EngineError> {
        let archived = archived_apps(self.store.db()).await?;
        for (app, head) in store::release_heads(self.store.db()).await? {
            if archived.contains(&app) {
                self.unload_app(&app);
                continue;
            }
            let loaded = self.app(&app).ok().map(|a| a.release);
            if loaded.is_none_or(|release| release < head) {
                let release = live_release(self.store.db(), &app).await?;
                let files = AppFiles(store::definition_texts(self.store.db(), &app, &release.files).await?);
                self.load_release(self.check_files(&files, Path::new(""))?.into_release(release.release, &release.files)).await?;
                tracing::info!(app, release = release.release, "loaded the app's newest release");
            }
        }
        Ok(())
    }

    /// Archives `app`: no longer served (on every server within a second), its records,
    /// definitions and releases kept for [`Engine::unarchive_app`]; admins only.
    pub async fn archive_app(&self, actor: &Actor, app: &AppId) -> Result<(), EngineError> {
        let app = app.as_str();
        self.command(actor, Subject { action: "archive_app", app, form: "", id: "" }, async {
            crate::access::require_admin(actor, "make or install apps")?;
            live_release(self.store.db(), app).await?;
            let (turn, tx) = self.store.begin().await?;
            store::set_meta(&tx, &archived_key(app), &time::now()).await?;
            turn.commit(tx).await?;
            self.unload_app(app);
            Ok(())
        })
        .await
    }

    /// Serves an archived app again, at its newest release; admins only.
    pub async fn unarchive_app(&self, actor: &Actor, app: &AppId) -> Result<(), EngineError> {
        let app = app.as_str();
        self.command(actor, Subject { action: "unarchive_app", app, form: "", id: "" }, async {
            crate::access::require_admin(actor, "make or install apps")?;
            let (turn, tx) = self.store.begin().await?;
            store::delete_meta(&tx, &archived_key(app)).await?;
            turn.commit(tx).await?;
            Box::pin(self.follow_releases()).await
        })
        .await
    }

    /// Follows the releases other servers publish, checking `every` so often.
    pub fn spawn_release_follower(&self, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if let Err(e) = engine.follow_releases().await {
                    tracing::error!(error = %e, "following the published releases failed");
                }
            }
        })
    }

    /// Checks the app `files` (at the versions it names) make and what it does to the stored
    /// records, readies its tables, then in one transaction records the release and migrates
    /// the records, and swaps the loaded app.
    async fn release_files(&self, actor: &Actor, files: BTreeMap<String, i64>, publish: Publish<'_>) -> Result<ReleaseView, EngineError> {
        let texts = AppFiles(store::definition_texts(self.store.db(), publish.app, &files).await?);
        let checked = self.check_files(&texts, Path::new(""))?;
        self.release_checked(actor, checked, files, publish).await
    }

    /// [`Engine::release_files`] for an app already checked: `checked`, made of `files`.
    /// The first release of an app has no records to look at.
    pub(crate) async fn release_checked(
        &self,
        actor: &Actor,
        checked: LoadedApp,
        files: BTreeMap<String, i64>,
        publish: Publish<'_>,
    ) -> Result<ReleaseView, EngineError> {
        let app = publish.app;
        if checked.id() != app {
            let problem = Diagnostic::new("app.json", "/id", format!("the app's id is `{app}`; an app cannot change its id"));
            return Err(EngineError::Definitions(vec![problem]));
        }
        let old = self.app(app).ok();
        if let Some(old) = &old {
            let problems = self.measure_impact(old, &checked, publish.migrations, None).await?.problems();
            if !problems.is_empty() {
                return Err(EngineError::Definitions(problems));
            }
        }
        checked.ensure_tables(&self.store).await?;
        let (turn, tx) = self.store.begin().await?;
        store::lock_key(&tx, &format!("definitions:{app}")).await?;
        let number = store::latest_release(&tx, app).await?.map_or(0, |r| r.release) + 1;
        let release = Release {
            app: app.to_owned(),
            release: number,
            files,
            source: publish.source.to_owned(),
            author: actor.username.clone(),
            published_at: time::now(),
            message: publish.message.to_owned(),
        };
        store::insert_release(&tx, &release).await?;
        if publish.clear_draft {
            store::clear_drafts(&tx, app).await?;
        }
        store::append_audit(&tx, &publish_audit(actor, &release)).await?;
        let checked = Arc::new(checked.into_release(number, &release.files));
        let migrated = match &old {
            Some(old) => self.migrate_records(Cmd::new(&tx, actor, &checked), old, publish.migrations).await?,
            None => 0,
        };
        turn.commit(tx).await?;
        // The transaction held the only other reference.
        let checked = Arc::try_unwrap(checked).map_err(|_| EngineError::Internal("a published app is still borrowed".into()))?;
        tracing::info!(app, release = number, migrated, "published");
        self.load_release(checked).await?;
        Ok(ReleaseView::from(release))
    }

    /// Makes `app`, checked and made a release ([`LoadedApp::into_release`]), the loaded app:
    /// flows registered, schedules and advised indexes in place, the app swapped in.
    async fn load_release(&self, mut app: LoadedApp) -> Result<(), EngineError> {
        app.ensure_tables(&self.store).await?;
        let (turn, tx) = self.store.begin_serialised().await?;
        app.register_flows(&tx).await?;
        turn.commit(tx).await?;
        let id = app.id().to_owned();
        self.adopt_departments(&app).await?;
        self.swap_app(app);
        self.ensure_schedules(chrono::Utc::now()).await?;
        self.restore_advised_indexes_of(&id).await
    }

    fn check_files(&self, files: &AppFiles, dir: &Path) -> Result<LoadedApp, EngineError> {
        LoadedApp::from_files(files, dir, Vec::new(), &self.rule_limits)
    }

    /// Every problem of the app `files` make, as `tessera check` would list them.
    /// Compiling a whole app is milliseconds of CPU: done on a blocking thread, so requests
    /// on this worker go on meanwhile.
    async fn problems_of(&self, files: AppFiles) -> Vec<Problem> {
        let limits = self.rule_limits.clone();
        let checked =
            tokio::task::spawn_blocking(move || LoadedApp::from_files(&files, Path::new(""), Vec::new(), &limits).map(drop)).await;
        match checked {
            Ok(Ok(())) => Vec::new(),
            Ok(Err(EngineError::Definitions(diags))) => diags.iter().map(Problem::from).collect(),
            Ok(Err(other)) => vec![Problem { file: String::new(), pointer: String::new(), message: other.to_string() }],
            Err(e) => vec![Problem { file: String::new(), pointer: String::new(), message: format!("the check stopped: {e}") }],
        }
    }

    /// The version of file `path` an edit names: the draft's, else the live release's (0 when
    /// neither has it); and whether it is the draft's.
    async fn current_version(&self, app: &str, path: &str) -> Result<(i64, bool), EngineError> {
        current_version_in(self.store.db(), app, path).await
    }
}

async fn current_version_in(db: &impl Conn, app: &str, path: &str) -> Result<(i64, bool), EngineError> {
    if let Some(version) = store::drafts(db, app).await?.get(path) {
        return Ok((*version, true));
    }
    Ok((live_release(db, app).await?.files.get(path).copied().unwrap_or(0), false))
}

/// The key that marks an app archived.
fn archived_key(app: &str) -> String {
    format!("archived:{app}")
}

/// The ids of the archived apps.
pub(crate) async fn archived_apps(db: &impl Conn) -> Result<std::collections::BTreeSet<String>, EngineError> {
    let marks = store::meta_with_prefix(db, "archived:").await?;
    Ok(marks.into_iter().filter_map(|(key, _)| key.strip_prefix("archived:").map(str::to_owned)).collect())
}

/// The newest release of `app`; an app without one is not installed.
async fn live_release(db: &impl Conn, app: &str) -> Result<Release, EngineError> {
    store::latest_release(db, app).await?.ok_or_else(|| EngineError::app_not_found(app))
}

/// The files of `app` as its draft has them.
/// Whether two sets of file versions hold the same texts.
async fn same_texts(db: &impl Conn, app: &str, a: &BTreeMap<String, i64>, b: &BTreeMap<String, i64>) -> Result<bool, EngineError> {
    if a.keys().ne(b.keys()) {
        return Ok(false);
    }
    for ((path, x), (_, y)) in a.iter().zip(b) {
        if x != y && store::definition_text(db, app, path, *x).await? != store::definition_text(db, app, path, *y).await? {
            return Ok(false);
        }
    }
    Ok(true)
}

async fn draft_files(db: &impl Conn, app: &str) -> Result<AppFiles, EngineError> {
    let mut files = live_release(db, app).await?.files;
    let drafts = store::drafts(db, app).await?;
    files.extend(drafts);
    let mut texts = BTreeMap::new();
    for (path, version) in files {
        if let Some(text) = store::definition_text(db, app, &path, version).await?.flatten() {
            texts.insert(path, text);
        }
    }
    Ok(AppFiles(texts))
}

/// The text a draft keeps of `body`: a JSON definition canonical when it follows its schema,
/// else as it came (indented), so work in progress is never refused.
fn draft_text(kind: FileKind, body: &Value) -> Result<String, EngineError> {
    let members = body.as_object().map(|o| o.keys().map(String::as_str).collect::<Vec<_>>()).unwrap_or_default();
    match (kind.json(), members.as_slice()) {
        (Some(def_kind), ["definition"]) => {
            let mut value = body["definition"].clone();
            if let Value::Object(members) = &mut value
                && !members.contains_key("$schema")
            {
                // Where the schema is from the file's place in an app folder under `apps/`.
                let up = if kind == FileKind::App { "../.." } else { "../../.." };
                members.insert("$schema".into(), Value::String(format!("{up}/schemas/{}", def_kind.schema_file())));
            }
            let value = &value;
            let text = value.to_string();
            Ok(defs::canonicalize(def_kind, &text).unwrap_or_else(|_| serde_json::to_string_pretty(value).unwrap_or(text) + "\n"))
        }
        (None, ["source"]) => {
            body["source"].as_str().map(str::to_owned).ok_or_else(|| EngineError::malformed_at("/source", "`source` is text"))
        }
        (Some(_), _) => Err(EngineError::malformed_at("", format!("send a {} as {{\"definition\": …}} (JSON)", kind.name()))),
        (None, _) => Err(EngineError::malformed_at("", format!("send a {} as {{\"source\": \"…\"}} (text)", kind.name()))),
    }
}

/// `theirs` (an edit of `base`) merged with `ours` (the edits saved since); `None` where both
/// changed the same part. `None` texts are deletions.
fn merge_edits(kind: FileKind, base: Option<String>, ours: Option<String>, theirs: Option<String>) -> Option<Option<String>> {
    if theirs == base || ours == theirs {
        return Some(ours);
    }
    if ours == base {
        return Some(theirs);
    }
    let (Some(base), Some(ours), Some(theirs), Some(def_kind)) = (base, ours, theirs, kind.json()) else { return None };
    let parse = |text: &str| serde_json::from_str::<Value>(text).ok();
    let merged = merge::merge3(&parse(&base)?, &parse(&ours)?, &parse(&theirs)?).ok()?;
    let text = merged.to_string();
    Some(Some(defs::canonicalize(def_kind, &text).unwrap_or_else(|_| serde_json::to_string_pretty(&merged).unwrap_or(text) + "\n")))
}

/// Whom a "view as" shows the app to: a user, or anyone holding one role of the app.
#[derive(Debug, Clone, PartialEq)]
pub enum ViewAs {
    User(String),
    Role(String),
}

/// A file's text as the API shows it: JSON definitions parsed, scripts and templates as text.
fn definition_view(kind: FileKind, id: &str, version: i64, draft: bool, text: String) -> Result<DefinitionView, EngineError> {
    let (definition, source) = match kind.json() {
        Some(_) => (Some(serde_json::from_str(&text).map_err(|e| EngineError::Internal(format!("{}: {e}", kind.path(id))))?), None),
        None => (None, Some(text)),
    };
    Ok(DefinitionView { kind: kind.name(), id: id.to_owned(), version, draft, definition, source })
}

/// Where an expression goes wrong (line and column 1-based; 0 when unknown) and how.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExpressionProblem {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

fn publish_audit(actor: &Actor, release: &Release) -> AuditEntry {
    AuditEntry {
        at: release.published_at.clone(),
        actor: actor.username.clone(),
        action: release.source.clone(),
        app: release.app.clone(),
        form: String::new(),
        record_id: String::new(),
        outcome: "ok".into(),
        before: String::new(),
        after: json!({"release": release.release, "message": release.message, "files": release.files}).to_string(),
    }
}

/// How a release of `app` is made: its source (`publish`, `rollback`, `folder`, `bundle`),
/// message and migrations, and whether the draft is what it publishes.
pub(crate) struct Publish<'a> {
    app: &'a str,
    source: &'a str,
    message: &'a str,
    migrations: &'a [Migration],
    clear_draft: bool,
}

impl Engine {
    /// An app's definitions are read and changed by admins, and by the holders of the roles
    /// its `app.json` names `builders`.
    pub(crate) fn require_builder(&self, actor: &Actor, app: &str) -> Result<(), EngineError> {
        let builder = |loaded: std::sync::Arc<LoadedApp>| actor.roles_in(loaded.id()).iter().any(|r| loaded.defs.app.builders.contains(r));
        if actor.is_admin() || self.app(app).is_ok_and(builder) {
            Ok(())
        } else {
            Err(EngineError::Forbidden(format!("only admins and the app's builders may read and change the definitions of `{app}`")))
        }
    }
}
