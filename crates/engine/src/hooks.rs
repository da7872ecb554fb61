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

use std::sync::mpsc as sync_channel;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use defs::{Action, HookKind};
use forms::FieldError;
use rules::{Allowance, Effect, Host, Input, ReadAs, RuleError};
use serde_json::{Map, Value, json};
use store::{Conn, Deleted, Filter, ListQuery};
use tokio::sync::{Semaphore, mpsc};

use crate::access::Access;
use crate::apps::{FormRuntime, LoadedApp};
use crate::command::Cmd;
use crate::records::Draft;
use crate::{Actor, Engine, EngineError, time};

/// Cores the rules pool leaves to the request threads and the database: with every other core
/// running runaway rules, requests still have one to themselves, and further rule runs queue.
const CORES_LEFT_TO_REQUESTS: usize = 1;

/// Rule runs at a time in the process: the cores not left to requests, at least one.
static RULE_RUNS: LazyLock<Semaphore> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Semaphore::new(cores.saturating_sub(CORES_LEFT_TO_REQUESTS).max(1))
});

/// Whether a run of rules is made inside a write turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Turn {
    /// Inside one: a run that outlasts its slice goes to a blocking thread at once. Were it to
    /// wait for a place among the [`RULE_RUNS`] behind runs that hold no turn, every writer would
    /// wait with it. Such runs are few: one turn at a time on SQLite, on PostgreSQL as many as the
    /// database has connections.
    Held,
    /// Before one (a new record's draft): it waits for a place.
    NotYet,
}

/// Starts `run` on a blocking thread — for a run made before its write turn, once one of the
/// [`RULE_RUNS`] is free; the run keeps its place until it ends, even if the caller stops
/// waiting for it.
async fn spawn_on_rule_pool<T: Send + 'static>(
    turn: Turn,
    run: impl FnOnce() -> T + Send + 'static,
) -> Result<tokio::task::JoinHandle<T>, EngineError> {
    let place = match turn {
        Turn::Held => None,
        Turn::NotYet => Some(RULE_RUNS.acquire().await.map_err(|e| EngineError::Internal(format!("rules pool: {e}")))?),
    };
    Ok(tokio::task::spawn_blocking(move || {
        let _place = place;
        run()
    }))
}

/// How long a run of rules may take on the thread that needs it — a request thread, an
/// import's writer — before it is stopped and made again on the rules pool. Nearly every run ends
/// within microseconds; a thread switch to the pool and back costs tens (measured: imports ran at
/// 8,000 rows/s with every run on the pool, 20,000 without).
const INLINE_SLICE: Duration = Duration::from_millis(2);

/// Runs `run` here if it ends within [`INLINE_SLICE`], else again on the rules pool, and
/// returns what it returned.
async fn run_rules<T: Send + 'static>(turn: Turn, run: impl Fn() -> T + Send + Sync + 'static) -> Result<T, EngineError> {
    if let Some(out) = Allowance::within(INLINE_SLICE, &run) {
        return Ok(out);
    }
    spawn_on_rule_pool(turn, run).await?.await.map_err(|e| EngineError::Internal(format!("rule job failed: {e}")))
}

/// A record made ready to write.
pub(crate) struct Prepared {
    pub(crate) data: Map<String, Value>,
    pub(crate) errors: Vec<FieldError>,
    pub(crate) effects: Vec<Effect>,
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

type Job<T> = Arc<dyn Fn(Arc<dyn Host>) -> T + Send + Sync>;

/// A rule job after its first run: its outcome, or the read it stopped at. [`Engine::finish`]
/// answers the reads and runs it again.
struct Started<T> {
    /// Kept only while it has a read to be answered and run again.
    job: Option<Job<T>>,
    replay: Arc<Replay>,
    /// The time left to all its runs.
    allowance: Allowance,
    out: T,
}

impl<T: Send + 'static> Started<T> {
    /// Makes the job's first run on this thread (see [`run_rules`] for which).
    fn run(allowance: Allowance, job: impl Fn(Arc<dyn Host>) -> T + Send + Sync + 'static) -> Self {
        let replay = Arc::new(Replay::default());
        let out = allowance.spend(|| job(Arc::new(Asking(replay.clone()))));
        // A job that asked nothing is never run again: let go of it (and what it holds) here,
        // on the thread that made it.
        let asked = replay.state().unanswered.is_some();
        Started { job: asked.then(|| Arc::new(job) as Job<T>), replay, allowance, out }
    }

    /// [`Started::run`] through [`run_rules`], inside a write turn.
    async fn start(allowance: Allowance, job: impl Fn(Arc<dyn Host>) -> T + Send + Sync + 'static) -> Result<Self, EngineError> {
        let job: Job<T> = Arc::new(job);
        run_rules(Turn::Held, move || {
            let job = job.clone();
            Started::run(allowance.clone(), move |host| job(host))
        })
        .await
    }

    /// A job done without running rules: it never runs again, so its allowance is never drawn on.
    fn ready(out: T) -> Self {
        Started { job: None, replay: Arc::default(), allowance: Allowance::new(Default::default()), out }
    }

    /// The outcome, when the run asked for nothing it was not given.
    fn settled(&self) -> Option<&T> {
        self.replay.state().unanswered.is_none().then_some(&self.out)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum HostRequest {
    Lookup { form: String, id: String, read_as: ReadAs },
    Find { form: String, filter: Value, limit: u64, read_as: ReadAs },
    RoundRobin { pool: String, members: Vec<String> },
}

type Reply = sync_channel::Sender<Result<Value, String>>;

/// Reads a rule job may make on the calling task before it moves to a blocking thread; each
/// read there costs one more run of the job.
const MAX_REPLAYED_READS: usize = 4;

/// Whoever answers a rule job's reads.
trait Ask {
    fn ask(&self, request: HostRequest) -> Result<Value, String>;
}

/// The [`Host`] of an [`Ask`]er.
struct Asking<A>(A);

impl<A: Ask + Send + Sync> Host for Asking<A> {
    fn lookup(&self, form: &str, id: &str, read_as: ReadAs) -> Result<Option<Value>, String> {
        let found = self.0.ask(HostRequest::Lookup { form: form.to_owned(), id: id.to_owned(), read_as })?;
        Ok((!found.is_null()).then_some(found))
    }
    fn find(&self, form: &str, filter: Value, limit: u64, read_as: ReadAs) -> Result<Vec<Value>, String> {
        match self.0.ask(HostRequest::Find { form: form.to_owned(), filter, limit, read_as })? {
            Value::Array(rows) => Ok(rows),
            _ => Ok(Vec::new()),
        }
    }
    fn round_robin(&self, pool: &str, members: &[String]) -> Result<String, String> {
        let chosen = self.0.ask(HostRequest::RoundRobin { pool: pool.to_owned(), members: members.to_vec() })?;
        Ok(chosen.as_str().unwrap_or_default().to_owned())
    }
}

/// Answers a job's reads with the answers gathered in its earlier runs, and notes the first read
/// it has no answer for yet.
#[derive(Default)]
struct Replay(std::sync::Mutex<ReplayState>);

#[derive(Default)]
struct ReplayState {
    answers: Vec<(HostRequest, Result<Value, String>)>,
    /// Reads asked in this run.
    asked: usize,
    /// The first read of this run without an answer, and its place among the reads.
    unanswered: Option<(usize, HostRequest)>,
}

impl Replay {
    fn state(&self) -> std::sync::MutexGuard<'_, ReplayState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Readies the answers for a new run of the job, which asks from its first read again.
    fn restart(&self) {
        let mut state = self.state();
        state.asked = 0;
        state.unanswered = None;
    }
}

impl Ask for Arc<Replay> {
    fn ask(&self, request: HostRequest) -> Result<Value, String> {
        let mut state = self.state();
        let place = state.asked;
        state.asked += 1;
        match state.answers.get(place) {
            Some((asked, answer)) if *asked == request => answer.clone(),
            _ => {
                state.unanswered.get_or_insert((place, request));
                Err("this read is answered in the next run".into())
            }
        }
    }
}

/// Answers the reads of a job on a blocking thread: each is sent to the saving task and
/// answered there.
struct ChannelHost(mpsc::UnboundedSender<(HostRequest, Reply)>);

impl Ask for ChannelHost {
    /// Waits no longer than the job's run may last: the run holds a place in the rules pool,
    /// and a read stuck behind a lock held by a save waiting for that place would otherwise
    /// never end.
    fn ask(&self, request: HostRequest) -> Result<Value, String> {
        let (reply, answer) = sync_channel::channel();
        self.0.send((request, reply)).map_err(|_| "the save was abandoned".to_owned())?;
        let waited = match Allowance::run_ends() {
            Some(end) => answer.recv_timeout(end.saturating_duration_since(Instant::now())).map_err(|e| match e {
                sync_channel::RecvTimeoutError::Timeout => "the rule ran out of time waiting for a read",
                sync_channel::RecvTimeoutError::Disconnected => "the save was abandoned",
            }),
            None => answer.recv().map_err(|_| "the save was abandoned"),
        };
        waited.map_err(str::to_owned)?
    }
}

/// For forms without rules: nothing ever asks.
struct NoHost;

impl Host for NoHost {
    fn lookup(&self, _: &str, _: &str, _: ReadAs) -> Result<Option<Value>, String> {
        Err("lookup is not available here".into())
    }
    fn find(&self, _: &str, _: Value, _: u64, _: ReadAs) -> Result<Vec<Value>, String> {
        Err("find is not available here".into())
    }
    fn round_robin(&self, _: &str, _: &[String]) -> Result<String, String> {
        Err("round_robin is not available here".into())
    }
}

impl Engine {
    /// Computes and checks a changed record about to be saved (see the module doc for the order).
    pub(crate) async fn prepare(&self, cmd: Cmd<'_, impl Conn>, rt: &FormRuntime, save: SaveContext) -> Result<Prepared, EngineError> {
        let draft =
            self.run_form_rules(Turn::Held, cmd, rt, move |engine, drafting, rt| engine.draft_rules(drafting, rt, save.clone())).await?;
        Ok(self.finish_rules(cmd, draft).await?.0)
    }

    /// [`Engine::draft`] through [`run_rules`]. `owner` as for [`Engine::create_in`].
    pub(crate) async fn draft_with_rules<C>(
        &self,
        turn: Turn,
        cmd: Cmd<'_, C>,
        rt: &FormRuntime,
        data: Value,
        owner: Option<&str>,
    ) -> Result<Draft, EngineError> {
        let owner = owner.map(str::to_owned);
        self.run_form_rules(turn, cmd, rt, move |engine, drafting, rt| engine.draft(drafting, rt, data.clone(), owner.as_deref())).await
    }

    /// Runs `work`, which runs the rules of `rt` for `cmd` before its transaction, through
    /// [`run_rules`] — or simply here, when the form has no rules to run before a write.
    async fn run_form_rules<C, T: Send + 'static>(
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
        let input = input(actor, &save);
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
        let input = input(cmd.actor, &save);
        let outcome = self
            .with_host(cmd, move |host| -> Result<(Vec<Effect>, Vec<FieldError>), RuleError> {
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
                    let answer = self.serve(cmd, request.clone()).await;
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
                    let answer = self.serve(cmd, request).await;
                    let _ = reply.send(answer);
                }
                done = &mut job => return done.map_err(|e| EngineError::Internal(format!("rule job failed: {e}"))),
            }
        }
    }

    /// Answers a script's read: with the app's authority (every live record and field), or, for
    /// `lookup_as_user` and `find_as_user`, as the user it runs for — only records they may read,
    /// without the fields hidden from them.
    async fn serve(&self, cmd: Cmd<'_, impl Conn>, request: HostRequest) -> Result<Value, String> {
        let (tx, actor, loaded) = (cmd.tx, cmd.actor, cmd.app);
        let text = |e: EngineError| e.to_string();
        match request {
            HostRequest::Lookup { form, id, read_as } => {
                let rt = loaded.form(&form).map_err(text)?;
                let found = store::get(tx, &rt.table, &id).await.map_err(|e| e.to_string())?.filter(|r| r.deleted_at.is_none());
                let Some(record) = found else { return Ok(Value::Null) };
                if read_as == ReadAs::App {
                    return Ok(script_view(record, None));
                }
                let access = Access::of(actor, rt);
                if !access.allows(Action::Read) || !self.in_scope(cmd, rt, &access, Action::Read, &record).await.map_err(text)? {
                    return Ok(Value::Null);
                }
                Ok(script_view(record, Some(&access)))
            }
            HostRequest::Find { form, filter, limit, read_as } => {
                let rt = loaded.form(&form).map_err(text)?;
                let filter = crate::list::parse_filter(loaded, rt, &filter, "/filter").map_err(|e| format!("find({form}): {e}"))?;
                let (filter, access) = match read_as {
                    ReadAs::App => (filter, None),
                    ReadAs::User => {
                        let access = Access::of(actor, rt);
                        if !access.allows(Action::Read) {
                            return Ok(Value::Array(Vec::new())); // nothing the user may read
                        }
                        match self.scope(tx, actor, loaded, rt, &access, Action::Read).await.map_err(text)? {
                            Some(scope) => (Filter::All(vec![filter, scope]), Some(access)),
                            None => (filter, Some(access)),
                        }
                    }
                };
                let query = ListQuery { filter: Some(filter), sort: Vec::new(), after: None, limit, deleted: Deleted::Exclude };
                let rows = store::list(tx, &rt.table, &query).await.map_err(|e| e.to_string())?;
                Ok(Value::Array(rows.into_iter().map(|r| script_view(r, access.as_ref())).collect()))
            }
            HostRequest::RoundRobin { pool, members } => {
                let turn = store::next_counter(tx, &format!("round_robin:{}:{pool}", loaded.id())).await.map_err(|e| e.to_string())?;
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
        at: save.at,
    }
}

fn object_with_id(mut data: Map<String, Value>, id: &str) -> Map<String, Value> {
    data.insert("id".into(), json!(id));
    data
}

/// A stored record as scripts read it: its data (what `access` shows, when read as the user) plus
/// `id`, `owner` and timestamps.
fn script_view(mut r: store::Record, access: Option<&Access>) -> Value {
    if let Some(access) = access {
        access.redact(&mut r.data);
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
    rt.compiled.normalise_decimals(&mut input.record);

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
    rt.compiled.normalise_decimals(&mut input.record);
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
    Ok(Prepared { data: input.record, errors, effects })
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
    let user = serde_json::to_value(actor).unwrap_or(Value::Null);
    let input = Input { record: object_with_id(data.clone(), id), old: None, user, at: time::rules_time() };
    let form = form.to_owned();
    Started::run(loaded.rules.allowance(), move |host| assign(&loaded, &form, &input, host))
}
