//! A loaded app: what every command reads — definitions, compiled forms with their tables and
//! expressions, compiled rules, print templates and flows. Built by `load`; nothing here
//! depends on the modules that serve commands.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use defs::AppDefs;
use forms::{Column, CompiledForm};
use rules::{Expression, Rules};
use store::{ColumnKind, FormTable};
use workflow::Workflow;

use crate::EngineError;

/// An app ready to serve: definitions, compiled forms and compiled rules.
pub struct LoadedApp {
    pub defs: AppDefs,
    pub(crate) forms: BTreeMap<String, FormRuntime>,
    pub(crate) rules: Rules,
    pub(crate) printer: printing::Printer,
    /// Flows by the form they govern.
    pub(crate) flows: BTreeMap<String, FlowRuntime>,
    pub(crate) old_flows: OldFlows,
    /// The release of the app this is (0 for an app loaded from a folder only, as `tessera check` does).
    pub(crate) release: i64,
}

/// A form's flow as loaded: the verified definition and the version number it is stored under.
pub(crate) struct FlowRuntime {
    pub(crate) workflow: Arc<Workflow>,
    pub(crate) version: i64,
}

/// Flow definitions of earlier versions that records in flight still follow, by (flow, version).
#[derive(Default)]
pub(crate) struct OldFlows(pub(crate) Mutex<HashMap<(String, i64), Arc<Workflow>>>);

pub(crate) struct FormRuntime {
    /// The app the form belongs to.
    pub(crate) app: String,
    pub(crate) compiled: CompiledForm,
    pub(crate) table: FormTable,
    pub(crate) expressions: FieldExpressions,
    /// The version of the form's definition file in the app's release, stamped on each record
    /// its validator passes (`None` for an app loaded from a folder only).
    pub(crate) version: Option<i64>,
}

/// The compiled expressions of a form's fields, in field order.
#[derive(Default)]
pub(crate) struct FieldExpressions {
    pub(crate) defaults: Vec<(String, Expression)>,
    pub(crate) formulas: Vec<(String, Expression)>,
    pub(crate) visible_if: Vec<(String, Expression)>,
    pub(crate) required_if: Vec<(String, Expression)>,
}

impl FormRuntime {
    /// The indexes the form's definition makes, each as its fields and their column kinds:
    /// those declared, its dedupe keys and each link field. A field without a column is left
    /// out (lists and objects have none).
    pub(crate) fn declared_indexes(&self) -> Vec<Vec<(String, ColumnKind)>> {
        let form = &self.compiled.def;
        let key = |names: &Vec<String>| -> Vec<(String, ColumnKind)> {
            names.iter().filter_map(|n| Some((n.clone(), column_kind(self.compiled.column(n)?)?))).collect()
        };
        let mut indexes: Vec<Vec<(String, ColumnKind)>> = form.indexes.iter().chain(&form.dedupe).map(key).collect();
        indexes.extend(form.fields.iter().filter(|f| f.kind == defs::FieldKind::LINK).map(|f| vec![(f.id.clone(), ColumnKind::Text)]));
        indexes.retain(|ix| !ix.is_empty());
        without_covered(indexes)
    }

    /// The form's id.
    pub(crate) fn id(&self) -> &str {
        &self.compiled.id
    }

    /// Whether preparing a save needs the rules engine (most forms of a plain app do not):
    /// expressions, or hooks that run before the write. `after_save` hooks run on their own.
    pub(crate) fn has_rules_before_write(&self) -> bool {
        let e = &self.expressions;
        let expressions = [&e.defaults, &e.formulas, &e.visible_if, &e.required_if];
        self.compiled.def.hooks.iter().any(|h| h.on != defs::HookKind::AfterSave) || expressions.iter().any(|list| !list.is_empty())
    }
}

/// `indexes` without those another one covers: the same columns, or the first columns of a
/// longer index, which serves every lookup and order the shorter one would (a link field's own
/// index beside a declared `[link, name]`). Each costs its share of every write and of the file.
fn without_covered(indexes: Vec<Vec<(String, ColumnKind)>>) -> Vec<Vec<(String, ColumnKind)>> {
    let covered = |i: usize| {
        let ix = &indexes[i];
        indexes.iter().enumerate().any(|(j, other)| j != i && other.starts_with(ix) && (other.len() > ix.len() || j < i))
    };
    (0..indexes.len()).filter(|i| !covered(*i)).map(|i| indexes[i].clone()).collect()
}

impl LoadedApp {
    pub fn id(&self) -> &str {
        &self.defs.app.id
    }

    /// The compiled forms by id.
    pub fn forms(&self) -> impl Iterator<Item = (&str, &CompiledForm)> {
        self.forms.iter().map(|(id, f)| (id.as_str(), &f.compiled))
    }

    pub(crate) fn form(&self, id: &str) -> Result<&FormRuntime, EngineError> {
        self.forms.get(id).ok_or_else(|| EngineError::form_not_found(self.id(), id))
    }

    /// The flow field of `form`, which only the flow changes.
    pub(crate) fn flow_field(&self, form: &str) -> Option<&str> {
        self.flows.get(form).and_then(|f| f.workflow.def().field.as_deref())
    }

    /// Makes this app release `release`, made of `files` (each file's path and version): each
    /// form takes the version of its definition file.
    pub(crate) fn into_release(mut self, release: i64, files: &BTreeMap<String, i64>) -> LoadedApp {
        self.release = release;
        for (id, form) in &mut self.forms {
            form.version = files.get(&defs::FileKind::Form.path(id)).copied();
        }
        self
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

#[cfg(test)]
mod tests {
    use super::*;

    fn index(fields: &[&str]) -> Vec<(String, ColumnKind)> {
        fields.iter().map(|f| (f.to_string(), ColumnKind::Text)).collect()
    }

    #[test]
    fn an_index_the_first_columns_of_another_are_is_not_made_twice() {
        let declared = vec![
            index(&["account"]),
            index(&["stage", "amount"]),
            index(&["account", "name"]),
            index(&["stage"]),
            index(&["stage", "amount"]),
        ];
        let kept = without_covered(declared);
        assert_eq!(kept, vec![index(&["stage", "amount"]), index(&["account", "name"])]);
        let distinct = vec![index(&["stage", "amount"]), index(&["stage", "close_date"]), index(&["amount"])];
        assert_eq!(without_covered(distinct.clone()), distinct, "neither begins the other");
    }
}
