//! Who sees what, through every door: the CRM's roles and data scopes, hidden fields, CSRF,
//! login rate limiting, password change, and the hash-chained audit log.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{call, crm, databases, start};
use serde_json::{Value, json};

const ACCOUNTS: &str = "/api/apps/crm/forms/account/records";

fn at(id: &str) -> String {
    format!("{ACCOUNTS}/{id}")
}

/// True when `needle` occurs anywhere in `body` as a key or a string value.
fn mentions(body: &Value, needle: &str) -> bool {
    body.to_string().contains(needle)
}

#[actix_web::test]
async fn reps_see_only_their_own_accounts_and_never_hidden_fields() {
    for url in databases().await {
        let (engine, admin) = crm(&url).await;
        engine.seed_users("crm", "demo").await.unwrap();
        let (rep1, rep2, manager, finance, agent) = (
            e2e::demo_token(&engine, "rep1").await,
            e2e::demo_token(&engine, "rep2").await,
            e2e::demo_token(&engine, "manager1").await,
            e2e::demo_token(&engine, "finance1").await,
            e2e::demo_token(&engine, "agent1").await,
        );
        let app = start(engine.clone()).await;

        let (status, a1) =
            call(&app, TestRequest::post().uri(ACCOUNTS).set_json(json!({"data": {"name": "Rep One Ltd"}})), Some(&rep1)).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {a1}");
        let a1 = a1["id"].as_str().unwrap().to_owned();
        let (_, a2) = call(&app, TestRequest::post().uri(ACCOUNTS).set_json(json!({"data": {"name": "Rep Two Ltd"}})), Some(&rep2)).await;
        let a2 = a2["id"].as_str().unwrap().to_owned();
        // Finance records the registration code, which reps may not see.
        let secret = "91310000SECRET001";
        let req = TestRequest::patch().uri(&at(&a1)).insert_header(("If-Match", "1")).set_json(json!({"data": {"credit_code": secret}}));
        let (status, body) = call(&app, req, Some(&finance)).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");

        // rep2 cannot reach rep1's account through any door, and nothing leaks.
        for req in [
            TestRequest::get().uri(&at(&a1)),
            TestRequest::get().uri(&format!("{}/history", at(&a1))),
            TestRequest::patch().uri(&at(&a1)).insert_header(("If-Match", "2")).set_json(json!({"data": {"phone": "13800000000"}})),
            TestRequest::delete().uri(&at(&a1)).insert_header(("If-Match", "2")),
        ] {
            let (status, body) = call(&app, req, Some(&rep2)).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{url}: {body}");
            assert!(!mentions(&body, "Rep One") && !mentions(&body, secret), "{url}: {body}");
        }
        let (_, list) = call(&app, TestRequest::get().uri(ACCOUNTS), Some(&rep2)).await;
        let ids: Vec<&str> = list["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids, [a2.as_str()], "{url}");
        let by_name = format!("{ACCOUNTS}?filter={}", "%7B%22name%22%3A%22Rep%20One%20Ltd%22%7D");
        let (_, list) = call(&app, TestRequest::get().uri(&by_name), Some(&rep2)).await;
        assert_eq!(list["items"], json!([]), "{url}");

        // rep1 sees the account but never the hidden field: not in get, list, history or the form.
        let (_, own) = call(&app, TestRequest::get().uri(&at(&a1)), Some(&rep1)).await;
        assert_eq!(own["data"]["name"], "Rep One Ltd");
        for uri in [at(&a1), ACCOUNTS.to_owned(), format!("{}/history", at(&a1)), "/api/apps/crm".to_owned()] {
            let (status, body) = call(&app, TestRequest::get().uri(&uri), Some(&rep1)).await;
            assert_eq!(status, StatusCode::OK, "{url}: {uri}");
            assert!(!mentions(&body, secret) && !mentions(&body, "credit_code"), "{url}: {uri} leaks the hidden field");
        }
        for (query, path) in [
            ("filter=%7B%22credit_code%22%3A%7B%22starts_with%22%3A%229%22%7D%7D", "/filter/credit_code"),
            ("sort=credit_code", "/sort"),
            ("fields=name,credit_code", "/fields"),
        ] {
            let (status, body) = call(&app, TestRequest::get().uri(&format!("{ACCOUNTS}?{query}")), Some(&rep1)).await;
            assert_eq!((status, body["details"][0]["path"].as_str()), (StatusCode::FORBIDDEN, Some(path)), "{url}: {query}");
        }
        let req = TestRequest::patch().uri(&at(&a1)).insert_header(("If-Match", "2")).set_json(json!({"data": {"credit_code": "x"}}));
        let (status, _) = call(&app, req, Some(&rep1)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{url}: reps may not write a hidden field");

        // Export: only the rep's own records, never the hidden column; no export right, no file.
        let resp = actix_web::test::call_service(
            &app,
            TestRequest::get()
                .uri("/api/apps/crm/forms/account/export?format=csv")
                .insert_header(("Authorization", format!("Bearer {rep2}")))
                .to_request(),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::OK, "{url}");
        let csv = String::from_utf8(actix_web::test::read_body(resp).await.to_vec()).unwrap();
        assert!(csv.contains("Rep Two Ltd") && !csv.contains("Rep One") && !csv.contains(secret), "{url}: {csv}");
        assert_eq!(csv.lines().count(), 2, "{url}: header and one row");
        let resp = actix_web::test::call_service(
            &app,
            TestRequest::get()
                .uri("/api/apps/crm/forms/account/export?format=xlsx")
                .insert_header(("Authorization", format!("Bearer {rep1}")))
                .to_request(),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::OK, "{url}");
        assert!(actix_web::test::read_body(resp).await.starts_with(b"PK"), "{url}: an XLSX file is a zip");
        let (status, _) = call(&app, TestRequest::get().uri("/api/apps/crm/forms/account/export"), Some(&agent)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{url}: agents read accounts but may not export them");

        // Reports and drill-down see what the user may see, and refuse hidden fields.
        let by_name =
            json!({"source": "account", "dimensions": [{"id": "name", "field": "name"}], "measures": [{"id": "n", "agg": "count"}]});
        let (status, result) = call(&app, TestRequest::post().uri("/api/apps/crm/query").set_json(by_name), Some(&rep2)).await;
        assert_eq!(status, StatusCode::OK, "{url}: {result}");
        assert!(mentions(&result, "Rep Two Ltd") && !mentions(&result, "Rep One"), "{url}: {result}");
        let by_code =
            json!({"source": "account", "dimensions": [{"id": "c", "field": "credit_code"}], "measures": [{"id": "n", "agg": "count"}]});
        let (status, result) = call(&app, TestRequest::post().uri("/api/apps/crm/query").set_json(by_code), Some(&rep1)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{url}: {result}");
        assert!(!mentions(&result, secret), "{url}");
        for (token, account, name) in [(&rep1, &a1, "Deal of rep1"), (&rep2, &a2, "Deal of rep2")] {
            let deal = json!({"data": {"name": name, "account": account, "amount": 1000, "stage": "proposal"}});
            let (status, body) =
                call(&app, TestRequest::post().uri("/api/apps/crm/forms/opportunity/records").set_json(deal), Some(token)).await;
            assert_eq!(status, StatusCode::CREATED, "{url}: {body}");
        }
        let drill = json!({"cell": {"stage": "proposal"}});
        let (status, cell) =
            call(&app, TestRequest::post().uri("/api/apps/crm/reports/sales_funnel/drill").set_json(drill), Some(&rep2)).await;
        assert_eq!(status, StatusCode::OK, "{url}: {cell}");
        assert!(mentions(&cell, "Deal of rep2") && !mentions(&cell, "Deal of rep1"), "{url}: {cell}");
        let (_, funnel) = call(&app, TestRequest::get().uri("/api/apps/crm/reports/sales_funnel?format=csv"), Some(&rep2)).await;
        assert!(!mentions(&funnel, "Deal of rep1"), "{url}");

        // The sales manager sees the whole sales department; finance sees the field.
        let (_, list) = call(&app, TestRequest::get().uri(ACCOUNTS), Some(&manager)).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 2, "{url}");
        let (_, seen) = call(&app, TestRequest::get().uri(&at(&a1)), Some(&finance)).await;
        assert_eq!(seen["data"]["credit_code"], secret, "{url}");

        // A service agent reads accounts but may not create them, and has no access to leads.
        let (status, _) = call(&app, TestRequest::post().uri(ACCOUNTS).set_json(json!({"data": {"name": "X"}})), Some(&agent)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{url}");
        let (status, body) = call(&app, TestRequest::get().uri("/api/apps/crm/forms/lead/records"), Some(&agent)).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{url}");
        let (_, view) = call(&app, TestRequest::get().uri("/api/apps/crm"), Some(&agent)).await;
        assert!(view["forms"].get("lead").is_none() && view["forms"].get("ticket").is_some(), "{url}");

        // Every write and every refusal is in the audit log, which only admins read.
        let (status, _) = call(&app, TestRequest::get().uri("/api/audit"), Some(&rep1)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{url}");
        let (_, log) = call(&app, TestRequest::get().uri(&format!("/api/audit?record={a1}")), Some(&admin)).await;
        let rows = log["items"].as_array().unwrap();
        let summary: Vec<(String, String, String)> = rows
            .iter()
            .rev()
            .map(|r| (r["actor"].as_str().unwrap().into(), r["action"].as_str().unwrap().into(), r["outcome"].as_str().unwrap().into()))
            .collect();
        let expect = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
        assert_eq!(summary[0], expect("rep1", "create", "ok"), "{url}");
        assert_eq!(summary[1], expect("finance1", "update", "ok"), "{url}");
        assert!(summary.contains(&expect("rep2", "read", "denied")), "{url}: {summary:?}");
        assert!(summary.contains(&expect("rep2", "delete", "denied")), "{url}: {summary:?}");
        let update = rows.iter().find(|r| r["actor"] == "finance1").unwrap();
        assert!(update["before"]["data"].get("credit_code").is_none() && update["after"]["data"]["credit_code"] == secret, "{url}");
        let (_, denied) = call(&app, TestRequest::get().uri("/api/audit?actor=rep1&outcome=denied"), Some(&admin)).await;
        let actions: Vec<&str> = denied["items"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
        assert!(actions.contains(&"query") && actions.contains(&"update") && actions.contains(&"list"), "{url}: {actions:?}");
        assert_eq!(engine.verify_audit().await.unwrap(), Ok(log_len(&app, &admin).await), "{url}");
    }
}

async fn log_len(
    app: &impl actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
    >,
    admin: &str,
) -> u64 {
    let (_, log) = call(app, TestRequest::get().uri("/api/audit?limit=1"), Some(admin)).await;
    log["items"][0]["seq"].as_u64().unwrap()
}

#[actix_web::test]
async fn cookie_writes_need_the_csrf_token_and_logins_are_rate_limited() {
    for url in databases().await {
        let (engine, _) = crm(&url).await;
        let app = start(engine).await;
        let login = TestRequest::post().uri("/api/auth/login").set_json(json!({"username": "admin", "password": "admin-pass"}));
        let resp = actix_web::test::call_service(&app, login.to_request()).await;
        let cookie = resp.response().cookies().find(|c| c.name() == "tessera_session").unwrap().into_owned();
        let body: Value = actix_web::test::read_body_json(resp).await;
        let csrf = body["csrf_token"].as_str().unwrap().to_owned();

        let create = || TestRequest::post().uri(ACCOUNTS).cookie(cookie.clone()).set_json(json!({"data": {"name": "Cookie Co"}}));
        let (status, body) = call(&app, create(), None).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("csrf_failed")), "{url}");
        let (status, _) = call(&app, create().insert_header(("X-CSRF-Token", "forged")), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{url}");
        let (status, _) = call(&app, create().insert_header(("X-CSRF-Token", csrf.clone())), None).await;
        assert_eq!(status, StatusCode::CREATED, "{url}");
        // Reads by cookie need no token.
        let (status, _) = call(&app, TestRequest::get().uri(ACCOUNTS).cookie(cookie.clone()), None).await;
        assert_eq!(status, StatusCode::OK, "{url}");

        let attempt =
            |password: &str| TestRequest::post().uri("/api/auth/login").set_json(json!({"username": "admin", "password": password}));
        for _ in 0..5 {
            let (status, _) = call(&app, attempt("guess"), None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{url}");
        }
        let resp = actix_web::test::call_service(&app, attempt("admin-pass").to_request()).await;
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS, "{url}: even the right password waits");
        assert!(resp.headers().get("retry-after").is_some(), "{url}");
    }
}

#[actix_web::test]
async fn password_change_ends_other_sessions() {
    for url in databases().await {
        let (engine, first) = crm(&url).await;
        let second = engine.login("admin", "admin-pass").await.unwrap().token;
        let app = start(engine.clone()).await;
        let change =
            |current: &str, new: &str| TestRequest::post().uri("/api/auth/password").set_json(json!({"current": current, "new": new}));
        let (status, body) = call(&app, change("wrong", "long enough"), Some(&first)).await;
        assert_eq!((status, body["details"][0]["path"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("/current")), "{url}");
        let (status, body) = call(&app, change("admin-pass", "short"), Some(&first)).await;
        assert_eq!((status, body["details"][0]["path"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("/new")), "{url}");
        let (status, _) = call(&app, change("admin-pass", "a new long passphrase"), Some(&first)).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{url}");
        let (status, _) = call(&app, TestRequest::get().uri("/api/auth/me"), Some(&first)).await;
        assert_eq!(status, StatusCode::OK, "{url}: the session that changed it stays");
        let (status, _) = call(&app, TestRequest::get().uri("/api/auth/me"), Some(&second)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{url}: other sessions end");
        assert!(engine.login("admin", "admin-pass").await.is_err());
        assert!(engine.login("admin", "a new long passphrase").await.is_ok());
    }
}
