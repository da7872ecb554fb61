//! The palettes: field types for form designers, chart kinds for dashboards and report builders,
//! the rule functions for expression and script editors.

use actix_web::{HttpResponse, get, web};
use serde_json::json;

use crate::auth::Caller;
use crate::{ApiError, AppState};

/// Every field type with its widget, facets (column, operators, report behaviour) and the JSON
/// Schema of the properties a designer may set on it; admins only.
#[utoipa::path(tag = "apps", responses(
    (status = 200, description = "The palette of field types", body = crate::wire::FieldTypePalette),
    (status = 403, description = "Not an admin", body = crate::wire::ErrorBody)))]
#[get("/api/field-types")]
pub(crate) async fn field_types(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.engine.field_types(&caller.0)?))
}

/// Every chart kind with the result it can draw (dimensions, measures, series, a category
/// naming places), its label and the UI renderer that draws it; for every signed-in user.
#[utoipa::path(tag = "apps", responses(
    (status = 200, description = "The chart kinds", body = crate::wire::ChartKindPalette),
    (status = 401, description = "Not signed in", body = crate::wire::ErrorBody)))]
#[get("/api/chart-kinds")]
pub(crate) async fn chart_kinds(caller: Caller, state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"kinds": state.engine.chart_kinds(&caller.0)}))
}

/// The platform functions a rule or an expression may call, for editors' completion and help:
/// `{items: [{name, call, returns, group, doc}]}` (`docs/rule-functions.md` is made from the same
/// table); for every signed-in user.
#[utoipa::path(tag = "apps", responses(
    (status = 200, description = "The rule functions", body = crate::wire::RuleFunctions),
    (status = 401, description = "Not signed in", body = crate::wire::ErrorBody)))]
#[get("/api/rule-functions")]
pub(crate) async fn rule_functions(_caller: Caller) -> HttpResponse {
    HttpResponse::Ok().json(json!({"items": engine::RULE_FUNCTIONS}))
}
