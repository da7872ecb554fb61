//! The API document and the error body: every request and response body of
//! `/api/openapi.json` has a schema, and errors carry the facts a client acts on.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::contract::{disagreement, request};
use e2e::{call, call_typed, crm, databases, start};
use serde_json::{Map, Value, json};

const ACCOUNTS: &str = "/api/apps/crm/forms/account/records";

/// The schema `schema` names, following a `$ref` into the document's components.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => doc.pointer(reference.trim_start_matches('#')).unwrap_or_else(|| panic!("dangling {reference}")),
        None => schema,
    }
}

/// Where, under `schema`, an object says nothing of what it holds (no properties, no
/// additionalProperties, no composition): what a generated client could not type.
fn untyped_objects(doc: &Value, schema: &Value, at: &str, found: &mut Vec<String>, depth: usize) {
    let schema = resolve(doc, schema);
    let Some(object) = schema.as_object() else { return };
    if depth > 16 {
        return; // a recursive schema: its first levels were walked
    }
    let is_object = object.get("type").is_some_and(|t| t == "object" || t.as_array().is_some_and(|ts| ts.contains(&json!("object"))));
    let described = ["properties", "additionalProperties", "$ref", "allOf", "oneOf", "anyOf"].iter().any(|k| object.contains_key(*k));
    if is_object && !described {
        found.push(at.to_owned());
    }
    for (name, property) in object.get("properties").and_then(Value::as_object).into_iter().flatten() {
        untyped_objects(doc, property, &format!("{at}.{name}"), found, depth + 1);
    }
    for key in ["items", "additionalProperties"] {
        if let Some(inner) = object.get(key).filter(|v| v.is_object()) {
            untyped_objects(doc, inner, &format!("{at}.{key}"), found, depth + 1);
        }
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        for (i, inner) in object.get(key).and_then(Value::as_array).into_iter().flatten().enumerate() {
            untyped_objects(doc, inner, &format!("{at}.{key}[{i}]"), found, depth + 1);
        }
    }
}

/// Every untyped body of the document: an empty schema at a body's top, or an object that
/// says nothing of its contents anywhere inside one.
fn untyped_bodies(doc: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for (path, operations) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in operations.as_object().expect("operations") {
            let mut bodies: Vec<(String, &Value)> = Vec::new();
            if let Some(content) = operation.pointer("/requestBody/content").and_then(Value::as_object) {
                bodies.extend(content.iter().map(|(mime, c)| (format!("{method} {path} request {mime}"), c)));
            }
            for (status, response) in operation["responses"].as_object().into_iter().flatten() {
                let content = response.get("content").and_then(Value::as_object).into_iter().flatten();
                bodies.extend(content.map(|(mime, c)| (format!("{method} {path} {status} {mime}"), c)));
            }
            for (at, content) in bodies {
                match content.get("schema") {
                    Some(schema) if resolve(doc, schema).as_object().is_some_and(|s| !s.is_empty()) => {
                        untyped_objects(doc, schema, &at, &mut found, 0)
                    }
                    _ => found.push(format!("{at}: no schema")),
                }
            }
        }
    }
    found
}

#[test]
fn the_walk_finds_an_untyped_body() {
    let doc = json!({"paths": {"/api/x": {"get": {"responses": {
        "200": {"content": {"application/json": {"schema": {"type": "object"}}}},
        "201": {"content": {"application/json": {"schema": {}}}},
        "404": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/E"}}}}}}}},
        "components": {"schemas": {"E": {"type": "object", "properties": {"inner": {"type": "object"}}}}}});
    assert_eq!(untyped_bodies(&doc).len(), 3, "{:?}", untyped_bodies(&doc));
}

#[actix_web::test]
async fn the_api_document_has_no_untyped_body() {
    let url = databases().await.remove(0);
    let (engine, _) = crm(&url).await;
    let app = start(engine).await;
    let (status, doc) = call(&app, TestRequest::get().uri("/api/openapi.json"), None).await;
    assert_eq!(status, StatusCode::OK);
    let untyped = untyped_bodies(&doc);
    assert!(untyped.is_empty(), "bodies without a schema:\n{}", untyped.join("\n"));
    // A success with a body must say what the body is (204 has none).
    let mut bodiless = Vec::new();
    for (path, operations) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in operations.as_object().expect("operations") {
            for (status, response) in operation["responses"].as_object().into_iter().flatten() {
                if status.starts_with('2') && status != "204" && response.get("content").is_none() {
                    bodiless.push(format!("{method} {path} {status}"));
                }
            }
        }
    }
    assert!(bodiless.is_empty(), "successes whose body the document does not describe:\n{}", bodiless.join("\n"));
    let error = &doc["components"]["schemas"]["ErrorBody"]["properties"];
    for fact in ["error", "kind", "details", "current_version", "existing", "limit", "retry_after_secs"] {
        assert!(error.get(fact).is_some(), "the error body documents no `{fact}`");
    }
}

fn create(data: Value) -> TestRequest {
    TestRequest::post().uri(ACCOUNTS).set_json(json!({ "data": data }))
}

#[actix_web::test]
async fn errors_carry_their_facts_and_field_codes() {
    for url in databases().await {
        let (engine, token) = crm(&url).await;
        let app = start(engine).await;
        let t = Some(token.as_str());

        let (_, created) = call(&app, create(json!({"name": "Facts Ltd"})), t).await;
        let id = created["id"].as_str().unwrap();
        let stale = TestRequest::patch().uri(&format!("{ACCOUNTS}/{id}")).insert_header(("If-Match", "1"));
        let (status, _) = call(&app, stale.set_json(json!({"data": {"name": "Facts 2"}})), t).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        let stale = TestRequest::patch().uri(&format!("{ACCOUNTS}/{id}")).insert_header(("If-Match", "1"));
        let (status, body) = call(&app, stale.set_json(json!({"data": {"name": "Facts 3"}})), t).await;
        assert_eq!((status, &body["error"], &body["kind"]), (StatusCode::CONFLICT, &json!("stale_version"), &json!("conflict")), "{url}");
        assert_eq!(body["current_version"], json!(2), "{url}: {body}");

        let (status, body) = call(&app, create(json!({"name": "Facts 2"})), t).await;
        assert_eq!((status, &body["error"]), (StatusCode::CONFLICT, &json!("duplicate")), "{url}: {body}");
        assert_eq!(body["existing"], json!(id), "{url}: an admin may read the duplicate");
        assert_eq!(body["details"][0]["code"], "duplicate", "{url}: {body}");

        let (status, body) = call(&app, create(json!({"nonsense": 1})), t).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        let codes: Map<String, Value> =
            body["details"].as_array().unwrap().iter().map(|d| (d["path"].as_str().unwrap().to_owned(), d["code"].clone())).collect();
        assert_eq!(codes.get("/name"), Some(&json!("required")), "{url}: {body}");
        assert_eq!(codes.get("/nonsense"), Some(&json!("unknown_field")), "{url}: {body}");

        let (status, body) = call(&app, create(json!({"name": "x".repeat(2 << 20)})), t).await;
        assert_eq!((status, &body["error"]), (StatusCode::PAYLOAD_TOO_LARGE, &json!("payload_too_large")), "{url}");
        assert_eq!(body["limit"], json!({"name": "body_bytes", "value": server::MAX_BODY_BYTES}), "{url}");
    }
}

/// The document is a contract clients are generated from: every answer a session of common
/// requests gets — reads of every kind, writes, flow actions and the usual refusals — has a
/// status the document lists for its route and a body its schema accepts.
#[actix_web::test]
async fn live_answers_match_the_document() {
    for url in databases().await {
        let (engine, token) = crm(&url).await;
        let app = start(engine).await;
        let t = Some(token.as_str());
        let (_, doc) = call(&app, TestRequest::get().uri("/api/openapi.json"), None).await;
        let (_, created) = call(&app, create(json!({"name": "Contract Ltd"})), t).await;
        let account = created["id"].as_str().expect("created").to_owned();
        let deal = json!({"data": {"name": "Contract deal", "account": account, "amount": 1000, "stage": "qualification"}});
        let (_, deal) = call(&app, TestRequest::post().uri("/api/apps/crm/forms/opportunity/records").set_json(deal), t).await;
        let deal = deal["id"].as_str().unwrap_or_default().to_owned();
        let record = format!("{ACCOUNTS}/{account}");
        let requests: Vec<(&str, String, Option<Value>, Option<&str>)> = vec![
            ("get", "/api/health".into(), None, None),
            ("get", "/api/apps".into(), None, t),
            ("get", "/api/apps/crm".into(), None, t),
            ("get", "/api/apps/nope".into(), None, t),
            ("get", "/api/auth/me".into(), None, t),
            ("get", "/api/auth/me".into(), None, None),
            ("get", "/api/apps/crm/forms/account/schema".into(), None, t),
            ("get", format!("{ACCOUNTS}?limit=2&sort=-updated_at"), None, t),
            ("get", format!("{ACCOUNTS}?filter=%7B%22name%22%3A%7B%22zz%22%3A1%7D%7D"), None, t),
            ("get", record.clone(), None, t),
            ("get", format!("{ACCOUNTS}/0190d8a2-0000-7000-8000-000000000000"), None, t),
            ("get", format!("{record}/history"), None, t),
            ("post", ACCOUNTS.into(), Some(json!({"data": {"nonsense": 1}})), t),
            ("post", ACCOUNTS.into(), Some(json!({"data": {"name": "Contract Ltd"}})), t),
            ("get", format!("/api/apps/crm/forms/opportunity/records/{deal}/actions"), None, t),
            ("post", format!("/api/apps/crm/forms/opportunity/records/{deal}/actions/no_such_action"), Some(json!({})), t),
            ("get", "/api/apps/crm/reports/pipeline_by_owner".into(), None, t),
            ("get", "/api/apps/crm/reports/no_such_report".into(), None, t),
            ("get", "/api/apps/crm/dashboards/sales".into(), None, t),
            ("get", "/api/tasks".into(), None, t),
            ("get", "/api/notifications".into(), None, t),
            ("get", "/api/notifications?limit=0".into(), None, t),
            ("post", "/api/notifications/read".into(), Some(json!({"ids": []})), t),
            ("get", "/api/users".into(), None, t),
            ("get", "/api/field-types".into(), None, t),
            ("get", "/api/chart-kinds".into(), None, t),
            ("get", "/api/audit?limit=5".into(), None, t),
            ("get", "/api/apps/crm/index-advice".into(), None, t),
            ("get", "/api/imports/0190d8a2-0000-7000-8000-000000000000".into(), None, t),
            ("post", "/api/tasks/0190d8a2-0000-7000-8000-000000000000/approve".into(), Some(json!({})), t),
            ("get", format!("/api/apps/crm/print/quote/{account}"), None, t),
        ];
        // The check itself can fail: a body of the wrong shape is caught.
        let wrong = disagreement(&doc, "get", "/api/apps", StatusCode::OK, "application/json", &json!({"items": 5}));
        assert!(wrong.is_some_and(|w| w.contains("items")), "{url}: a wrong body passed");
        let mut problems = Vec::new();
        for (method, path, body, token) in requests {
            let req = request(method).uri(&path);
            let req = match body {
                Some(body) => req.set_json(body),
                None => req,
            };
            let (status, content_type, answer) = call_typed(&app, req, token).await;
            problems.extend(disagreement(&doc, method, &path, status, &content_type, &answer));
        }
        let stale = TestRequest::patch().uri(&record).insert_header(("If-Match", "99"));
        let (status, content_type, answer) = call_typed(&app, stale.set_json(json!({"data": {"name": "Stale"}})), t).await;
        problems.extend(disagreement(&doc, "patch", &record, status, &content_type, &answer));
        let update = TestRequest::patch().uri(&record).insert_header(("If-Match", "1"));
        let (status, content_type, answer) = call_typed(&app, update.set_json(json!({"data": {"name": "Contract Ltd 2"}})), t).await;
        problems.extend(disagreement(&doc, "patch", &record, status, &content_type, &answer));
        for (method, req) in [("delete", TestRequest::delete()), ("post", TestRequest::post())] {
            let path = if method == "post" { format!("{record}/restore") } else { record.clone() };
            let version = if method == "post" { "3" } else { "2" };
            let (status, content_type, answer) = call_typed(&app, req.uri(&path).insert_header(("If-Match", version)), t).await;
            assert!(status.is_success(), "{url}: {method} {path}: {status} {answer}");
            problems.extend(disagreement(&doc, method, &path, status, &content_type, &answer));
        }
        assert!(problems.is_empty(), "{url}: answers the document does not describe:\n{}", problems.join("\n"));
    }
}
