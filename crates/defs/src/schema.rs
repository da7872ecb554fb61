//! JSON Schemas (draft 2020-12) of every definition kind, generated from the serde types so
//! they cannot drift; `schemas/` in the repository holds their text, kept fresh by a test.

use std::sync::OnceLock;

use jsonschema::Validator;
use serde_json::Value;

use crate::{App, Dashboard, DefKind, Flow, Form, Report, Seed};

/// File name under `schemas/` for each kind.
pub const SCHEMA_FILES: &[(DefKind, &str)] = &[
    (DefKind::App, "app.schema.json"),
    (DefKind::Form, "form.schema.json"),
    (DefKind::Seed, "seed.schema.json"),
    (DefKind::Report, "report.schema.json"),
    (DefKind::Dashboard, "dashboard.schema.json"),
    (DefKind::Flow, "flow.schema.json"),
];

/// The JSON Schema of one definition kind.
pub fn schema_json(kind: DefKind) -> Value {
    let schema = match kind {
        DefKind::App => schemars::schema_for!(App),
        DefKind::Form => schemars::schema_for!(Form),
        DefKind::Seed => schemars::schema_for!(Seed),
        DefKind::Report => schemars::schema_for!(Report),
        DefKind::Dashboard => schemars::schema_for!(Dashboard),
        DefKind::Flow => schemars::schema_for!(Flow),
    };
    schema.to_value()
}

pub(crate) fn schema_file(kind: DefKind) -> &'static str {
    SCHEMA_FILES.iter().find(|(k, _)| *k == kind).map(|(_, f)| *f).unwrap_or("")
}

/// Compiled validators, built once per process.
pub(crate) fn validator(kind: DefKind) -> &'static Validator {
    static CACHE: OnceLock<Vec<(DefKind, Validator)>> = OnceLock::new();
    let all = CACHE.get_or_init(|| {
        SCHEMA_FILES
            .iter()
            .map(|(k, _)| {
                // The schemas are generated from our own types: failing to compile is a bug.
                let v = jsonschema::draft202012::new(&schema_json(*k)).expect("generated schema compiles");
                (*k, v)
            })
            .collect()
    });
    &all.iter().find(|(k, _)| *k == kind).expect("every kind has a schema").1
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// `schemas/` must hold exactly what the types generate. Run with `TESSERA_BLESS=1` to
    /// rewrite the files after changing a definition type.
    #[test]
    fn schemas_folder_is_fresh() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
        let bless = std::env::var_os("TESSERA_BLESS").is_some();
        for (kind, file) in SCHEMA_FILES {
            let path = dir.join(file);
            let expected = crate::to_canonical_json(&schema_json(*kind));
            if bless {
                std::fs::write(&path, &expected).unwrap();
            }
            let actual = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(actual == expected, "{} is stale: run `TESSERA_BLESS=1 cargo test -p defs`", path.display());
        }
    }
}
