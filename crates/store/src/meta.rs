//! Small facts about the database itself, such as whether demo data was seeded.

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};

use crate::StoreError;
use crate::names::meta;

pub async fn get_meta(db: &impl ConnectionTrait, key: &str) -> Result<Option<String>, StoreError> {
    let q = Query::select().column(meta::VALUE).from(meta::TABLE).and_where(Expr::col(meta::KEY).eq(key)).to_owned();
    Ok(db.query_one(&q).await?.map(|row| row.try_get("", meta::VALUE)).transpose()?)
}

pub async fn set_meta(db: &impl ConnectionTrait, key: &str, value: &str) -> Result<(), StoreError> {
    let q = Query::insert()
        .into_table(meta::TABLE)
        .columns([meta::KEY, meta::VALUE])
        .values_panic([Expr::val(key), Expr::val(value)])
        .on_conflict(OnConflict::column(meta::KEY).update_column(meta::VALUE).to_owned())
        .to_owned();
    db.execute(&q).await?;
    Ok(())
}

/// The facts whose key begins with `prefix`, by key.
pub async fn meta_with_prefix(db: &impl ConnectionTrait, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
    let q = Query::select()
        .columns([meta::KEY, meta::VALUE])
        .from(meta::TABLE)
        // `_` and `%` in the prefix match more than themselves: the keys are checked again below.
        .and_where(Expr::col(meta::KEY).like(format!("{prefix}%")))
        .to_owned();
    let rows = db.query_all(&q).await?;
    let found: Result<Vec<(String, String)>, StoreError> =
        rows.iter().map(|row| Ok((row.try_get("", meta::KEY)?, row.try_get("", meta::VALUE)?))).collect();
    Ok(found?.into_iter().filter(|(key, _)| key.starts_with(prefix)).collect())
}

pub async fn delete_meta(db: &impl ConnectionTrait, key: &str) -> Result<(), StoreError> {
    let q = Query::delete().from_table(meta::TABLE).and_where(Expr::col(meta::KEY).eq(key)).to_owned();
    db.execute(&q).await?;
    Ok(())
}
