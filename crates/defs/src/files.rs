//! An app as a set of files in memory — `app.json`, `forms/lead.json`, `rules/lead_score.rhai`
//! … by their path inside the app — wherever they came from: a folder (the consultant's and
//! git's format), a bundle, or the database that keeps every published version.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use crate::{DefKind, Diagnostic, is_identifier};

/// The kinds of file an app is made of, as the definitions API names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FileKind {
    App,
    Form,
    Flow,
    Rule,
    Report,
    Dashboard,
    Template,
    Seed,
    /// A scenario test (`tests/<id>.json`).
    Test,
}

impl FileKind {
    pub const ALL: [FileKind; 9] = [
        FileKind::App,
        FileKind::Form,
        FileKind::Flow,
        FileKind::Rule,
        FileKind::Report,
        FileKind::Dashboard,
        FileKind::Template,
        FileKind::Seed,
        FileKind::Test,
    ];

    /// The name in the API (`/definitions/{kind}/{id}`).
    pub fn name(self) -> &'static str {
        match self {
            FileKind::App => "app",
            FileKind::Form => "form",
            FileKind::Flow => "flow",
            FileKind::Rule => "rule",
            FileKind::Report => "report",
            FileKind::Dashboard => "dashboard",
            FileKind::Template => "template",
            FileKind::Seed => "seed",
            FileKind::Test => "test",
        }
    }

    pub fn parse(name: &str) -> Option<FileKind> {
        FileKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The schema a JSON file of this kind follows; `None` for scripts and templates.
    pub fn json(self) -> Option<DefKind> {
        match self {
            FileKind::App => Some(DefKind::App),
            FileKind::Form => Some(DefKind::Form),
            FileKind::Flow => Some(DefKind::Flow),
            FileKind::Report => Some(DefKind::Report),
            FileKind::Dashboard => Some(DefKind::Dashboard),
            FileKind::Seed => Some(DefKind::Seed),
            FileKind::Rule | FileKind::Template | FileKind::Test => None,
        }
    }

    /// The folder and extension of this kind's files (`app.json` alone has no folder).
    fn place(self) -> (&'static str, &'static str) {
        match self {
            FileKind::App => ("", "json"),
            FileKind::Form => ("forms", "json"),
            FileKind::Flow => ("flows", "json"),
            FileKind::Rule => ("rules", "rhai"),
            FileKind::Report => ("reports", "json"),
            FileKind::Dashboard => ("dashboards", "json"),
            FileKind::Template => ("templates", "hbs"),
            FileKind::Seed => ("seed", "json"),
            FileKind::Test => ("tests", "json"),
        }
    }

    /// The path of file `id` of this kind inside an app; `app.json` whatever the id.
    pub fn path(self, id: &str) -> String {
        match self.place() {
            ("", extension) => format!("app.{extension}"),
            (folder, extension) => format!("{folder}/{id}.{extension}"),
        }
    }

    /// The kind and id of the file at `path` inside an app (the id of `app.json` is `app`).
    pub fn of_path(path: &str) -> Option<(FileKind, String)> {
        if path == "app.json" {
            return Some((FileKind::App, "app".to_owned()));
        }
        let (folder, name) = path.split_once('/')?;
        let (id, extension) = name.rsplit_once('.')?;
        let kind = FileKind::ALL.into_iter().find(|k| k.place() == (folder, extension) && *k != FileKind::App)?;
        is_identifier(id).then(|| (kind, id.to_owned()))
    }
}

/// An app's files by path inside the app, each with its text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppFiles(pub BTreeMap<String, String>);

impl AppFiles {
    /// Reads the app in folder `dir`: `app.json` and every file of a known kind in its folders.
    /// A file that cannot be read, or whose name is no identifier, is a problem and left out.
    pub fn read(dir: &Path) -> (AppFiles, Vec<Diagnostic>) {
        let (mut files, mut diags) = (BTreeMap::new(), Vec::new());
        let app = dir.join("app.json");
        match fs::read_to_string(&app) {
            Ok(text) => {
                files.insert("app.json".to_owned(), text);
            }
            Err(e) => diags.push(Diagnostic::new(&app, "", format!("cannot read: {e}"))),
        }
        for kind in FileKind::ALL.into_iter().filter(|k| *k != FileKind::App) {
            let (folder, extension) = kind.place();
            let Ok(entries) = fs::read_dir(dir.join(folder)) else { continue };
            for path in entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == extension)) {
                let id = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
                if !is_identifier(&id) {
                    diags.push(Diagnostic::new(&path, "", format!("file name `{id}` must be a snake_case identifier")));
                    continue;
                }
                match fs::read_to_string(&path) {
                    Ok(text) => {
                        files.insert(kind.path(&id), text);
                    }
                    Err(e) => diags.push(Diagnostic::new(&path, "", format!("cannot read: {e}"))),
                }
            }
        }
        (AppFiles(files), diags)
    }

    /// Writes every file into folder `dir`, creating the folders they need.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        for (path, text) in &self.0 {
            let file = dir.join(path);
            if let Some(parent) = file.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::write(file, text)?;
        }
        Ok(())
    }

    /// The text of the file of `kind` and `id`.
    pub fn get(&self, kind: FileKind, id: &str) -> Option<&str> {
        self.0.get(&kind.path(id)).map(String::as_str)
    }

    /// The ids of the files of `kind`.
    pub fn ids(&self, kind: FileKind) -> impl Iterator<Item = String> + '_ {
        self.0.keys().filter_map(move |path| FileKind::of_path(path).filter(|(k, _)| *k == kind).map(|(_, id)| id))
    }
}

/// The canonical text of a file of `kind`: for a JSON definition what `tessera fmt` writes,
/// for a scenario test its text as the format writes it, for a script or a template its text
/// as given. Errors are `(pointer, message)`.
pub fn canonical_text(kind: FileKind, text: &str) -> Result<String, Vec<(String, String)>> {
    match kind.json() {
        Some(def_kind) => crate::canonicalize(def_kind, text),
        None if kind == FileKind::Test => Ok(crate::to_canonical_json(&crate::parse_scenario(text)?)),
        None => Ok(text.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_finds_its_way_back_from_its_path() {
        for kind in FileKind::ALL {
            let id = if kind == FileKind::App { "app" } else { "lead_score" };
            assert_eq!(FileKind::of_path(&kind.path(id)), Some((kind, id.to_owned())), "{kind:?}");
            assert_eq!(FileKind::parse(kind.name()), Some(kind));
        }
        assert_eq!(FileKind::of_path("forms/Lead.json"), None);
        assert_eq!(FileKind::of_path("forms/lead.rhai"), None);
        assert_eq!(FileKind::of_path("secrets/x.json"), None);
    }

    #[test]
    fn the_crm_folder_reads_into_files_and_writes_back_the_same() {
        let crm = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../apps/crm");
        let (files, diags) = AppFiles::read(&crm);
        assert!(diags.is_empty(), "{diags:?}");
        assert!(files.get(FileKind::Rule, "lead_score").is_some() && files.get(FileKind::App, "crm").is_some());
        let out = std::env::temp_dir().join(format!("tessera-files-{}", std::process::id()));
        files.write(&out).unwrap();
        assert_eq!(AppFiles::read(&out).0, files);
        std::fs::remove_dir_all(out).ok();
    }
}
