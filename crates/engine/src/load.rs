//! Loading an app: definitions checked (every problem with its file and JSON pointer), forms
//! and rules compiled, record tables and indexes created. The checks of every part of an app
//! meet here, so this module sits above the ones it asks.

use std::collections::BTreeMap;
use std::path::Path;

use defs::{AppDefs, AppFiles, Diagnostic, Field};
use forms::CompiledForm;
use rules::{Expression, Limits, Rules};
use store::{FormTable, Store};

use crate::EngineError;
use crate::apps::{FieldExpressions, FormRuntime, LoadedApp, column_kind};

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
    /// Loads and checks the app in folder `dir`; any problem refuses the whole app.
    pub fn load(dir: &Path, limits: &Limits) -> Result<LoadedApp, EngineError> {
        let (files, diags) = AppFiles::read(dir);
        LoadedApp::from_files(&files, dir, diags, limits)
    }

    /// Loads and checks an app from its files, with the problems found reading them (`diags`);
    /// problems name files under `dir` (empty for an app that lives in the database).
    pub(crate) fn from_files(files: &AppFiles, dir: &Path, mut diags: Vec<Diagnostic>, limits: &Limits) -> Result<LoadedApp, EngineError> {
        let (defs, more) = defs::load_files(files, dir);
        diags.extend(more);
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
                let table = FormTable::new(&defs.app.id, id);
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
                        // Every field holding one comparable value is a typed column: lists,
                        // sorts and reports on any field read it without parsing the document.
                        let typed = compiled.def.fields.iter().filter_map(|f| Some((f.id.as_str(), column_kind(compiled.column(&f.id)?)?)));
                        let table = table.with_typed(typed);
                        forms.insert(id.clone(), FormRuntime { app: defs.app.id.clone(), compiled, table, expressions, version: None });
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
                let app = LoadedApp { defs, forms, rules, printer, flows, old_flows: Default::default(), release: 0 };
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
    /// `dir` may also be a bundle (`tessera app export --bundle`, `GET /api/apps/{app}/bundle`):
    /// its problems name the files inside it (`crm.zip/forms/account.json`).
    pub fn check(dir: &Path) -> Vec<Diagnostic> {
        let loaded = if dir.is_file() {
            match read_bundle(dir) {
                Ok(files) => LoadedApp::from_files(&files, dir, Vec::new(), &Limits::default()),
                Err(message) => return vec![Diagnostic::new(dir, "", message)],
            }
        } else {
            LoadedApp::load(dir, &Limits::default())
        };
        match loaded {
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
                    && let Err(e) = crate::filter::parse_filter(self, rt, filter, &format!("/permissions/{g}/scope/filter"))
                {
                    let file = dir.join("forms").join(format!("{id}.json"));
                    let pointer = e.details().first().map(|d| d.path.clone()).unwrap_or_default();
                    diags.push(Diagnostic::new(file, pointer, e.to_string()));
                }
            }
        }
        diags
    }

    /// Creates the tables with the indexes the forms ask for, plus one per dedupe key and per
    /// link field (dedupe checks and dot-path filters look them up).
    pub(crate) async fn ensure_tables(&self, store: &Store) -> Result<(), EngineError> {
        for rt in self.forms.values() {
            rt.table.ensure(store, &rt.declared_indexes()).await?;
        }
        Ok(())
    }
}

/// The files of the bundle at `path`, read within the bounds of an installed one.
fn read_bundle(path: &Path) -> Result<AppFiles, String> {
    let size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if size > defs::MAX_BUNDLE_UNZIPPED_BYTES {
        return Err(format!("a bundle is at most {} bytes", defs::MAX_BUNDLE_UNZIPPED_BYTES));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    Ok(defs::Bundle::from_zip(&bytes).map_err(|e| format!("not a readable bundle: {e}"))?.files)
}

fn compile_expressions(rules: &Rules, fields: &[Field], file: &Path, diags: &mut Vec<Diagnostic>) -> FieldExpressions {
    let mut out = FieldExpressions::default();
    let ids: Vec<&str> = fields.iter().map(|f| f.id.as_str()).collect();
    for (i, field) in fields.iter().enumerate() {
        let slots = [
            ("default_expr", &field.default_expr, &mut out.defaults),
            ("formula", &field.formula, &mut out.formulas),
            ("visible_if", &field.visible_if, &mut out.visible_if),
            ("required_if", &field.required_if, &mut out.required_if),
        ];
        for (name, source, list) in slots {
            let Some(source) = source else { continue };
            match checked_expression(rules, source, &ids) {
                Ok(e) => list.push((field.id.clone(), e)),
                Err(problems) => diags.extend(
                    problems
                        .into_iter()
                        .map(|p| Diagnostic::new(file, format!("/fields/{i}/{name}"), format!("{}:{}: {}", p.line, p.column, p.message))),
                ),
            }
        }
    }
    out
}

/// What a field's expression may read of a record besides its fields.
const RECORD_PROPERTIES: [&str; 3] = ["id", "owner", "state"];

/// Compiles a field's expression (formula, default, condition) over a form with the fields
/// `fields`: refused when rhai does, when it calls a function the sandbox lacks, or when it
/// reads a field the form does not have (which would read as nothing, never failing).
pub(crate) fn checked_expression(rules: &Rules, source: &str, fields: &[&str]) -> Result<Expression, Vec<rules::CompileError>> {
    let expression = rules.expression(source).map_err(|e| vec![e])?;
    let unknown: Vec<rules::CompileError> = expression
        .fields_read()
        .into_iter()
        .filter(|(field, ..)| !fields.contains(&field.as_str()) && !RECORD_PROPERTIES.contains(&field.as_str()))
        .map(|(field, line, column)| rules::CompileError { line, column, message: format!("the form has no field `{field}`") })
        .collect();
    if unknown.is_empty() { Ok(expression) } else { Err(unknown) }
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
