//! Flows at run time: the engine side of the workflow crate. A record's place in its flow is
//! stored with the record (`state` and `flow` columns); a move writes the record's next version
//! (state, fields the move sets, the flow log), opens and closes approval tasks, schedules the
//! new state's timers and applies the move's effects — all in the command's one transaction.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use defs::{Action, Diagnostic, Effect, Flow, Label, TimerAction};
use serde::Serialize;
use serde_json::{Map, Value, json};
use store::{Conn, Record};
use uuid::Uuid;
use workflow::{Available, Command, Env, Instance, LogEntry, Person, StepError, Workflow};

use crate::access::Access;
use crate::audit::Subject;
use crate::{Actor, Engine, EngineError, Envelope, LoadedApp, time};

/// A form's flow as loaded: the verified definition and the version number it is stored under.
pub(crate) struct FlowRuntime {
    pub(crate) workflow: Arc<Workflow>,
    pub(crate) version: i64,
}

/// Flow definitions of earlier versions that records in flight still follow, by (flow, version).
#[derive(Default)]
pub(crate) struct OldFlows(Mutex<HashMap<(String, i64), Arc<Workflow>>>);

/// What `…/records/{id}/actions` shows: where the record stands and what the caller may do.
#[derive(Debug, Clone, Serialize)]
pub struct FlowView {
    pub flow: String,
    pub state: String,
    pub state_label: Label,
    pub terminal: bool,
    /// The record's version (send it back as `If-Match` to act on exactly what was seen).
    pub version: i64,
    pub actions: Vec<Available>,
    pub approval: Option<ApprovalView>,
    pub log: Vec<LogEntry>,
    /// Fields the caller may not change in this state (`*`: every field).
    pub locked: Vec<String>,
    /// Fields whose change sends the record back for approval (`*`: any field).
    pub reapprove: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApprovalView {
    pub step: String,
    pub label: Label,
    pub mode: defs::Mode,
    pub submitter: Option<String>,
    pub seats: Vec<workflow::Seat>,
    /// Users whose decision is awaited now.
    pub waiting: Vec<String>,
}

/// What comes with an action besides its name.
#[derive(Debug, Clone, Default)]
pub struct ActRequest {
    /// A comment recorded with the decision or move.
    pub comment: Option<String>,
    /// The user a `transfer` or `add_approver` names.
    pub to: Option<String>,
    /// When given, the record must be at this version (the one the person saw).
    pub expected_version: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ActResult {
    pub record: Envelope,
    pub flow: FlowView,
}

/// One of a person's approval tasks.
#[derive(Debug, Clone, Serialize)]
pub struct TaskView {
    pub id: String,
    pub app: String,
    pub form: String,
    pub record_id: String,
    /// The record's title (its form's `title_field`), when the assignee may read it.
    pub title: Option<String>,
    pub state: String,
    pub step: String,
    /// The step's label, as the flow names it.
    pub step_label: Option<Label>,
    pub status: String,
    pub created_at: String,
    pub decided_at: Option<String>,
}

/// The rules' sandbox for flow conditions: they see the record and the user, nothing else.
struct NoHost;

impl rules::Host for NoHost {
    fn lookup(&self, _: &str, _: &str, _: rules::ReadAs) -> Result<Option<Value>, String> {
        Err("flow conditions cannot read other records".into())
    }
    fn find(&self, _: &str, _: Value, _: u64, _: rules::ReadAs) -> Result<Vec<Value>, String> {
        Err("flow conditions cannot read other records".into())
    }
    fn round_robin(&self, _: &str, _: &[String]) -> Result<String, String> {
        Err("flow conditions cannot rotate".into())
    }
}

/// The engine's answers to the workflow crate: people from the users table and the app's
/// departments, conditions from the rules engine.
struct FlowEnv<'a> {
    now: String,
    /// The record's id (empty before a new record is written).
    id: &'a str,
    owner: &'a str,
    record: &'a Map<String, Value>,
    user: Value,
    users: &'a [store::User],
    app: &'a LoadedApp,
    /// The time all the expressions of one command may take together, as a save's rules share
    /// theirs: a move evaluating many conditions cannot take the deadline many times over.
    allowance: rules::Allowance,
}

impl Env for FlowEnv<'_> {
    fn now(&self) -> String {
        self.now.clone()
    }
    fn owner(&self) -> &str {
        self.owner
    }
    fn value(&self, field: &str) -> Option<&Value> {
        self.record.get(field)
    }
    fn role_members(&self, role: &str) -> Vec<String> {
        self.users.iter().filter(|u| u.roles.iter().any(|r| r == role)).map(|u| u.username.clone()).collect()
    }
    fn managers(&self, user: &str, levels: u8) -> Vec<String> {
        let departments = &self.app.defs.app.departments;
        let mut current = self.users.iter().find(|u| u.username == user).and_then(|u| u.department.clone());
        let mut out: Vec<String> = Vec::new();
        let mut visited = 0;
        while let Some(id) = current.take() {
            let Some(department) = departments.iter().find(|d| d.id == id) else { break };
            if let Some(manager) = &department.manager
                && manager != user
                && !out.contains(manager)
            {
                out.push(manager.clone());
            }
            visited += 1;
            if out.len() >= usize::from(levels) || visited > departments.len() {
                break;
            }
            current = department.parent.clone();
        }
        out
    }
    fn holds(&self, condition: &str) -> Result<bool, String> {
        Ok(truthy(&self.eval(condition, &[]).map_err(|e| e.to_string())?))
    }
    fn rule_users(&self, rule: &str) -> Result<Vec<String>, String> {
        let (script, function) = rule.split_once('.').unwrap_or((rule, ""));
        let input = self.input();
        let outcome =
            self.allowance.spend(|| self.app.rules.call(script, function, &input, Arc::new(NoHost))).map_err(|e| e.to_string())?;
        Ok(match outcome.value {
            Value::String(user) => vec![user],
            Value::Array(users) => users.into_iter().filter_map(|u| u.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        })
    }
}

impl FlowEnv<'_> {
    fn input(&self) -> rules::Input {
        let mut record = self.record.clone();
        record.insert("id".into(), Value::String(self.id.to_owned()));
        record.insert("owner".into(), Value::String(self.owner.to_owned()));
        rules::Input { record, old: None, user: self.user.clone(), at: time::rules_time() }
    }

    fn eval(&self, source: &str, vars: &[(&str, &Value)]) -> Result<Value, EngineError> {
        let expression = self
            .app
            .rules
            .expression(source)
            .map_err(|e| EngineError::Internal(format!("flow expression `{source}` did not compile: {}", e.message)))?;
        let input = self.input();
        Ok(self.allowance.spend(|| self.app.rules.eval_with(&expression, &input, vars, Arc::new(NoHost)))?)
    }

    /// A value of `set` or `create.data`: literal JSON, or an expression after `=`.
    fn value_of(&self, value: &Value, created: &Value) -> Result<Value, EngineError> {
        match value.as_str().and_then(|s| s.strip_prefix('=')) {
            Some(source) => self.eval(source, &[("created", created)]),
            None => Ok(value.clone()),
        }
    }
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::Null => false,
        Value::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn step_error(e: StepError) -> EngineError {
    match e {
        StepError::UnknownAction(action) => EngineError::NotFound(format!("action `{action}`")),
        StepError::Unavailable(message) => EngineError::Conflict(message),
        StepError::NotAllowed(message) => EngineError::Forbidden(message),
        StepError::MissingFields(fields) => EngineError::Invalid(
            fields.iter().map(|f| forms::FieldError::new(format!("/{f}"), "required before this action".to_owned())).collect(),
        ),
        StepError::Guard(message) => EngineError::Invalid(vec![forms::FieldError::new("", guard_text(&message))]),
        StepError::Invalid(message) => EngineError::malformed(message),
        StepError::Condition { source_text, message } => {
            EngineError::Rule(rules::RuleError::Failed { rule: format!("flow condition `{source_text}`"), message })
        }
    }
}

/// A guard's message in every language it has, so the API needs no locale to be understood.
fn guard_text(label: &Label) -> String {
    let mut texts = label.texts();
    texts.dedup();
    texts.join(" / ")
}

/// Problems of the app's flows for `tessera check`: the graph (from the workflow crate) and the
/// expressions and rules flows name (from the rules engine).
pub(crate) fn compile_flows(
    defs: &defs::AppDefs,
    rules: &rules::Rules,
    dir: &Path,
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<String, FlowRuntime> {
    let mut flows = BTreeMap::new();
    for (id, flow) in &defs.flows {
        let file = dir.join("flows").join(format!("{id}.json"));
        let mut at = |pointer: String, message: String| diags.push(Diagnostic::new(&file, pointer, message));
        for (pointer, source) in expressions(flow) {
            if let Err(e) = rules.expression(&source) {
                at(pointer, format!("{}:{}: {}", e.line, e.column, e.message));
            }
        }
        for (s, state) in flow.states.iter().enumerate() {
            for (k, step) in state.approval.iter().flat_map(|a| a.steps.iter().enumerate()) {
                for (a, approver) in step.approvers.iter().enumerate() {
                    if let defs::Approver::Rule(rule) = approver {
                        let (script, function) = rule.split_once('.').unwrap_or((rule, ""));
                        if rules.has_script(script) && !rules.has_function(script, function, 3) {
                            let pointer = format!("/states/{s}/approval/steps/{k}/approvers/{a}/rule");
                            at(pointer, format!("rules/{script}.rhai has no function `{function}(record, old, user)`"));
                        }
                    }
                }
            }
        }
        match Workflow::compile(id, flow.clone()) {
            Ok(workflow) => {
                flows.insert(flow.form.clone(), FlowRuntime { workflow: Arc::new(workflow), version: 0 });
            }
            Err(problems) => problems.into_iter().for_each(|p| at(p.pointer, p.message)),
        }
    }
    flows
}

/// Every expression of a flow with its pointer: guards, `who.if`, step conditions, timer
/// durations, and `=` values.
fn expressions(flow: &Flow) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut values = |base: String, map: &indexmap::IndexMap<String, Value>| {
        for (name, value) in map {
            if let Some(source) = value.as_str().and_then(|s| s.strip_prefix('=')) {
                out.push((format!("{base}/{name}"), source.to_owned()));
            }
        }
    };
    for (s, state) in flow.states.iter().enumerate() {
        values(format!("/states/{s}/set"), &state.set);
    }
    for (t, transition) in flow.transitions.iter().enumerate() {
        for (e, effect) in transition.effects.iter().enumerate() {
            match effect {
                Effect::Set(map) => values(format!("/transitions/{t}/effects/{e}/set"), map),
                Effect::Create(create) => values(format!("/transitions/{t}/effects/{e}/create/data"), &create.data),
                _ => {}
            }
        }
    }
    for (t, transition) in flow.transitions.iter().enumerate() {
        if let Some(guard) = &transition.guard {
            out.push((format!("/transitions/{t}/guard/if"), guard.condition.clone()));
        }
        if let Some(condition) = transition.who.as_ref().and_then(|w| w.condition.clone()) {
            out.push((format!("/transitions/{t}/who/if"), condition));
        }
    }
    for (s, state) in flow.states.iter().enumerate() {
        for (k, step) in state.approval.iter().flat_map(|a| a.steps.iter().enumerate()) {
            if let Some(condition) = &step.condition {
                out.push((format!("/states/{s}/approval/steps/{k}/when"), condition.clone()));
            }
        }
        for (t, timer) in state.timers.iter().enumerate() {
            if let Some(source) = &timer.after_expr {
                out.push((format!("/states/{s}/timers/{t}/after_expr"), source.clone()));
            }
            if let Some(source) = &timer.condition {
                out.push((format!("/states/{s}/timers/{t}/if"), source.clone()));
            }
        }
    }
    out
}

impl LoadedApp {
    /// Stores each flow definition under a new version when it changed since the last start, so
    /// records in flight can keep following the version they started with.
    pub(crate) async fn register_flows(&mut self, db: &impl Conn) -> Result<(), EngineError> {
        let app = self.defs.app.id.clone();
        for runtime in self.flows.values_mut() {
            let id = runtime.workflow.id().to_owned();
            let text = defs::to_canonical_json(runtime.workflow.def());
            runtime.version = match store::latest_flow_version(db, &app, &id).await? {
                Some((version, stored)) if stored == text => version,
                latest => {
                    let version = latest.map_or(1, |(v, _)| v + 1);
                    store::insert_flow_version(db, &app, &id, version, &text, &time::now()).await?;
                    version
                }
            };
        }
        Ok(())
    }

    /// The flow field of `form`, which only the flow changes.
    pub(crate) fn flow_field(&self, form: &str) -> Option<&str> {
        self.flows.get(form).and_then(|f| f.workflow.def().field.as_deref())
    }
}

impl Engine {
    /// The workflow an instance follows: the current definition when the instance can move onto
    /// it ([`Workflow::upgrade`]; the instance is moved), else the stored version it started with.
    async fn workflow_for(
        &self,
        db: &impl Conn,
        app: &LoadedApp,
        form: &str,
        instance: &mut Instance,
    ) -> Result<Arc<Workflow>, EngineError> {
        let runtime = app.flows.get(form).ok_or_else(|| EngineError::NotFound(format!("a flow of form `{form}`")))?;
        if instance.version == runtime.version {
            return Ok(runtime.workflow.clone());
        }
        let earlier = self.stored_workflow(db, app, &instance.flow, instance.version).await?;
        match runtime.workflow.upgrade(instance, &earlier, runtime.version) {
            Some(upgraded) => {
                *instance = upgraded;
                Ok(runtime.workflow.clone())
            }
            None => Ok(earlier),
        }
    }

    /// Version `version` of flow `flow` as stored when it was current.
    async fn stored_workflow(&self, db: &impl Conn, app: &LoadedApp, flow: &str, version: i64) -> Result<Arc<Workflow>, EngineError> {
        let key = (flow.to_owned(), version);
        if let Some(found) = app.old_flows.0.lock().ok().and_then(|cache| cache.get(&key).cloned()) {
            return Ok(found);
        }
        let text = store::flow_version(db, app.id(), flow, version)
            .await?
            .ok_or_else(|| EngineError::Internal(format!("flow `{flow}` version {version} is not stored")))?;
        let def: Flow = serde_json::from_str(&text).map_err(|e| EngineError::Internal(e.to_string()))?;
        let workflow = Arc::new(
            Workflow::compile(flow, def)
                .map_err(|_| EngineError::Internal(format!("stored flow `{flow}` version {version} does not verify")))?,
        );
        if let Ok(mut cache) = app.old_flows.0.lock() {
            cache.insert(key, workflow.clone());
        }
        Ok(workflow)
    }

    /// Starts the flow of a new record: sets its state, the flow field and the entered state's
    /// `set` values in `data`. A trusted writer (`trusted`: seeds, rules) may place the record in
    /// any state through the flow field; people in the initial state or a state marked `start` (and,
    /// when it names `start_roles`, only their members and admins).
    /// `users` is the directory when [`starts_in_approval`] says it is needed, else empty.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn start_flow(
        &self,
        app: &LoadedApp,
        form: &str,
        actor: &Actor,
        owner: &str,
        data: &mut Map<String, Value>,
        trusted: bool,
        users: &[store::User],
    ) -> Result<Option<Instance>, EngineError> {
        let Some(runtime) = app.flows.get(form) else { return Ok(None) };
        let workflow = &runtime.workflow;
        let field = workflow.def().field.as_deref();
        let requested = field.and_then(|f| data.get(f)).and_then(Value::as_str).map(str::to_owned);
        let initial = workflow.def().initial().map(|s| s.id.as_str()).unwrap_or_default();
        if requested.as_deref().is_some_and(|s| workflow.def().state(s).is_none()) {
            return Ok(None); // not a state at all: validation names the field's allowed values
        }
        let admin = actor.roles.iter().any(|r| r == crate::access::ADMIN);
        let may_start = |state: &str| {
            state == initial
                || workflow.def().state(state).is_some_and(|s| {
                    s.start && (admin || s.start_roles.is_empty() || s.start_roles.iter().any(|r| actor.roles.contains(r)))
                })
        };
        if let (Some(f), Some(state)) = (field, &requested)
            && !trusted
            && !may_start(state)
        {
            return Err(EngineError::Invalid(vec![forms::FieldError::new(
                format!("/{f}"),
                format!("you may not create records in `{state}`: they start in `{initial}`, and `{f}` then follows the flow's actions"),
            )]));
        }
        let env = FlowEnv {
            now: time::now(),
            id: "",
            owner,
            record: data,
            user: actor_json(actor),
            users,
            app,
            allowance: app.rules.allowance(),
        };
        let step = workflow.start(runtime.version, requested.as_deref(), &actor.username, &env).map_err(step_error)?;
        // A state's `set` gives defaults here: values the creator gave win.
        let mut patch = Map::new();
        for state in &step.entered {
            for (name, value) in workflow.def().state(state).map(|s| &s.set).into_iter().flatten() {
                if !data.contains_key(name) {
                    patch.insert(name.clone(), env.value_of(value, &Value::Null)?);
                }
            }
        }
        data.extend(patch);
        if let Some(f) = field {
            data.insert(f.to_owned(), Value::String(step.instance.state.clone()));
        }
        Ok(Some(step.instance))
    }

    /// After a new record with a flow is written: its first state's timers, and tasks when it
    /// starts in an approval.
    pub(crate) async fn started_flow(
        &self,
        tx: &impl Conn,
        app: &str,
        form: &str,
        envelope: &Envelope,
        instance: &Instance,
    ) -> Result<(), EngineError> {
        let loaded = self.app(app)?;
        let Some(runtime) = loaded.flows.get(form) else { return Ok(()) };
        if instance.approval.is_some() {
            self.sync_tasks(tx, app, form, &runtime.workflow, envelope, instance, None).await?;
        }
        self.schedule_timers(tx, loaded, &runtime.workflow, form, envelope, instance).await
    }

    /// Where the record stands in its flow and what the actor may do.
    pub async fn flow_view(&self, actor: &Actor, app: &str, form: &str, id: &str) -> Result<FlowView, EngineError> {
        let result = async {
            let loaded = self.app(app)?;
            let db = self.store.db();
            let (record, access) = self.flow_record(db, actor, loaded, form, id).await?;
            let may_update = self.may_update(db, actor, loaded, form, &access, &record).await?;
            let mut instance = instance_of(loaded, form, &record)?;
            let workflow = self.workflow_for(db, loaded, form, &mut instance).await?;
            let users = store::users(db).await?;
            let env = FlowEnv {
                now: time::now(),
                id,
                owner: &record.owner,
                record: &record.data,
                user: actor_json(actor),
                users: &users,
                app: loaded,
                allowance: loaded.rules.allowance(),
            };
            let person = Person { username: &actor.username, roles: &actor.roles, may_update, system: false };
            view(&workflow, &instance, record.version, Some((&person, &env as &dyn Env)))
        }
        .await;
        self.audited(actor, Subject { action: "read", app, form, id }, result).await
    }

    /// Takes `action` on the record: a transition of its flow, or an approval action
    /// (`approve`, `reject`, `recall`, `transfer`, `add_approver`).
    pub async fn act(
        &self,
        actor: &Actor,
        app: &str,
        form: &str,
        id: &str,
        action: &str,
        request: ActRequest,
    ) -> Result<ActResult, EngineError> {
        let result = async {
            let (turn, tx) = self.store.begin().await?;
            let result = self.act_in(&tx, actor, app, form, id, action, request, false).await?;
            turn.commit(tx).await?;
            Ok(result)
        }
        .await;
        self.audited(actor, Subject { action: "act", app, form, id }, result).await
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn act_in(
        &self,
        tx: &impl Conn,
        actor: &Actor,
        app: &str,
        form: &str,
        id: &str,
        action: &str,
        request: ActRequest,
        system: bool,
    ) -> Result<ActResult, EngineError> {
        let loaded = self.app(app)?;
        let rt = loaded.form(form)?;
        // Two people acting on one record at once take turns (PostgreSQL; SQLite's write
        // transactions already do): a countersign counts each approval once, a double submit
        // finds the record already moved.
        store::lock_key(tx, &format!("flow:{id}")).await?;
        let (record, access) = if system {
            let record = store::get(tx, &rt.table, id).await?.filter(|r| r.deleted_at.is_none()).ok_or_else(|| not_found(form, id))?;
            (record, Access::of(actor, rt))
        } else {
            self.flow_record(tx, actor, loaded, form, id).await?
        };
        if request.expected_version.is_some_and(|v| v != record.version) {
            return Err(EngineError::StaleVersion { current: record.version });
        }
        let may_update = system || self.may_update(tx, actor, loaded, form, &access, &record).await?;
        let mut instance = instance_of(loaded, form, &record)?;
        let workflow = self.workflow_for(tx, loaded, form, &mut instance).await?;
        let command = match action {
            "approve" => Command::Approve,
            "reject" => Command::Reject,
            "recall" => Command::Recall,
            defs::REAPPROVE => Command::Reapprove,
            "transfer" | "add_approver" => {
                let to = request.to.clone().ok_or_else(|| EngineError::malformed_at("/to", format!("`{action}` names a user in `to`")))?;
                if !store::user_exists(tx, &to).await? {
                    return Err(EngineError::malformed_at("/to", format!("no user `{to}`")));
                }
                if action == "transfer" { Command::Transfer(to) } else { Command::AddApprover(to) }
            }
            other => Command::Act(other.to_owned()),
        };
        let users = store::users(tx).await?;
        let env = FlowEnv {
            now: time::now(),
            id,
            owner: &record.owner,
            record: &record.data,
            user: actor_json(actor),
            users: &users,
            app: loaded,
            allowance: loaded.rules.allowance(),
        };
        let person = Person { username: &actor.username, roles: &actor.roles, may_update, system };
        let step = workflow.step(&instance, &person, &command, request.comment.clone(), &env).map_err(step_error)?;

        // The record's next version: fields the entered states and the move set, in order;
        // records the move creates get their ids into `created` for later values.
        let mut patch = Map::new();
        for state in &step.entered {
            for (name, value) in workflow.def().state(state).map(|s| &s.set).into_iter().flatten() {
                patch.insert(name.clone(), env.value_of(value, &Value::Null)?);
            }
        }
        let mut created = Value::Object(Map::new());
        let mut messages = Vec::new();
        for effect in &step.effects {
            match effect {
                Effect::Set(values) => {
                    for (name, value) in values {
                        patch.insert(name.clone(), env.value_of(value, &created)?);
                    }
                }
                Effect::Create(create) => {
                    let mut data = Map::new();
                    for (name, value) in &create.data {
                        // An expression over an empty field gives nothing: leave the field out.
                        match env.value_of(value, &created)? {
                            Value::Null => {}
                            value => {
                                data.insert(name.clone(), value);
                            }
                        }
                    }
                    let new = Box::pin(self.create_in(tx, actor, app, &create.form, Value::Object(data), Some(&record.owner), 1)).await?;
                    if let (Some(name), Value::Object(map)) = (&create.name, &mut created) {
                        map.insert(name.clone(), Value::String(new.id));
                    }
                }
                Effect::Notify(notify) => {
                    let text = notify.text.text("zh-CN").to_owned();
                    for user in recipients(&notify.to, &env, &instance) {
                        messages.push(("notify", user, json!({"text": text, "form": form, "record": id})));
                    }
                }
                Effect::Webhook(hook) => {
                    messages.push(("webhook", hook.url.clone(), json!({"event": hook.event, "app": app, "form": form, "record": id})));
                }
            }
        }
        if let Some(field) = workflow.def().field.as_deref() {
            patch.insert(field.to_owned(), Value::String(step.instance.state.clone()));
        }
        let flow = serde_json::to_value(&step.instance).map_err(|e| EngineError::Internal(e.to_string()))?;
        store::set_flow(tx, &rt.table, id, &step.instance.state, &flow).await?;
        let op = format!("flow:{action}");
        let mut envelope = self.update_in(tx, actor, app, form, id, Some(record.version), Value::Object(patch), 1, &op).await?;
        for (kind, recipient, payload) in messages {
            let message = store::OutboxMessage {
                id: Uuid::now_v7().to_string(),
                app: app.to_owned(),
                kind: kind.into(),
                recipient,
                payload,
                created_at: time::now(),
                delivered_at: None,
            };
            store::insert_outbox(tx, &message).await?;
        }
        let decided = step.decided.map(|seat| (seat, actor.username.as_str(), command == Command::Approve));
        self.sync_tasks(tx, app, form, &workflow, &envelope, &step.instance, decided).await?;
        if step.instance.entry != instance.entry {
            self.schedule_timers(tx, loaded, &workflow, form, &envelope, &step.instance).await?;
        }
        let env = FlowEnv { record: &envelope.data, owner: &envelope.owner, ..env };
        let flow = view(&workflow, &step.instance, envelope.version, (!system).then_some((&person, &env as &dyn Env)))?;
        access.redact(&mut envelope.data);
        Ok(ActResult { record: envelope, flow })
    }

    /// The live record, checked readable by the actor (404 otherwise), and the actor's access.
    async fn flow_record(
        &self,
        db: &impl Conn,
        actor: &Actor,
        app: &LoadedApp,
        form: &str,
        id: &str,
    ) -> Result<(Record, Access), EngineError> {
        let rt = app.form(form)?;
        if !app.flows.contains_key(form) {
            return Err(EngineError::NotFound(format!("a flow of form `{form}`")));
        }
        let record = store::get(db, &rt.table, id).await?.filter(|r| r.deleted_at.is_none()).ok_or_else(|| not_found(form, id))?;
        let access = Access::of(actor, rt);
        if !self.in_scope(db, actor, app, rt, &access, Action::Read, &record).await? {
            return Err(EngineError::OutOfScope(format!("{form} record {id}")));
        }
        Ok((record, access))
    }

    async fn may_update(
        &self,
        db: &impl Conn,
        actor: &Actor,
        app: &LoadedApp,
        form: &str,
        access: &Access,
        record: &Record,
    ) -> Result<bool, EngineError> {
        Ok(access.allows(Action::Update) && self.in_scope(db, actor, app, app.form(form)?, access, Action::Update, record).await?)
    }

    /// Makes the pending tasks of the record match the seats its approval awaits: the
    /// decider's task (`decided`: seat, who, approved) takes their decision, tasks no longer
    /// awaited close, new seats get tasks.
    #[allow(clippy::too_many_arguments)]
    async fn sync_tasks(
        &self,
        tx: &impl Conn,
        app: &str,
        form: &str,
        workflow: &Workflow,
        record: &Envelope,
        instance: &Instance,
        decided: Option<(u32, &str, bool)>,
    ) -> Result<(), EngineError> {
        let now = time::now();
        let step = workflow.current_step(instance).ok().map(|(_, s)| s.id.clone()).unwrap_or_default();
        let wanted: Vec<(i64, String, i64, String)> = workflow
            .waiting(instance)
            .into_iter()
            .flat_map(|seat| seat.users.iter().map(|u| (i64::from(instance.entry), step.clone(), i64::from(seat.id), u.clone())))
            .collect();
        for task in store::pending_tasks_of(tx, &record.id).await? {
            let key = (task.entry, task.step.clone(), task.seat, task.assignee.clone());
            if wanted.contains(&key) {
                continue;
            }
            let status = match decided {
                Some((seat, by, approved)) if i64::from(seat) == task.seat && task.assignee == by => {
                    if approved {
                        "approved"
                    } else {
                        "rejected"
                    }
                }
                _ => "closed",
            };
            store::finish_task(tx, &task.id, status, &now).await?;
        }
        let open: Vec<(i64, String, i64, String)> =
            store::pending_tasks_of(tx, &record.id).await?.into_iter().map(|t| (t.entry, t.step, t.seat, t.assignee)).collect();
        for (entry, step, seat, assignee) in wanted.into_iter().filter(|k| !open.contains(k)) {
            let task = store::Task {
                id: Uuid::now_v7().to_string(),
                app: app.to_owned(),
                form: form.to_owned(),
                record_id: record.id.clone(),
                entry,
                step,
                seat,
                assignee,
                status: "pending".into(),
                created_at: now.clone(),
                decided_at: None,
            };
            store::insert_task(tx, &task).await?;
        }
        Ok(())
    }

    /// Schedules the timers of the state the record just entered, as durable jobs.
    async fn schedule_timers(
        &self,
        tx: &impl Conn,
        app: &LoadedApp,
        workflow: &Workflow,
        form: &str,
        record: &Envelope,
        instance: &Instance,
    ) -> Result<(), EngineError> {
        let Some(state) = workflow.def().state(&instance.state) else { return Ok(()) };
        let now = Utc::now();
        for timer in &state.timers {
            let env = FlowEnv {
                now: time::now(),
                id: &record.id,
                owner: &record.owner,
                record: &record.data,
                user: Value::Null,
                users: &[],
                app,
                allowance: app.rules.allowance(),
            };
            let Some(due) = timer_due(timer, &env, now)? else { continue };
            let job = store::Job {
                id: Uuid::now_v7().to_string(),
                key: format!("timer:{}:{}:{}", record.id, instance.entry, timer.id),
                app: app.id().to_owned(),
                kind: "flow_timer".into(),
                due_at: time::format(due),
                payload: json!({"form": form, "record": record.id, "entry": instance.entry, "state": instance.state, "timer": timer.id}),
                attempts: 0,
            };
            crate::gather::job(tx, job).await?;
        }
        Ok(())
    }

    /// Runs a flow timer job: void when the record left the state it was started in. Returns
    /// when it is due again (timers with `every`).
    pub(crate) async fn run_flow_timer(&self, job: &store::Job, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, EngineError> {
        let loaded = self.app(&job.app)?;
        let (form, id, timer_id) = (
            job.payload["form"].as_str().unwrap_or_default(),
            job.payload["record"].as_str().unwrap_or_default(),
            job.payload["timer"].as_str().unwrap_or_default(),
        );
        let entry = job.payload["entry"].as_u64().unwrap_or_default();
        let rt = loaded.form(form)?;
        let (turn, tx) = self.store.begin().await?;
        store::lock_key(&tx, &format!("flow:{id}")).await?;
        let Some(record) = store::get(&tx, &rt.table, id).await?.filter(|r| r.deleted_at.is_none()) else { return Ok(None) };
        let mut instance = instance_of(loaded, form, &record)?;
        if u64::from(instance.entry) != entry {
            return Ok(None);
        }
        let workflow = self.workflow_for(&tx, loaded, form, &mut instance).await?;
        let Some(timer) = workflow.def().state(&instance.state).and_then(|s| s.timers.iter().find(|t| t.id == timer_id)) else {
            return Ok(None);
        };
        let again = timer.every.as_deref().and_then(defs::parse_duration).map(|s| now + chrono::Duration::seconds(s));
        let system = Actor::system();
        let users = store::users(&tx).await?;
        let env = FlowEnv {
            now: time::now(),
            id,
            owner: &record.owner,
            record: &record.data,
            user: actor_json(&system),
            users: &users,
            app: loaded,
            allowance: loaded.rules.allowance(),
        };
        if let Some(condition) = &timer.condition
            && !truthy(&env.eval(condition, &[])?)
        {
            return Ok(again);
        }
        let notify = |to: Vec<String>, text: &Label| {
            to.into_iter()
                .map(|user| store::OutboxMessage {
                    id: Uuid::now_v7().to_string(),
                    app: job.app.clone(),
                    kind: "notify".into(),
                    recipient: user,
                    payload: json!({"text": text.text("zh-CN"), "form": form, "record": id, "timer": timer_id}),
                    created_at: time::now(),
                    delivered_at: None,
                })
                .collect::<Vec<_>>()
        };
        match &timer.action {
            TimerAction::Fire(action) => {
                self.act_in(&tx, &system, &job.app, form, id, action, ActRequest::default(), true).await?;
            }
            TimerAction::Remind { to, text } => {
                let to = if to.is_empty() {
                    let waiting: Vec<String> = workflow.waiting(&instance).iter().flat_map(|s| s.users.clone()).collect();
                    if waiting.is_empty() { vec![record.owner.clone()] } else { waiting }
                } else {
                    recipients(to, &env, &instance)
                };
                for message in notify(to, text) {
                    store::insert_outbox(&tx, &message).await?;
                }
            }
            TimerAction::Escalate { text, reassign } => {
                let managers = env.managers(&record.owner, 1);
                for message in notify(managers.clone(), text) {
                    store::insert_outbox(&tx, &message).await?;
                }
                if let (true, Some(manager)) = (*reassign, managers.first()) {
                    self.reassign(&tx, &system, &job.app, form, &record, manager).await?;
                }
            }
        }
        turn.commit(tx).await?;
        Ok(again)
    }

    /// The actor's approval tasks with `status` (`pending` by default), newest first.
    pub async fn tasks(&self, actor: &Actor, status: Option<&str>) -> Result<Vec<TaskView>, EngineError> {
        let db = self.store.db();
        let status = status.unwrap_or("pending");
        if !["pending", "approved", "rejected", "closed"].contains(&status) {
            return Err(EngineError::malformed_at("/status", "`status` is pending, approved, rejected or closed"));
        }
        let tasks = store::tasks_of(db, &actor.username, status, 200).await?;
        // The tasks' records, one query per form rather than one per task.
        let mut by_form: BTreeMap<(&str, &str), Vec<String>> = BTreeMap::new();
        for task in &tasks {
            by_form.entry((task.app.as_str(), task.form.as_str())).or_default().push(task.record_id.clone());
        }
        let mut records: HashMap<String, Record> = HashMap::new();
        for ((app, form), ids) in &by_form {
            if let Ok(rt) = self.app(app).and_then(|a| a.form(form)) {
                records.extend(store::get_many(db, &rt.table, ids).await?.into_iter().map(|r| (r.id.clone(), r)));
            }
        }
        let mut out = Vec::new();
        for task in tasks {
            let Ok(loaded) = self.app(&task.app) else { continue };
            let Ok(rt) = loaded.form(&task.form) else { continue };
            let record = records.get(&task.record_id);
            let access = Access::of(actor, rt);
            let title = rt
                .compiled
                .def
                .title_field
                .as_ref()
                .filter(|f| (access.allows(Action::Read) || task.status == "pending") && !access.hidden.contains(*f))
                .and_then(|f| record.and_then(|r| r.data.get(f)))
                .and_then(Value::as_str)
                .map(str::to_owned);
            let step_label = loaded
                .flows
                .get(&task.form)
                .and_then(|f| f.workflow.def().states.iter().find_map(|s| s.approval.as_ref()?.steps.iter().find(|st| st.id == task.step)))
                .map(|st| st.label.clone());
            out.push(TaskView {
                step_label,
                title,
                state: record.and_then(|r| r.state.clone()).unwrap_or_default(),
                id: task.id,
                app: task.app,
                form: task.form,
                record_id: task.record_id,
                step: task.step,
                status: task.status,
                created_at: task.created_at,
                decided_at: task.decided_at,
            });
        }
        Ok(out)
    }

    /// Decides one of the actor's tasks: `approve`, `reject` or `transfer` (to `request.to`).
    pub async fn decide(&self, actor: &Actor, task_id: &str, decision: &str, request: ActRequest) -> Result<ActResult, EngineError> {
        if !["approve", "reject", "transfer", "add_approver"].contains(&decision) {
            return Err(EngineError::NotFound(format!("task action `{decision}`")));
        }
        let task = store::get_task(self.store.db(), task_id)
            .await?
            .filter(|t| t.assignee == actor.username)
            .ok_or_else(|| EngineError::NotFound(format!("task {task_id}")))?;
        if task.status != "pending" {
            return Err(EngineError::Conflict(format!("this task is already {}", task.status)));
        }
        self.act(actor, &task.app, &task.form, &task.record_id, decision, ActRequest { expected_version: None, ..request }).await
    }
}

/// The record's instance; records written before their form had a flow start at the state
/// their flow field names, or the initial one.
fn instance_of(app: &LoadedApp, form: &str, record: &Record) -> Result<Instance, EngineError> {
    if let Some(flow) = &record.flow {
        return serde_json::from_value(flow.clone()).map_err(|e| EngineError::Internal(format!("flow of record {}: {e}", record.id)));
    }
    let runtime = app.flows.get(form).ok_or_else(|| EngineError::NotFound(format!("a flow of form `{form}`")))?;
    let def = runtime.workflow.def();
    let named = def.field.as_deref().and_then(|f| record.data.get(f)).and_then(Value::as_str).filter(|s| def.state(s).is_some());
    let state = record.state.as_deref().filter(|s| def.state(s).is_some()).or(named);
    let state = state.or_else(|| def.initial().map(|s| s.id.as_str())).unwrap_or_default();
    Ok(Instance {
        flow: runtime.workflow.id().to_owned(),
        version: runtime.version,
        state: state.to_owned(),
        entry: 1,
        ..Instance::default()
    })
}

fn view(workflow: &Workflow, instance: &Instance, version: i64, viewer: Option<(&Person, &dyn Env)>) -> Result<FlowView, EngineError> {
    let state = workflow.def().state(&instance.state);
    let approval = workflow.current_step(instance).ok().zip(instance.approval.as_ref()).map(|((_, step), progress)| ApprovalView {
        step: step.id.clone(),
        label: step.label.clone(),
        mode: step.mode,
        submitter: instance.submitter.clone(),
        seats: progress.seats.clone(),
        waiting: workflow.waiting(instance).iter().flat_map(|s| s.users.clone()).collect(),
    });
    let actions = match viewer {
        Some((person, env)) => workflow.available(instance, person, env).map_err(step_error)?,
        None => Vec::new(),
    };
    let roles = viewer.map_or(&[][..], |(person, _)| person.roles);
    let lock = state.and_then(|s| s.lock.as_ref());
    let locked = lock.map(|l| l.fields.iter().filter(|f| l.holds(f, roles)).cloned().collect()).unwrap_or_default();
    Ok(FlowView {
        flow: workflow.id().to_owned(),
        state: instance.state.clone(),
        state_label: state.map_or_else(|| Label::Plain(instance.state.clone()), |s| s.label.clone()),
        terminal: state.is_some_and(|s| s.terminal),
        version,
        actions,
        approval,
        log: instance.log.clone(),
        locked,
        reapprove: state.and_then(|s| s.reapprove.as_ref()).map(|r| r.fields.clone()).unwrap_or_default(),
    })
}

/// Usernames of `notify` recipients: `owner`, `submitter`, `manager`, `role:x`, `field:x` or a name.
fn recipients(to: &[String], env: &FlowEnv, instance: &Instance) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for entry in to {
        let found = match entry.as_str() {
            "owner" => vec![env.owner.to_owned()],
            "submitter" => instance.submitter.iter().cloned().collect(),
            "manager" => env.managers(env.owner, 1),
            other => match (other.strip_prefix("role:"), other.strip_prefix("field:")) {
                (Some(role), _) => env.role_members(role),
                (_, Some(field)) => env.record.get(field).and_then(Value::as_str).map(str::to_owned).into_iter().collect(),
                _ => vec![other.to_owned()],
            },
        };
        for user in found {
            if !out.contains(&user) {
                out.push(user);
            }
        }
    }
    out
}

/// When a timer fires: at its date field (plus `after`), or `after`/`after_expr` from now.
/// `None` when its date field is empty.
fn timer_due(timer: &defs::Timer, env: &FlowEnv, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, EngineError> {
    let duration = match (&timer.after_expr, &timer.after) {
        (Some(source), _) => {
            let value = env.eval(source, &[])?;
            let seconds = match &value {
                Value::Number(minutes) => minutes.as_f64().map(|m| (m * 60.0) as i64),
                Value::String(text) => defs::parse_duration(text),
                _ => None,
            };
            Some(seconds.ok_or_else(|| {
                EngineError::Rule(rules::RuleError::Failed {
                    rule: format!("timer `{}`", timer.id),
                    message: format!("`after_expr` gave {value}, not a duration such as \"4h\" or a number of minutes"),
                })
            })?)
        }
        (None, Some(text)) => defs::parse_duration(text),
        (None, None) => None,
    };
    let base = match &timer.at_field {
        Some(field) => match env.record.get(field).and_then(Value::as_str) {
            Some(text) => match text.parse::<DateTime<Utc>>() {
                Ok(at) => at,
                Err(_) => match text.parse::<NaiveDate>() {
                    Ok(day) => day.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or(now),
                    Err(_) => return Ok(None),
                },
            },
            None => return Ok(None),
        },
        None => now,
    };
    Ok(Some(base + chrono::Duration::seconds(duration.unwrap_or(0))))
}

/// Whether a new record with `data` starts its flow in an approval, whose approvers come from
/// the user directory; no other start reads the database.
pub(crate) fn starts_in_approval(app: &LoadedApp, form: &str, data: &Map<String, Value>) -> bool {
    let Some(runtime) = app.flows.get(form) else { return false };
    let def = runtime.workflow.def();
    let requested = def.field.as_deref().and_then(|f| data.get(f)).and_then(Value::as_str);
    requested.or(def.initial().map(|s| s.id.as_str())).and_then(|s| def.state(s)).is_some_and(|s| s.approval.is_some())
}

fn actor_json(actor: &Actor) -> Value {
    serde_json::to_value(actor).unwrap_or(Value::Null)
}

fn not_found(form: &str, id: &str) -> EngineError {
    EngineError::NotFound(format!("{form} record {id}"))
}
