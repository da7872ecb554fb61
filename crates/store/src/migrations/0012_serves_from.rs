//! Migration 12, frozen: each migration applied from now on records the oldest schema version a
//! server may know and still serve the database (`serves_from`), so that a server of the
//! previous build can keep serving a database a newer build expanded (new tables, new columns
//! with defaults), and refuses one it contracted. Expand-only itself: older servers never read
//! the column.

use sea_orm::sea_query::ColumnDef;

use super::Step;
use crate::names::schema_migrations;

pub(super) fn steps() -> Vec<Step> {
    let column = ColumnDef::new(schema_migrations::SERVES_FROM).big_integer().null().to_owned();
    vec![Step::AddColumnIfMissing { table: schema_migrations::TABLE, column }]
}
