//! A list answers how many records match when asked (`count=true`): exact up to 10,000, then
//! "at least 10,000" — counting further would cost more than the page it labels — and always
//! within what the caller may see.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{app_id, call, crm, databases, form_id, start, url_encode};
use engine::{ImportOptions, Table};
use serde_json::json;

const PRODUCTS: &str = "/api/apps/crm/forms/product/records";
const ACCOUNTS: &str = "/api/apps/crm/forms/account/records";

#[actix_web::test]
async fn a_list_counts_its_matches_up_to_a_cap_and_only_what_the_caller_sees() {
    for url in databases().await {
        let (engine, admin) = crm(&url).await;
        engine.seed_users("crm", "demo").await.unwrap();
        let app = start(engine.clone()).await;

        // 10,001 products, more than a list counts.
        let rows = (0..10_001)
            .map(|i| vec![format!("P{i:05}"), format!("Product {i}"), if i % 2 == 0 { "set" } else { "piece" }.to_owned()])
            .collect();
        let table = Table::new(vec!["code".into(), "name".into(), "unit".into()], rows);
        let admin_actor = engine.login("admin", "admin-pass").await.unwrap().user;
        let report = engine.import(&admin_actor, &app_id("crm"), &form_id("product"), table, &ImportOptions::default()).await.unwrap();
        assert_eq!(report.created, 10_001, "{url}: {:?}", report.errors.first());

        let (status, page) = call(&app, TestRequest::get().uri(&format!("{PRODUCTS}?count=true&limit=5")), Some(&admin)).await;
        assert_eq!(status, StatusCode::OK, "{url}: {page}");
        assert_eq!(page["total"], json!({"records": 10_000, "capped": true}), "{url}");
        assert_eq!(page["items"].as_array().unwrap().len(), 5, "{url}");
        let filter = url_encode(&json!({"code": {"starts_with": "P0000"}}).to_string());
        let (_, page) = call(&app, TestRequest::get().uri(&format!("{PRODUCTS}?count=true&limit=5&filter={filter}")), Some(&admin)).await;
        assert_eq!(page["total"], json!({"records": 10, "capped": false}), "{url}: a filtered count is exact");
        let (_, page) = call(&app, TestRequest::get().uri(&format!("{PRODUCTS}?limit=5")), Some(&admin)).await;
        assert!(page.get("total").is_none(), "{url}: not counted unless asked");

        // A rep's count is of the accounts the rep may see, not of the table.
        let (rep1, rep2) = (e2e::demo_token(&engine, "rep1").await, e2e::demo_token(&engine, "rep2").await);
        for (token, name) in [(&rep1, "One Ltd"), (&rep1, "Two Ltd"), (&rep2, "Three Ltd")] {
            let (status, body) = call(&app, TestRequest::post().uri(ACCOUNTS).set_json(json!({"data": {"name": name}})), Some(token)).await;
            assert_eq!(status, StatusCode::CREATED, "{url}: {body}");
        }
        let (_, page) = call(&app, TestRequest::get().uri(&format!("{ACCOUNTS}?count=true")), Some(&rep2)).await;
        assert_eq!(page["total"], json!({"records": 1, "capped": false}), "{url}: {page}");
        let (_, page) = call(&app, TestRequest::get().uri(&format!("{ACCOUNTS}?count=true")), Some(&rep1)).await;
        assert_eq!(page["total"]["records"], 2, "{url}: {page}");
        engine.close().await.ok();
    }
}
