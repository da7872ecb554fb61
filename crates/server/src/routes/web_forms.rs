//! Public web forms: no login, a bounded body, a few submissions per address, and a honeypot.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use engine::{AppId, EngineError, FormId};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::json_body;
use crate::wire::ErrorBody;
use crate::{ApiError, AppState};

/// A web-form submission: a visitor's answers and a few fields. 16 KiB.
pub const WEB_FORM_BODY_BYTES: usize = 16 << 10;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Submission {
    /// The web form's fields and hidden fields, by id.
    #[schema(value_type = std::collections::BTreeMap<String, Value>)]
    data: Map<String, Value>,
    /// The honeypot: a page keeps this input out of people's sight, so only a bot fills it. A
    /// submission that does is answered as any other and kept nowhere.
    #[serde(default)]
    trap: String,
}

/// What a public page shows a visitor: the title, the fields to fill (as the form defines
/// them), the hidden fields an embedding page may fill from its address, and the thanks.
#[utoipa::path(tag = "web forms", params(("app" = String, Path), ("form" = String, Path)), responses(
    (status = 200, description = "`{app, title, fields, hidden, thanks}`", body = crate::wire::WebForm),
    (status = 404, description = "No such app, form, or web form", body = ErrorBody)))]
#[get("/api/public/apps/{app}/forms/{form}")]
pub(crate) async fn web_form(state: web::Data<AppState>, path: web::Path<(AppId, FormId)>) -> Result<HttpResponse, ApiError> {
    let (app, form) = path.into_inner();
    Ok(HttpResponse::Ok().json(state.engine.web_form(&app, &form)?))
}

/// Sends a web form without signing in: creates a record of the form (into its pool, when it
/// has one). At most `MAX_SUBMISSIONS_PER_ADDRESS` per address in 15 minutes.
#[utoipa::path(tag = "web forms", params(("app" = String, Path), ("form" = String, Path)), request_body = Submission, responses(
    (status = 201, description = "`{thanks}`: received", body = crate::wire::WebFormReceipt),
    (status = 404, description = "No such app, form, or web form", body = ErrorBody),
    (status = 413, description = "A body past `WEB_FORM_BODY_BYTES`", body = ErrorBody),
    (status = 422, description = "A field the form refuses", body = ErrorBody),
    (status = 429, description = "Too many submissions from this address", body = ErrorBody)))]
#[post("/api/public/apps/{app}/forms/{form}")]
pub(crate) async fn submit_web_form(
    state: web::Data<AppState>,
    path: web::Path<(AppId, FormId)>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (app, form) = path.into_inner();
    let address = state.proxies.client(&req);
    state.submission_limiter.admit(address).map_err(|retry_after_secs| EngineError::RateLimited { retry_after_secs })?;
    let body: Submission = json_body(&req, payload, WEB_FORM_BODY_BYTES).await?;
    let thanks = state.engine.submit_web_form(&app, &form, body.data, !body.trap.is_empty()).await?;
    Ok(HttpResponse::Created().json(json!({ "thanks": thanks })))
}
