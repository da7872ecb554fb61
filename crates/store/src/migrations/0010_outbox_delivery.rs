//! Migration 10, frozen: webhook messages are delivered from the outbox, by whichever server
//! claims them first, with retries: each remembers its attempts, when it is due again, the
//! lease of the server delivering it, its last error, and when delivery was given up.

use sea_orm::sea_query::{ColumnDef, Index};

use super::Step;

pub(super) fn steps() -> Vec<Step> {
    let column = |name: &'static str| ColumnDef::new(name).string().null().to_owned();
    let attempts = ColumnDef::new("attempts").big_integer().not_null().default(0).to_owned();
    let pending =
        Index::create().if_not_exists().name("outbox_pending").table("outbox").col("kind").col("delivered_at").col("due_at").to_owned();
    vec![
        Step::AddColumnIfMissing { table: "outbox", column: attempts },
        Step::AddColumnIfMissing { table: "outbox", column: column("due_at") },
        Step::AddColumnIfMissing { table: "outbox", column: column("claimed_until") },
        Step::AddColumnIfMissing { table: "outbox", column: column("last_error") },
        Step::AddColumnIfMissing { table: "outbox", column: column("given_up_at") },
        pending.into(),
    ]
}
