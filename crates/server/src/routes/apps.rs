//! What apps are loaded, their navigation and forms, and each form's record schema.

use actix_web::{HttpResponse, get, web};
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::{ApiError, AppState};

/// Loaded apps, with names.
#[utoipa::path(tag = "apps", responses((status = 200, description = "Apps", body = Object)))]
#[get("/api/apps")]
pub(crate) async fn list_apps(_caller: Caller, state: web::Data<AppState>) -> HttpResponse {
    let apps: Vec<Value> =
        state.engine.apps().map(|a| json!({"id": a.id(), "name": a.defs.app.name, "version": a.defs.app.version})).collect();
    HttpResponse::Ok().json(json!({"items": apps}))
}

/// One app as the caller may see it: manifest (roles, navigation) and the definitions of the
/// forms they may read, without fields hidden from them, with `access` (their actions and
/// read-only fields) on each form.
#[utoipa::path(tag = "apps", params(("app" = String, Path)), responses((status = 200, description = "App", body = Object),
    (status = 404, description = "No such app", body = crate::error::ErrorBody)))]
#[get("/api/apps/{app}")]
pub(crate) async fn get_app(caller: Caller, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let app = state.engine.app(&path)?;
    Ok(HttpResponse::Ok().json(app.view_for(&caller.0)))
}

/// The JSON Schema that records of a form must satisfy.
#[utoipa::path(tag = "apps", params(("app" = String, Path), ("form" = String, Path)),
    responses((status = 200, description = "JSON Schema of the form's data", body = Object),
    (status = 404, description = "No such app or form", body = crate::error::ErrorBody)))]
#[get("/api/apps/{app}/forms/{form}/schema")]
pub(crate) async fn form_schema(
    _caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (app, form) = path.into_inner();
    let app = state.engine.app(&app)?;
    let (_, compiled) =
        app.forms().find(|(id, _)| *id == form).ok_or_else(|| ApiError::from(engine::EngineError::NotFound(format!("form `{form}`"))))?;
    Ok(HttpResponse::Ok().json(compiled.schema()))
}
