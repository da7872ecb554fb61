//! The API document and the error body: every request and response body of
//! `/api/openapi.json` has a schema, and errors carry the facts a client acts on.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{call, crm, databases, start};
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
