//! Regression tests of issue 15 (security and bounds): security_reports — formulas in CSV
//! exports, bounded pivots, and records at their form's declared maxima saved and exported.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use std::time::Duration;

use e2e::{call, crm, databases, repo, start};
use engine::{Engine, RuleLimits, Settings};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

const ACCOUNTS: &str = "/api/apps/crm/forms/account/records";

/// Sends `req` with the bearer `token` and returns status and the body as text.
async fn download<S, B>(app: &S, req: TestRequest, token: &str) -> (StatusCode, Vec<u8>)
where
    S: actix_web::dev::Service<actix_http::Request, Response = actix_web::dev::ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let resp = actix_web::test::call_service(app, req.insert_header(("Authorization", format!("Bearer {token}"))).to_request()).await;
    let status = resp.status();
    (status, actix_web::test::read_body(resp).await.to_vec())
}

#[actix_web::test]
async fn csv_export_neutralises_formulas_and_keeps_plain_numbers() {
    // Text a spreadsheet would run as a formula, each in a field users write.
    let formulas = ["=HYPERLINK(1)", "+SUM(1;2)", "-2+3+cmd|' /C calc'!A0", "@SUM(A1)", "\tTAB(1)", "\rCR(1)"];
    for url in databases().await {
        let (engine, token) = crm(&url).await;
        let app = start(engine).await;
        let t = Some(token.as_str());
        for (i, formula) in formulas.iter().enumerate() {
            let data = json!({"name": format!("Formula {i}"), "address": formula, "short_name": "-12.5", "employees": 12});
            let (status, body) = call(&app, TestRequest::post().uri(ACCOUNTS).set_json(json!({"data": data})), t).await;
            assert_eq!(status, StatusCode::CREATED, "{url}: {body}");
        }
        let (status, csv) = download(&app, TestRequest::get().uri("/api/apps/crm/forms/account/export?format=csv"), &token).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        let csv = String::from_utf8(csv).unwrap();
        for formula in formulas {
            let quoted = formula.replace('"', "\"\"");
            assert!(csv.contains(&format!("\"'{quoted}\"")), "{url}: {formula:?} is not neutralised in {csv}");
        }
        // A number stays a number, and so does text that is only a number.
        assert!(csv.contains("\"12\"") && csv.contains("\"-12.5\"") && !csv.contains("'-12.5"), "{url}: {csv}");
    }
}

#[actix_web::test]
async fn a_pivot_past_the_cell_bound_is_refused_before_it_is_laid_out() {
    // 350 × 350 = 122,500 cells, each empty but one a row: the shape that took 14.5 s of CPU.
    const N: usize = 350;
    for url in databases().await {
        let (engine, token) = crm(&url).await;
        let app = start(engine).await;
        let mut csv = String::from("name,short_name\n");
        for i in 0..N {
            csv.push_str(&format!("Account {i},S{i}\n"));
        }
        let import = TestRequest::post()
            .uri("/api/apps/crm/forms/account/import?wait=true")
            .insert_header(("Content-Type", "text/csv"))
            .set_payload(csv);
        let (status, report) = call(&app, import, Some(&token)).await;
        assert_eq!(status, StatusCode::OK, "{url}: {report}");

        let query = |rows: Value, columns: Value| {
            let body = json!({"source": "account",
                "dimensions": [{"id": "name", "field": "name"}, {"id": "short", "field": "short_name"}],
                "measures": [{"id": "n", "agg": "count"}],
                "pivot": {"rows": rows, "columns": columns}});
            TestRequest::post().uri("/api/apps/crm/query").set_json(body)
        };
        let (status, body) = call(&app, query(json!(["name"]), json!(["short"])), Some(&token)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {}", &body.to_string()[..body.to_string().len().min(300)]);
        assert_eq!(body["details"][0]["path"], "/pivot", "{url}: {body}");
        assert!(body["details"][0]["message"].as_str().unwrap().contains("100,000"), "{url}: {body}");

        // Every dimension down and none across is one column: N cells, laid out in full.
        let (status, body) = call(&app, query(json!(["name", "short"]), json!([])), Some(&token)).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        assert_eq!(body["pivot"]["rows"].as_array().unwrap().len(), N, "{url}");
    }
}

/// The CRM with rules given `deadline`, and an admin's token.
async fn crm_with_rule_deadline(url: &str, deadline: Duration) -> (Engine, String) {
    let settings = Settings { rule_limits: RuleLimits { deadline, ..RuleLimits::default() }, ..Settings::default() };
    let engine = Engine::open_with(url, &[repo().join("apps/crm")], &settings).await.expect("engine opens");
    engine.ensure_admin(Some("admin-pass")).await.expect("admin");
    let token = engine.login("admin", "admin-pass").await.expect("login").token;
    (engine, token)
}

#[actix_web::test]
async fn a_quote_at_its_declared_maximum_of_lines_saves_and_exports() {
    for url in databases().await {
        // What is measured here is the size of what rules may hold, not time: the deadline is
        // lifted, since an unoptimised build interprets scripts many times slower.
        let (engine, token) = crm_with_rule_deadline(&url, Duration::from_secs(60)).await;
        let app = start(engine).await;
        let t = Some(token.as_str());
        let (status, schema) = call(&app, TestRequest::get().uri("/api/apps/crm/forms/quote/schema"), t).await;
        assert_eq!(status, StatusCode::OK, "{url}: {schema}");
        let max_lines = schema["properties"]["items"]["maxItems"].as_u64().expect("the form declares its most lines") as usize;

        let (_, account) = call(&app, TestRequest::post().uri(ACCOUNTS).set_json(json!({"data": {"name": "Big Buyer"}})), t).await;
        let product = json!({"data": {"code": "P-1", "name": "Widget with a rather long descriptive name"}});
        let (_, product) = call(&app, TestRequest::post().uri("/api/apps/crm/forms/product/records").set_json(product), t).await;
        // The longest notes the form allows, in three-byte characters.
        let notes = "注".repeat(schema["properties"]["notes"]["maxLength"].as_u64().unwrap() as usize);
        let line = json!({"product": product["id"], "qty": 3, "unit_price": 1234.56});
        let quote = json!({"data": {"account": account["id"], "items": vec![line; max_lines], "notes": notes}});
        let (status, body) = call(&app, TestRequest::post().uri("/api/apps/crm/forms/quote/records").set_json(quote), t).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {}", &body.to_string()[..body.to_string().len().min(500)]);
        assert_eq!(body["data"]["items"].as_array().unwrap().len(), max_lines, "{url}");
        let total = body["data"]["total"].as_f64().unwrap();
        assert!((total - max_lines as f64 * 3703.68).abs() < 0.01, "{url}: total {total}");

        // Its lines and notes, written out, are longer than an XLSX cell holds.
        for format in ["xlsx", "csv"] {
            let uri = format!("/api/apps/crm/forms/quote/export?format={format}");
            let (status, file) = download(&app, TestRequest::get().uri(&uri), &token).await;
            assert_eq!(status, StatusCode::OK, "{url}: {format}: {}", String::from_utf8_lossy(&file));
            assert!(format == "csv" || file.starts_with(b"PK"), "{url}");
        }
    }
}

#[actix_web::test]
async fn a_report_filter_too_large_for_the_database_is_refused_at_its_pointer() {
    let many: Vec<String> = (0..40_000).map(|i| format!("v{i}")).collect();
    let branches: Vec<Value> = (0..1_500).map(|i| json!({"name": format!("n{i}")})).collect();
    for url in databases().await {
        let (engine, token) = crm(&url).await;
        let app = start(engine).await;
        for filter in [json!({"name": {"in": many}}), json!({"or": branches})] {
            let body = json!({"source": "account", "filter": filter, "measures": [{"id": "n", "agg": "count"}]});
            let (status, body) = call(&app, TestRequest::post().uri("/api/apps/crm/query").set_json(body), Some(&token)).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {}", &body.to_string()[..body.to_string().len().min(300)]);
            assert_eq!(body["details"][0]["path"], "/filter", "{url}: {body}");
        }
    }
}

#[actix_web::test]
async fn a_filter_of_empty_groups_is_refused_at_the_condition_bound() {
    // Each empty object is a condition that is always true, and an `or` of n of them an
    // expression n deep: past 1,000 SQLite refused it as "Expression tree is too large" (a 500),
    // and building 1,500 of them overflowed a debug build's stack.
    let empties = vec![json!({}); 1_500];
    for url in databases().await {
        let (engine, token) = crm(&url).await;
        let app = start(engine).await;
        let in_report = |filter: Value| json!({"source": "account", "filter": filter, "measures": [{"id": "n", "agg": "count"}]});
        let in_measure = json!({"source": "account", "measures": [{"id": "n", "agg": "count", "filter": {"or": empties}}]});
        for (body, pointer) in [
            (in_report(json!({"or": empties})), "/filter"),
            (in_report(json!({"and": [{"or": empties}]})), "/filter"),
            (in_measure, "/measures/0/filter"),
        ] {
            let (status, body) = call(&app, TestRequest::post().uri("/api/apps/crm/query").set_json(body), Some(&token)).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {}", &body.to_string()[..body.to_string().len().min(300)]);
            assert_eq!(body["details"][0]["path"], pointer, "{url}: {body}");
            assert!(body["details"][0]["message"].as_str().unwrap().contains("at most 100 conditions"), "{url}: {body}");
        }
    }
}

/// The message a PostgreSQL server set to German (`lc_messages = 'de_DE'`) gives a statement
/// cancelled by `statement_timeout`; the code, 57014 (`query_canceled`), is the same in every language.
const GERMAN_STATEMENT_TIMEOUT: &str = "storniere Anfrage wegen Zeitüberschreitung der Anweisung";

#[actix_web::test]
async fn a_report_past_the_statement_timeout_is_refused_whatever_the_servers_language() {
    // The test server has no locale but English, so the account table is swapped for a view
    // that fails as a German server fails a statement past the report's statement timeout.
    let Some(url) = databases().await.into_iter().find(|url| url.starts_with("postgres")) else { return };
    let (engine, token) = crm(&url).await;
    let app = start(engine).await;
    // A row, so that the view's condition runs.
    let (status, body) = call(&app, TestRequest::post().uri(ACCOUNTS).set_json(json!({"data": {"name": "Slow"}})), Some(&token)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let db = sea_orm::Database::connect(&url).await.unwrap();
    let timed_out = format!(
        "CREATE FUNCTION timed_out_in_german() RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN \
         RAISE EXCEPTION '{GERMAN_STATEMENT_TIMEOUT}' USING ERRCODE = 'query_canceled'; END $$"
    );
    for sql in [
        timed_out.as_str(),
        "ALTER TABLE r_crm__account RENAME TO r_crm__account_stored",
        "CREATE VIEW r_crm__account AS SELECT * FROM r_crm__account_stored WHERE timed_out_in_german()",
    ] {
        db.execute_unprepared(sql).await.unwrap();
    }
    db.close().await.ok();

    let body = json!({"source": "account", "measures": [{"id": "n", "agg": "count"}]});
    let (status, body) = call(&app, TestRequest::post().uri("/api/apps/crm/query").set_json(body), Some(&token)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["details"][0]["message"].as_str().unwrap().contains("the report ran longer than 10 s"), "{body}");
}
