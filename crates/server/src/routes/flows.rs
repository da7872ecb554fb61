//! Flows: where a record stands and what may be done with it, actions, and approval tasks.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use engine::{ActRequest, AppId, FormId, RecordId};
use serde::Deserialize;
use serde_json::json;

use super::{COMMAND_BODY_BYTES, etag, read_body};
use crate::auth::Caller;
use crate::wire::ErrorBody;
use crate::{ApiError, AppState};

/// Body of an action (optional): a comment, and the user a transfer or added approver names.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ActBody {
    comment: Option<String>,
    to: Option<String>,
}

/// An empty body is an action without comment; anything else must be an [`ActBody`].
fn act_request(body: &[u8]) -> Result<ActRequest, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(ActRequest::default());
    }
    let body: ActBody =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("the body is not a valid action request: {e}")))?;
    Ok(ActRequest { comment: body.comment, to: body.to, expected_version: None })
}

/// `If-Match` when given: actions may also be taken on whatever version is current.
fn optional_if_match(req: &HttpRequest) -> Result<Option<i64>, ApiError> {
    if req.headers().contains_key("if-match") { super::if_match(req).map(Some) } else { Ok(None) }
}

/// The record's state in its flow, the actions the caller may take, approval progress and log.
#[utoipa::path(tag = "flows", params(("app" = String, Path), ("form" = String, Path), ("id" = String, Path, format = "uuid", description = "A record id: a UUID")), responses(
    (status = 200, description = "`{flow, state, state_label, terminal, version, actions, approval, log}`", body = crate::wire::FlowView),
    (status = 404, description = "No such record, or the form has no flow", body = ErrorBody)))]
#[get("/api/apps/{app}/forms/{form}/records/{id}/actions")]
pub(crate) async fn flow_view(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(AppId, FormId, RecordId)>,
) -> Result<HttpResponse, ApiError> {
    let (app, form, id) = path.into_inner();
    let view = state.engine.flow_view(&caller.0, &app, &form, &id).await?;
    Ok(HttpResponse::Ok().insert_header(etag(view.version)).json(view))
}

/// Takes an action: a transition of the flow, or `approve`, `reject`, `recall`, `transfer`,
/// `add_approver`. `If-Match` is optional.
#[utoipa::path(tag = "flows", params(("app" = String, Path), ("form" = String, Path), ("id" = String, Path, format = "uuid", description = "A record id: a UUID"), ("action" = String, Path),
    ("If-Match" = Option<i64>, Header, description = "The version the action is based on")), request_body = Option<ActBody>, responses(
    (status = 200, description = "`{record, flow}` after the action", body = crate::wire::ActResult),
    (status = 403, description = "The caller may not take this action", body = ErrorBody),
    (status = 404, description = "No such record (or not one the caller may read), or no such action in its flow", body = ErrorBody),
    (status = 409, description = "Not available in the record's state (e.g. already taken), or a stale version", body = ErrorBody),
    (status = 422, description = "A guard failed or required fields are empty; nothing was written", body = ErrorBody)))]
#[post("/api/apps/{app}/forms/{form}/records/{id}/actions/{action}")]
pub(crate) async fn act(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(AppId, FormId, RecordId, String)>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (app, form, id, action) = path.into_inner();
    let body = read_body(&req, payload, COMMAND_BODY_BYTES).await?;
    let request = ActRequest { expected_version: optional_if_match(&req)?, ..act_request(&body)? };
    let result = state.engine.act(&caller.0, &app, &form, &id, &action, request).await?;
    Ok(HttpResponse::Ok().insert_header(etag(result.record.version)).json(result))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct TaskQuery {
    /// `pending` (default), `approved`, `rejected` or `closed`.
    status: Option<String>,
}

/// The caller's approval tasks (my to-dos), newest first.
#[utoipa::path(tag = "flows", params(TaskQuery), responses((status = 200, description = "`{items: [task]}`", body = crate::wire::Tasks)))]
#[get("/api/tasks")]
pub(crate) async fn tasks(caller: Caller, state: web::Data<AppState>, query: web::Query<TaskQuery>) -> Result<HttpResponse, ApiError> {
    let items = state.engine.tasks(&caller.0, query.status.as_deref()).await?;
    Ok(HttpResponse::Ok().json(json!({"items": items})))
}

/// Decides one of the caller's tasks: `approve`, `reject`, `transfer` (body `{"to": user}`) or
/// `add_approver`.
#[utoipa::path(tag = "flows", params(("id" = String, Path), ("decision" = String, Path)), request_body = Option<ActBody>, responses(
    (status = 200, description = "`{record, flow}` after the decision", body = crate::wire::ActResult),
    (status = 404, description = "No such task of the caller", body = ErrorBody),
    (status = 409, description = "The task is already decided", body = ErrorBody)))]
#[post("/api/tasks/{id}/{decision}")]
pub(crate) async fn decide(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (id, decision) = path.into_inner();
    let body = read_body(&req, payload, COMMAND_BODY_BYTES).await?;
    let result = state.engine.decide(&caller.0, &id, &decision, act_request(&body)?).await?;
    Ok(HttpResponse::Ok().insert_header(etag(result.record.version)).json(result))
}
