//! Login, tokens, cookies, logout; health and the OpenAPI document.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{call, crm, databases, start};
use serde_json::json;

#[actix_web::test]
async fn login_tokens_cookies_and_logout() {
    for url in databases().await {
        let (engine, _) = crm(&url).await;
        let app = start(engine).await;

        let (status, body) = call(&app, TestRequest::get().uri("/api/apps/crm/forms/account/records"), None).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")), "{url}");
        let (status, _) = call(&app, TestRequest::get().uri("/api/auth/me"), Some("forged-token")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{url}");

        for (username, password) in [("admin", "wrong"), ("nobody", "admin-pass")] {
            let login = TestRequest::post().uri("/api/auth/login").set_json(json!({"username": username, "password": password}));
            let (status, body) = call(&app, login, None).await;
            assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("bad_credentials")), "{url}");
        }

        let login = TestRequest::post().uri("/api/auth/login").set_json(json!({"username": "admin", "password": "admin-pass"}));
        let resp = actix_web::test::call_service(&app, login.to_request()).await;
        assert_eq!(resp.status(), StatusCode::OK, "{url}");
        let cookie = resp.response().cookies().find(|c| c.name() == "tessera_session").expect("session cookie").into_owned();
        assert_eq!(cookie.http_only(), Some(true));
        let body: serde_json::Value = actix_web::test::read_body_json(resp).await;
        let token = body["token"].as_str().unwrap().to_owned();
        assert_eq!(body["user"]["username"], "admin");

        let (status, me) = call(&app, TestRequest::get().uri("/api/auth/me"), Some(&token)).await;
        assert_eq!((status, me["username"].as_str()), (StatusCode::OK, Some("admin")), "{url}");
        let by_cookie = TestRequest::get().uri("/api/auth/me").cookie(cookie.clone());
        let (status, _) = call(&app, by_cookie, None).await;
        assert_eq!(status, StatusCode::OK, "{url}");

        let (status, _) = call(&app, TestRequest::post().uri("/api/auth/logout"), Some(&token)).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{url}");
        let (status, _) = call(&app, TestRequest::get().uri("/api/auth/me"), Some(&token)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{url}");
        let (status, _) = call(&app, TestRequest::get().uri("/api/auth/me").cookie(cookie), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{url}");
    }
}

#[actix_web::test]
async fn health_and_an_openapi_document_naming_every_route() {
    for url in databases().await {
        let (engine, token) = crm(&url).await;
        let app = start(engine).await;
        let (status, health) = call(&app, TestRequest::get().uri("/api/health"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(health["status"], "ok");
        assert_eq!(health["database"], if url.starts_with("postgres") { "postgres" } else { "sqlite" });

        let (status, doc) = call(&app, TestRequest::get().uri("/api/openapi.json"), None).await;
        assert_eq!(status, StatusCode::OK);
        let paths = doc["paths"].as_object().unwrap();
        let expected = [
            ("/api/health", "get"),
            ("/api/ready", "get"),
            ("/api/openapi.json", "get"),
            ("/api/metrics", "get"),
            ("/api/auth/login", "post"),
            ("/api/auth/logout", "post"),
            ("/api/auth/me", "get"),
            ("/api/auth/me", "patch"),
            ("/api/auth/session", "get"),
            ("/api/auth/password", "post"),
            ("/api/users", "get"),
            ("/api/users", "post"),
            ("/api/users/import", "post"),
            ("/api/users/{username}", "get"),
            ("/api/users/{username}", "patch"),
            ("/api/users/{username}/grants/{app}", "put"),
            ("/api/users/{username}/password", "post"),
            ("/api/users/{username}/deactivate", "post"),
            ("/api/users/{username}/activate", "post"),
            ("/api/users/{username}/handover", "get"),
            ("/api/users/{username}/handover", "post"),
            ("/api/departments", "get"),
            ("/api/departments", "post"),
            ("/api/departments/{department}", "patch"),
            ("/api/departments/{department}", "delete"),
            ("/api/tokens", "get"),
            ("/api/tokens", "post"),
            ("/api/tokens/{token}", "delete"),
            ("/api/audit", "get"),
            ("/api/audit/verify", "get"),
            ("/api/apps", "get"),
            ("/api/apps/{app}", "get"),
            ("/api/apps/{app}/forms/{form}/schema", "get"),
            ("/api/apps/{app}/schedules/{schedule}/run", "post"),
            ("/api/field-types", "get"),
            ("/api/chart-kinds", "get"),
            ("/api/rule-functions", "get"),
            ("/api/apps/{app}/forms/{form}/records", "get"),
            ("/api/apps/{app}/forms/{form}/records", "post"),
            ("/api/apps/{app}/forms/{form}/preview", "post"),
            ("/api/apps/{app}/forms/{form}/records/{id}", "get"),
            ("/api/apps/{app}/forms/{form}/records/{id}", "patch"),
            ("/api/apps/{app}/forms/{form}/records/{id}", "delete"),
            ("/api/apps/{app}/forms/{form}/records/{id}/restore", "post"),
            ("/api/apps/{app}/forms/{form}/records/{id}/history", "get"),
            ("/api/apps/{app}/forms/{form}/records/{id}/claim", "post"),
            ("/api/apps/{app}/forms/{form}/records/{id}/return", "post"),
            ("/api/apps/{app}/forms/{form}/records/{id}/assign", "post"),
            ("/api/apps/{app}/forms/{form}/records/{id}/merge", "post"),
            ("/api/public/apps/{app}/forms/{form}", "get"),
            ("/api/public/apps/{app}/forms/{form}", "post"),
            ("/api/apps/{app}/query", "post"),
            ("/api/apps/{app}/reports/{report}", "get"),
            ("/api/apps/{app}/reports/{report}/drill", "post"),
            ("/api/notifications", "get"),
            ("/api/notifications/read", "post"),
            ("/api/apps/{app}/forms/{form}/export", "get"),
            ("/api/apps/{app}/forms/{form}/import", "post"),
            ("/api/imports/{id}", "get"),
            ("/api/apps/{app}/print/{template}/{id}", "get"),
            ("/api/apps/{app}/forms/{form}/records/{id}/actions", "get"),
            ("/api/apps/{app}/forms/{form}/records/{id}/actions/{action}", "post"),
            ("/api/tasks", "get"),
            ("/api/tasks/{id}/{decision}", "post"),
            ("/api/apps/{app}/dashboards/{dashboard}", "get"),
            ("/api/apps/{app}/index-advice", "get"),
            ("/api/apps/{app}/index-advice/{id}", "post"),
            ("/api/apps/{app}/index-advice/{id}", "delete"),
            ("/api/apps/{app}/definitions", "get"),
            ("/api/apps/{app}/definitions/{kind}/{id}", "get"),
            ("/api/apps/{app}/definitions/{kind}/{id}", "put"),
            ("/api/apps/{app}/definitions/{kind}/{id}", "delete"),
            ("/api/apps/{app}/impact", "post"),
            ("/api/apps/{app}/impact/runs", "post"),
            ("/api/apps/{app}/impact/runs/{run}", "get"),
            ("/api/apps/{app}/publish", "post"),
            ("/api/apps/{app}/releases", "get"),
            ("/api/apps/{app}/releases/{release}/rollback", "post"),
            ("/api/apps/{app}/bundle", "get"),
            ("/api/bundles", "post"),
            ("/api/apps/{app}/test", "post"),
            ("/api/apps/{app}/definitions/form/{form}/preview", "post"),
            ("/api/apps/{app}/expressions/check", "post"),
            ("/api/apps", "post"),
            ("/api/apps/{app}/archive", "post"),
            ("/api/apps/{app}/unarchive", "post"),
            ("/api/apps/{app}/releases/{from}/diff/{to}", "get"),
            ("/api/apps/{app}/releases/{release}/definitions/{kind}/{id}", "get"),
            ("/api/apps/{app}/view-as", "get"),
        ];
        for (path, method) in expected {
            assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} missing from openapi.json");
        }
        let operations: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
        assert_eq!(operations, expected.len(), "a route is documented that this test does not know: update the list");

        // Every documented GET without path parameters answers (with a token) with JSON, not 404;
        // but the session route, which reads only the cookie.
        for (path, method) in expected.iter().filter(|(p, m)| *m == "get" && !p.contains('{') && *p != "/api/auth/session") {
            let (status, _) = call(&app, TestRequest::get().uri(path), Some(&token)).await;
            assert_eq!(status, StatusCode::OK, "{method} {path}");
        }
        let (status, body) = call(&app, TestRequest::get().uri("/api/nothing-here"), None).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    }
}
