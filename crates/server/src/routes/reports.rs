//! The reports API: ad-hoc queries, saved reports (JSON, CSV, XLSX) and drill-down.

use actix_web::{HttpResponse, get, post, web};
use engine::{AppId, DrillParams, ExportFormat, ReportParams};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::auth::Caller;
use crate::wire::ErrorBody;
use crate::{ApiError, AppState};

/// Query parameters of a report.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReportQuery {
    /// `json` (default), `csv` or `xlsx`.
    format: Option<String>,
    /// Extra conditions as JSON, in the report filter language (dashboard filters).
    filter: Option<String>,
    /// Report over the records as they were at this time (ISO 8601).
    as_of: Option<String>,
    /// `true` adds the SQL and bound values of every statement.
    explain: Option<bool>,
    /// Language of export headers: `zh-CN` or `en` (default).
    lang: Option<String>,
}

impl ReportQuery {
    fn params(&self) -> Result<ReportParams, ApiError> {
        let filter = match self.filter.as_deref() {
            None | Some("") => Map::new(),
            Some(text) => match serde_json::from_str(text) {
                Ok(Value::Object(map)) => map,
                _ => return Err(ApiError::bad_request("filter must be a JSON object")),
            },
        };
        Ok(ReportParams { filter, as_of: self.as_of.clone(), explain: self.explain.unwrap_or(false), locale: self.lang.clone() })
    }
}

/// Runs an ad-hoc report; the body is a report definition (what the report builder sends).
#[utoipa::path(tag = "reports", params(("app" = String, Path), ReportQuery), request_body(content = std::collections::BTreeMap<String, Value>, description = "A report definition, as in `reports/*.json` (schemas/report.schema.json)"), responses(
    (status = 200, description = "`{columns, rows, truncated, totals?, pivot?, chart?, sql?}`", body = crate::wire::ReportResult),
    (status = 403, description = "A form or field the user may not read", body = ErrorBody),
    (status = 422, description = "Unknown field or invalid report; details carry JSON pointers", body = ErrorBody)))]
#[post("/api/apps/{app}/query")]
pub(crate) async fn run_query(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<AppId>,
    query: web::Query<ReportQuery>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let params = query.params()?;
    let result = state.engine.query(&caller.0, &path.into_inner(), &body.into_inner(), &params).await?;
    Ok(HttpResponse::Ok().json(result))
}

/// Runs a saved report, as JSON or exported as CSV or XLSX.
#[utoipa::path(tag = "reports", params(("app" = String, Path), ("report" = String, Path), ReportQuery), responses(
    (status = 200, description = "The result (JSON), or the export file", body = crate::wire::ReportResult),
    (status = 403, description = "A form or field the user may not read or export", body = ErrorBody),
    (status = 404, description = "No such report", body = ErrorBody)))]
#[get("/api/apps/{app}/reports/{report}")]
pub(crate) async fn report(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(AppId, String)>,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let (app, id) = path.into_inner();
    let params = query.params()?;
    let (format, content_type, ext) = match query.format.as_deref().unwrap_or("json") {
        "json" => {
            let result = state.engine.report(&caller.0, &app, &id, &params).await?;
            return Ok(HttpResponse::Ok().json(result));
        }
        "csv" => (ExportFormat::Csv, "text/csv; charset=utf-8", "csv"),
        "xlsx" => (ExportFormat::Xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
        other => return Err(ApiError::bad_request(format!("format must be json, csv or xlsx, not `{other}`"))),
    };
    let bytes = state.engine.report_export(&caller.0, &app, &id, &params, format).await?;
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Content-Disposition", format!("attachment; filename=\"{id}.{ext}\"")))
        .body(bytes))
}

/// Body of a drill-down.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DrillBody {
    /// Dimension values by dimension id: `{"stage": "proposal"}`.
    #[serde(default)]
    #[schema(value_type = std::collections::BTreeMap<String, Value>)]
    cell: Map<String, Value>,
    /// A measure whose own filter applies too.
    measure: Option<String>,
    /// Extra conditions (the dashboard's filters).
    #[serde(default)]
    #[schema(value_type = std::collections::BTreeMap<String, Value>)]
    filter: Map<String, Value>,
    limit: Option<u64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The records behind one cell of a saved report, as a list page.
#[utoipa::path(tag = "reports", params(("app" = String, Path), ("report" = String, Path)), request_body = DrillBody, responses(
    (status = 200, description = "`{items: [envelope], next_cursor}`", body = crate::wire::Page),
    (status = 422, description = "Unknown dimension or measure", body = ErrorBody)))]
#[post("/api/apps/{app}/reports/{report}/drill")]
pub(crate) async fn drill(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(AppId, String)>,
    body: web::Json<DrillBody>,
) -> Result<HttpResponse, ApiError> {
    let (app, id) = path.into_inner();
    let b = body.into_inner();
    let params = DrillParams { cell: b.cell, measure: b.measure, filter: b.filter, limit: b.limit, cursor: b.cursor };
    let page = state.engine.drill(&caller.0, &app, &id, &params).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Query parameters of a dashboard.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct DashboardQuery {
    /// The dashboard's filters as JSON: filter id → a period (`"this_month"`), a list of
    /// values, or a condition.
    filter: Option<String>,
}

/// A dashboard: every tile's report, with the dashboard filters applied where they fit.
#[utoipa::path(tag = "reports", params(("app" = String, Path), ("dashboard" = String, Path), DashboardQuery), responses(
    (status = 200, description = "`{id, label, filters, tiles: [{report, width, height, result | error}]}`", body = crate::wire::Dashboard),
    (status = 400, description = "A filter the dashboard does not have", body = ErrorBody),
    (status = 404, description = "No such dashboard", body = ErrorBody)))]
#[get("/api/apps/{app}/dashboards/{dashboard}")]
pub(crate) async fn dashboard(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(AppId, String)>,
    query: web::Query<DashboardQuery>,
) -> Result<HttpResponse, ApiError> {
    let (app, id) = path.into_inner();
    let values = match query.filter.as_deref() {
        None | Some("") => Map::new(),
        Some(text) => match serde_json::from_str(text) {
            Ok(Value::Object(map)) => map,
            _ => return Err(ApiError::bad_request("filter must be a JSON object")),
        },
    };
    Ok(HttpResponse::Ok().json(state.engine.dashboard(&caller.0, &app, &id, &values).await?))
}
