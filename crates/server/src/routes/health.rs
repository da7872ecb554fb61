//! Liveness with the state of what the server depends on, and readiness for load balancers.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use serde_json::json;

use crate::AppState;

/// Is the server up, and does its database answer? 503 names what is down; the server keeps
/// running and serves again by itself once the database is back.
#[utoipa::path(tag = "meta", responses(
    (status = 200, description = "Healthy", body = crate::wire::Health),
    (status = 503, description = "A dependency is down (`down` names it)", body = crate::wire::Health)))]
#[get("/api/health")]
pub(crate) async fn health(state: web::Data<AppState>) -> HttpResponse {
    report(&state).await
}

/// Should this server get requests? 200 when its database answers, 503 while it does not: for a
/// load balancer's readiness check, so traffic goes to servers that can serve it.
#[utoipa::path(tag = "meta", responses(
    (status = 200, description = "Ready", body = crate::wire::Health),
    (status = 503, description = "Not ready: a dependency is down", body = crate::wire::Health)))]
#[get("/api/ready")]
pub(crate) async fn ready(state: web::Data<AppState>) -> HttpResponse {
    report(&state).await
}

async fn report(state: &AppState) -> HttpResponse {
    let database = match state.engine.backend() {
        engine::Backend::Sqlite => "sqlite",
        engine::Backend::Postgres => "postgres",
    };
    let (status, text, down) = match state.engine.health().await {
        Ok(()) => (StatusCode::OK, "ok", vec![]),
        Err(e) => {
            tracing::warn!(error = %e, "health: the database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable", vec!["database"])
        }
    };
    let mut response = HttpResponse::build(status);
    if !down.is_empty() {
        response.insert_header(("Retry-After", crate::error::RETRY_AFTER_UNAVAILABLE_SECS.to_string()));
    }
    response.json(json!({"status": text, "database": database, "down": down, "apps": state.engine.app_ids()}))
}
