//! Migration 6, frozen: the indexes the index advisor made, so they are kept across restarts
//! (a record table rebuilt at load loses its indexes, and they are made again from here).

use sea_orm::sea_query::{ColumnDef, Index, Table};

use super::Step;

pub(super) fn steps() -> Vec<Step> {
    let index_advice = Table::create()
        .table("index_advice")
        .if_not_exists()
        .col(ColumnDef::new("name").string().not_null().primary_key())
        .col(ColumnDef::new("app").string().not_null())
        .col(ColumnDef::new("form").string().not_null())
        .col(ColumnDef::new("fields").text().not_null())
        .col(ColumnDef::new("shape").text().not_null())
        .col(ColumnDef::new("before").text().not_null())
        .col(ColumnDef::new("created_by").string().not_null())
        .col(ColumnDef::new("created_at").string().not_null())
        .to_owned();
    // Read by app: an app's load and its admin page.
    let by_app = Index::create().if_not_exists().name("ix_index_advice_app").table("index_advice").col("app").to_owned();
    vec![index_advice.into(), by_app.into()]
}
