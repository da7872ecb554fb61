//! The inbox behind the bell: a person's notifications, how many are unread, and marking them
//! read — one, or all — never someone else's.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{call, databases, lab, start};
use serde_json::{Value, json};

#[actix_web::test]
async fn notifications_count_unread_and_are_marked_read_by_their_recipient_only() {
    for url in databases().await {
        let (engine, u1, u2) = lab(&url, &e2e::settings()).await;
        let app = start(engine.clone()).await;
        let inbox = |token: &str, query: &str| {
            let (app, token, uri) = (&app, token.to_owned(), format!("/api/notifications{query}"));
            async move { call(app, TestRequest::get().uri(&uri), Some(&token)).await }
        };
        let read = |token: &str, body: Value| {
            let (app, token) = (&app, token.to_owned());
            async move { call(app, TestRequest::post().uri("/api/notifications/read").set_json(body), Some(&token)).await }
        };
        // The lab's deal rule tells whoever opens a deal: three for u1.
        for n in 0..3 {
            let create = TestRequest::post()
                .uri("/api/apps/lab/forms/deal/records")
                .set_json(json!({"data": {"name": format!("note {n}"), "qty": 1, "price": 10}}));
            let (status, body) = call(&app, create, Some(&u1)).await;
            assert_eq!(status, StatusCode::CREATED, "{url}: {body}");
        }
        let (status, all) = inbox(&u1, "").await;
        assert_eq!(status, StatusCode::OK, "{url}: {all}");
        assert_eq!((all["unread"].as_u64(), all["capped"].as_bool()), (Some(3), Some(false)), "{url}: {all}");
        let items = all["items"].as_array().unwrap();
        assert_eq!(items[0]["message"]["text"], "deal note 2 opened", "{url}: newest first: {all}");
        assert!(items.iter().all(|i| i["read_at"].is_null()), "{url}: {all}");
        let newest = items[0]["id"].as_str().unwrap().to_owned();

        // Nobody else reads them or marks them read.
        let (_, theirs) = inbox(&u2, "").await;
        assert_eq!((theirs["items"].as_array().map(Vec::len), theirs["unread"].as_u64()), (Some(0), Some(0)), "{url}: {theirs}");
        let (status, marked) = read(&u2, json!({"ids": [newest]})).await;
        assert_eq!((status, marked["marked"].as_u64()), (StatusCode::OK, Some(0)), "{url}: {marked}");

        // One read: two unread left, and the unread list leaves it out.
        let (_, marked) = read(&u1, json!({"ids": [newest]})).await;
        assert_eq!(marked["marked"].as_u64(), Some(1), "{url}: {marked}");
        let (_, unread) = inbox(&u1, "?unread=true").await;
        assert_eq!(unread["unread"].as_u64(), Some(2), "{url}: {unread}");
        assert!(unread["items"].as_array().unwrap().iter().all(|i| i["id"] != newest.as_str()), "{url}: {unread}");
        let (_, all) = inbox(&u1, "?limit=1").await;
        assert!(all["items"][0]["read_at"].is_string() && all["items"].as_array().unwrap().len() == 1, "{url}: {all}");

        // All read; marking again marks nothing.
        let (_, marked) = read(&u1, json!({})).await;
        assert_eq!(marked["marked"].as_u64(), Some(2), "{url}: {marked}");
        let (_, marked) = read(&u1, json!({})).await;
        assert_eq!(marked["marked"].as_u64(), Some(0), "{url}: {marked}");
        assert_eq!(inbox(&u1, "").await.1["unread"].as_u64(), Some(0), "{url}");

        // Bounds.
        let (status, err) = inbox(&u1, "?limit=101").await;
        assert_eq!((status, &err["details"][0]["path"]), (StatusCode::BAD_REQUEST, &json!("/limit")), "{url}: {err}");
        let many: Vec<String> = (0..501).map(|n| n.to_string()).collect();
        let (status, err) = read(&u1, json!({"ids": many})).await;
        assert_eq!((status, &err["details"][0]["path"]), (StatusCode::BAD_REQUEST, &json!("/ids")), "{url}: {err}");
        drop(app);
        engine.close().await.unwrap();
    }
}
