//! An app folder (at start-up) or a bundle meets the database. The first time, its files are
//! installed as release 1. Later, what changed in them since the app was last installed is
//! merged into the live release, three-way per file, so an admin's changes made in the browser
//! are kept; where both changed the same part the admin's version stays and a warning says so.
//! A new release that would leave stored records invalid is refused, as a publish is.

use std::collections::BTreeMap;
use std::path::Path;

use defs::{AppFiles, Bundle, BundleError, Diagnostic, FileKind, Manifest};
use serde::Serialize;
use store::{Conn, DefinitionVersion, Release};

use super::{Publish, merge_edits};
use crate::audit::Subject;
use crate::{Actor, AppId, Engine, EngineError, Limit, time};

/// What an install made: the app's live release, and the files where an admin's change to the
/// same part was kept over the installed one's.
#[derive(Debug, Clone, Serialize)]
pub struct Installed {
    pub release: i64,
    pub conflicts: Vec<String>,
}

/// Who saves the files an install brings (as `Actor::system` publishes them).
const INSTALLER: &str = "system";

impl Engine {
    /// The files of `app`'s live release, canonical, as a bundle (a zip); admins only.
    pub async fn export_bundle(&self, actor: &Actor, app: &AppId) -> Result<Vec<u8>, EngineError> {
        let app = app.as_str();
        self.command(actor, Subject { action: "export_app", app, form: "", id: "" }, async {
            self.require_builder(actor, app)?;
            let release = store::latest_release(self.store.db(), app).await?.ok_or_else(|| EngineError::app_not_found(app))?;
            let files = AppFiles(texts(self.store.db(), app, &release.files).await?);
            let app_json: serde_json::Value = serde_json::from_str(files.get(FileKind::App, app).unwrap_or("{}")).unwrap_or_default();
            let version = app_json["version"].as_str().unwrap_or_default().to_owned();
            Bundle::new(app, &version, files).to_zip().map_err(|e| EngineError::Internal(e.to_string()))
        })
        .await
    }

    /// Installs the app in bundle `bytes`, or merges its changes since the app was last
    /// installed into the live release (see [`Engine::install_files`]); admins only. Answers the
    /// app's id, its live release and the files where the admins' changes were kept over the
    /// bundle's (both changed the same part: for a person to decide).
    pub async fn install_bundle(&self, actor: &Actor, bytes: &[u8]) -> Result<(String, Installed), EngineError> {
        self.command(actor, Subject { action: "install_app", app: "", form: "", id: "" }, async {
            crate::access::require_admin(actor, "make or install apps")?;
            let bundle = Bundle::from_zip(bytes).map_err(|e| match e {
                BundleError::TooLarge => EngineError::TooLarge {
                    message: e.to_string(),
                    limit: Limit { name: "MAX_BUNDLE_UNZIPPED_BYTES", value: defs::MAX_BUNDLE_UNZIPPED_BYTES },
                },
                other => EngineError::malformed_at("", other.to_string()),
            })?;
            let Manifest { app, version, .. } = &bundle.manifest;
            let message = format!("installed from the bundle of {app} {version}");
            let installed = Box::pin(self.install_files(bundle.files, Vec::new(), Path::new(""), "bundle", &message)).await?;
            Ok((app.clone(), installed))
        })
        .await
    }

    /// Creates app `id` with nothing in it but its `app.json` — `settings` are its members
    /// (`name`, and `icon`, `languages` … as the app schema has them, checked like any file):
    /// release 1, for the builder to fill; admins only.
    pub async fn create_app(&self, actor: &Actor, id: &str, settings: &serde_json::Value) -> Result<i64, EngineError> {
        self.command(actor, Subject { action: "create_app", app: id, form: "", id: "" }, async {
            crate::access::require_admin(actor, "make or install apps")?;
            if !defs::is_identifier(id) {
                return Err(EngineError::malformed_at("/id", "an app id is snake_case, at most 48 characters"));
            }
            if store::latest_release(self.store.db(), id).await?.is_some() {
                return Err(EngineError::Conflict(format!("an app `{id}` exists")));
            }
            let mut app = serde_json::json!({"$schema": "../../schemas/app.schema.json", "format_version": defs::FORMAT_VERSION,
                                             "id": id, "version": "0.1.0"});
            if let (Some(app), Some(settings)) = (app.as_object_mut(), settings.as_object()) {
                app.extend(settings.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            let text = defs::canonicalize(defs::DefKind::App, &app.to_string()).map_err(|problems| {
                let (pointer, message) = problems.into_iter().next().unwrap_or_default();
                EngineError::malformed_at(pointer, message)
            })?;
            let files = AppFiles(BTreeMap::from([("app.json".to_owned(), text)]));
            let checked = self.check_files(&files, Path::new(""))?;
            let (turn, tx) = self.store.begin().await?;
            store::lock_key(&tx, &format!("definitions:{id}")).await?;
            let versions = save_files(&tx, id, &files, None).await?;
            turn.commit(tx).await?;
            let publish = Publish { app: id, source: "create", message: "created", migrations: &[], clear_draft: false };
            Ok(Box::pin(self.release_checked(actor, checked, versions, publish)).await?.release)
        })
        .await
    }

    /// Installs the app in folder `dir` (see [`Engine::install_files`]).
    pub(crate) async fn install_folder(&self, dir: &Path) -> Result<Installed, EngineError> {
        let (files, diags) = AppFiles::read(dir);
        self.install_files(files, diags, dir, "folder", &format!("installed from {}", dir.display())).await
    }

    /// Installs an app's `files` (with `diags`, the problems met reading them, named under
    /// `origin`), or merges their changes since the app was last installed, and loads the app's
    /// live release; answers it, with the files where an admin's change was kept. Files with
    /// problems, a merged app with problems, or a release that would leave stored records
    /// invalid are refused with every problem.
    pub(crate) async fn install_files(
        &self,
        files: AppFiles,
        diags: Vec<Diagnostic>,
        origin: &Path,
        source: &str,
        message: &str,
    ) -> Result<Installed, EngineError> {
        // The files as they are must make a valid app: its problems name its own files.
        let incoming_app = crate::LoadedApp::from_files(&files, origin, diags, &self.rule_limits)?;
        let app = incoming_app.id().to_owned();
        if super::archived_apps(self.store.db()).await?.contains(&app) {
            tracing::info!(app, "the app is archived: not installed nor served");
            let release = store::latest_release(self.store.db(), &app).await?.map_or(0, |r| r.release);
            return Ok(Installed { release, conflicts: Vec::new() });
        }
        let incoming = canonical(&files);
        let db = self.store.db();
        let live = store::latest_release(db, &app).await?;
        let (base, ours) = match &live {
            Some(live) => (installed_files(db, &app, source).await?, texts(db, &app, &live.files).await?),
            None => (BTreeMap::new(), BTreeMap::new()),
        };
        let (mut merged, mut conflicts) = (BTreeMap::new(), Vec::new());
        let paths: std::collections::BTreeSet<&String> = base.keys().chain(ours.keys()).chain(incoming.keys()).collect();
        for path in paths {
            let Some((kind, _)) = FileKind::of_path(path) else { continue };
            let (b, o, t) = (base.get(path).cloned(), ours.get(path).cloned(), incoming.get(path).cloned());
            let text = match merge_edits(kind, b, o.clone(), t) {
                Some(text) => text,
                None => {
                    tracing::warn!(
                        app,
                        path,
                        "the installed files and an admin changed the same part of this file; the admin's version stays"
                    );
                    conflicts.push(path.clone());
                    o
                }
            };
            if let Some(text) = text {
                merged.insert(path.clone(), text);
            }
        }
        let merged = AppFiles(merged);
        let published = AppFiles(ours);
        // Checked as it will run: the merge may differ from the files.
        let checked = if merged == files { incoming_app } else { self.check_files(&merged, Path::new(""))? };
        let release = match &live {
            Some(live) if merged == published => {
                self.load_release(checked.into_release(live.release, &live.files)).await?;
                live.release
            }
            _ => {
                let (turn, tx) = self.store.begin().await?;
                store::lock_key(&tx, &format!("definitions:{app}")).await?;
                let versions = save_files(&tx, &app, &merged, live.as_ref()).await?;
                turn.commit(tx).await?;
                let publish = Publish { app: &app, source, message, migrations: &[], clear_draft: false };
                self.release_checked(&Actor::system(), checked, versions, publish).await?.release
            }
        };
        if incoming != base {
            let (turn, tx) = self.store.begin().await?;
            remember_installed(&tx, &app, source, &AppFiles(incoming)).await?;
            turn.commit(tx).await?;
        }
        tracing::info!(app, release, "installed app");
        Ok(Installed { release, conflicts })
    }
}

/// The files with JSON definitions in their canonical text (a file that has none is left as
/// it is: the check that follows names its problem).
fn canonical(files: &AppFiles) -> BTreeMap<String, String> {
    files
        .0
        .iter()
        .map(|(path, text)| {
            let canonical = FileKind::of_path(path).and_then(|(kind, _)| defs::canonical_text(kind, text).ok());
            (path.clone(), canonical.unwrap_or_else(|| text.clone()))
        })
        .collect()
}

/// Saves each file whose text differs from the live release's as its next version; returns
/// the version of every file.
async fn save_files(tx: &impl Conn, app: &str, files: &AppFiles, live: Option<&Release>) -> Result<BTreeMap<String, i64>, EngineError> {
    let mut versions = BTreeMap::new();
    for (path, text) in &files.0 {
        let kept = match live.and_then(|l| l.files.get(path)) {
            Some(v) => store::definition_text(tx, app, path, *v).await?.flatten().as_ref() == Some(text),
            None => false,
        };
        let version = match (kept, live.and_then(|l| l.files.get(path))) {
            (true, Some(v)) => *v,
            _ => {
                let version = store::latest_definition_version(tx, app, path).await? + 1;
                let saved = DefinitionVersion {
                    app: app.to_owned(),
                    path: path.clone(),
                    version,
                    text: Some(text.clone()),
                    author: INSTALLER.into(),
                    saved_at: time::now(),
                };
                store::save_definition(tx, &saved).await?;
                version
            }
        };
        versions.insert(path.clone(), version);
    }
    Ok(versions)
}

async fn texts(db: &impl Conn, app: &str, files: &BTreeMap<String, i64>) -> Result<BTreeMap<String, String>, EngineError> {
    Ok(store::definition_texts(db, app, files).await?)
}

/// The key under which the files last installed from `source` (a folder or a bundle) are
/// kept: the base of the next install's merge from that source. Kept apart, so a server that
/// starts with an unchanged folder does not take back what a newer bundle brought.
fn installed_key(app: &str, source: &str) -> String {
    format!("installed:{source}:{app}")
}

/// The files last installed from `source`; a first bundle takes the folder's as its base.
async fn installed_files(db: &impl Conn, app: &str, source: &str) -> Result<BTreeMap<String, String>, EngineError> {
    for key in [installed_key(app, source), installed_key(app, "folder")] {
        if let Some(text) = store::get_meta(db, &key).await? {
            return serde_json::from_str(&text).map_err(|e| EngineError::Internal(format!("{key}: {e}")));
        }
    }
    Ok(BTreeMap::new())
}

async fn remember_installed(db: &impl Conn, app: &str, source: &str, files: &AppFiles) -> Result<(), EngineError> {
    let text = serde_json::to_string(&files.0).map_err(|e| EngineError::Internal(e.to_string()))?;
    Ok(store::set_meta(db, &installed_key(app, source), &text).await?)
}
