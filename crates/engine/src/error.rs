//! Everything a command can answer instead of a result. User mistakes are data (with JSON
//! pointers); the server maps each variant to one HTTP status.

use defs::Diagnostic;
use forms::FieldError;
use store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The request itself is malformed (bad filter, cursor, body shape).
    #[error("{message}")]
    Malformed { message: String, details: Vec<FieldError> },
    /// More than a bound allows (rows, cells, …); the message names the limit.
    #[error("{0}")]
    TooLarge(String),
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
    /// Too many attempts (e.g. failed logins); try again later.
    #[error("too many attempts; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("{0} not found")]
    NotFound(String),
    /// The record exists but lies outside what the caller may see; answered like a missing one,
    /// so existence itself does not leak.
    #[error("{0} not found")]
    OutOfScope(String),
    #[error("the record is at version {current}; reload it and apply your change again")]
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
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl EngineError {
    /// The stable machine-readable code of the error (the `error` field on the wire).
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::Malformed { .. } => "malformed",
            EngineError::TooLarge(_) => "too_large",
            EngineError::Unauthenticated => "unauthenticated",
            EngineError::BadCredentials => "bad_credentials",
            EngineError::Forbidden(_) | EngineError::ForbiddenFields(_) => "forbidden",
            EngineError::Csrf => "csrf_failed",
            EngineError::RateLimited { .. } => "rate_limited",
            EngineError::NotFound(_) | EngineError::OutOfScope(_) => "not_found",
            EngineError::StaleVersion { .. } => "stale_version",
            EngineError::Conflict(_) => "conflict",
            EngineError::Duplicate { .. } => "duplicate",
            EngineError::Invalid(_) => "validation_failed",
            EngineError::Rule(rules::RuleError::LimitExceeded { .. }) => "rule_limit_exceeded",
            EngineError::Rule(rules::RuleError::Failed { .. }) => "rule_failed",
            EngineError::Definitions(_) => "invalid_definitions",
            EngineError::Store(_) | EngineError::Internal(_) => "internal",
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
                fields.iter().map(|f| FieldError::new(format!("/{f}"), message.clone())).collect()
            }
            EngineError::Definitions(diags) => {
                diags.iter().map(|d| FieldError::new(d.pointer.clone(), format!("{}: {}", d.file.display(), d.message))).collect()
            }
            _ => Vec::new(),
        }
    }

    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        EngineError::Malformed { message: message.into(), details: Vec::new() }
    }

    pub(crate) fn malformed_at(path: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        EngineError::Malformed { details: vec![FieldError::new(path, message.clone())], message }
    }
}
