//! Regression tests of issue 16 (business integrity): figures the rules store do not depend on
//! who happens to save.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{call, crm, databases, start};
use serde_json::{Value, json};

fn post(form: &str, data: Value) -> TestRequest {
    TestRequest::post().uri(&format!("/api/apps/crm/forms/{form}/records")).set_json(json!({ "data": data }))
}

#[actix_web::test]
async fn a_contracts_paid_amount_is_the_same_whoever_saves_it() {
    // Before: the receivables rule's `find` saw the payments the saving user may read; legal, who
    // may edit contracts but not read payments, set `paid_amount` to 0 by saving the terms.
    for url in databases().await {
        let (engine, admin) = crm(&url).await;
        engine.seed_users("crm", "demo").await.unwrap();
        let finance = engine.login("finance1", "demo").await.unwrap().token;
        let legal = engine.login("legal1", "demo").await.unwrap().token;
        let app = start(engine).await;
        let (_, account) = call(&app, post("account", json!({"name": "西部电网"})), Some(&admin)).await;
        let (status, contract) =
            call(&app, post("contract", json!({"name": "Grid 2026", "account": account["id"], "amount": 1_000_000})), Some(&admin)).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {contract}");
        let id = contract["id"].as_str().unwrap().to_owned();
        let payment = post("payment", json!({"contract": id, "amount": 250_000, "paid_on": "2026-11-30"}));
        let (status, body) = call(&app, payment, Some(&finance)).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {body}");

        let at = format!("/api/apps/crm/forms/contract/records/{id}");
        let (_, before) = call(&app, TestRequest::get().uri(&at), Some(&legal)).await;
        assert_eq!(before["data"]["paid_amount"], json!(250_000), "{url}: {before}");
        let version = before["version"].as_i64().unwrap().to_string();
        let edit = TestRequest::patch().uri(&at).insert_header(("If-Match", version)).set_json(json!({"data": {"terms": "30 days net"}}));
        let (status, after) = call(&app, edit, Some(&legal)).await;
        assert_eq!(status, StatusCode::OK, "{url}: {after}");
        assert_eq!(
            (&after["data"]["paid_amount"], &after["data"]["receivable"]),
            (&json!(250_000), &json!(750_000)),
            "{url}: legal's save recomputed the figures from the payments legal cannot read"
        );
    }
}
