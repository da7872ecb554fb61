//! What a publish does to the records already stored. Before a release goes live, every record
//! of each form it changes is run through the new form's validator, after the migrations the
//! publish declares (and the defaults of the fields it adds): "N of M records would no longer
//! validate", grouped by pointer and problem, with sample ids. A release that would leave a
//! record invalid is refused. Otherwise, in the publish's transaction, every record the
//! migrations change is written as a new version (history op `migrate`).

use std::collections::BTreeMap;

use defs::Diagnostic;
use forms::FieldCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use store::{Conn, Cursor, ListQuery, Record};

use crate::apps::FormRuntime;
use crate::command::Cmd;
use crate::{Engine, EngineError, Envelope, LoadedApp};

/// Records read a statement.
const PAGE: u64 = 500;
/// Sample record ids an impact names for each problem.
const SAMPLES: usize = 5;

/// What a publish does to one form's stored records so they fit its new definition.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Migration {
    /// Gives `field` `value` in every record without one (a new required field).
    Default { form: String, field: String, value: Value },
    /// Moves each record's value of `from` to `to` (a renamed field).
    Rename { form: String, from: String, to: String },
    /// Removes `field`'s values (a field removed, its data given up knowingly).
    Drop { form: String, field: String },
    /// Turns each record's value of `field` into the kind its new type keeps — text, number
    /// or yes/no — where it reads as one (`"350"` → 350); a value that does not stays, and the
    /// impact names it.
    Convert { form: String, field: String },
}

impl Migration {
    fn form(&self) -> &str {
        match self {
            Migration::Default { form, .. }
            | Migration::Rename { form, .. }
            | Migration::Drop { form, .. }
            | Migration::Convert { form, .. } => form,
        }
    }

    /// Applies the migration to one record's `data`, for the form as `new` defines it.
    fn apply(&self, data: &mut Map<String, Value>, new: &FormRuntime) {
        match self {
            Migration::Default { field, value, .. } => {
                if data.get(field).is_none_or(Value::is_null) {
                    data.insert(field.clone(), value.clone());
                }
            }
            Migration::Rename { from, to, .. } => {
                if let Some(value) = data.remove(from) {
                    data.insert(to.clone(), value);
                }
            }
            Migration::Drop { field, .. } => {
                data.remove(field);
            }
            Migration::Convert { field, .. } => {
                let kind = new.compiled.column(field).and_then(crate::apps::column_kind);
                if let (Some(value), Some(kind)) = (data.get_mut(field), kind) {
                    *value = converted(value, kind);
                }
            }
        }
    }
}

/// `value` as a value of `kind`, when it reads as one; else as it is.
fn converted(value: &Value, kind: store::ColumnKind) -> Value {
    use store::ColumnKind;
    match (kind, value) {
        (ColumnKind::Number, Value::String(text)) => {
            let text = text.trim();
            text.parse::<i64>()
                .map(Value::from)
                .ok()
                .or_else(|| text.parse::<f64>().ok().and_then(|n| serde_json::Number::from_f64(n).map(Value::Number)))
        }
        (ColumnKind::Number, Value::Bool(b)) => Some(Value::from(u8::from(*b))),
        (ColumnKind::Text, Value::Number(n)) => Some(Value::String(n.to_string())),
        (ColumnKind::Text, Value::Bool(b)) => Some(Value::String(b.to_string())),
        (ColumnKind::Bool, Value::String(text)) => match text.trim().to_lowercase().as_str() {
            "true" | "yes" | "1" | "是" => Some(Value::Bool(true)),
            "false" | "no" | "0" | "否" => Some(Value::Bool(false)),
            _ => None,
        },
        (ColumnKind::Bool, Value::Number(n)) => n.as_f64().map(|n| Value::Bool(n != 0.0)),
        _ => None,
    }
    .unwrap_or_else(|| value.clone())
}

/// The records of the forms a release changes, against the new definitions, and those in
/// flight on the flows it changes.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Impact {
    pub forms: Vec<FormImpact>,
    pub flows: Vec<FlowInFlight>,
}

/// The live records of a form whose flow the release changes, by the state they are in.
#[derive(Debug, Clone, Serialize)]
pub struct FlowInFlight {
    pub form: String,
    pub states: BTreeMap<String, u64>,
    /// States with records that the new version neither has nor maps (`upgrade`): their records
    /// finish on the version they started with.
    pub staying: Vec<String>,
}

impl Impact {
    /// One problem a form for each group of records that would no longer validate.
    pub(crate) fn problems(&self) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for form in &self.forms {
            for group in &form.problems {
                let message = format!(
                    "{} of {} records would no longer validate: {} (for example {}); declare a migration in the publish",
                    group.records,
                    form.records,
                    group.message,
                    group.samples.join(", ")
                );
                out.push(Diagnostic::new(format!("forms/{}.json", form.form), group.pointer.clone(), message));
            }
        }
        out
    }
}

/// One form's records against its new definition.
#[derive(Debug, Clone, Serialize)]
pub struct FormImpact {
    pub form: String,
    pub records: u64,
    /// Records the migrations and new fields' defaults change.
    pub changed: u64,
    /// Records that would not validate.
    pub invalid: u64,
    pub problems: Vec<ProblemGroup>,
}

/// Records failing the same way: the pointer in the record, the problem, how many, some ids,
/// and the migrations that could bring them in line (for a designer to offer).
#[derive(Debug, Clone, Serialize)]
pub struct ProblemGroup {
    pub pointer: String,
    /// The field of the form the pointer is in.
    pub field: String,
    /// What is wrong, as a field problem's code (`required`, `type`, `unknown_field` …).
    pub code: &'static str,
    pub message: String,
    pub records: u64,
    pub samples: Vec<String>,
    /// The `op`s of the migrations that fix such records: `default` for a missing value,
    /// `convert` for a value of another type, `rename` for a value under a field the form no
    /// longer has, `drop` to give the values up.
    pub fixes: &'static [&'static str],
}

/// The migrations that can fix records failing with `code`.
fn fixes_for(code: FieldCode) -> &'static [&'static str] {
    match code {
        FieldCode::Required => &["default"],
        FieldCode::Type => &["convert", "drop"],
        FieldCode::UnknownField => &["rename", "drop"],
        _ => &["drop"],
    }
}

/// Each form `new` defines differently from `old`, or that a migration names: the forms whose
/// stored records a release must look at (a form new in the release has none).
fn changed_forms<'a>(old: &LoadedApp, new: &'a LoadedApp, migrations: &[Migration]) -> Vec<&'a str> {
    let text = |app: &LoadedApp, id: &str| app.defs.forms.get(id).map(defs::to_canonical_json);
    new.forms
        .keys()
        .filter(|id| old.forms.contains_key(*id))
        .filter(|id| text(old, id) != text(new, id) || migrations.iter().any(|m| m.form() == id.as_str()))
        .map(String::as_str)
        .collect()
}

/// Each form with records whose flow `new` defines differently from `old`.
fn changed_flows<'a>(old: &'a LoadedApp, new: &LoadedApp) -> Vec<&'a str> {
    let text = |app: &LoadedApp, form: &str| app.flows.get(form).map(|f| defs::to_canonical_json(f.workflow.def()));
    old.flows.keys().filter(|form| new.forms.contains_key(*form) && text(old, form) != text(new, form)).map(String::as_str).collect()
}

/// Where the release's flow of a form moves records of states it no longer has
/// (`upgrade.states`), and the field that names a record's state.
struct StateMoves<'a> {
    field: Option<&'a str>,
    to: Option<&'a indexmap::IndexMap<String, String>>,
}

impl<'a> StateMoves<'a> {
    fn of(app: &'a LoadedApp, form: &str) -> StateMoves<'a> {
        let def = app.flows.get(form).map(|f| f.workflow.def());
        StateMoves { field: def.and_then(|d| d.field.as_deref()), to: def.and_then(|d| d.upgrade.as_ref()).map(|u| &u.states) }
    }

    /// The state `state` moves to, when the release moves it.
    fn moved(&self, state: &str) -> Option<&'a String> {
        self.to.and_then(|to| to.get(state))
    }
}

/// `data` as the release would keep it: the migrations applied, a state the flow moves renamed
/// in the state field, and the defaults of the fields `new` adds (a field that was there keeps
/// whatever it held).
fn migrated(
    data: &Map<String, Value>,
    old: &FormRuntime,
    new: &FormRuntime,
    migrations: &[&Migration],
    moves: &StateMoves,
) -> Map<String, Value> {
    let mut data = data.clone();
    for migration in migrations {
        migration.apply(&mut data, new);
    }
    if let Some(field) = moves.field
        && let Some(to) = data.get(field).and_then(Value::as_str).and_then(|state| moves.moved(state))
    {
        data.insert(field.to_owned(), Value::String(to.clone()));
    }
    let mut with_defaults = data.clone();
    new.compiled.apply_defaults(&mut with_defaults);
    for (field, value) in with_defaults {
        if old.compiled.field(&field).is_none() {
            data.entry(field).or_insert(value);
        }
    }
    data
}

impl Engine {
    /// The records of each form `new` changes from `old`, run through its new validator after
    /// `migrations`. Reads through `old`'s tables, as stored.
    /// With `job`, its payload says how far the measure is after every page (`checked` of
    /// `total` records), for a caller polling a big table's measure.
    pub(crate) async fn measure_impact(
        &self,
        old: &LoadedApp,
        new: &LoadedApp,
        migrations: &[Migration],
        job: Option<&store::Job>,
    ) -> Result<Impact, EngineError> {
        check_migrations(new, migrations)?;
        let forms = changed_forms(old, new, migrations);
        let mut progress = match job {
            Some(job) => Some(Progress::of(self, job, old, &forms).await?),
            None => None,
        };
        let mut impact = Impact::default();
        for form in forms {
            let (old_rt, new_rt) = (old.form(form)?, new.form(form)?);
            let own: Vec<&Migration> = migrations.iter().filter(|m| m.form() == form).collect();
            let moves = StateMoves::of(new, form);
            let mut groups: BTreeMap<(String, String), ProblemGroup> = BTreeMap::new();
            let (mut records, mut changed, mut invalid) = (0, 0, 0);
            let mut after = None;
            loop {
                let page = live_page(self.store.db(), old_rt, after.take()).await?;
                for record in &page {
                    records += 1;
                    let data = migrated(&record.data, old_rt, new_rt, &own, &moves);
                    changed += u64::from(data != record.data);
                    let errors = new_rt.compiled.validate(&Value::Object(data));
                    invalid += u64::from(!errors.is_empty());
                    for error in errors {
                        let group = groups.entry((error.path.clone(), error.code.as_str().to_owned())).or_insert_with(|| ProblemGroup {
                            pointer: error.path.clone(),
                            field: error.path.trim_start_matches('/').split('/').next().unwrap_or_default().to_owned(),
                            code: error.code.as_str(),
                            message: error.message.clone(),
                            fixes: fixes_for(error.code),
                            records: 0,
                            samples: Vec::new(),
                        });
                        group.records += 1;
                        if group.samples.len() < SAMPLES {
                            group.samples.push(record.id.clone());
                        }
                    }
                }
                if let Some(progress) = &mut progress {
                    progress.advance(self, page.len() as u64).await?;
                }
                after = next_page(&page);
                if after.is_none() {
                    break;
                }
            }
            impact.forms.push(FormImpact { form: form.to_owned(), records, changed, invalid, problems: groups.into_values().collect() });
        }
        for form in changed_flows(old, new) {
            let rt = old.form(form)?;
            let mut states: BTreeMap<String, u64> = BTreeMap::new();
            let mut after = None;
            loop {
                let page = live_page(self.store.db(), rt, after.take()).await?;
                for record in &page {
                    *states.entry(record.state.clone().unwrap_or_default()).or_default() += 1;
                }
                after = next_page(&page);
                if after.is_none() {
                    break;
                }
            }
            let flow = new.flows.get(form).map(|f| f.workflow.def());
            let placed = |state: &str| {
                flow.is_some_and(|f| f.state(state).is_some() || f.upgrade.as_ref().is_some_and(|u| u.states.contains_key(state)))
            };
            let staying = states.keys().filter(|s| !placed(s)).cloned().collect();
            impact.flows.push(FlowInFlight { form: form.to_owned(), states, staying });
        }
        Ok(impact)
    }

    /// Writes, in the publish's transaction, every record of `new`'s changed forms that the
    /// migrations change, as a new version (`migrate`). Reads through `new`'s tables, which the
    /// publish has readied (a removed field's values are kept in the document until then).
    pub(crate) async fn migrate_records(
        &self,
        cmd: Cmd<'_, impl Conn>,
        old: &LoadedApp,
        migrations: &[Migration],
    ) -> Result<u64, EngineError> {
        let mut written = 0;
        for form in changed_forms(old, cmd.app, migrations) {
            let (old_rt, new_rt) = (old.form(form)?, cmd.app.form(form)?);
            let own: Vec<&Migration> = migrations.iter().filter(|m| m.form() == form).collect();
            let moves = StateMoves::of(cmd.app, form);
            let mut after = None;
            loop {
                let page = live_page(cmd.tx, new_rt, after.take()).await?;
                for record in &page {
                    let data = migrated(&record.data, old_rt, new_rt, &own, &moves);
                    if data != record.data {
                        let before = Envelope::new(form, record.clone());
                        // The record's state moves with its field; its flow follows when next read.
                        let state = record.state.as_deref().map(|s| moves.moved(s).map_or(s, String::as_str).to_owned());
                        let next =
                            Record { data, state, form_version: new_rt.version, ..crate::records::next_version(record.clone(), cmd.actor) };
                        self.write_version(cmd, new_rt, &before, next, record.version, "migrate").await?;
                        written += 1;
                    }
                }
                after = next_page(&page);
                if after.is_none() {
                    break;
                }
            }
        }
        Ok(written)
    }
}

/// How far a measure running as a job is, written to the job's payload beside what it was
/// asked (`by`, `migrations`) as each page is read.
struct Progress {
    job: store::Job,
    checked: u64,
    total: u64,
}

impl Progress {
    /// The progress of a measure of `forms`, whose live records are counted first.
    async fn of(engine: &Engine, job: &store::Job, old: &LoadedApp, forms: &[&str]) -> Result<Progress, EngineError> {
        let mut total = 0;
        for &form in forms {
            total += store::count(engine.store.db(), &old.form(form)?.table, &ListQuery::default(), i64::MAX as u64).await?;
        }
        let mut progress = Progress { job: job.clone(), checked: 0, total };
        progress.advance(engine, 0).await?;
        Ok(progress)
    }

    async fn advance(&mut self, engine: &Engine, records: u64) -> Result<(), EngineError> {
        self.checked += records;
        let mut payload = self.job.payload.clone();
        payload["checked"] = self.checked.into();
        payload["total"] = self.total.into();
        // In turn with the other writers, as every write.
        let (turn, tx) = engine.store.begin().await?;
        store::set_job_payload(&tx, &self.job.id, &payload).await?;
        Ok(turn.commit(tx).await?)
    }
}

/// Where the page after `page` begins; `None` when `page` was the last.
fn next_page(page: &[Record]) -> Option<Cursor> {
    let last = page.last().filter(|_| page.len() as u64 == PAGE)?;
    Some(Cursor { values: Vec::new(), id: last.id.clone() })
}

/// A page of live records of `rt`'s table, in id order after `after`.
async fn live_page(db: &impl Conn, rt: &FormRuntime, after: Option<Cursor>) -> Result<Vec<Record>, EngineError> {
    Ok(store::list(db, &rt.table, &ListQuery { after, limit: PAGE, ..Default::default() }).await?)
}

/// Each migration names a form of the new release, and fields it has (or, for the old side
/// of a rename and a drop, any field).
fn check_migrations(new: &LoadedApp, migrations: &[Migration]) -> Result<(), EngineError> {
    let mut problems = Vec::new();
    for (i, migration) in migrations.iter().enumerate() {
        let at = |member: &str| format!("/migrations/{i}/{member}");
        let Ok(rt) = new.form(migration.form()) else {
            problems.push(Diagnostic::new("publish", at("form"), format!("no form `{}` in the release", migration.form())));
            continue;
        };
        let target = match migration {
            Migration::Default { field, .. } | Migration::Convert { field, .. } => Some(("field", field)),
            Migration::Rename { to, .. } => Some(("to", to)),
            Migration::Drop { .. } => None,
        };
        if let Some((member, field)) = target
            && rt.compiled.field(field).is_none()
        {
            problems.push(Diagnostic::new(
                "publish",
                at(member),
                format!("the form `{}` of the release has no field `{field}`", migration.form()),
            ));
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(EngineError::Definitions(problems)) }
}
