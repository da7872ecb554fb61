//! A field type added from outside the form engine, as a program running Tessera adds one: this
//! file and its `mod` line are all it takes. `percent` is a number from 0 to 100, edited with
//! the number widget, summed by reports and read from "12.5%" in imports; an app using it works
//! end to end on both databases.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Once;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use defs::{Field, FieldKind};
use e2e::{call, databases, start};
use engine::Engine;
use forms::{Column, FieldType};
use serde_json::{Value, json};

/// A share of a whole, in percent.
struct Percent;

impl FieldType for Percent {
    fn kind(&self) -> FieldKind {
        FieldKind::named("percent")
    }
    fn schema(&self, _field: &Field) -> Value {
        json!({"type": "number", "minimum": 0, "maximum": 100})
    }
    fn column(&self) -> Column {
        Column::Number
    }
    /// `12.5%` or `12.5`.
    fn parse_text(&self, _field: &Field, text: &str) -> Result<Value, String> {
        let number = text.trim().trim_end_matches('%').trim_end();
        number.parse::<f64>().map(|n| json!(n)).map_err(|_| format!("`{text}` is not a percentage"))
    }
    fn widget(&self) -> Option<&'static str> {
        Some("NumberWidget")
    }
}

/// Registers `percent` once for every test of the process (a program does it at start-up).
fn register_percent() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| forms::register_field_type(&Percent).expect("`percent` is a new name"));
}

/// A tiny app with a `percent` field and a report summing it, in a temporary folder.
fn survey_app() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-percent-{}", uuid::Uuid::now_v7().simple()));
    let write = |file: &str, value: Value| {
        let path = dir.join(file);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, value.to_string()).unwrap();
    };
    write(
        "app.json",
        json!({"$schema": "app.schema.json", "format_version": 1, "id": "survey", "name": "Survey", "version": "1.0.0",
               "roles": [{"id": "admin", "label": "Admin"}]}),
    );
    write(
        "forms/answer.json",
        json!({"$schema": "form.schema.json", "label": "Answer", "title_field": "name", "fields": [
            {"id": "name", "type": "text", "label": "Name"},
            {"id": "share", "type": "percent", "label": "Share"}
        ]}),
    );
    write(
        "reports/shares.json",
        json!({"$schema": "report.schema.json", "label": "Shares", "source": "answer",
               "measures": [{"id": "total", "label": "Total", "agg": "sum", "field": "share"}]}),
    );
    dir
}

async fn survey(url: &str, dir: &Path) -> (Engine, String) {
    let engine = Engine::open_with(url, &[dir.to_path_buf()], &e2e::settings()).await.expect("the survey opens");
    engine.ensure_admin(Some("admin-pass")).await.expect("admin");
    let token = engine.login("admin", "admin-pass").await.expect("login").token;
    (engine, token)
}

const ANSWERS: &str = "/api/apps/survey/forms/answer/records";

#[actix_web::test]
async fn a_field_type_registered_from_outside_saves_filters_imports_sums_and_is_listed() {
    register_percent();
    let dir = survey_app();
    for url in databases().await {
        let (engine, admin) = survey(&url, &dir).await;
        let app = start(engine).await;
        let t = Some(admin.as_str());

        let (status, saved) = call(&app, TestRequest::post().uri(ANSWERS).set_json(json!({"data": {"name": "a", "share": 40}})), t).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {saved}");
        let (status, refused) =
            call(&app, TestRequest::post().uri(ANSWERS).set_json(json!({"data": {"name": "b", "share": 120}})), t).await;
        assert_eq!((status, &refused["details"][0]["path"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!("/share")), "{url}: {refused}");

        let csv = "name,share\nc,12.5%\nd,30\n";
        let import = TestRequest::post().uri("/api/apps/survey/forms/answer/import?wait=true");
        let import = import.insert_header(("Content-Type", "text/csv")).set_payload(csv);
        let (status, report) = call(&app, import, t).await;
        assert_eq!((status, &report["created"]), (StatusCode::OK, &json!(2)), "{url}: {report}");

        let filter = "%7B%22share%22%3A%7B%22gte%22%3A30%7D%7D"; // {"share":{"gte":30}}
        let (status, page) = call(&app, TestRequest::get().uri(&format!("{ANSWERS}?filter={filter}&sort=name")), t).await;
        assert_eq!(status, StatusCode::OK, "{url}: {page}");
        let names: Vec<&Value> = page["items"].as_array().unwrap().iter().map(|r| &r["data"]["name"]).collect();
        assert_eq!(names, [&json!("a"), &json!("d")], "{url}: {page}");
        let (_, imported) = call(&app, TestRequest::get().uri(&format!("{ANSWERS}?sort=name")), t).await;
        assert_eq!(imported["items"][1]["data"]["share"], json!(12.5), "{url}: \"12.5%\" read as 12.5");

        let (status, report) = call(&app, TestRequest::get().uri("/api/apps/survey/reports/shares"), t).await;
        assert_eq!((status, report["rows"][0]["total"].as_f64()), (StatusCode::OK, Some(82.5)), "{url}: {report}");

        let (status, palette) = call(&app, TestRequest::get().uri("/api/field-types"), t).await;
        let percent = palette["types"].as_array().unwrap().iter().find(|t| t["type"] == "percent");
        assert_eq!(status, StatusCode::OK);
        let percent = percent.unwrap_or_else(|| panic!("{url}: no percent in {palette}"));
        assert_eq!((&percent["widget"], &percent["summable"]), (&json!("NumberWidget"), &json!(true)), "{url}: {percent}");
    }
    fs::remove_dir_all(&dir).ok();
}

/// `tessera check` names a type no one registered, and a property the type does not take,
/// with the form file and pointer.
#[test]
fn check_names_an_unknown_type_and_a_property_the_type_does_not_take() {
    register_percent();
    let dir = survey_app();
    let path = dir.join("forms/answer.json");
    let mut form: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    form["fields"][0]["type"] = json!("percentage");
    form["fields"][1]["options"] = json!([{"value": "x", "label": "X"}]);
    fs::write(&path, form.to_string()).unwrap();
    let shown: Vec<String> =
        engine::LoadedApp::check(&dir).iter().map(|d| d.to_string().replace(&format!("{}/", dir.display()), "")).collect();
    assert_eq!(
        shown,
        [
            "forms/answer.json: /fields/0/type: no field type `percentage`",
            "forms/answer.json: /fields/1/options: `options` does not apply to a percent field",
        ]
    );
    fs::remove_dir_all(&dir).ok();
}
