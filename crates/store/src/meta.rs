//! Small facts about the database itself, such as whether demo data was seeded.

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};

use crate::StoreError;

pub async fn get_meta(db: &impl ConnectionTrait, key: &str) -> Result<Option<String>, StoreError> {
    let q = Query::select().column("value").from("meta").and_where(Expr::col("key").eq(key)).to_owned();
    Ok(db.query_one(&q).await?.map(|row| row.try_get("", "value")).transpose()?)
}

pub async fn set_meta(db: &impl ConnectionTrait, key: &str, value: &str) -> Result<(), StoreError> {
    let q = Query::insert()
        .into_table("meta")
        .columns(["key", "value"])
        .values_panic([Expr::val(key), Expr::val(value)])
        .on_conflict(OnConflict::column("key").update_column("value").to_owned())
        .to_owned();
    db.execute(&q).await?;
    Ok(())
}
