//! Chart kinds (`reports::chart_kinds`): the registry served as `GET /api/chart-kinds`, and a
//! chart that cannot draw its report's result refused — a 422 at `/chart/…` for a report sent
//! ad hoc, a `tessera check` diagnostic for a saved one.

use std::fs;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{call, copy_dir, crm, databases, repo, start};
use engine::LoadedApp;
use serde_json::{Value, json};

/// An ad hoc report over opportunities grouped by `dimensions` (ids = fields), counting and
/// summing the amount, drawn as `chart`.
fn report(dimensions: &[&str], chart: Value) -> Value {
    let dimensions: Vec<Value> = dimensions.iter().map(|f| json!({"id": f.replace('.', "_"), "field": f})).collect();
    json!({
        "source": "opportunity",
        "dimensions": dimensions,
        "measures": [{"id": "n", "agg": "count"}, {"id": "amount", "agg": "sum", "field": "amount"}],
        "chart": chart,
    })
}

#[actix_web::test]
async fn the_registry_is_served_to_every_signed_in_user() {
    let url = databases().await.remove(0);
    let (engine, token) = crm(&url).await;
    let app = start(engine).await;
    let (status, _) = call(&app, TestRequest::get().uri("/api/chart-kinds"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, palette) = call(&app, TestRequest::get().uri("/api/chart-kinds"), Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{palette}");
    let kinds = palette["kinds"].as_array().unwrap();
    let names: Vec<&str> = kinds.iter().map(|k| k["kind"].as_str().unwrap()).collect();
    assert_eq!(names, ["table", "kpi", "bar", "line", "pie", "funnel", "pivot", "map"]);
    let pie = &kinds[4];
    assert_eq!((pie["renderer"].as_str(), pie["label"]["zh-CN"].as_str()), (Some("echarts"), Some("饼图")));
    assert_eq!((&pie["measures"], pie["series"].as_bool()), (&json!({"min": 1, "max": 1}), Some(false)));
    assert_eq!((kinds[1]["renderer"].as_str(), &kinds[1]["dimensions"]), (Some("figure"), &json!({"min": 0, "max": 0})));
    assert_eq!((kinds[7]["places"].as_bool(), kinds[7]["renderer"].as_str()), (Some(true), Some("echarts")));
}

#[actix_web::test]
async fn a_chart_that_cannot_draw_its_result_is_refused_at_its_pointer() {
    for url in databases().await {
        let (engine, token) = crm(&url).await;
        let app = start(engine).await;
        let cases = [
            // A KPI is one figure: no dimension.
            (report(&["stage"], json!({"kind": "kpi", "y": ["amount"]})), "/chart/kind", "a kpi takes 0 dimension(s)"),
            // A pie shares out one measure.
            (report(&["stage"], json!({"kind": "pie"})), "/chart/kind", "a pie chart draws 1 measure(s); this one would draw 2"),
            (report(&[], json!({"kind": "funnel", "y": ["n"]})), "/chart/kind", "a funnel takes at least 1 dimension(s)"),
            (
                report(&["stage", "owner"], json!({"kind": "pie", "y": ["n"], "series": "owner"})),
                "/chart/series",
                "a pie chart has no series",
            ),
            (report(&["stage"], json!({"kind": "pivot"})), "/chart/kind", "a pivot table takes at least 2 dimension(s)"),
            // A map spreads one measure over provinces: its category must name places.
            (report(&["probability"], json!({"kind": "map", "y": ["n"]})), "/chart/kind", "a map's category dimension"),
            (report(&["close_date"], json!({"kind": "map", "y": ["n"]})), "/chart/kind", "a map's category dimension"),
            (report(&["owner"], json!({"kind": "map", "y": ["n"]})), "/chart/kind", "a map's category dimension"),
        ];
        for (body, pointer, says) in cases {
            let (status, err) = call(&app, TestRequest::post().uri("/api/apps/crm/query").set_json(body.clone()), Some(&token)).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url} {body}: {err}");
            let found =
                err["details"].as_array().unwrap().iter().any(|d| d["path"] == pointer && d["message"].as_str().unwrap().starts_with(says));
            assert!(found, "{url} {body}: {err}");
        }
        let drawable = [
            report(&[], json!({"kind": "kpi", "y": ["amount"]})),
            report(&["stage"], json!({"kind": "pie", "y": ["amount"]})),
            report(&["stage", "owner"], json!({"kind": "bar", "series": "owner"})),
            report(&["account.region"], json!({"kind": "map", "y": ["n"]})),
            report(&[], json!({"kind": "table"})),
        ];
        for body in drawable {
            let (status, answer) = call(&app, TestRequest::post().uri("/api/apps/crm/query").set_json(body.clone()), Some(&token)).await;
            assert_eq!(status, StatusCode::OK, "{url} {body}: {answer}");
        }
    }
}

#[test]
fn a_saved_report_whose_chart_cannot_draw_it_fails_the_check() {
    let dir = std::env::temp_dir().join(format!("tessera-charts-{}", uuid::Uuid::now_v7().simple()));
    copy_dir(&repo().join("apps/crm"), &dir);
    let path = dir.join("reports/sales_funnel.json");
    let mut funnel: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    funnel["chart"] = json!({"kind": "kpi"});
    fs::write(&path, serde_json::to_string_pretty(&funnel).unwrap()).unwrap();
    let problems: Vec<String> = LoadedApp::check(&dir).iter().map(|d| d.to_string().replace(&format!("{}/", dir.display()), "")).collect();
    fs::remove_dir_all(&dir).ok();
    assert_eq!(
        problems,
        [
            "reports/sales_funnel.json: /chart/kind: a kpi draws 1 measure(s); this one would draw 2",
            "reports/sales_funnel.json: /chart/kind: a kpi takes 0 dimension(s); this report has 1",
        ]
    );
}

#[test]
fn a_dashboard_tile_whose_chart_cannot_draw_its_report_fails_the_check() {
    let dir = std::env::temp_dir().join(format!("tessera-tiles-{}", uuid::Uuid::now_v7().simple()));
    copy_dir(&repo().join("apps/crm"), &dir);
    let path = dir.join("dashboards/sales.json");
    let mut sales: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    let tile = sales["tiles"].as_array().unwrap().iter().position(|t| t["report"] == "sales_funnel").unwrap();
    sales["tiles"][tile]["chart"] = json!("kpi");
    fs::write(&path, serde_json::to_string_pretty(&sales).unwrap()).unwrap();
    let problems: Vec<String> = LoadedApp::check(&dir).iter().map(|d| d.to_string().replace(&format!("{}/", dir.display()), "")).collect();
    fs::remove_dir_all(&dir).ok();
    // The report's chart draws one measure (its `y`), as a KPI may; its dimension is one too many.
    assert_eq!(
        problems,
        [format!("dashboards/sales.json: /tiles/{tile}/chart: report `sales_funnel`: a kpi takes 0 dimension(s); this report has 1")]
    );
}

/// A region field's parts (`province.province`) are report dimensions and filters: the CRM's
/// map of accounts by province counts the demo accounts per province, and a province's cell
/// drills to exactly its accounts. A part a region does not have is refused at its pointer.
#[actix_web::test]
async fn a_map_groups_accounts_by_their_regions_province_and_drills_to_them() {
    for url in databases().await {
        let (engine, token) = crm(&url).await;
        engine.seed("crm", "demo").await.unwrap();
        let app = start(engine).await;
        let a = Some(token.as_str());
        let (status, result) = call(&app, TestRequest::get().uri("/api/apps/crm/reports/accounts_by_province"), a).await;
        assert_eq!(status, StatusCode::OK, "{url}: {result}");
        let count =
            |province: &str| result["rows"].as_array().unwrap().iter().find(|r| r["province"] == province).map(|r| r["accounts"].clone());
        let (status, accounts) = call(&app, TestRequest::get().uri("/api/apps/crm/forms/account/records?limit=200"), a).await;
        assert_eq!(status, StatusCode::OK, "{url}: {accounts}");
        let in_guangdong: Vec<&str> = accounts["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["data"]["province"]["province"] == "广东省")
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert!(!in_guangdong.is_empty(), "{url}: the demo has accounts in 广东省");
        assert_eq!(count("广东省"), Some(json!(in_guangdong.len())), "{url}: {result}");

        let drill = json!({"cell": {"province": "广东省"}});
        let uri = "/api/apps/crm/reports/accounts_by_province/drill";
        let (status, page) = call(&app, TestRequest::post().uri(uri).set_json(drill), a).await;
        assert_eq!(status, StatusCode::OK, "{url}: {page}");
        let mut drilled: Vec<&str> = page["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
        let mut expected = in_guangdong.clone();
        drilled.sort();
        expected.sort();
        assert_eq!(drilled, expected, "{url}");

        let filtered = json!({
            "source": "account",
            "filter": {"province.province": {"eq": "广东省"}},
            "measures": [{"id": "n", "agg": "count"}],
        });
        let (status, answer) = call(&app, TestRequest::post().uri("/api/apps/crm/query").set_json(filtered), a).await;
        assert_eq!(status, StatusCode::OK, "{url}: {answer}");
        assert_eq!(answer["rows"][0]["n"], json!(in_guangdong.len()), "{url}: {answer}");

        let unknown = json!({
            "source": "account",
            "dimensions": [{"id": "p", "field": "province.county"}],
            "measures": [{"id": "n", "agg": "count"}],
        });
        let (status, err) = call(&app, TestRequest::post().uri("/api/apps/crm/query").set_json(unknown), a).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {err}");
        assert_eq!(err["details"][0]["path"], "/dimensions/0/field", "{url}: {err}");
        assert_eq!(err["details"][0]["message"], "`province` of account has no part `county` (its parts: province, city)", "{url}: {err}");
    }
}
