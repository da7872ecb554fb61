//! Loading an app folder: every file parsed, checked against its schema, deserialised and
//! cross-referenced, with every problem collected as a [`Diagnostic`].

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use jsonschema::error::ValidationErrorKind;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::diagnostic::segment;
use crate::schema::validator;
use crate::{App, Dashboard, Diagnostic, Flow, Form, Report, Seed, check, is_identifier};

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

impl AppDefs {
    /// Every definition file with its kind and path, for tools that rewrite or list them.
    pub fn files(&self) -> Vec<(DefKind, PathBuf)> {
        let mut files = vec![(DefKind::App, self.dir.join("app.json"))];
        for id in self.forms.keys() {
            files.push((DefKind::Form, self.dir.join("forms").join(format!("{id}.json"))));
        }
        for id in self.seeds.keys() {
            files.push((DefKind::Seed, self.dir.join("seed").join(format!("{id}.json"))));
        }
        for id in self.reports.keys() {
            files.push((DefKind::Report, self.dir.join("reports").join(format!("{id}.json"))));
        }
        for id in self.dashboards.keys() {
            files.push((DefKind::Dashboard, self.dir.join("dashboards").join(format!("{id}.json"))));
        }
        for id in self.flows.keys() {
            files.push((DefKind::Flow, self.dir.join("flows").join(format!("{id}.json"))));
        }
        files
    }
}

/// Loads the app in `dir`. Returns the definitions that could be read (`None` when `app.json`
/// itself is unusable) and every problem found; callers must refuse to run an app with problems.
pub fn load_app(dir: &Path) -> (Option<AppDefs>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let app: Option<App> = read_file(&dir.join("app.json"), DefKind::App, &mut diags);
    let (forms, unreadable_forms) = read_folder(dir, DefKind::Form, &mut diags);
    let (seeds, _) = read_folder(dir, DefKind::Seed, &mut diags);
    let (reports, _) = read_folder(dir, DefKind::Report, &mut diags);
    let (dashboards, _) = read_folder(dir, DefKind::Dashboard, &mut diags);
    let (flows, _) = read_folder(dir, DefKind::Flow, &mut diags);
    let scripts = read_sources(&dir.join("rules"), "rhai", &mut diags);
    let templates = read_sources(&dir.join("templates"), "hbs", &mut diags);
    let Some(app) = app else {
        return (None, diags);
    };
    let defs = AppDefs { dir: dir.to_path_buf(), app, forms, seeds, reports, dashboards, flows, scripts, templates, unreadable_forms };
    diags.extend(check::cross_references(&defs));
    diags.sort();
    (Some(defs), diags)
}

/// The text files with `extension` in `folder`, by id.
fn read_sources(folder: &Path, extension: &str, diags: &mut Vec<Diagnostic>) -> BTreeMap<String, String> {
    let mut scripts = BTreeMap::new();
    let Ok(entries) = fs::read_dir(folder) else {
        return scripts;
    };
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == extension)) {
        let id = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
        match fs::read_to_string(&path) {
            Ok(_) if !is_identifier(&id) => {
                diags.push(Diagnostic::new(&path, "", format!("file name `{id}` must be a snake_case identifier")))
            }
            Ok(source) => {
                scripts.insert(id, source);
            }
            Err(e) => diags.push(Diagnostic::new(&path, "", format!("cannot read: {e}"))),
        }
    }
    scripts
}

/// The readable items of a folder by id, and the ids of the unreadable ones.
fn read_folder<T: DeserializeOwned>(dir: &Path, kind: DefKind, diags: &mut Vec<Diagnostic>) -> (BTreeMap<String, T>, BTreeSet<String>) {
    let mut items = BTreeMap::new();
    let mut unreadable = BTreeSet::new();
    let folder = dir.join(kind.folder().unwrap_or_default());
    let Ok(entries) = fs::read_dir(&folder) else {
        return (items, unreadable);
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths.into_iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
        let id = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
        if !is_identifier(&id) {
            diags.push(Diagnostic::new(&path, "", format!("file name `{id}` must be a snake_case identifier")));
            continue;
        }
        match read_file(&path, kind, diags) {
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

fn read_file<T: DeserializeOwned>(path: &Path, kind: DefKind, diags: &mut Vec<Diagnostic>) -> Option<T> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            diags.push(Diagnostic::new(path, "", format!("cannot read: {e}")));
            return None;
        }
    };
    let value: Value = match serde_json::from_str(&text) {
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
