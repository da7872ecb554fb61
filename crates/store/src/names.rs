//! The names of the system tables and their columns: the one place the store's queries take them
//! from. The frozen migrations spell them out as they were when released; a test holds every
//! name here to a freshly migrated database. A rename is a new migration, then a change here.

macro_rules! table {
    ($(#[$doc:meta])* $module:ident { $($column:ident = $name:literal),* $(,)? }) => {
        $(#[$doc])*
        pub(crate) mod $module {
            pub(crate) const TABLE: &str = stringify!($module);
            $(pub(crate) const $column: &str = $name;)*
            /// Every column, for the test that holds them to the migrated schema.
            #[cfg(test)]
            pub(crate) const COLUMNS: &[&str] = &[$($name),*];
        }
    };
}

table!(
    /// Accounts: roles and department as the engine's permissions read them.
    users {
        USERNAME = "username",
        DISPLAY_NAME = "display_name",
        PASSWORD_HASH = "password_hash",
        ROLES = "roles",
        DEPARTMENT = "department",
        CREATED_AT = "created_at",
        KIND = "kind",
        ACTIVE = "active",
        MUST_CHANGE_PASSWORD = "must_change_password",
        LANGUAGE = "language",
    }
);

table!(
    /// The department tree: each with a parent (none at the root) and a manager.
    departments {
        ID = "id",
        NAME = "name",
        PARENT = "parent",
        MANAGER = "manager",
        CREATED_AT = "created_at",
    }
);

table!(
    /// Who holds which role in which app.
    role_grants {
        USERNAME = "username",
        APP = "app",
        ROLE = "role",
        GRANTED_BY = "granted_by",
        GRANTED_AT = "granted_at",
    }
);

table!(
    /// API tokens for integrations, by the digest of their secret.
    api_tokens {
        ID = "id",
        NAME = "name",
        TOKEN_HASH = "token_hash",
        USERNAME = "username",
        CREATED_BY = "created_by",
        CREATED_AT = "created_at",
        EXPIRES_AT = "expires_at",
        APPS = "apps",
        LAST_USED_AT = "last_used_at",
        REVOKED_AT = "revoked_at",
    }
);

table!(
    /// Signed-in sessions, by the hash of their token.
    sessions {
        TOKEN_HASH = "token_hash",
        USERNAME = "username",
        CREATED_AT = "created_at",
        EXPIRES_AT = "expires_at",
        CSRF_HASH = "csrf_hash",
    }
);

table!(
    /// Named counters of auto-numbers.
    counters { KEY = "key", VALUE = "value" }
);

table!(
    /// Small facts about the database itself.
    meta { KEY = "key", VALUE = "value" }
);

table!(
    /// Every version of every record.
    record_history {
        RECORD_ID = "record_id",
        VERSION = "version",
        APP = "app",
        FORM = "form",
        OP = "op",
        SNAPSHOT = "snapshot",
        CHANGED_BY = "changed_by",
        CHANGED_AT = "changed_at",
    }
);

table!(
    /// Messages written with their cause, delivered later.
    outbox {
        ID = "id",
        APP = "app",
        KIND = "kind",
        RECIPIENT = "recipient",
        PAYLOAD = "payload",
        CREATED_AT = "created_at",
        DELIVERED_AT = "delivered_at",
        READ_AT = "read_at",
        ATTEMPTS = "attempts",
        DUE_AT = "due_at",
        CLAIMED_UNTIL = "claimed_until",
        LAST_ERROR = "last_error",
        GIVEN_UP_AT = "given_up_at",
    }
);

table!(
    /// Durable jobs.
    jobs {
        ID = "id",
        KEY = "key",
        APP = "app",
        KIND = "kind",
        STATE = "state",
        DUE_AT = "due_at",
        PAYLOAD = "payload",
        ATTEMPTS = "attempts",
        CLAIMED_BY = "claimed_by",
        CLAIMED_AT = "claimed_at",
        LAST_ERROR = "last_error",
    }
);

table!(
    /// The hash-chained audit log.
    audit_log {
        SEQ = "seq",
        AT = "at",
        ACTOR = "actor",
        ACTION = "action",
        APP = "app",
        FORM = "form",
        RECORD_ID = "record_id",
        OUTCOME = "outcome",
        BEFORE = "before",
        AFTER = "after",
        PREV_HASH = "prev_hash",
        HASH = "hash",
        CHAIN = "chain",
        PREV_SEQ = "prev_seq",
        ANCHOR_SEQ = "anchor_seq",
    }
);

table!(
    /// Flows' approval tasks.
    tasks {
        ID = "id",
        APP = "app",
        FORM = "form",
        RECORD_ID = "record_id",
        ENTRY = "entry",
        STEP = "step",
        SEAT = "seat",
        ASSIGNEE = "assignee",
        STATUS = "status",
        CREATED_AT = "created_at",
        DECIDED_AT = "decided_at",
    }
);

table!(
    /// Every published version of every flow.
    flow_versions {
        APP = "app",
        FLOW = "flow",
        VERSION = "version",
        DEFINITION = "definition",
        CREATED_AT = "created_at",
    }
);

table!(
    /// Indexes the index advisor made: their fields in index order, the query shape each was
    /// made for and its figures before (JSON the engine writes), who made it and when.
    index_advice {
        NAME = "name",
        APP = "app",
        FORM = "form",
        FIELDS = "fields",
        SHAPE = "shape",
        BEFORE = "before",
        CREATED_BY = "created_by",
        CREATED_AT = "created_at",
    }
);

table!(
    /// Every saved text of every definition file of every app, a version a save.
    definitions {
        APP = "app",
        PATH = "path",
        VERSION = "version",
        TEXT = "text",
        AUTHOR = "author",
        SAVED_AT = "saved_at",
    }
);

table!(
    /// The published releases of each app.
    app_releases {
        APP = "app",
        RELEASE = "release",
        FILES = "files",
        SOURCE = "source",
        AUTHOR = "author",
        PUBLISHED_AT = "published_at",
        MESSAGE = "message",
    }
);

table!(
    /// The files an app's draft changes, each at its draft version.
    definition_drafts { APP = "app", PATH = "path", VERSION = "version" }
);

table!(
    /// The migrations applied, and (from migration 12 on) the oldest schema version a server
    /// may know and serve the database after each.
    schema_migrations { VERSION = "version", SERVES_FROM = "serves_from" }
);

/// Every system table with its columns, for the test that holds them to the migrated schema.
#[cfg(test)]
pub(crate) const ALL: &[(&str, &[&str])] = &[
    (users::TABLE, users::COLUMNS),
    (sessions::TABLE, sessions::COLUMNS),
    (departments::TABLE, departments::COLUMNS),
    (role_grants::TABLE, role_grants::COLUMNS),
    (api_tokens::TABLE, api_tokens::COLUMNS),
    (counters::TABLE, counters::COLUMNS),
    (meta::TABLE, meta::COLUMNS),
    (record_history::TABLE, record_history::COLUMNS),
    (outbox::TABLE, outbox::COLUMNS),
    (jobs::TABLE, jobs::COLUMNS),
    (audit_log::TABLE, audit_log::COLUMNS),
    (tasks::TABLE, tasks::COLUMNS),
    (flow_versions::TABLE, flow_versions::COLUMNS),
    (index_advice::TABLE, index_advice::COLUMNS),
    (definitions::TABLE, definitions::COLUMNS),
    (app_releases::TABLE, app_releases::COLUMNS),
    (definition_drafts::TABLE, definition_drafts::COLUMNS),
    (schema_migrations::TABLE, schema_migrations::COLUMNS),
];
