//! The request log, in a process of its own: tracing's subscribers are per thread but its
//! callsite interest and level hints are process-wide, so tests of other suites starting and
//! dropping subscribers meanwhile could hide this one's lines.

use std::io::Write;
use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{call, repo, settings, start};
use engine::Engine;
use serde_json::json;

const RECORDS_ROUTE: &str = "/api/apps/{app}/forms/{form}/records";

async fn lab_with_admin(url: &str) -> (Engine, String) {
    let engine = Engine::open_with(url, &[repo().join("tests/fixtures/lab")], &settings()).await.unwrap();
    engine.ensure_admin(Some("admin-pass")).await.unwrap();
    engine.seed("lab", "users").await.unwrap();
    let admin = engine.login("admin", "admin-pass").await.unwrap().token;
    (engine, admin)
}

/// A writer the log test reads back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[actix_web::test]
async fn each_request_logs_one_line_with_its_route_status_and_user_but_no_secrets() {
    let url = "sqlite::memory:";
    let (engine, admin) = lab_with_admin(url).await;
    let app = start(engine).await;
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt().with_writer({
        let captured = captured.clone();
        move || captured.clone()
    });
    // The test's runtime is one thread: the subscriber sees every request of this test.
    let _guard = tracing::subscriber::set_default(subscriber.with_ansi(false).with_max_level(tracing::Level::INFO).finish());

    let (status, login) =
        call(&app, TestRequest::post().uri("/api/auth/login").set_json(json!({"username": "u2", "password": "pw"})), None).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let (status, _) = call(&app, TestRequest::get().uri("/api/apps/lab/forms/deal/records?limit=5"), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("answered")).collect();
    assert_eq!(lines.len(), 2, "one line a request: {log}");
    assert!(lines[0].contains("route=/api/auth/login") && lines[0].contains("status=200"), "{log}");
    let list = lines[1];
    assert!(list.contains(&format!("route={RECORDS_ROUTE}")) && list.contains("user=admin") && list.contains("duration_ms="), "{log}");
    let token = login["token"].as_str().unwrap();
    for secret in ["pw\"", token, admin.as_str(), "limit=5"] {
        assert!(!log.contains(secret), "{secret} in the log: {log}");
    }
}
