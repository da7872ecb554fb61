//! Tessera's HTTP server: actix-web routes and wire types, authentication of requests, and the
//! mapping of engine errors to HTTP. [`create_app`] builds the whole application; `main` and
//! the tests use the same one.
//!
//! Knows nothing of engine internals: every route is one engine command.

mod auth;
mod client;
mod error;
mod metrics;
mod ratelimit;
mod routes;
mod tabular;
mod wire;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, web};
use engine::Engine;
use utoipa::OpenApi as _;
use utoipa_actix_web::AppExt;

pub use client::TrustedProxies;
pub use error::ApiError;
pub use ratelimit::{MAX_FAILURES_PER_ADDRESS, MAX_FAILURES_PER_USER, MAX_SUBMISSIONS_PER_ADDRESS, MAX_TRACKED_KEYS};
pub use routes::{AUTH_BODY_BYTES, COMMAND_BODY_BYTES, IMPORT_BODY_BYTES, WEB_FORM_BODY_BYTES};
pub use tabular::{MAX_SHEET_CELLS, MAX_SHEET_COLUMNS, MAX_SHEET_ROWS, MAX_UNZIPPED_BYTES};

/// Largest JSON body of a record write, and of any other route without a limit of its own
/// (`routes` has those, one per kind of route); larger ones get 413.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Shared state of every request.
#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    login_limiter: std::sync::Arc<ratelimit::LoginLimiter>,
    submission_limiter: std::sync::Arc<ratelimit::SubmissionLimiter>,
    metrics: std::sync::Arc<metrics::Metrics>,
    proxies: TrustedProxies,
}

impl AppState {
    /// The state of a server whose metrics only admins read.
    pub fn new(engine: Engine) -> AppState {
        let metrics = std::sync::Arc::new(metrics::Metrics::new(engine.write_waits(), None));
        AppState { engine, login_limiter: Default::default(), submission_limiter: Default::default(), metrics, proxies: Default::default() }
    }

    /// This state, believing the client address that `proxies` put in `X-Forwarded-For`.
    pub fn behind(self, proxies: TrustedProxies) -> AppState {
        AppState { proxies, ..self }
    }

    /// The state of a server whose metrics a scraper also reads, sending `token` as its bearer
    /// token (`TESSERA_METRICS_TOKEN`); an empty token opens nothing.
    pub fn with_metrics_token(engine: Engine, token: &str) -> AppState {
        let metrics = std::sync::Arc::new(metrics::Metrics::new(engine.write_waits(), Some(token)));
        AppState { metrics, ..AppState::new(engine) }
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(info(title = "Tessera API", description = "Records, authentication and apps of a Tessera server."))]
struct ApiInfo;

/// The application: every route, documented in `/api/openapi.json` as it is registered.
pub fn create_app(
    state: AppState,
) -> App<
    impl ServiceFactory<ServiceRequest, Config = (), Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error, InitError = ()>,
> {
    let (app, mut api) = App::new()
        .into_utoipa_app()
        .openapi(ApiInfo::openapi())
        .app_data(web::Data::new(state))
        .app_data(error::json_config())
        .app_data(error::query_config())
        .app_data(error::path_config())
        .configure(routes::configure)
        .split_for_parts();
    api.paths.paths.retain(|path, _| path.starts_with("/api/"));
    routes::document_common_answers(&mut api);
    app.app_data(web::Data::new(routes::OpenApiDoc(api)))
        .service(routes::ui::index)
        .service(routes::ui::asset)
        .default_service(web::to(error::no_route))
        .wrap(from_fn(metrics::observe_request))
}
