//! The caller's inbox: notifications that rules sent with `notify`.

use actix_web::{HttpResponse, get, web};
use serde_json::json;

use crate::auth::Caller;
use crate::{ApiError, AppState};

/// The newest 100 notifications addressed to the caller.
#[utoipa::path(tag = "notifications", responses((status = 200, description = "`{items: [{id, app, created_at, message}]}`", body = crate::wire::Notifications)))]
#[get("/api/notifications")]
pub(crate) async fn notifications(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let items = state.engine.notifications(&caller.0, 100).await?;
    Ok(HttpResponse::Ok().json(json!({"items": items})))
}
