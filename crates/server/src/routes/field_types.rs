//! The field type palette, for form designers.

use actix_web::{HttpResponse, get, web};

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
