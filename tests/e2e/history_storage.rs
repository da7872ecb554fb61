//! Every version of a record stored once, and an audit log of events rather than copies
//! (issue 18, "Smaller files"): the live version's history row holds no snapshot (the record
//! row holds it) until a newer version replaces it; an audit row holds what changed and the
//! SHA-256 of the version's snapshot. History, reports `as_of` and the audit chain read right,
//! on databases written this way and on those written the old way (a snapshot in every row).

use std::collections::BTreeSet;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{call, crm, databases, start, url_encode};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

const LEADS: &str = "/api/apps/crm/forms/lead/records";

/// SQLite in a file, which the test opens beside the engine to read the tables, and
/// PostgreSQL when configured.
async fn file_databases(name: &str) -> Vec<String> {
    let dir = std::env::temp_dir().join(format!("tessera-{name}-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    e2e::file_databases(&dir).await
}

/// (version, snapshot) of each history row of record `id`, oldest first, as stored.
async fn stored_versions(url: &str, id: &str) -> Vec<(i64, String)> {
    let db = Database::connect(url).await.unwrap();
    let sql = format!("SELECT version, snapshot FROM record_history WHERE record_id = '{id}' ORDER BY version");
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
    let versions = rows.iter().map(|r| (r.try_get("", "version").unwrap(), r.try_get("", "snapshot").unwrap())).collect();
    db.close().await.unwrap();
    versions
}

/// Writes `snapshot` into the history row of version `version` of record `id`, as releases
/// before this one did for every version.
async fn write_snapshot_the_old_way(url: &str, id: &str, version: i64, snapshot: &str) {
    let db = Database::connect(url).await.unwrap();
    let q = Query::update()
        .table("record_history")
        .value("snapshot", snapshot)
        .and_where(Expr::col("record_id").eq(id))
        .and_where(Expr::col("version").eq(version))
        .to_owned();
    assert_eq!(db.execute(&q).await.unwrap().rows_affected(), 1);
    db.close().await.unwrap();
}

fn sha256(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

/// A record as the API returns it, in the text the engine keeps and hashes a snapshot as:
/// every object's members in key order.
fn snapshot_text(record: &Value) -> String {
    let mut record = record.clone();
    record.sort_all_objects();
    record.to_string()
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The lead report the tests run `as_of`: each company's budget, of the lead with `email`
/// (the filter, the dimension and the measure read typed columns).
fn budget_by_company(email: &str) -> Value {
    json!({"source": "lead", "filter": {"email": email},
           "dimensions": [{"id": "company", "field": "company"}],
           "measures": [{"id": "budget", "agg": "sum", "field": "estimated_budget"}]})
}

/// The (company, budget) rows of [`budget_by_company`] as of `at` (now when `None`).
async fn budgets<S, B>(app: &S, token: &str, email: &str, at: Option<&str>) -> Vec<(String, f64)>
where
    S: actix_web::dev::Service<actix_http::Request, Response = actix_web::dev::ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let uri = match at {
        Some(at) => format!("/api/apps/crm/query?as_of={}", url_encode(at)),
        None => "/api/apps/crm/query".to_owned(),
    };
    let (status, result) = call(app, TestRequest::post().uri(&uri).set_json(budget_by_company(email)), Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{result}");
    let number = |v: &Value| v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).unwrap();
    result["rows"].as_array().unwrap().iter().map(|r| (r["company"].as_str().unwrap().to_owned(), number(&r["budget"]))).collect()
}

async fn patch<S, B>(app: &S, token: &str, id: &str, version: i64, data: Value) -> Value
where
    S: actix_web::dev::Service<actix_http::Request, Response = actix_web::dev::ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let req =
        TestRequest::patch().uri(&format!("{LEADS}/{id}")).insert_header(("If-Match", version.to_string())).set_json(json!({"data": data}));
    let (status, record) = call(app, req, Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{record}");
    record
}

/// The records of the versions of record `id`, oldest first, read through the history API.
async fn history<S, B>(app: &S, token: &str, id: &str) -> Vec<Value>
where
    S: actix_web::dev::Service<actix_http::Request, Response = actix_web::dev::ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let (status, body) = call(app, TestRequest::get().uri(&format!("{LEADS}/{id}/history")), Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().unwrap().iter().map(|item| item["record"].clone()).collect()
}

/// The fields whose values differ between two versions' `data`.
fn changed_fields(old: &Value, new: &Value) -> BTreeSet<String> {
    let (old, new) = (old["data"].as_object().unwrap(), new["data"].as_object().unwrap());
    old.keys().chain(new.keys()).filter(|k| old.get(*k) != new.get(*k)).cloned().collect()
}

fn keys(object: &Value) -> BTreeSet<&str> {
    object.as_object().map(Map::keys).into_iter().flatten().map(String::as_str).collect()
}

#[actix_web::test]
async fn each_version_is_stored_once_and_history_reports_and_audit_read_it_right() {
    for url in file_databases("history").await {
        let (engine, token) = crm(&url).await;
        engine.seed_users("crm", "demo").await.unwrap();
        let app = start(engine.clone()).await;
        let t = token.as_str();
        let lead = json!({"name": "Li Lei", "company": "Acme", "email": "li@example.com", "source": "web", "estimated_budget": 1000});
        let (status, created) = call(&app, TestRequest::post().uri(LEADS).set_json(json!({"data": lead})), Some(t)).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {created}");
        let id = created["id"].as_str().unwrap().to_owned();
        patch(&app, t, &id, 1, json!({"company": "Acme Two", "estimated_budget": 300000})).await;
        let between = now();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let live = patch(&app, t, &id, 2, json!({"estimated_budget": 2000000, "title": "CTO"})).await;

        // The history API gives every version with its values.
        let versions = history(&app, t, &id).await;
        let seen: Vec<(i64, &str, f64)> = versions
            .iter()
            .map(|v| {
                (v["version"].as_i64().unwrap(), v["data"]["company"].as_str().unwrap(), v["data"]["estimated_budget"].as_f64().unwrap())
            })
            .collect();
        assert_eq!(seen, [(1, "Acme", 1000.0), (2, "Acme Two", 300000.0), (3, "Acme Two", 2000000.0)], "{url}");
        assert_eq!(versions[2], live, "{url}: the live version is the live record");

        // Stored: versions 1 and 2 whole, the live one (3) without a snapshot.
        let stored = stored_versions(&url, &id).await;
        assert_eq!(stored.iter().map(|(v, _)| *v).collect::<Vec<_>>(), [1, 2, 3], "{url}");
        assert_eq!(stored.iter().filter(|(_, s)| s.is_empty()).count(), 1, "{url}: {stored:?}");
        assert!(stored[2].1.is_empty(), "{url}: the live version's row holds no snapshot");
        for (version, snapshot) in &stored[..2] {
            let record: Value = serde_json::from_str(snapshot).unwrap();
            assert_eq!(record, versions[*version as usize - 1], "{url}: version {version} as stored");
        }

        // Reports as of a time between the updates see version 2; as of now, version 3.
        assert_eq!(budgets(&app, t, "li@example.com", Some(&between)).await, [("Acme Two".to_owned(), 300000.0)], "{url}");
        assert_eq!(budgets(&app, t, "li@example.com", Some(&now())).await, [("Acme Two".to_owned(), 2000000.0)], "{url}");
        assert_eq!(budgets(&app, t, "li@example.com", None).await, [("Acme Two".to_owned(), 2000000.0)], "{url}");

        // The audit: a create is its version and its snapshot's hash; an update, what changed.
        let (_, log) = call(&app, TestRequest::get().uri(&format!("/api/audit?record={id}")), Some(t)).await;
        let rows: Vec<&Value> =
            log["items"].as_array().unwrap().iter().rev().filter(|r| r["outcome"] == "ok" && r["action"] != "read").collect();
        let actions: Vec<&str> = rows.iter().map(|r| r["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["create", "update", "update"], "{url}: {log}");
        assert_eq!(rows[0]["before"], Value::Null, "{url}");
        assert_eq!(rows[0]["after"], json!({"version": 1, "sha256": sha256(&stored[0].1)}), "{url}");
        let hashes = [sha256(&stored[1].1), sha256(&snapshot_text(&live))];
        for (n, row) in rows[1..].iter().enumerate() {
            let (old, new) = (&versions[n], &versions[n + 1]);
            let changed = changed_fields(old, new);
            assert!(changed.contains("estimated_budget") && changed.contains("score"), "{url}: the rule's change counts too: {changed:?}");
            assert_eq!(keys(&row["after"]["data"]), changed.iter().map(String::as_str).collect(), "{url}: {row}");
            for field in &changed {
                assert_eq!(row["before"]["data"].get(field), old["data"].get(field), "{url}: old {field}");
                assert_eq!(row["after"]["data"][field], new["data"][field], "{url}: new {field}");
            }
            assert_eq!(keys(&row["before"]), BTreeSet::from(["data", "version"]), "{url}: {row}");
            assert_eq!(keys(&row["after"]), BTreeSet::from(["data", "sha256", "version"]), "{url}: {row}");
            assert_eq!((row["before"]["version"].as_i64(), row["after"]["version"].as_i64()), (Some(n as i64 + 1), Some(n as i64 + 2)));
            assert_eq!(row["after"]["sha256"], hashes[n], "{url}: the hash of version {}'s snapshot", n + 2);
        }
        assert!(rows[2]["before"]["data"].get("title").is_none(), "{url}: a field without a value before is absent");
        assert!(engine.verify_audit().await.unwrap().is_ok(), "{url}");
        drop(app);
        engine.close().await.unwrap();
    }
}

#[actix_web::test]
async fn a_database_written_with_every_snapshot_still_reads_right() {
    for url in file_databases("history-old").await {
        let (engine, token) = crm(&url).await;
        engine.seed_users("crm", "demo").await.unwrap();
        let app = start(engine.clone()).await;
        let t = token.as_str();
        let lead = json!({"name": "Han Meimei", "company": "Old Co", "email": "han@example.com", "estimated_budget": 500});
        let (status, created) = call(&app, TestRequest::post().uri(LEADS).set_json(json!({"data": lead})), Some(t)).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {created}");
        let id = created["id"].as_str().unwrap().to_owned();
        let live = patch(&app, t, &id, 1, json!({"company": "Old Co Two", "estimated_budget": 700})).await;
        // An older release kept the live version's snapshot too, in the record's own key order.
        let old_text = live.to_string();
        write_snapshot_the_old_way(&url, &id, 2, &old_text).await;
        let between = now();
        tokio::time::sleep(Duration::from_millis(5)).await;

        assert_eq!(history(&app, t, &id).await[1], live, "{url}");
        assert_eq!(budgets(&app, t, "han@example.com", Some(&now())).await, [("Old Co Two".to_owned(), 700.0)], "{url}");

        // A new version leaves the old row as it was, and is itself stored the new way.
        let newest = patch(&app, t, &id, 2, json!({"company": "New Co"})).await;
        let stored = stored_versions(&url, &id).await;
        assert_eq!(stored[1].1, old_text, "{url}: the old snapshot is left as it was");
        assert!(!stored[0].1.is_empty() && stored[2].1.is_empty(), "{url}: {stored:?}");
        let versions = history(&app, t, &id).await;
        let companies: Vec<&str> = versions.iter().map(|v| v["data"]["company"].as_str().unwrap()).collect();
        assert_eq!(companies, ["Old Co", "Old Co Two", "New Co"], "{url}");
        assert_eq!(versions[2], newest, "{url}");
        assert_eq!(budgets(&app, t, "han@example.com", Some(&between)).await, [("Old Co Two".to_owned(), 700.0)], "{url}");
        assert_eq!(budgets(&app, t, "han@example.com", Some(&now())).await, [("New Co".to_owned(), 700.0)], "{url}");
        drop(app);
        engine.close().await.unwrap();
    }
}

#[actix_web::test]
async fn an_import_stores_each_version_once_within_a_chunk_and_across_imports() {
    for url in file_databases("history-import").await {
        let (engine, token) = crm(&url).await;
        engine.seed_users("crm", "demo").await.unwrap();
        let app = start(engine.clone()).await;
        let t = token.as_str();
        let import = |csv: &str| {
            TestRequest::post()
                .uri("/api/apps/crm/forms/lead/import?wait=true&on_duplicate=update")
                .insert_header(("Content-Type", "text/csv"))
                .set_payload(csv.to_owned())
        };
        // The second row updates the record the first created, in the same chunk.
        let csv = "姓名,Company,email\n甲,Acme,a@example.com\n甲,Acme Two,a@example.com\n乙,Beta,b@example.com\n";
        let (status, report) = call(&app, import(csv), Some(t)).await;
        assert_eq!((status, report["created"].as_u64(), report["updated"].as_u64()), (StatusCode::OK, Some(2), Some(1)), "{url}: {report}");
        // A later import updates a record written before it.
        let (status, report) = call(&app, import("姓名,Company,email\n甲,Acme Three,a@example.com\n"), Some(t)).await;
        assert_eq!((status, report["updated"].as_u64()), (StatusCode::OK, Some(1)), "{url}: {report}");

        let filter = url_encode(r#"{"email":"a@example.com"}"#);
        let (_, page) = call(&app, TestRequest::get().uri(&format!("{LEADS}?filter={filter}")), Some(t)).await;
        let id = page["items"][0]["id"].as_str().unwrap().to_owned();
        let versions = history(&app, t, &id).await;
        let companies: Vec<&str> = versions.iter().map(|v| v["data"]["company"].as_str().unwrap()).collect();
        assert_eq!(companies, ["Acme", "Acme Two", "Acme Three"], "{url}");
        let stored = stored_versions(&url, &id).await;
        let empty: Vec<bool> = stored.iter().map(|(_, s)| s.is_empty()).collect();
        assert_eq!(empty, [false, false, true], "{url}: only the live version without a snapshot");
        for (version, snapshot) in &stored[..2] {
            assert_eq!(serde_json::from_str::<Value>(snapshot).unwrap(), versions[*version as usize - 1], "{url}");
        }
        assert!(engine.verify_audit().await.unwrap().is_ok(), "{url}");
        drop(app);
        engine.close().await.unwrap();
    }
}

#[actix_web::test]
async fn a_flow_move_keeps_the_version_it_supersedes_as_it_was() {
    for url in databases().await {
        let (engine, token) = crm(&url).await;
        let app = start(engine).await;
        let t = Some(token.as_str());
        let account = json!({"data": {"name": "Acme", "industry": "retail"}});
        let (_, account) = call(&app, TestRequest::post().uri("/api/apps/crm/forms/account/records").set_json(account), t).await;
        let deal =
            json!({"data": {"name": "D1", "account": account["id"], "stage": "proposal", "amount": 100, "close_date": "2026-01-15"}});
        let (status, created) = call(&app, TestRequest::post().uri("/api/apps/crm/forms/opportunity/records").set_json(deal), t).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {created}");
        let at = format!("/api/apps/crm/forms/opportunity/records/{}", created["id"].as_str().unwrap());
        let win = TestRequest::post().uri(&format!("{at}/actions/win")).insert_header(("If-Match", "1"));
        let (status, won) = call(&app, win, t).await;
        assert_eq!(status, StatusCode::OK, "{url}: {won}");
        let (_, body) = call(&app, TestRequest::get().uri(&format!("{at}/history")), t).await;
        let states: Vec<(&str, &str)> = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| (item["record"]["state"].as_str().unwrap(), item["record"]["data"]["stage"].as_str().unwrap()))
            .collect();
        assert_eq!(states, [("proposal", "proposal"), ("won", "won")], "{url}: the flow's move changed the row before writing");
        // The audit row of the move says where it went.
        let id = created["id"].as_str().unwrap();
        let (_, log) = call(&app, TestRequest::get().uri(&format!("/api/audit?record={id}")), t).await;
        let moved = log["items"].as_array().unwrap().iter().find(|r| r["action"] == "flow:win").expect("the move's audit row");
        assert_eq!((&moved["before"]["state"], &moved["after"]["state"]), (&json!("proposal"), &json!("won")), "{url}: {moved}");
    }
}
