//! Messages for people and systems (notifications, webhooks), written in the same transaction
//! as the change that caused them and delivered afterwards.

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Cond, Expr, ExprTrait, LockBehavior, LockType, Order, Query};
use serde_json::Value;

use crate::StoreError;
use crate::connect::{Backend, backend_of};
use crate::names::outbox;
use crate::query::limited;

#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    pub id: String,
    pub app: String,
    /// `notify` for a person's inbox; `webhook` for an external system.
    pub kind: String,
    pub recipient: String,
    pub payload: Value,
    pub created_at: String,
    pub delivered_at: Option<String>,
}

/// The kind of a message for a person's inbox.
pub const NOTIFY: &str = "notify";

/// The kind of a message for an outside system, posted to the URL it names.
pub const WEBHOOK: &str = "webhook";

const COLUMNS: [&str; 7] =
    [outbox::ID, outbox::APP, outbox::KIND, outbox::RECIPIENT, outbox::PAYLOAD, outbox::CREATED_AT, outbox::DELIVERED_AT];

pub async fn insert_outbox(db: &impl ConnectionTrait, m: &OutboxMessage) -> Result<(), StoreError> {
    let q = Query::insert()
        .into_table(outbox::TABLE)
        .columns(COLUMNS)
        .values_panic([
            Expr::val(m.id.clone()),
            Expr::val(m.app.clone()),
            Expr::val(m.kind.clone()),
            Expr::val(m.recipient.clone()),
            Expr::val(m.payload.to_string()),
            Expr::val(m.created_at.clone()),
            Expr::val(m.delivered_at.clone()),
        ])
        .to_owned();
    db.execute(&q).await?;
    Ok(())
}

/// The newest `limit` messages of `kind` for `recipient`.
pub async fn outbox_for(db: &impl ConnectionTrait, kind: &str, recipient: &str, limit: u64) -> Result<Vec<OutboxMessage>, StoreError> {
    let q = Query::select()
        .columns(COLUMNS)
        .from(outbox::TABLE)
        .and_where(Expr::col(outbox::KIND).eq(kind))
        .and_where(Expr::col(outbox::RECIPIENT).eq(recipient))
        .order_by(outbox::CREATED_AT, Order::Desc)
        .order_by(outbox::ID, Order::Desc)
        .to_owned();
    db.query_all_raw(limited(db, &q, limit)).await?.iter().map(decode).collect()
}

fn decode(row: &sea_orm::QueryResult) -> Result<OutboxMessage, StoreError> {
    let payload: String = row.try_get("", outbox::PAYLOAD)?;
    Ok(OutboxMessage {
        id: row.try_get("", outbox::ID)?,
        app: row.try_get("", outbox::APP)?,
        kind: row.try_get("", outbox::KIND)?,
        recipient: row.try_get("", outbox::RECIPIENT)?,
        payload: serde_json::from_str(&payload).map_err(|e| StoreError::corrupt(outbox::TABLE, e))?,
        created_at: row.try_get("", outbox::CREATED_AT)?,
        delivered_at: row.try_get("", outbox::DELIVERED_AT)?,
    })
}

/// A notification in a person's inbox, and when they read it.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxItem {
    pub message: OutboxMessage,
    pub read_at: Option<String>,
}

/// The newest `limit` notifications (`notify` messages) for `recipient`, only the unread ones
/// when `unread_only`.
pub async fn inbox(db: &impl ConnectionTrait, recipient: &str, unread_only: bool, limit: u64) -> Result<Vec<InboxItem>, StoreError> {
    let mut q = Query::select()
        .columns(COLUMNS)
        .column(outbox::READ_AT)
        .from(outbox::TABLE)
        .and_where(Expr::col(outbox::KIND).eq(NOTIFY))
        .and_where(Expr::col(outbox::RECIPIENT).eq(recipient))
        .order_by(outbox::CREATED_AT, Order::Desc)
        .order_by(outbox::ID, Order::Desc)
        .to_owned();
    if unread_only {
        q.and_where(Expr::col(outbox::READ_AT).is_null());
    }
    db.query_all_raw(limited(db, &q, limit))
        .await?
        .iter()
        .map(|row| Ok(InboxItem { message: decode(row)?, read_at: row.try_get("", outbox::READ_AT)? }))
        .collect()
}

/// Marks `recipient`'s unread notifications read at `at`: those of `ids`, or every one.
/// Answers how many it marked; ids of other people's messages mark nothing.
pub async fn mark_read(db: &impl ConnectionTrait, recipient: &str, ids: Option<&[String]>, at: &str) -> Result<u64, StoreError> {
    let mut q = Query::update()
        .table(outbox::TABLE)
        .value(outbox::READ_AT, at)
        .and_where(Expr::col(outbox::KIND).eq(NOTIFY))
        .and_where(Expr::col(outbox::RECIPIENT).eq(recipient))
        .and_where(Expr::col(outbox::READ_AT).is_null())
        .to_owned();
    if let Some(ids) = ids {
        q.and_where(Expr::col(outbox::ID).is_in(ids.iter().cloned()));
    }
    Ok(db.execute(&q).await?.rows_affected())
}

/// A webhook message claimed for delivery, and how many attempts it had before.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub message: OutboxMessage,
    pub attempts: i64,
}

/// Claims up to `limit` webhook messages due at `now` for the caller until `until`, oldest
/// first, and returns them. A message another server holds (its claim not yet run out) is
/// skipped, so with several servers each delivery has one sender at a time; one whose sender
/// died is claimed again once its claim runs out.
pub async fn claim_deliveries(db: &impl ConnectionTrait, now: &str, until: &str, limit: u64) -> Result<Vec<Delivery>, StoreError> {
    let free = || {
        Cond::all()
            .add(Expr::col(outbox::KIND).eq(WEBHOOK))
            .add(Expr::col(outbox::DELIVERED_AT).is_null())
            .add(Expr::col(outbox::GIVEN_UP_AT).is_null())
            .add(Cond::any().add(Expr::col(outbox::DUE_AT).is_null()).add(Expr::col(outbox::DUE_AT).lte(now)))
            .add(Cond::any().add(Expr::col(outbox::CLAIMED_UNTIL).is_null()).add(Expr::col(outbox::CLAIMED_UNTIL).lt(now)))
    };
    let mut due = Query::select();
    due.column(outbox::ID).from(outbox::TABLE).cond_where(free()).order_by(outbox::CREATED_AT, Order::Asc).limit(limit);
    if backend_of(db) == Backend::Postgres {
        due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let q = Query::update()
        .table(outbox::TABLE)
        .value(outbox::CLAIMED_UNTIL, until)
        .and_where(Expr::col(outbox::ID).in_subquery(due))
        // Checked again on the row itself: PostgreSQL re-reads a row another claim just changed.
        .cond_where(free())
        .returning(Query::returning().columns(COLUMNS.into_iter().chain([outbox::ATTEMPTS])))
        .to_owned();
    db.query_all(&q).await?.iter().map(|row| Ok(Delivery { message: decode(row)?, attempts: row.try_get("", outbox::ATTEMPTS)? })).collect()
}

/// Notes that message `id` was delivered at `at`.
pub async fn mark_delivered(db: &impl ConnectionTrait, id: &str, at: &str) -> Result<(), StoreError> {
    let q = Query::update()
        .table(outbox::TABLE)
        .values([
            (outbox::DELIVERED_AT, Expr::val(at)),
            (outbox::CLAIMED_UNTIL, Expr::val(None::<String>)),
            (outbox::ATTEMPTS, Expr::col(outbox::ATTEMPTS).add(1)),
        ])
        .and_where(Expr::col(outbox::ID).eq(id))
        .to_owned();
    db.execute(&q).await?;
    Ok(())
}

/// Notes an attempt at message `id` that failed with `error`: it is due again at `retry_at`,
/// or, without one, given up at `at`.
pub async fn mark_failed(db: &impl ConnectionTrait, id: &str, error: &str, retry_at: Option<&str>, at: &str) -> Result<(), StoreError> {
    let q = Query::update()
        .table(outbox::TABLE)
        .values([
            (outbox::ATTEMPTS, Expr::col(outbox::ATTEMPTS).add(1)),
            (outbox::LAST_ERROR, Expr::val(error)),
            (outbox::DUE_AT, Expr::val(retry_at.map(str::to_owned))),
            (outbox::GIVEN_UP_AT, Expr::val(retry_at.is_none().then(|| at.to_owned()))),
            (outbox::CLAIMED_UNTIL, Expr::val(None::<String>)),
        ])
        .and_where(Expr::col(outbox::ID).eq(id))
        .to_owned();
    db.execute(&q).await?;
    Ok(())
}

/// How many messages of each kind are not delivered yet (given-up ones are not counted).
pub async fn undelivered_by_kind(db: &impl ConnectionTrait) -> Result<Vec<(String, u64)>, StoreError> {
    let q = Query::select()
        .column(outbox::KIND)
        .expr_as(Expr::col(outbox::ID).count(), "n")
        .from(outbox::TABLE)
        .and_where(Expr::col(outbox::DELIVERED_AT).is_null())
        .and_where(Expr::col(outbox::GIVEN_UP_AT).is_null())
        .group_by_col(outbox::KIND)
        .to_owned();
    db.query_all(&q)
        .await?
        .iter()
        .map(|row| Ok((row.try_get("", outbox::KIND)?, u64::try_from(row.try_get::<i64>("", "n")?).unwrap_or_default())))
        .collect()
}
