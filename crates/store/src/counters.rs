//! Named counters for auto-numbers: one atomic upsert, so concurrent creates never share a number.

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};

use crate::StoreError;
use crate::names::counters;

/// Increments counter `key` (creating it at 1) and returns the new value. Inside a transaction
/// the row stays locked until commit, and a rollback gives the number back.
pub async fn next_counter(db: &impl ConnectionTrait, key: &str) -> Result<i64, StoreError> {
    let q = Query::insert()
        .into_table(counters::TABLE)
        .columns([counters::KEY, counters::VALUE])
        .values_panic([Expr::val(key), Expr::val(1_i64)])
        .on_conflict(
            OnConflict::column(counters::KEY).value(counters::VALUE, Expr::col((counters::TABLE, counters::VALUE)).add(1)).to_owned(),
        )
        .returning_col(counters::VALUE)
        .to_owned();
    let row = db.query_one(&q).await?.ok_or_else(|| StoreError::corrupt(counters::TABLE, "upsert returned no row"))?;
    Ok(row.try_get("", counters::VALUE)?)
}
