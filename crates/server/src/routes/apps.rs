//! What apps are loaded, their navigation and forms, and each form's record schema.

use actix_web::{HttpResponse, get, web};

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
