//! Every rule hook through the API, and scripts that misbehave.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{call, databases, lab, start};
use engine::{RuleLimits, Settings};
use serde_json::{Value, json};

const DEALS: &str = "/api/apps/lab/forms/deal/records";

fn post(form: &str, data: Value) -> TestRequest {
    TestRequest::post().uri(&format!("/api/apps/lab/forms/{form}/records")).set_json(json!({ "data": data }))
}

fn get(form: &str, id: &str) -> TestRequest {
    TestRequest::get().uri(&format!("/api/apps/lab/forms/{form}/records/{id}"))
}

fn patch(form: &str, id: &str, version: i64, data: Value) -> TestRequest {
    TestRequest::patch()
        .uri(&format!("/api/apps/lab/forms/{form}/records/{id}"))
        .insert_header(("If-Match", version.to_string()))
        .set_json(json!({ "data": data }))
}

#[actix_web::test]
async fn every_hook_kind_runs_on_save() {
    for url in databases().await {
        let (engine, u1, u2) = lab(&url, &Settings::default()).await;
        let app = start(engine).await;
        let t = Some(u1.as_str());

        let (_, company) = call(&app, post("company", json!({"name": "Acme", "tier": "A"})), t).await;
        let company_id = company["id"].as_str().unwrap().to_owned();
        let (status, deal) = call(
            &app,
            post(
                "deal",
                json!({
                    "name": "Big one", "company": company_id, "qty": 3, "price": 500, "discount": 10,
                    "items": [{"qty": 2, "price": 10.5}, {"qty": 1, "price": 4}], "note": "hidden unless price > 100"
                }),
            ),
            t,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {deal}");
        let d = &deal["data"];
        assert_eq!(d["total"], json!(1350), "formula: 3 × 500 − 10 %");
        assert_eq!(d["company_tier"], "A", "before_save looked the company up");
        assert_eq!(d["items"][0]["amount"], json!(21), "before_save priced the child rows");
        assert_eq!(d["items_total"], json!(25));
        assert_eq!(d["grade"], json!(100), "score: total > 1000 and tier A");
        assert_eq!(d["opened_by"], "u1", "default_expr saw the user");
        assert_eq!(d["opened_on"].as_str().unwrap().len(), 10, "default_expr today()");
        assert_eq!(d["note"], "hidden unless price > 100", "visible: price is 500");
        assert_eq!(deal["owner"], "u1", "assign: first turn of the rotation");

        // after_save: a notification, a task, and the company's deal count, all committed.
        let (_, inbox) = call(&app, TestRequest::get().uri("/api/notifications"), t).await;
        assert_eq!(inbox["items"][0]["message"]["text"], "deal Big one opened", "{url}");
        let (_, tasks) = call(&app, TestRequest::get().uri("/api/apps/lab/forms/task/records"), t).await;
        assert_eq!(tasks["items"][0]["data"], json!({"subject": "follow up Big one", "deal": deal["id"]}), "{url}");
        let (_, company) = call(&app, get("company", &company_id), t).await;
        assert_eq!(company["data"]["deal_count"], 1, "{url}");

        // Users may not write computed fields.
        let id = deal["id"].as_str().unwrap();
        let (status, body) = call(&app, patch("deal", id, 1, json!({"total": 1, "grade": 5})), t).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        assert_eq!(body["details"].as_array().unwrap().len(), 2, "{url}: {body}");

        // Update: formulas recompute, visible_if drops the note, required_if demands a reason,
        // validate compares with the old record.
        let (status, body) = call(&app, patch("deal", id, 1, json!({"price": 50, "discount": 25, "qty": 2})), t).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        assert_eq!(body["details"], json!([{"path": "/reason", "message": "is required", "code": "required"}]), "{url}");
        let (status, body) = call(&app, patch("deal", id, 1, json!({"price": 50, "discount": 25, "reason": "volume"})), t).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        assert_eq!(body["data"]["total"], json!(112.5), "{url}");
        assert!(body["data"].get("note").is_none(), "{url}: hidden field dropped");
        assert_eq!(body["data"]["grade"], json!(70), "{url}: score recomputed");
        let (status, body) = call(&app, patch("deal", id, 2, json!({"qty": 1, "name": "forbidden deal"})), t).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        assert_eq!(
            body["details"],
            json!([
                {"path": "/name", "message": "this name is not allowed", "code": "rule", "params": {"text": "this name is not allowed"}},
                {"path": "/qty", "message": "qty may not go down (was 3)", "code": "rule", "params": {"text": "qty may not go down (was 3)"}}
            ]),
            "{url}"
        );

        // Assignment: the rotation continues across users and requests; VIP deals go to u3.
        let (_, second) = call(&app, post("deal", json!({"name": "Second"})), Some(&u2)).await;
        assert_eq!(second["owner"], "u2", "{url}");
        let (_, vip) = call(&app, post("deal", json!({"name": "VIP account"})), t).await;
        assert_eq!(vip["owner"], "u3", "{url}");

        // A rule reading more than a few times is answered on a blocking thread, the same way.
        let (status, many) =
            call(&app, post("deal", json!({"name": "VIP many reads", "company": company_id, "mode": "many_reads"})), t).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {many}");
        assert_eq!(many["data"]["company_tier"], "A", "{url}: {many}");
    }
}

#[actix_web::test]
async fn round_robin_spreads_evenly_and_survives_restarts() {
    let dir = std::env::temp_dir().join(format!("tessera-rr-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = format!("sqlite://{}/rr.db", dir.display());
    let mut urls = vec![file.clone()];
    urls.extend(databases().await.into_iter().filter(|u| u.starts_with("postgres")));
    for url in urls {
        let mut owners = Vec::new();
        // Two server lifetimes on the same database: the rotation is stored, not in memory.
        for round in 0..2 {
            let (engine, u1, _) = lab(&url, &Settings::default()).await;
            let app = start(engine.clone()).await;
            for i in 0..50 {
                let (status, deal) = call(&app, post("deal", json!({"name": format!("Lead {round}-{i}")})), Some(&u1)).await;
                assert_eq!(status, StatusCode::CREATED, "{url}: {deal}");
                owners.push(deal["owner"].as_str().unwrap().to_owned());
            }
            engine.close().await.unwrap();
        }
        let u1 = owners.iter().filter(|o| *o == "u1").count();
        let u2 = owners.iter().filter(|o| *o == "u2").count();
        assert_eq!(u1 + u2, 100, "{url}");
        assert!(u1.abs_diff(u2) <= 1, "{url}: u1 {u1}, u2 {u2}");
        assert!(owners.windows(2).all(|w| w[0] != w[1]), "{url}: strictly alternating");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[actix_web::test]
async fn runaway_and_failing_rules_get_422_and_write_nothing() {
    for url in databases().await {
        let settings =
            Settings { rule_limits: RuleLimits { deadline: Duration::from_millis(100), ..RuleLimits::default() }, ..Settings::default() };
        let (engine, u1, _) = lab(&url, &settings).await;
        let app = start(engine).await;
        let t = Some(u1.as_str());
        let (_, deal) = call(&app, post("deal", json!({"name": "Steady", "qty": 1})), t).await;
        let id = deal["id"].as_str().unwrap().to_owned();

        for (mode, code, needle) in [
            // An empty loop meets the operations limit or the deadline, whichever comes first.
            ("loop", "rule_limit_exceeded", "exceeded a limit"),
            ("recurse", "rule_limit_exceeded", "nested too deep"),
            // A growing string meets its size limit, or on a busy machine the deadline first.
            ("big_string", "rule_limit_exceeded", ""),
            ("big_array", "rule_limit_exceeded", ""),
            ("crash", "rule_failed", "the script gave up"),
        ] {
            let (status, body) = call(&app, post("deal", json!({"name": format!("new {mode}"), "mode": mode})), t).await;
            assert_eq!((status, body["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(code)), "{url}: {mode}: {body}");
            let message = body["message"].as_str().unwrap();
            assert!(message.contains("deal.before_save") && message.contains(needle), "{url}: {mode}: {message}");
            let (status, body) = call(&app, patch("deal", &id, 1, json!({"mode": mode, "qty": 5})), t).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {mode}: {body}");
        }

        // An effect that fails validation fails the whole save.
        let (status, body) = call(&app, post("deal", json!({"name": "Effect", "mode": "bad_effect"})), t).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        assert_eq!(body["details"][0]["path"], "/subject", "{url}: {body}");

        // Nothing of the above was written: one deal, unchanged, one task, one notification.
        let (_, deals) = call(&app, TestRequest::get().uri(DEALS), t).await;
        assert_eq!(deals["items"].as_array().unwrap().len(), 1, "{url}");
        assert_eq!(deals["items"][0]["version"], 1, "{url}");
        assert_eq!(deals["items"][0]["data"]["qty"], 1, "{url}");
        let (_, tasks) = call(&app, TestRequest::get().uri("/api/apps/lab/forms/task/records"), t).await;
        assert_eq!(tasks["items"].as_array().unwrap().len(), 1, "{url}");
        let (_, inbox) = call(&app, TestRequest::get().uri("/api/notifications"), t).await;
        assert_eq!(inbox["items"].as_array().unwrap().len(), 1, "{url}");
    }
}

#[actix_web::test]
async fn scheduled_rules_fire_once_when_due_and_survive_restarts() {
    let dir = std::env::temp_dir().join(format!("tessera-jobs-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut urls = vec![format!("sqlite://{}/jobs.db", dir.display())];
    urls.extend(databases().await.into_iter().filter(|u| u.starts_with("postgres")));
    for url in urls {
        let now = chrono::Utc::now();
        let (engine, u1, _) = lab(&url, &Settings::default()).await;
        let jobs = engine.pending_jobs("lab").await.unwrap();
        assert_eq!(jobs.len(), 1, "{url}: {jobs:?}");
        assert_eq!(jobs[0].0, "schedule:lab:tick");
        assert_eq!(engine.run_due_jobs(now).await.unwrap(), 0, "{url}: not due before the next minute");
        engine.close().await.unwrap();

        // A restart keeps the one job; two workers at the same moment run it once.
        let (engine, _, _) = lab(&url, &Settings::default()).await;
        let other = lab(&url, &Settings::default()).await.0;
        assert_eq!(engine.pending_jobs("lab").await.unwrap().len(), 1, "{url}");
        let later = now + chrono::Duration::minutes(2);
        let (a, b) = tokio::join!(engine.run_due_jobs(later), other.run_due_jobs(later));
        assert_eq!(a.unwrap() + b.unwrap(), 1, "{url}: the due job ran exactly once");
        assert_eq!(engine.run_due_jobs(later).await.unwrap(), 0, "{url}: and not again");

        let app = start(engine.clone()).await;
        let (_, inbox) = call(&app, TestRequest::get().uri("/api/notifications"), Some(&u1)).await;
        let ticks: Vec<&Value> = inbox["items"].as_array().unwrap().iter().filter(|n| n["message"]["text"] == "tick: 0 deals").collect();
        assert_eq!(ticks.len(), 1, "{url}: {inbox}");
        let (key, due) = engine.pending_jobs("lab").await.unwrap().remove(0);
        assert_eq!(key, "schedule:lab:tick");
        assert!(due > later.to_rfc3339(), "{url}: rescheduled after the run: {due}");
        assert_eq!(engine.run_due_jobs(later + chrono::Duration::minutes(2)).await.unwrap(), 1, "{url}: due again next minute");
        engine.close().await.unwrap();
        other.close().await.unwrap();
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[actix_web::test]
async fn an_imported_row_whose_effect_fails_leaves_no_trace() {
    // On an SQLite file the rows of a chunk share a savepoint; a row failing after it wrote
    // undoes its chunk, which is written again row by row: the file covers that path.
    let dir = std::env::temp_dir().join(format!("tessera-import-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut urls = vec![format!("sqlite://{}/import.db", dir.display())];
    urls.extend(databases().await);
    for url in urls {
        let (engine, _, _) = lab(&url, &Settings::default()).await;
        let u1 = engine.login("u1", "pw").await.unwrap().user;
        // Row 6's after_save creates a task that fails validation — after its deal, history
        // version and audit row were written or gathered; row 42 fails validation before any
        // write. 70 rows: more than one chunk.
        let rows: Vec<Vec<String>> = (0..70)
            .map(|i| match i {
                4 => vec!["broken".into(), "bad_effect".into()],
                40 => vec!["forbidden deal".into(), String::new()],
                _ => vec![format!("deal {i}"), String::new()],
            })
            .collect();
        let table = engine::Table::new(vec!["name".into(), "mode".into()], rows);
        let report =
            engine.import(&u1, &e2e::app_id("lab"), &e2e::form_id("deal"), table, &engine::ImportOptions::default()).await.unwrap();
        let failed: Vec<usize> = report.errors.iter().map(|e| e.row).collect();
        assert_eq!((report.created, report.failed, failed), (68, 2, vec![6, 42]), "{url}: {report:?}");

        let app = start(engine.clone()).await;
        let token = engine.login("u1", "pw").await.unwrap().token;
        let (_, deals) = call(&app, TestRequest::get().uri(&format!("{DEALS}?limit=100")), Some(&token)).await;
        let names: Vec<&str> = deals["items"].as_array().unwrap().iter().map(|d| d["data"]["name"].as_str().unwrap()).collect();
        assert_eq!(names.len(), 68, "{url}: {deals}");
        assert!(!names.contains(&"broken") && !names.contains(&"forbidden deal"), "{url}: {names:?}");
        // The app's install, then 68 deals and their 68 tasks: that many audit rows, chained.
        assert_eq!(engine.verify_audit().await.unwrap(), Ok(137), "{url}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// The preview answers what a save would make of the record — formulas, defaults, which fields
/// `visible_if` hides and `required_if` requires, the problems — and writes nothing.
#[actix_web::test]
async fn a_preview_runs_the_save_rules_and_writes_nothing() {
    for url in databases().await {
        let (engine, u1, u2) = lab(&url, &Settings::default()).await;
        let app = start(engine).await;
        let t = Some(u1.as_str());
        let preview = |body: Value| TestRequest::post().uri("/api/apps/lab/forms/deal/preview").set_json(body);

        let (status, cheap) =
            call(&app, preview(json!({"data": {"name": "Draft", "qty": 2, "price": 50, "discount": 30, "note": "x"}})), t).await;
        assert_eq!(status, StatusCode::OK, "{url}: {cheap}");
        assert_eq!(cheap["data"]["total"], json!(70), "{url}: the formula, before saving");
        assert_eq!(cheap["data"]["opened_by"], json!("u1"), "{url}: a default expression");
        assert_eq!((&cheap["hidden"], &cheap["required"]), (&json!(["note"]), &json!(["reason"])), "{url}: {cheap}");
        assert!(cheap["data"].get("note").is_none(), "{url}: a hidden field is not kept");
        assert_eq!(cheap["errors"], json!([{"path": "/reason", "message": "is required", "code": "required"}]), "{url}");
        let (status, dear) = call(&app, preview(json!({"data": {"name": "Draft", "qty": 2, "price": 500, "note": "x"}})), t).await;
        assert_eq!(status, StatusCode::OK, "{url}: {dear}");
        assert_eq!((&dear["hidden"], &dear["required"], &dear["errors"]), (&json!([]), &json!([]), &json!([])), "{url}: {dear}");
        assert_eq!(dear["data"]["note"], json!("x"), "{url}");

        // Nothing was written: no deal, no notification of an after_save rule.
        let (_, deals) = call(&app, TestRequest::get().uri(DEALS), t).await;
        assert_eq!(deals["items"], json!([]), "{url}");
        let (_, inbox) = call(&app, TestRequest::get().uri("/api/notifications"), t).await;
        assert_eq!(inbox["items"], json!([]), "{url}");

        // Changes to a stored record are previewed over it; a record that is not there is 404.
        let (_, deal) = call(&app, post("deal", json!({"name": "Stored", "qty": 3, "price": 500})), t).await;
        let id = deal["id"].as_str().unwrap();
        let (status, changed) = call(&app, preview(json!({"id": id, "data": {"price": 40}})), t).await;
        assert_eq!((status, &changed["data"]["total"]), (StatusCode::OK, &json!(120)), "{url}: {changed}");
        let missing = json!({"id": "01a24500-0000-7000-8000-000000000000", "data": {"price": 40}});
        let (status, _) = call(&app, preview(missing), Some(&u2)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{url}");
        let (_, stored) = call(&app, get("deal", id), t).await;
        assert_eq!(stored["data"]["total"], json!(1500), "{url}: the preview changed the record");
    }
}
