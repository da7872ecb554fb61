//! Loading an app: definitions checked, forms compiled, record tables and indexes created.

use std::collections::BTreeMap;
use std::path::Path;

use defs::{AppDefs, Diagnostic, Field, FieldKind};
use forms::{Column, CompiledForm};
use rules::{Expression, Limits, Rules};
use store::{ColumnKind, FormTable, Store};

use crate::EngineError;

/// An app ready to serve: definitions, compiled forms and compiled rules.
pub struct LoadedApp {
    pub defs: AppDefs,
    pub(crate) forms: BTreeMap<String, FormRuntime>,
    pub(crate) rules: Rules,
    pub(crate) printer: printing::Printer,
    /// Flows by the form they govern.
    pub(crate) flows: BTreeMap<String, crate::flows::FlowRuntime>,
    pub(crate) old_flows: crate::flows::OldFlows,
}

pub(crate) struct FormRuntime {
    pub(crate) compiled: CompiledForm,
    pub(crate) table: FormTable,
    pub(crate) expressions: FieldExpressions,
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

/// `limits` raised where needed to twice the largest record any form of the app accepts, so a
/// record at its form's declared maxima (a quote's 1,000 lines) can be saved: a rule holds the
/// record and builds values as large (a copy of its lines, the map it returns).
fn holding_records(limits: &Limits, defs: &AppDefs) -> Limits {
    let largest = defs.forms.values().map(forms::largest_record).fold(forms::DataSize::default(), forms::DataSize::max);
    Limits {
        max_array_size: limits.max_array_size.max(largest.arrays.saturating_mul(2)),
        max_map_size: limits.max_map_size.max(largest.maps.saturating_mul(2)),
        max_string_size: limits.max_string_size.max(largest.string_bytes.saturating_mul(2)),
        ..limits.clone()
    }
}

/// PostgreSQL cuts identifiers at 63 bytes; a longer table name would silently collide.
const MAX_TABLE_NAME: usize = 63;

impl LoadedApp {
    /// Loads and checks the app in `dir`; any problem refuses the whole app.
    pub fn load(dir: &Path, limits: &Limits) -> Result<LoadedApp, EngineError> {
        let (defs, mut diags) = defs::load_app(dir);
        let mut forms = BTreeMap::new();
        let mut rules = Rules::new(defs.as_ref().map_or_else(|| limits.clone(), |defs| holding_records(limits, defs)));
        if let Some(defs) = &defs {
            for (id, source) in &defs.scripts {
                if let Err(e) = rules.compile(id, source) {
                    let file = dir.join("rules").join(format!("{id}.rhai"));
                    diags.push(Diagnostic::new(file, format!("{}:{}", e.line, e.column), e.message));
                }
            }
            for (id, form) in &defs.forms {
                let file = dir.join("forms").join(format!("{id}.json"));
                let table = FormTable::new(&defs.app.id, id).with_typed(form.indexed_fields());
                if table.name.len() > MAX_TABLE_NAME {
                    diags.push(Diagnostic::new(&file, "", "app id and form id together are too long (table name over 63 bytes)"));
                }
                for (h, hook) in form.hooks.iter().enumerate() {
                    let (script, function) = hook.target();
                    if rules.has_script(script) && !rules.has_function(script, function, 3) {
                        let message = format!("rules/{script}.rhai has no function `{function}(record, old, user)`");
                        diags.push(Diagnostic::new(&file, format!("/hooks/{h}/rule"), message));
                    }
                }
                let expressions = compile_expressions(&rules, &form.fields, &file, &mut diags);
                match CompiledForm::compile(id, form) {
                    Ok(compiled) => {
                        forms.insert(id.clone(), FormRuntime { compiled, table, expressions });
                    }
                    Err(errors) => diags.extend(errors.into_iter().map(|e| Diagnostic::new(&file, e.path, e.message))),
                }
            }
        }
        if let Some(defs) = &defs {
            let file = dir.join("app.json");
            for (i, schedule) in defs.app.schedules.iter().enumerate() {
                if let Err(e) = crate::jobs::parse_cron(&schedule.cron) {
                    diags.push(Diagnostic::new(&file, format!("/schedules/{i}/cron"), e));
                }
                let (script, function) = schedule.rule.split_once('.').unwrap_or((&schedule.rule, ""));
                if rules.has_script(script) && !rules.has_function(script, function, 3) {
                    let message = format!("rules/{script}.rhai has no function `{function}(record, old, user)`");
                    diags.push(Diagnostic::new(&file, format!("/schedules/{i}/rule"), message));
                }
            }
        }
        let flows = defs.as_ref().map(|defs| crate::flows::compile_flows(defs, &rules, dir, &mut diags)).unwrap_or_default();
        let printer = defs.as_ref().map(|defs| printing::Printer::new(&defs.templates, &print_settings(&defs.app)));
        let printer = match printer {
            Some(Ok(printer)) => Some(printer),
            Some(Err(errors)) => {
                // Each error names `templates/<id>.hbs` and a position.
                diags.extend(errors.into_iter().map(|e| {
                    Diagnostic::new(
                        dir.join("templates").join(format!("{}.hbs", e.template)),
                        format!("{}:{}", e.line, e.column),
                        e.message,
                    )
                }));
                None
            }
            None => None,
        };
        match (defs, printer) {
            (Some(defs), Some(printer)) if diags.is_empty() => {
                let app = LoadedApp { defs, forms, rules, printer, flows, old_flows: Default::default() };
                let mut problems = app.check_grant_filters(dir);
                problems.extend(crate::rollups::check_rollups(&app));
                if let Err(EngineError::Definitions(diags)) = crate::reports::check_saved_reports(&app) {
                    problems.extend(diags);
                }
                if problems.is_empty() { Ok(app) } else { Err(EngineError::Definitions(problems)) }
            }
            _ => {
                diags.sort();
                Err(EngineError::Definitions(diags))
            }
        }
    }

    /// Every problem `tessera check` reports for the app in `dir`: definitions, forms, scripts.
    pub fn check(dir: &Path) -> Vec<Diagnostic> {
        match LoadedApp::load(dir, &Limits::default()) {
            Ok(_) => Vec::new(),
            Err(EngineError::Definitions(diags)) => diags,
            Err(other) => vec![Diagnostic::new(dir, "", other.to_string())],
        }
    }

    /// Filter scopes of grants must be filters this app can run.
    fn check_grant_filters(&self, dir: &Path) -> Vec<Diagnostic> {
        let mut diags = Vec::new();
        for (id, rt) in &self.forms {
            for (g, grant) in rt.compiled.def.permissions.iter().enumerate() {
                if let defs::Scope::Filter(filter) = &grant.scope
                    && let Err(e) = crate::list::parse_filter(self, rt, filter, &format!("/permissions/{g}/scope/filter"))
                {
                    let file = dir.join("forms").join(format!("{id}.json"));
                    let pointer = e.details().first().map(|d| d.path.clone()).unwrap_or_default();
                    diags.push(Diagnostic::new(file, pointer, e.to_string()));
                }
            }
        }
        diags
    }

    /// The app as `actor` may see it: forms they may read, without fields hidden from them,
    /// with what they may do on each; navigation limited to those forms.
    pub(crate) fn view_for(&self, actor: &crate::Actor) -> serde_json::Value {
        use defs::Action;
        let mut forms = serde_json::Map::new();
        for (id, rt) in &self.forms {
            let access = crate::access::Access::of(actor, rt);
            if !access.allows(Action::Read) {
                continue;
            }
            let mut def = rt.compiled.def.clone();
            def.fields.retain(|f| !access.hidden.contains(&f.id));
            for section in &mut def.layout {
                section.fields.retain(|f| !access.hidden.contains(f));
            }
            // Keys and indexes that involve a hidden field would name it; the user needs neither.
            def.dedupe.retain(|key| key.iter().all(|f| !access.hidden.contains(f)));
            def.indexes.retain(|key| key.iter().all(|f| !access.hidden.contains(f)));
            def.permissions.clear();
            let read_only: Vec<&String> = access.locked.iter().filter(|f| !access.hidden.contains(*f)).collect();
            let actions: Vec<&str> =
                [Action::Create, Action::Read, Action::Update, Action::Delete, Action::Export, Action::Print, Action::Import]
                    .into_iter()
                    .filter(|a| access.allows(*a))
                    .map(crate::access::action_name)
                    .collect();
            let mut value = serde_json::to_value(&def).unwrap_or_default();
            value["access"] = serde_json::json!({"actions": actions, "read_only": read_only});
            // Print templates of this form, so clients offer printing without knowing names.
            let templates: Vec<&str> = self.printer.templates().filter(|t| crate::print::form_of(self, t) == Some(id.as_str())).collect();
            value["templates"] = serde_json::json!(templates);
            // The form's flow, so clients lock its state field and name states and actions.
            if let Some(flow) = self.flows.get(id).map(|f| f.workflow.def()) {
                let states: Vec<_> =
                    flow.states.iter().map(|s| serde_json::json!({"id": s.id, "label": s.label, "terminal": s.terminal})).collect();
                let actions: Vec<_> = flow.transitions.iter().map(|t| serde_json::json!({"action": t.action, "label": t.label})).collect();
                value["flow"] = serde_json::json!({"field": flow.field, "states": states, "actions": actions});
            }
            forms.insert(id.clone(), value);
        }
        let mut app = self.defs.app.clone();
        for group in &mut app.navigation {
            group.forms.retain(|f| forms.contains_key(f));
        }
        app.navigation.retain(|g| !g.forms.is_empty());
        // Dashboards: every viewer may open them; tiles over forms they cannot read say so.
        let dashboards: Vec<_> = self
            .defs
            .dashboards
            .iter()
            .map(|(id, d)| serde_json::json!({"id": id, "label": d.label, "description": d.description}))
            .collect();
        serde_json::json!({"app": app, "forms": forms, "dashboards": dashboards})
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
            indexes.extend(form.fields.iter().filter(|f| f.kind == FieldKind::Link).map(|f| vec![(f.id.clone(), ColumnKind::Text)]));
            indexes.retain(|ix| !ix.is_empty());
            indexes.dedup();
            rt.table.ensure(store, &indexes).await?;
        }
        Ok(())
    }
}

fn compile_expressions(rules: &Rules, fields: &[Field], file: &Path, diags: &mut Vec<Diagnostic>) -> FieldExpressions {
    let mut out = FieldExpressions::default();
    for (i, field) in fields.iter().enumerate() {
        let slots = [
            ("default_expr", &field.default_expr, &mut out.defaults),
            ("formula", &field.formula, &mut out.formulas),
            ("visible_if", &field.visible_if, &mut out.visible_if),
            ("required_if", &field.required_if, &mut out.required_if),
        ];
        for (name, source, list) in slots {
            let Some(source) = source else { continue };
            match rules.expression(source) {
                Ok(e) => list.push((field.id.clone(), e)),
                Err(e) => {
                    diags.push(Diagnostic::new(file, format!("/fields/{i}/{name}"), format!("{}:{}: {}", e.line, e.column, e.message)))
                }
            }
        }
    }
    out
}

/// The letterhead of printed documents: the app's company, or at least its name.
fn print_settings(app: &defs::App) -> printing::PrintSettings {
    match &app.company {
        Some(c) => printing::PrintSettings {
            name: c.name.clone(),
            name_alt: c.name_alt.clone(),
            address: c.address.clone(),
            phone: c.phone.clone(),
            email: c.email.clone(),
            website: c.website.clone(),
            logo_url: c.logo_url.clone(),
            tax_id: c.tax_id.clone(),
            bank_name: c.bank_name.clone(),
            bank_account: c.bank_account.clone(),
        },
        None => printing::PrintSettings { name: app.name.text("zh-CN").to_owned(), ..Default::default() },
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
