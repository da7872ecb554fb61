//! Loading an app — a folder, or its files from anywhere: every file parsed, checked against its schema, deserialised and
//! cross-referenced, with every problem collected as a [`Diagnostic`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use jsonschema::error::ValidationErrorKind;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::diagnostic::segment;
use crate::files::{AppFiles, FileKind};
use crate::schema::validator;
use crate::{App, Dashboard, Diagnostic, Flow, Form, Report, Seed, check};

/// The kinds of definition file, each with its folder and schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DefKind {
    App,
    Form,
    Seed,
    Report,
    Dashboard,
    Flow,
}

impl DefKind {
    /// Folder of this kind inside an app (`None` for the single `app.json`).
    pub fn folder(self) -> Option<&'static str> {
        match self {
            DefKind::App => None,
            DefKind::Form => Some("forms"),
            DefKind::Seed => Some("seed"),
            DefKind::Report => Some("reports"),
            DefKind::Dashboard => Some("dashboards"),
            DefKind::Flow => Some("flows"),
        }
    }

    /// The schema file this kind names with `"$schema"`.
    pub fn schema_file(self) -> &'static str {
        crate::schema::schema_file(self)
    }
}

/// An app folder, loaded. Items are keyed by their id (the file name without `.json`).
#[derive(Debug, Clone)]
pub struct AppDefs {
    pub dir: PathBuf,
    pub app: App,
    pub forms: BTreeMap<String, Form>,
    pub seeds: BTreeMap<String, Seed>,
    pub reports: BTreeMap<String, Report>,
    pub dashboards: BTreeMap<String, Dashboard>,
    pub flows: BTreeMap<String, Flow>,
    /// Sources of `rules/<id>.rhai`, compiled by the rules engine.
    pub scripts: BTreeMap<String, String>,
    /// Sources of `templates/<id>.hbs`, compiled by the printing engine.
    pub templates: BTreeMap<String, String>,
    /// Ids of form files that exist but could not be read: references to them are not reported
    /// again, so one broken file gives one diagnostic, not one per reference.
    pub unreadable_forms: BTreeSet<String>,
}

impl AppDefs {
    /// Whether a form file of this id exists, readable or not.
    pub fn form_exists(&self, id: &str) -> bool {
        self.forms.contains_key(id) || self.unreadable_forms.contains(id)
    }
}

/// Loads the app in folder `dir`. Returns the definitions that could be read (`None` when
/// `app.json` itself is unusable) and every problem found; callers must refuse to run an app
/// with problems.
pub fn load_app(dir: &Path) -> (Option<AppDefs>, Vec<Diagnostic>) {
    let (files, mut diags) = AppFiles::read(dir);
    let (defs, more) = load_files(&files, dir);
    diags.extend(more);
    diags.sort();
    (defs, diags)
}

/// Loads an app from its `files`, as [`load_app`] does a folder; problems name each file as a
/// path under `dir` (empty for an app that lives in the database: `forms/lead.json`).
pub fn load_files(files: &AppFiles, dir: &Path) -> (Option<AppDefs>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let app: Option<App> = match files.get(FileKind::App, "app") {
        Some(text) => read_json(text, &dir.join("app.json"), DefKind::App, &mut diags),
        None => {
            diags.push(Diagnostic::new(dir.join("app.json"), "", "the app has no app.json"));
            None
        }
    };
    let (forms, unreadable_forms) = read_kind(files, dir, FileKind::Form, &mut diags);
    let (seeds, _) = read_kind(files, dir, FileKind::Seed, &mut diags);
    let (reports, _) = read_kind(files, dir, FileKind::Report, &mut diags);
    let (dashboards, _) = read_kind(files, dir, FileKind::Dashboard, &mut diags);
    let (flows, _) = read_kind(files, dir, FileKind::Flow, &mut diags);
    let sources = |kind| files.ids(kind).filter_map(|id| Some((id.clone(), files.get(kind, &id)?.to_owned()))).collect();
    let (scripts, templates) = (sources(FileKind::Rule), sources(FileKind::Template));
    for id in files.ids(FileKind::Test) {
        let file = dir.join(FileKind::Test.path(&id));
        if let Err(problems) = crate::parse_scenario(files.get(FileKind::Test, &id).unwrap_or_default()) {
            diags.extend(problems.into_iter().map(|(pointer, message)| Diagnostic::new(&file, pointer, message)));
        }
    }
    let Some(app) = app else {
        return (None, diags);
    };
    let defs = AppDefs { dir: dir.to_path_buf(), app, forms, seeds, reports, dashboards, flows, scripts, templates, unreadable_forms };
    diags.extend(check::cross_references(&defs));
    diags.sort();
    (Some(defs), diags)
}

/// The readable files of `kind` by id, and the ids of the unreadable ones.
fn read_kind<T: DeserializeOwned>(
    files: &AppFiles,
    dir: &Path,
    kind: FileKind,
    diags: &mut Vec<Diagnostic>,
) -> (BTreeMap<String, T>, BTreeSet<String>) {
    let (mut items, mut unreadable) = (BTreeMap::new(), BTreeSet::new());
    let Some(def_kind) = kind.json() else { return (items, unreadable) };
    for id in files.ids(kind) {
        let text = files.get(kind, &id).unwrap_or_default();
        match read_json(text, &dir.join(kind.path(&id)), def_kind, diags) {
            Some(item) => {
                items.insert(id, item);
            }
            None => {
                unreadable.insert(id);
            }
        }
    }
    (items, unreadable)
}

fn read_json<T: DeserializeOwned>(text: &str, path: &Path, kind: DefKind, diags: &mut Vec<Diagnostic>) -> Option<T> {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            diags.push(Diagnostic::new(path, "", format!("not valid JSON at line {} column {}: {e}", e.line(), e.column())));
            return None;
        }
    };
    parse_definition(&value, kind)
        .map_err(|errs| diags.extend(errs.into_iter().map(|(pointer, message)| Diagnostic::new(path, pointer, message))))
        .ok()
}

/// Checks a definition against its schema and deserialises it. Errors are `(pointer, message)`;
/// the designer API uses this for definitions that arrive over HTTP.
pub fn parse_definition<T: DeserializeOwned>(value: &Value, kind: DefKind) -> Result<T, Vec<(String, String)>> {
    let mut errors = Vec::new();
    for err in validator(kind).iter_errors(value) {
        let at = err.instance_path().to_string();
        match err.kind() {
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().unwrap_or_default();
                errors.push((format!("{at}/{}", segment(name)), format!("`{name}` is required")));
            }
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                for name in unexpected {
                    errors.push((format!("{at}/{}", segment(name)), format!("unknown property `{name}`")));
                }
            }
            _ => errors.push((at, err.to_string())),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    serde_json::from_value(value.clone()).map_err(|e| vec![(String::new(), e.to_string())])
}

/// The canonical text of a definition file's `text`: what `tessera fmt` writes and what the
/// designer saves. Errors are `(pointer, message)`.
pub fn canonicalize(kind: DefKind, text: &str) -> Result<String, Vec<(String, String)>> {
    let value: Value = serde_json::from_str(text).map_err(|e| vec![(String::new(), format!("not valid JSON: {e}"))])?;
    Ok(match kind {
        DefKind::App => crate::to_canonical_json(&parse_definition::<App>(&value, kind)?),
        DefKind::Form => crate::to_canonical_json(&parse_definition::<Form>(&value, kind)?),
        DefKind::Seed => crate::to_canonical_json(&parse_definition::<Seed>(&value, kind)?),
        DefKind::Report => crate::to_canonical_json(&parse_definition::<Report>(&value, kind)?),
        DefKind::Dashboard => crate::to_canonical_json(&parse_definition::<Dashboard>(&value, kind)?),
        DefKind::Flow => crate::to_canonical_json(&parse_definition::<Flow>(&value, kind)?),
    })
}
