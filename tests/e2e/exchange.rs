//! Import of CSV and spreadsheets (mapping, conversion, dedupe, dry run, all-or-nothing,
//! progress) and the round trip through export.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{call, crm, databases, start};
use serde_json::{Value, json};

/// `n` leads as CSV, every hundredth row broken in a different way. Headers mix labels in
/// Chinese and English with field ids, as real files do.
fn leads_csv(n: usize) -> (String, Vec<(usize, &'static str)>) {
    let mut csv = String::from("姓名,Company,email,手机,Lead source,线索状态,Estimated budget (CNY),Ignored column\n");
    let mut bad = Vec::new();
    for i in 0..n {
        let row = i + 2;
        let (email, source, budget) = match i % 100 {
            17 => {
                bad.push((row, "email"));
                ("not-an-email".to_owned(), "展会", "50000")
            }
            53 => {
                bad.push((row, "Lead source"));
                (format!("lead{i}@example.com"), "carrier pigeon", "50000")
            }
            91 => {
                bad.push((row, "Estimated budget (CNY)"));
                (format!("lead{i}@example.com"), "web", "lots")
            }
            _ => (format!("lead{i}@example.com"), if i % 2 == 0 { "展会" } else { "referral" }, "\"120,000\""),
        };
        csv.push_str(&format!("客户{i},Company {i},{email},139{i:08},{source},新线索,{budget},x\n"));
    }
    (csv, bad)
}

fn import(uri_query: &str, body: &str) -> TestRequest {
    TestRequest::post()
        .uri(&format!("/api/apps/crm/forms/lead/import?{uri_query}"))
        .insert_header(("Content-Type", "text/csv"))
        .set_payload(body.to_owned())
}

#[actix_web::test]
async fn csv_import_keeps_good_rows_reports_bad_ones_and_never_duplicates() {
    for url in databases().await {
        let (engine, _) = crm(&url).await;
        engine.seed_users("crm", "demo").await.unwrap();
        let marketing = engine.login("marketing1", "demo").await.unwrap().token;
        let rep = engine.login("rep1", "demo").await.unwrap().token;
        let app = start(engine.clone()).await;
        let m = Some(marketing.as_str());
        let (csv, bad) = leads_csv(1000);
        let good = 1000 - bad.len();

        // A dry run and an all-or-nothing run with bad rows write nothing.
        for query in ["wait=true&dry_run=true", "wait=true&mode=all_or_nothing"] {
            let (status, report) = call(&app, import(query, &csv), m).await;
            assert_eq!(status, StatusCode::OK, "{url}: {report}");
            assert_eq!(
                (report["created"].as_u64(), report["failed"].as_u64(), report["committed"].as_bool()),
                (Some(good as u64), Some(30), Some(false)),
                "{url}: {query}"
            );
            let (_, leads) = call(&app, TestRequest::get().uri("/api/apps/crm/forms/lead/records?limit=1"), m).await;
            assert_eq!(leads["items"], json!([]), "{url}: {query} wrote something");
        }

        let (status, report) = call(&app, import("wait=true", &csv), m).await;
        assert_eq!(status, StatusCode::OK, "{url}: {report}");
        assert_eq!(report["created"], good, "{url}");
        assert_eq!(report["committed"], true, "{url}");
        let errors = report["errors"].as_array().unwrap();
        let mut reported: Vec<(usize, String)> =
            errors.iter().map(|e| (e["row"].as_u64().unwrap() as usize, e["column"].as_str().unwrap_or("").to_owned())).collect();
        reported.sort();
        let expected: Vec<(usize, String)> = bad.iter().map(|(r, c)| (*r, c.to_string())).collect();
        assert_eq!(reported, expected, "{url}: every bad row named with its column");
        assert!(errors.iter().all(|e| !e["message"].as_str().unwrap().is_empty()));
        assert_eq!(report["columns"][7], json!(["Ignored column", null]), "{url}");

        // The imported leads went through the rules: scored and assigned.
        let filter = "%7B%22email%22%3A%22lead0%40example.com%22%7D";
        let (_, page) = call(&app, TestRequest::get().uri(&format!("/api/apps/crm/forms/lead/records?filter={filter}")), m).await;
        let lead = &page["items"][0];
        assert_eq!(lead["data"]["source"], "trade_show", "{url}: label 展会 became its value");
        assert_eq!(lead["data"]["estimated_budget"], 120000, "{url}");
        assert_eq!(lead["data"]["score"], 15 + 5 + 5 + 5, "{url}: trade show + budget + email + phone");
        assert_eq!(lead["data"]["status"], "new");

        // The same file again creates nothing.
        let (_, again) = call(&app, import("wait=true", &csv), m).await;
        assert_eq!((again["created"].as_u64(), again["skipped"].as_u64()), (Some(0), Some(good as u64)), "{url}: {again}");

        // Duplicates updated with the row's values when asked; new rows still created.
        let changes = "姓名,Company,email\n客户0,华东新材,lead0@example.com\n新客户,新公司,fresh@example.com\n";
        let (status, report) = call(&app, import("wait=true&on_duplicate=update", changes), m).await;
        assert_eq!(status, StatusCode::OK, "{url}: {report}");
        assert_eq!((report["updated"].as_u64(), report["created"].as_u64()), (Some(1), Some(1)), "{url}: {report}");
        let (_, page) = call(&app, TestRequest::get().uri(&format!("/api/apps/crm/forms/lead/records?filter={filter}")), m).await;
        assert_eq!(
            (page["items"][0]["data"]["company"].as_str(), page["items"][0]["version"].as_u64()),
            (Some("华东新材"), Some(2)),
            "{url}"
        );
        // Imports write history and audit rows a chunk at a time: each version is there, and
        // the audit chain holds over every imported row.
        let id = page["items"][0]["id"].as_str().unwrap();
        let (_, versions) = call(&app, TestRequest::get().uri(&format!("/api/apps/crm/forms/lead/records/{id}/history")), m).await;
        let ops: Vec<&str> = versions["items"].as_array().unwrap().iter().map(|v| v["op"].as_str().unwrap()).collect();
        assert_eq!(ops, ["create", "update"], "{url}: {versions}");
        let chain = engine.verify_audit().await.unwrap();
        assert!(chain.as_ref().is_ok_and(|rows| *rows > good as u64), "{url}: {chain:?}");

        // In the background, with progress.
        let (status, started) = call(&app, import("", &csv), m).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{url}: {started}");
        let status_url = started["status_url"].as_str().unwrap().to_owned();
        let mut last = Value::Null;
        for _ in 0..600 {
            let (_, s) = call(&app, TestRequest::get().uri(&status_url), m).await;
            assert_eq!(s["total"], 1000, "{url}: {s}");
            if s["status"] == "done" {
                last = s;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(last["done"], 1000, "{url}: {last}");
        assert_eq!(last["report"]["skipped"], good, "{url}");
        let (status, _) = call(&app, TestRequest::get().uri(&status_url), Some(&rep)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{url}: someone else's import is not yours to watch");

        // No import right, no import; an explicit map to an unknown field is refused.
        let (status, _) = call(&app, import("wait=true", &csv), Some(&rep)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{url}");
        let (status, body) = call(&app, import("wait=true&map=%7B%22Company%22%3A%22colour%22%7D", &csv), m).await;
        assert_eq!((status, body["details"][0]["path"].as_str()), (StatusCode::BAD_REQUEST, Some("/map/Company")), "{url}");
        let (status, _) = call(&app, import("wait=true", "\"unterminated,quote\n1,2"), m).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}");
    }
}

#[actix_web::test]
async fn spreadsheets_round_trip_and_links_resolve_by_name() {
    for url in databases().await {
        let (engine, admin) = crm(&url).await;
        let app = start(engine).await;
        let t = Some(admin.as_str());
        let (_, account) =
            call(&app, TestRequest::post().uri("/api/apps/crm/forms/account/records").set_json(json!({"data": {"name": "东方重工"}})), t)
                .await;

        // Contacts name their account by its name; the import finds it.
        let csv = "name,account,email\n王芳,东方重工,wf@dongfang.example\n李雷,不存在的公司,ll@nowhere.example\n";
        let req = TestRequest::post().uri("/api/apps/crm/forms/contact/import?wait=true").set_payload(csv);
        let (_, report) = call(&app, req, t).await;
        assert_eq!(report["created"], 1, "{url}: {report}");
        assert_eq!(report["errors"][0]["row"], 3, "{url}");
        assert_eq!(report["errors"][0]["column"], "account", "{url}");
        let (_, contacts) = call(&app, TestRequest::get().uri("/api/apps/crm/forms/contact/records"), t).await;
        assert_eq!(contacts["items"][0]["data"]["account"], account["id"], "{url}");

        // An XLSX export imports back: every row is a duplicate and is skipped.
        let resp = actix_web::test::call_service(
            &app,
            TestRequest::get()
                .uri("/api/apps/crm/forms/contact/export?format=xlsx&locale=zh-CN")
                .insert_header(("Authorization", format!("Bearer {admin}")))
                .to_request(),
        )
        .await;
        let xlsx = actix_web::test::read_body(resp).await;
        let req = TestRequest::post()
            .uri("/api/apps/crm/forms/contact/import?wait=true&format=xlsx")
            .insert_header(("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
            .set_payload(xlsx);
        let (status, report) = call(&app, req, t).await;
        assert_eq!(status, StatusCode::OK, "{url}: {report}");
        assert_eq!((report["skipped"].as_u64(), report["failed"].as_u64()), (Some(1), Some(0)), "{url}: {report}");
    }
}
