//! Printing quotes and contracts: computed totals and 大写 in the document, escaping, the print
//! right and data scope, and PDF through Chromium.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{call, crm, databases, start};
use serde_json::{Value, json};

fn post(form: &str, data: Value) -> TestRequest {
    TestRequest::post().uri(&format!("/api/apps/crm/forms/{form}/records")).set_json(json!({ "data": data }))
}

async fn text(
    app: &impl actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
    >,
    uri: &str,
    token: &str,
) -> (StatusCode, String, Vec<u8>) {
    let req = TestRequest::get().uri(uri).insert_header(("Authorization", format!("Bearer {token}"))).to_request();
    let resp = actix_web::test::call_service(app, req).await;
    let status = resp.status();
    let bytes = actix_web::test::read_body(resp).await.to_vec();
    (status, String::from_utf8_lossy(&bytes).into_owned(), bytes)
}

#[actix_web::test]
async fn quotes_and_contracts_print_with_their_totals_for_those_who_may() {
    for url in databases().await {
        let (engine, admin) = crm(&url).await;
        engine.seed_users("crm", "demo").await.unwrap();
        let rep1 = engine.login("rep1", "demo").await.unwrap().token;
        let rep2 = engine.login("rep2", "demo").await.unwrap().token;
        let agent = engine.login("agent1", "demo").await.unwrap().token;
        let app = start(engine).await;
        let r1 = Some(rep1.as_str());

        let (_, account) =
            call(&app, post("account", json!({"name": "苏州<script>alert(1)</script>精密", "phone": "0512-6288 7766"})), r1).await;
        let (_, product) = call(
            &app,
            post("product", json!({"code": "YS-ERP-01", "name": "云杉ERP 标准版", "unit_price": 1000, "cost_price": 1})),
            Some(&admin),
        )
        .await;
        let items =
            json!([{"product": product["id"], "qty": 2, "unit_price": 1000}, {"product": product["id"], "qty": 1, "unit_price": 500.5}]);
        let (status, quote) = call(&app, post("quote", json!({"account": account["id"], "items": items, "discount": 10})), r1).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {quote}");
        assert_eq!(quote["data"]["total"], json!(2250.45));
        let quote_uri = format!("/api/apps/crm/print/quote/{}", quote["id"].as_str().unwrap());

        let (_, view) = call(&app, TestRequest::get().uri("/api/apps/crm"), r1).await;
        assert_eq!(view["forms"]["quote"]["templates"], json!(["quote"]), "{url}: the app view offers the quote's template");
        assert_eq!(view["forms"]["account"]["templates"], json!([]), "{url}");

        let (status, html, _) = text(&app, &quote_uri, &rep1).await;
        assert_eq!(status, StatusCode::OK, "{url}: {html}");
        assert!(html.starts_with("<!DOCTYPE html>"), "{url}");
        assert!(html.contains("贰仟贰佰伍拾元肆角伍分"), "{url}: the total in Chinese capitals");
        assert!(html.contains("2,250.45"), "{url}: the total in figures");
        assert!(html.contains(quote["data"]["number"].as_str().unwrap()), "{url}: the quote number");
        assert!(html.contains("云杉ERP 标准版"), "{url}: product names from the linked products");
        assert!(html.contains("上海云杉信息科技有限公司"), "{url}: the letterhead");
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>alert"), "{url}: record text is escaped");
        assert!(html.contains("@page"), "{url}: A4 print CSS");

        let plan = json!([{"due_date": "2026-12-31", "amount": 30000}, {"due_date": "2027-06-30", "amount": 70000}]);
        let (status, contract) = call(
            &app,
            post("contract", json!({"name": "ERP 实施合同", "account": account["id"], "amount": 100000, "payment_plan": plan})),
            r1,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {contract}");
        let (status, html, _) = text(&app, &format!("/api/apps/crm/print/contract/{}", contract["id"].as_str().unwrap()), &rep1).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        assert!(html.contains("壹拾万元整") && html.contains("70,000.00") && html.contains("ERP 实施合同"), "{url}");

        // Not rep2's quote; agents have no quotes at all; unknown templates and records are 404.
        assert_eq!(text(&app, &quote_uri, &rep2).await.0, StatusCode::NOT_FOUND, "{url}");
        assert_eq!(text(&app, &quote_uri, &agent).await.0, StatusCode::FORBIDDEN, "{url}");
        assert_eq!(text(&app, "/api/apps/crm/print/invoice/x", &rep1).await.0, StatusCode::NOT_FOUND, "{url}");
        assert_eq!(text(&app, "/api/apps/crm/print/quote/no-such-id", &rep1).await.0, StatusCode::NOT_FOUND, "{url}");
        assert_eq!(text(&app, &format!("{quote_uri}?locale=fr"), &rep1).await.0, StatusCode::BAD_REQUEST, "{url}");

        let (status, body, bytes) = text(&app, &format!("{quote_uri}?format=pdf"), &rep1).await;
        if std::path::Path::new("/usr/bin/chromium").is_file() {
            assert_eq!(status, StatusCode::OK, "{url}: {body}");
            assert!(bytes.starts_with(b"%PDF"), "{url}");
        } else {
            assert_eq!(status, StatusCode::NOT_IMPLEMENTED, "{url}: {body}");
            assert!(body.contains("Chromium"), "{url}");
        }
    }
}
