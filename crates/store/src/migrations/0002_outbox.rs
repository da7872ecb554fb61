//! Migration 2, frozen: the outbox, where rules' notifications are written in the transaction of
//! their cause.

use sea_orm::sea_query::{ColumnDef, Table};

use super::Step;

pub(super) fn steps() -> Vec<Step> {
    let outbox = Table::create()
        .table("outbox")
        .if_not_exists()
        .col(ColumnDef::new("id").string().not_null().primary_key())
        .col(ColumnDef::new("app").string().not_null())
        .col(ColumnDef::new("kind").string().not_null())
        .col(ColumnDef::new("recipient").string().not_null())
        .col(ColumnDef::new("payload").text().not_null())
        .col(ColumnDef::new("created_at").string().not_null())
        .col(ColumnDef::new("delivered_at").string().null())
        .to_owned();
    vec![outbox.into()]
}
