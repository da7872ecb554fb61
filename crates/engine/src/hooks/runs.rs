//! A rule job's runs: on the thread that needs it while it is quick, else on the rules pool;
//! and again with the answers to the reads it stopped at (see [`super`]).

use std::sync::mpsc as sync_channel;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use rules::{Allowance, Host, ReadAs};
use serde_json::Value;
use tokio::sync::{Semaphore, mpsc};

use crate::EngineError;

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
pub(super) async fn spawn_on_rule_pool<T: Send + 'static>(
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
pub(super) async fn run_rules<T: Send + 'static>(turn: Turn, run: impl Fn() -> T + Send + Sync + 'static) -> Result<T, EngineError> {
    if let Some(out) = Allowance::within(INLINE_SLICE, &run) {
        return Ok(out);
    }
    spawn_on_rule_pool(turn, run).await?.await.map_err(|e| EngineError::Internal(format!("rule job failed: {e}")))
}

pub(super) type Job<T> = Arc<dyn Fn(Arc<dyn Host>) -> T + Send + Sync>;

/// A rule job after its first run: its outcome, or the read it stopped at. [`Engine::finish`]
/// answers the reads and runs it again.
pub(super) struct Started<T> {
    /// Kept only while it has a read to be answered and run again.
    pub(super) job: Option<Job<T>>,
    pub(super) replay: Arc<Replay>,
    /// The time left to all its runs.
    pub(super) allowance: Allowance,
    pub(super) out: T,
}

impl<T: Send + 'static> Started<T> {
    /// Makes the job's first run on this thread (see [`run_rules`] for which).
    pub(super) fn run(allowance: Allowance, job: impl Fn(Arc<dyn Host>) -> T + Send + Sync + 'static) -> Self {
        let replay = Arc::new(Replay::default());
        let out = allowance.spend(|| job(Arc::new(Asking(replay.clone()))));
        // A job that asked nothing is never run again: let go of it (and what it holds) here,
        // on the thread that made it.
        let asked = replay.state().unanswered.is_some();
        Started { job: asked.then(|| Arc::new(job) as Job<T>), replay, allowance, out }
    }

    /// [`Started::run`] through [`run_rules`], inside a write turn.
    pub(super) async fn start(allowance: Allowance, job: impl Fn(Arc<dyn Host>) -> T + Send + Sync + 'static) -> Result<Self, EngineError> {
        let job: Job<T> = Arc::new(job);
        run_rules(Turn::Held, move || {
            let job = job.clone();
            Started::run(allowance.clone(), move |host| job(host))
        })
        .await
    }

    /// A job done without running rules: it never runs again, so its allowance is never drawn on.
    pub(super) fn ready(out: T) -> Self {
        Started { job: None, replay: Arc::default(), allowance: Allowance::new(Default::default()), out }
    }

    /// The outcome, when the run asked for nothing it was not given.
    pub(super) fn settled(&self) -> Option<&T> {
        self.replay.state().unanswered.is_none().then_some(&self.out)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum HostRequest {
    Lookup { form: String, id: String, read_as: ReadAs },
    Find { form: String, filter: Value, limit: u64, read_as: ReadAs },
    RoundRobin { pool: String, members: Vec<String> },
    Connector { id: String, key: String },
}

pub(super) type Reply = sync_channel::Sender<Result<Value, String>>;

/// Reads a rule job may make on the calling task before it moves to a blocking thread; each
/// read there costs one more run of the job.
pub(super) const MAX_REPLAYED_READS: usize = 4;

/// Whoever answers a rule job's reads.
pub(super) trait Ask {
    fn ask(&self, request: HostRequest) -> Result<Value, String>;
}

/// The [`Host`] of an [`Ask`]er.
pub(super) struct Asking<A>(pub(super) A);

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
    fn connector(&self, id: &str, key: &str) -> Result<Option<Value>, String> {
        let found = self.0.ask(HostRequest::Connector { id: id.to_owned(), key: key.to_owned() })?;
        Ok((!found.is_null()).then_some(found))
    }
}

/// Answers a job's reads with the answers gathered in its earlier runs, and notes the first read
/// it has no answer for yet.
#[derive(Default)]
pub(super) struct Replay(std::sync::Mutex<ReplayState>);

#[derive(Default)]
pub(super) struct ReplayState {
    pub(super) answers: Vec<(HostRequest, Result<Value, String>)>,
    /// Reads asked in this run.
    pub(super) asked: usize,
    /// The first read of this run without an answer, and its place among the reads.
    pub(super) unanswered: Option<(usize, HostRequest)>,
}

impl Replay {
    pub(super) fn state(&self) -> std::sync::MutexGuard<'_, ReplayState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Readies the answers for a new run of the job, which asks from its first read again.
    pub(super) fn restart(&self) {
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
pub(super) struct ChannelHost(pub(super) mpsc::UnboundedSender<(HostRequest, Reply)>);

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
pub(super) struct NoHost;

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
