//! An API fuzz over the OpenAPI document (issue 24): every route and method it lists gets random
//! path values, query strings, headers and bodies, as every role and as nobody. No answer may be
//! a 5xx, none given to someone outside the scope of rep1's records may show them (a canary
//! written into them), and each must be one the document describes for its route: a listed
//! status, content type and schema. The run is seeded, so a failure repeats; `TESSERA_API_FUZZ_CASES` sets
//! the cases a route and role (4 in the suite).

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{call, call_typed, contract, crm, databases, start};
use serde_json::{Map, Value, json};

const CANARY: &str = "FUZZ-CANARY-4417";

/// Keys a body or a query is made of: the API's own words, so that many requests get past the
/// first check.
const KEYS: [&str; 40] = [
    "data",
    "name",
    "comment",
    "owner",
    "from",
    "filter",
    "fields",
    "values",
    "items",
    "dimensions",
    "measures",
    "sort",
    "limit",
    "password",
    "username",
    "role",
    "roles",
    "text",
    "message",
    "app",
    "form",
    "id",
    "version",
    "state",
    "action",
    "label",
    "steps",
    "ids",
    "mapping",
    "options",
    "template",
    "format",
    "q",
    "to",
    "department",
    "expires_in_days",
    "apps",
    "status",
    "count",
    "offset",
];

/// Texts that have broken parsers and queries elsewhere.
const TEXTS: [&str; 16] = [
    "",
    "a",
    "rep1",
    "admin",
    "'; DROP TABLE audit_log; --",
    "../../etc/passwd",
    "{\"or\": []}",
    "2026-13-45",
    "NaN",
    "-1",
    "1e309",
    "客户",
    "\u{0}",
    "%00%ff",
    "account.owner",
    "sales_funnel",
];

fn text(rng: &mut fastrand::Rng, ids: &[String]) -> String {
    match rng.u8(..8) {
        0 => "x".repeat(rng.usize(..70_000)),
        1 if !ids.is_empty() => ids[rng.usize(..ids.len())].clone(),
        _ => TEXTS[rng.usize(..TEXTS.len())].to_owned(),
    }
}

fn value(rng: &mut fastrand::Rng, ids: &[String], depth: u32) -> Value {
    match rng.u8(..10) {
        0 => Value::Null,
        1 => json!(rng.bool()),
        2 => json!([0, -1, 1, 500, 10_001, i64::MAX, i64::MIN][rng.usize(..7)]),
        3 => json!([0.5, -1e300, 1e300, 2.5e-8][rng.usize(..4)]),
        6 | 7 if depth < 3 => Value::Object(object(rng, ids, depth + 1)),
        8 if depth < 3 => Value::Array((0..rng.usize(..5)).map(|_| value(rng, ids, depth + 1)).collect()),
        _ => json!(text(rng, ids)),
    }
}

fn object(rng: &mut fastrand::Rng, ids: &[String], depth: u32) -> Map<String, Value> {
    (0..rng.usize(..5)).map(|_| (KEYS[rng.usize(..KEYS.len())].to_owned(), value(rng, ids, depth))).collect()
}

/// A query string of random keys and values.
fn query(rng: &mut fastrand::Rng, ids: &[String]) -> String {
    let pairs: Vec<String> = (0..rng.usize(..4))
        .map(|_| {
            // Short enough for a URI, which the test client would not build past 64 KiB.
            let value: String = match rng.u8(..3) {
                0 => value(rng, ids, 1).to_string(),
                _ => text(rng, ids),
            }
            .chars()
            .take(1_000)
            .collect();
            format!("{}={}", KEYS[rng.usize(..KEYS.len())], e2e::url_encode(&value))
        })
        .collect();
    if pairs.is_empty() { String::new() } else { format!("?{}", pairs.join("&")) }
}

/// `path` with each parameter a value the CRM has, or, now and then, anything.
fn fill(rng: &mut fastrand::Rng, path: &str, ids: &[String]) -> String {
    e2e::fill_path(path, |parameter| {
        let known = match parameter {
            "app" => "crm".to_owned(),
            "form" => ["account", "quote", "lead", "opportunity"][rng.usize(..4)].to_owned(),
            "id" => ids[rng.usize(..ids.len())].clone(),
            "action" => ["submit", "recall", "approve", "win"][rng.usize(..4)].to_owned(),
            "decision" => ["approve", "reject"][rng.usize(..2)].to_owned(),
            "template" => "quote".to_owned(),
            "report" => "sales_funnel".to_owned(),
            "dashboard" => "sales".to_owned(),
            "kind" => ["form", "flow", "rule", "report"][rng.usize(..4)].to_owned(),
            "release" | "from" | "to" => rng.u32(..4).to_string(),
            "username" => ["rep1", "rep2", "nobody"][rng.usize(..3)].to_owned(),
            "department" => "sales".to_owned(),
            "schedule" => "stalled_deals".to_owned(),
            _ => text(rng, ids).chars().take(200).collect(),
        };
        let value = if rng.u8(..6) == 0 { text(rng, ids).chars().take(200).collect() } else { known };
        e2e::url_encode(&value)
    })
}

#[actix_web::test]
async fn every_route_as_every_role_answers_random_input_without_a_5xx_or_a_leak() {
    let cases: usize = std::env::var("TESSERA_API_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(4);
    for url in databases().await {
        let (engine, admin) = crm(&url).await;
        engine.seed_users("crm", "demo").await.unwrap();
        let (rep1, rep2, manager) =
            (e2e::demo_token(&engine, "rep1").await, e2e::demo_token(&engine, "rep2").await, e2e::demo_token(&engine, "manager1").await);
        let app = start(engine).await;
        let mut ids = Vec::new();
        for (form, data) in [
            ("account", json!({"name": format!("{CANARY} Co"), "phone": "13955501234"})),
            ("lead", json!({"name": format!("{CANARY} Lead"), "company": CANARY})),
        ] {
            let uri = format!("/api/apps/crm/forms/{form}/records");
            let (status, made) = call(&app, TestRequest::post().uri(&uri).set_json(json!({"data": data})), Some(&rep1)).await;
            assert_eq!(status, StatusCode::CREATED, "{url}: {made}");
            ids.push(made["id"].as_str().unwrap().to_owned());
        }
        ids.push(uuid::Uuid::now_v7().to_string());

        let (_, openapi) = call(&app, TestRequest::get().uri("/api/openapi.json"), None).await;
        let routes: Vec<(String, String)> = openapi["paths"]
            .as_object()
            .expect("paths")
            .iter()
            // Logging out or changing a password would end the callers' sessions.
            .filter(|(path, _)| !path.starts_with("/api/auth/"))
            .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |method| (path.clone(), method.clone())))
            .collect();
        let mut rng = fastrand::Rng::with_seed(0x5eed_a91f);
        let (mut sent, mut skipped) = (0, 0);
        let mut disagreements = std::collections::BTreeMap::new();
        // The admin last: what it breaks, the others would meet.
        for (role, token, outside) in
            [("nobody", None, true), ("rep2", Some(&rep2), true), ("manager1", Some(&manager), false), ("admin", Some(&admin), false)]
        {
            for (path, method) in &routes {
                // The admin's run of the CRM's 71 scenarios takes a minute in a debug build, and
                // its only input is the app: the other roles' cases walk it.
                if role == "admin" && path.ends_with("/test") {
                    skipped += cases;
                    continue;
                }
                for _ in 0..cases {
                    let uri = format!("{}{}", fill(&mut rng, path, &ids), query(&mut rng, &ids));
                    let req = contract::request(method).uri(&uri);
                    let req = match rng.u8(..4) {
                        0 => req,
                        1 => req.insert_header(("If-Match", rng.u8(..3).to_string())),
                        // What a header can carry: visible ASCII.
                        _ => req.insert_header((
                            "If-Match",
                            text(&mut rng, &ids).chars().filter(char::is_ascii_graphic).take(100).collect::<String>(),
                        )),
                    };
                    let req = match rng.u8(..6) {
                        0 => req,
                        1 => req
                            .insert_header(("content-type", "text/csv"))
                            .set_payload(format!("name,company\n{},x\n", text(&mut rng, &ids))),
                        2 => req.insert_header(("content-type", "application/json")).set_payload(text(&mut rng, &ids)),
                        3 => req.set_json(json!({"data": object(&mut rng, &ids, 1)})),
                        _ => req.set_json(Value::Object(object(&mut rng, &ids, 0))),
                    };
                    let (status, content_type, body) = call_typed(&app, req, token.map(String::as_str)).await;
                    let what = format!("{url}: {role} {} {uri}", method.to_uppercase());
                    assert!(!status.is_server_error(), "{what}: {status} {body}");
                    if outside {
                        assert!(!body.to_string().contains(CANARY), "{what} shows rep1's records: {body}");
                    }
                    if let Some(problem) = contract::disagreement(&openapi, method, path, status, &content_type, &body) {
                        // One example a kind of disagreement: the first line names the operation and status.
                        let kind = problem.lines().next().unwrap_or_default().to_owned();
                        disagreements.entry(kind).or_insert_with(|| format!("{what}\n  {problem}"));
                    }
                    sent += 1;
                }
            }
        }
        assert_eq!(sent + skipped, 4 * cases * routes.len(), "{url}: every route and method walked");
        let listed: Vec<&String> = disagreements.values().collect();
        assert!(listed.is_empty(), "{url}: {} kinds of answers the document does not describe:\n{listed:#?}", listed.len());
        eprintln!("{url}: {sent} requests over {} routes, none a 5xx, a leak or off the document", routes.len());
    }
}
