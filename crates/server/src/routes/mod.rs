//! Every route, one file per area. Each handler is one engine command.

mod apps;
mod audit;
mod auth;
mod export;
mod flows;
mod health;
mod import;
mod notifications;
mod print;
mod records;
mod reports;
pub(crate) mod ui;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, web};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::ApiError;

pub(crate) use import::MAX_IMPORT_BYTES;

/// The OpenAPI document, built from the registered routes when the app is created.
pub(crate) struct OpenApiDoc(pub(crate) utoipa::openapi::OpenApi);

pub(crate) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(health::health)
        .service(openapi_json)
        .service(auth::login)
        .service(auth::logout)
        .service(auth::me)
        .service(auth::users)
        .service(auth::change_password)
        .service(audit::audit)
        .service(apps::list_apps)
        .service(apps::get_app)
        .service(apps::form_schema)
        .service(records::list_records)
        .service(records::create_record)
        .service(records::get_record)
        .service(records::patch_record)
        .service(records::delete_record)
        .service(records::restore_record)
        .service(records::record_history)
        .service(export::export)
        .service(import::import)
        .service(import::import_status)
        .service(print::print)
        .service(reports::run_query)
        .service(reports::report)
        .service(reports::drill)
        .service(reports::dashboard)
        .service(flows::flow_view)
        .service(flows::act)
        .service(flows::tasks)
        .service(flows::decide)
        .service(notifications::notifications);
}

/// This document: every route of the API.
#[utoipa::path(tag = "meta", responses((status = 200, description = "OpenAPI 3.1 document", body = Object)))]
#[get("/api/openapi.json")]
async fn openapi_json(doc: web::Data<OpenApiDoc>) -> HttpResponse {
    HttpResponse::Ok().json(&doc.0)
}

/// The version a write is based on, from `If-Match` (`3`, `"3"` or `W/"3"`).
pub(crate) fn if_match(req: &HttpRequest) -> Result<i64, ApiError> {
    let Some(header) = req.headers().get("if-match") else {
        return Err(ApiError::new(StatusCode::PRECONDITION_REQUIRED, "version_required", "send the version you edited in If-Match"));
    };
    let text = header.to_str().unwrap_or_default().trim();
    let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    text.parse().map_err(|_| ApiError::bad_request(format!("If-Match must be a record version, not `{text}`")))
}

/// `ETag` value for a record version.
pub(crate) fn etag(version: i64) -> (&'static str, String) {
    ("ETag", format!("\"{version}\""))
}
