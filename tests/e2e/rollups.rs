//! Rollup fields (issue 16, item 3): a contract's `paid_amount` is the sum of its payments,
//! kept by the engine whoever saves, and after payments are deleted, restored, changed, moved
//! or imported; a rollup relative to today follows the date when the job worker runs; and
//! `tessera check` refuses rollups it could not compute.

use std::path::PathBuf;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use chrono::{Duration, Utc};
use e2e::{call, crm, databases, start};
use engine::LoadedApp;
use serde_json::{Value, json};

fn post(form: &str, data: Value) -> TestRequest {
    TestRequest::post().uri(&format!("/api/apps/crm/forms/{form}/records")).set_json(json!({ "data": data }))
}

fn at(form: &str, id: &str) -> String {
    format!("/api/apps/crm/forms/{form}/records/{id}")
}

fn id_of(record: &Value) -> String {
    record["id"].as_str().unwrap_or_else(|| panic!("no id in {record}")).to_owned()
}

fn version(record: &Value) -> String {
    record["version"].as_i64().unwrap_or_else(|| panic!("no version in {record}")).to_string()
}

/// A contract's `(paid_amount, receivable)`, as `token` reads it.
async fn figures<S, B>(app: &S, contract: &str, token: &str) -> (Value, Value)
where
    S: actix_web::dev::Service<actix_http::Request, Response = actix_web::dev::ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let (status, body) = call(app, TestRequest::get().uri(&at("contract", contract)), Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (body["data"]["paid_amount"].clone(), body["data"]["receivable"].clone())
}

#[actix_web::test]
async fn paid_amount_follows_payments_deleted_restored_changed_and_moved() {
    // Before: the receivables rule summed the payments when a payment re-saved its contract, so
    // deleting a contract's payment left `paid_amount` where it was.
    for url in databases().await {
        let (engine, admin) = crm(&url).await;
        engine.seed_users("crm", "demo").await.unwrap();
        let finance = engine.login("finance1", "demo").await.unwrap().token;
        let legal = engine.login("legal1", "demo").await.unwrap().token;
        let app = start(engine).await;
        let f = Some(finance.as_str());
        let (_, account) = call(&app, post("account", json!({"name": "西部电网"})), Some(&admin)).await;
        let contract = |name: &str, amount: i64| post("contract", json!({"name": name, "account": account["id"], "amount": amount}));
        let (_, grid) = call(&app, contract("Grid 2026", 1_000_000), Some(&admin)).await;
        let (_, port) = call(&app, contract("Port 2026", 500_000), Some(&admin)).await;
        let (grid, port) = (id_of(&grid), id_of(&port));
        let pay = |amount: i64| post("payment", json!({"contract": grid, "amount": amount, "paid_on": "2026-11-30"}));
        let (_, first) = call(&app, pay(100_000), f).await;
        let (status, second) = call(&app, pay(150_000), f).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {second}");
        assert_eq!(figures(&app, &grid, &finance).await, (json!(250_000), json!(750_000)), "{url}");

        // legal1 may not read payments; their save leaves the figure as it is.
        let (_, seen) = call(&app, TestRequest::get().uri(&at("contract", &grid)), Some(&legal)).await;
        let terms = TestRequest::patch().uri(&at("contract", &grid)).insert_header(("If-Match", version(&seen)));
        let (status, saved) = call(&app, terms.set_json(json!({"data": {"terms": "30 days net"}})), Some(&legal)).await;
        assert_eq!((status, &saved["data"]["paid_amount"]), (StatusCode::OK, &json!(250_000)), "{url}: {saved}");

        let delete = TestRequest::delete().uri(&at("payment", &id_of(&second))).insert_header(("If-Match", version(&second)));
        let (status, deleted) = call(&app, delete, f).await;
        assert_eq!(status, StatusCode::OK, "{url}: {deleted}");
        assert_eq!(figures(&app, &grid, &finance).await, (json!(100_000), json!(900_000)), "{url}: the deleted payment no longer counts");

        let restore =
            TestRequest::post().uri(&format!("{}/restore", at("payment", &id_of(&second)))).insert_header(("If-Match", version(&deleted)));
        let (status, body) = call(&app, restore, f).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        assert_eq!(figures(&app, &grid, &finance).await, (json!(250_000), json!(750_000)), "{url}: restored, it counts again");

        let change = TestRequest::patch().uri(&at("payment", &id_of(&first))).insert_header(("If-Match", version(&first)));
        let (status, changed) = call(&app, change.set_json(json!({"data": {"amount": 120_000}})), f).await;
        assert_eq!(status, StatusCode::OK, "{url}: {changed}");
        assert_eq!(figures(&app, &grid, &finance).await.0, json!(270_000), "{url}: a changed amount");

        let moved = TestRequest::patch().uri(&at("payment", &id_of(&first))).insert_header(("If-Match", version(&changed)));
        let (status, body) = call(&app, moved.set_json(json!({"data": {"contract": port}})), f).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        assert_eq!(figures(&app, &grid, &finance).await, (json!(150_000), json!(850_000)), "{url}: the payment left");
        assert_eq!(figures(&app, &port, &finance).await, (json!(120_000), json!(380_000)), "{url}: and arrived");

        // The contract's versions written for its payments say so.
        let (_, history) = call(&app, TestRequest::get().uri(&format!("{}/history", at("contract", &port))), Some(&admin)).await;
        let ops: Vec<&str> = history["items"].as_array().unwrap().iter().map(|h| h["op"].as_str().unwrap()).collect();
        assert_eq!(ops, ["create", "rollup"], "{url}");
    }
}

#[actix_web::test]
async fn imported_payments_roll_up_into_their_contracts() {
    for url in databases().await {
        let (engine, admin) = crm(&url).await;
        engine.seed_users("crm", "demo").await.unwrap();
        let finance = engine.login("finance1", "demo").await.unwrap().token;
        let app = start(engine).await;
        let (_, account) = call(&app, post("account", json!({"name": "东方港务"})), Some(&admin)).await;
        let (_, contract) =
            call(&app, post("contract", json!({"name": "Cranes 2026", "account": account["id"], "amount": 300_000})), Some(&admin)).await;
        let csv = "contract,amount,paid_on\nCranes 2026,100000.10,2026-10-01\nCranes 2026,50000.20,2026-11-01\n";
        let import = TestRequest::post()
            .uri("/api/apps/crm/forms/payment/import?wait=true")
            .insert_header(("Content-Type", "text/csv"))
            .set_payload(csv);
        let (status, report) = call(&app, import, Some(&finance)).await;
        assert_eq!((status, &report["created"]), (StatusCode::OK, &json!(2)), "{url}: {report}");
        assert_eq!(figures(&app, &id_of(&contract), &finance).await, (json!(150_000.3), json!(149_999.7)), "{url}");
    }
}

/// A copy of the CRM whose contracts also roll up the payments of the last 30 days.
fn crm_with_recent_payments() -> PathBuf {
    let dir = crm_copy();
    edit_contract(&dir, |contract| {
        let recent = json!({
            "id": "paid_last_30_days",
            "type": "rollup",
            "label": {"en": "Paid in the last 30 days"},
            "rollup": {"form": "payment", "link": "contract", "op": "sum", "field": "amount", "where": {"paid_on": {"last_n_days": 30}}}
        });
        contract["fields"].as_array_mut().unwrap().push(recent);
    });
    dir
}

#[actix_web::test]
async fn a_rollup_relative_to_today_follows_the_date_when_the_job_worker_runs() {
    let dir = crm_with_recent_payments();
    for url in databases().await {
        let engine = engine::Engine::open_with(&url, std::slice::from_ref(&dir), &e2e::settings()).await.unwrap();
        engine.ensure_admin(Some("admin-pass")).await.unwrap();
        let admin = engine.login("admin", "admin-pass").await.unwrap().token;
        let app = start(engine.clone()).await;
        let (_, account) = call(&app, post("account", json!({"name": "北方能源"})), Some(&admin)).await;
        let (_, contract) =
            call(&app, post("contract", json!({"name": "Supply 2026", "account": account["id"], "amount": 100_000})), Some(&admin)).await;
        let id = id_of(&contract);
        let today = Utc::now().date_naive().to_string();
        let payment = post("payment", json!({"contract": id, "amount": 80_000, "paid_on": today}));
        let (status, body) = call(&app, payment, Some(&admin)).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {body}");
        let recent = |body: Value| body["data"]["paid_last_30_days"].clone();
        let (_, body) = call(&app, TestRequest::get().uri(&at("contract", &id)), Some(&admin)).await;
        assert_eq!(recent(body), json!(80_000), "{url}");

        let now = Utc::now();
        engine.run_due_jobs(now + Duration::days(20)).await.unwrap();
        let (_, body) = call(&app, TestRequest::get().uri(&at("contract", &id)), Some(&admin)).await;
        assert_eq!(recent(body), json!(80_000), "{url}: 20 days on, still within 30");
        engine.run_due_jobs(now + Duration::days(40)).await.unwrap();
        let (_, body) = call(&app, TestRequest::get().uri(&at("contract", &id)), Some(&admin)).await;
        assert_eq!((recent(body.clone()), &body["data"]["paid_amount"]), (json!(0), &json!(80_000)), "{url}: 40 days on: {body}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

fn crm_copy() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-crm-{}", uuid::Uuid::now_v7().simple()));
    e2e::copy_dir(&e2e::repo().join("apps/crm"), &dir);
    dir
}

fn edit_contract(dir: &std::path::Path, change: impl FnOnce(&mut Value)) {
    let path = dir.join("forms/contract.json");
    let mut contract: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    change(&mut contract);
    std::fs::write(&path, serde_json::to_string_pretty(&contract).unwrap()).unwrap();
}

/// What `tessera check` says of the CRM with contract's `paid_amount` rolling up `rollup`.
fn check_paid_amount(rollup: Value) -> Vec<String> {
    let dir = crm_copy();
    let mut index = 0;
    edit_contract(&dir, |contract| {
        index = contract["fields"].as_array().unwrap().iter().position(|f| f["id"] == "paid_amount").unwrap();
        contract["fields"][index] = json!({"id": "paid_amount", "type": "rollup", "label": {"en": "Paid"}, "rollup": rollup});
    });
    let problems: Vec<String> = LoadedApp::check(&dir).iter().map(|d| d.to_string().replace(&format!("{}/", dir.display()), "")).collect();
    std::fs::remove_dir_all(&dir).ok();
    problems.into_iter().map(|p| p.replace(&format!("/fields/{index}/"), "/fields/paid_amount/")).collect()
}

#[test]
fn check_refuses_rollups_it_could_not_compute() {
    let refused = |rollup: Value, pointer: &str, message: &str| {
        let problems = check_paid_amount(rollup.clone());
        let expected = format!("forms/contract.json: {pointer}: ");
        assert!(problems.iter().any(|p| p.starts_with(&expected) && p.contains(message)), "{rollup} → {problems:#?}");
    };
    let sum = |form: &str, link: &str, field: &str| json!({"form": form, "link": link, "op": "sum", "field": field});
    let elsewhere = json!({"form": "activity", "link": "account", "op": "count"});
    refused(elsewhere, "/fields/paid_amount/rollup/link", "link back");
    refused(sum("quote", "nothing", "total"), "/fields/paid_amount/rollup/link", "no field `nothing`");
    refused(sum("nowhere", "contract", "amount"), "/fields/paid_amount/rollup/form", "no form `nowhere`");
    refused(sum("payment", "contract", "colour"), "/fields/paid_amount/rollup/field", "no field `colour`");
    refused(sum("payment", "contract", "paid_on"), "/fields/paid_amount/rollup/field", "not a number field");
    refused(json!({"form": "payment", "link": "contract", "op": "max"}), "/fields/paid_amount/rollup/field", "needs the `field`");
    let unknown_filter = json!({"form": "payment", "link": "contract", "op": "count", "where": {"colour": "red"}});
    refused(unknown_filter, "/fields/paid_amount/rollup/where/colour", "colour");
    let not_a_date = json!({"form": "payment", "link": "contract", "op": "count", "where": {"amount": {"last_n_days": 3}}});
    refused(not_a_date, "/fields/paid_amount/rollup/where/amount/last_n_days", "date");
    let problems = check_paid_amount(json!({"form": "payment", "link": "contract", "op": "sum", "field": "amount"}));
    assert!(!problems.iter().any(|p| p.contains("/rollup")), "{problems:#?}");
}

#[actix_web::test]
async fn a_contracts_overdue_amount_follows_the_date_when_the_job_worker_runs() {
    // Before: `overdue_amount` changed only when something saved the contract; an instalment
    // falling due left it at 0 until then. Its rule reads `today()`, so the job worker computes
    // it again every day, and writes the contract only when the figure moved.
    for url in databases().await {
        let (engine, admin) = crm(&url).await;
        let app = start(engine.clone()).await;
        let (_, account) = call(&app, post("account", json!({"name": "东海造船"})), Some(&admin)).await;
        let now = Utc::now();
        let day = |days: i64| (now + Duration::days(days)).date_naive().to_string();
        let plan = json!([{"due_date": day(10), "amount": 30_000}, {"due_date": day(100), "amount": 70_000}]);
        let data = json!({"name": "Hull 7", "account": account["id"], "amount": 100_000, "payment_plan": plan});
        let (status, contract) = call(&app, post("contract", data), Some(&admin)).await;
        assert_eq!((status, &contract["data"]["overdue_amount"]), (StatusCode::CREATED, &json!(0)), "{url}: {contract}");
        let id = id_of(&contract);
        let read = || async { call(&app, TestRequest::get().uri(&at("contract", &id)), Some(&admin)).await.1 };

        engine.run_due_jobs(now + Duration::days(11)).await.unwrap();
        let due = read().await;
        assert_eq!(due["data"]["overdue_amount"], json!(30_000), "{url}: the first instalment is due: {due}");
        let (_, history) = call(&app, TestRequest::get().uri(&format!("{}/history", at("contract", &id))), Some(&admin)).await;
        assert_eq!(history["items"][1]["op"], "recompute", "{url}: {history}");

        engine.run_due_jobs(now + Duration::days(12)).await.unwrap();
        assert_eq!(read().await["version"], due["version"], "{url}: nothing moved, nothing written");
    }
}
