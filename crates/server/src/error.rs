//! The one table from engine errors to HTTP statuses, and the JSON error body:
//! `{"error": code, "message": text, "details": [{"path", "message"}]}`.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use engine::{EngineError, FieldError};
use serde::Serialize;

/// An error on the wire.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Vec<FieldError>,
    /// Seconds, for 429.
    retry_after: Option<u64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody<'a> {
    /// Stable machine-readable code, e.g. `validation_failed`, `stale_version`.
    error: &'a str,
    message: &'a str,
    /// Located problems: `path` is a JSON pointer into the request.
    #[schema(value_type = Vec<Object>)]
    details: &'a [FieldError],
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), details: Vec::new(), retry_after: None }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "malformed", message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let status = match &e {
            EngineError::Malformed { .. } => StatusCode::BAD_REQUEST,
            EngineError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            EngineError::Unauthenticated | EngineError::BadCredentials => StatusCode::UNAUTHORIZED,
            EngineError::Forbidden(_) | EngineError::ForbiddenFields(_) | EngineError::Csrf => StatusCode::FORBIDDEN,
            EngineError::NotFound(_) | EngineError::OutOfScope(_) => StatusCode::NOT_FOUND,
            EngineError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            EngineError::StaleVersion { .. } | EngineError::Duplicate { .. } | EngineError::Conflict(_) => StatusCode::CONFLICT,
            EngineError::Invalid(_) | EngineError::Definitions(_) | EngineError::Rule(_) => StatusCode::UNPROCESSABLE_ENTITY,
            EngineError::Store(_) | EngineError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            // The cause goes to the log, never to the client.
            tracing::error!(error = %e, "request failed");
            return ApiError::new(status, e.code(), "internal error; the server log has the cause");
        }
        let retry_after = match &e {
            EngineError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        };
        ApiError { status, code: e.code(), message: e.to_string(), details: e.details(), retry_after }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if let Some(seconds) = self.retry_after {
            response.insert_header(("Retry-After", seconds.to_string()));
        }
        response.json(ErrorBody { error: self.code, message: &self.message, details: &self.details })
    }
}

/// JSON bodies: size limit and precise errors instead of actix's plain-text ones.
pub(crate) fn json_config() -> web::JsonConfig {
    web::JsonConfig::default().limit(crate::MAX_BODY_BYTES).error_handler(|err, _req| {
        let api = match &err {
            JsonPayloadError::Overflow { limit } | JsonPayloadError::OverflowKnownLength { limit, .. } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", format!("the request body is larger than {limit} bytes"))
            }
            JsonPayloadError::ContentType => {
                ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "send the body as application/json")
            }
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

pub(crate) fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err: PathError, _req| ApiError::bad_request(format!("invalid path: {err}")).into())
}

pub(crate) async fn no_route(req: HttpRequest) -> HttpResponse {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no route {} {}", req.method(), req.path())).error_response()
}
