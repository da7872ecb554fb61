//! The rules the code holds itself to, checked on every run of the suite (as rust-analyzer's tidy
//! tests do): crates depend on each other only as `docs/architecture.md` draws it, the server
//! reaches storage only through the engine, and every source file says what it is in its first
//! line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The internal crates each crate may depend on: the graph of `docs/architecture.md`. `bench`
/// and the test crate drive the whole product and may use any.
const ALLOWED: &[(&str, &[&str])] = &[
    ("defs", &[]),
    ("forms", &["defs"]),
    ("rules", &[]),
    // Reports read each field type's facets (column kind, decimal scale) from the forms registry.
    ("reports", &["defs", "forms"]),
    ("workflow", &["defs"]),
    ("printing", &[]),
    ("store", &[]),
    ("engine", &["defs", "forms", "rules", "reports", "workflow", "printing", "store"]),
    // `tessera fmt` and `check` read and write definition files themselves.
    ("server", &["engine", "defs", "web"]),
    ("web", &[]),
];

/// Crates that open a database: only the store may depend on them (and the engine on the store),
/// so the server's routes have no path to data but the engine.
const DATABASE_CLIENTS: &[&str] = &["sea-orm", "sqlx", "rusqlite", "postgres", "tokio-postgres"];

/// SQL builders: the store, and the report engine, which compiles reports to statements the
/// store runs.
const SQL_WRITERS: &[&str] = &["store", "reports"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The package name and the `[dependencies]` names of a Cargo manifest (dev-dependencies are
/// tests' business).
fn manifest(text: &str) -> (String, BTreeSet<String>) {
    let (mut name, mut deps, mut section) = (String::new(), BTreeSet::new(), String::new());
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.to_owned();
            continue;
        }
        let key = line.split(['=', '.', ' ']).next().unwrap_or_default().trim();
        if key.is_empty() || key.starts_with('#') {
            continue;
        }
        match section.as_str() {
            "[package]" if key == "name" => name = line.split('"').nth(1).unwrap_or_default().to_owned(),
            "[dependencies]" => {
                deps.insert(key.to_owned());
            }
            _ => {}
        }
    }
    (name, deps)
}

/// Every way `manifests` (package name → dependencies) breaks the allowed graph.
fn wrong_way(manifests: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut problems = Vec::new();
    for (name, deps) in manifests {
        let Some(may) = allowed.get(name.as_str()) else { continue };
        for dep in deps {
            if allowed.contains_key(dep.as_str()) && !may.contains(&dep.as_str()) {
                problems.push(format!("`{name}` depends on `{dep}`, which docs/architecture.md does not allow"));
            }
            if DATABASE_CLIENTS.contains(&dep.as_str()) && name != "store" {
                problems.push(format!("`{name}` depends on `{dep}`: only the store opens the database"));
            }
            if dep == "sea-query" && !SQL_WRITERS.contains(&name.as_str()) {
                problems.push(format!("`{name}` depends on `{dep}`: only the store and reports write SQL"));
            }
        }
    }
    problems
}

/// Workspace dependencies named other than their package (`ui = { package = "web", … }`).
fn aliases() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    text.lines()
        .filter_map(|line| {
            let (key, rest) = line.split_once('=')?;
            let package = rest.split("package = \"").nth(1)?.split('"').next()?;
            Some((key.trim().to_owned(), package.to_owned()))
        })
        .collect()
}

/// Each crate's package name and the packages it depends on.
fn crate_manifests() -> BTreeMap<String, BTreeSet<String>> {
    let aliases = aliases();
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(root().join("crates")).unwrap() {
        let path = entry.unwrap().path().join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&path) {
            let (name, deps) = manifest(&text);
            out.insert(name, deps.into_iter().map(|d| aliases.get(&d).cloned().unwrap_or(d)).collect());
        }
    }
    out
}

#[test]
fn crates_depend_on_each_other_only_as_the_architecture_draws_it() {
    let manifests = crate_manifests();
    for (name, _) in ALLOWED {
        assert!(manifests.contains_key(*name), "no crate `{name}`: is the graph in this test still the workspace's?");
    }
    let problems = wrong_way(&manifests);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_wrong_way_dependency_is_caught() {
    let (name, deps) = manifest(
        "[package]\nname = \"forms\"\n\n[dependencies]\ndefs.workspace = true\nengine = { path = \"../engine\" }\nsea-orm.workspace = true\n\n[dev-dependencies]\nstore.workspace = true\n",
    );
    assert_eq!((name.as_str(), deps.iter().map(String::as_str).collect::<Vec<_>>()), ("forms", vec!["defs", "engine", "sea-orm"]));
    let problems = wrong_way(&BTreeMap::from([(name, deps)]));
    assert_eq!(
        problems,
        [
            "`forms` depends on `engine`, which docs/architecture.md does not allow",
            "`forms` depends on `sea-orm`: only the store opens the database",
        ]
    );
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_source_file_says_what_it_is_in_its_first_line() {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(root().join("crates")).unwrap() {
        let src = entry.unwrap().path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    rust_files(&root().join("tests"), &mut files);
    let silent: Vec<String> = files
        .iter()
        .filter(|f| !std::fs::read_to_string(f).unwrap().trim_start().starts_with("//!"))
        .map(|f| f.strip_prefix(root()).unwrap_or(f).display().to_string())
        .collect();
    assert!(silent.is_empty(), "files without a `//!` first line saying what they are:\n{}", silent.join("\n"));
}
