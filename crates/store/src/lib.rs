//! Tessera persistence through sea-orm and sea-query, one code path for SQLite (the embedded
//! default, a file in WAL mode) and PostgreSQL (scale-out).
//!
//! Every statement is built with sea-query and every value is bound; identifiers that reach SQL
//! text (table and field names) come only from loaded definitions, which allow nothing but
//! snake_case. Knows nothing of forms, rules or permissions: the engine decides, the store keeps.

mod advice;
mod audit;
mod backup;
mod connect;
mod counters;
mod definitions;
mod error;
mod history;
mod jobs;
mod layout;
mod meta;
mod migrations;
mod names;
mod outbox;
mod query;
mod records;
mod replica;
mod report_query;
mod schema;
mod sqlite_reader;
mod sqlite_rows;
mod sqlite_writer;
mod tasks;
mod users;
mod wal_sync;

pub use advice::{AdvisedIndex, advised_index_name, advised_indexes, create_advised_index, drop_advised_index, ensure_advised_index};
pub use audit::{AuditEntry, AuditQuery, AuditRow, POSTGRES_CHAINS, append_audit, append_audit_rows, audit_hash, audit_rows, verify_audit};
pub use backup::restore;
pub use connect::{Backend, Store, WriteTurn};
pub use counters::next_counter;
pub use definitions::{
    DefinitionVersion, Release, clear_drafts, definition_text, definition_texts, drafts, insert_release, latest_definition_version,
    latest_release, release, release_heads, releases, save_definition, set_draft,
};
pub use error::StoreError;
pub use history::{HistoryEntry, LIVE_SNAPSHOT, backdate, fill_snapshot, history, insert_history, insert_history_rows};
pub use jobs::{
    Job, JobQueueDepth, JobStatus, add_job, add_jobs, claim_due_jobs, finish_job, job_queue_depth, job_status, lock_job, pending_jobs,
    renew_job_claims, set_job_payload,
};
pub use meta::{delete_meta, get_meta, meta_with_prefix, set_meta};
pub use outbox::{
    Delivery, InboxItem, NOTIFY, OutboxMessage, WEBHOOK, claim_deliveries, inbox, insert_outbox, mark_delivered, mark_failed, mark_read,
    outbox_for, undelivered_by_kind,
};
pub use query::{CmpOp, Cursor, Deleted, Filter, ListQuery, Scalar, SortKey, SystemColumn, Target};
pub use records::{FormTable, Record, count, exists, find_duplicate, get, get_many, insert, list, lock_key, update};
pub use replica::{connect_replica, noting_commits, wal_replayed, wal_written};
pub use report_query::{OutKind, indexed_field_sql, report_ids, report_rows, report_sql, scope_select};
pub use sea_orm::{ConnectionTrait as Conn, DatabaseConnection, DatabaseTransaction as Tx, TransactionTrait};
pub use tasks::{
    Task, finish_task, flow_version, forms_awaiting, get_task, insert_flow_version, insert_task, latest_flow_version, pending_tasks_of,
    tasks_of,
};
pub use users::{
    ApiToken, Department, Session, User, create_session, delete_department, delete_session, delete_sessions_of, departments, get_user,
    insert_department, insert_token, insert_user, members_of, revoke_token, revoke_tokens_of, save_department, save_user, session,
    session_expiry, set_grants, set_password, token, token_user, tokens, touch_token, user_exists, users,
};

/// How a field's value is compared and indexed: the store's view of a field type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Text,
    Number,
    Bool,
}
