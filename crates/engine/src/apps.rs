//! Loading an app: definitions checked, forms compiled, record tables and indexes created.

use std::collections::BTreeMap;
use std::path::Path;

use defs::{AppDefs, Diagnostic, FieldKind};
use forms::{Column, CompiledForm};
use store::{ColumnKind, FormTable, Store};

use crate::EngineError;

/// An app ready to serve.
#[derive(Debug)]
pub struct LoadedApp {
    pub defs: AppDefs,
    pub(crate) forms: BTreeMap<String, FormRuntime>,
}

#[derive(Debug)]
pub(crate) struct FormRuntime {
    pub(crate) compiled: CompiledForm,
    pub(crate) table: FormTable,
}

/// PostgreSQL cuts identifiers at 63 bytes; a longer table name would silently collide.
const MAX_TABLE_NAME: usize = 63;

impl LoadedApp {
    /// Loads and checks the app in `dir`; any problem refuses the whole app.
    pub fn load(dir: &Path) -> Result<LoadedApp, EngineError> {
        let (defs, mut diags) = defs::load_app(dir);
        let mut forms = BTreeMap::new();
        if let Some(defs) = &defs {
            for (id, form) in &defs.forms {
                let file = dir.join("forms").join(format!("{id}.json"));
                let table = FormTable::new(&defs.app.id, id);
                if table.name.len() > MAX_TABLE_NAME {
                    diags.push(Diagnostic::new(&file, "", "app id and form id together are too long (table name over 63 bytes)"));
                }
                match CompiledForm::compile(id, form) {
                    Ok(compiled) => {
                        forms.insert(id.clone(), FormRuntime { compiled, table });
                    }
                    Err(errors) => diags.extend(errors.into_iter().map(|e| Diagnostic::new(&file, e.path, e.message))),
                }
            }
        }
        match defs {
            Some(defs) if diags.is_empty() => Ok(LoadedApp { defs, forms }),
            _ => Err(EngineError::Definitions(diags)),
        }
    }

    /// Every problem `tessera check` reports for the app in `dir`: definitions and compilation.
    pub fn check(dir: &Path) -> Vec<Diagnostic> {
        match LoadedApp::load(dir) {
            Ok(_) => Vec::new(),
            Err(EngineError::Definitions(diags)) => diags,
            Err(other) => vec![Diagnostic::new(dir, "", other.to_string())],
        }
    }

    pub fn id(&self) -> &str {
        &self.defs.app.id
    }

    /// The compiled forms by id.
    pub fn forms(&self) -> impl Iterator<Item = (&str, &CompiledForm)> {
        self.forms.iter().map(|(id, f)| (id.as_str(), &f.compiled))
    }

    pub(crate) fn form(&self, id: &str) -> Result<&FormRuntime, EngineError> {
        self.forms.get(id).ok_or_else(|| EngineError::NotFound(format!("form `{id}` in app `{}`", self.id())))
    }

    /// Creates the tables with the indexes the forms ask for, plus one per dedupe key and per
    /// link field (dedupe checks and dot-path filters look them up).
    pub(crate) async fn ensure_tables(&self, store: &Store) -> Result<(), EngineError> {
        for rt in self.forms.values() {
            let form = &rt.compiled.def;
            let key = |names: &Vec<String>| -> Vec<(String, ColumnKind)> {
                names.iter().filter_map(|n| Some((n.clone(), column_kind(rt.compiled.column(n)?)?))).collect()
            };
            let mut indexes: Vec<Vec<(String, ColumnKind)>> = form.indexes.iter().chain(&form.dedupe).map(key).collect();
            indexes.extend(
                form.fields.iter().filter(|f| f.kind == FieldKind::Link).map(|f| vec![(f.id.clone(), ColumnKind::Text)]),
            );
            indexes.retain(|ix| !ix.is_empty());
            indexes.dedup();
            rt.table.ensure(store, &indexes).await?;
        }
        Ok(())
    }
}

/// The store's view of a field's column; lists and objects have none.
pub(crate) fn column_kind(column: Column) -> Option<ColumnKind> {
    match column {
        Column::Text => Some(ColumnKind::Text),
        Column::Number => Some(ColumnKind::Number),
        Column::Bool => Some(ColumnKind::Bool),
        Column::Opaque => None,
    }
}
