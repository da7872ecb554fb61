//! Fuzz targets (issue 24), run by proptest: the CRM's own definitions, rule scripts, records
//! and filters, mutated at random. Each must come back as problems or a result — never a panic,
//! which in a server is a 500 and a lost request. `cargo test -p engine fuzz` runs each for a
//! bounded number of cases (as `.ci/run` does); `PROPTEST_CASES=20000 cargo test --release -p
//! engine fuzz` runs them longer by hand.

use std::path::Path;
use std::sync::OnceLock;

use defs::AppFiles;
use proptest::prelude::*;
use serde_json::{Map, Value};

use crate::apps::LoadedApp;
use crate::filter::parse_filter;

/// How many cases a target runs: `PROPTEST_CASES`, or `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(default)
}

fn crm_files() -> &'static AppFiles {
    static FILES: OnceLock<AppFiles> = OnceLock::new();
    FILES.get_or_init(|| AppFiles::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../apps/crm")).0)
}

fn crm() -> &'static LoadedApp {
    static APP: OnceLock<LoadedApp> = OnceLock::new();
    APP.get_or_init(|| LoadedApp::from_files(crm_files(), Path::new(""), Vec::new(), &rules::Limits::default()).expect("the CRM loads"))
}

/// The words definitions, records and filters are made of, so that a mutation gets past the
/// first check more often than random text would.
const WORDS: [&str; 40] = [
    "id",
    "type",
    "label",
    "fields",
    "required",
    "form",
    "forms",
    "field",
    "options",
    "value",
    "default",
    "formula",
    "eq",
    "ne",
    "in",
    "gt",
    "lt",
    "gte",
    "lte",
    "or",
    "and",
    "not",
    "contains",
    "starts_with",
    "is_null",
    "name",
    "stage",
    "amount",
    "owner",
    "account",
    "state",
    "dimensions",
    "measures",
    "filter",
    "rows",
    "group",
    "sum",
    "count",
    "table",
    "link",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![3 => prop::sample::select(&WORDS[..]).prop_map(str::to_owned), 1 => "[a-z_.]{0,12}", 1 => ".{0,8}"]
}

/// Any JSON value, its keys and strings partly drawn from [`WORDS`].
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("JSON has no NaN or infinity", |f| f.is_finite()).prop_map(Value::from),
        word().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(word(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// `value` with what is at a place `path` picks replaced by `with`: each step picks a member
/// or an element, and the last one replaces it (or, in an object, adds a member beside).
fn mutate(value: &mut Value, path: &[usize], with: Value) {
    let Some((&step, rest)) = path.split_first() else {
        *value = with;
        return;
    };
    match value {
        Value::Object(map) if !map.is_empty() => {
            let key = map.keys().nth(step % map.len()).cloned().unwrap_or_default();
            match map.get_mut(&key) {
                Some(inner) if !rest.is_empty() => mutate(inner, rest, with),
                _ if step % 5 == 0 => {
                    map.insert(format!("{key}_"), with);
                }
                _ => {
                    map.insert(key, with);
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let len = items.len();
            mutate(&mut items[step % len], rest, with)
        }
        _ => *value = with,
    }
}

/// The app's files with `path` replaced by `text`, loaded: problems or an app, and no panic.
fn load_with(path: &str, text: String) {
    let mut files = crm_files().clone();
    files.0.insert(path.to_owned(), text);
    let _ = LoadedApp::from_files(&files, Path::new(""), Vec::new(), &rules::Limits::default());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(48)))]

    /// A definition file of the CRM (a form, flow, report, dashboard, role, the app) with one
    /// place replaced: loading, checking every reference, compiling forms and reports.
    #[test]
    fn a_mutated_definition_loads_or_is_refused(file in any::<usize>(), path in prop::collection::vec(any::<usize>(), 1..6), with in json()) {
        let paths: Vec<&String> = crm_files().0.keys().filter(|p| p.ends_with(".json") && !p.starts_with("tests/")).collect();
        let path_of_file = paths[file % paths.len()];
        let mut value: Value = serde_json::from_str(&crm_files().0[path_of_file]).expect("the CRM's files are JSON");
        mutate(&mut value, &path, with);
        load_with(path_of_file, value.to_string());
    }

    /// A rule script of the CRM with text put in at some place: compiling it.
    #[test]
    fn a_mutated_rule_compiles_or_is_refused(file in any::<usize>(), at in any::<usize>(), snippet in prop_oneof![".{0,12}", "[(){}\\[\\];,.=+\"a-z0-9 ]{0,12}"]) {
        let paths: Vec<&String> = crm_files().0.keys().filter(|p| p.ends_with(".rhai")).collect();
        let path = paths[file % paths.len()];
        let mut text = crm_files().0[path].clone();
        let mut at = at % (text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.insert_str(at, &snippet);
        load_with(path, text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(256)))]

    /// Any record data for a CRM form, its keys mostly the form's fields: validated.
    #[test]
    fn any_record_is_valid_or_refused(form in any::<usize>(), values in prop::collection::vec((any::<usize>(), json()), 0..8)) {
        let forms: Vec<_> = crm().forms.values().collect();
        let rt = forms[form % forms.len()];
        let fields = &rt.compiled.def.fields;
        let data: Map<String, Value> = values.into_iter().map(|(i, v)| (fields[i % fields.len()].id.clone(), v)).collect();
        let _ = rt.compiled.validate(&Value::Object(data));
    }

    /// Any list filter over a CRM form, its keys partly the form's fields and dot paths
    /// through its links: parsed into the store's filter, or refused.
    #[test]
    fn any_filter_parses_or_is_refused(form in any::<usize>(), filter in json(), fields in prop::collection::vec((any::<usize>(), json()), 0..4)) {
        let forms: Vec<_> = crm().forms.values().collect();
        let rt = forms[form % forms.len()];
        let ids = &rt.compiled.def.fields;
        let mut value = filter;
        if let Value::Object(map) = &mut value {
            for (i, condition) in fields {
                let field = &ids[i % ids.len()];
                let key = if field.kind == defs::FieldKind::LINK && i % 2 == 0 { format!("{}.name", field.id) } else { field.id.clone() };
                map.insert(key, condition);
            }
        }
        let _ = parse_filter(crm(), rt, &value, "/filter");
    }
}
