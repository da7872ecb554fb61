//! Rules at save time. Everything a save computes — defaults, `before_save`, formulas, scores,
//! visibility, schema validation, `validate` — runs as one job; a new record that passed every
//! check (links, duplicates too) is then assigned an owner by its `assign` hooks, a second job.
//! A job's first run needs no database and is made before the write transaction (see
//! [`Engine::draft_rules`]). rhai is synchronous and reads (`lookup`, `find`, `round_robin`) are
//! answered from the save's own transaction, which is async: a job that reads runs again with
//! the answers it asked for (see [`Engine::finish`]).
//!
//! Scripts are CPU work that cannot yield. A run of a rule job may take a request thread for
//! [`INLINE_SLICE`] at most: one that takes longer is stopped there and made again on the rules
//! pool ([`run_rules`]), so a runaway script costs other requests nothing but its own core, while
//! the many runs that take microseconds pay no thread switch. All the runs and calls of one job
//! share one [`Allowance`] of time, so catching errors or being run again cannot stretch it.

use std::sync::Arc;

use defs::{Action, HookKind};
use forms::{FieldCode, FieldError};
use rules::{Effect, Host, Input, ReadAs, RuleError};
use serde_json::{Map, Value, json};
use store::{Conn, Deleted, Filter, ListQuery};
use tokio::sync::mpsc;

use crate::access::Access;
use crate::apps::{FormRuntime, LoadedApp};
use crate::command::Cmd;
use crate::error::rule_problem;
use crate::{Actor, Engine, EngineError, time};

mod runs;

pub(crate) use runs::Turn;
use runs::{Asking, ChannelHost, HostRequest, MAX_REPLAYED_READS, NoHost, Started, run_rules, spawn_on_rule_pool};

/// A record made ready to write.
pub(crate) struct Prepared {
    pub(crate) data: Map<String, Value>,
    pub(crate) errors: Vec<FieldError>,
    pub(crate) effects: Vec<Effect>,
    /// Fields whose `visible_if` does not hold: taken out of `data`, and not shown.
    pub(crate) hidden: Vec<String>,
    /// Fields whose `required_if` holds.
    pub(crate) required: Vec<String>,
}

/// What the record's rules see: its data with `id`, the stored version, the user.
#[derive(Clone)]
pub(crate) struct SaveContext {
    pub(crate) id: String,
    pub(crate) data: Map<String, Value>,
    pub(crate) old: Option<Map<String, Value>>,
    /// The time the rules read ([`time::rules_time`]), taken where the save began: they may run
    /// on another thread.
    pub(crate) at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The rules of a save after their first run, which needs no database (see
/// [`Engine::draft_rules`]).
pub(crate) struct RulesDraft {
    prepared: Started<Result<Prepared, RuleError>>,
    assign: AssignDraft,
}

/// A new record's `assign` hooks, to run last (see [`Engine::assign_owner`]).
pub(crate) struct AssignDraft {
    /// Whether the form has `assign` hooks and the record is new.
    assigns: bool,
    /// The job, started when the record passed its other rules without a read.
    started: Option<Started<Result<Option<String>, RuleError>>>,
}

impl Engine {
    /// Computes and checks a changed record about to be saved (see the module doc for the order).
    pub(crate) async fn prepare(&self, cmd: Cmd<'_, impl Conn>, rt: &FormRuntime, save: SaveContext) -> Result<Prepared, EngineError> {
        let draft =
            self.run_form_rules(Turn::Held, cmd, rt, move |engine, drafting, rt| engine.draft_rules(drafting, rt, save.clone())).await?;
        Ok(self.finish_rules(cmd, draft).await?.0)
    }

    /// Runs `work`, which runs the rules of `rt` for `cmd` before its transaction, through
    /// [`run_rules`] — or simply here, when the form has no rules to run before a write.
    pub(crate) async fn run_form_rules<C, T: Send + 'static>(
        &self,
        turn: Turn,
        cmd: Cmd<'_, C>,
        rt: &FormRuntime,
        work: impl Fn(&Engine, Cmd<'_, ()>, &FormRuntime) -> Result<T, EngineError> + Send + Sync + 'static,
    ) -> Result<T, EngineError> {
        if !rt.has_rules_before_write() {
            return work(self, cmd.within(&()), rt);
        }
        // What the work needs, owned: it may run on another thread.
        let (actor, loaded, form, depth) = (cmd.actor.clone(), cmd.app.clone(), rt.id().to_owned(), cmd.depth);
        let work = move |engine: &Engine| work(engine, Cmd { tx: &(), actor: &actor, app: &loaded, depth }, loaded.form(&form)?);
        let engine = self.clone();
        run_rules(turn, move || work(&engine)).await?
    }

    /// Runs the save's rules as far as they go without the database: most runs end here, and
    /// can be made before the write transaction begins, or on another thread. Rules run on the
    /// calling thread: an import's drafting thread, or through [`run_rules`].
    pub(crate) fn draft_rules<C>(&self, cmd: Cmd<'_, C>, rt: &FormRuntime, save: SaveContext) -> Result<RulesDraft, EngineError> {
        let (loaded, actor, form) = (cmd.app.clone(), cmd.actor, rt.id());
        let assigns = rt.compiled.def.hooks.iter().any(|h| h.on == HookKind::Assign) && save.old.is_none();
        let input = input(actor, &rt.app, &save);
        let prepared = if rt.has_rules_before_write() {
            let (allowance, loaded, form) = (loaded.rules.allowance(), loaded.clone(), form.to_owned());
            Started::run(allowance, move |host| prepare(&loaded, &form, input.clone(), host))
        } else {
            Started::ready(prepare(&loaded, form, input, Arc::new(NoHost)))
        };
        let started = match prepared.settled() {
            Some(Ok(p)) if assigns && p.errors.is_empty() => Some(assign_job(loaded, form, actor, &save.id, &p.data)),
            _ => None,
        };
        Ok(RulesDraft { prepared, assign: AssignDraft { assigns, started } })
    }

    /// Completes the rules of a save drafted by [`Engine::draft_rules`], answering their reads
    /// from `tx`; a new record's assignment is left for [`Engine::assign_owner`].
    pub(crate) async fn finish_rules(&self, cmd: Cmd<'_, impl Conn>, draft: RulesDraft) -> Result<(Prepared, AssignDraft), EngineError> {
        Ok((self.finish(cmd, draft.prepared).await??, draft.assign))
    }

    /// The owner a new record's `assign` hooks choose for it, run once the record passed every
    /// check, so a refused record runs none. Assignment reads most (round robin), and a read
    /// runs its job again: alone, only the assignment runs twice.
    pub(crate) async fn assign_owner(
        &self,
        cmd: Cmd<'_, impl Conn>,
        rt: &FormRuntime,
        id: &str,
        data: &Map<String, Value>,
        draft: AssignDraft,
    ) -> Result<Option<String>, EngineError> {
        if !draft.assigns {
            return Ok(None);
        }
        let started = match draft.started {
            Some(started) => started,
            None => {
                let (loaded, form, actor, id, data) = (cmd.app.clone(), rt.id().to_owned(), cmd.actor.clone(), id.to_owned(), data.clone());
                run_rules(Turn::Held, move || assign_job(loaded.clone(), &form, &actor, &id, &data)).await?
            }
        };
        Ok(self.finish(cmd, started).await??)
    }

    /// Runs the `after_save` hooks of a written record and returns the effects they ask for.
    pub(crate) async fn after_save(
        &self,
        cmd: Cmd<'_, impl Conn>,
        rt: &FormRuntime,
        save: SaveContext,
    ) -> Result<Vec<Effect>, EngineError> {
        let loaded = cmd.app.clone();
        let hooks: Vec<_> = rt.compiled.def.hooks.iter().filter(|h| h.on == HookKind::AfterSave).cloned().collect();
        if hooks.is_empty() {
            return Ok(Vec::new());
        }
        let input = input(cmd.actor, &rt.app, &save);
        let outcome = self
            .with_host(cmd, move |host| -> Result<(Vec<Effect>, Vec<FieldError>), RuleError> {
                let mut effects = Vec::new();
                let mut errors = Vec::new();
                for hook in &hooks {
                    let (script, function) = hook.target();
                    let out = loaded.rules.call(script, function, &input, host.clone())?;
                    effects.extend(out.effects);
                    errors.extend(out.errors.into_iter().map(rule_problem));
                }
                Ok((effects, errors))
            })
            .await??;
        match outcome {
            (effects, errors) if errors.is_empty() => Ok(effects),
            (_, errors) => Err(EngineError::Invalid(errors)),
        }
    }

    /// Runs `job` through [`run_rules`], answering its reads from `tx` (see [`Engine::finish`]).
    pub(crate) async fn with_host<T: Send + 'static>(
        &self,
        cmd: Cmd<'_, impl Conn>,
        job: impl Fn(Arc<dyn Host>) -> T + Send + Sync + 'static,
    ) -> Result<T, EngineError> {
        let started = Started::start(cmd.app.rules.allowance(), job).await?;
        self.finish(cmd, started).await
    }

    /// Completes a started job, answering its reads from `tx`. Scripts return effects rather
    /// than apply them, so a run stopped at a read it had no answer for left nothing behind: the
    /// job runs again with that answer, and again, until it asks nothing new. Most jobs read
    /// nothing and are done after their first run; a job that reads once runs twice, each run
    /// microseconds. A job that asks differently from run to run, or reads more than a few
    /// times, runs once more on a blocking thread where each read waits for its answer (two
    /// thread switches a read; a round-robin turn it had been given before is given again,
    /// skipping one). Every run is made through [`run_rules`] and draws on the job's allowance: a
    /// job that spent it is stopped at once in its next run.
    async fn finish<T: Send + 'static>(&self, cmd: Cmd<'_, impl Conn>, started: Started<T>) -> Result<T, EngineError> {
        let Started { job, replay, allowance, mut out } = started;
        loop {
            let (unanswered, answered) = {
                let mut state = replay.state();
                state.asked = 0;
                (state.unanswered.take(), state.answers.len())
            };
            match unanswered {
                None => return Ok(out),
                Some((place, request)) if place == answered && answered < MAX_REPLAYED_READS => {
                    let answer = self.serve(cmd, request.clone()).await?;
                    replay.state().answers.push((request, answer));
                }
                Some(_) => break,
            }
            let (job, replay, allowance) = (job.clone().expect("a job that asked is kept"), replay.clone(), allowance.clone());
            out = run_rules(Turn::Held, move || {
                replay.restart();
                allowance.spend(|| job(Arc::new(Asking(replay.clone()))))
            })
            .await?;
        }
        let job = job.expect("a job that asked is kept");
        let (sender, mut requests) = mpsc::unbounded_channel();
        let host: Arc<dyn Host> = Arc::new(Asking(ChannelHost(sender)));
        let mut job = spawn_on_rule_pool(Turn::Held, move || allowance.spend(|| job(host))).await?;
        loop {
            tokio::select! {
                Some((request, reply)) = requests.recv() => {
                    // A database that failed stops the job here; the script, left without its
                    // answer, ends on its own thread.
                    let answer = self.serve(cmd, request).await?;
                    let _ = reply.send(answer);
                }
                done = &mut job => return done.map_err(|e| EngineError::Internal(format!("rule job failed: {e}"))),
            }
        }
    }

    /// Answers a script's read: with the app's authority (every live record and field), or, for
    /// `lookup_as_user` and `find_as_user`, as the user it runs for — only records they may read,
    /// without the fields hidden from them. A read the script got wrong is answered with its
    /// problem, for the script; one the database failed stops the command with the database's
    /// error (503 while it is out of reach), not as the rule's fault.
    async fn serve(&self, cmd: Cmd<'_, impl Conn>, request: HostRequest) -> Result<Result<Value, String>, EngineError> {
        match self.answer(cmd, request).await {
            Err(e @ (EngineError::Store(_) | EngineError::Internal(_))) => Err(e),
            answer => Ok(answer.map_err(|e| e.to_string())),
        }
    }

    async fn answer(&self, cmd: Cmd<'_, impl Conn>, request: HostRequest) -> Result<Value, EngineError> {
        let (tx, actor, loaded) = (cmd.tx, cmd.actor, cmd.app);
        match request {
            HostRequest::Lookup { form, id, read_as } => {
                let rt = loaded.form(&form)?;
                let found = store::get(tx, &rt.table, &id).await?.filter(|r| r.deleted_at.is_none());
                let Some(record) = found else { return Ok(Value::Null) };
                if read_as == ReadAs::App {
                    return Ok(script_view(record, None));
                }
                let access = Access::of(actor, rt);
                if !access.allows(Action::Read) || !self.in_scope(cmd, rt, &access, Action::Read, &record).await? {
                    return Ok(Value::Null);
                }
                Ok(script_view(record, Some((&access, loaded, actor, &form))))
            }
            HostRequest::Find { form, filter, limit, read_as } => {
                let rt = loaded.form(&form)?;
                let filter = crate::filter::parse_filter(loaded, rt, &filter, "/filter")
                    .map_err(|e| EngineError::malformed(format!("find({form}): {e}")))?;
                let (filter, access) = match read_as {
                    ReadAs::App => (filter, None),
                    ReadAs::User => {
                        let access = Access::of(actor, rt);
                        if !access.allows(Action::Read) {
                            return Ok(Value::Array(Vec::new())); // nothing the user may read
                        }
                        match self.scope(tx, actor, loaded, rt, &access, Action::Read).await? {
                            Some(scope) => (Filter::All(vec![filter, scope]), Some(access)),
                            None => (filter, Some(access)),
                        }
                    }
                };
                let query = ListQuery { filter: Some(filter), sort: Vec::new(), after: None, limit, deleted: Deleted::Exclude };
                let rows = store::list(tx, &rt.table, &query).await?;
                let reader = access.as_ref().map(|a| (a, &**loaded, actor, form.as_str()));
                Ok(Value::Array(rows.into_iter().map(|r| script_view(r, reader)).collect()))
            }
            HostRequest::RoundRobin { pool, members } => {
                let turn = store::next_counter(tx, &format!("round_robin:{}:{pool}", loaded.id())).await?;
                Ok(json!(members[((turn - 1) as usize) % members.len()]))
            }
            HostRequest::Connector { id, key } => {
                let connector = loaded
                    .defs
                    .app
                    .connectors
                    .get(&id)
                    .ok_or_else(|| EngineError::malformed(format!("no connector `{id}` in app.json")))?;
                let defs::Provider::Fixture(records) = &connector.provider;
                let found = records.iter().find(|r| r.get(&connector.key).and_then(Value::as_str) == Some(key.as_str()));
                Ok(found.map_or(Value::Null, |r| Value::Object(r.clone())))
            }
        }
    }
}

fn input(actor: &Actor, app: &str, save: &SaveContext) -> Input {
    Input {
        record: object_with_id(save.data.clone(), &save.id),
        old: save.old.clone().map(|o| object_with_id(o, &save.id)),
        user: actor.in_app(app),
        at: save.at,
    }
}

fn object_with_id(mut data: Map<String, Value>, id: &str) -> Map<String, Value> {
    data.insert("id".into(), json!(id));
    data
}

/// Who reads as the user: their access, the app, the user and the form read.
type Reader<'a> = (&'a Access, &'a LoadedApp, &'a Actor, &'a str);

/// A stored record as scripts read it: its data (what the reader sees, when read as the user) plus
/// `id`, `owner` and timestamps.
fn script_view(mut r: store::Record, reader: Option<Reader<'_>>) -> Value {
    if let Some((access, app, actor, form)) = reader {
        access.redact_stored(app, actor, form, r.flow.as_ref(), &mut r.data);
    }
    let mut data = object_with_id(r.data, &r.id);
    data.insert("owner".into(), json!(r.owner));
    data.insert("created_at".into(), json!(r.created_at));
    data.insert("updated_at".into(), json!(r.updated_at));
    Value::Object(data)
}

/// Whole numbers from scripts are floats in rhai; store them as JSON integers.
fn normalize(value: Value) -> Value {
    match value {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9e15 => json!(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(normalize).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, normalize(v))).collect()),
        other => other,
    }
}

fn set(record: &mut Map<String, Value>, field: &str, value: Value) {
    match normalize(value) {
        Value::Null => record.remove(field),
        value => record.insert(field.to_owned(), value),
    };
}

/// The synchronous part of a save: every rule and the schema, in a fixed order.
fn prepare(app: &LoadedApp, form: &str, mut input: Input, host: Arc<dyn Host>) -> Result<Prepared, RuleError> {
    let rt = app.forms.get(form).expect("form resolved by the caller");
    let exprs = &rt.expressions;
    let hooks = &rt.compiled.def.hooks;
    let creating = input.old.is_none();
    let id = input.record.get("id").cloned().unwrap_or(Value::Null);
    let mut errors = Vec::new();
    let mut effects = Vec::new();
    let run = |kind: HookKind| hooks.iter().filter(move |h| h.on == kind);
    // Rules compute with the figures as stored (decimal text from a client read as numbers);
    // what they compute is rounded again before validation.
    rt.compiled.normalise(&mut input.record);

    if creating {
        for (field, e) in &exprs.defaults {
            if !input.record.contains_key(field) {
                let value = app.rules.eval(e, &input, host.clone())?;
                set(&mut input.record, field, value);
            }
        }
    }
    for hook in run(HookKind::BeforeSave) {
        let (script, function) = hook.target();
        let out = app.rules.call(script, function, &input, host.clone())?;
        if let Value::Object(changes) = out.value {
            for (field, value) in changes.into_iter().filter(|(k, _)| k != "id") {
                set(&mut input.record, &field, value);
            }
        }
        errors.extend(out.errors.into_iter().map(rule_problem));
        effects.extend(out.effects);
    }
    for (field, e) in &exprs.formulas {
        let value = app.rules.eval(e, &input, host.clone())?;
        set(&mut input.record, field, value);
    }
    for hook in run(HookKind::Score) {
        let (script, function) = hook.target();
        let out = app.rules.call(script, function, &input, host.clone())?;
        let field = hook.field.as_deref().unwrap_or_default();
        if !out.value.is_number() {
            return Err(RuleError::Failed { rule: hook.rule.clone(), message: format!("a score must be a number, not {}", out.value) });
        }
        set(&mut input.record, field, out.value);
    }
    let mut hidden = Vec::new();
    for (field, e) in &exprs.visible_if {
        if app.rules.eval(e, &input, host.clone())? == Value::Bool(false) {
            input.record.remove(field);
            hidden.push(field.clone());
        }
    }
    let mut required = Vec::new();
    for (field, e) in &exprs.required_if {
        if app.rules.eval(e, &input, host.clone())? == Value::Bool(true) {
            if input.record.get(field).is_none_or(|v| v.is_null() || v == "") {
                errors.push(FieldError::coded(format!("/{field}"), FieldCode::Required, "is required"));
            }
            required.push(field.clone());
        }
    }
    input.record.remove("id");
    rt.compiled.normalise(&mut input.record);
    errors.extend(rt.compiled.validate(&Value::Object(input.record.clone())));
    if errors.is_empty() {
        // Validation rules may assume a well-typed record.
        let mut checked = input.clone();
        checked.record.insert("id".into(), id);
        for hook in run(HookKind::Validate) {
            let (script, function) = hook.target();
            let out = app.rules.call(script, function, &checked, host.clone())?;
            errors.extend(out.errors.into_iter().map(rule_problem));
            effects.extend(out.effects);
        }
    }
    Ok(Prepared { data: input.record, errors, effects, hidden, required })
}

/// The owner the `assign` hooks of a new record choose; the last that names one wins.
fn assign(app: &LoadedApp, form: &str, input: &Input, host: Arc<dyn Host>) -> Result<Option<String>, RuleError> {
    let rt = app.forms.get(form).expect("form resolved by the caller");
    let mut owner = None;
    for hook in rt.compiled.def.hooks.iter().filter(|h| h.on == HookKind::Assign) {
        let (script, function) = hook.target();
        match app.rules.call(script, function, input, host.clone())?.value {
            Value::String(user) => owner = Some(user),
            Value::Null => {}
            other => {
                return Err(RuleError::Failed { rule: hook.rule.clone(), message: format!("assign must return a username, not {other}") });
            }
        }
    }
    Ok(owner)
}

/// The job of a new record's `assign` hooks, after its first run.
fn assign_job(
    loaded: Arc<LoadedApp>,
    form: &str,
    actor: &Actor,
    id: &str,
    data: &Map<String, Value>,
) -> Started<Result<Option<String>, RuleError>> {
    let user = actor.in_app(loaded.id());
    let input = Input { record: object_with_id(data.clone(), id), old: None, user, at: time::rules_time() };
    let form = form.to_owned();
    Started::run(loaded.rules.allowance(), move |host| assign(&loaded, &form, &input, host))
}
