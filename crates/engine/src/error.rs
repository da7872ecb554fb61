//! Everything a command can answer instead of a result. User mistakes are data (with JSON
//! pointers, codes and the values a client needs to word them); [`Code`] is the one list of
//! error codes and their kinds, which the server maps to HTTP statuses in one match.

use defs::Diagnostic;
use forms::{FieldCode, FieldError};
use store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The request itself is malformed (bad filter, cursor, body shape).
    #[error("{message}")]
    Malformed { message: String, details: Vec<FieldError> },
    /// More than a bound allows (rows, cells, …); the message names the limit.
    #[error("{message}")]
    TooLarge { message: String, limit: Limit },
    #[error("authentication required")]
    Unauthenticated,
    #[error("wrong username or password")]
    BadCredentials,
    #[error("{0}")]
    Forbidden(String),
    /// Named fields the caller may not read or change.
    #[error("you may not use these fields")]
    ForbiddenFields(Vec<FieldError>),
    /// A cookie-authenticated write without the session's CSRF token.
    #[error("this request needs the X-CSRF-Token header of your session")]
    Csrf,
    /// An admin chose the user's password: they must choose their own before anything else.
    #[error("choose a new password first (POST /api/auth/password)")]
    PasswordChangeRequired,
    /// A user still owns records or has open tasks: deactivating them needs a successor.
    #[error("the user still owns records or has open tasks; name a successor to hand them over to")]
    OpenWork(crate::organisation::Work),
    /// A claim from a form's pool by someone holding its `limit` of open records already.
    #[error("you hold {held} open {form} records, the most the pool allows: return one first")]
    PoolLimit { form: String, held: u64, limit: Limit },
    /// Too many attempts (e.g. failed logins); try again later.
    #[error("too many attempts; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("{0} not found")]
    NotFound(String),
    /// The record exists but lies outside what the caller may see; answered like a missing one,
    /// so existence itself does not leak.
    #[error("{0} not found")]
    OutOfScope(String),
    #[error("changed meanwhile: it is at version {current} now; reload it and apply your change again")]
    StaleVersion { current: i64 },
    /// The command does not fit the record's current state (an action already taken, a task
    /// already decided).
    #[error("{0}")]
    Conflict(String),
    /// A live record shares a dedupe key's values. `existing` names it only to a caller who may
    /// read it (see `Engine::disclose`): a dedupe key tells that a value is taken, nothing more.
    #[error("a record with the same {} exists{}", fields.join(", "), existing.as_ref().map(|id| format!(": {id}")).unwrap_or_default())]
    Duplicate { existing: Option<String>, fields: Vec<String> },
    #[error("the record is not valid")]
    Invalid(Vec<FieldError>),
    /// A rule stopped at a sandbox limit or failed; nothing was written.
    #[error(transparent)]
    Rule(#[from] rules::RuleError),
    #[error("the app definitions have {} problem(s)", .0.len())]
    Definitions(Vec<Diagnostic>),
    #[error(transparent)]
    Store(StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// A bound a request went past: its name (the constant that sets it) and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub name: &'static str,
    pub value: u64,
}

/// What kind of failure a code is, for clients that handle a kind alike (as meilisearch's
/// `type`): the request must change, the caller must authenticate or be allowed, the data
/// changed underneath, or the server failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    InvalidRequest,
    Auth,
    Conflict,
    Internal,
}

/// Every error code of the API — the engine's and the server's own (bodies, headers, PDF) —
/// with its kind: the one list. The wire `error` field is [`Code::as_str`]; the server gives each
/// its HTTP status in one exhaustive match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    Malformed,
    TooLarge,
    PayloadTooLarge,
    UnsupportedMediaType,
    VersionRequired,
    Unauthenticated,
    BadCredentials,
    Forbidden,
    CsrfFailed,
    PasswordChangeRequired,
    RateLimited,
    NotFound,
    StaleVersion,
    Conflict,
    Duplicate,
    OpenWork,
    PoolLimit,
    ValidationFailed,
    RuleLimitExceeded,
    RuleFailed,
    InvalidDefinitions,
    PdfUnavailable,
    /// The database does not answer: try again after `retry_after_secs`.
    Unavailable,
    Internal,
}

impl Code {
    /// Every code, for tables and tests that must cover them all.
    pub const ALL: [Code; 24] = [
        Code::Malformed,
        Code::TooLarge,
        Code::PayloadTooLarge,
        Code::UnsupportedMediaType,
        Code::VersionRequired,
        Code::Unauthenticated,
        Code::BadCredentials,
        Code::Forbidden,
        Code::CsrfFailed,
        Code::PasswordChangeRequired,
        Code::RateLimited,
        Code::NotFound,
        Code::StaleVersion,
        Code::Conflict,
        Code::Duplicate,
        Code::OpenWork,
        Code::PoolLimit,
        Code::ValidationFailed,
        Code::RuleLimitExceeded,
        Code::RuleFailed,
        Code::InvalidDefinitions,
        Code::PdfUnavailable,
        Code::Unavailable,
        Code::Internal,
    ];

    /// The code and its kind: the table.
    fn entry(self) -> (&'static str, Kind) {
        use Kind::*;
        match self {
            Code::Malformed => ("malformed", InvalidRequest),
            Code::TooLarge => ("too_large", InvalidRequest),
            Code::PayloadTooLarge => ("payload_too_large", InvalidRequest),
            Code::UnsupportedMediaType => ("unsupported_media_type", InvalidRequest),
            Code::VersionRequired => ("version_required", InvalidRequest),
            Code::Unauthenticated => ("unauthenticated", Auth),
            Code::BadCredentials => ("bad_credentials", Auth),
            Code::Forbidden => ("forbidden", Auth),
            Code::CsrfFailed => ("csrf_failed", Auth),
            Code::PasswordChangeRequired => ("password_change_required", Auth),
            Code::RateLimited => ("rate_limited", Auth),
            Code::NotFound => ("not_found", InvalidRequest),
            Code::StaleVersion => ("stale_version", Kind::Conflict),
            Code::Conflict => ("conflict", Kind::Conflict),
            Code::Duplicate => ("duplicate", Kind::Conflict),
            Code::OpenWork => ("open_work", Kind::Conflict),
            Code::PoolLimit => ("pool_limit", Kind::Conflict),
            Code::ValidationFailed => ("validation_failed", InvalidRequest),
            Code::RuleLimitExceeded => ("rule_limit_exceeded", InvalidRequest),
            Code::RuleFailed => ("rule_failed", InvalidRequest),
            Code::InvalidDefinitions => ("invalid_definitions", InvalidRequest),
            Code::PdfUnavailable => ("pdf_unavailable", Kind::Internal),
            Code::Unavailable => ("unavailable", Kind::Internal),
            Code::Internal => ("internal", Kind::Internal),
        }
    }

    /// The stable machine-readable code (the `error` field on the wire).
    pub fn as_str(self) -> &'static str {
        self.entry().0
    }

    pub fn kind(self) -> Kind {
        self.entry().1
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        // PostgreSQL cannot hold NUL in text; SQLite can. Either way it came from the input.
        if e.is_refused_text() {
            return EngineError::Malformed { message: "text may not contain the character U+0000 (NUL)".into(), details: Vec::new() };
        }
        EngineError::Store(e)
    }
}

impl EngineError {
    /// The error's code; see [`Code`].
    pub fn code(&self) -> Code {
        match self {
            EngineError::Malformed { .. } => Code::Malformed,
            EngineError::TooLarge { .. } => Code::TooLarge,
            EngineError::Unauthenticated => Code::Unauthenticated,
            EngineError::BadCredentials => Code::BadCredentials,
            EngineError::Forbidden(_) | EngineError::ForbiddenFields(_) => Code::Forbidden,
            EngineError::Csrf => Code::CsrfFailed,
            EngineError::PasswordChangeRequired => Code::PasswordChangeRequired,
            EngineError::OpenWork(_) => Code::OpenWork,
            EngineError::PoolLimit { .. } => Code::PoolLimit,
            EngineError::RateLimited { .. } => Code::RateLimited,
            EngineError::NotFound(_) | EngineError::OutOfScope(_) => Code::NotFound,
            EngineError::StaleVersion { .. } => Code::StaleVersion,
            EngineError::Conflict(_) => Code::Conflict,
            EngineError::Duplicate { .. } => Code::Duplicate,
            EngineError::Invalid(_) => Code::ValidationFailed,
            EngineError::Rule(rules::RuleError::LimitExceeded { .. }) => Code::RuleLimitExceeded,
            EngineError::Rule(rules::RuleError::Failed { .. }) => Code::RuleFailed,
            EngineError::Definitions(_) => Code::InvalidDefinitions,
            EngineError::Store(e) if e.is_unavailable() => Code::Unavailable,
            EngineError::Store(_) | EngineError::Internal(_) => Code::Internal,
        }
    }

    /// Located problems, for `details` on the wire.
    pub fn details(&self) -> Vec<FieldError> {
        match self {
            EngineError::Malformed { details, .. } | EngineError::Invalid(details) | EngineError::ForbiddenFields(details) => {
                details.clone()
            }
            EngineError::Duplicate { fields, existing } => {
                let message =
                    existing.as_ref().map_or("same value as an existing record".to_owned(), |id| format!("same value as record {id}"));
                let duplicate = |f: &String| {
                    let error = FieldError::coded(format!("/{f}"), FieldCode::Duplicate, message.clone());
                    match existing {
                        Some(id) => error.with("existing", id.as_str()),
                        None => error,
                    }
                };
                fields.iter().map(duplicate).collect()
            }
            EngineError::Definitions(diags) => diags.iter().map(definition_problem).collect(),
            _ => Vec::new(),
        }
    }

    /// What a command answers for `app` when no app of that id is loaded.
    pub fn app_not_found(app: &str) -> Self {
        EngineError::NotFound(format!("app `{app}`"))
    }

    /// What a command answers for `form` when `app` has no form of that id.
    pub fn form_not_found(app: &str, form: &str) -> Self {
        EngineError::NotFound(format!("form `{form}` in app `{app}`"))
    }

    /// What a command answers for record `id` of `form` when there is none (or none alive).
    pub fn record_not_found(form: &str, id: &str) -> Self {
        EngineError::NotFound(format!("{form} record {id}"))
    }

    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        EngineError::Malformed { message: message.into(), details: Vec::new() }
    }

    pub(crate) fn malformed_at(path: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        EngineError::Malformed {
            details: vec![FieldError::coded(path, FieldCode::Malformed, message.clone()).with("text", message.as_str())],
            message,
        }
    }
}

/// A rule's `error(field, text)`: the words of the rule's author, shown as written.
pub(crate) fn rule_problem((path, text): (String, String)) -> FieldError {
    FieldError::coded(path, FieldCode::Rule, text.clone()).with("text", text)
}

/// A definition's problem as a field problem: its text as written, and the file it is in.
fn definition_problem(d: &Diagnostic) -> FieldError {
    let file = d.file.display().to_string();
    FieldError::coded(d.pointer.clone(), FieldCode::Definition, format!("{file}: {}", d.message))
        .with("text", d.message.as_str())
        .with("file", file)
}
