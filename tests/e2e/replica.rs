//! Reads from a PostgreSQL read replica (issue 24): lists, exports and reports go to the
//! replica; a user who just wrote reads the primary until the replica has replayed the write;
//! a replica that cannot be reached is passed over. The primary and its streaming replica are
//! clusters of the test's own (`e2e::own_postgres`), the replica paused to make its lag last.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::own_postgres::OwnPostgres;
use e2e::{call, repo, start};
use engine::{Engine, Settings};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};

const ACCOUNTS: &str = "/api/apps/crm/forms/account/records";

async fn execute(db: &DatabaseConnection, sql: &str) {
    db.execute_unprepared(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Waits until the replica has replayed everything the primary has written so far.
async fn caught_up(primary: &DatabaseConnection, replica: &DatabaseConnection) {
    let written =
        primary.query_one_raw(sea_orm::Statement::from_string(primary.get_database_backend(), "SELECT pg_current_wal_lsn()::text"));
    let written: String = written.await.unwrap().unwrap().try_get_by_index(0).unwrap();
    for _ in 0..600 {
        let sql = format!("SELECT pg_last_wal_replay_lsn() >= '{written}'::pg_lsn");
        let row = replica.query_one_raw(sea_orm::Statement::from_string(replica.get_database_backend(), sql)).await.unwrap().unwrap();
        if row.try_get_by_index::<bool>(0).unwrap() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the replica did not catch up within thirty seconds");
}

/// The names of the accounts `token` lists under `prefix`.
async fn listed<S, B>(app: &S, token: &str, prefix: &str) -> Vec<String>
where
    S: actix_web::dev::Service<actix_http::Request, Response = actix_web::dev::ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let filter = e2e::url_encode(&json!({"name": {"starts_with": prefix}}).to_string());
    let (status, page) = call(app, TestRequest::get().uri(&format!("{ACCOUNTS}?filter={filter}&sort=name")), Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"].as_array().unwrap().iter().map(|r| r["data"]["name"].as_str().unwrap().to_owned()).collect()
}

#[actix_web::test]
async fn reads_go_to_the_replica_and_whoever_wrote_reads_their_own_writes() {
    let Some(primary) = OwnPostgres::create() else {
        assert!(std::env::var("CI").is_err(), "CI makes a PostgreSQL primary and replica of the test's own: set TESSERA_TEST_PG_BIN");
        eprintln!("note: no PostgreSQL binaries found; skipping the read replica");
        return;
    };
    let replica = primary.replica();
    let settings = Settings { read_replica: Some(replica.url()), ..Default::default() };
    let engine = Engine::open_with(&primary.url(), &[repo().join("apps/crm")], &settings).await.unwrap();
    engine.ensure_admin(Some("admin-pass")).await.unwrap();
    engine.seed_users("crm", "demo").await.unwrap();
    let rep1 = engine.login("rep1", "demo").await.unwrap().token;
    let admin = engine.login("admin", "admin-pass").await.unwrap().token;
    let app = start(engine).await;
    let (to_primary, to_replica) = (Database::connect(primary.url()).await.unwrap(), Database::connect(replica.url()).await.unwrap());
    let create = |name: &str| TestRequest::post().uri(ACCOUNTS).set_json(json!({"data": {"name": name}}));
    let get = |uri: &'static str, token: &str| {
        let (token, app) = (token.to_owned(), &app);
        async move {
            let (status, body) = call(app, TestRequest::get().uri(uri), Some(&token)).await;
            assert_eq!(status, StatusCode::OK, "{uri}: {body}");
            body
        }
    };
    let report = |token: &str| {
        let answer = get("/api/apps/crm/reports/accounts_by_province", token);
        async move { answer.await["rows"].clone() }
    };
    let export = |token: &str| {
        let answer = get("/api/apps/crm/forms/account/export?format=csv", token);
        async move { answer.await.as_str().unwrap_or_default().to_owned() }
    };

    let (status, body) = call(&app, create("Replica Co 1"), Some(&rep1)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    caught_up(&to_primary, &to_replica).await;
    assert_eq!(listed(&app, &admin, "Replica Co").await, ["Replica Co 1"]);
    let report_before = report(&admin).await;
    assert_ne!(report_before, Value::Null, "the report has rows");

    // The replica stops replaying: what it answers from now on is stale.
    execute(&to_replica, "SELECT pg_wal_replay_pause()").await;
    let (status, body) = call(&app, create("Replica Co 2"), Some(&rep1)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(listed(&app, &rep1, "Replica Co").await, ["Replica Co 1", "Replica Co 2"], "the writer reads their own write");
    assert_eq!(listed(&app, &admin, "Replica Co").await, ["Replica Co 1"], "another reads the replica, which has not replayed it");
    assert!(!export(&admin).await.contains("Replica Co 2"), "the export reads the replica");
    assert_eq!(report(&admin).await, report_before, "the report reads the replica");

    // Replaying again, the replica gets the write to everyone.
    execute(&to_replica, "SELECT pg_wal_replay_resume()").await;
    caught_up(&to_primary, &to_replica).await;
    assert_eq!(listed(&app, &admin, "Replica Co").await, ["Replica Co 1", "Replica Co 2"]);
    assert!(export(&admin).await.contains("Replica Co 2"));
    assert_ne!(report(&admin).await, report_before);
    assert_eq!(listed(&app, &rep1, "Replica Co").await, ["Replica Co 1", "Replica Co 2"]);

    // A replica that cannot be reached is passed over: the primary answers.
    replica.crash();
    assert_eq!(listed(&app, &admin, "Replica Co").await, ["Replica Co 1", "Replica Co 2"], "read from the primary");
    assert!(export(&admin).await.contains("Replica Co 2"));
    assert_ne!(report(&admin).await, report_before);
}
