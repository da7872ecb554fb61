//! What the server tells about itself: `/api/metrics` (requests by route pattern, latency,
//! queues, SQLite write waits), who may read it, and the request log line.

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use e2e::{call, databases, repo, settings, start};
use engine::Engine;
use serde_json::{Value, json};

const RECORD_ROUTE: &str = "/api/apps/{app}/forms/{form}/records/{id}";
const RECORDS_ROUTE: &str = "/api/apps/{app}/forms/{form}/records";

fn post(form: &str, data: Value) -> TestRequest {
    TestRequest::post().uri(&format!("/api/apps/lab/forms/{form}/records")).set_json(json!({ "data": data }))
}

/// The lab with its users and an admin: the engine, the admin's token and u1's.
async fn lab_with_admin(url: &str) -> (Engine, String, String) {
    let engine = Engine::open_with(url, &[repo().join("tests/fixtures/lab")], &settings()).await.unwrap();
    engine.ensure_admin(Some("admin-pass")).await.unwrap();
    engine.seed("lab", "users").await.unwrap();
    let admin = engine.login("admin", "admin-pass").await.unwrap().token;
    let u1 = engine.login("u1", "pw").await.unwrap().token;
    (engine, admin, u1)
}

/// The value of the sample `name{labels}` in a text exposition, if it is there.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[actix_web::test]
async fn metrics_count_requests_by_route_pattern_and_show_the_queues() {
    for url in databases().await {
        let (engine, admin, u1) = lab_with_admin(&url).await;
        let app = start(engine).await;
        let u = Some(u1.as_str());

        let mut ids = Vec::new();
        for name in ["One", "Two"] {
            let (status, deal) = call(&app, post("deal", json!({"name": name, "qty": 1, "price": 5})), u).await;
            assert_eq!(status, StatusCode::CREATED, "{url}: {deal}");
            ids.push(deal["id"].as_str().unwrap().to_owned());
        }
        for id in &ids {
            let (status, _) = call(&app, TestRequest::get().uri(&format!("/api/apps/lab/forms/deal/records/{id}")), u).await;
            assert_eq!(status, StatusCode::OK, "{url}");
        }
        let (status, _) = call(&app, TestRequest::get().uri("/api/apps/lab/forms/deal/records/no-such-deal"), u).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{url}");
        call(&app, TestRequest::get().uri(&format!("/api/no/such/route/{}", ids[0])), u).await;

        let resp = test::call_service(
            &app,
            TestRequest::get().uri("/api/metrics").insert_header(("Authorization", format!("Bearer {admin}"))).to_request(),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::OK, "{url}");
        let content_type = resp.headers().get("content-type").unwrap().to_str().unwrap().to_owned();
        assert!(content_type.starts_with("text/plain; version=0.0.4"), "{url}: {content_type}");
        let text = String::from_utf8(test::read_body(resp).await.to_vec()).unwrap();

        let requests = |method: &str, route: &str, status: u16| {
            sample(&text, &format!(r#"tessera_http_requests_total{{method="{method}",route="{route}",status="{status}"}}"#))
        };
        assert_eq!(requests("POST", RECORDS_ROUTE, 201), Some(2.0), "{url}: {text}");
        assert_eq!(requests("GET", RECORD_ROUTE, 200), Some(2.0), "{url}: {text}");
        assert_eq!(requests("GET", RECORD_ROUTE, 404), Some(1.0), "{url}: {text}");
        assert_eq!(requests("GET", "unmatched", 404), Some(1.0), "{url}: one series for every path no route matched");
        let latency = format!(r#"tessera_http_request_duration_seconds_count{{method="GET",route="{RECORD_ROUTE}"}}"#);
        assert_eq!(sample(&text, &latency), Some(3.0), "{url}: {text}");
        let bucket = format!(r#"tessera_http_request_duration_seconds_bucket{{method="GET",route="{RECORD_ROUTE}",le="+Inf"}}"#);
        assert_eq!(sample(&text, &bucket), Some(3.0), "{url}: {text}");
        assert!(!ids.iter().any(|id| text.contains(id.as_str())), "{url}: raw paths would make a series per record");

        // The lab's schedule waits for its minute (or is due, if the minute passed meanwhile);
        // each deal told its owner it opened, and the outbox holds both messages.
        let due = sample(&text, r#"tessera_jobs_waiting{when="due"}"#).unwrap();
        let later = sample(&text, r#"tessera_jobs_waiting{when="later"}"#).unwrap();
        assert_eq!(due + later, 1.0, "{url}: {text}");
        assert_eq!(sample(&text, r#"tessera_outbox_undelivered{kind="notify"}"#), Some(2.0), "{url}: {text}");
        assert!(!text.contains("tessera_sqlite_write_wait_seconds"), "{url}: no write queue on PostgreSQL or in memory");
    }
}

#[actix_web::test]
async fn metrics_are_for_admins_and_the_scrape_token() {
    for url in databases().await {
        let (engine, admin, u1) = lab_with_admin(&url).await;
        let app = test::init_service(server::create_app(server::AppState::with_metrics_token(engine, "scrape-secret"))).await;
        let metrics = || TestRequest::get().uri("/api/metrics");

        let (status, body) = call(&app, metrics(), None).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")), "{url}: {body}");
        let (status, body) = call(&app, metrics(), Some("scrape-secreT")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{url}: a wrong token is no session either: {body}");
        let (status, body) = call(&app, metrics(), Some(&u1)).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{url}: {body}");
        let (status, body) = call(&app, metrics(), Some(&admin)).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        let (status, body) = call(&app, metrics(), Some("scrape-secret")).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        assert!(body.as_str().unwrap().contains("tessera_http_requests_total"), "{url}: {body}");

        // Without a token configured, the scrape token is only a wrong session.
        let (engine, _, _) = lab_with_admin(&url).await;
        let app = start(engine).await;
        let (status, _) = call(&app, metrics(), Some("")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{url}");
    }
}

#[actix_web::test]
async fn an_sqlite_file_shows_how_long_writes_waited_for_their_turn() {
    let dir = std::env::temp_dir().join(format!("tessera-metrics-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let (engine, admin, u1) = lab_with_admin(&format!("sqlite://{}/m.db", dir.display())).await;
    let app = start(engine).await;
    for name in ["One", "Two", "Three"] {
        let (status, body) = call(&app, post("deal", json!({"name": name, "qty": 1, "price": 5})), Some(&u1)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = call(&app, TestRequest::get().uri("/api/metrics"), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let text = body.as_str().unwrap();
    let waits = sample(text, "tessera_sqlite_write_wait_seconds_count").expect(text);
    assert!(waits >= 3.0, "each create waited for its turn once at least: {text}");
    assert_eq!(sample(text, r#"tessera_sqlite_write_wait_seconds_bucket{le="+Inf"}"#), Some(waits), "{text}");
    std::fs::remove_dir_all(&dir).ok();
}
