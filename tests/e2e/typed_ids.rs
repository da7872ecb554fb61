//! Typed ids in paths: an app, form or record id that cannot exist (not snake_case, a record id
//! that is not a UUID as the engine writes one) is answered exactly as a missing one — 404
//! `not_found`, worded alike — never a 400 or a 500; well-formed paths work as before.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{call, crm, databases, start};
use serde_json::{Value, json};

/// A record id that is no UUID.
const NOT_A_UUID: &str = "not-a-uuid";

/// Every route naming a record, for the record id `id`: method, path and whether it needs
/// `If-Match`. `quote` has a flow and a print template of its own name.
fn record_routes(id: &str) -> Vec<(TestRequest, String)> {
    let quote = format!("/api/apps/crm/forms/quote/records/{id}");
    vec![
        (TestRequest::get(), quote.clone()),
        (TestRequest::patch().insert_header(("If-Match", "1")).set_json(json!({"data": {"notes": "x"}})), quote.clone()),
        (TestRequest::delete().insert_header(("If-Match", "1")), quote.clone()),
        (TestRequest::post().insert_header(("If-Match", "2")), format!("{quote}/restore")),
        (TestRequest::get(), format!("{quote}/history")),
        (TestRequest::get(), format!("{quote}/actions")),
        (TestRequest::post(), format!("{quote}/actions/submit")),
        (TestRequest::get(), format!("/api/apps/crm/print/quote/{id}")),
    ]
}

/// `body` with `from` written as `to` in its message: what a missing id's answer says of another.
fn naming(mut body: Value, from: &str, to: &str) -> Value {
    let message = body["message"].as_str().expect("a message").replace(from, to);
    body["message"] = message.into();
    body
}

#[actix_web::test]
async fn a_record_id_that_is_not_a_uuid_is_answered_as_a_missing_record() {
    for url in databases().await {
        let (engine, token) = crm(&url).await;
        let app = start(engine).await;
        let t = Some(token.as_str());
        let missing = uuid::Uuid::now_v7().to_string();
        let upper = missing.to_uppercase();
        for ((missing_req, missing_uri), (bad_req, bad_uri), (upper_req, upper_uri)) in
            record_routes(&missing).into_iter().zip(record_routes(NOT_A_UUID)).zip(record_routes(&upper)).map(|((a, b), c)| (a, b, c))
        {
            let (status, expected) = call(&app, missing_req.uri(&missing_uri), t).await;
            assert_eq!((status, expected["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{url} {missing_uri}: {expected}");
            let (status, body) = call(&app, bad_req.uri(&bad_uri), t).await;
            assert_eq!((status, &body), (StatusCode::NOT_FOUND, &naming(expected.clone(), &missing, NOT_A_UUID)), "{url} {bad_uri}");
            let (status, body) = call(&app, upper_req.uri(&upper_uri), t).await;
            assert_eq!((status, &body), (StatusCode::NOT_FOUND, &naming(expected, &missing, &upper)), "{url} {upper_uri}");
        }
    }
}

#[actix_web::test]
async fn an_app_or_form_id_that_is_not_an_identifier_is_an_unknown_one() {
    for url in databases().await {
        let (engine, token) = crm(&url).await;
        let app = start(engine).await;
        let t = Some(token.as_str());
        let paths = [
            "/api/apps/{app}",
            "/api/apps/{app}/forms/{form}/schema",
            "/api/apps/{app}/forms/{form}/records",
            "/api/apps/{app}/forms/{form}/export",
            "/api/apps/{app}/reports/pipeline_by_stage",
        ];
        for path in paths {
            let uri = |app: &str, form: &str| path.replace("{app}", app).replace("{form}", form);
            let (status, unknown_app) = call(&app, TestRequest::get().uri(&uri("nope", "account")), t).await;
            assert_eq!((status, unknown_app["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{url} {path}");
            for bad in ["CRM", "crm.x", "Crm"] {
                let (status, body) = call(&app, TestRequest::get().uri(&uri(bad, "account")), t).await;
                assert_eq!((status, &body), (StatusCode::NOT_FOUND, &naming(unknown_app.clone(), "nope", bad)), "{url} {path} {bad}");
            }
            if !path.contains("{form}") {
                continue;
            }
            let (status, unknown_form) = call(&app, TestRequest::get().uri(&uri("crm", "nope")), t).await;
            assert_eq!((status, unknown_form["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{url} {path}");
            for bad in ["Account", "account.x"] {
                let (status, body) = call(&app, TestRequest::get().uri(&uri("crm", bad)), t).await;
                assert_eq!((status, &body), (StatusCode::NOT_FOUND, &naming(unknown_form.clone(), "nope", bad)), "{url} {path} {bad}");
            }
        }
    }
}

#[actix_web::test]
async fn well_formed_ids_reach_their_record_and_a_caller_is_asked_who_they_are_first() {
    for url in databases().await {
        let (engine, token) = crm(&url).await;
        let app = start(engine).await;
        let t = Some(token.as_str());
        let accounts = "/api/apps/crm/forms/account/records";
        let (status, created) = call(&app, TestRequest::post().uri(accounts).set_json(json!({"data": {"name": "类型编号"}})), t).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {created}");
        let record = format!("{accounts}/{}", created["id"].as_str().unwrap());
        let (status, got) = call(&app, TestRequest::get().uri(&record), t).await;
        assert_eq!((status, &got), (StatusCode::OK, &created), "{url}");
        let patch = TestRequest::patch().uri(&record).insert_header(("If-Match", "1")).set_json(json!({"data": {"phone": "021"}}));
        let (status, patched) = call(&app, patch, t).await;
        assert_eq!((status, patched["version"].as_i64()), (StatusCode::OK, Some(2)), "{url}: {patched}");
        let (status, history) = call(&app, TestRequest::get().uri(&format!("{record}/history")), t).await;
        assert_eq!((status, history["items"].as_array().map(Vec::len)), (StatusCode::OK, Some(2)), "{url}");

        // Without credentials the answer is 401 whatever the path names.
        let (status, _) = call(&app, TestRequest::get().uri(&format!("{accounts}/{NOT_A_UUID}")), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{url}");
    }
}

#[actix_web::test]
async fn the_api_document_types_a_record_id_as_a_uuid_and_the_others_as_strings() {
    let (engine, _) = crm(&databases().await.remove(0)).await;
    let app = start(engine).await;
    let (_, doc) = call(&app, TestRequest::get().uri("/api/openapi.json"), None).await;
    let params = &doc["paths"]["/api/apps/{app}/forms/{form}/records/{id}"]["get"]["parameters"];
    let schema = |name: &str| params.as_array().unwrap().iter().find(|p| p["name"] == name).map(|p| p["schema"].clone());
    assert_eq!(schema("app"), Some(json!({"type": "string"})));
    assert_eq!(schema("form"), Some(json!({"type": "string"})));
    assert_eq!(schema("id"), Some(json!({"type": "string", "format": "uuid"})));
}
