//! The caller's inbox: notifications that rules and flows sent with `notify`, and which of them
//! they have read.

use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use serde_json::json;

use crate::auth::Caller;
use crate::wire::ErrorBody;
use crate::{ApiError, AppState};

#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct InboxQuery {
    /// How many of the newest to list: 1 to 100 (default 100).
    limit: Option<u64>,
    /// `true` lists the unread ones only.
    unread: Option<bool>,
}

/// The caller's newest notifications, and how many are unread (counted up to 99; `capped`
/// says there are more).
#[utoipa::path(tag = "notifications", params(InboxQuery), responses(
    (status = 200, description = "`{items: [{id, app, created_at, read_at, message}], unread, capped}`", body = crate::wire::Notifications),
    (status = 400, description = "A limit out of range", body = ErrorBody)))]
#[get("/api/notifications")]
pub(crate) async fn notifications(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<InboxQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.engine.notifications(&caller.0, query.limit, query.unread.unwrap_or(false)).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadBody {
    /// The notifications read (at most 500); none marks every unread one.
    ids: Option<Vec<String>>,
}

/// Marks notifications of the caller read: those named, or all of them.
#[utoipa::path(tag = "notifications", request_body = ReadBody, responses(
    (status = 200, description = "`{marked}`: how many were unread and are read now", body = crate::wire::Marked),
    (status = 400, description = "Too many ids", body = ErrorBody)))]
#[post("/api/notifications/read")]
pub(crate) async fn mark_read(caller: Caller, state: web::Data<AppState>, body: web::Json<ReadBody>) -> Result<HttpResponse, ApiError> {
    let marked = state.engine.mark_notifications_read(&caller.0, body.ids.as_deref()).await?;
    Ok(HttpResponse::Ok().json(json!({"marked": marked})))
}
