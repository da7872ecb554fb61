//! Create, read, update, delete, restore and history; validation, versions, dedupe, numbering.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{call, crm, databases, start};
use serde_json::{Value, json};

const ACCOUNTS: &str = "/api/apps/crm/forms/account/records";

fn at(id: &str) -> String {
    format!("{ACCOUNTS}/{id}")
}

fn paths(body: &Value) -> Vec<String> {
    let mut p: Vec<String> = body["details"].as_array().unwrap().iter().map(|d| d["path"].as_str().unwrap().to_owned()).collect();
    p.sort();
    p
}

#[actix_web::test]
async fn crud_versions_soft_delete_restore_and_history() {
    for url in databases().await {
        let (engine, token) = crm(&url).await;
        let app = start(engine).await;
        let t = Some(token.as_str());

        let (status, created) = call(&app, TestRequest::post().uri(ACCOUNTS).set_json(json!({"data": {"name": "华东精密制造"}})), t).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {created}");
        let id = created["id"].as_str().unwrap().to_owned();
        assert_eq!(created["version"], 1);
        assert_eq!(created["form"], "account");
        assert_eq!(created["owner"], "admin");
        assert_eq!(created["data"]["name"], "华东精密制造");

        let (status, got) = call(&app, TestRequest::get().uri(&at(&id)), t).await;
        assert_eq!((status, &got), (StatusCode::OK, &created), "{url}");

        let patch = |version: Option<&str>, data: Value| {
            let req = TestRequest::patch().uri(&at(&id)).set_json(json!({ "data": data }));
            match version {
                Some(v) => req.insert_header(("If-Match", v.to_owned())),
                None => req,
            }
        };
        let (status, body) = call(&app, patch(None, json!({"phone": "021 5555 0101"})), t).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::PRECONDITION_REQUIRED, Some("version_required")), "{url}");

        let (status, updated) = call(&app, patch(Some("\"1\""), json!({"phone": "021 5555 0101"})), t).await;
        assert_eq!(status, StatusCode::OK, "{url}: {updated}");
        assert_eq!(updated["version"], 2);
        assert_eq!(updated["data"]["phone"], "02155550101", "a phone number is kept as its digits");

        // A second writer still holding version 1 is refused, and nothing changes.
        let (status, body) = call(&app, patch(Some("1"), json!({"phone": "021 5555 0199"})), t).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::CONFLICT, Some("stale_version")), "{url}");
        let (_, now) = call(&app, TestRequest::get().uri(&at(&id)), t).await;
        assert_eq!(now["data"]["phone"], "02155550101", "{url}");

        // null clears a field.
        let (status, cleared) = call(&app, patch(Some("2"), json!({"phone": null})), t).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        assert!(cleared["data"].get("phone").is_none(), "{url}");

        let (status, _) = call(&app, TestRequest::delete().uri(&at(&id)).insert_header(("If-Match", "1")), t).await;
        assert_eq!(status, StatusCode::CONFLICT, "{url}");
        let (status, deleted) = call(&app, TestRequest::delete().uri(&at(&id)).insert_header(("If-Match", "3")), t).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        assert!(deleted["deleted_at"].is_string(), "{url}");
        let (status, _) = call(&app, TestRequest::get().uri(&at(&id)), t).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{url}");
        let (_, live) = call(&app, TestRequest::get().uri(ACCOUNTS), t).await;
        assert!(live["items"].as_array().unwrap().iter().all(|r| r["id"] != id.as_str()), "{url}");
        let (_, trash) = call(&app, TestRequest::get().uri(&format!("{ACCOUNTS}?deleted=true")), t).await;
        assert_eq!(trash["items"][0]["id"], id.as_str(), "{url}");

        let (status, restored) =
            call(&app, TestRequest::post().uri(&format!("{}/restore", at(&id))).insert_header(("If-Match", "4")), t).await;
        assert_eq!(status, StatusCode::OK, "{url}: {restored}");
        assert_eq!(restored["version"], 5);
        assert!(restored.get("deleted_at").is_none(), "{url}");

        let (status, history) = call(&app, TestRequest::get().uri(&format!("{}/history", at(&id))), t).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        let ops: Vec<&str> = history["items"].as_array().unwrap().iter().map(|h| h["op"].as_str().unwrap()).collect();
        assert_eq!(ops, ["create", "update", "update", "delete", "restore"], "{url}");
        assert_eq!(history["items"][1]["record"]["data"]["phone"], "02155550101", "{url}");
        assert_eq!(history["items"][0]["record"]["version"], 1, "{url}");
    }
}

#[actix_web::test]
async fn validation_errors_carry_json_pointers_and_write_nothing() {
    for url in databases().await {
        let (engine, token) = crm(&url).await;
        let app = start(engine).await;
        let t = Some(token.as_str());
        let opportunities = "/api/apps/crm/forms/opportunity/records";

        let missing = "0192f0c1-0000-7000-8000-000000000001";
        let (status, body) = call(
            &app,
            TestRequest::post().uri(opportunities).set_json(json!({"data": {
                "account": missing, "amount": "lots", "stage": "dreaming", "close_date": "2026-02-30", "colour": "red"
            }})),
            t,
        )
        .await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed")), "{url}: {body}");
        assert_eq!(paths(&body), ["/amount", "/close_date", "/colour", "/name", "/stage"], "{url}");

        // A well-formed record whose link points nowhere is refused at the link.
        let (status, body) = call(
            &app,
            TestRequest::post().uri(opportunities).set_json(json!({"data": {"name": "X", "account": missing, "amount": 10}})),
            t,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        assert_eq!(paths(&body), ["/account"], "{url}");

        // Child rows are validated one by one.
        let (_, product) = call(
            &app,
            TestRequest::post()
                .uri("/api/apps/crm/forms/product/records")
                .set_json(json!({"data": {"code": "P-1", "name": "Widget", "unit_price": 10}})),
            t,
        )
        .await;
        let product = product["id"].as_str().expect("product created").to_owned();
        let (_, account) = call(&app, TestRequest::post().uri(ACCOUNTS).set_json(json!({"data": {"name": "报价客户"}})), t).await;
        let account = account["id"].as_str().expect("account created").to_owned();
        let (status, body) = call(
            &app,
            TestRequest::post().uri("/api/apps/crm/forms/quote/records").set_json(json!({"data": {"account": account, "items": [
                {"product": product, "qty": 1, "unit_price": 10},
                {"product": product, "qty": 2, "unit_price": 10},
                {"product": product, "qty": 0, "unit_price": 10},
                {"product": missing, "qty": 1, "unit_price": 10}
            ]}})),
            t,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        assert!(paths(&body).contains(&"/items/2/qty".to_owned()), "{url}: {body}");
        let (status, body) = call(
            &app,
            TestRequest::post().uri("/api/apps/crm/forms/quote/records").set_json(json!({"data": {"account": account, "items": [
                {"product": product, "qty": 1, "unit_price": 10}, {"product": missing, "qty": 1, "unit_price": 10}
            ]}})),
            t,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        assert_eq!(paths(&body), ["/items/1/product"], "{url}");

        // Auto-numbers are the engine's to assign.
        let (status, body) = call(
            &app,
            TestRequest::post().uri("/api/apps/crm/forms/quote/records").set_json(json!({"data": {"account": account, "number": "QT-1"}})),
            t,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        assert_eq!(paths(&body), ["/number"], "{url}");

        // Malformed requests are 400 with a message, never 500.
        for (body, why) in [
            ("{\"data\": {", "truncated JSON"),
            ("[1, 2]", "not an object"),
            ("{\"data\": [1]}", "data not an object"),
            ("{\"record\": {}}", "unknown top-level key"),
        ] {
            let req = TestRequest::post().uri(ACCOUNTS).insert_header(("Content-Type", "application/json")).set_payload(body);
            let (status, resp) = call(&app, req, t).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {why}: {resp}");
            assert!(resp["message"].as_str().is_some_and(|m| !m.is_empty()), "{url}: {why}");
        }
        let big = json!({"data": {"name": "x".repeat(server::MAX_BODY_BYTES + 1)}});
        let (status, resp) = call(&app, TestRequest::post().uri(ACCOUNTS).set_json(big), t).await;
        assert_eq!((status, resp["error"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large")), "{url}");
        let (status, _) = call(&app, TestRequest::get().uri("/api/apps/crm/forms/nope/records"), t).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{url}");
        // A malformed If-Match is answered before the record is looked for.
        let missing = uuid::Uuid::now_v7().to_string();
        let (status, _) =
            call(&app, TestRequest::patch().uri(&at(&missing)).insert_header(("If-Match", "abc")).set_json(json!({"data": {}})), t).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}");

        // Nothing above was written (but the account and product made for the quotes).
        for form in ["opportunity", "quote"] {
            let (_, list) = call(&app, TestRequest::get().uri(&format!("/api/apps/crm/forms/{form}/records")), t).await;
            assert_eq!(list["items"].as_array().unwrap().len(), 0, "{url}: {form}");
        }
    }
}

#[actix_web::test]
async fn dedupe_keys_refuse_duplicates_and_name_the_existing_record() {
    for url in databases().await {
        let (engine, token) = crm(&url).await;
        let app = start(engine).await;
        let t = Some(token.as_str());
        let create = |name: &str| TestRequest::post().uri(ACCOUNTS).set_json(json!({"data": {"name": name}}));

        let (_, first) = call(&app, create("杭州云栖科技"), t).await;
        let first_id = first["id"].as_str().unwrap().to_owned();
        let (status, body) = call(&app, create("杭州云栖科技"), t).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::CONFLICT, Some("duplicate")), "{url}");
        assert!(body["message"].as_str().unwrap().contains(&first_id), "{url}: {body}");
        assert_eq!(paths(&body), ["/name"], "{url}");

        // Renaming another record onto the key is refused too.
        let (_, second) = call(&app, create("苏州工业园"), t).await;
        let req = TestRequest::patch()
            .uri(&at(second["id"].as_str().unwrap()))
            .insert_header(("If-Match", "1"))
            .set_json(json!({"data": {"name": "杭州云栖科技"}}));
        let (status, _) = call(&app, req, t).await;
        assert_eq!(status, StatusCode::CONFLICT, "{url}");

        // A deleted record no longer blocks the key; restoring it while a twin lives is refused.
        let (status, _) = call(&app, TestRequest::delete().uri(&at(&first_id)).insert_header(("If-Match", "1")), t).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        let (status, _) = call(&app, create("杭州云栖科技"), t).await;
        assert_eq!(status, StatusCode::CREATED, "{url}");
        let restore = TestRequest::post().uri(&format!("{}/restore", at(&first_id))).insert_header(("If-Match", "2"));
        let (status, body) = call(&app, restore, t).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::CONFLICT, Some("duplicate")), "{url}");
    }
}

#[actix_web::test]
async fn auto_numbers_stay_unique_under_concurrent_creates() {
    for url in databases().await {
        let (engine, token) = crm(&url).await;
        let app = start(engine).await;
        let t = Some(token.as_str());
        let quotes = "/api/apps/crm/forms/quote/records";
        let (_, account) = call(&app, TestRequest::post().uri(ACCOUNTS).set_json(json!({"data": {"name": "Numbering Co"}})), t).await;
        let account = account["id"].as_str().unwrap();
        let creates = (0..24).map(|_| call(&app, TestRequest::post().uri(quotes).set_json(json!({"data": {"account": account}})), t));
        let results = futures::future::join_all(creates).await;
        let mut numbers: Vec<String> = results
            .into_iter()
            .map(|(status, body)| {
                assert_eq!(status, StatusCode::CREATED, "{url}: {body}");
                body["data"]["number"].as_str().unwrap().to_owned()
            })
            .collect();
        numbers.sort();
        numbers.dedup();
        assert_eq!(numbers.len(), 24, "{url}: {numbers:?}");
        let year = &numbers[0][3..7];
        assert_eq!(numbers[0], format!("QT-{year}-00001"), "{url}");
        assert_eq!(numbers[23], format!("QT-{year}-00024"), "{url}");
    }
}
