//! What the server tells about itself: a tracing span and one log line per request, and the
//! metrics `GET /api/metrics` writes in Prometheus's text format.
//!
//! Labels come only from bounded sets, so no request can grow the number of series: the route's
//! pattern (`/api/apps/{app}/forms/{form}/records/{id}`, never the raw path), the standard
//! methods, the status code.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web;
use engine::{EngineError, QueueDepths};
use prometheus::{Encoder as _, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};
use sha2::{Digest as _, Sha256};
use tracing::Instrument as _;
use tracing::field::Empty;

use crate::AppState;

/// The route label of a request no route matched (a mistyped or probing path): one series for
/// all of them.
const UNMATCHED_ROUTE: &str = "unmatched";

/// The request metrics of one server, and who may read them besides admins.
pub(crate) struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    /// SHA-256 of the scrape token (`TESSERA_METRICS_TOKEN`): compared as digests, so the time a
    /// comparison takes tells nothing of the token.
    scrape_token: Option<[u8; 32]>,
}

impl Metrics {
    /// New metrics; the SQLite writer's wait histogram, if the engine has one, is read with them.
    pub(crate) fn new(write_waits: Option<prometheus::Histogram>, scrape_token: Option<&str>) -> Metrics {
        // The definitions are constants, checked by the tests: they cannot fail at run time.
        let requests = IntCounterVec::new(
            Opts::new("tessera_http_requests_total", "HTTP requests answered, by method, route pattern and status"),
            &["method", "route", "status"],
        )
        .expect("valid counter");
        let latency = HistogramVec::new(
            HistogramOpts::new("tessera_http_request_duration_seconds", "Time to the response head, by method and route pattern"),
            &["method", "route"],
        )
        .expect("valid histogram");
        let registry = Registry::new();
        registry.register(Box::new(requests.clone())).expect("first registration");
        registry.register(Box::new(latency.clone())).expect("first registration");
        if let Some(waits) = write_waits {
            registry.register(Box::new(waits)).expect("first registration");
        }
        let scrape_token = scrape_token.filter(|t| !t.is_empty()).map(|t| Sha256::digest(t.as_bytes()).into());
        Metrics { registry, requests, latency, scrape_token }
    }

    /// Whether `bearer` is the scrape token.
    pub(crate) fn is_scrape_token(&self, bearer: &str) -> bool {
        self.scrape_token.is_some_and(|digest| <[u8; 32]>::from(Sha256::digest(bearer.as_bytes())) == digest)
    }

    fn observe(&self, method: &str, route: &str, status: StatusCode, elapsed: Duration) {
        self.requests.with_label_values(&[method, route, status.as_str()]).inc();
        self.latency.with_label_values(&[method, route]).observe(elapsed.as_secs_f64());
    }

    /// Every metric in the text format, with the queues' depths as read now.
    pub(crate) fn render(&self, depths: &QueueDepths) -> Result<String, EngineError> {
        let mut families = self.registry.gather();
        families.extend(depth_gauges(depths).map_err(internal)?.gather());
        let mut text = Vec::new();
        TextEncoder::new().encode(&families, &mut text).map_err(internal)?;
        String::from_utf8(text).map_err(internal)
    }
}

/// The queues' depths as gauges, in a registry of their own made for one scrape: a kind of
/// message that has left the outbox leaves no stale series behind.
fn depth_gauges(depths: &QueueDepths) -> prometheus::Result<Registry> {
    let jobs = IntGaugeVec::new(Opts::new("tessera_jobs_waiting", "Jobs waiting to run: due now, or due later"), &["when"])?;
    jobs.with_label_values(&["due"]).set(gauge(depths.due_jobs));
    jobs.with_label_values(&["later"]).set(gauge(depths.later_jobs));
    let outbox = IntGaugeVec::new(Opts::new("tessera_outbox_undelivered", "Outbox messages not delivered yet, by kind"), &["kind"])?;
    for (kind, count) in &depths.undelivered {
        outbox.with_label_values(&[kind.as_str()]).set(gauge(*count));
    }
    let registry = Registry::new();
    registry.register(Box::new(jobs))?;
    registry.register(Box::new(outbox))?;
    Ok(registry)
}

fn gauge(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

fn internal(e: impl std::fmt::Display) -> EngineError {
    EngineError::Internal(format!("cannot write the metrics: {e}"))
}

/// The method label: a client may send any token as a method, so other methods share one.
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [Method; 7] = [Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS];
    KNOWN.iter().find(|known| *known == method).map_or("other", Method::as_str)
}

/// Middleware around every request: a span (method, route pattern, status, duration, and the
/// user once authentication names them), one log line at info level, and the request metrics.
/// Bodies, query strings and headers are never logged: they carry tokens, passwords and data.
pub(crate) async fn observe_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let method = method_label(req.method());
    let route = req.match_pattern().unwrap_or_else(|| UNMATCHED_ROUTE.to_owned());
    let path = req.path().to_owned();
    let metrics = req.app_data::<web::Data<AppState>>().map(|state| Arc::clone(&state.metrics));
    let span = tracing::info_span!("request", method = %method, route = %route, user = Empty, status = Empty, duration_ms = Empty);
    let started = Instant::now();
    let result = next.call(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = match &result {
        Ok(response) => response.status(),
        Err(e) => e.as_response_error().status_code(),
    };
    span.record("status", status.as_u16()).record("duration_ms", elapsed.as_secs_f64() * 1000.0);
    span.in_scope(|| tracing::info!(%path, "answered"));
    if let Some(metrics) = metrics {
        metrics.observe(method, &route, status, elapsed);
    }
    result
}

/// Names the authenticated user on the request's span.
pub(crate) fn record_user(username: &str) {
    tracing::Span::current().record("user", tracing::field::display(username));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_defined_and_written_with_the_queues() {
        let metrics = Metrics::new(None, Some("s3cret"));
        metrics.observe("GET", "/api/health", StatusCode::OK, Duration::from_millis(3));
        let depths = QueueDepths { due_jobs: 2, later_jobs: 5, undelivered: vec![("notify".into(), 7)] };
        let text = metrics.render(&depths).unwrap();
        assert!(text.contains(r#"tessera_http_requests_total{method="GET",route="/api/health",status="200"} 1"#), "{text}");
        assert!(text.contains(r#"tessera_jobs_waiting{when="due"} 2"#), "{text}");
        assert!(text.contains(r#"tessera_outbox_undelivered{kind="notify"} 7"#), "{text}");
        assert!(metrics.is_scrape_token("s3cret") && !metrics.is_scrape_token("s3cre"));
        assert!(!Metrics::new(None, Some("")).is_scrape_token(""), "an empty token opens nothing");
    }

    #[test]
    fn a_made_up_method_shares_one_label() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        assert_eq!(method_label(&Method::from_bytes(b"PROBE1").unwrap()), "other");
    }
}
