//! Merging duplicates: a preview of what moves, then every link to the duplicate moved to the
//! record kept (whoever owns the linking records), the duplicate deleted, each change a
//! version of its own; refused to whoever may not delete the duplicate.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{call, crm, databases, start};
use serde_json::{Value, json};

#[actix_web::test]
async fn a_merge_previews_then_moves_every_link_to_the_record_kept_and_deletes_the_duplicate() {
    for url in databases().await {
        let (engine, admin) = crm(&url).await;
        engine.seed("crm", "demo").await.expect("demo");
        let rep1 = engine.login("rep1", "demo").await.unwrap().token;
        let manager = engine.login("manager1", "demo").await.unwrap().token;
        let app = start(engine).await;
        let create = |token: &str, form: &str, data: Value| {
            let (app, token, uri) = (&app, token.to_owned(), format!("/api/apps/crm/forms/{form}/records"));
            async move {
                let (status, body) = call(app, TestRequest::post().uri(&uri).set_json(json!({ "data": data })), Some(&token)).await;
                assert_eq!(status, StatusCode::CREATED, "{body}");
                body["id"].as_str().unwrap().to_owned()
            }
        };
        let keep = create(&rep1, "account", json!({"name": "Merge Keep Co"})).await;
        let dup = create(&rep1, "account", json!({"name": "Merge Keep Company", "parent": keep})).await;
        // The kept account's own parent is the duplicate: after the merge it would be its own.
        let (_, kept) = call(&app, TestRequest::get().uri(&format!("/api/apps/crm/forms/account/records/{keep}")), Some(&rep1)).await;
        let (status, _) = call(
            &app,
            TestRequest::patch()
                .uri(&format!("/api/apps/crm/forms/account/records/{keep}"))
                .insert_header(("If-Match", kept["version"].to_string()))
                .set_json(json!({"data": {"parent": dup}})),
            Some(&rep1),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{url}");
        let contact = create(&rep1, "contact", json!({"name": "Merge Contact", "account": dup, "phone": "13912340000"})).await;
        // A deal of the manager's on the duplicate: rep1 cannot see it, yet it moves too.
        let deal = create(&manager, "opportunity", json!({"name": "Merge deal", "account": dup, "amount": 1000})).await;

        let merge = |token: &str, preview: bool| {
            let (app, token, uri) = (&app, token.to_owned(), format!("/api/apps/crm/forms/account/records/{keep}/merge"));
            let body = json!({"from": dup, "preview": preview});
            async move { call(app, TestRequest::post().uri(&uri).set_json(body), Some(&token)).await }
        };
        // A rep may not delete accounts, so may not merge them.
        assert_eq!(merge(&rep1, true).await.0, StatusCode::FORBIDDEN, "{url}");
        let (status, plan) = merge(&manager, true).await;
        assert_eq!(status, StatusCode::OK, "{url}: {plan}");
        let mut moves: Vec<(String, String, u64)> = plan["moves"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["form"].as_str().unwrap().into(), m["field"].as_str().unwrap().into(), m["records"].as_u64().unwrap()))
            .collect();
        moves.sort();
        let expected = [("account", "parent", 1), ("contact", "account", 1), ("opportunity", "account", 1)];
        assert_eq!(moves, expected.map(|(f, l, n)| (f.to_owned(), l.to_owned(), n)), "{url}: {plan}");
        // The preview changed nothing.
        let (status, _) = call(&app, TestRequest::get().uri(&format!("/api/apps/crm/forms/account/records/{dup}")), Some(&admin)).await;
        assert_eq!(status, StatusCode::OK, "{url}");

        let (status, done) = merge(&manager, false).await;
        assert_eq!((status, &done), (StatusCode::OK, &plan), "{url}");
        let get = |form: &str, id: &str| {
            let (app, uri) = (&app, format!("/api/apps/crm/forms/{form}/records/{id}"));
            let admin = admin.clone();
            async move { call(app, TestRequest::get().uri(&uri), Some(&admin)).await }
        };
        assert_eq!(get("account", &dup).await.0, StatusCode::NOT_FOUND, "{url}: the duplicate is deleted");
        assert_eq!(get("contact", &contact).await.1["data"]["account"], json!(keep), "{url}");
        assert_eq!(get("opportunity", &deal).await.1["data"]["account"], json!(keep), "{url}");
        assert!(get("account", &keep).await.1["data"].get("parent").is_none_or(Value::is_null), "{url}: not its own parent");
        let (_, history) =
            call(&app, TestRequest::get().uri(&format!("/api/apps/crm/forms/opportunity/records/{deal}/history")), Some(&admin)).await;
        let ops: Vec<&str> = history["items"].as_array().unwrap().iter().map(|v| v["op"].as_str().unwrap()).collect();
        assert_eq!(ops.last(), Some(&"merge"), "{url}: {ops:?}");

        // Merging into itself, or from a record that is gone: clear answers.
        let (status, _) = call(
            &app,
            TestRequest::post().uri(&format!("/api/apps/crm/forms/account/records/{keep}/merge")).set_json(json!({"from": keep})),
            Some(&manager),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}");
        assert_eq!(merge(&manager, false).await.0, StatusCode::NOT_FOUND, "{url}: the duplicate is gone");
    }
}
