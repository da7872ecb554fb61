//! Migration 1, frozen: the tables of the first release — users, sessions, counters, meta and
//! record history. Never edited once released: later changes are later migrations.

use sea_orm::sea_query::{ColumnDef, Index, Table};

use super::Step;

pub(super) fn steps() -> Vec<Step> {
    let tables = [
        Table::create()
            .table("users")
            .if_not_exists()
            .col(ColumnDef::new("username").string().not_null().primary_key())
            .col(ColumnDef::new("display_name").string().not_null())
            .col(ColumnDef::new("password_hash").string().not_null())
            .col(ColumnDef::new("roles").text().not_null())
            .col(ColumnDef::new("department").string().null())
            .col(ColumnDef::new("created_at").string().not_null())
            .to_owned(),
        Table::create()
            .table("sessions")
            .if_not_exists()
            .col(ColumnDef::new("token_hash").string().not_null().primary_key())
            .col(ColumnDef::new("username").string().not_null())
            .col(ColumnDef::new("created_at").string().not_null())
            .col(ColumnDef::new("expires_at").string().not_null())
            .to_owned(),
        Table::create()
            .table("counters")
            .if_not_exists()
            .col(ColumnDef::new("key").string().not_null().primary_key())
            .col(ColumnDef::new("value").big_integer().not_null())
            .to_owned(),
        Table::create()
            .table("meta")
            .if_not_exists()
            .col(ColumnDef::new("key").string().not_null().primary_key())
            .col(ColumnDef::new("value").text().not_null())
            .to_owned(),
        Table::create()
            .table("record_history")
            .if_not_exists()
            .col(ColumnDef::new("record_id").string().not_null())
            .col(ColumnDef::new("version").big_integer().not_null())
            .col(ColumnDef::new("app").string().not_null())
            .col(ColumnDef::new("form").string().not_null())
            .col(ColumnDef::new("op").string().not_null())
            .col(ColumnDef::new("snapshot").text().not_null())
            .col(ColumnDef::new("changed_by").string().not_null())
            .col(ColumnDef::new("changed_at").string().not_null())
            .primary_key(Index::create().col("record_id").col("version"))
            .to_owned(),
    ];
    tables.into_iter().map(Step::from).collect()
}
