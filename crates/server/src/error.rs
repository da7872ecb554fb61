//! Engine errors to HTTP: the status of every [`Code`] in one match (the engine's `Code` holds
//! the codes and their kinds), and the JSON error body [`wire::ErrorBody`] with its structured
//! facts, so clients never read the English message to act.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use engine::{AppId, Code, EngineError, FieldError, FormId, RecordId};

use crate::wire::{self, ErrorBody, LimitHit};

/// An error on the wire.
#[derive(Debug)]
pub struct ApiError {
    code: Code,
    message: String,
    details: Vec<FieldError>,
    /// What a client needs to act without reading `message` (boxed: most errors have none, and
    /// every handler's `Result` carries the error's size).
    facts: Box<Facts>,
}

/// The structured facts of an error, each set only by the codes it belongs to.
#[derive(Debug, Default)]
struct Facts {
    current_version: Option<i64>,
    existing: Option<String>,
    limit: Option<LimitHit>,
    retry_after_secs: Option<u64>,
    work: Option<engine::Work>,
}

/// The HTTP status of every code: the table's status column, kept here because the engine
/// knows nothing of HTTP. Exhaustive, so a new code cannot go without one.
pub(crate) fn status_of(code: Code) -> StatusCode {
    match code {
        Code::Malformed => StatusCode::BAD_REQUEST,
        Code::TooLarge | Code::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Code::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Code::VersionRequired => StatusCode::PRECONDITION_REQUIRED,
        Code::Unauthenticated | Code::BadCredentials => StatusCode::UNAUTHORIZED,
        Code::Forbidden | Code::CsrfFailed | Code::PasswordChangeRequired => StatusCode::FORBIDDEN,
        Code::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::StaleVersion | Code::Conflict | Code::Duplicate | Code::OpenWork | Code::PoolLimit => StatusCode::CONFLICT,
        Code::ValidationFailed | Code::RuleLimitExceeded | Code::RuleFailed | Code::InvalidDefinitions => StatusCode::UNPROCESSABLE_ENTITY,
        Code::PdfUnavailable => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ApiError {
    pub(crate) fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into(), details: Vec::new(), facts: Box::default() }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(Code::Malformed, message)
    }

    /// A body past `limit` bytes.
    pub(crate) fn body_too_large(limit: usize) -> Self {
        let limit_hit = LimitHit { name: "body_bytes".into(), value: Some(limit as u64), rule: None };
        let facts = Facts { limit: Some(limit_hit), ..Facts::default() };
        ApiError {
            facts: Box::new(facts),
            ..ApiError::new(Code::PayloadTooLarge, format!("the request body is larger than {limit} bytes"))
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// What a client is told to wait when the database is unavailable: about the time a database
/// takes to restart or fail over, and what the pool waits for a connection.
pub(crate) const RETRY_AFTER_UNAVAILABLE_SECS: u64 = 5;

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let code = e.code();
        if code == Code::Internal {
            // The cause goes to the log, never to the client.
            tracing::error!(error = %e, "request failed");
            return ApiError::new(code, "internal error; the server log has the cause");
        }
        if code == Code::Unavailable {
            tracing::warn!(error = %e, "the database is unavailable");
            let facts = Facts { retry_after_secs: Some(RETRY_AFTER_UNAVAILABLE_SECS), ..Facts::default() };
            return ApiError { facts: Box::new(facts), ..ApiError::new(code, "the database is unavailable; try again shortly") };
        }
        ApiError { code, message: e.to_string(), details: e.details(), facts: Box::new(facts_of(&e)) }
    }
}

/// The facts of an engine error: the version a stale write missed, the duplicate the caller
/// may see, the bound that was hit, when to try again.
fn facts_of(e: &EngineError) -> Facts {
    match e {
        EngineError::StaleVersion { current } => Facts { current_version: Some(*current), ..Facts::default() },
        EngineError::Duplicate { existing, .. } => Facts { existing: existing.clone(), ..Facts::default() },
        EngineError::TooLarge { limit, .. } | EngineError::PoolLimit { limit, .. } => {
            Facts { limit: Some(LimitHit { name: limit.name.into(), value: Some(limit.value), rule: None }), ..Facts::default() }
        }
        EngineError::Rule(engine::RuleError::LimitExceeded { rule, limit }) => {
            Facts { limit: Some(LimitHit { name: limit.clone(), value: None, rule: Some(rule.clone()) }), ..Facts::default() }
        }
        EngineError::RateLimited { retry_after_secs } => Facts { retry_after_secs: Some(*retry_after_secs), ..Facts::default() },
        EngineError::OpenWork(work) => Facts { work: Some(work.clone()), ..Facts::default() },
        _ => Facts::default(),
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status_of(self.code)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let Some(seconds) = self.facts.retry_after_secs {
            response.insert_header(("Retry-After", seconds.to_string()));
        }
        response.json(ErrorBody {
            error: self.code.as_str(),
            kind: self.code.kind().into(),
            message: self.message.clone(),
            details: self.details.iter().map(wire::Problem::from).collect(),
            current_version: self.facts.current_version,
            existing: self.facts.existing.clone(),
            limit: self.facts.limit.clone(),
            retry_after_secs: self.facts.retry_after_secs,
            work: self.facts.work.as_ref().map(wire::Work::from),
        })
    }
}

/// JSON bodies: size limit and precise errors instead of actix's plain-text ones.
pub(crate) fn json_config() -> web::JsonConfig {
    web::JsonConfig::default().limit(crate::MAX_BODY_BYTES).error_handler(|err, _req| {
        let api = match &err {
            JsonPayloadError::Overflow { limit } | JsonPayloadError::OverflowKnownLength { limit, .. } => ApiError::body_too_large(*limit),
            JsonPayloadError::ContentType => ApiError::new(Code::UnsupportedMediaType, "send the body as application/json"),
            JsonPayloadError::Deserialize(e) => ApiError::bad_request(format!("invalid JSON body: {e}")),
            other => ApiError::bad_request(format!("invalid JSON body: {other}")),
        };
        api.into()
    })
}

pub(crate) fn query_config() -> web::QueryConfig {
    web::QueryConfig::default()
        .error_handler(|err: QueryPayloadError, _req| ApiError::bad_request(format!("invalid query string: {err}")).into())
}

/// Path segments. An app, form or record id that cannot exist (`Crm`, `crm.x`, a record id that
/// is not a UUID) is answered as one that does not: 404, worded as the engine words a missing
/// one, so the shape of an id tells a caller nothing its absence would not. Anything else is 400.
pub(crate) fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err: PathError, req| match unnameable_id(req) {
        Some(missing) => ApiError::from(missing).into(),
        None => ApiError::bad_request(format!("invalid path: {err}")).into(),
    })
}

/// The first id of the path that cannot name anything, in the order the engine resolves them
/// (app, form, record), as the engine's not-found error for it. Print paths name the record's
/// form by their template.
fn unnameable_id(req: &HttpRequest) -> Option<EngineError> {
    let segment = |name| req.match_info().get(name);
    let app = segment("app")?;
    if AppId::parse(app).is_err() {
        return Some(EngineError::app_not_found(app));
    }
    let form = segment("form");
    if let Some(form) = form.filter(|form| FormId::parse(form).is_err()) {
        return Some(EngineError::form_not_found(app, form));
    }
    let id = segment("id").filter(|id| RecordId::parse(id).is_err())?;
    Some(EngineError::record_not_found(form.or_else(|| segment("template"))?, id))
}

pub(crate) async fn no_route(req: HttpRequest) -> HttpResponse {
    ApiError::new(Code::NotFound, format!("no route {} {}", req.method(), req.path())).error_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_distinct_name_and_an_error_status() {
        let names: std::collections::BTreeSet<_> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), Code::ALL.len(), "two codes share a name");
        for code in Code::ALL {
            assert!(status_of(code).is_client_error() || status_of(code).is_server_error(), "{code}");
        }
    }

    #[test]
    fn a_stale_write_names_the_current_version_and_a_limit_its_bound() {
        let stale = ApiError::from(EngineError::StaleVersion { current: 7 });
        assert_eq!((stale.status_code(), stale.facts.current_version), (StatusCode::CONFLICT, Some(7)));
        let limit = engine::Limit { name: "ALL_OR_NOTHING_MAX_ROWS", value: 5 };
        let large = ApiError::from(EngineError::TooLarge { message: "too many rows".into(), limit });
        let hit = large.facts.limit.clone().expect("the bound");
        assert_eq!((hit.name.as_str(), hit.value), ("ALL_OR_NOTHING_MAX_ROWS", Some(5)));
    }
}
