//! Migration 11, frozen: the audit log becomes several chains on PostgreSQL, so that writers
//! on several connections and servers do not all wait for one lock. A row names its chain, the
//! row before it in that chain, and the head of another chain it saw (an anchor: a chain whose
//! tail was deleted is found by the anchors other chains hold). Rows of earlier releases are
//! chain 0, each following the row numbered one less. On PostgreSQL, numbers come from a
//! sequence, started after the last row.

use sea_orm::sea_query::{ColumnDef, Index};

use super::Step;

pub(super) fn steps() -> Vec<Step> {
    let chain = ColumnDef::new("chain").big_integer().not_null().default(0).to_owned();
    let by_chain = Index::create().if_not_exists().name("audit_log_chain").table("audit_log").col("chain").col("seq").to_owned();
    vec![
        Step::AddColumnIfMissing { table: "audit_log", column: chain },
        Step::AddColumnIfMissing { table: "audit_log", column: ColumnDef::new("prev_seq").big_integer().null().to_owned() },
        Step::AddColumnIfMissing { table: "audit_log", column: ColumnDef::new("anchor_seq").big_integer().null().to_owned() },
        by_chain.into(),
        Step::Postgres("CREATE SEQUENCE IF NOT EXISTS audit_seq"),
        Step::Postgres("SELECT setval('audit_seq', COALESCE((SELECT MAX(seq) FROM audit_log), 0) + 1, false)"),
    ]
}
