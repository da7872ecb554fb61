//! Regression tests of issue 15 (security and bounds): an import shares the write turn with
//! every other writer (item 10), and the reports of background imports expire (item 13).

use std::path::PathBuf;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{call, crm, databases, start};
use engine::{Engine, ImportOptions, OnDuplicate, Table};
use serde_json::{Value, json};

/// An SQLite file (its writers queue for one turn; `:memory:` has one connection and no turn),
/// then the usual databases. Returns the file's folder, to remove at the end.
async fn file_and_databases(name: &str) -> (Vec<String>, PathBuf) {
    let dir = std::env::temp_dir().join(format!("tessera-{name}-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut urls = vec![format!("sqlite://{}/{name}.db", dir.display())];
    urls.extend(databases().await);
    (urls, dir)
}

/// `n` good leads, numbered from `from`, named by field id.
fn leads(from: usize, n: usize) -> Table {
    lead_table(lead_rows(from, n))
}

/// The cells of `n` good leads, numbered from `from`.
fn lead_rows(from: usize, n: usize) -> Vec<Vec<String>> {
    (from..from + n).map(|i| vec![format!("客户{i}"), format!("lead{i}@example.com"), format!("139{i:08}")]).collect()
}

const LEAD_HEADERS: [&str; 3] = ["name", "email", "phone"];

fn lead_table(rows: Vec<Vec<String>>) -> Table {
    Table::new(LEAD_HEADERS.map(str::to_owned).to_vec(), rows)
}

/// The status of import `id` once it is no longer running, polled a bounded number of times.
async fn finished(engine: &Engine, actor: &engine::Actor, id: &str) -> Value {
    for _ in 0..6000 {
        let status = engine.import_status(actor, id).unwrap();
        if status["status"] != "running" {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("import {id} did not finish within two minutes");
}

/// Waits until import `id` has gone through its first chunk.
async fn under_way(engine: &Engine, actor: &engine::Actor, id: &str) {
    for _ in 0..6000 {
        if engine.import_status(actor, id).unwrap()["done"].as_u64().unwrap() > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("import {id} did not start within thirty seconds");
}

/// Rows of the imports that logins and edits must not wait for: some fifty chunks.
const ROWS: usize = 3_000;

/// Starts an import of [`ROWS`] leads with `options` in the background on `url`, and while it
/// runs logs in and edits an account over HTTP: both must succeed between two of its chunks.
/// Returns the engine and the import's final status.
async fn login_and_edit_during_import(url: &str, options: ImportOptions) -> (Engine, Value) {
    let (engine, admin) = crm(url).await;
    engine.seed_users("crm", "demo").await.unwrap();
    let marketing = engine.login("marketing1", "demo").await.unwrap().user;
    let app = start(engine.clone()).await;
    let t = Some(admin.as_str());
    let accounts = "/api/apps/crm/forms/account/records";
    let (status, account) = call(&app, TestRequest::post().uri(accounts).set_json(json!({"data": {"name": "华东精密制造"}})), t).await;
    assert_eq!(status, StatusCode::CREATED, "{url}: {account}");

    let id = engine.start_import(&marketing, &e2e::app_id("crm"), &e2e::form_id("lead"), leads(0, ROWS), options).unwrap();
    under_way(&engine, &marketing, &id).await;
    let login = TestRequest::post().uri("/api/auth/login").set_json(json!({"username": "rep1", "password": "demo"}));
    let (status, body) = call(&app, login, None).await;
    assert_eq!(status, StatusCode::OK, "{url}: a login during an import: {body}");
    let edit = TestRequest::patch()
        .uri(&format!("{accounts}/{}", account["id"].as_str().unwrap()))
        .insert_header(("If-Match", "1"))
        .set_json(json!({"data": {"name": "华东精密制造集团"}}));
    let (status, body) = call(&app, edit, t).await;
    assert_eq!(status, StatusCode::OK, "{url}: an edit during an import: {body}");
    // Both were served between two of the import's chunks, not after its last.
    let during = engine.import_status(&marketing, &id).unwrap();
    assert_eq!(during["status"], "running", "{url}: the login and the edit waited for the whole import: {during}");

    let done = finished(&engine, &marketing, &id).await;
    // (Rows may fail at a rule's deadline on a loaded machine; every row is gone through.)
    assert_eq!((done["status"].as_str(), done["done"].as_u64()), (Some("done"), Some(ROWS as u64)), "{url}: {done}");
    (engine, done)
}

#[actix_web::test]
async fn a_dry_run_import_lets_logins_and_edits_through_while_it_runs() {
    // Before: the dry run held the write lock to its end. A login (its session written on the
    // pool, outside the writers' queue) failed with 500 "database is locked" once SQLite's busy
    // timeout ran out, and a PATCH waited for the whole import.
    let (urls, dir) = file_and_databases("yield").await;
    for url in urls {
        let (engine, done) = login_and_edit_during_import(&url, ImportOptions { dry_run: true, ..Default::default() }).await;
        assert_eq!(done["report"]["committed"], false, "{url}: {done}");
        let admin = engine::Actor::system();
        let leads = engine.list(&admin, &e2e::app_id("crm"), &e2e::form_id("lead"), &Default::default()).await.unwrap();
        assert!(leads.items.is_empty(), "{url}: a dry run writes nothing");
        engine.close().await.unwrap();
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[actix_web::test]
async fn a_row_by_row_import_lets_logins_and_edits_through_while_it_runs() {
    // Row by row commits every 500 rows, and after any chunk behind which another writer waits.
    let (urls, dir) = file_and_databases("rows").await;
    for url in urls {
        let (engine, done) = login_and_edit_during_import(&url, ImportOptions::default()).await;
        assert_eq!(done["report"]["committed"], true, "{url}: {done}");
        engine.close().await.unwrap();
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[actix_web::test]
async fn a_dry_run_checked_a_chunk_at_a_time_reports_what_the_import_then_does() {
    // Each chunk of a dry run is checked in a transaction of its own, rolled back: rows that
    // repeat an earlier chunk's row of the same file are still found to be duplicates.
    let (urls, dir) = file_and_databases("dry").await;
    for url in urls {
        let (engine, _) = crm(&url).await;
        engine.seed_users("crm", "demo").await.unwrap();
        let marketing = engine.login("marketing1", "demo").await.unwrap().user;
        // 150 rows (three chunks); rows 100 and 140 repeat rows 3 and 5 of the file.
        let mut rows = lead_rows(0, 150);
        rows[100] = rows[3].clone();
        rows[140][1] = rows[5][1].clone();
        for on_duplicate in [OnDuplicate::Skip, OnDuplicate::Error] {
            let options = |dry_run| ImportOptions { dry_run, on_duplicate, ..Default::default() };
            let dry = engine
                .import(&marketing, &e2e::app_id("crm"), &e2e::form_id("lead"), lead_table(rows.clone()), &options(true))
                .await
                .unwrap();
            assert_eq!((dry.created, dry.skipped + dry.failed), (148, 2), "{url}: {on_duplicate:?}: {dry:?}");
            if on_duplicate == OnDuplicate::Error {
                let rows: Vec<usize> = dry.errors.iter().map(|e| e.row).collect();
                assert_eq!(rows, [102, 142], "{url}: {dry:?}");
                assert!(dry.errors.iter().all(|e| e.column.as_deref() == Some("email")), "{url}: {dry:?}");
            }
        }
        let done = engine
            .import(&marketing, &e2e::app_id("crm"), &e2e::form_id("lead"), lead_table(rows), &ImportOptions::default())
            .await
            .unwrap();
        assert_eq!((done.created, done.skipped), (148, 2), "{url}: the dry run foretold it: {done:?}");
        engine.close().await.unwrap();
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[actix_web::test]
async fn an_all_or_nothing_import_is_bounded_and_other_writers_queue_behind_it() {
    // An all-or-nothing import is one transaction: it holds the write turn from its first row to
    // its last, so its size is bounded; the writes that come meanwhile wait in turn, and succeed.
    let (urls, dir) = file_and_databases("whole").await;
    for url in urls {
        let (engine, admin) = crm(&url).await;
        engine.seed_users("crm", "demo").await.unwrap();
        let marketing = engine.login("marketing1", "demo").await.unwrap().user;
        let app = start(engine.clone()).await;
        let whole = ImportOptions { all_or_nothing: true, ..Default::default() };

        let too_many = lead_rows(0, engine::ALL_OR_NOTHING_MAX_ROWS + 1);
        // Refused before a row is read, in the background and over HTTP.
        let refused = engine
            .start_import(&marketing, &e2e::app_id("crm"), &e2e::form_id("lead"), lead_table(too_many.clone()), whole.clone())
            .unwrap_err();
        assert!(matches!(refused, engine::EngineError::TooLarge { .. }), "{url}: {refused:?}");
        let upload: String =
            std::iter::once(LEAD_HEADERS.join(",") + "\n").chain(too_many.iter().map(|row| row.join(",") + "\n")).collect();
        let request = TestRequest::post()
            .uri("/api/apps/crm/forms/lead/import?wait=true&mode=all_or_nothing")
            .insert_header(("Content-Type", "text/csv"))
            .set_payload(upload);
        let (status, body) = call(&app, request, Some(&admin)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{url}: {body}");
        assert!(body["message"].as_str().unwrap().contains(&engine::ALL_OR_NOTHING_MAX_ROWS.to_string()), "{url}: {body}");
        let id = engine.start_import(&marketing, &e2e::app_id("crm"), &e2e::form_id("lead"), leads(0, 500), whole).unwrap();
        under_way(&engine, &marketing, &id).await;
        let login = TestRequest::post().uri("/api/auth/login").set_json(json!({"username": "rep1", "password": "demo"}));
        let (status, body) = call(&app, login, None).await;
        assert_eq!(status, StatusCode::OK, "{url}: a login during an all-or-nothing import: {body}");
        let done = finished(&engine, &marketing, &id).await;
        assert_eq!((done["report"]["created"].as_u64(), done["report"]["committed"].as_bool()), (Some(500), Some(true)), "{url}: {done}");
        engine.close().await.unwrap();
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[actix_web::test]
async fn the_reports_of_background_imports_expire() {
    // Before: every report stayed in memory for the life of the process.
    for url in databases().await {
        let (engine, _) = crm(&url).await;
        engine.seed_users("crm", "demo").await.unwrap();
        let marketing = engine.login("marketing1", "demo").await.unwrap().user;
        let other = engine.login("manager1", "demo").await.unwrap().user;
        let dry = ImportOptions { dry_run: true, ..Default::default() };
        let theirs = engine.start_import(&other, &e2e::app_id("crm"), &e2e::form_id("lead"), leads(0, 1), dry.clone()).unwrap();
        finished(&engine, &other, &theirs).await;

        let mut ids = Vec::new();
        for i in 0..=engine::IMPORT_REPORTS_KEPT {
            let id = engine.start_import(&marketing, &e2e::app_id("crm"), &e2e::form_id("lead"), leads(i, 1), dry.clone()).unwrap();
            assert_eq!(finished(&engine, &marketing, &id).await["status"], "done", "{url}");
            ids.push(id);
        }
        let oldest = engine.import_status(&marketing, &ids[0]).unwrap_err();
        assert!(matches!(oldest, engine::EngineError::NotFound(_)), "{url}: the oldest report is evicted: {oldest:?}");
        for id in &ids[1..] {
            assert_eq!(engine.import_status(&marketing, id).unwrap()["status"], "done", "{url}: the newest are kept");
        }
        assert_eq!(engine.import_status(&other, &theirs).unwrap()["status"], "done", "{url}: one user's imports evict only their own");
        engine.close().await.unwrap();
    }
}

#[actix_web::test]
async fn a_user_runs_a_bounded_number_of_background_imports_at_once() {
    // Before: any number, each holding its table in memory and a drafting thread.
    let (engine, _) = crm("sqlite::memory:").await;
    engine.seed_users("crm", "demo").await.unwrap();
    let marketing = engine.login("marketing1", "demo").await.unwrap().user;
    let dry = ImportOptions { dry_run: true, ..Default::default() };
    let running: Vec<String> = (0..engine::RUNNING_IMPORTS_PER_USER)
        .map(|i| engine.start_import(&marketing, &e2e::app_id("crm"), &e2e::form_id("lead"), leads(i * ROWS, ROWS), dry.clone()).unwrap())
        .collect();
    let refused = engine.start_import(&marketing, &e2e::app_id("crm"), &e2e::form_id("lead"), leads(0, 1), dry.clone()).unwrap_err();
    assert!(matches!(refused, engine::EngineError::RateLimited { .. }), "{refused:?}");
    // Someone else's imports are theirs to count.
    let other = engine.login("manager1", "demo").await.unwrap().user;
    let theirs = engine.start_import(&other, &e2e::app_id("crm"), &e2e::form_id("lead"), leads(0, 1), dry.clone()).unwrap();
    finished(&engine, &other, &theirs).await;
    // Once one has finished, another may start.
    finished(&engine, &marketing, &running[0]).await;
    let next = engine.start_import(&marketing, &e2e::app_id("crm"), &e2e::form_id("lead"), leads(0, 1), dry).unwrap();
    finished(&engine, &marketing, &next).await;
}
