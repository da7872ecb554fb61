//! Saved filters (`filter` fields): a segment kept as a record, its conditions checked against
//! the form they select as a list filter is — on create and on update, through links and within
//! the list's bounds — and read back as written, for a list or a rule to apply.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{call, crm, databases, start, url_encode};
use serde_json::{Value, json};

#[actix_web::test]
async fn a_segment_keeps_conditions_its_target_form_understands_and_refuses_any_other() {
    for url in databases().await {
        let (engine, _admin) = crm(&url).await;
        engine.seed("crm", "demo").await.expect("demo");
        let marketing = engine.login("marketing1", "demo").await.unwrap().token;
        let app = start(engine).await;
        let save = |method: TestRequest, data: Value| {
            let (app, token) = (&app, marketing.clone());
            async move { call(app, method.set_json(json!({ "data": data })), Some(&token)).await }
        };
        let segments = "/api/apps/crm/forms/segment/records";
        let refused = |criteria: Value| {
            let save = &save;
            async move {
                let (status, body) = save(TestRequest::post().uri(segments), json!({"name": "Refused", "criteria": criteria})).await;
                assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
                body["details"][0]["path"].as_str().unwrap_or_default().to_owned()
            }
        };
        // A field contacts lack, through the account link and on the contact itself; an
        // operator the field does not take; more conditions than a list filter may hold.
        assert_eq!(refused(json!({"account.no_such_field": "x"})).await, "/criteria/account.no_such_field", "{url}");
        assert_eq!(refused(json!({"shoe_size": {"gt": 40}})).await, "/criteria/shoe_size", "{url}");
        assert!(refused(json!({"name": {"near": "x"}})).await.starts_with("/criteria/name"), "{url}");
        let wide: Vec<Value> = (0..300).map(|i| json!({"name": format!("n{i}")})).collect();
        assert!(refused(json!({"or": wide})).await.starts_with("/criteria"), "{url}");
        assert_eq!(refused(json!("name = x")).await, "/criteria", "{url}");

        let criteria = json!({"account.industry": "manufacturing", "account.tags": {"has": "vip"}, "is_decision_maker": true});
        let (status, made) = save(TestRequest::post().uri(segments), json!({"name": "Makers", "criteria": criteria})).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {made}");
        assert_eq!(made["data"]["criteria"], criteria, "{url}: kept as written");
        // An update is checked the same way.
        let record = format!("{segments}/{}", made["id"].as_str().unwrap());
        let patch = TestRequest::patch().uri(&record).insert_header(("If-Match", made["version"].to_string()));
        let (status, body) = save(patch, json!({"criteria": {"account.nope": "x"}})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        // What it keeps is a list filter of contacts, as the list takes it.
        let list = format!("/api/apps/crm/forms/contact/records?filter={}", url_encode(&criteria.to_string()));
        let (status, body) = call(&app, TestRequest::get().uri(&list), Some(&marketing)).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
    }
}
