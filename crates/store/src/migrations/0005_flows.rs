//! Migration 5, frozen: flows' approval tasks and the registry of flow versions.

use sea_orm::sea_query::{ColumnDef, Index, Table};

use super::Step;

pub(super) fn steps() -> Vec<Step> {
    let tasks = Table::create()
        .table("tasks")
        .if_not_exists()
        .col(ColumnDef::new("id").string().not_null().primary_key())
        .col(ColumnDef::new("app").string().not_null())
        .col(ColumnDef::new("form").string().not_null())
        .col(ColumnDef::new("record_id").string().not_null())
        .col(ColumnDef::new("entry").big_integer().not_null())
        .col(ColumnDef::new("step").string().not_null())
        .col(ColumnDef::new("seat").big_integer().not_null())
        .col(ColumnDef::new("assignee").string().not_null())
        .col(ColumnDef::new("status").string().not_null())
        .col(ColumnDef::new("created_at").string().not_null())
        .col(ColumnDef::new("decided_at").string().null())
        .to_owned();
    let flow_versions = Table::create()
        .table("flow_versions")
        .if_not_exists()
        .col(ColumnDef::new("app").string().not_null())
        .col(ColumnDef::new("flow").string().not_null())
        .col(ColumnDef::new("version").big_integer().not_null())
        .col(ColumnDef::new("definition").text().not_null())
        .col(ColumnDef::new("created_at").string().not_null())
        .primary_key(Index::create().col("app").col("flow").col("version"))
        .to_owned();
    // Tasks are read by assignee (my to-dos) and by record (reconciling an approval).
    let by_assignee = Index::create().if_not_exists().name("ix_tasks_assignee").table("tasks").col("assignee").col("status").to_owned();
    let by_record = Index::create().if_not_exists().name("ix_tasks_record").table("tasks").col("record_id").col("status").to_owned();
    vec![tasks.into(), flow_versions.into(), by_assignee.into(), by_record.into()]
}
