//! The demo data set: realistic, deterministic, seeded once.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{call, databases, repo, start};
use engine::Engine;
use serde_json::Value;

async fn count(
    app: &impl actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
    >,
    token: &str,
    form: &str,
) -> usize {
    let mut n = 0;
    let mut cursor = String::new();
    loop {
        let after = if cursor.is_empty() { String::new() } else { format!("&cursor={cursor}") };
        let uri = format!("/api/apps/crm/forms/{form}/records?limit=500{after}");
        let (status, page) = call(app, TestRequest::get().uri(&uri), Some(token)).await;
        assert_eq!(status, StatusCode::OK, "{form}: {page}");
        n += page["items"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => return n,
        }
    }
}

#[actix_web::test]
async fn demo_seed_is_realistic_deterministic_and_runs_once() {
    for url in databases().await {
        let engine = Engine::open_with(&url, &[repo().join("apps/crm")], &e2e::settings()).await.unwrap();
        let first = engine.seed("crm", "demo").await.unwrap();
        assert!(!first.already_seeded);
        let second = engine.seed("crm", "demo").await.unwrap();
        assert!(second.already_seeded, "{url}: a second start must not seed again");
        for (form, at_least) in [("account", 50), ("contact", 200), ("lead", 500), ("opportunity", 300), ("ticket", 100)] {
            assert!(first.records[form] >= at_least, "{url}: {form}: {}", first.records[form]);
        }

        // Demo users log in with password `demo`; the admin sees every record the seed made,
        // a sales rep only their own accounts.
        let admin = engine.login("admin", "demo").await.expect("admin logs in with demo");
        let rep = engine.login("rep1", "demo").await.expect("rep1 logs in with demo");
        let app = start(engine.clone()).await;
        for (form, created) in &first.records {
            assert_eq!(count(&app, &admin.token, form).await, *created, "{url}: {form}");
        }
        let mine = count(&app, &rep.token, "account").await;
        assert!(mine > 0 && mine < first.records["account"], "{url}: rep1 sees {mine} accounts");

        // Demo requests seeded in review wait on their approvers: they are someone's tasks.
        let mut waiting = 0;
        for approver in ["manager1", "ceo1"] {
            let actor = engine.login(approver, "demo").await.unwrap().user;
            waiting += engine.tasks(&actor, None).await.unwrap().len();
        }
        assert!(waiting > 0, "{url}: in-review quotes and contracts have approvers");

        // Demo quotes print with their computed totals.
        let admin_actor = engine.login("admin", "demo").await.unwrap().user;
        let quotes = engine
            .list(&admin_actor, &e2e::app_id("crm"), &e2e::form_id("quote"), &engine::ListParams { limit: Some(3), ..Default::default() })
            .await
            .unwrap();
        for quote in quotes.items {
            let total = quote.data["total"].as_f64().expect("a demo quote has a total");
            assert!(total > 0.0, "{url}: demo quotes have line items");
            let html = engine.print(&admin_actor, &e2e::app_id("crm"), "quote", &e2e::record_id(&quote.id), "zh-CN").await.unwrap();
            assert!(html.contains(&thousands(total)), "{url}: {} not in the printed quote", thousands(total));
        }

        let contracts = engine
            .list(
                &admin_actor,
                &e2e::app_id("crm"),
                &e2e::form_id("contract"),
                &engine::ListParams { limit: Some(2), ..Default::default() },
            )
            .await
            .unwrap();
        for contract in contracts.items {
            let amount = contract.data["amount"].as_f64().expect("a demo contract has an amount");
            let html = engine.print(&admin_actor, &e2e::app_id("crm"), "contract", &e2e::record_id(&contract.id), "zh-CN").await.unwrap();
            assert!(html.contains(&thousands(amount)), "{url}: {} not in the printed contract", thousands(amount));
        }

        // Deterministic: a second database seeded from the same file holds the same data.
        let other = Engine::open_with("sqlite::memory:", &[repo().join("apps/crm")], &e2e::settings()).await.unwrap();
        other.seed("crm", "demo").await.unwrap();
        let names = |engine: Engine| async move {
            let actor = engine.login("admin", "demo").await.unwrap().user;
            let params = engine::ListParams {
                sort: Some("name".into()),
                limit: Some(500),
                fields: Some("name,industry".into()),
                ..Default::default()
            };
            let page = engine.list(&actor, &e2e::app_id("crm"), &e2e::form_id("account"), &params).await.unwrap();
            page.items.into_iter().map(|e| Value::Object(e.data)).collect::<Vec<_>>()
        };
        assert_eq!(names(engine).await, names(other).await, "{url}");
    }
}

/// `1234567.5` → `1,234,567.50`, as documents print money.
fn thousands(n: f64) -> String {
    let text = format!("{n:.2}");
    let (int, frac) = text.split_once('.').unwrap();
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out}.{frac}")
}
