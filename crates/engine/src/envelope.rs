//! What records look like to callers: the envelope of system fields around `data`.

use serde::Serialize;
use serde_json::{Map, Value};
use store::Record;

/// A record as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Envelope {
    pub id: String,
    pub form: String,
    pub version: i64,
    pub state: Option<String>,
    pub owner: String,
    pub created_by: String,
    pub created_at: String,
    pub updated_by: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    /// The version of the form's definition the data was last validated against; absent for
    /// a record written before records were stamped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub form_version: Option<i64>,
    pub data: Map<String, Value>,
    /// The record's flow instance, kept to judge what its approval step hides from a reader
    /// ([`crate::flows::hide_at_step`]); never sent.
    #[serde(skip)]
    pub(crate) flow: Option<Value>,
}

impl Envelope {
    pub(crate) fn new(form: &str, r: Record) -> Envelope {
        Envelope {
            id: r.id,
            form: form.to_owned(),
            version: r.version,
            state: r.state,
            owner: r.owner,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_by: r.updated_by,
            updated_at: r.updated_at,
            deleted_at: r.deleted_at,
            form_version: r.form_version,
            data: r.data,
            flow: r.flow,
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub items: Vec<Envelope>,
    pub next_cursor: Option<String>,
    /// How many records match, when asked for (`count`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<Total>,
}

/// How many records a list matches: exact up to [`crate::list::MAX_COUNT`]; past it, counting
/// stops and `capped` says the true number is larger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Total {
    pub records: u64,
    pub capped: bool,
}

/// One version of a record in its history.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryItem {
    pub version: i64,
    /// `create`, `update`, `delete` or `restore`.
    pub op: String,
    pub changed_by: String,
    pub changed_at: String,
    pub record: Value,
}
