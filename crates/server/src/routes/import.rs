//! Import of CSV or spreadsheet files into a form, with progress.

use std::collections::BTreeMap;

use actix_web::web::{Data, Path, Payload, Query};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, get, post};
use engine::{AppId, FormId, ImportOptions, OnDuplicate};
use serde::Deserialize;
use serde_json::json;

use super::IMPORT_BODY_BYTES;
use crate::auth::Caller;
use crate::wire::ErrorBody;
use crate::{ApiError, AppState, tabular};

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ImportQuery {
    /// `csv` or `xlsx` (xls and ods are refused); default from the Content-Type, else CSV.
    format: Option<String>,
    /// Check everything and report, writing nothing.
    dry_run: Option<bool>,
    /// `all_or_nothing` (commit only a clean file) or `row_by_row` (default: keep the good rows).
    mode: Option<String>,
    /// `skip` (default), `update` or `error` for rows that duplicate a record by the form's dedupe keys.
    #[param(value_type = Option<String>)]
    on_duplicate: Option<OnDuplicate>,
    /// JSON object header → field id, overriding the match by id or label.
    map: Option<String>,
    /// `true` answers with the report when done; otherwise 202 with an id to poll.
    wait: Option<bool>,
}

/// Imports the file in the body into the form. The import right is checked before the body is
/// read; the file is read within the bounds of [`tabular`], off the request threads.
#[utoipa::path(tag = "records", params(("app" = String, Path), ("form" = String, Path), ImportQuery),
    request_body(content = Vec<u8>, description = "The CSV or XLSX file", content_type = "text/csv"),
    responses(
        (status = 200, description = "The report (with `wait=true`)", body = crate::wire::ImportReport),
        (status = 202, description = "`{id, status_url}`: poll for progress", body = crate::wire::ImportStarted),
        (status = 400, description = "Unreadable file or unknown columns", body = ErrorBody),
        (status = 403, description = "No import right, or a column the caller may not write", body = ErrorBody),
        (status = 413, description = "File too large, or past a bound on rows, columns, cells or decompressed size", body = ErrorBody),
        (status = 415, description = "An xls or ods file: send xlsx or csv", body = ErrorBody)))]
#[post("/api/apps/{app}/forms/{form}/import")]
pub(crate) async fn import(
    caller: Caller,
    state: Data<AppState>,
    path: Path<(AppId, FormId)>,
    query: Query<ImportQuery>,
    req: HttpRequest,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    let (app, form) = path.into_inner();
    let q = query.into_inner();
    let options = options(&q)?;
    state.engine.check_import_right(&caller.0, &app, &form, options.on_duplicate).await?;
    let format = q.format.clone().unwrap_or_else(|| format_of(&req));
    let table = tabular::read_upload(&req, payload, IMPORT_BODY_BYTES, format).await?;
    if q.wait.unwrap_or(false) {
        let report = state.engine.import(&caller.0, &app, &form, table, &options).await?;
        return Ok(HttpResponse::Ok().json(report));
    }
    let id = state.engine.start_import(&caller.0, &app, &form, table, options)?;
    Ok(HttpResponse::Accepted().json(json!({"id": id, "status_url": format!("/api/imports/{id}")})))
}

/// The format named by the Content-Type: xls and ods by their own types (so they get the 415
/// that says what to send instead, not "not an xlsx workbook"), XLSX for another spreadsheet
/// type, else CSV.
pub(crate) fn format_of(req: &HttpRequest) -> String {
    let mime = req.mime_type().ok().flatten();
    let essence = mime.as_ref().map(|m| m.essence_str()).unwrap_or_default();
    match essence {
        "application/vnd.ms-excel" => "xls",
        "application/vnd.oasis.opendocument.spreadsheet" => "ods",
        spreadsheet if spreadsheet.contains("spreadsheet") || spreadsheet.contains("excel") => "xlsx",
        _ => "csv",
    }
    .into()
}

fn options(q: &ImportQuery) -> Result<ImportOptions, ApiError> {
    let map: BTreeMap<String, String> = match q.map.as_deref() {
        Some(text) => {
            serde_json::from_str(text).map_err(|e| ApiError::bad_request(format!("map must be a JSON object of header → field: {e}")))?
        }
        None => BTreeMap::new(),
    };
    let all_or_nothing = match q.mode.as_deref() {
        None | Some("row_by_row") => false,
        Some("all_or_nothing") => true,
        Some(other) => return Err(ApiError::bad_request(format!("unknown mode `{other}` (all_or_nothing or row_by_row)"))),
    };
    Ok(ImportOptions { dry_run: q.dry_run.unwrap_or(false), all_or_nothing, on_duplicate: q.on_duplicate.unwrap_or_default(), map })
}

/// Progress of an import the caller started: `{status: running|done|failed, done, total, report?}`.
#[utoipa::path(tag = "records", params(("id" = String, Path)), responses(
    (status = 200, description = "Progress and, when done, the report", body = crate::wire::ImportStatus),
    (status = 404, description = "No such import of yours", body = ErrorBody)))]
#[get("/api/imports/{id}")]
pub(crate) async fn import_status(caller: Caller, state: Data<AppState>, id: Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.engine.import_status(&caller.0, &id)?))
}
