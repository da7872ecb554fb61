//! Shared helpers for the end-to-end suites: databases to run against (SQLite always,
//! PostgreSQL when `TESSERA_TEST_PG` names a server), an in-process server, and requests.

use std::path::PathBuf;

pub mod contract;
pub mod own_postgres;
pub mod receiver;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use engine::Engine;
use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Copies the folder `src` (an app, say) to `dst`, recursively.
pub fn copy_dir(src: &std::path::Path, dst: &std::path::Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let target = dst.join(path.file_name().unwrap());
        if path.is_dir() { copy_dir(&path, &target) } else { std::fs::copy(&path, &target).map(|_| ()).unwrap() }
    }
}

/// Database URLs to run a suite against: a fresh in-memory SQLite, and a fresh PostgreSQL
/// database when `TESSERA_TEST_PG` is set (`postgres://user@host:port`). In CI (`CI` set)
/// PostgreSQL is required: a suite that silently skipped it would prove nothing.
pub async fn databases() -> Vec<String> {
    let mut urls = vec!["sqlite::memory:".to_owned()];
    match std::env::var("TESSERA_TEST_PG") {
        Ok(base) => urls.push(fresh_postgres(&base).await),
        Err(_) if std::env::var_os("CI").is_some() => panic!("CI must set TESSERA_TEST_PG to a PostgreSQL server"),
        Err(_) => eprintln!("note: TESSERA_TEST_PG is not set; skipping PostgreSQL for this test"),
    }
    urls
}

/// An SQLite file in `dir` and, when [`databases`] gives one, a new PostgreSQL database: for
/// tests that reach the database from another connection too (an in-memory SQLite is one
/// connection's only).
pub async fn file_databases(dir: &std::path::Path) -> Vec<String> {
    let mut urls = vec![format!("sqlite://{}/t.db?mode=rwc", dir.display())];
    urls.extend(databases().await.into_iter().filter(|u| u.starts_with("postgres")));
    urls
}

/// The lab app (`tests/fixtures/lab`) in `dir`, with `flow` as the flow of its `task` form;
/// called again on the same `dir`, it writes the app's next version.
pub fn lab_with_task_flow(dir: &std::path::Path, flow: &Value) {
    copy_dir(&repo().join("tests/fixtures/lab"), dir);
    std::fs::create_dir_all(dir.join("flows")).unwrap();
    std::fs::write(dir.join("flows/task.json"), serde_json::to_string_pretty(flow).unwrap()).unwrap();
}

/// Creates an empty database on the server at `base` and returns its URL. The first call of a
/// run also drops the test databases earlier runs left (older than [`STALE_TEST_DATABASE`]):
/// each test makes its own and none drops it, and on a developer's server they fill the disk.
pub async fn fresh_postgres(base: &str) -> String {
    static SWEPT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let base = base.trim_end_matches('/');
    let name = format!("t_{}", uuid::Uuid::now_v7().simple());
    let admin = Database::connect(format!("{base}/postgres")).await.expect("PostgreSQL reachable at TESSERA_TEST_PG");
    if !SWEPT.swap(true, std::sync::atomic::Ordering::SeqCst) {
        drop_stale_databases(&admin).await;
    }
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create test database");
    admin.close().await.ok();
    format!("{base}/{name}")
}

/// Test databases older than this are left over from an earlier run: no run lasts that long.
const STALE_TEST_DATABASE: std::time::Duration = std::time::Duration::from_secs(3 * 3600);

/// Drops the test databases (`t_<uuid v7>`, the uuid telling when it was made) older than
/// [`STALE_TEST_DATABASE`]. Best effort: another run may be dropping them too.
async fn drop_stale_databases(admin: &sea_orm::DatabaseConnection) {
    let Ok(rows) =
        admin.query_all_raw(sea_orm::Statement::from_string(admin.get_database_backend(), "SELECT datname FROM pg_database")).await
    else {
        return;
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    for name in rows.iter().filter_map(|row| row.try_get::<String>("", "datname").ok()) {
        let made = name.strip_prefix("t_").and_then(|id| uuid::Uuid::parse_str(id).ok()).and_then(|id| id.get_timestamp());
        if made.is_some_and(|t| now.saturating_sub(std::time::Duration::from_secs(t.to_unix().0)) > STALE_TEST_DATABASE) {
            admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.ok();
        }
    }
}

/// How the suites run the CRM: as `serve` does, but with a rule deadline of
/// [`TEST_RULE_DEADLINE`].
pub fn settings() -> engine::Settings {
    engine::Settings { rule_limits: engine::RuleLimits { deadline: TEST_RULE_DEADLINE, ..Default::default() }, ..Default::default() }
}

/// The rule deadline of the suites. The default of 100 ms is meant for release builds; the suites
/// run a debug build, which runs scripts many times slower, on two cores shared by tests running
/// in parallel, where a scheduler's pause alone can pass 100 ms. Tests of the deadline set their own.
pub const TEST_RULE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(2);

/// An engine with the CRM app loaded on `url`, and a logged-in admin's token.
pub async fn crm(url: &str) -> (Engine, String) {
    let engine = Engine::open_with(url, &[repo().join("apps/crm")], &settings()).await.expect("engine opens");
    engine.ensure_admin(Some("admin-pass")).await.expect("admin");
    let token = engine.login("admin", "admin-pass").await.expect("login").token;
    (engine, token)
}

/// Typed ids for calling the engine directly (`app_id("crm")`, `record_id(&envelope.id)`);
/// they panic on text that is not one, as a test's own ids never are.
pub fn app_id(id: &str) -> engine::AppId {
    engine::AppId::parse(id).expect("an app id")
}

/// See [`app_id`].
pub fn form_id(id: &str) -> engine::FormId {
    engine::FormId::parse(id).expect("a form id")
}

/// See [`app_id`].
pub fn record_id(id: &str) -> engine::RecordId {
    engine::RecordId::parse(id).expect("a record id")
}

/// The in-process server over `engine`, exactly as `tessera serve` builds it.
pub async fn start(
    engine: Engine,
) -> impl Service<actix_http::Request, Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error> {
    test::init_service(server::create_app(server::AppState::new(engine))).await
}

/// Sends `req` (with the bearer `token`, if any) and returns status and JSON body (Null if empty).
pub async fn call<S, B>(app: &S, req: TestRequest, token: Option<&str>) -> (StatusCode, Value)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let (status, _, body) = call_typed(app, req, token).await;
    (status, body)
}

/// [`call`], with the answer's media type (its `Content-Type` without parameters; empty when
/// it has none).
pub async fn call_typed<S, B>(app: &S, req: TestRequest, token: Option<&str>) -> (StatusCode, String, Value)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let req = match token {
        Some(t) => req.insert_header(("Authorization", format!("Bearer {t}"))),
        None => req,
    };
    let resp = test::call_service(app, req.to_request()).await;
    let status = resp.status();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_owned())
        .unwrap_or_default();
    let bytes = test::read_body(resp).await;
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    (status, content_type, body)
}

/// The token of the demo user `username` (password `demo`, seeded by `seed_users`).
pub async fn demo_token(engine: &Engine, username: &str) -> String {
    engine.login(username, "demo").await.expect("a demo user logs in").token
}

/// An engine with the rules lab (`tests/fixtures/lab`) loaded and its users seeded, and
/// tokens of `u1` and `u2`.
pub async fn lab(url: &str, settings: &engine::Settings) -> (Engine, String, String) {
    let engine = Engine::open_with(url, &[repo().join("tests/fixtures/lab")], settings).await.expect("lab opens");
    engine.seed("lab", "users").await.expect("lab users");
    let u1 = engine.login("u1", "pw").await.expect("u1").token;
    let u2 = engine.login("u2", "pw").await.expect("u2").token;
    (engine, u1, u2)
}

/// An OpenAPI `path` with each `{parameter}` replaced by `value(parameter)`, as it stands.
pub fn fill_path(path: &str, mut value: impl FnMut(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').expect("a closed parameter") + open;
        out.push_str(&rest[..open]);
        out.push_str(&value(&rest[open + 1..close]));
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// `text` percent-encoded for a query string (RFC 3986's unreserved characters kept).
pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
