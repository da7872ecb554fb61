//! Liveness and readiness in one: the database answers and the apps are loaded.

use actix_web::{HttpResponse, get, web};
use serde_json::json;

use crate::{ApiError, AppState};

/// Is the server up and its database reachable?
#[utoipa::path(tag = "meta", responses((status = 200, description = "Healthy", body = crate::wire::Health)))]
#[get("/api/health")]
pub(crate) async fn health(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.engine.health().await?;
    let database = match state.engine.backend() {
        engine::Backend::Sqlite => "sqlite",
        engine::Backend::Postgres => "postgres",
    };
    let apps = state.engine.app_ids();
    Ok(HttpResponse::Ok().json(json!({"status": "ok", "database": database, "apps": apps})))
}
