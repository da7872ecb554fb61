//! A form's pool (records nobody owns: claimed, returned, assigned) and its public web form
//! (no login, bounded, rate limited, a honeypot), on the CRM's leads.

use std::fs;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{call, copy_dir, databases, repo, start};
use engine::Engine;
use serde_json::{Value, json};

/// The CRM with a pool limit of `limit` leads and its demo users only (no demo records), and
/// the tokens of rep1, rep2 and manager1.
async fn crm_with_pool(url: &str, limit: u32) -> (Engine, [String; 3]) {
    let dir = std::env::temp_dir().join(format!("tessera-pool-{}", uuid::Uuid::now_v7().simple()));
    copy_dir(&repo().join("apps/crm"), &dir);
    let lead = dir.join("forms/lead.json");
    let mut form: Value = serde_json::from_str(&fs::read_to_string(&lead).unwrap()).unwrap();
    form["pool"]["limit"] = json!(limit);
    fs::write(&lead, serde_json::to_string_pretty(&form).unwrap()).unwrap();
    let mut people: Value = serde_json::from_str(&fs::read_to_string(dir.join("seed/demo.json")).unwrap()).unwrap();
    people["forms"] = json!([]);
    fs::write(dir.join("seed/people.json"), serde_json::to_string_pretty(&people).unwrap()).unwrap();
    let engine = Engine::open_with(url, std::slice::from_ref(&dir), &e2e::settings()).await.expect("engine opens");
    engine.seed("crm", "people").await.expect("demo users");
    fs::remove_dir_all(&dir).ok();
    let mut tokens = Vec::new();
    for user in ["rep1", "rep2", "manager1"] {
        tokens.push(engine.login(user, "demo").await.expect("login").token);
    }
    (engine, tokens.try_into().unwrap())
}

fn submit(data: Value) -> TestRequest {
    TestRequest::post().uri("/api/public/apps/crm/forms/lead").set_json(json!({ "data": data }))
}

#[actix_web::test]
async fn a_web_form_makes_a_pool_lead_that_one_rep_claims_up_to_the_pools_limit() {
    for url in databases().await {
        let (engine, [rep1, rep2, manager1]) = crm_with_pool(&url, 1).await;
        let app = start(engine).await;

        // The page's description needs no login and shows only the web form's fields.
        let (status, page) = call(&app, TestRequest::get().uri("/api/public/apps/crm/forms/lead"), None).await;
        assert_eq!(status, StatusCode::OK, "{url}: {page}");
        let fields: Vec<&str> = page["fields"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
        assert_eq!(fields, ["name", "company", "title", "phone", "email", "region", "industry", "notes"], "{url}");
        assert_eq!(page["hidden"], json!(["campaign"]), "{url}");

        // Sent without a login: a lead from the web, in the pool, which every rep sees.
        for (n, phone) in ["13800000001", "13800000002"].iter().enumerate() {
            let (status, receipt) =
                call(&app, submit(json!({"name": format!("Visitor {n}"), "company": "Web Co", "phone": phone})), None).await;
            assert_eq!(status, StatusCode::CREATED, "{url}: {receipt}");
            assert!(receipt["thanks"]["en"].as_str().unwrap().starts_with("Thank you"), "{url}: {receipt}");
        }
        let pool = |token: &str| {
            let (app, token) = (&app, token.to_owned());
            async move {
                let uri = format!("/api/apps/crm/forms/lead/records?filter={}", e2e::url_encode(&json!({"owner": ""}).to_string()));
                let (status, page) = call(app, TestRequest::get().uri(&uri), Some(&token)).await;
                assert_eq!(status, StatusCode::OK, "{page}");
                page["items"].as_array().unwrap().clone()
            }
        };
        let waiting = pool(&rep1).await;
        assert_eq!(waiting.len(), 2, "{url}: {waiting:?}");
        assert!(waiting.iter().all(|l| l["data"]["source"] == "web" && l["owner"] == ""), "{url}: {waiting:?}");
        assert_eq!(pool(&rep2).await.len(), 2, "{url}");

        // rep1 claims one; then holds the pool's limit of one open lead, so the second is refused.
        let claim = |token: &str, lead: &Value| {
            let (app, token) = (&app, token.to_owned());
            let uri = format!("/api/apps/crm/forms/lead/records/{}/claim", lead["id"].as_str().unwrap());
            let version = lead["version"].to_string();
            async move { call(app, TestRequest::post().uri(&uri).insert_header(("If-Match", version)), Some(&token)).await }
        };
        let (status, claimed) = claim(&rep1, &waiting[0]).await;
        assert_eq!((status, claimed["owner"].as_str()), (StatusCode::OK, Some("rep1")), "{url}: {claimed}");
        let (status, refused) = claim(&rep1, &waiting[1]).await;
        assert_eq!((status, refused["error"].as_str()), (StatusCode::CONFLICT, Some("pool_limit")), "{url}: {refused}");
        assert_eq!(refused["limit"], json!({"name": "pool.limit", "value": 1}), "{url}: the client words it from the limit");

        // Claimed, the lead leaves everyone else's sight; a stale or second claim is refused.
        assert_eq!(pool(&rep2).await.len(), 1, "{url}");
        let (status, _) = claim(&rep2, &claimed).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{url}: out of rep2's scope now");
        let (status, _) = claim(&rep2, &waiting[0]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{url}");

        // Disqualified, it no longer counts against the limit: rep1 may claim the other one.
        let id = claimed["id"].as_str().unwrap();
        let (status, body) = call(
            &app,
            TestRequest::patch()
                .uri(&format!("/api/apps/crm/forms/lead/records/{id}"))
                .insert_header(("If-Match", claimed["version"].to_string()))
                .set_json(json!({"data": {"disqualified_reason": "competitor"}})),
            Some(&rep1),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        let (status, body) =
            call(&app, TestRequest::post().uri(&format!("/api/apps/crm/forms/lead/records/{id}/actions/disqualify")), Some(&rep1)).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        let (status, second) = claim(&rep1, &waiting[1]).await;
        assert_eq!((status, second["owner"].as_str()), (StatusCode::OK, Some("rep1")), "{url}: {second}");

        // A rep may not give a lead away; the manager may, and may return it to the pool.
        let second_id = second["id"].as_str().unwrap();
        let assign = |token: &str, version: i64, owner: &str| {
            let (app, token) = (&app, token.to_owned());
            let req = TestRequest::post()
                .uri(&format!("/api/apps/crm/forms/lead/records/{second_id}/assign"))
                .insert_header(("If-Match", version.to_string()))
                .set_json(json!({ "owner": owner }));
            async move { call(app, req, Some(&token)).await }
        };
        let version = second["version"].as_i64().unwrap();
        assert_eq!(assign(&rep1, version, "rep2").await.0, StatusCode::FORBIDDEN, "{url}");
        assert_eq!(assign(&manager1, version, "nobody").await.0, StatusCode::NOT_FOUND, "{url}");
        let (status, moved) = assign(&manager1, version, "rep2").await;
        assert_eq!((status, moved["owner"].as_str()), (StatusCode::OK, Some("rep2")), "{url}: {moved}");
        let (status, returned) = call(
            &app,
            TestRequest::post()
                .uri(&format!("/api/apps/crm/forms/lead/records/{second_id}/return"))
                .insert_header(("If-Match", moved["version"].to_string())),
            Some(&rep2),
        )
        .await;
        assert_eq!((status, returned["owner"].as_str()), (StatusCode::OK, Some("")), "{url}: {returned}");

        // Each change of owner is a version of its own.
        let (_, history) =
            call(&app, TestRequest::get().uri(&format!("/api/apps/crm/forms/lead/records/{second_id}/history")), Some(&manager1)).await;
        let ops: Vec<&str> = history["items"].as_array().unwrap().iter().map(|v| v["op"].as_str().unwrap()).collect();
        assert_eq!(ops, ["create", "claim", "assign", "return"], "{url}: {history}");
    }
}

#[actix_web::test]
async fn web_forms_refuse_what_a_visitor_may_not_send_and_tell_nothing_of_what_exists() {
    for url in databases().await {
        let (engine, [rep1, ..]) = crm_with_pool(&url, 5).await;
        let app = start(engine).await;
        // A field outside the web form, a bad value, a form without a web form: clear 4xx.
        let (status, body) = call(&app, submit(json!({"name": "X", "score": 100})), None).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("malformed")), "{url}: {body}");
        let (status, body) = call(&app, submit(json!({"name": "X", "email": "not an address"})), None).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed")), "{url}: {body}");
        let (status, _) = call(&app, TestRequest::get().uri("/api/public/apps/crm/forms/account"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{url}");
        let huge = "x".repeat(server::WEB_FORM_BODY_BYTES);
        let (status, _) = call(&app, submit(json!({"name": "X", "notes": huge})), None).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{url}");

        // A bot that fills the honeypot is thanked and nothing is kept.
        let trapped = TestRequest::post()
            .uri("/api/public/apps/crm/forms/lead")
            .set_json(json!({"data": {"name": "Bot", "phone": "13700000000"}, "trap": "http://spam.example"}));
        assert_eq!(call(&app, trapped, None).await.0, StatusCode::CREATED, "{url}");

        // A lead whose phone is known already: the visitor reads the same thanks, nothing is
        // created, and the owner of the existing lead hears of it.
        let known = TestRequest::post()
            .uri("/api/apps/crm/forms/lead/records")
            .set_json(json!({"data": {"name": "Known", "region": "east", "phone": "13600000000"}}));
        let (status, existing) = call(&app, known, Some(&rep1)).await;
        assert_eq!((status, existing["owner"].as_str()), (StatusCode::CREATED, Some("rep1")), "{url}: {existing}");
        let (status, receipt) = call(&app, submit(json!({"name": "Again", "phone": "13600000000"})), None).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {receipt}");
        assert!(receipt.get("existing").is_none() && !receipt.to_string().contains(existing["id"].as_str().unwrap()), "{url}");
        let (_, inbox) = call(&app, TestRequest::get().uri("/api/notifications"), Some(&rep1)).await;
        let texts: Vec<&str> = inbox["items"].as_array().unwrap().iter().filter_map(|i| i["message"]["text"].as_str()).collect();
        assert!(texts.iter().any(|t| t.contains("web form submission") && t.contains("Again")), "{url}: {texts:?}");
        let (_, leads) = call(&app, TestRequest::get().uri("/api/apps/crm/forms/lead/records?count=true"), Some(&rep1)).await;
        assert_eq!(
            leads["total"]["records"].as_u64(),
            Some(1),
            "{url}: only the known lead; the bot's and the duplicate were not kept: {leads}"
        );

        // Past the limit per address: 429 with Retry-After, whatever is sent.
        let mut statuses = Vec::new();
        for n in 0..server::MAX_SUBMISSIONS_PER_ADDRESS {
            statuses.push(call(&app, submit(json!({"name": format!("V{n}"), "phone": format!("1350000{n:04}")})), None).await.0);
        }
        assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS), "{url}: {statuses:?}");
    }
}
