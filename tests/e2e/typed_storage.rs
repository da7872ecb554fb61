//! Every scalar field of a form is a typed column of its record table and its value lives only
//! there, so filters, sorts and reports on any field read a typed value instead of parsing JSON
//! row by row, and rows stay narrow. The document `data` keeps the rest. A definition that adds,
//! removes or retypes a field reshapes the table when the app loads, keeping every value.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{call, copy_dir, repo, start};
use engine::Engine;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};

const PRODUCTS: &str = "/api/apps/crm/forms/product/records";

async fn open(url: &str, app: &std::path::Path) -> (Engine, String) {
    let engine = Engine::open_with(url, &[app.to_path_buf()], &e2e::settings()).await.expect("the app opens");
    engine.ensure_admin(Some("admin-pass")).await.expect("admin");
    let token = engine.login("admin", "admin-pass").await.expect("login").token;
    (engine, token)
}

/// The typed columns (`f_…`) of the product table: name, SQL type, and whether it is generated
/// (as an older release made them).
async fn typed_columns(db: &DatabaseConnection) -> Vec<(String, String, bool)> {
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DatabaseBackend::Postgres => {
            "SELECT column_name::text AS name, data_type::text AS type, (is_generated = 'ALWAYS')::int AS generated \
             FROM information_schema.columns WHERE table_name = 'r_crm__product' AND column_name LIKE 'f\\_%' ORDER BY 1"
        }
        _ => {
            "SELECT name, type, hidden AS generated FROM pragma_table_xinfo('r_crm__product') WHERE name LIKE 'f\\_%' ESCAPE '\\' ORDER BY 1"
        }
    };
    let rows = db.query_all_raw(Statement::from_string(backend, sql)).await.unwrap();
    rows.iter()
        .map(|r| {
            (
                r.try_get("", "name").unwrap(),
                r.try_get::<String>("", "type").unwrap().to_lowercase(),
                r.try_get::<i32>("", "generated").unwrap() != 0,
            )
        })
        .collect()
}

/// `f_name` and `f_tax_rate` of product `code`, as the database reads them (text), and the
/// document.
async fn typed_values(db: &DatabaseConnection, code: &str) -> (Option<String>, Option<String>, Value) {
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT f_name AS name, CAST(f_tax_rate AS TEXT) AS tax, CAST(data AS TEXT) AS data FROM r_crm__product WHERE f_code = '{code}'"
    );
    let row = db.query_one_raw(Statement::from_string(backend, sql)).await.unwrap().expect("the product's row");
    let document = serde_json::from_str(&row.try_get::<String>("", "data").unwrap()).unwrap();
    (row.try_get("", "name").unwrap(), row.try_get("", "tax").unwrap(), document)
}

fn count(body: &Value) -> usize {
    body["items"].as_array().map_or(0, Vec::len)
}

#[actix_web::test]
async fn every_scalar_field_lives_in_a_typed_column_that_follows_its_definition() {
    let dir = std::env::temp_dir().join(format!("tessera-typed-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let urls = e2e::file_databases(&dir).await;
    for url in urls {
        let app_dir = dir.join(format!("crm-{}", uuid::Uuid::now_v7().simple()));
        copy_dir(&repo().join("apps/crm"), &app_dir);
        let (engine, token) = open(&url, &app_dir).await;
        let app = start(engine.clone()).await;
        let t = Some(token.as_str());
        for (code, name, tax) in [("P1", "Widget", 13), ("P2", "Gadget", 6)] {
            let data = json!({"code": code, "name": name, "tax_rate": tax, "active": true, "description": "made well"});
            let (status, body) = call(&app, TestRequest::post().uri(PRODUCTS).set_json(json!({"data": data})), t).await;
            assert_eq!(status, StatusCode::CREATED, "{url}: {body}");
        }
        let db = Database::connect(&url).await.unwrap();
        let columns = typed_columns(&db).await;
        let names: Vec<&str> = columns.iter().map(|(n, _, _)| n.as_str()).collect();
        for field in ["f_active", "f_code", "f_description", "f_name", "f_tax_rate", "f_unit_price"] {
            assert!(names.contains(&field), "{url}: no typed column {field} in {columns:?}");
        }
        assert!(columns.iter().all(|(_, _, generated)| !*generated), "{url}: plain columns: {columns:?}");
        let (name, tax, document) = typed_values(&db, "P1").await;
        assert_eq!(name.as_deref(), Some("Widget"), "{url}");
        assert_eq!(tax.and_then(|t| t.parse::<f64>().ok()), Some(13.0), "{url}: the number as the database holds it");
        assert_eq!(document, json!({}), "{url}: every value has its column, and lives only there");
        drop(app);
        engine.close().await.unwrap();

        // The next version of the app drops `description`, adds `origin` and makes `tax_rate` text.
        let form_file = app_dir.join("forms/product.json");
        let mut form: Value = serde_json::from_str(&std::fs::read_to_string(&form_file).unwrap()).unwrap();
        let fields = form["fields"].as_array_mut().unwrap();
        fields.retain(|f| f["id"] != "description");
        for field in fields.iter_mut().filter(|f| f["id"] == "tax_rate") {
            *field = json!({"id": "tax_rate", "type": "text", "label": field["label"].clone()});
        }
        fields.push(json!({"id": "origin", "type": "text", "label": {"en": "Origin", "zh-CN": "产地"}}));
        for section in form["layout"].as_array_mut().into_iter().flatten() {
            if let Some(list) = section["fields"].as_array_mut() {
                list.retain(|f| f != "description");
            }
        }
        std::fs::write(&form_file, serde_json::to_string_pretty(&form).unwrap()).unwrap();
        let seed_file = app_dir.join("seed/demo.json");
        let mut seed: Value = serde_json::from_str(&std::fs::read_to_string(&seed_file).unwrap()).unwrap();
        for generator in seed["forms"].as_array_mut().unwrap().iter_mut().filter(|g| g["form"] == "product") {
            generator["fields"].as_object_mut().unwrap().remove("description");
        }
        std::fs::write(&seed_file, serde_json::to_string_pretty(&seed).unwrap()).unwrap();

        let (engine, token) = open(&url, &app_dir).await;
        let app = start(engine.clone()).await;
        let t = Some(token.as_str());
        let columns = typed_columns(&db).await;
        let names: Vec<&str> = columns.iter().map(|(n, _, _)| n.as_str()).collect();
        assert!(names.contains(&"f_origin") && !names.contains(&"f_description"), "{url}: {columns:?}");
        let tax_type = &columns.iter().find(|(n, _, _)| n == "f_tax_rate").expect("f_tax_rate").1;
        assert_eq!(tax_type.as_str(), "text", "{url}: the retyped column");
        assert!(columns.iter().all(|(_, _, generated)| !*generated), "{url}: {columns:?}");
        // Every record and every value kept: a value of the old type, and one of a field no
        // longer defined, go back into the document; the retyped column reads as missing.
        let (name, tax, document) = typed_values(&db, "P1").await;
        assert_eq!((name.as_deref(), tax), (Some("Widget"), None), "{url}");
        assert_eq!(document, json!({"tax_rate": 13, "description": "made well"}), "{url}");
        let (status, body) = call(&app, TestRequest::get().uri(&format!("{PRODUCTS}?limit=10&sort=code")), t).await;
        assert_eq!((status, count(&body)), (StatusCode::OK, 2), "{url}: {body}");
        assert_eq!(body["items"][0]["data"]["tax_rate"], 13, "{url}: {body}");
        let data = json!({"code": "P3", "name": "Gizmo", "tax_rate": "13%", "origin": "Ningbo"});
        let (status, body) = call(&app, TestRequest::post().uri(PRODUCTS).set_json(json!({"data": data})), t).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {body}");
        let filter = |f: Value| format!("{PRODUCTS}?filter={}", e2e::url_encode(&f.to_string()));
        let (_, body) = call(&app, TestRequest::get().uri(&filter(json!({"origin": "Ningbo", "tax_rate": "13%"}))), t).await;
        assert_eq!(count(&body), 1, "{url}: {body}");
        let (_, body) = call(&app, TestRequest::get().uri(&format!("{PRODUCTS}?sort=-name&limit=1")), t).await;
        assert_eq!(body["items"][0]["data"]["name"], "Widget", "{url}: {body}");
        drop(app);
        engine.close().await.unwrap();
        db.close().await.ok();
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A product table as the release before made it: typed columns generated from a document
/// that held every value.
async fn create_older_product_table(db: &DatabaseConnection, id: &str, data: &Value) {
    let backend = db.get_database_backend();
    let (document, code) = match backend {
        sea_orm::DatabaseBackend::Postgres => ("jsonb", "text GENERATED ALWAYS AS (data->>'code') STORED"),
        _ => ("text", "TEXT GENERATED ALWAYS AS (json_extract(data, '$.code')) STORED"),
    };
    let table = format!(
        "CREATE TABLE r_crm__product (id varchar NOT NULL PRIMARY KEY, version bigint NOT NULL, owner varchar NOT NULL, \
         state varchar NULL, f_code {code}, data {document} NOT NULL, created_by varchar NOT NULL, created_at varchar NOT NULL, \
         updated_by varchar NOT NULL, updated_at varchar NOT NULL, deleted_at varchar NULL, flow text NULL)"
    );
    db.execute_unprepared(&table).await.unwrap();
    let now = "2026-12-01T00:00:00.000000Z";
    let cast = if backend == sea_orm::DatabaseBackend::Postgres { "::jsonb" } else { "" };
    let row = format!(
        "INSERT INTO r_crm__product (id, version, owner, data, created_by, created_at, updated_by, updated_at) VALUES ('{id}', 1, 'admin', '{data}'{cast}, 'admin', '{now}', 'admin', '{now}')"
    );
    db.execute_unprepared(&row).await.unwrap();
}

#[actix_web::test]
async fn a_table_of_the_release_before_is_rebuilt_keeping_every_value() {
    let dir = std::env::temp_dir().join(format!("tessera-typed-old-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let urls = e2e::file_databases(&dir).await;
    let id = uuid::Uuid::now_v7().to_string();
    let data = json!({"code": "OLD1", "name": "Legacy", "tax_rate": 13, "unit_price": 12.5, "active": true, "weight": 3.0, "tags": ["x"]});
    for url in urls {
        let db = Database::connect(&url).await.unwrap();
        create_older_product_table(&db, &id, &data).await;
        let (engine, token) = open(&url, &repo().join("apps/crm")).await;
        let app = start(engine.clone()).await;
        let columns = typed_columns(&db).await;
        assert!(columns.len() > 5 && columns.iter().all(|(_, _, generated)| !*generated), "{url}: {columns:?}");
        let (name, tax, document) = typed_values(&db, "OLD1").await;
        assert_eq!((name.as_deref(), tax.and_then(|t| t.parse::<f64>().ok())), (Some("Legacy"), Some(13.0)), "{url}");
        // What has no column of its kind stays in the document: a list, a field the form does
        // not define, and a number written as `3.0`, which a column would give back as `3`.
        assert_eq!(document, json!({"weight": 3.0, "tags": ["x"]}), "{url}");
        let (status, body) = call(&app, TestRequest::get().uri(&format!("{PRODUCTS}/{id}")), Some(&token)).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        assert_eq!(body["data"], data, "{url}: the record reads back as it was written");
        assert!(body.get("form_version").is_none(), "{url}: written before records were stamped: {body}");
        drop(app);
        engine.close().await.unwrap();
        db.close().await.ok();
    }
    std::fs::remove_dir_all(&dir).ok();
}
