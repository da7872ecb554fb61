//! The field type palette (`GET /api/field-types`): every type the form engine knows, with
//! its widget, facets and the schema of the properties a designer may set, for admins only.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{call, crm, databases, start};
use serde_json::{Value, json};

const PALETTE: &str = "/api/field-types";

/// Every `$ref` under `value`.
fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            found.extend(map.get("$ref").and_then(Value::as_str));
            map.values().for_each(|v| refs(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
        _ => {}
    }
}

#[actix_web::test]
async fn admins_read_every_field_type_with_its_facets_and_properties() {
    for url in databases().await {
        let (engine, admin) = crm(&url).await;
        engine.seed_users("crm", "demo").await.unwrap();
        let rep = engine.login("rep1", "demo").await.unwrap().token;
        let app = start(engine).await;

        let (status, palette) = call(&app, TestRequest::get().uri(PALETTE), Some(&admin)).await;
        assert_eq!(status, StatusCode::OK, "{url}: {palette}");
        let types = palette["types"].as_array().unwrap();
        let of = |name: &str| types.iter().find(|t| t["type"] == name).unwrap_or_else(|| panic!("no {name} in {palette}"));
        let known: Vec<Value> =
            serde_json::from_value(defs::schema_json(defs::DefKind::Form)["$defs"]["FieldKind"]["examples"].clone()).unwrap();
        assert!(known.iter().all(|k| types.iter().filter(|t| &t["type"] == k).count() == 1), "one entry per built-in type");
        // Each built-in type is named in both languages and sits in one of the palette's groups.
        let groups: Vec<&Value> = palette["groups"].as_array().unwrap().iter().map(|g| &g["id"]).collect();
        for t in types {
            assert!(groups.contains(&&t["group"]), "{t}");
            assert!(t["label"]["en"].is_string() && t["label"]["zh-CN"].is_string(), "{t}");
        }
        assert_eq!((&of("table")["group"], &of("table")["label"]["zh-CN"]), (&json!("relation"), &json!("子表")));

        let currency = of("currency");
        assert_eq!(
            (&currency["widget"], &currency["column"], currency["summable"].as_bool()),
            (&json!("CurrencyWidget"), &json!("number"), Some(true))
        );
        assert_eq!(currency["properties"]["properties"]["scale"]["maximum"], 10);
        assert!(currency["properties"]["properties"].get("rounding").is_some());
        assert_eq!(of("link")["properties"]["properties"].as_object().unwrap().keys().collect::<Vec<_>>(), ["form"]);
        assert!(of("select")["properties"]["properties"].get("options").is_some());
        assert_eq!((&of("auto_number")["widget"], &of("auto_number")["user_writable"]), (&Value::Null, &json!(false)));
        let date = of("date");
        assert_eq!((date["date_like"].as_bool(), date["groupable"].as_bool()), (Some(true), Some(true)));
        assert!(date["operators"].as_array().unwrap().contains(&json!("last_n_days")));
        assert_eq!((&of("tags")["operators"], &of("tags")["groupable"]), (&json!(["is_null", "has"]), &json!(false)));

        // The properties' schemas refer to the definitions sent beside them, and nothing else.
        let mut found = Vec::new();
        refs(&palette["types"], &mut found);
        assert!(found.contains(&"#/$defs/Choice"), "{found:?}");
        for reference in found {
            assert!(palette.pointer(reference.trim_start_matches('#')).is_some(), "{reference} does not resolve");
        }

        let (status, body) = call(&app, TestRequest::get().uri(PALETTE), Some(&rep)).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{body}");
        let (status, _) = call(&app, TestRequest::get().uri(PALETTE), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}
