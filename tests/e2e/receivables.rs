//! Reports over child-table rows (`rows`): the CRM's receivables aging counts each instalment
//! of the payment plans of signed contracts by how long it is past due, and agrees with the
//! same figures worked out here from the records the reader may see; a drill-down lists each
//! contract once; a row field named without `rows` is refused at its pointer.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{call, crm, databases, start};
use serde_json::{Value, json};

/// Per account name (none for an account the reader may not see): what its signed contracts'
/// instalments still owe, and the part not yet due.
fn expected(contracts: &[Value], accounts: &BTreeMap<String, String>, today: &str) -> BTreeMap<Option<String>, (f64, f64)> {
    let mut out: BTreeMap<Option<String>, (f64, f64)> = BTreeMap::new();
    for c in contracts.iter().filter(|c| ["signed", "active", "completed"].contains(&c["data"]["status"].as_str().unwrap_or(""))) {
        let account = accounts.get(c["data"]["account"].as_str().unwrap()).cloned();
        for row in c["data"]["payment_plan"].as_array().into_iter().flatten() {
            let outstanding = row["outstanding"].as_f64().unwrap_or(0.0);
            if outstanding > 0.0 {
                let entry = out.entry(account.clone()).or_default();
                entry.0 += outstanding;
                if row["due_date"].as_str().unwrap() > today {
                    entry.1 += outstanding;
                }
            }
        }
    }
    out
}

#[actix_web::test]
async fn receivables_age_by_instalment_over_signed_contracts_as_each_reader_sees_them() {
    for url in databases().await {
        let (engine, admin) = crm(&url).await;
        engine.seed("crm", "demo").await.expect("demo");
        let rep1 = engine.login("rep1", "demo").await.unwrap().token;
        let app = start(engine).await;
        let today = chrono::Utc::now().date_naive().to_string();
        for token in [&admin, &rep1] {
            let (_, accounts) = call(&app, TestRequest::get().uri("/api/apps/crm/forms/account/records?limit=500"), Some(token)).await;
            let accounts: BTreeMap<String, String> = accounts["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| (a["id"].as_str().unwrap().to_owned(), a["data"]["name"].as_str().unwrap().to_owned()))
                .collect();
            let (_, contracts) = call(&app, TestRequest::get().uri("/api/apps/crm/forms/contract/records?limit=500"), Some(token)).await;
            let want = expected(contracts["items"].as_array().unwrap(), &accounts, &today);
            let (status, report) = call(&app, TestRequest::get().uri("/api/apps/crm/reports/receivables_aging"), Some(token)).await;
            assert_eq!(status, StatusCode::OK, "{url}: {report}");
            let got: BTreeMap<Option<String>, (f64, f64)> = report["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| (r["account"].as_str().map(str::to_owned), (r["receivable"].as_f64().unwrap(), r["not_due"].as_f64().unwrap())))
                .collect();
            assert!(!want.is_empty(), "{url}: the demo has signed contracts with instalments owed");
            assert_eq!(got, want, "{url}");
            // The age buckets share out what is owed.
            for r in report["rows"].as_array().unwrap() {
                let buckets: f64 =
                    ["not_due", "days_0_30", "days_31_60", "days_61_90", "days_over_90"].iter().map(|b| r[b].as_f64().unwrap()).sum();
                assert!((buckets - r["receivable"].as_f64().unwrap()).abs() < 0.005, "{url}: {r}");
            }
        }

        // Behind one account's figure: its contracts, each once however many instalments it has.
        let (_, report) = call(&app, TestRequest::get().uri("/api/apps/crm/reports/receivables_aging"), Some(&admin)).await;
        let account = report["rows"][0]["account"].clone();
        let drill = json!({"cell": {"account": account}});
        let (status, behind) =
            call(&app, TestRequest::post().uri("/api/apps/crm/reports/receivables_aging/drill").set_json(drill), Some(&admin)).await;
        assert_eq!(status, StatusCode::OK, "{url}: {behind}");
        let ids: Vec<&str> = behind["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
        let mut unique = ids.clone();
        unique.dedup();
        assert!(!ids.is_empty() && unique == ids, "{url}: {ids:?}");

        // A row's field is read only by a report that counts the rows.
        let ad_hoc = |rows: Option<&str>| {
            let mut body = json!({"source": "contract", "measures": [{"id": "owed", "agg": "sum", "field": "payment_plan.outstanding"}]});
            if let Some(rows) = rows {
                body["rows"] = json!(rows);
            }
            TestRequest::post().uri("/api/apps/crm/query").set_json(body)
        };
        let (status, err) = call(&app, ad_hoc(None), Some(&admin)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {err}");
        assert_eq!(err["details"][0]["path"], "/measures/0/field", "{url}: {err}");
        let (status, err) = call(&app, ad_hoc(Some("amount")), Some(&admin)).await;
        assert_eq!((status, &err["details"][0]["path"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!("/rows")), "{url}: {err}");
        let (status, answer) = call(&app, ad_hoc(Some("payment_plan")), Some(&admin)).await;
        assert_eq!(status, StatusCode::OK, "{url}: {answer}");
    }
}
