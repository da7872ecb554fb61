//! What apps are loaded, their navigation and forms, and each form's record schema; running a
//! schedule now.

use actix_web::{HttpResponse, get, post, web};

use engine::{AppId, FormId};

use crate::auth::Caller;
use crate::{ApiError, AppState};

/// Loaded apps, with names.
#[utoipa::path(tag = "apps", responses((status = 200, description = "Apps", body = crate::wire::AppList)))]
#[get("/api/apps")]
pub(crate) async fn list_apps(_caller: Caller, state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.engine.app_list())
}

/// One app as the caller may see it: manifest (roles, navigation) and the definitions of the
/// forms they may read, without fields hidden from them, with `access` (their actions and
/// read-only fields) on each form.
#[utoipa::path(tag = "apps", params(("app" = String, Path)), responses((status = 200, description = "App", body = crate::wire::AppView),
    (status = 404, description = "No such app", body = crate::wire::ErrorBody)))]
#[get("/api/apps/{app}")]
pub(crate) async fn get_app(caller: Caller, state: web::Data<AppState>, path: web::Path<AppId>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.engine.app_view(&caller.0, &path).await?))
}

/// The JSON Schema that records of a form must satisfy, without the fields hidden from the caller.
#[utoipa::path(tag = "apps", params(("app" = String, Path), ("form" = String, Path)),
    responses((status = 200, description = "JSON Schema of the form's data", body = std::collections::BTreeMap<String, serde_json::Value>),
    (status = 403, description = "The caller may not read the form's records", body = crate::wire::ErrorBody),
    (status = 404, description = "No such app or form", body = crate::wire::ErrorBody)))]
#[get("/api/apps/{app}/forms/{form}/schema")]
pub(crate) async fn form_schema(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(AppId, FormId)>,
) -> Result<HttpResponse, ApiError> {
    let (app, form) = path.into_inner();
    Ok(HttpResponse::Ok().json(state.engine.form_schema(&caller.0, &app, &form).await?))
}

/// Runs one of the app's `schedules` now, as its job would (its next run stays when it was):
/// for admins and the app's builders trying a nightly rule.
#[utoipa::path(tag = "apps", params(("app" = String, Path), ("schedule" = String, Path)), responses(
    (status = 200, description = "`{ran}`: the schedule ran", body = crate::wire::ScheduleRun),
    (status = 403, description = "Neither an admin nor a builder of the app", body = crate::wire::ErrorBody),
    (status = 404, description = "No such schedule", body = crate::wire::ErrorBody),
    (status = 422, description = "Its rule failed; nothing it did was kept", body = crate::wire::ErrorBody)))]
#[post("/api/apps/{app}/schedules/{schedule}/run")]
pub(crate) async fn run_schedule(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(AppId, String)>,
) -> Result<HttpResponse, ApiError> {
    let (app, schedule) = path.into_inner();
    state.engine.run_schedule_now(&caller.0, &app, &schedule).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "ran": schedule })))
}
