//! The CRM's business rules through the API: lead scoring and assignment, quote totals,
//! account tiers, contract receivables.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{call, crm, databases, start};
use serde_json::{Value, json};

fn post(form: &str, data: Value) -> TestRequest {
    TestRequest::post().uri(&format!("/api/apps/crm/forms/{form}/records")).set_json(json!({ "data": data }))
}

fn get(form: &str, id: &str) -> TestRequest {
    TestRequest::get().uri(&format!("/api/apps/crm/forms/{form}/records/{id}"))
}

fn patch(form: &str, id: &str, version: i64, data: Value) -> TestRequest {
    TestRequest::patch()
        .uri(&format!("/api/apps/crm/forms/{form}/records/{id}"))
        .insert_header(("If-Match", version.to_string()))
        .set_json(json!({ "data": data }))
}

/// Creates the demo users the CRM's rules name (owners must exist).
async fn with_users(url: &str) -> (engine::Engine, String) {
    let (engine, token) = crm(url).await;
    engine.seed_users("crm", "demo").await.expect("demo users");
    (engine, token)
}

#[actix_web::test]
async fn leads_get_a_score_and_an_owner_by_the_rules() {
    for url in databases().await {
        let (engine, token) = with_users(&url).await;
        let app = start(engine).await;
        let t = Some(token.as_str());

        let hot = json!({"name": "张伟", "company": "华信科技", "region": "east", "industry": "it", "source": "referral",
                         "email": "zw@huaxin.example", "phone": "13800000001", "rating": "hot", "estimated_budget": 500000});
        let (status, lead) = call(&app, post("lead", hot), t).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {lead}");
        assert_eq!(lead["data"]["score"], 75, "{url}: it 15 + referral 20 + budget 15 + email 5 + phone 5 + hot 15");
        assert_eq!(lead["owner"], "rep1", "{url}: east goes to rep1");

        // Behaviour counts: two logged activities raise the score on the next save.
        let id = lead["id"].as_str().unwrap();
        for subject in ["first call", "site visit"] {
            let (status, body) = call(&app, post("activity", json!({"subject": subject, "type": "call", "lead": id})), t).await;
            assert_eq!(status, StatusCode::CREATED, "{url}: {body}");
        }
        let (_, lead) = call(&app, patch("lead", id, 1, json!({"title": "CTO"})), t).await;
        assert_eq!(lead["data"]["score"], 86, "{url}: + title 5 + 2 activities × 3");

        let (_, key) = call(&app, post("lead", json!({"name": "Li", "region": "north", "industry": "finance"})), t).await;
        assert_eq!((key["owner"].as_str(), &key["data"]["score"]), (Some("manager1"), &json!(15)), "{url}");
        let (_, abroad) = call(&app, post("lead", json!({"name": "Smith", "region": "overseas", "industry": "retail"})), t).await;
        assert_eq!(abroad["owner"], "manager1", "{url}: the fallback owner");

        // Everyone else rotates through the team: 100 leads, evenly.
        let mut rep1 = 0;
        for i in 0..100 {
            let (status, lead) =
                call(&app, post("lead", json!({"name": format!("Lead {i}"), "region": "north", "industry": "retail"})), t).await;
            assert_eq!(status, StatusCode::CREATED, "{url}: {lead}");
            match lead["owner"].as_str().unwrap() {
                "rep1" => rep1 += 1,
                "rep2" => {}
                other => panic!("{url}: unexpected owner {other}"),
            }
        }
        assert!((49..=51).contains(&rep1), "{url}: rep1 got {rep1} of 100");

        // A lead refused as a duplicate takes no turn: the next two still alternate.
        let rotating = |name: &str, email: &str| json!({"name": name, "region": "north", "industry": "retail", "email": email});
        let (_, first) = call(&app, post("lead", rotating("A", "a@rotate.example")), t).await;
        let (status, body) = call(&app, post("lead", rotating("A again", "a@rotate.example")), t).await;
        assert_eq!(status, StatusCode::CONFLICT, "{url}: {body}");
        let (_, second) = call(&app, post("lead", rotating("B", "b@rotate.example")), t).await;
        assert_ne!(first["owner"], second["owner"], "{url}: {first} then {second}");
    }
}

#[actix_web::test]
async fn quotes_total_their_lines_and_accounts_are_tiered_by_won_amount() {
    for url in databases().await {
        let (engine, token) = with_users(&url).await;
        let app = start(engine).await;
        let t = Some(token.as_str());
        let (_, account) = call(&app, post("account", json!({"name": "东方重工"})), t).await;
        let account = account["id"].as_str().unwrap().to_owned();
        let (_, product) = call(&app, post("product", json!({"code": "P-100", "name": "Pump", "unit_price": 100})), t).await;
        let product = product["id"].as_str().unwrap().to_owned();

        let lines = json!([{"product": product, "qty": 2, "unit_price": 100}, {"product": product, "qty": 1, "unit_price": 50.5}]);
        let (status, quote) = call(&app, post("quote", json!({"account": account, "items": lines, "discount": 10})), t).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {quote}");
        assert_eq!(quote["data"]["items"][1]["amount"], json!(50.5), "{url}");
        assert_eq!(quote["data"]["total"], json!(225.45), "{url}: (200 + 50.5) × 0.9");
        let (_, quote) = call(&app, patch("quote", quote["id"].as_str().unwrap(), 1, json!({"discount": null})), t).await;
        assert_eq!(quote["data"]["total"], json!(250.5), "{url}");

        let deal = |name: &str, amount: i64, stage: &str| {
            post("opportunity", json!({"name": name, "account": account, "amount": amount, "stage": stage}))
        };
        let tier = |app_account: Value| app_account["data"]["tier"].clone();
        call(&app, deal("Phase 1", 400_000, "won"), t).await;
        let (_, acc) = call(&app, get("account", &account), t).await;
        assert_eq!(tier(acc), "B", "{url}");
        let (_, second) = call(&app, deal("Phase 2", 700_000, "negotiation"), t).await;
        call(&app, deal("Phase 3", 5_000_000, "proposal"), t).await;
        let (_, acc) = call(&app, get("account", &account), t).await;
        assert_eq!(tier(acc), "B", "{url}: open deals do not count");
        // The stage follows the flow: a person cannot simply write it …
        let (status, _) = call(&app, patch("opportunity", second["id"].as_str().unwrap(), 1, json!({"stage": "won"})), t).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        // … but winning through the flow's action saves the deal, and its rule re-tiers the account.
        let win =
            TestRequest::post().uri(&format!("/api/apps/crm/forms/opportunity/records/{}/actions/win", second["id"].as_str().unwrap()));
        let (status, moved) = call(&app, win, t).await;
        assert_eq!(status, StatusCode::OK, "{url}: {moved}");
        assert_eq!((moved["record"]["data"]["stage"].as_str(), moved["record"]["data"]["probability"].as_i64()), (Some("won"), Some(100)));
        let (_, acc) = call(&app, get("account", &account), t).await;
        assert_eq!(tier(acc), "A", "{url}: 1.1 M won");
    }
}

#[actix_web::test]
async fn contracts_track_paid_receivable_and_overdue_amounts() {
    for url in databases().await {
        let (engine, token) = with_users(&url).await;
        let app = start(engine).await;
        let t = Some(token.as_str());
        let (_, account) = call(&app, post("account", json!({"name": "北方能源"})), t).await;
        let plan = json!([{"due_date": "2020-01-01", "amount": 30000}, {"due_date": "2099-01-01", "amount": 70000}]);
        let (status, contract) = call(
            &app,
            post("contract", json!({"name": "Supply 2026", "account": account["id"], "amount": 100000, "payment_plan": plan})),
            t,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {contract}");
        let figures = |c: &Value| (c["data"]["paid_amount"].clone(), c["data"]["receivable"].clone(), c["data"]["overdue_amount"].clone());
        assert_eq!(figures(&contract), (json!(0), json!(100000), json!(30000)), "{url}");

        let id = contract["id"].as_str().unwrap();
        let payment = json!({"contract": id, "instalment": 1, "amount": 20000, "paid_on": "2026-01-15"});
        let (status, payment) = call(&app, post("payment", payment), t).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {payment}");
        let (_, contract) = call(&app, get("contract", id), t).await;
        assert_eq!(figures(&contract), (json!(20000), json!(80000), json!(10000)), "{url}");
        assert_eq!(contract["version"], 2, "{url}: the payment re-saved its contract");
        let owed: Vec<&Value> = contract["data"]["payment_plan"].as_array().unwrap().iter().map(|row| &row["outstanding"]).collect();
        assert_eq!(owed, [&json!(10000), &json!(70000)], "{url}: each instalment's own figure");
    }
}
