//! Rules at save time. Everything a save computes — defaults, `before_save`, formulas, scores,
//! assignment, visibility, schema validation, `validate` — runs as one job. Most jobs read
//! nothing else and finish at once on the calling task; a job whose script reads (`lookup`,
//! `find`, `round_robin`) runs again on a blocking thread (rhai is synchronous), while this task
//! serves its reads from the save's own transaction.

use std::sync::Arc;
use std::sync::mpsc as sync_channel;

use defs::{Action, HookKind};
use forms::FieldError;
use rules::{Effect, Host, Input, RuleError};
use serde_json::{Map, Value, json};
use store::{Conn, Deleted, Filter, ListQuery};
use tokio::sync::mpsc;

use crate::access::Access;
use crate::apps::LoadedApp;
use crate::{Actor, Engine, EngineError};

/// A record made ready to write.
pub(crate) struct Prepared {
    pub(crate) data: Map<String, Value>,
    /// The owner an `assign` hook chose.
    pub(crate) owner: Option<String>,
    pub(crate) errors: Vec<FieldError>,
    pub(crate) effects: Vec<Effect>,
}

/// What the record's rules see: its data with `id`, the stored version, the user.
pub(crate) struct SaveContext {
    pub(crate) id: String,
    pub(crate) data: Map<String, Value>,
    pub(crate) old: Option<Map<String, Value>>,
}

enum HostRequest {
    Lookup { form: String, id: String },
    Find { form: String, filter: Value, limit: u64 },
    RoundRobin { pool: String, members: Vec<String> },
}

type Reply = sync_channel::Sender<Result<Value, String>>;

/// The host a rule job talks to: each call is sent to the saving task and answered there.
struct ChannelHost(mpsc::UnboundedSender<(HostRequest, Reply)>);

impl ChannelHost {
    fn ask(&self, request: HostRequest) -> Result<Value, String> {
        let (reply, answer) = sync_channel::channel();
        self.0.send((request, reply)).map_err(|_| "the save was abandoned".to_owned())?;
        answer.recv().map_err(|_| "the save was abandoned".to_owned())?
    }
}

impl Host for ChannelHost {
    fn lookup(&self, form: &str, id: &str) -> Result<Option<Value>, String> {
        let found = self.ask(HostRequest::Lookup { form: form.to_owned(), id: id.to_owned() })?;
        Ok((!found.is_null()).then_some(found))
    }
    fn find(&self, form: &str, filter: Value, limit: u64) -> Result<Vec<Value>, String> {
        match self.ask(HostRequest::Find { form: form.to_owned(), filter, limit })? {
            Value::Array(rows) => Ok(rows),
            _ => Ok(Vec::new()),
        }
    }
    fn round_robin(&self, pool: &str, members: &[String]) -> Result<String, String> {
        let chosen = self.ask(HostRequest::RoundRobin { pool: pool.to_owned(), members: members.to_vec() })?;
        Ok(chosen.as_str().unwrap_or_default().to_owned())
    }
}

/// For forms without rules: nothing ever asks.
struct NoHost;

/// Answers no read but remembers being asked (see [`Engine::with_host`]).
#[derive(Default)]
struct Probe(std::sync::atomic::AtomicBool);

impl Probe {
    fn asked<T>(&self) -> Result<T, String> {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        Err("this read is answered on the blocking thread".into())
    }
}

impl Host for Probe {
    fn lookup(&self, _: &str, _: &str) -> Result<Option<Value>, String> {
        self.asked()
    }
    fn find(&self, _: &str, _: Value, _: u64) -> Result<Vec<Value>, String> {
        self.asked()
    }
    fn round_robin(&self, _: &str, _: &[String]) -> Result<String, String> {
        self.asked()
    }
}

impl Host for NoHost {
    fn lookup(&self, _: &str, _: &str) -> Result<Option<Value>, String> {
        Err("lookup is not available here".into())
    }
    fn find(&self, _: &str, _: Value, _: u64) -> Result<Vec<Value>, String> {
        Err("find is not available here".into())
    }
    fn round_robin(&self, _: &str, _: &[String]) -> Result<String, String> {
        Err("round_robin is not available here".into())
    }
}

impl Engine {
    /// Computes and checks a record about to be saved (see the module doc for the order).
    pub(crate) async fn prepare(
        &self,
        tx: &impl Conn,
        actor: &Actor,
        app: &str,
        form: &str,
        save: SaveContext,
    ) -> Result<Prepared, EngineError> {
        let loaded = self.app_arc(app)?.clone();
        let input = input(actor, &save);
        if !loaded.form(form)?.has_rules_before_write() {
            return Ok(prepare(&loaded, form, input, Arc::new(NoHost))?);
        }
        let form = form.to_owned();
        Ok(self.with_host(tx, actor, app, move |host| prepare(&loaded, &form, input.clone(), host)).await??)
    }

    /// Runs the `after_save` hooks of a written record and returns the effects they ask for.
    pub(crate) async fn after_save(
        &self,
        tx: &impl Conn,
        actor: &Actor,
        app: &str,
        form: &str,
        save: SaveContext,
    ) -> Result<Vec<Effect>, EngineError> {
        let loaded = self.app_arc(app)?.clone();
        let hooks: Vec<_> = loaded.form(form)?.compiled.def.hooks.iter().filter(|h| h.on == HookKind::AfterSave).cloned().collect();
        if hooks.is_empty() {
            return Ok(Vec::new());
        }
        let input = input(actor, &save);
        let outcome = self
            .with_host(tx, actor, app, move |host| -> Result<(Vec<Effect>, Vec<FieldError>), RuleError> {
                let mut effects = Vec::new();
                let mut errors = Vec::new();
                for hook in &hooks {
                    let (script, function) = hook.target();
                    let out = loaded.rules.call(script, function, &input, host.clone())?;
                    effects.extend(out.effects);
                    errors.extend(out.errors.into_iter().map(|(p, m)| FieldError::new(p, m)));
                }
                Ok((effects, errors))
            })
            .await??;
        match outcome {
            (effects, errors) if errors.is_empty() => Ok(effects),
            (_, errors) => Err(EngineError::Invalid(errors)),
        }
    }

    /// Runs `job`, answering its host calls from `tx`. It runs here first with a host that only
    /// notes being asked: most hooks read nothing and are done without a thread hand-off. A job
    /// that asked runs again on a blocking thread, where its reads are answered; scripts return
    /// effects rather than apply them, so the first run, stopped at its first read, left nothing.
    pub(crate) async fn with_host<T: Send + 'static>(
        &self,
        tx: &impl Conn,
        actor: &Actor,
        app: &str,
        job: impl Fn(Arc<dyn Host>) -> T + Send + Sync + 'static,
    ) -> Result<T, EngineError> {
        let probe = Arc::new(Probe::default());
        let first = job(probe.clone());
        if !probe.0.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(first);
        }
        let (sender, mut requests) = mpsc::unbounded_channel();
        let host: Arc<dyn Host> = Arc::new(ChannelHost(sender));
        let mut job = tokio::task::spawn_blocking(move || job(host));
        loop {
            tokio::select! {
                Some((request, reply)) = requests.recv() => {
                    let answer = self.serve(tx, actor, app, request).await;
                    let _ = reply.send(answer);
                }
                done = &mut job => return done.map_err(|e| EngineError::Internal(format!("rule job failed: {e}"))),
            }
        }
    }

    /// Answers a script's read as the user it runs for: only records they may read, without
    /// the fields hidden from them.
    async fn serve(&self, tx: &impl Conn, actor: &Actor, app: &str, request: HostRequest) -> Result<Value, String> {
        let loaded = self.app(app).map_err(|e| e.to_string())?;
        let text = |e: EngineError| e.to_string();
        match request {
            HostRequest::Lookup { form, id } => {
                let rt = loaded.form(&form).map_err(text)?;
                let access = Access::of(actor, rt);
                let found = store::get(tx, &rt.table, &id).await.map_err(|e| e.to_string())?.filter(|r| r.deleted_at.is_none());
                let Some(record) = found else { return Ok(Value::Null) };
                if !access.allows(Action::Read)
                    || !self.in_scope(tx, actor, loaded, rt, &access, Action::Read, &record).await.map_err(text)?
                {
                    return Ok(Value::Null);
                }
                Ok(script_view(record, &access))
            }
            HostRequest::Find { form, filter, limit } => {
                let rt = loaded.form(&form).map_err(text)?;
                let access = Access::of(actor, rt);
                if !access.allows(Action::Read) {
                    return Ok(Value::Array(Vec::new())); // nothing the user may read
                }
                let filter = crate::list::parse_filter(loaded, rt, &filter, "/filter").map_err(|e| format!("find({form}): {e}"))?;
                let filter = match self.scope(tx, actor, loaded, rt, &access, Action::Read).await.map_err(text)? {
                    Some(scope) => Filter::All(vec![filter, scope]),
                    None => filter,
                };
                let query = ListQuery { filter: Some(filter), sort: Vec::new(), after: None, limit, deleted: Deleted::Exclude };
                let rows = store::list(tx, &rt.table, &query).await.map_err(|e| e.to_string())?;
                Ok(Value::Array(rows.into_iter().map(|r| script_view(r, &access)).collect()))
            }
            HostRequest::RoundRobin { pool, members } => {
                let turn = store::next_counter(tx, &format!("round_robin:{app}:{pool}")).await.map_err(|e| e.to_string())?;
                Ok(json!(members[((turn - 1) as usize) % members.len()]))
            }
        }
    }
}

fn input(actor: &Actor, save: &SaveContext) -> Input {
    Input {
        record: object_with_id(save.data.clone(), &save.id),
        old: save.old.clone().map(|o| object_with_id(o, &save.id)),
        user: serde_json::to_value(actor).unwrap_or(Value::Null),
    }
}

fn object_with_id(mut data: Map<String, Value>, id: &str) -> Map<String, Value> {
    data.insert("id".into(), json!(id));
    data
}

/// A stored record as scripts read it: its visible data plus `id`, `owner` and timestamps.
fn script_view(mut r: store::Record, access: &Access) -> Value {
    access.redact(&mut r.data);
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
    let mut owner = None;
    let mut errors = Vec::new();
    let mut effects = Vec::new();
    let run = |kind: HookKind| hooks.iter().filter(move |h| h.on == kind);

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
        errors.extend(out.errors);
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
    for hook in run(HookKind::Assign).filter(|_| creating) {
        let (script, function) = hook.target();
        match app.rules.call(script, function, &input, host.clone())?.value {
            Value::String(user) => owner = Some(user),
            Value::Null => {}
            other => {
                return Err(RuleError::Failed { rule: hook.rule.clone(), message: format!("assign must return a username, not {other}") });
            }
        }
    }
    for (field, e) in &exprs.visible_if {
        if app.rules.eval(e, &input, host.clone())? == Value::Bool(false) {
            input.record.remove(field);
        }
    }
    for (field, e) in &exprs.required_if {
        let required = app.rules.eval(e, &input, host.clone())? == Value::Bool(true);
        if required && input.record.get(field).is_none_or(|v| v.is_null() || v == "") {
            errors.push((format!("/{field}"), "is required".into()));
        }
    }
    input.record.remove("id");
    let mut errors: Vec<FieldError> = errors.into_iter().map(|(p, m)| FieldError::new(p, m)).collect();
    errors.extend(rt.compiled.validate(&Value::Object(input.record.clone())));
    if errors.is_empty() {
        // Validation rules may assume a well-typed record.
        let mut checked = input.clone();
        checked.record.insert("id".into(), id);
        for hook in run(HookKind::Validate) {
            let (script, function) = hook.target();
            let out = app.rules.call(script, function, &checked, host.clone())?;
            errors.extend(out.errors.into_iter().map(|(p, m)| FieldError::new(p, m)));
            effects.extend(out.effects);
        }
    }
    Ok(Prepared { data: input.record, owner, errors, effects })
}
