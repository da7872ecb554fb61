//! Every route, one file per area. Each handler is one engine command.

mod advice;
mod apps;
mod audit;
mod auth;
mod definitions;
mod export;
mod field_types;
mod flows;
mod health;
mod import;
mod metrics;
mod notifications;
mod organisation;
mod print;
mod records;
mod reports;
pub(crate) mod ui;
mod web_forms;

pub use web_forms::WEB_FORM_BODY_BYTES;

use actix_web::{HttpMessage, HttpRequest, HttpResponse, get, web};
use engine::Code;
use serde::de::DeserializeOwned;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::ApiError;

// Request bodies: one limit per kind of route, each read by the route within it (413 past it).
// Record writes and the other JSON bodies (report queries) take `crate::MAX_BODY_BYTES`.

/// Login and password change: the longest username and password allowed
/// (`engine::MAX_USERNAME_CHARS`, `engine::MAX_PASSWORD_CHARS`), even written as JSON escapes
/// of 12 bytes a character, fit; nothing bigger is kept or hashed.
pub const AUTH_BODY_BYTES: usize = 16 << 10;
/// Flow actions and task decisions: a comment and a username. 64 KiB is a long letter.
pub const COMMAND_BODY_BYTES: usize = 64 << 10;
/// Imported files (CSV or XLSX), read only after the import right is checked. An upload is
/// kept in a temporary file, not in memory, while it is imported (`tabular`).
pub const IMPORT_BODY_BYTES: usize = 128 << 20;

/// The OpenAPI document, built from the registered routes when the app is created.
pub(crate) struct OpenApiDoc(pub(crate) utoipa::openapi::OpenApi);

/// Routes anyone may call, without a session or token: they never answer 401.
const PUBLIC_ROUTES: [&str; 5] = ["/api/health", "/api/ready", "/api/openapi.json", "/api/auth/login", "/api/public/"];

/// Adds to every operation of `api` the answers the server's common machinery gives on any
/// route of its kind, where the route does not describe them itself: a request it cannot read
/// (400), no session (401, but on public routes), a named thing that is not there or not
/// visible (404, routes with path values), a body too large (413) or not JSON (415, routes
/// with a JSON body), a version required (428, routes that require `If-Match`), and the
/// database out of reach (503). Each is the error body.
pub(crate) fn document_common_answers(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::{Content, Ref, Required, ResponseBuilder};
    for (path, item) in &mut api.paths.paths {
        let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for operation in operations.into_iter().flatten() {
            let parameters = operation.parameters.as_deref().unwrap_or_default();
            let takes = |place: ParameterIn| parameters.iter().any(|p| p.parameter_in == place);
            let requires_version = parameters
                .iter()
                .any(|p| p.parameter_in == ParameterIn::Header && p.name == "If-Match" && matches!(p.required, Required::True));
            let body = operation.request_body.as_ref().map(|b| b.content.contains_key("application/json"));
            let answers = [
                ("400", true, "A path value, query string, header or body the route cannot read"),
                ("401", !PUBLIC_ROUTES.iter().any(|public| path.starts_with(public)), "No session or token, or one that ended"),
                ("404", takes(ParameterIn::Path), "Nothing of that name, or nothing the caller may see"),
                ("413", body.is_some(), "The body is past the route's bound"),
                ("415", body == Some(true), "The body is not sent as JSON"),
                ("428", requires_version, "No `If-Match`: send the version the change is based on"),
                ("503", path != "/api/openapi.json", "The database cannot be reached: try again after `Retry-After`"),
            ];
            for (status, applies, description) in answers {
                if applies && !operation.responses.responses.contains_key(status) {
                    let error = Content::new(Some(Ref::from_schema_name("ErrorBody")));
                    let answer = ResponseBuilder::new().description(description).content("application/json", error).build();
                    operation.responses.responses.insert(status.to_owned(), answer.into());
                }
            }
        }
    }
}

pub(crate) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(health::health)
        .service(health::ready)
        .service(metrics::metrics)
        .service(openapi_json)
        .service(auth::login)
        .service(auth::logout)
        .service(auth::me)
        .service(auth::session)
        .service(auth::change_password)
        .service(organisation::update_profile)
        .service(organisation::users)
        .service(organisation::create_user)
        .service(organisation::import_users)
        .service(organisation::user)
        .service(organisation::update_user)
        .service(organisation::grant_roles)
        .service(organisation::reset_password)
        .service(organisation::deactivate_user)
        .service(organisation::activate_user)
        .service(organisation::handover_preview)
        .service(organisation::hand_over)
        .service(organisation::departments)
        .service(organisation::create_department)
        .service(organisation::update_department)
        .service(organisation::delete_department)
        .service(organisation::tokens)
        .service(organisation::create_token)
        .service(organisation::revoke_token)
        .service(audit::audit)
        .service(audit::verify)
        .service(apps::list_apps)
        .service(apps::get_app)
        .service(apps::form_schema)
        .service(apps::run_schedule)
        .service(advice::index_advice)
        .service(advice::apply_index)
        .service(advice::drop_index)
        .service(definitions::index)
        .service(definitions::get_definition)
        .service(definitions::put_definition)
        .service(definitions::delete_definition)
        .service(definitions::impact)
        .service(definitions::start_impact)
        .service(definitions::impact_run)
        .service(definitions::publish)
        .service(definitions::releases)
        .service(definitions::rollback)
        .service(definitions::test_draft)
        .service(definitions::preview_draft)
        .service(definitions::check_expression)
        .service(definitions::create_app)
        .service(definitions::archive_app)
        .service(definitions::unarchive_app)
        .service(definitions::release_diff)
        .service(definitions::released_definition)
        .service(definitions::view_as)
        .service(definitions::export_bundle)
        .service(definitions::install_bundle)
        .service(field_types::field_types)
        .service(field_types::chart_kinds)
        .service(field_types::rule_functions)
        .service(records::list_records)
        .service(records::create_record)
        .service(records::preview_record)
        .service(records::get_record)
        .service(records::patch_record)
        .service(records::delete_record)
        .service(records::restore_record)
        .service(records::claim_record)
        .service(records::return_record)
        .service(records::assign_record)
        .service(records::merge_record)
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
        .service(notifications::notifications)
        .service(notifications::mark_read)
        .service(web_forms::web_form)
        .service(web_forms::submit_web_form);
}

/// This document: every route of the API.
#[utoipa::path(tag = "meta", responses((status = 200, description = "OpenAPI 3.1 document", body = std::collections::BTreeMap<String, serde_json::Value>)))]
#[get("/api/openapi.json")]
async fn openapi_json(doc: web::Data<OpenApiDoc>) -> HttpResponse {
    HttpResponse::Ok().json(&doc.0)
}

/// The version a write is based on, from `If-Match` (`3`, `"3"` or `W/"3"`).
pub(crate) fn if_match(req: &HttpRequest) -> Result<i64, ApiError> {
    let Some(header) = req.headers().get("if-match") else {
        return Err(ApiError::new(Code::VersionRequired, "send the version you edited in If-Match"));
    };
    let text = header.to_str().unwrap_or_default().trim();
    let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    text.parse().map_err(|_| ApiError::bad_request(format!("If-Match must be a record version, not `{text}`")))
}

/// The request body, refused with 413 past `limit` bytes — before reading it when its declared
/// length is already past.
pub(crate) async fn read_body(req: &HttpRequest, payload: web::Payload, limit: usize) -> Result<web::Bytes, ApiError> {
    refuse_declared_length(req, limit)?;
    match payload.to_bytes_limited(limit).await {
        Ok(body) => body.map_err(|e| ApiError::bad_request(format!("cannot read the request body: {e}"))),
        Err(_) => Err(ApiError::body_too_large(limit)),
    }
}

/// Refuses at once a body whose declared length is past `limit`, before any of it is read.
pub(crate) fn refuse_declared_length(req: &HttpRequest, limit: usize) -> Result<(), ApiError> {
    let declared = req.headers().get("content-length").and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(ApiError::body_too_large(limit));
    }
    Ok(())
}

/// A JSON body read within `limit`. It must be sent as JSON (415 otherwise): a form on another
/// site cannot post that.
pub(crate) async fn json_body<T: DeserializeOwned>(req: &HttpRequest, payload: web::Payload, limit: usize) -> Result<T, ApiError> {
    require_json(req)?;
    let body = read_body(req, payload, limit).await?;
    parse_json(&body)
}

/// Refuses (415) a body not declared as JSON.
fn require_json(req: &HttpRequest) -> Result<(), ApiError> {
    let is_json = req.mime_type().ok().flatten().is_some_and(|mime| mime.subtype() == "json" || mime.suffix().is_some_and(|s| s == "json"));
    if is_json { Ok(()) } else { Err(ApiError::new(Code::UnsupportedMediaType, "send the body as application/json")) }
}

fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

/// [`json_body`] for a body that may be left out: an empty one reads as the default.
pub(crate) async fn optional_json_body<T: DeserializeOwned + Default>(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<T, ApiError> {
    let body = read_body(req, payload, limit).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    require_json(req)?;
    parse_json(&body)
}

/// `ETag` value for a record version.
pub(crate) fn etag(version: i64) -> (&'static str, String) {
    ("ETag", format!("\"{version}\""))
}
