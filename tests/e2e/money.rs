//! Exact money (#16, item 4): decimal and currency values are rounded to their field's scale on
//! every save, so 0.1 × 3 is 0.3 in a formula, a report sum, a printed total, an import and an
//! export, on SQLite and PostgreSQL alike; `tessera check` refuses a scale where none applies.

use std::fs;
use std::path::{Path, PathBuf};

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{call, databases, start};
use engine::{Engine, LoadedApp};
use serde_json::{Value, json};

/// A one-form app: a line with a quantity, a price, a formula total, child items, one field per
/// rounding mode, a report summing totals and a print template.
fn money_app() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-money-{}", uuid::Uuid::now_v7().simple()));
    let write = |file: &str, text: String| {
        let path = dir.join(file);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    };
    write(
        "app.json",
        json!({"$schema": "app.schema.json", "format_version": 1, "id": "shop", "name": "Shop", "version": "1.0.0", "roles": [{"id": "admin", "label": "Admin"}]})
            .to_string(),
    );
    write(
        "forms/line.json",
        json!({"$schema": "form.schema.json", "label": "Line", "fields": [
            {"id": "qty", "type": "decimal", "label": "Qty", "scale": 3},
            {"id": "price", "type": "currency", "label": "Price"},
            {"id": "total", "type": "currency", "label": "Total", "formula": "record.qty * record.price"},
            {"id": "half_even", "type": "decimal", "label": "Half even", "rounding": "half_even"},
            {"id": "down", "type": "currency", "label": "Down", "rounding": "down", "min": -100},
            {"id": "items", "type": "table", "label": "Items", "fields": [
                {"id": "amount", "type": "currency", "label": "Amount"}]}
        ]})
        .to_string(),
    );
    write(
        "reports/totals.json",
        json!({"$schema": "report.schema.json", "label": "Totals", "source": "line", "measures": [
            {"id": "total", "label": "Total", "agg": "sum", "field": "total"},
            {"id": "price", "label": "Price", "agg": "sum", "field": "price"},
            {"id": "average", "label": "Average", "agg": "avg", "field": "total"}
        ], "totals": true})
        .to_string(),
    );
    write(
        "reports/by_qty.json",
        json!({"$schema": "report.schema.json", "label": "By quantity", "source": "line", "dimensions": [{"id": "qty", "field": "qty"}],
               "measures": [{"id": "total", "label": "Total", "agg": "sum", "field": "total"}], "totals": true})
        .to_string(),
    );
    write("templates/line.hbs", "<p>total={{record.data.total}} items={{sum record.data.items \"amount\"}}</p>".to_owned());
    dir
}

async fn shop(url: &str, dir: &Path) -> (Engine, String) {
    let engine = Engine::open_with(url, &[dir.to_path_buf()], &e2e::settings()).await.expect("the shop opens");
    engine.ensure_admin(Some("admin-pass")).await.expect("admin");
    let token = engine.login("admin", "admin-pass").await.expect("login").token;
    (engine, token)
}

fn create(data: Value) -> TestRequest {
    TestRequest::post().uri("/api/apps/shop/forms/line/records").set_json(json!({ "data": data }))
}

#[actix_web::test]
async fn a_formula_a_report_sum_a_print_and_an_export_of_tenths_are_exact() {
    let dir = money_app();
    for url in databases().await {
        let (engine, admin) = shop(&url, &dir).await;
        let app = start(engine).await;
        let t = Some(admin.as_str());
        let mut ids = Vec::new();
        for _ in 0..3 {
            let items = json!([{"amount": 0.1}, {"amount": 0.1}, {"amount": 0.1}]);
            let (status, line) = call(&app, create(json!({"qty": 3, "price": 0.1, "items": items})), t).await;
            assert_eq!(status, StatusCode::CREATED, "{url}: {line}");
            assert_eq!(line["data"]["total"].to_string(), "0.3", "{url}: 0.1 × 3 in a formula");
            ids.push(line["id"].as_str().unwrap().to_owned());
        }
        let (_, stored) = call(&app, TestRequest::get().uri(&format!("/api/apps/shop/forms/line/records/{}", ids[0])), t).await;
        assert_eq!(stored["data"]["total"].to_string(), "0.3", "{url}: as stored");

        let (status, report) = call(&app, TestRequest::get().uri("/api/apps/shop/reports/totals"), t).await;
        assert_eq!(status, StatusCode::OK, "{url}: {report}");
        let row = &report["rows"][0];
        assert_eq!((row["total"].to_string(), row["price"].to_string()), ("0.9".into(), "0.3".into()), "{url}: {report}");
        assert_eq!(row["average"].to_string(), "0.3", "{url}: {report}");
        // Group sums folded into the grand total add as decimals too.
        let (status, report) = call(&app, TestRequest::get().uri("/api/apps/shop/reports/by_qty"), t).await;
        assert_eq!(status, StatusCode::OK, "{url}: {report}");
        assert_eq!(report["totals"]["total"].to_string(), "0.9", "{url}: {report}");

        let (status, html) = call(&app, TestRequest::get().uri(&format!("/api/apps/shop/print/line/{}", ids[0])), t).await;
        assert_eq!(status, StatusCode::OK, "{url}: {html}");
        assert!(html.as_str().unwrap().contains("total=0.3 items=0.3"), "{url}: {html}");

        let (status, csv) = call(&app, TestRequest::get().uri("/api/apps/shop/forms/line/export?format=csv"), t).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        let csv = csv.as_str().unwrap();
        assert!(csv.contains("\"0.3\"") && !csv.contains("0.30000000000000004"), "{url}: {csv}");
    }
    fs::remove_dir_all(&dir).ok();
}

#[actix_web::test]
async fn each_field_rounds_by_its_mode_and_takes_decimal_text() {
    let dir = money_app();
    for url in databases().await {
        let (engine, admin) = shop(&url, &dir).await;
        let app = start(engine).await;
        let t = Some(admin.as_str());
        let data = json!({"qty": "1.0005", "price": "2.675", "half_even": 2.665, "down": -2.679, "items": [{"amount": "0.10"}]});
        let (status, line) = call(&app, create(data), t).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {line}");
        assert_eq!(
            line["data"],
            json!({"qty": 1.001, "price": 2.68, "total": 2.68, "half_even": 2.66, "down": -2.67, "items": [{"amount": 0.1}]}),
            "{url}: half up (the default), half even and down, each at its scale; text read as a number"
        );

        // Past 15 significant digits at the field's scale a value would not come back as sent.
        let (status, err) = call(&app, create(json!({"qty": 1, "price": 10_000_000_000_000.0})), t).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {err}");
        assert_eq!(err["details"][0]["path"], "/price", "{url}: {err}");
        let (status, err) = call(&app, create(json!({"qty": 1, "price": 1, "half_even": "ten"})), t).await;
        assert_eq!((status, &err["details"][0]["path"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!("/half_even")), "{url}: {err}");
        let (status, line) = call(&app, create(json!({"qty": 1, "price": 9_999_999_999_999.99})), t).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {line}");
        assert_eq!(line["data"]["price"].to_string(), "9999999999999.99", "{url}");
    }
    fs::remove_dir_all(&dir).ok();
}

#[actix_web::test]
async fn an_import_reads_decimal_text_and_rounds_it_at_the_scale() {
    let dir = money_app();
    for url in databases().await {
        let (engine, admin) = shop(&url, &dir).await;
        let app = start(engine).await;
        let t = Some(admin.as_str());
        // 0.125 rounds half to even; 0.1250000000000000001 is past the half, which its nearest
        // float (0.125) would no longer say.
        let csv = "qty,price,half_even\n3,0.1,0.125\n3,\"1,234.505\",1\n1,0.2,0.1250000000000000001\n";
        let req = TestRequest::post()
            .uri("/api/apps/shop/forms/line/import?wait=true")
            .insert_header(("Content-Type", "text/csv"))
            .set_payload(csv);
        let (status, report) = call(&app, req, t).await;
        assert_eq!((status, &report["created"]), (StatusCode::OK, &json!(3)), "{url}: {report}");
        let (_, lines) = call(&app, TestRequest::get().uri("/api/apps/shop/forms/line/records?sort=price"), t).await;
        let got: Vec<(String, String, String)> = lines["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (l["data"]["price"].to_string(), l["data"]["total"].to_string(), l["data"]["half_even"].to_string()))
            .collect();
        assert_eq!(
            got,
            [
                ("0.1".into(), "0.3".into(), "0.12".into()),
                ("0.2".into(), "0.2".into(), "0.13".into()),
                ("1234.51".into(), "3703.53".into(), "1".into())
            ],
            "{url}: {lines}"
        );
    }
    fs::remove_dir_all(&dir).ok();
}

#[test]
fn check_refuses_a_scale_or_rounding_where_none_applies_and_a_scale_out_of_range() {
    let dir = money_app();
    let path = dir.join("forms/line.json");
    let mut form: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    form["fields"][4]["rounding"] = json!("sometimes");
    form["fields"][5]["scale"] = json!(2);
    form["fields"][5]["fields"][0]["scale"] = json!(11);
    fs::write(&path, form.to_string()).unwrap();
    let shown: Vec<String> = LoadedApp::check(&dir).iter().map(|d| d.to_string().replace(&format!("{}/", dir.display()), "")).collect();
    let at = |pointer: &str| shown.iter().any(|d| d.starts_with(&format!("forms/line.json: {pointer}: ")));
    assert!(at("/fields/4/rounding") && at("/fields/5/fields/0/scale"), "{shown:#?}");

    form["fields"][4]["rounding"] = json!("down");
    form["fields"][5]["fields"][0]["scale"] = json!(10);
    form["fields"][5]["rounding"] = json!("half_up");
    fs::write(&path, form.to_string()).unwrap();
    let shown: Vec<String> = LoadedApp::check(&dir).iter().map(|d| d.to_string().replace(&format!("{}/", dir.display()), "")).collect();
    assert_eq!(shown.len(), 2, "{shown:#?}");
    assert!(shown.iter().any(|d| d.contains("/fields/5/scale") && d.contains("`scale` does not apply to a table field")), "{shown:#?}");
    assert!(shown.iter().any(|d| d.contains("/fields/5/rounding")), "{shown:#?}");
    fs::remove_dir_all(&dir).ok();
}
