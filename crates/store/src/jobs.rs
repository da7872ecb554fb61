//! The durable jobs table: work due at a time (scheduled rules, flow timers). Jobs survive
//! restarts; claiming is atomic, so with several servers on one PostgreSQL a job runs once
//! (`FOR UPDATE SKIP LOCKED`); on SQLite the single write lock does the same.

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, OnConflict, Order, Query};
use serde_json::Value;

use crate::StoreError;
use crate::connect::{Backend, backend_of};
use crate::names::jobs;

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    /// Unique name: a second job with the same key is not added (idempotent scheduling).
    pub key: String,
    pub app: String,
    pub kind: String,
    pub due_at: String,
    pub payload: Value,
    pub attempts: i64,
}

const COLUMNS: [&str; 7] = [jobs::ID, jobs::KEY, jobs::APP, jobs::KIND, jobs::DUE_AT, jobs::PAYLOAD, jobs::ATTEMPTS];

/// Adds `job` unless a job with its key exists. Returns whether it was added.
pub async fn add_job(db: &impl ConnectionTrait, job: &Job) -> Result<bool, StoreError> {
    Ok(add_jobs(db, std::slice::from_ref(job)).await? == 1)
}

/// Adds the jobs whose keys are not taken, with one statement. Returns how many were added.
pub async fn add_jobs(db: &impl ConnectionTrait, jobs: &[Job]) -> Result<u64, StoreError> {
    if jobs.is_empty() {
        return Ok(0);
    }
    let mut q = Query::insert();
    q.into_table(jobs::TABLE)
        .columns(COLUMNS.into_iter().chain([jobs::STATE]))
        .on_conflict(OnConflict::column(jobs::KEY).do_nothing().to_owned());
    for job in jobs {
        q.values_panic([
            Expr::val(job.id.clone()),
            Expr::val(job.key.clone()),
            Expr::val(job.app.clone()),
            Expr::val(job.kind.clone()),
            Expr::val(job.due_at.clone()),
            Expr::val(job.payload.to_string()),
            Expr::val(job.attempts),
            Expr::val("pending"),
        ]);
    }
    Ok(db.execute(&q).await?.rows_affected())
}

/// Claims up to `limit` jobs due at `now` (and jobs whose claim is older than `stale_before`,
/// left by a server that died) for `worker`, and returns them.
pub async fn claim_due_jobs(
    db: &impl ConnectionTrait,
    now: &str,
    stale_before: &str,
    worker: &str,
    limit: u64,
) -> Result<Vec<Job>, StoreError> {
    let mut due = Query::select();
    due.column(jobs::ID)
        .from(jobs::TABLE)
        .cond_where(
            sea_orm::sea_query::Cond::any()
                .add(Expr::col(jobs::STATE).eq("pending").and(Expr::col(jobs::DUE_AT).lte(now)))
                .add(Expr::col(jobs::STATE).eq("running").and(Expr::col(jobs::CLAIMED_AT).lt(stale_before))),
        )
        .order_by(jobs::DUE_AT, Order::Asc)
        .limit(limit);
    if backend_of(db) == Backend::Postgres {
        due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let q = Query::update()
        .table(jobs::TABLE)
        .values([(jobs::STATE, Expr::val("running")), (jobs::CLAIMED_BY, Expr::val(worker)), (jobs::CLAIMED_AT, Expr::val(now))])
        .and_where(Expr::col(jobs::ID).in_subquery(due))
        .returning(Query::returning().columns(COLUMNS))
        .to_owned();
    db.query_all(&q).await?.iter().map(job_of).collect()
}

/// Holds the job of key `key` until the transaction ends, so that whatever else runs it (a
/// builder's "run now", another server) waits its turn. SQLite's one writer does that anyway.
pub async fn lock_job(db: &impl ConnectionTrait, key: &str) -> Result<(), StoreError> {
    if backend_of(db) == Backend::Postgres {
        let q =
            Query::select().column(jobs::ID).from(jobs::TABLE).and_where(Expr::col(jobs::KEY).eq(key)).lock(LockType::Update).to_owned();
        db.query_all(&q).await?;
    }
    Ok(())
}

/// Renews the claims of `worker` on the jobs it is running to `at`, so no other server takes
/// them over while it is alive.
pub async fn renew_job_claims(db: &impl ConnectionTrait, worker: &str, at: &str) -> Result<u64, StoreError> {
    let q = Query::update()
        .table(jobs::TABLE)
        .value(jobs::CLAIMED_AT, at)
        .and_where(Expr::col(jobs::STATE).eq("running"))
        .and_where(Expr::col(jobs::CLAIMED_BY).eq(worker))
        .to_owned();
    Ok(db.execute(&q).await?.rows_affected())
}

/// The job a row of [`COLUMNS`] holds.
fn job_of(row: &sea_orm::QueryResult) -> Result<Job, StoreError> {
    let payload: String = row.try_get("", jobs::PAYLOAD)?;
    Ok(Job {
        id: row.try_get("", jobs::ID)?,
        key: row.try_get("", jobs::KEY)?,
        app: row.try_get("", jobs::APP)?,
        kind: row.try_get("", jobs::KIND)?,
        due_at: row.try_get("", jobs::DUE_AT)?,
        payload: serde_json::from_str(&payload).map_err(|e| StoreError::corrupt(jobs::TABLE, e))?,
        attempts: row.try_get("", jobs::ATTEMPTS)?,
    })
}

/// Ends a claimed job: due again at `next` (recurring) or done, with the error of this run.
pub async fn finish_job(db: &impl ConnectionTrait, id: &str, next: Option<&str>, error: Option<&str>) -> Result<(), StoreError> {
    let (state, due) = match next {
        Some(next) => ("pending", Expr::val(next)),
        None => ("done", Expr::col(jobs::DUE_AT)),
    };
    let attempts = if error.is_some() { Expr::col(jobs::ATTEMPTS).add(1) } else { Expr::val(0) };
    let q = Query::update()
        .table(jobs::TABLE)
        .values([
            (jobs::STATE, Expr::val(state)),
            (jobs::DUE_AT, due),
            (jobs::CLAIMED_BY, Expr::val(None::<String>)),
            (jobs::CLAIMED_AT, Expr::val(None::<String>)),
            (jobs::ATTEMPTS, attempts),
            (jobs::LAST_ERROR, Expr::val(error.map(str::to_owned))),
        ])
        .and_where(Expr::col(jobs::ID).eq(id))
        .to_owned();
    db.execute(&q).await?;
    Ok(())
}

/// A job as it stands: `pending`, `running` or `done`, and the error of its last run.
#[derive(Debug, Clone, PartialEq)]
pub struct JobStatus {
    pub job: Job,
    pub state: String,
    pub last_error: Option<String>,
}

/// Job `id` as it stands, if there is one.
pub async fn job_status(db: &impl ConnectionTrait, id: &str) -> Result<Option<JobStatus>, StoreError> {
    let q = Query::select()
        .columns(COLUMNS.into_iter().chain([jobs::STATE, jobs::LAST_ERROR]))
        .from(jobs::TABLE)
        .and_where(Expr::col(jobs::ID).eq(id))
        .to_owned();
    let Some(row) = db.query_one(&q).await? else { return Ok(None) };
    Ok(Some(JobStatus { job: job_of(&row)?, state: row.try_get("", jobs::STATE)?, last_error: row.try_get("", jobs::LAST_ERROR)? }))
}

/// Replaces job `id`'s payload: what a long job says of its progress and, at the end, its result.
pub async fn set_job_payload(db: &impl ConnectionTrait, id: &str, payload: &Value) -> Result<(), StoreError> {
    let q = Query::update().table(jobs::TABLE).value(jobs::PAYLOAD, payload.to_string()).and_where(Expr::col(jobs::ID).eq(id)).to_owned();
    db.execute(&q).await?;
    Ok(())
}

/// The pending jobs of `app`, soonest first (for admins and tests).
pub async fn pending_jobs(db: &impl ConnectionTrait, app: &str) -> Result<Vec<(String, String)>, StoreError> {
    let q = Query::select()
        .columns([jobs::KEY, jobs::DUE_AT])
        .from(jobs::TABLE)
        .and_where(Expr::col(jobs::APP).eq(app))
        .and_where(Expr::col(jobs::STATE).eq("pending"))
        .order_by(jobs::DUE_AT, Order::Asc)
        .to_owned();
    db.query_all(&q).await?.iter().map(|r| Ok((r.try_get("", jobs::KEY)?, r.try_get("", jobs::DUE_AT)?))).collect()
}

/// Jobs waiting to run: those due by `now`, which the worker has not claimed yet, and those
/// due later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobQueueDepth {
    pub due: u64,
    pub later: u64,
}

/// How many pending jobs are due by `now` and how many later, over every app.
pub async fn job_queue_depth(db: &impl ConnectionTrait, now: &str) -> Result<JobQueueDepth, StoreError> {
    let pending = |due: sea_orm::sea_query::SimpleExpr| {
        Query::select()
            .expr_as(Expr::col(jobs::ID).count(), "n")
            .from(jobs::TABLE)
            .and_where(Expr::col(jobs::STATE).eq("pending"))
            .and_where(due)
            .to_owned()
    };
    let count = |q| async move {
        let n: i64 = db.query_one(&q).await?.map(|row| row.try_get("", "n")).transpose()?.unwrap_or_default();
        Ok::<_, StoreError>(u64::try_from(n).unwrap_or_default())
    };
    Ok(JobQueueDepth {
        due: count(pending(Expr::col(jobs::DUE_AT).lte(now))).await?,
        later: count(pending(Expr::col(jobs::DUE_AT).gt(now))).await?,
    })
}
