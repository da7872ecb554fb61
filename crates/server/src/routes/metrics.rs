//! The server's metrics for Prometheus: requests, latency, queues and SQLite write waits.

use actix_web::dev::Payload;
use actix_web::{FromRequest as _, HttpRequest, HttpResponse, get, web};
use engine::Actor;

use crate::auth::{Caller, token};
use crate::{ApiError, AppState};

/// Every metric in Prometheus's text format. Readable by admins, and by a scraper sending the
/// token the server was started with (`TESSERA_METRICS_TOKEN`) as its bearer token.
#[utoipa::path(tag = "meta", responses(
    (status = 200, description = "Prometheus text exposition format 0.0.4", content_type = "text/plain; version=0.0.4", body = String),
    (status = 401, description = "Neither a session nor the scrape token", body = crate::wire::ErrorBody),
    (status = 403, description = "Not an admin", body = crate::wire::ErrorBody)))]
#[get("/api/metrics")]
pub(crate) async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let reader = reader(&req, &state).await?;
    let depths = state.engine.queue_depths(&reader).await?;
    let text = state.metrics.render(&depths)?;
    Ok(HttpResponse::Ok().content_type(prometheus::TEXT_FORMAT).body(text))
}

/// Who reads: the platform itself for the scrape token, else the authenticated caller.
async fn reader(req: &HttpRequest, state: &AppState) -> Result<Actor, ApiError> {
    match token(req) {
        Some((bearer, false)) if state.metrics.is_scrape_token(&bearer) => Ok(Actor::system()),
        _ => Ok(Caller::from_request(req, &mut Payload::None).await?.0),
    }
}
