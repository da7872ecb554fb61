//! The CRM's own schedules over its demo data, a month on: every one succeeds and does its work
//! (issue 24: the nightly stalled-deals rule once failed on a map over its limits).

use chrono::{Duration, Utc};
use e2e::repo;
use engine::Engine;
use sea_orm::{ConnectionTrait, Database, Statement};

#[actix_web::test]
async fn every_schedule_of_the_crm_succeeds_for_a_month_over_the_demo_data() {
    let dir = std::env::temp_dir().join(format!("tessera-sched-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let urls = e2e::file_databases(&dir).await;
    for url in urls {
        let engine = Engine::open_with(&url, &[repo().join("apps/crm")], &e2e::settings()).await.unwrap();
        engine.seed("crm", "demo").await.unwrap();
        let start = Utc::now();
        engine.ensure_schedules(start).await.unwrap();
        for day in 1..=30 {
            engine.run_due_jobs(start + Duration::days(day)).await.unwrap();
        }
        let db = Database::connect(&url).await.unwrap();
        let rows = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT key, last_error FROM jobs WHERE last_error IS NOT NULL",
            ))
            .await
            .unwrap();
        let failed: Vec<String> = rows
            .iter()
            .map(|r| format!("{}: {}", r.try_get::<String>("", "key").unwrap(), r.try_get::<String>("", "last_error").unwrap()))
            .collect();
        assert!(failed.is_empty(), "{url}: failed jobs:\n{}", failed.join("\n"));
        // The nightly stalled-deals rule did its work: the demo's open deals are a month old.
        let reminders = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM outbox WHERE CAST(payload AS TEXT) LIKE '%No progress on%'",
            ))
            .await
            .unwrap()
            .unwrap();
        assert!(reminders.try_get::<i64>("", "n").unwrap() > 0, "{url}: no stalled-deal reminder was sent");
        db.close().await.ok();
        engine.close().await.unwrap();
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[actix_web::test]
async fn a_builder_runs_a_schedule_now_over_demo_data_that_has_a_past() {
    for url in e2e::databases().await {
        let (engine, admin) = e2e::crm(&url).await;
        engine.seed("crm", "demo").await.expect("demo");
        let rep = engine.login("rep1", "demo").await.unwrap().token;
        let app = e2e::start(engine).await;
        // The demo's deals are up to three weeks old (`age_days`), so some are stalled.
        let uri = format!(
            "/api/apps/crm/forms/opportunity/records?count=true&filter={}",
            e2e::url_encode(r#"{"created_at": {"lt": "2026-12-01"}}"#)
        );
        let cutoff = (chrono::Utc::now() - chrono::Duration::days(14)).format("%Y-%m-%d").to_string();
        let uri = uri.replace("2026-12-01", &cutoff);
        let (_, old) = e2e::call(&app, actix_web::test::TestRequest::get().uri(&uri), Some(&admin)).await;
        assert!(old["total"]["records"].as_u64().unwrap() > 0, "{url}: {old}");

        let run = |token: &str, schedule: &str| {
            let (app, token, uri) = (&app, token.to_owned(), format!("/api/apps/crm/schedules/{schedule}/run"));
            async move { e2e::call(app, actix_web::test::TestRequest::post().uri(&uri), Some(&token)).await }
        };
        assert_eq!(run(&rep, "stalled_deals").await.0, actix_web::http::StatusCode::FORBIDDEN, "{url}");
        assert_eq!(run(&admin, "nightly_nothing").await.0, actix_web::http::StatusCode::NOT_FOUND, "{url}");
        let (status, ran) = run(&admin, "stalled_deals").await;
        assert_eq!((status, ran["ran"].as_str()), (actix_web::http::StatusCode::OK, Some("stalled_deals")), "{url}: {ran}");
        let (_, inbox) = e2e::call(&app, actix_web::test::TestRequest::get().uri("/api/notifications"), Some(&rep)).await;
        let stalled: Vec<&serde_json::Value> = inbox["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["message"]["text"].as_str().unwrap_or("").contains("14 天无进展"))
            .collect();
        assert!(!stalled.is_empty(), "{url}: rep1 was not reminded of a stalled deal: {inbox}");
        // Each reminder opens its deal (`notify_about`).
        assert!(stalled.iter().all(|n| n["message"]["form"] == "opportunity" && n["message"]["record"].is_string()), "{url}: {stalled:?}");
    }
}

/// Counts what `sql` counts (a column `n`).
async fn count(db: &sea_orm::DatabaseConnection, sql: &str) -> i64 {
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

/// A job's effects and the mark that it ran commit together (issue 24, item 5). The database
/// refuses to mark the nightly stalled-deals job done — as a process dying between its effects
/// and its mark would leave it — and then the reminders it wrote must not stay, or the job's
/// next run would send them again. Once the job can be marked, it runs and sends each once.
#[actix_web::test]
async fn a_job_s_effects_stay_only_with_the_mark_that_it_ran() {
    let dir = std::env::temp_dir().join(format!("tessera-once-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let urls = e2e::file_databases(&dir).await;
    const REMINDERS: &str = "SELECT COUNT(*) AS n FROM outbox WHERE CAST(payload AS TEXT) LIKE '%No progress on%'";
    for url in urls {
        let engine = Engine::open_with(&url, &[repo().join("apps/crm")], &e2e::settings()).await.unwrap();
        engine.seed("crm", "demo").await.unwrap();
        let start = Utc::now();
        engine.ensure_schedules(start).await.unwrap();
        let db = Database::connect(&url).await.unwrap();
        let (refuse, allow) = match db.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => (
                vec![
                    "CREATE FUNCTION refuse_mark() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the job cannot be marked'; END $$",
                    "CREATE TRIGGER refuse_mark BEFORE UPDATE ON jobs FOR EACH ROW \
                 WHEN (NEW.key = 'schedule:crm:stalled_deals' AND OLD.state = 'running' AND NEW.state <> 'running' AND NEW.last_error IS NULL) \
                 EXECUTE FUNCTION refuse_mark()",
                ],
                "DROP TRIGGER refuse_mark ON jobs",
            ),
            _ => (
                vec![
                    "CREATE TRIGGER refuse_mark BEFORE UPDATE ON jobs \
                 WHEN NEW.key = 'schedule:crm:stalled_deals' AND OLD.state = 'running' AND NEW.state <> 'running' AND NEW.last_error IS NULL \
                 BEGIN SELECT RAISE(ABORT, 'the job cannot be marked'); END",
                ],
                "DROP TRIGGER refuse_mark",
            ),
        };
        for sql in refuse {
            db.execute_unprepared(sql).await.unwrap();
        }

        // A month on, the job runs and sends its reminders, and cannot be marked.
        let _ = engine.run_due_jobs(start + Duration::days(30)).await;
        assert_eq!(count(&db, REMINDERS).await, 0, "{url}: the reminders of a run that was not marked stayed");
        let refused =
            count(&db, "SELECT COUNT(*) AS n FROM jobs WHERE key = 'schedule:crm:stalled_deals' AND last_error LIKE '%cannot be marked%'")
                .await;
        assert_eq!(refused, 1, "{url}: the failed run is told on the job");

        // The database takes the mark again: the next night's run sends each reminder once.
        db.execute_unprepared(allow).await.unwrap();
        engine.run_due_jobs(start + Duration::days(31)).await.unwrap();
        let sent = count(&db, REMINDERS).await;
        assert!(sent > 0, "{url}: the stalled-deal reminders were sent");
        let distinct = count(
            &db,
            "SELECT COUNT(*) AS n FROM (SELECT DISTINCT recipient, CAST(payload AS TEXT) AS p FROM outbox WHERE CAST(payload AS TEXT) LIKE '%No progress on%') d",
        )
        .await;
        assert_eq!(sent, distinct, "{url}: a reminder was sent twice");
        engine.run_due_jobs(start + Duration::days(31) + Duration::minutes(20)).await.unwrap();
        assert_eq!(count(&db, REMINDERS).await, sent, "{url}: a run past its lease sent them again");
        db.close().await.ok();
        engine.close().await.unwrap();
    }
    std::fs::remove_dir_all(&dir).ok();
}
