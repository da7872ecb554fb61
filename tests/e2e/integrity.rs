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

/// A copy of the CRM in a new folder, with `change` applied to its quote form.
fn crm_with_quote(change: impl Fn(&mut Value)) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-crm-{}", uuid::Uuid::now_v7().simple()));
    e2e::copy_dir(&e2e::repo().join("apps/crm"), &dir);
    let path = dir.join("forms/quote.json");
    let mut quote: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    change(&mut quote);
    std::fs::write(&path, serde_json::to_string_pretty(&quote).unwrap()).unwrap();
    dir
}

#[actix_web::test]
async fn an_approver_reads_the_record_of_a_pending_task_whatever_their_scope() {
    // Before: with managers scoped to their own quotes, the quote routed to manager1 answered 404
    // to them, on the record and on the task's decision; only the submitter's recall freed it.
    let dir = crm_with_quote(|quote| {
        for grant in quote["permissions"].as_array_mut().unwrap() {
            if grant["roles"] == json!(["sales_manager"]) {
                grant["scope"] = json!("own");
            }
        }
    });
    for url in databases().await {
        let engine = engine::Engine::open_with(&url, std::slice::from_ref(&dir), &e2e::settings()).await.unwrap();
        engine.ensure_admin(Some("admin-pass")).await.unwrap();
        engine.seed_users("crm", "demo").await.unwrap();
        let admin = engine.login("admin", "admin-pass").await.unwrap().token;
        let rep = engine.login("rep1", "demo").await.unwrap().token;
        let manager = engine.login("manager1", "demo").await.unwrap().token;
        let app = start(engine).await;
        let (_, account) = call(&app, post("account", json!({"name": "南方航运"})), Some(&rep)).await;
        let (_, product) = call(&app, post("product", json!({"code": "P-9", "name": "Crane", "unit_price": 100})), Some(&admin)).await;
        let items = json!([{"product": product["id"], "qty": 1, "unit_price": 100}]);
        let (status, quote) =
            call(&app, post("quote", json!({"account": account["id"], "items": items, "discount": 15})), Some(&rep)).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {quote}");
        let at = format!("/api/apps/crm/forms/quote/records/{}", quote["id"].as_str().unwrap());
        let (status, moved) = call(&app, TestRequest::post().uri(&format!("{at}/actions/submit")), Some(&rep)).await;
        assert_eq!((status, &moved["flow"]["approval"]["waiting"]), (StatusCode::OK, &json!(["manager1"])), "{url}: {moved}");

        let (status, body) = call(&app, TestRequest::get().uri(&at), Some(&manager)).await;
        assert_eq!(status, StatusCode::OK, "{url}: the approver opens what they are asked to decide: {body}");
        let (_, tasks) = call(&app, TestRequest::get().uri("/api/tasks"), Some(&manager)).await;
        let task = tasks["items"][0]["id"].as_str().unwrap_or_else(|| panic!("{url}: {tasks}")).to_owned();
        let decide = TestRequest::post().uri(&format!("/api/tasks/{task}/approve")).set_json(json!({"comment": "ok"}));
        let (status, body) = call(&app, decide, Some(&manager)).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        // Decided, the quote is outside manager1's scope again.
        let (status, _) = call(&app, TestRequest::get().uri(&at), Some(&manager)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{url}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[actix_web::test]
async fn a_person_creates_a_record_only_in_a_state_they_may_start_it_in() {
    // Before: the CRM let every rep create an opportunity already won or lost.
    for url in databases().await {
        let (engine, _) = crm(&url).await;
        engine.seed_users("crm", "demo").await.unwrap();
        let rep = engine.login("rep1", "demo").await.unwrap().token;
        let manager = engine.login("manager1", "demo").await.unwrap().token;
        let app = start(engine).await;
        let (_, account) = call(&app, post("account", json!({"name": "东方港务"})), Some(&rep)).await;
        let deal =
            |name: &str, stage: &str| post("opportunity", json!({"name": name, "account": account["id"], "amount": 1, "stage": stage}));
        for stage in ["won", "lost"] {
            let (status, body) = call(&app, deal(stage, stage), Some(&rep)).await;
            assert_eq!((status, &body["details"][0]["path"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!("/stage")), "{url}: {body}");
        }
        // Deals entered mid-way stay open to reps; closed ones to managers, who enter past deals.
        let (status, body) = call(&app, deal("Renewal", "negotiation"), Some(&rep)).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {body}");
        let (status, body) = call(&app, deal("Last year's", "won"), Some(&manager)).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {body}");
    }
}
