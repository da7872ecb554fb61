//! The system tables' migrations: a database made by an older build gets the later tables, and
//! servers starting together on one empty database all open it.

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

/// The tables migration 1 made in the first release, as it made them (sessions without their
/// CSRF hash), with version 1 recorded: a database of that build, never opened since.
const FIRST_RELEASE: &[&str] = &[
    "CREATE TABLE users (username varchar NOT NULL PRIMARY KEY, display_name varchar NOT NULL, password_hash varchar NOT NULL, \
     roles text NOT NULL, department varchar NULL, created_at varchar NOT NULL)",
    "CREATE TABLE sessions (token_hash varchar NOT NULL PRIMARY KEY, username varchar NOT NULL, created_at varchar NOT NULL, \
     expires_at varchar NOT NULL)",
    "CREATE TABLE counters (key varchar NOT NULL PRIMARY KEY, value bigint NOT NULL)",
    "CREATE TABLE meta (key varchar NOT NULL PRIMARY KEY, value text NOT NULL)",
    "CREATE TABLE record_history (record_id varchar NOT NULL, version bigint NOT NULL, app varchar NOT NULL, form varchar NOT NULL, \
     op varchar NOT NULL, snapshot text NOT NULL, changed_by varchar NOT NULL, changed_at varchar NOT NULL, \
     PRIMARY KEY (record_id, version))",
    "CREATE TABLE schema_migrations (version integer NOT NULL PRIMARY KEY)",
    "INSERT INTO schema_migrations (version) VALUES (1)",
    "INSERT INTO sessions (token_hash, username, created_at, expires_at) VALUES ('old', 'admin', '2026-01-01', '2099-01-01')",
];

/// Tables later migrations add.
const LATER_TABLES: [&str; 9] =
    ["outbox", "jobs", "audit_log", "tasks", "flow_versions", "index_advice", "definitions", "app_releases", "definition_drafts"];

/// A fresh SQLite file (the migrations must meet a second connection, so not `:memory:`), and a
/// fresh PostgreSQL database when one is configured.
async fn shared_databases() -> Vec<String> {
    let dir = std::env::temp_dir().join(format!("tessera-migrations-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    e2e::file_databases(&dir).await
}

async fn tables(db: &DatabaseConnection) -> Vec<String> {
    let sql = match db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => {
            "SELECT table_name::text AS name FROM information_schema.tables WHERE table_schema = current_schema()"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'table'",
    };
    db.query_all_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get("", "name").unwrap())
        .collect()
}

async fn versions(db: &DatabaseConnection) -> Vec<i64> {
    let sql = "SELECT CAST(version AS BIGINT) AS version FROM schema_migrations ORDER BY version";
    let rows = db.query_all_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
    rows.iter().map(|row| row.try_get("", "version").unwrap()).collect()
}

#[actix_web::test]
async fn a_database_of_the_first_release_gets_every_later_table_and_works() {
    // Before: migration 1 had grown in place, so a database at version 1 was never migrated
    // again and lacked the outbox, jobs, audit log and flow tables: the CRM could not save.
    for url in shared_databases().await {
        let db = Database::connect(&url).await.unwrap();
        for sql in FIRST_RELEASE {
            db.execute_unprepared(sql).await.unwrap();
        }

        let (engine, token) = e2e::crm(&url).await;
        let app = e2e::start(engine).await;
        let body = serde_json::json!({"data": {"name": "Old Co"}});
        let (status, created) =
            e2e::call(&app, actix_web::test::TestRequest::post().uri("/api/apps/crm/forms/account/records").set_json(body), Some(&token))
                .await;
        assert_eq!(status, 201, "{url}: a save on the migrated database: {created}");

        let present = tables(&db).await;
        for table in LATER_TABLES {
            assert!(present.iter().any(|t| t == table), "{url}: {table} was created");
        }
        assert_eq!(versions(&db).await, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], "{url}: every later migration recorded once");
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT csrf_hash FROM sessions WHERE token_hash = 'old'",
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.try_get::<String>("", "csrf_hash").unwrap(), "", "{url}: an old session gets an empty hash, which no token matches");
    }
}

#[actix_web::test]
async fn servers_starting_together_on_one_empty_database_all_open_it() {
    // Before: two servers on an empty PostgreSQL both created `schema_migrations` (and then the
    // same system and record tables); one failed with "relation already exists".
    for url in shared_databases().await {
        let apps = [e2e::repo().join("apps/crm")];
        let settings = e2e::settings();
        let open = || engine::Engine::open_with(&url, &apps, &settings);
        let (first, second, third) = tokio::join!(open(), open(), open());
        for (i, opened) in [first, second, third].into_iter().enumerate() {
            assert!(opened.is_ok(), "{url}: engine {i} failed to open: {:?}", opened.err());
        }
        let db = Database::connect(&url).await.unwrap();
        assert_eq!(versions(&db).await, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], "{url}: each migration applied once");
    }
}
