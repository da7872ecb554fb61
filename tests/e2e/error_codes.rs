//! Errors a client words itself: every field problem carries a `code` (and the `params` its
//! wording needs), and the UI's catalogue (`crates/web/ui/src/errors.json`) words every code of
//! the error table and every field code in Chinese and English.

use std::collections::BTreeSet;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{call, crm, databases, repo, start};
use engine::{Actor, Code, FieldCode, ImportOptions, Table};
use serde_json::{Value, json};

const LOCALES: [&str; 2] = ["zh-CN", "en"];

/// The `{name}` placeholders of a message.
fn placeholders(text: &str) -> BTreeSet<&str> {
    text.split('{').skip(1).filter_map(|rest| rest.split_once('}').map(|(name, _)| name)).collect()
}

/// The enum of a string schema in the OpenAPI document.
fn enum_of(schema: &Value) -> BTreeSet<String> {
    let names = schema["enum"].as_array().or_else(|| schema["oneOf"][0]["enum"].as_array());
    names.unwrap_or_else(|| panic!("no enum in {schema}")).iter().map(|v| v.as_str().unwrap().to_owned()).collect()
}

#[actix_web::test]
async fn every_error_and_field_code_is_worded_in_chinese_and_english() {
    // The codes as the API documents them, which must be the engine's.
    let (engine, token) = crm(&databases().await.remove(0)).await;
    let app = start(engine).await;
    let (_, doc) = call(&app, TestRequest::get().uri("/api/openapi.json"), Some(&token)).await;
    let schemas = &doc["components"]["schemas"];
    let error_codes = enum_of(&schemas["ErrorBody"]["properties"]["error"]);
    let field_codes = enum_of(&schemas["Problem"]["properties"]["code"]);
    assert_eq!(error_codes, Code::ALL.iter().map(|c| c.as_str().to_owned()).collect());
    assert_eq!(field_codes, FieldCode::ALL.iter().map(|c| c.as_str().to_owned()).collect());

    let path = repo().join("crates/web/ui/src/errors.json");
    let catalogue: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let keys: BTreeSet<String> =
        error_codes.iter().map(|c| format!("error.{c}")).chain(field_codes.iter().map(|c| format!("field.{c}"))).collect();
    for locale in LOCALES {
        let messages = catalogue[locale].as_object().unwrap_or_else(|| panic!("errors.json has no {locale}"));
        let missing: Vec<_> = keys.iter().filter(|k| messages.get(*k).and_then(Value::as_str).is_none_or(str::is_empty)).collect();
        assert!(missing.is_empty(), "errors.json words no {locale} for {missing:?}");
        let stale: Vec<_> = messages.keys().filter(|k| !keys.contains(*k)).collect();
        assert!(stale.is_empty(), "errors.json words codes the server no longer has: {stale:?}");
    }
    // Placeholders are param names (a typo such as `{limit)` would show as written).
    for (locale, key) in LOCALES.iter().flat_map(|l| keys.iter().map(move |k| (l, k))) {
        let text = catalogue[locale][key].as_str().unwrap();
        let names = placeholders(text);
        assert!(names.iter().all(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')), "{locale} {key}: {text}");
        assert_eq!(text.matches('{').count(), names.len(), "{locale} {key}: {text}");
    }
}

/// Every detail of an error answer carries a code; returns the codes by path.
fn codes(body: &Value) -> Vec<(String, String)> {
    let details = body["details"].as_array().unwrap_or_else(|| panic!("no details: {body}"));
    let mut out: Vec<_> = details
        .iter()
        .map(|d| {
            let code = d["code"].as_str().unwrap_or_else(|| panic!("a detail without a code: {d} in {body}"));
            (d["path"].as_str().unwrap().to_owned(), code.to_owned())
        })
        .collect();
    out.sort();
    out
}

fn pair(path: &str, code: &str) -> (String, String) {
    (path.to_owned(), code.to_owned())
}

fn post(form: &str, data: Value) -> TestRequest {
    TestRequest::post().uri(&format!("/api/apps/crm/forms/{form}/records")).set_json(json!({ "data": data }))
}

fn patch(form: &str, record: &Value, data: Value) -> TestRequest {
    TestRequest::patch()
        .uri(&format!("/api/apps/crm/forms/{form}/records/{}", record["id"].as_str().unwrap()))
        .insert_header(("If-Match", record["version"].to_string()))
        .set_json(json!({ "data": data }))
}

fn act(form: &str, record: &Value, action: &str) -> TestRequest {
    TestRequest::post()
        .uri(&format!("/api/apps/crm/forms/{form}/records/{}/actions/{action}", record["id"].as_str().unwrap()))
        .insert_header(("If-Match", record["version"].to_string()))
        .set_json(json!({}))
}

#[actix_web::test]
async fn every_field_problem_carries_a_code_and_its_params() {
    for url in databases().await {
        let (engine, token) = crm(&url).await;
        engine.seed_users("crm", "demo").await.unwrap();
        let rep = engine.login("rep1", "demo").await.unwrap().token;
        let manager = engine.login("manager1", "demo").await.unwrap().token;
        let (rep, manager) = (Some(rep.as_str()), Some(manager.as_str()));
        let app = start(engine).await;
        let t = Some(token.as_str());
        let refused = |body: &Value| codes(body);

        // The form's schema.
        let (status, body) = call(&app, post("account", json!({"name": "x".repeat(201), "phone": "call me", "colour": 1})), t).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        assert_eq!(refused(&body), [pair("/colour", "unknown_field"), pair("/name", "maxLength"), pair("/phone", "pattern")]);
        assert_eq!(body["details"][1]["params"], json!({"limit": 200}), "{url}");

        // Links, users, duplicates, read-only fields.
        let (_, account) = call(&app, post("account", json!({"name": "东方电子"})), t).await;
        let ghost = uuid::Uuid::now_v7().to_string();
        let (_, body) = call(&app, post("contact", json!({"name": "王五", "account": ghost})), t).await;
        assert_eq!(refused(&body), [pair("/account", "link_not_found")], "{url}");
        assert_eq!(body["details"][0]["params"], json!({"form": "account", "id": ghost}), "{url}");
        let (_, body) = call(&app, post("work_order", json!({"technician": "ghost"})), t).await;
        assert_eq!(
            (refused(&body), &body["details"][0]["params"]),
            (vec![pair("/technician", "user_not_found")], &json!({"username": "ghost"}))
        );
        let (status, body) = call(&app, post("account", json!({"name": "东方电子"})), t).await;
        assert_eq!((status, refused(&body)), (StatusCode::CONFLICT, vec![pair("/name", "duplicate")]), "{url}");
        assert_eq!(body["details"][0]["params"], json!({"existing": account["id"]}), "{url}");
        let (_, body) = call(&app, post("quote", json!({"account": account["id"], "total": 5})), t).await;
        assert_eq!(refused(&body), [pair("/total", "read_only")], "{url}");

        // Flows: the state field, guards, locks, fields an action requires.
        let (_, deal) = call(&app, post("opportunity", json!({"name": "扩容", "account": account["id"], "amount": 1000})), t).await;
        let (_, body) = call(&app, patch("opportunity", &deal, json!({"stage": "won"})), t).await;
        assert_eq!(refused(&body), [pair("/stage", "follows_flow")], "{url}");
        let (_, empty) = call(&app, post("quote", json!({"account": account["id"]})), t).await;
        let (status, body) = call(&app, act("quote", &empty, "submit"), t).await;
        assert_eq!((status, refused(&body)), (StatusCode::UNPROCESSABLE_ENTITY, vec![pair("", "guard")]), "{url}");
        let guard = &body["details"][0]["params"]["text"];
        assert_eq!(guard["zh-CN"], "提交前请至少添加一行报价明细", "{url}: the guard's own words in each language: {body}");
        let (_, product) = call(&app, post("product", json!({"code": "P-1", "name": "Scanner", "unit_price": 10})), t).await;
        let items = json!([{"product": product["id"], "qty": 1, "unit_price": 10}]);
        let (_, own) = call(&app, post("account", json!({"name": "远东物流"})), rep).await;
        let (_, quote) = call(&app, post("quote", json!({"account": own["id"], "items": items, "discount": 15})), rep).await;
        let (_, moved) = call(&app, act("quote", &quote, "submit"), rep).await;
        let (_, body) = call(&app, patch("quote", &moved["record"], json!({"notes": "x"})), rep).await;
        assert_eq!(refused(&body), [pair("/notes", "locked")], "{url}");
        assert_eq!(body["details"][0]["params"], json!({"state": "in_review"}), "{url}");
        let (_, approved) = call(&app, act("quote", &moved["record"], "approve"), manager).await;
        let (_, body) = call(&app, act("quote", &approved["record"], "send"), rep).await;
        assert_eq!(refused(&body), [pair("/valid_until", "required_for_action")], "{url}");

        // Malformed requests and account problems.
        let (status, body) = call(&app, TestRequest::get().uri("/api/apps/crm/forms/account/records?limit=0"), t).await;
        assert_eq!((status, refused(&body)), (StatusCode::BAD_REQUEST, vec![pair("/limit", "malformed")]), "{url}");
        let change = json!({"current": "not it", "new": "a new long password"});
        let (_, body) = call(&app, TestRequest::post().uri("/api/auth/password").set_json(change), t).await;
        assert_eq!(refused(&body), [pair("/current", "wrong_password")], "{url}");
    }
}

#[actix_web::test]
async fn an_import_rows_problems_carry_codes() {
    let (engine, _) = crm(&databases().await.remove(0)).await;
    let table = Table::new(
        vec!["name".into(), "is_decision_maker".into(), "account".into()],
        vec![vec!["李四".into(), "maybe".into(), "没有这家公司".into()]],
    );
    let options = ImportOptions { dry_run: true, ..Default::default() };
    let report = engine.import(&Actor::system(), &e2e::app_id("crm"), &e2e::form_id("contact"), table, &options).await.unwrap();
    let errors = serde_json::to_value(&report.errors).unwrap();
    let mut coded: Vec<_> =
        errors.as_array().unwrap().iter().map(|e| (e["column"].as_str(), e["code"].as_str(), e["error"].as_str())).collect();
    coded.sort();
    assert_eq!(
        coded,
        [
            (Some("account"), Some("unreadable_cell"), Some("validation_failed")),
            (Some("is_decision_maker"), Some("unreadable_cell"), Some("validation_failed")),
        ],
        "{errors}"
    );
    assert!(errors.as_array().unwrap().iter().any(|e| e["params"]["column"] == "is_decision_maker"), "{errors}");
}
