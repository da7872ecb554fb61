//! The job worker: runs durable jobs when they fall due: scheduled rules (`schedules` in
//! app.json), due again at their next cron time, flow timers, which run once, and each app's
//! daily computation of the figures that depend on the date ([`crate::dated`]). Each run is one
//! transaction (the daily one a page of records). Time comes in as an argument, so tests drive a
//! clock instead of sleeping.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use croner::Cron;
use serde_json::json;
use uuid::Uuid;

use crate::audit::Subject;
use crate::command::Cmd;
use crate::{Actor, AppId, Engine, EngineError, LoadedApp, dated, time};

/// A claimed job whose server died is taken over after this long. A server renews its claims
/// every [`RENEW_CLAIMS`] while it runs them, so a long job keeps its claim and a dead server's
/// timers fire elsewhere within a minute.
const LEASE: chrono::Duration = chrono::Duration::minutes(1);
const RENEW_CLAIMS: Duration = Duration::from_secs(15);
/// Jobs claimed per round.
const BATCH: u64 = 20;

pub(crate) fn parse_cron(expr: &str) -> Result<Cron, String> {
    Cron::from_str(expr).map_err(|e| format!("not a cron expression: {e}"))
}

/// `app`'s job of `kind` at the next midnight after `now` (one per app and kind).
fn nightly_job(kind: JobKind, app: &LoadedApp, now: DateTime<Utc>) -> store::Job {
    store::Job {
        id: Uuid::now_v7().to_string(),
        key: format!("{}:{}", kind.name(), app.id()),
        app: app.id().to_owned(),
        kind: kind.name().into(),
        due_at: time::format(time::next_midnight(now)),
        payload: json!({}),
        attempts: 0,
    }
}

fn next_time(expr: &str, after: DateTime<Utc>) -> Result<DateTime<Utc>, EngineError> {
    parse_cron(expr)
        .and_then(|c| c.find_next_occurrence(&after, false).map_err(|e| e.to_string()))
        .map_err(|e| EngineError::Internal(format!("schedule `{expr}`: {e}")))
}

/// The kinds of durable job, one entry each: the job's `kind` column holds its name, and
/// [`Engine::run_job`] what runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobKind {
    /// An app's scheduled rule (`schedules` in app.json), due again at its next cron time.
    Schedule,
    /// A flow state's timer ([`crate::flows`]): once, or again after its `every`.
    FlowTimer,
    /// An app's daily computation of the figures that depend on the date ([`crate::dated`]).
    DatedFigures,
    /// An app's daily return of the records its pools' owners left untouched too long.
    PoolReturn,
    /// Measuring what publishing an app's draft would do, for a caller who polls it
    /// ([`Engine::start_impact`]); once.
    Impact,
}

impl JobKind {
    const ALL: [JobKind; 5] = [JobKind::Schedule, JobKind::FlowTimer, JobKind::DatedFigures, JobKind::PoolReturn, JobKind::Impact];

    pub(crate) fn name(self) -> &'static str {
        match self {
            JobKind::Schedule => "schedule",
            JobKind::FlowTimer => "flow_timer",
            JobKind::DatedFigures => "dated_figures",
            JobKind::PoolReturn => "pool_return",
            JobKind::Impact => "impact",
        }
    }

    fn named(name: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

impl Engine {
    /// Gives every schedule of every app its pending job (idempotent: one job per schedule).
    pub async fn ensure_schedules(&self, now: DateTime<Utc>) -> Result<(), EngineError> {
        // In turn with the other writers, as every write.
        let (turn, tx) = self.store.begin().await?;
        for app in self.apps() {
            for schedule in &app.defs.app.schedules {
                let job = store::Job {
                    id: Uuid::now_v7().to_string(),
                    key: schedule_key(app.id(), &schedule.id),
                    app: app.id().to_owned(),
                    kind: JobKind::Schedule.name().into(),
                    due_at: time::format(next_time(&schedule.cron, now)?),
                    payload: json!({"schedule": schedule.id}),
                    attempts: 0,
                };
                store::add_job(&tx, &job).await?;
            }
            if dated::has_dated_figures(&app) {
                store::add_job(&tx, &nightly_job(JobKind::DatedFigures, &app, now)).await?;
            }
            if app.forms.values().any(|rt| rt.compiled.def.pool.as_ref().is_some_and(|p| p.return_after_days.is_some())) {
                store::add_job(&tx, &nightly_job(JobKind::PoolReturn, &app, now)).await?;
            }
        }
        Ok(turn.commit(tx).await?)
    }

    /// Runs every job due at `now` and returns how many ran. Safe to call from several
    /// servers at once: each job is claimed by one.
    pub async fn run_due_jobs(&self, now: DateTime<Utc>) -> Result<usize, EngineError> {
        let mut ran = 0;
        let _renewing = self.renew_claims_while_running(now);
        loop {
            let (turn, tx) = self.store.begin().await?;
            let stale = time::format(now - LEASE);
            let jobs = store::claim_due_jobs(&tx, &time::format(now), &stale, &self.worker_id, BATCH).await?;
            turn.commit(tx).await?; // each job takes its own turn to write
            if jobs.is_empty() {
                return Ok(ran);
            }
            for job in jobs {
                let ran_job = time::as_at(now, self.run_job(&job, now)).await;
                if let Err(e) = &ran_job.result {
                    tracing::warn!(job = %job.key, error = %e, "job failed");
                }
                if !ran_job.marked {
                    let error = ran_job.result.err().map(|e| e.to_string());
                    let (turn, tx) = self.store.begin().await?;
                    store::finish_job(&tx, &job.id, ran_job.next.map(time::format).as_deref(), error.as_deref()).await?;
                    turn.commit(tx).await?;
                }
                ran += 1;
            }
        }
    }

    /// Renews this server's claims on the jobs it runs every [`RENEW_CLAIMS`], until the
    /// returned guard is dropped. A claim's time moves on from `now` by the time that passed.
    fn renew_claims_while_running(&self, now: DateTime<Utc>) -> RenewingClaims {
        let engine = self.clone();
        let started = std::time::Instant::now();
        RenewingClaims(tokio::spawn(async move {
            loop {
                tokio::time::sleep(RENEW_CLAIMS).await;
                let at = now + chrono::Duration::from_std(started.elapsed()).unwrap_or_default();
                let renewed = async {
                    let (turn, tx) = engine.store.begin().await?;
                    store::renew_job_claims(&tx, &engine.worker_id, &time::format(at)).await?;
                    Ok::<_, EngineError>(turn.commit(tx).await?)
                };
                if let Err(e) = renewed.await {
                    tracing::warn!(error = %e, "could not renew the claims on running jobs");
                }
            }
        }))
    }

    /// Runs jobs every `every` until the process ends.
    pub fn spawn_worker(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if let Err(e) = engine.run_due_jobs(Utc::now()).await {
                    tracing::error!(error = %e, "job worker round failed");
                }
            }
        })
    }

    /// Runs one job. Each kind's work is boxed: those futures are large, and a scenario run
    /// from the designer runs its jobs on a request worker's stack.
    async fn run_job(&self, job: &store::Job, now: DateTime<Utc>) -> RanJob {
        let (result, next) = match JobKind::named(&job.kind) {
            Some(JobKind::Schedule) => return Box::pin(self.run_scheduled(job, now)).await,
            Some(JobKind::FlowTimer) => {
                return match Box::pin(self.run_flow_timer(job, now)).await {
                    Ok((next, marked)) => RanJob { result: Ok(()), next, marked },
                    Err(e) => RanJob { result: Err(e), next: None, marked: false },
                };
            }
            // Daily, at midnight: a server that was down catches up once, not once a missed day.
            // Each record's change is its own transaction, and a run again changes only what is
            // still to change, so marking the job apart repeats no effect.
            Some(JobKind::DatedFigures) => (Box::pin(self.run_dated_job(&job.app, now)).await, Some(time::next_midnight(now))),
            Some(JobKind::PoolReturn) => (Box::pin(self.return_untouched(&job.app, now)).await, Some(time::next_midnight(now))),
            Some(JobKind::Impact) => (Box::pin(self.run_impact_job(job)).await, None),
            None => (Err(EngineError::Internal(format!("job `{}` is of no kind this server knows: `{}`", job.key, job.kind))), None),
        };
        RanJob { result, next, marked: false }
    }

    /// A scheduled rule's job; due again at the schedule's next time.
    async fn run_scheduled(&self, job: &store::Job, now: DateTime<Utc>) -> RanJob {
        let failed = |e| RanJob { result: Err(e), next: None, marked: false };
        let app = match self.app(&job.app) {
            Ok(app) => app,
            Err(e) => return failed(e),
        };
        let id = job.payload["schedule"].as_str().unwrap_or_default();
        let Some(schedule) = app.defs.app.schedules.iter().find(|s| s.id == id).cloned() else {
            return failed(EngineError::NotFound(format!("schedule `{id}` (removed from app.json)")));
        };
        let due: DateTime<Utc> = job.due_at.parse().unwrap_or(now);
        // The next run counts from the later of the due time and now, so a server that was
        // down does not replay every missed run.
        let next = next_time(&schedule.cron, due.max(now)).ok();
        let result = self.run_schedule(&job.app, &schedule, Some((job, next))).await;
        RanJob { marked: result.is_ok(), result, next }
    }

    /// Runs schedule `id` of `app` now, as its job would run it: for admins and the app's
    /// builders trying a nightly rule. Its next run stays when it was.
    pub async fn run_schedule_now(&self, actor: &Actor, app: &AppId, id: &str) -> Result<(), EngineError> {
        let app = app.as_str();
        let work = async {
            self.require_builder(actor, app)?;
            let loaded = self.app(app)?;
            let schedule =
                loaded.defs.app.schedules.iter().find(|s| s.id == id).ok_or_else(|| EngineError::NotFound(format!("schedule {id}")))?;
            self.run_schedule(app, schedule, None).await
        };
        self.command(actor, Subject { action: "run_schedule", app, form: "", id }, work).await
    }

    /// Runs `schedule`'s rule of `app` as the platform, in one transaction; `job`, when the
    /// run is a job's, is marked done (or due again at its next time) in that same
    /// transaction. Runs of one schedule take turns: two at once would both find the same
    /// work undone and do it twice.
    async fn run_schedule(
        &self,
        app: &str,
        schedule: &defs::Schedule,
        job: Option<(&store::Job, Option<DateTime<Utc>>)>,
    ) -> Result<(), EngineError> {
        let loaded = &self.app(app)?;
        let rule = schedule.rule.as_str();
        let (script, function) = rule.split_once('.').unwrap_or((rule, ""));
        let (script, function) = (script.to_owned(), function.to_owned());
        let actor = Actor::system();
        let user = actor.in_app(app);
        let input = rules::Input { record: Default::default(), old: None, user, at: time::rules_time() };
        let (turn, tx) = self.store.begin().await?;
        store::lock_job(&tx, &schedule_key(app, &schedule.id)).await?;
        let cmd = Cmd::new(&tx, &actor, loaded);
        let job_app = loaded.clone();
        let outcome = self.with_host(cmd, move |host| job_app.rules.call(&script, &function, &input, host)).await??;
        self.apply_effects(cmd, "", "", outcome.effects).await?;
        if let Some((job, next)) = job {
            store::finish_job(&tx, &job.id, next.map(time::format).as_deref(), None).await?;
        }
        turn.commit(tx).await?;
        Ok(())
    }
}

/// The key of the job of schedule `id` of `app`.
fn schedule_key(app: &str, id: &str) -> String {
    format!("schedule:{app}:{id}")
}

/// Renews claims until dropped.
struct RenewingClaims(tokio::task::JoinHandle<()>);

impl Drop for RenewingClaims {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What running a job came to.
struct RanJob {
    result: Result<(), EngineError>,
    /// When it is due again (`None`: done).
    next: Option<DateTime<Utc>>,
    /// Whether the job was marked done (or due again) in the transaction of its effects, so
    /// that a process dying between the two cannot have them applied and the job run again.
    /// Only a run that succeeded is.
    marked: bool,
}
