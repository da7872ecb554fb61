//! Migration 3, frozen: durable jobs (scheduled rules, later flow timers).

use sea_orm::sea_query::{ColumnDef, Table};

use super::Step;

pub(super) fn steps() -> Vec<Step> {
    let jobs = Table::create()
        .table("jobs")
        .if_not_exists()
        .col(ColumnDef::new("id").string().not_null().primary_key())
        .col(ColumnDef::new("key").string().not_null().unique_key())
        .col(ColumnDef::new("app").string().not_null())
        .col(ColumnDef::new("kind").string().not_null())
        .col(ColumnDef::new("state").string().not_null())
        .col(ColumnDef::new("due_at").string().not_null())
        .col(ColumnDef::new("payload").text().not_null())
        .col(ColumnDef::new("attempts").big_integer().not_null())
        .col(ColumnDef::new("claimed_by").string().null())
        .col(ColumnDef::new("claimed_at").string().null())
        .col(ColumnDef::new("last_error").text().null())
        .to_owned();
    vec![jobs.into()]
}
