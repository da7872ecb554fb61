//! Runs an app's scenario tests (`tests/*.json`, see `defs::Scenario`): each in a throwaway
//! in-memory database with the app installed from the given files — a folder or a draft — its
//! steps taken through the engine's own commands as the users they name, at the scenario's
//! time: a clock that `advance` moves on (running every job due by then, as the worker would at
//! that time), which the steps' rules read and their timers count from.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use defs::{AppFiles, Expect, FileKind, Scenario, Step};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::{ActRequest, Actor, AppId, Engine, EngineError, FormId, ListParams, RecordId, Settings};

/// How one scenario went.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioOutcome {
    /// Its file's id (`tests/<id>.json`).
    pub id: String,
    pub name: String,
    /// Why it failed: the step (counted from 1) and what did not hold; `None` when it passed.
    pub failure: Option<String>,
    /// The way through its flow each record the scenario named took, up to where it ended
    /// (or failed): what a flow designer highlights.
    pub paths: Vec<FlowPath>,
}

/// The moves one record made through its form's flow, in order.
#[derive(Debug, Clone, Serialize)]
pub struct FlowPath {
    /// The name the scenario saved it under.
    pub record: String,
    pub form: String,
    pub moves: Vec<Move>,
}

/// One entry of a record's flow log: an action from one state to another, or a decision
/// within an approval (`from` = `to`, with its `step`).
#[derive(Debug, Clone, Serialize)]
pub struct Move {
    pub action: String,
    pub from: String,
    pub to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
}

/// Runs every scenario test among `files`, each on a database of its own.
pub async fn run_scenarios(files: &AppFiles, settings: &Settings) -> Vec<ScenarioOutcome> {
    let mut outcomes = Vec::new();
    for id in files.ids(FileKind::Test) {
        let text = files.get(FileKind::Test, &id).unwrap_or_default();
        let (name, failure, paths) = match defs::parse_scenario(text) {
            Ok(scenario) => {
                let (result, paths) = run_scenario(files, &scenario, settings).await;
                (scenario.name.clone(), result.err(), paths)
            }
            Err(problems) => (id.clone(), Some(format!("not a scenario: {problems:?}")), Vec::new()),
        };
        outcomes.push(ScenarioOutcome { id, name, failure, paths });
    }
    outcomes
}

/// The stack of the thread [`run_scenarios_apart`] runs them on: an engine's futures nest deep,
/// deeper in a debug build, and only the pages used are ever touched.
const SCENARIO_STACK_BYTES: usize = 64 << 20;

/// [`run_scenarios`] on a thread of their own, with a stack made for them: run from a request
/// (the designer's "run tests"), they do not depend on what is left of its worker's stack.
pub(crate) async fn run_scenarios_apart(files: AppFiles, settings: Settings) -> Result<Vec<ScenarioOutcome>, EngineError> {
    let (answer, outcomes) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("scenarios".into())
        .stack_size(SCENARIO_STACK_BYTES)
        .spawn(move || {
            let ran = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|runtime| runtime.block_on(run_scenarios(&files, &settings)));
            let _ = answer.send(ran);
        })
        .map_err(|e| EngineError::Internal(format!("cannot start the scenarios' thread: {e}")))?;
    match outcomes.await {
        Ok(Ok(outcomes)) => Ok(outcomes),
        Ok(Err(e)) => Err(EngineError::Internal(format!("cannot start the scenarios' runtime: {e}"))),
        Err(_) => Err(EngineError::Internal("the scenarios' thread ended without an answer".into())),
    }
}

/// A record a step saved under a name: its form and id.
type Saved = BTreeMap<String, (String, String)>;

/// Runs `scenario`, answering how it went and the paths its records took.
async fn run_scenario(files: &AppFiles, scenario: &Scenario, settings: &Settings) -> (Result<(), String>, Vec<FlowPath>) {
    let engine = match Engine::open_with("sqlite::memory:", &[], settings).await {
        Ok(engine) => engine,
        Err(e) => return (Err(format!("cannot open a database: {e}")), Vec::new()),
    };
    let mut saved = Saved::new();
    let result = take_steps(&engine, files, scenario, &mut saved).await;
    let paths = paths_of(&engine, &saved).await;
    engine.close().await.ok();
    (result, paths)
}

async fn take_steps(engine: &Engine, files: &AppFiles, scenario: &Scenario, saved: &mut Saved) -> Result<(), String> {
    engine.install_files(files.clone(), Vec::new(), Path::new(""), "test", "scenario").await.map_err(|e| format!("{e}"))?;
    let app_id = engine.apps().first().map(|a| a.id().to_owned()).ok_or("no app")?;
    match &scenario.users {
        Some(seed) => engine.seed_users(&app_id, seed).await.map(drop).map_err(|e| format!("users of seed `{seed}`: {e}"))?,
        None => engine.ensure_admin(Some(&crate::auth::random_token(16))).await.map(drop).map_err(|e| e.to_string())?,
    }
    let clock = match &scenario.clock {
        Some(at) => DateTime::parse_from_rfc3339(at).map_err(|e| format!("clock `{at}` is no RFC 3339 time: {e}"))?.to_utc(),
        None => Utc::now(),
    };
    let mut run = Run { engine, app: app_id, saved, clock };
    for (i, step) in scenario.steps.iter().enumerate() {
        run.step(step).await.map_err(|failure| format!("step {}: {failure}", i + 1))?;
    }
    Ok(())
}

/// The flow log of each saved record that has a flow, read as stored (the scenario's user
/// may no longer see it).
async fn paths_of(engine: &Engine, saved: &Saved) -> Vec<FlowPath> {
    let Some(app) = engine.apps().first().cloned() else { return Vec::new() };
    let mut paths = Vec::new();
    for (name, (form, id)) in saved {
        let Ok(rt) = app.form(form) else { continue };
        let Ok(Some(record)) = store::get(engine.store.db(), &rt.table, id).await else { continue };
        let Some(instance) = record.flow.and_then(|f| serde_json::from_value::<workflow::Instance>(f).ok()) else { continue };
        let moves = (instance.log.into_iter()).map(|e| Move { action: e.action, from: e.from, to: e.to, step: e.step }).collect();
        paths.push(FlowPath { record: name.clone(), form: form.clone(), moves });
    }
    paths
}

/// A scenario on its way.
struct Run<'a> {
    engine: &'a Engine,
    app: String,
    saved: &'a mut Saved,
    clock: DateTime<Utc>,
}

impl Run<'_> {
    async fn step(&mut self, step: &Step) -> Result<(), String> {
        if let Some(advance) = &step.advance {
            let seconds = defs::parse_duration(advance).ok_or_else(|| format!("`{advance}` is no duration"))?;
            self.clock += chrono::Duration::seconds(seconds);
            self.engine.run_due_jobs(self.clock).await.map_err(|e| format!("jobs due by then: {e}"))?;
            return Ok(());
        }
        if let Some(expect) = &step.expect {
            return self.expect(expect).await;
        }
        let actor = self.actor(step.user.as_deref().unwrap_or("admin")).await?;
        if let (Some(find), Some(name)) = (&step.find, &step.save_as) {
            let found = self.find(find, &actor).await?;
            self.saved.insert(name.clone(), found);
            return Ok(());
        }
        // The step runs at the scenario's time: its rules read it, and timers count from it.
        let outcome = crate::time::as_at(self.clock, self.act(step, &actor)).await;
        match (outcome, &step.error) {
            (Ok(saved), None) => {
                if let (Some(name), Some(saved)) = (&step.save_as, saved) {
                    self.saved.insert(name.clone(), saved);
                }
                Ok(())
            }
            (Ok(_), Some(code)) => Err(format!("expected the error `{code}`, but the step was done")),
            (Err(e), Some(code)) if e.code().as_str() == code => Ok(()),
            (Err(e), _) => Err(format!("refused: {} ({e}{})", e.code().as_str(), details(&e))),
        }
    }

    /// Takes the step's action; answers the record it created, to save under a name.
    async fn act(&self, step: &Step, actor: &Actor) -> Result<Option<(String, String)>, EngineError> {
        let engine = self.engine;
        let app = app_id(&self.app)?;
        let data = self.resolved(Value::Object(step.data.clone().unwrap_or_default()));
        if let Some(form) = &step.create {
            let created = engine.create(actor, &app, &form_id(form)?, data).await?;
            return Ok(Some((form.clone(), created.id)));
        }
        if let Some(name) = &step.update {
            let (form, id) = self.record(name)?;
            let current = engine.get(actor, &app, &form_id(&form)?, &record_id(&id)?).await?;
            engine.update(actor, &app, &form_id(&form)?, &record_id(&id)?, current.version, data).await?;
            return Ok(None);
        }
        if let Some(action) = &step.act {
            let (form, id) = self.record(step.on.as_deref().unwrap_or_default())?;
            let request = ActRequest { comment: step.comment.clone(), to: step.to.clone(), expected_version: None };
            engine.act(actor, &app, &form_id(&form)?, &record_id(&id)?, action, request).await?;
            return Ok(None);
        }
        if let Some(name) = &step.merge {
            let (form, merged) = self.record(name)?;
            let (_, keep) = self.record(step.to.as_deref().unwrap_or_default())?;
            engine.merge(actor, &app, &form_id(&form)?, &record_id(&keep)?, &record_id(&merged)?, false).await?;
            return Ok(None);
        }
        let owner_change = [&step.claim, &step.return_to_pool, &step.assign];
        if let Some(name) = owner_change.into_iter().flatten().next() {
            let (form, id) = self.record(name)?;
            let (form, id) = (form_id(&form)?, record_id(&id)?);
            let version = engine.get(actor, &app, &form, &id).await?.version;
            match (&step.claim, &step.return_to_pool) {
                (Some(_), _) => engine.claim(actor, &app, &form, &id, version).await?,
                (_, Some(_)) => engine.return_to_pool(actor, &app, &form, &id, version).await?,
                _ => engine.assign(actor, &app, &form, &id, version, step.to.as_deref().unwrap_or_default()).await?,
            };
            return Ok(None);
        }
        let (decision, name) = match (&step.approve, &step.reject, &step.transfer) {
            (Some(name), _, _) => ("approve", name),
            (_, Some(name), _) => ("reject", name),
            (_, _, Some(name)) => ("transfer", name),
            _ => return Err(EngineError::Internal("a step with no action".into())),
        };
        let (_, id) = self.record(name)?;
        let tasks = engine.tasks(actor, Some("pending")).await?;
        let task = tasks
            .iter()
            .find(|t| t.record_id == id)
            .ok_or_else(|| EngineError::NotFound(format!("a pending task of {} on {name}", actor.username)))?;
        let request = ActRequest { comment: step.comment.clone(), to: step.to.clone(), expected_version: None };
        engine.decide(actor, &task.id, decision, request).await?;
        Ok(None)
    }

    async fn expect(&self, expect: &Expect) -> Result<(), String> {
        let admin = self.actor("admin").await?;
        if let Some(name) = &expect.record {
            let (form, id) = self.record(name).map_err(|e| e.to_string())?;
            let ids = (app_id(&self.app), form_id(&form), record_id(&id));
            let (Ok(app), Ok(form), Ok(id)) = ids else { return Err(format!("{name} is no record")) };
            let reader = match &expect.reader {
                Some(user) => self.actor(user).await?,
                None => admin.clone(),
            };
            let record =
                self.engine.get(&reader, &app, &form, &id).await.map_err(|e| format!("{name} read as {}: {e}", reader.username))?;
            if let Some(state) = &expect.state
                && record.state.as_deref() != Some(state)
            {
                return Err(format!("{name} is in state {:?}, not `{state}`", record.state));
            }
            if let Some(owner) = expect.owner.as_ref().filter(|o| **o != record.owner) {
                return Err(format!("{name} is owned by `{}`, not `{owner}`", record.owner));
            }
            for (field, wanted) in expect.fields.iter().flatten() {
                let found = record.data.get(field).unwrap_or(&Value::Null);
                if !same(found, &self.resolved(wanted.clone())) {
                    return Err(format!("{name}.{field} is {found}, not {wanted}"));
                }
            }
        }
        if let Some(tasks) = &expect.tasks {
            let user = self.actor(&tasks.user).await?;
            let pending = self.engine.tasks(&user, Some("pending")).await.map_err(|e| e.to_string())?;
            if pending.len() != tasks.count {
                return Err(format!("{} has {} pending task(s), not {}", tasks.user, pending.len(), tasks.count));
            }
        }
        if let Some(records) = &expect.records {
            let filter = self.resolved(Value::Object(records.filter.clone()));
            let params = ListParams { filter: Some(filter.to_string()), count: Some(true), limit: Some(1), ..ListParams::default() };
            let (app, form) = (app_id(&self.app).map_err(|e| e.to_string())?, form_id(&records.form).map_err(|e| e.to_string())?);
            let reader = match &records.user {
                Some(user) => self.actor(user).await?,
                None => admin.clone(),
            };
            let page = self.engine.list(&reader, &app, &form, &params).await.map_err(|e| format!("{} records: {e}", records.form))?;
            let found = page.total.map_or(0, |t| t.records);
            if found != records.count {
                return Err(format!("{} {} record(s) match {filter}, not {}", found, records.form, records.count));
            }
        }
        if let Some(report) = &expect.report {
            // At the scenario's time, so relative dates (overdue, this month) follow its clock.
            crate::time::as_at(self.clock, self.expect_report(report)).await?;
        }
        if let Some(outbox) = &expect.outbox {
            let sent = store::outbox_for(self.engine.store.db(), &outbox.kind, &outbox.to, 1_000).await.map_err(|e| e.to_string())?;
            if sent.len() < outbox.at_least {
                return Err(format!("{} got {} `{}` message(s), fewer than {}", outbox.to, sent.len(), outbox.kind, outbox.at_least));
            }
            if let Some(most) = outbox.at_most.filter(|most| sent.len() > *most) {
                return Err(format!("{} got {} `{}` message(s), more than {most}", outbox.to, sent.len(), outbox.kind));
            }
        }
        Ok(())
    }

    /// The one record of `find.form` matching its filter that `reader` may see, as `(form, id)`.
    async fn find(&self, find: &defs::FindRecord, reader: &Actor) -> Result<(String, String), String> {
        let filter = self.resolved(Value::Object(find.filter.clone()));
        let params = ListParams { filter: Some(filter.to_string()), limit: Some(2), ..ListParams::default() };
        let (app, form) = (app_id(&self.app).map_err(|e| e.to_string())?, form_id(&find.form).map_err(|e| e.to_string())?);
        let page = self.engine.list(reader, &app, &form, &params).await.map_err(|e| format!("{} records: {e}", find.form))?;
        let who = &reader.username;
        match page.items.as_slice() {
            [one] => Ok((find.form.clone(), one.id.clone())),
            [] => Err(format!("no {} record matches {filter} for {who}", find.form)),
            _ => Err(format!("more than one {} record matches {filter} for {who}", find.form)),
        }
    }

    /// The saved report's rows as its reader sees them hold every row `report.rows` names (found
    /// by the values it gives its dimensions) and none that `report.absent` describes.
    async fn expect_report(&self, report: &defs::ReportRows) -> Result<(), String> {
        let reader = self.actor(report.user.as_deref().unwrap_or("admin")).await?;
        let app = app_id(&self.app).map_err(|e| e.to_string())?;
        let result =
            self.engine.report(&reader, &app, &report.id, &Default::default()).await.map_err(|e| format!("report {}: {e}", report.id))?;
        let dimensions: Vec<&str> = result.columns.iter().filter(|c| c["role"] == "dimension").filter_map(|c| c["id"].as_str()).collect();
        let holds = |row: &Map<String, Value>, wanted: &Map<String, Value>, only: &[&str]| {
            wanted
                .iter()
                .filter(|(k, _)| only.is_empty() || only.contains(&k.as_str()))
                .all(|(k, w)| same(row.get(k).unwrap_or(&Value::Null), w))
        };
        let resolved = |row: &Map<String, Value>| match self.resolved(Value::Object(row.clone())) {
            Value::Object(map) => map,
            _ => row.clone(),
        };
        for wanted in report.rows.iter().map(resolved) {
            let Some(row) = result.rows.iter().find(|row| holds(row, &wanted, &dimensions)) else {
                return Err(format!("report {} has no row {}", report.id, Value::Object(wanted)));
            };
            if !holds(row, &wanted, &[]) {
                return Err(format!("report {} has {}, not {}", report.id, Value::Object(row.clone()), Value::Object(wanted)));
            }
        }
        for unwanted in report.absent.iter().map(resolved) {
            if let Some(row) = result.rows.iter().find(|row| holds(row, &unwanted, &[])) {
                return Err(format!("report {} has the row {}", report.id, Value::Object(row.clone())));
            }
        }
        Ok(())
    }

    /// `value` with each text `$name` that names a saved record replaced by its id, so a step's
    /// data links records made before it.
    fn resolved(&self, value: Value) -> Value {
        match value {
            Value::String(text) => match text.strip_prefix('$').and_then(|name| self.saved.get(name)) {
                Some((_, id)) => Value::String(id.clone()),
                None => Value::String(text),
            },
            Value::Array(items) => Value::Array(items.into_iter().map(|v| self.resolved(v)).collect()),
            Value::Object(members) => Value::Object(members.into_iter().map(|(k, v)| (k, self.resolved(v))).collect()),
            other => other,
        }
    }

    fn record(&self, name: &str) -> Result<(String, String), EngineError> {
        let key = name.strip_prefix('$').unwrap_or(name);
        self.saved.get(key).cloned().ok_or_else(|| EngineError::NotFound(format!("no record saved as `{key}` before this step")))
    }

    async fn actor(&self, username: &str) -> Result<Actor, String> {
        self.engine.actor_named(username).await.map_err(|e| format!("user `{username}`: {e}"))
    }
}

/// Whether `found` is what a scenario `wanted`: numbers by value, objects in the members it
/// names (a child row's computed fields, leaving out the rest), lists item by item.
fn same(found: &Value, wanted: &Value) -> bool {
    match (found, wanted) {
        (Value::Array(found), Value::Array(wanted)) => found.len() == wanted.len() && found.iter().zip(wanted).all(|(f, w)| same(f, w)),
        (Value::Object(found), Value::Object(wanted)) => wanted.iter().all(|(k, w)| same(found.get(k).unwrap_or(&Value::Null), w)),
        _ => match (found.as_f64(), wanted.as_f64()) {
            (Some(a), Some(b)) => a == b,
            _ => found == wanted,
        },
    }
}

fn details(e: &EngineError) -> String {
    let details = e.details();
    if details.is_empty() {
        String::new()
    } else {
        format!(": {}", details.iter().map(|d| format!("{} {}", d.path, d.message)).collect::<Vec<_>>().join("; "))
    }
}

fn app_id(id: &str) -> Result<AppId, EngineError> {
    AppId::parse(id).map_err(|e| EngineError::malformed_at("", e.to_string()))
}

fn form_id(id: &str) -> Result<FormId, EngineError> {
    FormId::parse(id).map_err(|e| EngineError::malformed_at("", e.to_string()))
}

fn record_id(id: &str) -> Result<RecordId, EngineError> {
    RecordId::parse(id).map_err(|e| EngineError::malformed_at("", e.to_string()))
}
