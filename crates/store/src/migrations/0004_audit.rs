//! Migration 4, frozen: the hash-chained audit log, and the CSRF token's hash on sessions.
//!
//! A session made before this migration gets an empty hash, which no token's hash equals: its
//! cookie can still read, and its user signs in again to write.

use sea_orm::sea_query::{ColumnDef, Table};

use super::Step;

pub(super) fn steps() -> Vec<Step> {
    let audit_log = Table::create()
        .table("audit_log")
        .if_not_exists()
        .col(ColumnDef::new("seq").big_integer().not_null().primary_key())
        .col(ColumnDef::new("at").string().not_null())
        .col(ColumnDef::new("actor").string().not_null())
        .col(ColumnDef::new("action").string().not_null())
        .col(ColumnDef::new("app").string().not_null())
        .col(ColumnDef::new("form").string().not_null())
        .col(ColumnDef::new("record_id").string().not_null())
        .col(ColumnDef::new("outcome").string().not_null())
        .col(ColumnDef::new("before").text().not_null())
        .col(ColumnDef::new("after").text().not_null())
        .col(ColumnDef::new("prev_hash").string().not_null())
        .col(ColumnDef::new("hash").string().not_null())
        .to_owned();
    let csrf_hash =
        Step::AddColumnIfMissing { table: "sessions", column: ColumnDef::new("csrf_hash").string().not_null().default("").to_owned() };
    vec![audit_log.into(), csrf_hash]
}
