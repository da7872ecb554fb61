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
    // Managers scoped to their own quotes, then managers with no grant on quotes at all.
    let own = crm_with_quote(|quote| {
        for grant in quote["permissions"].as_array_mut().unwrap() {
            if grant["roles"] == json!(["sales_manager"]) {
                grant["scope"] = json!("own");
            }
        }
    });
    let none = crm_with_quote(|quote| quote["permissions"].as_array_mut().unwrap().retain(|g| g["roles"] != json!(["sales_manager"])));
    for dir in [&own, &none] {
        for url in databases().await {
            let engine = engine::Engine::open_with(&url, std::slice::from_ref(dir), &e2e::settings()).await.unwrap();
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
    }
    std::fs::remove_dir_all(&own).ok();
    std::fs::remove_dir_all(&none).ok();
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

fn record(form: &str, id: &str) -> String {
    format!("/api/apps/crm/forms/{form}/records/{id}")
}

fn act(form: &str, id: &str, action: &str) -> TestRequest {
    TestRequest::post().uri(&format!("{}/actions/{action}", record(form, id)))
}

/// A PATCH of `data` at the record's current version, as `token` sees it.
async fn patch<S, B>(app: &S, token: &str, form: &str, id: &str, data: Value) -> (StatusCode, Value)
where
    S: actix_web::dev::Service<actix_http::Request, Response = actix_web::dev::ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let (_, now) = call(app, TestRequest::get().uri(&record(form, id)), Some(token)).await;
    let version = now["version"].as_i64().expect("the record is readable").to_string();
    let req = TestRequest::patch().uri(&record(form, id)).insert_header(("If-Match", version)).set_json(json!({ "data": data }));
    call(app, req, Some(token)).await
}

#[actix_web::test]
async fn an_approved_quote_goes_back_for_approval_when_its_prices_change_and_is_locked_while_in_review() {
    // Before: after manager1 approved a 15 % discount rep1 set 50 % and the quote stayed
    // `approved`; while it waited for approval rep1 could change it too.
    for url in databases().await {
        let (engine, admin) = crm(&url).await;
        engine.seed_users("crm", "demo").await.unwrap();
        let rep = engine.login("rep1", "demo").await.unwrap().token;
        let manager = engine.login("manager1", "demo").await.unwrap().token;
        let app = start(engine).await;
        let (_, account) = call(&app, post("account", json!({"name": "远东物流"})), Some(&rep)).await;
        let (_, product) = call(&app, post("product", json!({"code": "P-7", "name": "Scanner", "unit_price": 1000})), Some(&admin)).await;
        let items = json!([{"product": product["id"], "qty": 2, "unit_price": 1000}]);
        let (_, quote) = call(&app, post("quote", json!({"account": account["id"], "items": items, "discount": 15})), Some(&rep)).await;
        let id = quote["id"].as_str().unwrap().to_owned();
        let (status, moved) = call(&app, act("quote", &id, "submit"), Some(&rep)).await;
        assert_eq!((status, moved["flow"]["state"].as_str()), (StatusCode::OK, Some("in_review")), "{url}: {moved}");

        // In review everything is locked, for the submitter and the admin alike.
        assert_eq!(moved["flow"]["locked"], json!(["*"]), "{url}: the UI shows the form read-only");
        let (status, body) = patch(&app, &rep, "quote", &id, json!({"discount": 50})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        assert_eq!(body["details"][0]["path"], "/discount", "{url}: {body}");
        let (status, _) = patch(&app, &admin, "quote", &id, json!({"notes": "x"})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}");

        let (status, approved) = call(&app, act("quote", &id, "approve"), Some(&manager)).await;
        assert_eq!((status, approved["flow"]["state"].as_str()), (StatusCode::OK, Some("approved")), "{url}: {approved}");
        assert_eq!(approved["flow"]["reapprove"], json!(["account", "items", "discount", "payment_terms"]), "{url}");

        // Approved: a note is free, a new discount sends the quote back to the manager.
        let (status, noted) = patch(&app, &rep, "quote", &id, json!({"notes": "call before sending"})).await;
        assert_eq!((status, noted["data"]["status"].as_str()), (StatusCode::OK, Some("approved")), "{url}: {noted}");
        let (status, changed) = patch(&app, &rep, "quote", &id, json!({"discount": 50})).await;
        assert_eq!(status, StatusCode::OK, "{url}: {changed}");
        assert_eq!((changed["data"]["status"].as_str(), &changed["data"]["total"]), (Some("in_review"), &json!(1000)), "{url}: {changed}");
        let (_, view) = call(&app, TestRequest::get().uri(&format!("{}/actions", record("quote", &id))), Some(&manager)).await;
        assert_eq!(view["approval"]["waiting"], json!(["manager1"]), "{url}: {view}");
        let last = view["log"].as_array().unwrap().last().unwrap().clone();
        assert_eq!((last["action"].as_str(), last["by"].as_str()), (Some("reapprove"), Some("rep1")), "{url}: {view}");
        let (status, _) = call(&app, act("quote", &id, "send"), Some(&rep)).await;
        assert_eq!(status, StatusCode::CONFLICT, "{url}: it cannot be sent before the new approval");
    }
}

#[actix_web::test]
async fn an_approved_contracts_amount_needs_a_new_approval_and_legal_approved_is_reset() {
    // Before: manager1 changed an approved contract's amount from 500,000 to 900,000 and it stayed
    // approved with `legal_approved: true`.
    for url in databases().await {
        let (engine, _) = crm(&url).await;
        engine.seed_users("crm", "demo").await.unwrap();
        let (rep, manager, legal, finance) = (
            e2e::demo_token(&engine, "rep1").await,
            e2e::demo_token(&engine, "manager1").await,
            e2e::demo_token(&engine, "legal1").await,
            e2e::demo_token(&engine, "finance1").await,
        );
        let app = start(engine.clone()).await;
        let (_, account) = call(&app, post("account", json!({"name": "西部能源"})), Some(&rep)).await;
        let (_, contract) =
            call(&app, post("contract", json!({"name": "Grid", "account": account["id"], "amount": 500_000})), Some(&rep)).await;
        let id = contract["id"].as_str().unwrap().to_owned();
        call(&app, act("contract", &id, "submit"), Some(&rep)).await;
        for who in [&manager, &legal, &finance] {
            call(&app, act("contract", &id, "approve"), Some(who)).await;
        }
        let (_, approved) = call(&app, TestRequest::get().uri(&record("contract", &id)), Some(&rep)).await;
        assert_eq!((approved["data"]["status"].as_str(), &approved["data"]["legal_approved"]), (Some("approved"), &json!(true)), "{url}");
        let (status, changed) = patch(&app, &manager, "contract", &id, json!({"amount": 900_000})).await;
        assert_eq!(status, StatusCode::OK, "{url}: {changed}");
        assert_eq!(
            (changed["data"]["status"].as_str(), &changed["data"]["legal_approved"], &changed["data"]["amount"]),
            (Some("in_review"), &json!(false), &json!(900_000)),
            "{url}: {changed}"
        );
    }
}

#[actix_web::test]
async fn a_confirmed_payment_is_locked_on_every_door_until_finance_reopens_it() {
    for url in databases().await {
        let (engine, admin) = crm(&url).await;
        engine.seed_users("crm", "demo").await.unwrap();
        let finance = engine.login("finance1", "demo").await.unwrap().token;
        let app = start(engine).await;
        let (_, account) = call(&app, post("account", json!({"name": "北方重工"})), Some(&admin)).await;
        let (_, contract) =
            call(&app, post("contract", json!({"name": "Mill", "account": account["id"], "amount": 100_000})), Some(&admin)).await;
        let data = json!({"contract": contract["id"], "amount": 40_000, "paid_on": "2026-11-30", "reference": "BK-1"});
        let (status, payment) = call(&app, post("payment", data), Some(&finance)).await;
        assert_eq!((status, payment["data"]["status"].as_str()), (StatusCode::CREATED, Some("received")), "{url}: {payment}");
        let id = payment["id"].as_str().unwrap().to_owned();
        let (status, confirmed) = call(&app, act("payment", &id, "confirm"), Some(&finance)).await;
        assert_eq!((status, confirmed["flow"]["state"].as_str()), (StatusCode::OK, Some("confirmed")), "{url}: {confirmed}");

        // PATCH.
        let (status, body) = patch(&app, &finance, "payment", &id, json!({"amount": 4_000})).await;
        assert_eq!((status, body["details"][0]["path"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("/amount")), "{url}: {body}");
        // Import updating the duplicate.
        let import = TestRequest::post()
            .uri("/api/apps/crm/forms/payment/import?wait=true&on_duplicate=update")
            .insert_header(("Content-Type", "text/csv"))
            .set_payload("reference,contract,amount,paid_on\nBK-1,Mill,4000,2026-11-30\n");
        let (status, report) = call(&app, import, Some(&finance)).await;
        assert_eq!((status, report["updated"].as_u64()), (StatusCode::OK, Some(0)), "{url}: {report}");
        assert!(report["errors"].to_string().contains("locked"), "{url}: {report}");
        // What the lock does not name stays free; reopening frees the rest, in the log.
        let (status, _) = patch(&app, &finance, "payment", &id, json!({"invoice_number": "FP-88"})).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        call(&app, act("payment", &id, "reopen"), Some(&finance)).await;
        let (status, fixed) = patch(&app, &finance, "payment", &id, json!({"amount": 4_000})).await;
        assert_eq!((status, &fixed["data"]["amount"]), (StatusCode::OK, &json!(4_000)), "{url}: {fixed}");
    }
}

#[actix_web::test]
async fn a_rule_acting_for_a_person_cannot_change_a_locked_field_either() {
    // A rule's `update` is a change asked for on someone's behalf: the lock of the target's state
    // judges it as it judges a PATCH, and the whole save is refused.
    let dir = std::env::temp_dir().join(format!("tessera-crm-{}", uuid::Uuid::now_v7().simple()));
    e2e::copy_dir(&e2e::repo().join("apps/crm"), &dir);
    std::fs::write(
        dir.join("rules/discounts.rhai"),
        "fn after_save(record, old, user) { update(\"quote\", record.notes, #{ discount: 40 }); }\n",
    )
    .unwrap();
    let path = dir.join("forms/activity.json");
    let mut activity: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    activity["hooks"] = json!([{"on": "after_save", "rule": "discounts.after_save"}]);
    std::fs::write(&path, serde_json::to_string_pretty(&activity).unwrap()).unwrap();
    for url in databases().await {
        let engine = engine::Engine::open_with(&url, std::slice::from_ref(&dir), &e2e::settings()).await.unwrap();
        engine.ensure_admin(Some("admin-pass")).await.unwrap();
        engine.seed_users("crm", "demo").await.unwrap();
        let admin = engine.login("admin", "admin-pass").await.unwrap().token;
        let rep = engine.login("rep1", "demo").await.unwrap().token;
        let app = start(engine).await;
        let (_, account) = call(&app, post("account", json!({"name": "东方港务"})), Some(&rep)).await;
        let (_, product) = call(&app, post("product", json!({"code": "P-8", "name": "Hoist", "unit_price": 100})), Some(&admin)).await;
        let items = json!([{"product": product["id"], "qty": 1, "unit_price": 100}]);
        let (_, quote) = call(&app, post("quote", json!({"account": account["id"], "items": items, "discount": 15})), Some(&rep)).await;
        let id = quote["id"].as_str().unwrap().to_owned();
        call(&app, act("quote", &id, "submit"), Some(&rep)).await;
        let note = json!({"subject": "follow up", "type": "call", "notes": id});
        let (status, body) = call(&app, post("activity", note), Some(&rep)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        assert_eq!(body["details"][0]["path"], "/discount", "{url}: {body}");
        let (_, after) = call(&app, TestRequest::get().uri(&record("quote", &id)), Some(&rep)).await;
        assert_eq!(after["data"]["discount"], json!(15), "{url}: {after}");
    }
}
