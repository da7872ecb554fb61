//! The index advisor: slow lists and reports (every one, with the threshold at 0) become index
//! proposals naming fields, never values; an admin applies one and the database has it (and
//! SQLite's plan of the list uses it) or drops it; an app that allows it gets its index by
//! itself, audited; what a declared index serves is not proposed; others are refused.

use std::path::Path;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{call, repo, start, url_encode};
use engine::{AdvisorSettings, Engine, Settings};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};

const ACCOUNTS: &str = "/api/apps/crm/forms/account/records";
const ADVICE: &str = "/api/apps/crm/index-advice";
/// A value the advice must never show: the advisor keeps shapes, not what was asked.
const SECRET: &str = "TopSecretShortName";

/// Every list and report counts as slow.
fn settings() -> Settings {
    Settings { index_advisor: AdvisorSettings { slow_query: Duration::ZERO }, ..e2e::settings() }
}

/// Databases another connection can look into: an SQLite file in `dir`, and PostgreSQL when
/// `TESSERA_TEST_PG` is set.
async fn databases(dir: &Path) -> Vec<String> {
    let mut urls = vec![format!("sqlite://{}/t.db", dir.display())];
    if let Ok(base) = std::env::var("TESSERA_TEST_PG") {
        urls.push(e2e::fresh_postgres(&base).await);
    }
    urls
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-{name}-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The engine over the app in `app_dir` with every query slow, and an admin's token.
async fn open(url: &str, app_dir: &Path) -> (Engine, String) {
    let engine = Engine::open_with(url, &[app_dir.to_owned()], &settings()).await.expect("engine opens");
    engine.ensure_admin(Some("admin-pass")).await.expect("admin");
    let token = engine.login("admin", "admin-pass").await.expect("login").token;
    (engine, token)
}

fn list(filter: &Value, sort: &str) -> TestRequest {
    TestRequest::get().uri(&format!("{ACCOUNTS}?filter={}&sort={sort}", url_encode(&filter.to_string())))
}

/// The names of `table`'s indexes in the database at `url`.
async fn indexes_of(url: &str, table: &str) -> Vec<String> {
    let db = Database::connect(url).await.unwrap();
    let sql = if url.starts_with("sqlite") {
        format!("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = '{table}'")
    } else {
        format!("SELECT indexname::text AS name FROM pg_indexes WHERE tablename = '{table}'")
    };
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
    db.close().await.ok();
    rows.iter().map(|r| r.try_get::<String>("", "name").unwrap()).collect()
}

/// SQLite's plan of the list filtered by short name and sorted by name, as the store writes it.
async fn sqlite_plan(url: &str) -> Vec<String> {
    let db = Database::connect(url).await.unwrap();
    let sql = "EXPLAIN QUERY PLAN SELECT id FROM r_crm__account WHERE deleted_at IS NULL AND \"f_short_name\" = 'x' \
               ORDER BY \"f_name\" ASC NULLS FIRST, id ASC LIMIT 51";
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
    db.close().await.ok();
    rows.iter().map(|r| r.try_get::<String>("", "detail").unwrap()).collect()
}

fn proposal_with<'a>(advice: &'a Value, fields: &[&str]) -> Option<&'a Value> {
    advice["proposals"].as_array()?.iter().find(|p| p["fields"] == json!(fields))
}

#[actix_web::test]
async fn slow_lists_and_reports_are_proposed_applied_and_dropped_by_admins_only() {
    let dir = temp_dir("advisor");
    for url in databases(&dir).await {
        let (engine, admin) = open(&url, &repo().join("apps/crm")).await;
        engine.seed_users("crm", "demo").await.unwrap();
        let rep = engine.login("rep1", "demo").await.unwrap().token;
        let app = start(engine).await;
        let t = Some(admin.as_str());
        let (status, body) =
            call(&app, TestRequest::post().uri(ACCOUNTS).set_json(json!({"data": {"name": "A", "short_name": SECRET}})), t).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {body}");

        // A list filtered by an unindexed field and sorted by another; one by a declared index.
        let (status, body) = call(&app, list(&json!({"short_name": SECRET}), "name"), t).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        assert_eq!(call(&app, list(&json!({"region": "east"}), "-updated_at"), t).await.0, StatusCode::OK);
        // A report grouping by an unindexed field.
        let report = json!({"source": "opportunity", "dimensions": [{"id": "source", "field": "source"}],
                            "measures": [{"id": "total", "agg": "sum", "field": "amount"}]});
        let (status, body) = call(&app, TestRequest::post().uri("/api/apps/crm/query").set_json(report), t).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");

        let (status, advice) = call(&app, TestRequest::get().uri(ADVICE), t).await;
        assert_eq!(status, StatusCode::OK, "{url}: {advice}");
        assert!(!advice.to_string().contains(SECRET), "{url}: a value reached the advice: {advice}");
        let listed = proposal_with(&advice, &["short_name", "name"]).unwrap_or_else(|| panic!("{url}: no list proposal: {advice}"));
        assert_eq!(listed["observed"]["count"], 1, "{url}: {advice}");
        assert!(proposal_with(&advice, &["source", "amount"]).is_some(), "{url}: no report proposal: {advice}");
        let proposed: Vec<&Value> = advice["proposals"].as_array().unwrap().iter().collect();
        assert!(proposed.iter().all(|p| p["fields"][0] != "region"), "{url}: a declared index serves region: {advice}");

        // Only admins see or change it.
        assert_eq!(call(&app, TestRequest::get().uri(ADVICE), Some(&rep)).await.0, StatusCode::FORBIDDEN, "{url}");
        let id = listed["id"].as_str().unwrap().to_owned();
        let apply = || TestRequest::post().uri(&format!("{ADVICE}/{id}"));
        assert_eq!(call(&app, apply(), Some(&rep)).await.0, StatusCode::FORBIDDEN, "{url}");
        assert!(!indexes_of(&url, "r_crm__account").await.contains(&id), "{url}: made before it was applied");

        let (status, created) = call(&app, apply(), t).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {created}");
        assert_eq!(created["id"], json!(id));
        assert!(indexes_of(&url, "r_crm__account").await.contains(&id), "{url}: the index is missing");
        if url.starts_with("sqlite") {
            let plan = sqlite_plan(&url).await;
            assert!(plan.iter().any(|d| d.contains(&format!("USING INDEX {id}"))), "{url}: {plan:?}");
        }
        call(&app, list(&json!({"short_name": "another"}), "name"), t).await;
        let (_, advice) = call(&app, TestRequest::get().uri(ADVICE), t).await;
        let applied = &advice["applied"][0];
        assert_eq!(applied["id"], json!(id), "{url}: {advice}");
        assert_eq!((applied["before"]["count"].clone(), applied["since"]["count"].clone()), (json!(1), json!(1)), "{url}: {advice}");
        assert!(proposal_with(&advice, &["short_name", "name"]).is_none(), "{url}: still proposed once applied: {advice}");
        assert_eq!(call(&app, apply(), t).await.0, StatusCode::NOT_FOUND, "{url}: applied twice");

        let drop = || TestRequest::delete().uri(&format!("{ADVICE}/{id}"));
        assert_eq!(call(&app, drop(), Some(&rep)).await.0, StatusCode::FORBIDDEN, "{url}");
        assert_eq!(call(&app, drop(), t).await.0, StatusCode::NO_CONTENT, "{url}");
        assert!(!indexes_of(&url, "r_crm__account").await.contains(&id), "{url}: the index is still there");
        assert_eq!(call(&app, drop(), t).await.0, StatusCode::NOT_FOUND, "{url}: dropped twice");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[actix_web::test]
async fn an_app_that_allows_it_gets_its_index_after_enough_slow_runs_audited_and_kept_across_restarts() {
    let dir = temp_dir("advisor-auto");
    let app_dir = dir.join("crm");
    e2e::copy_dir(&repo().join("apps/crm"), &app_dir);
    let mut manifest: Value = serde_json::from_str(&std::fs::read_to_string(app_dir.join("app.json")).unwrap()).unwrap();
    manifest["indexes"] = json!({"automatic": true});
    std::fs::write(app_dir.join("app.json"), serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
    for url in databases(&dir).await {
        let (engine, admin) = open(&url, &app_dir).await;
        let app = start(engine.clone()).await;
        let t = Some(admin.as_str());
        for _ in 0..engine::AUTOMATIC_AFTER_SLOW_RUNS - 1 {
            assert_eq!(call(&app, list(&json!({"short_name": "x"}), "name"), t).await.0, StatusCode::OK);
        }
        let (_, advice) = call(&app, TestRequest::get().uri(ADVICE), t).await;
        assert_eq!(advice["applied"], json!([]), "{url}: made before enough slow runs: {advice}");
        call(&app, list(&json!({"short_name": "x"}), "name"), t).await;

        // The index is made in the background: wait for it, far longer than it takes.
        let mut applied = Value::Null;
        for _ in 0..300 {
            let (_, advice) = call(&app, TestRequest::get().uri(ADVICE), t).await;
            if let Some(first) = advice["applied"].get(0) {
                applied = first.clone();
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(applied["fields"], json!(["short_name", "name"]), "{url}: no index made by the advisor");
        assert_eq!(applied["created_by"], "index_advisor", "{url}: {applied}");
        let id = applied["id"].as_str().unwrap().to_owned();
        let (_, audit) = call(&app, TestRequest::get().uri("/api/audit?actor=index_advisor"), t).await;
        let row = &audit["items"][0];
        assert_eq!((row["action"].as_str(), row["form"].as_str()), (Some("index"), Some("account")), "{url}: {audit}");
        assert_eq!(row["after"]["index"], json!(id), "{url}: {audit}");

        // Made again when the engine opens, should the index be gone.
        let db = Database::connect(&url).await.unwrap();
        db.execute_unprepared(&format!("DROP INDEX \"{id}\"")).await.unwrap();
        db.close().await.ok();
        drop(app);
        engine.close().await.unwrap();
        let (engine, _) = open(&url, &app_dir).await;
        assert!(indexes_of(&url, "r_crm__account").await.contains(&id), "{url}: not made again at start-up");
        engine.close().await.unwrap();
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Runs `sql` on the database at `url`.
async fn execute(url: &str, sql: &str) {
    let db = Database::connect(url).await.unwrap();
    db.execute_unprepared(sql).await.unwrap();
    db.close().await.ok();
}

#[actix_web::test]
async fn only_what_an_index_can_serve_is_proposed_and_a_broken_advised_index_does_not_stop_a_start() {
    let dir = temp_dir("advisor-edges");
    for url in databases(&dir).await {
        let (engine, admin) = open(&url, &repo().join("apps/crm")).await;
        let app = start(engine.clone()).await;
        let t = Some(admin.as_str());
        // Sorted by a system column first: only the filter's field can lead an index.
        assert_eq!(call(&app, list(&json!({"short_name": "x"}), "-updated_at,name"), t).await.0, StatusCode::OK);
        // A report as of a past time reads the history, which no index of the live table serves.
        let report =
            json!({"source": "opportunity", "dimensions": [{"id": "d", "field": "type"}], "measures": [{"id": "n", "agg": "count"}]});
        let past = TestRequest::post().uri("/api/apps/crm/query?as_of=2026-01-01T00:00:00Z").set_json(report);
        let (status, body) = call(&app, past, t).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        let (_, advice) = call(&app, TestRequest::get().uri(ADVICE), t).await;
        let proposed: Vec<&Value> = advice["proposals"].as_array().unwrap().iter().map(|p| &p["fields"]).collect();
        assert_eq!(proposed, [&json!(["short_name"])], "{url}: {advice}");

        let id = advice["proposals"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(call(&app, TestRequest::post().uri(&format!("{ADVICE}/{id}")), t).await.0, StatusCode::CREATED, "{url}");
        drop(app);
        engine.close().await.unwrap();
        if url.starts_with("postgres") {
            // A build that died midway leaves an invalid index, which the planner never uses.
            execute(&url, &format!("UPDATE pg_index SET indisvalid = false WHERE indexrelid = '\"{id}\"'::regclass")).await;
        }
        // And an advised index whose stored shape no longer reads.
        execute(
            &url,
            "INSERT INTO index_advice (name, app, form, fields, shape, \"before\", created_by, created_at) \
             VALUES ('ax_broken', 'crm', 'account', '[\"name\"]', 'not json', '{}', 'admin', '2026-12-01T00:00:00Z')",
        )
        .await;
        let (engine, _) = open(&url, &repo().join("apps/crm")).await;
        if url.starts_with("postgres") {
            let db = Database::connect(&url).await.unwrap();
            let sql = format!("SELECT indisvalid FROM pg_index WHERE indexrelid = '\"{id}\"'::regclass");
            let valid: bool = db
                .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
                .await
                .unwrap()
                .unwrap()
                .try_get("", "indisvalid")
                .unwrap();
            assert!(valid, "{url}: the invalid index was built again at start");
            db.close().await.ok();
        }
        engine.close().await.unwrap();
    }
    std::fs::remove_dir_all(&dir).ok();
}
