//! Migration 9, frozen: a person's notifications remember when they were read (the bell counts
//! the unread ones), and are found by recipient without scanning the outbox.

use sea_orm::sea_query::{ColumnDef, Index};

use super::Step;

pub(super) fn steps() -> Vec<Step> {
    let read_at = ColumnDef::new("read_at").string().null().to_owned();
    let by_recipient = Index::create().if_not_exists().name("outbox_recipient").table("outbox").col("recipient").col("kind").to_owned();
    vec![Step::AddColumnIfMissing { table: "outbox", column: read_at }, by_recipient.into()]
}
