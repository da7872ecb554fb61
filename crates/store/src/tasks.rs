//! Approval tasks (one row per person and seat awaited) and the stored versions of flow
//! definitions that records in flight keep following.

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, Order, Query};

use crate::StoreError;
use crate::names::{flow_versions, tasks};
use crate::query::limited;

#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: String,
    pub app: String,
    pub form: String,
    pub record_id: String,
    /// The record's state entry the task belongs to.
    pub entry: i64,
    pub step: String,
    pub seat: i64,
    pub assignee: String,
    /// `pending`, `approved`, `rejected` or `closed` (decided by someone else, or withdrawn).
    pub status: String,
    pub created_at: String,
    pub decided_at: Option<String>,
}

const COLUMNS: [&str; 11] = [
    tasks::ID,
    tasks::APP,
    tasks::FORM,
    tasks::RECORD_ID,
    tasks::ENTRY,
    tasks::STEP,
    tasks::SEAT,
    tasks::ASSIGNEE,
    tasks::STATUS,
    tasks::CREATED_AT,
    tasks::DECIDED_AT,
];

fn decode(row: &sea_orm::QueryResult) -> Result<Task, StoreError> {
    Ok(Task {
        id: row.try_get("", tasks::ID)?,
        app: row.try_get("", tasks::APP)?,
        form: row.try_get("", tasks::FORM)?,
        record_id: row.try_get("", tasks::RECORD_ID)?,
        entry: row.try_get("", tasks::ENTRY)?,
        step: row.try_get("", tasks::STEP)?,
        seat: row.try_get("", tasks::SEAT)?,
        assignee: row.try_get("", tasks::ASSIGNEE)?,
        status: row.try_get("", tasks::STATUS)?,
        created_at: row.try_get("", tasks::CREATED_AT)?,
        decided_at: row.try_get("", tasks::DECIDED_AT)?,
    })
}

pub async fn insert_task(db: &impl ConnectionTrait, t: &Task) -> Result<(), StoreError> {
    let q = Query::insert()
        .into_table(tasks::TABLE)
        .columns(COLUMNS)
        .values_panic([
            Expr::val(t.id.clone()),
            Expr::val(t.app.clone()),
            Expr::val(t.form.clone()),
            Expr::val(t.record_id.clone()),
            Expr::val(t.entry),
            Expr::val(t.step.clone()),
            Expr::val(t.seat),
            Expr::val(t.assignee.clone()),
            Expr::val(t.status.clone()),
            Expr::val(t.created_at.clone()),
            Expr::val(t.decided_at.clone()),
        ])
        .to_owned();
    db.execute(&q).await?;
    Ok(())
}

/// Ends a pending task with `status`; false when it was no longer pending.
pub async fn finish_task(db: &impl ConnectionTrait, id: &str, status: &str, at: &str) -> Result<bool, StoreError> {
    let q = Query::update()
        .table(tasks::TABLE)
        .values([(tasks::STATUS, Expr::val(status)), (tasks::DECIDED_AT, Expr::val(at))])
        .and_where(Expr::col(tasks::ID).eq(id))
        .and_where(Expr::col(tasks::STATUS).eq("pending"))
        .to_owned();
    Ok(db.execute(&q).await?.rows_affected() == 1)
}

pub async fn get_task(db: &impl ConnectionTrait, id: &str) -> Result<Option<Task>, StoreError> {
    let q = Query::select().columns(COLUMNS).from(tasks::TABLE).and_where(Expr::col(tasks::ID).eq(id)).to_owned();
    db.query_one(&q).await?.map(|row| decode(&row)).transpose()
}

/// The pending tasks of a record.
pub async fn pending_tasks_of(db: &impl ConnectionTrait, record_id: &str) -> Result<Vec<Task>, StoreError> {
    let q = Query::select()
        .columns(COLUMNS)
        .from(tasks::TABLE)
        .and_where(Expr::col(tasks::RECORD_ID).eq(record_id))
        .and_where(Expr::col(tasks::STATUS).eq("pending"))
        .to_owned();
    db.query_all(&q).await?.iter().map(decode).collect()
}

/// A person's tasks with `status`, newest first.
pub async fn tasks_of(db: &impl ConnectionTrait, assignee: &str, status: &str, limit: u64) -> Result<Vec<Task>, StoreError> {
    let q = Query::select()
        .columns(COLUMNS)
        .from(tasks::TABLE)
        .and_where(Expr::col(tasks::ASSIGNEE).eq(assignee))
        .and_where(Expr::col(tasks::STATUS).eq(status))
        .order_by(tasks::CREATED_AT, Order::Desc)
        .to_owned();
    db.query_all_raw(limited(db, &q, limit)).await?.iter().map(decode).collect()
}

/// The forms of `app` on whose records `assignee` has a decision pending.
pub async fn forms_awaiting(db: &impl ConnectionTrait, app: &str, assignee: &str) -> Result<Vec<String>, StoreError> {
    let q = Query::select()
        .distinct()
        .column(tasks::FORM)
        .from(tasks::TABLE)
        .and_where(Expr::col(tasks::APP).eq(app))
        .and_where(Expr::col(tasks::ASSIGNEE).eq(assignee))
        .and_where(Expr::col(tasks::STATUS).eq("pending"))
        .to_owned();
    db.query_all(&q).await?.iter().map(|row| Ok(row.try_get("", tasks::FORM)?)).collect()
}

/// The newest stored version of a flow definition: `(version, canonical JSON)`.
pub async fn latest_flow_version(db: &impl ConnectionTrait, app: &str, flow: &str) -> Result<Option<(i64, String)>, StoreError> {
    let q = Query::select()
        .columns([flow_versions::VERSION, flow_versions::DEFINITION])
        .from(flow_versions::TABLE)
        .and_where(Expr::col(flow_versions::APP).eq(app))
        .and_where(Expr::col(flow_versions::FLOW).eq(flow))
        .order_by(flow_versions::VERSION, Order::Desc)
        .to_owned();
    db.query_one_raw(limited(db, &q, 1))
        .await?
        .map(|row| Ok((row.try_get("", flow_versions::VERSION)?, row.try_get("", flow_versions::DEFINITION)?)))
        .transpose()
}

/// One stored version of a flow definition (canonical JSON).
pub async fn flow_version(db: &impl ConnectionTrait, app: &str, flow: &str, version: i64) -> Result<Option<String>, StoreError> {
    let q = Query::select()
        .column(flow_versions::DEFINITION)
        .from(flow_versions::TABLE)
        .and_where(Expr::col(flow_versions::APP).eq(app))
        .and_where(Expr::col(flow_versions::FLOW).eq(flow))
        .and_where(Expr::col(flow_versions::VERSION).eq(version))
        .to_owned();
    db.query_one(&q).await?.map(|row| Ok(row.try_get("", flow_versions::DEFINITION)?)).transpose()
}

pub async fn insert_flow_version(
    db: &impl ConnectionTrait,
    app: &str,
    flow: &str,
    version: i64,
    definition: &str,
    at: &str,
) -> Result<(), StoreError> {
    let q = Query::insert()
        .into_table(flow_versions::TABLE)
        .columns([flow_versions::APP, flow_versions::FLOW, flow_versions::VERSION, flow_versions::DEFINITION, flow_versions::CREATED_AT])
        .values_panic([Expr::val(app), Expr::val(flow), Expr::val(version), Expr::val(definition), Expr::val(at)])
        .to_owned();
    db.execute(&q).await?;
    Ok(())
}
