//! What an approval step sets beside its approvers: fields they may edit while it waits for
//! them (the submitter and the next step's approvers may not), fields it hides from them, and
//! who is told how it ended.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{call, databases, start};
use engine::Engine;
use serde_json::json;

/// The lab's task flow: open, then a review whose approval takes `steps` (the review state also
/// given `review`'s members), then done.
fn review_flow(steps: serde_json::Value, review: serde_json::Value) -> serde_json::Value {
    let mut state = json!({"id": "review", "label": "Review", "approval": {"steps": steps, "approved": "done"}});
    state.as_object_mut().unwrap().extend(review.as_object().cloned().unwrap_or_default());
    json!({
        "$schema": "../../../schemas/flow.schema.json",
        "label": "Task review",
        "form": "task",
        "states": [{"id": "open", "label": "Open", "initial": true}, state, {"id": "done", "label": "Done", "terminal": true}],
        "transitions": [{"action": "submit", "label": "Submit", "from": ["open"], "to": "review"}]
    })
}

/// The lab app with a review that locks the subject, which u2 may correct while checking.
fn app_with_editable_step(dir: &std::path::Path) {
    let steps = json!([
        {"id": "check", "label": "Check", "approvers": [{"user": "u2"}], "editable": ["subject"], "cc": ["submitter", "u3"]},
        {"id": "sign", "label": "Sign", "approvers": [{"user": "u3"}]}
    ]);
    let flow = review_flow(steps, json!({"lock": {"fields": ["subject"]}}));
    e2e::lab_with_task_flow(dir, &flow);
}

#[actix_web::test]
async fn the_approvers_a_step_waits_for_edit_the_fields_it_lets_them_and_nobody_else_does() {
    let dir = std::env::temp_dir().join(format!("tessera-step-fields-{}", uuid::Uuid::now_v7().simple()));
    for url in databases().await {
        let app_dir = dir.join(uuid::Uuid::now_v7().simple().to_string());
        app_with_editable_step(&app_dir);
        let engine = Engine::open_with(&url, &[app_dir], &e2e::settings()).await.expect("opens");
        engine.seed("lab", "users").await.unwrap();
        let mut tokens = Vec::new();
        for user in ["u1", "u2", "u3"] {
            tokens.push(engine.login(user, "pw").await.unwrap().token);
        }
        let [u1, u2, u3] = [&tokens[0], &tokens[1], &tokens[2]];
        let app = start(engine.clone()).await;
        let create = TestRequest::post().uri("/api/apps/lab/forms/task/records").set_json(json!({"data": {"subject": "Buy a van"}}));
        let (_, record) = call(&app, create, Some(u1)).await;
        let id = record["id"].as_str().unwrap().to_owned();
        let at = format!("/api/apps/lab/forms/task/records/{id}");
        let (status, body) = call(&app, TestRequest::post().uri(&format!("{at}/actions/submit")), Some(u1)).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        let patch = |subject: &str, version: i64| {
            TestRequest::patch()
                .uri(&at)
                .insert_header(("If-Match", format!("\"{version}\"")))
                .set_json(json!({"data": {"subject": subject}}))
        };
        let version = |body: &serde_json::Value| body["version"].as_i64().unwrap();

        // Checking: the submitter may not touch the subject, the checker may, and is shown so.
        let (_, now) = call(&app, TestRequest::get().uri(&at), Some(u1)).await;
        let (status, refused) = call(&app, patch("Buy two vans", version(&now)), Some(u1)).await;
        assert_eq!((status, &refused["details"][0]["code"]), (StatusCode::UNPROCESSABLE_ENTITY, &json!("locked")), "{url}: {refused}");
        let flow = format!("{at}/actions");
        let (_, seen) = call(&app, TestRequest::get().uri(&flow), Some(u2)).await;
        assert_eq!(seen["locked"], json!([]), "{url}: {seen}");
        let (_, seen_by_owner) = call(&app, TestRequest::get().uri(&flow), Some(u1)).await;
        assert_eq!(seen_by_owner["locked"], json!(["subject"]), "{url}: {seen_by_owner}");
        let (status, corrected) = call(&app, patch("Buy a small van", version(&now)), Some(u2)).await;
        assert_eq!((status, &corrected["data"]["subject"]), (StatusCode::OK, &json!("Buy a small van")), "{url}: {corrected}");

        // Checked: the step is over, and so is the checker's right; the signer has none.
        let (_, tasks) = call(&app, TestRequest::get().uri("/api/tasks"), Some(u2)).await;
        let task = tasks["items"].as_array().unwrap().iter().find(|t| t["record_id"] == id.as_str()).unwrap()["id"].clone();
        let approve = TestRequest::post().uri(&format!("/api/tasks/{}/approve", task.as_str().unwrap())).set_json(json!({}));
        let (status, body) = call(&app, approve, Some(u2)).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        // The step copies (抄送) the submitter and u3: each is told it was approved, once.
        for who in [u1, u3] {
            let (_, told) = call(&app, TestRequest::get().uri("/api/notifications"), Some(who)).await;
            let about: Vec<&serde_json::Value> =
                told["items"].as_array().unwrap().iter().filter(|n| n["message"]["record"] == id.as_str()).collect();
            assert_eq!(about.len(), 1, "{url}: {told}");
            assert_eq!((&about[0]["message"]["step"], &about[0]["message"]["outcome"]), (&json!("check"), &json!("approved")), "{url}");
        }
        let (_, now) = call(&app, TestRequest::get().uri(&at), Some(u2)).await;
        for who in [u2, u3] {
            let (status, refused) = call(&app, patch("Buy a bus", version(&now)), Some(who)).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {refused}");
        }
        drop(app);
        engine.close().await.unwrap();
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// The lab app with a review whose signing step hides the subject (which no state locks).
fn app_with_hiding_step(dir: &std::path::Path) {
    let steps = json!([
        {"id": "check", "label": "Check", "approvers": [{"user": "u2"}]},
        {"id": "sign", "label": "Sign", "approvers": [{"user": "u3"}], "hidden": ["subject"]}
    ]);
    let flow = review_flow(steps, json!({}));
    e2e::lab_with_task_flow(dir, &flow);
}

/// While the signing step waits on u3, the subject it hides is left out of everything u3
/// reads — the record, lists, its history, a preview, an export, the flow's view says so —
/// and u3 may not change it, while the owner still sees and changes it; once u3 has signed,
/// their role shows it again.
#[actix_web::test]
async fn a_field_a_step_hides_is_left_out_of_whatever_its_approver_reads_while_it_waits_on_them() {
    let dir = std::env::temp_dir().join(format!("tessera-step-hidden-{}", uuid::Uuid::now_v7().simple()));
    for url in databases().await {
        let app_dir = dir.join(uuid::Uuid::now_v7().simple().to_string());
        app_with_hiding_step(&app_dir);
        let engine = Engine::open_with(&url, &[app_dir], &e2e::settings()).await.expect("opens");
        engine.seed("lab", "users").await.unwrap();
        let mut tokens = Vec::new();
        for user in ["u1", "u2", "u3"] {
            tokens.push(engine.login(user, "pw").await.unwrap().token);
        }
        let [u1, u2, u3] = [&tokens[0], &tokens[1], &tokens[2]];
        let app = start(engine.clone()).await;
        let create = TestRequest::post().uri("/api/apps/lab/forms/task/records").set_json(json!({"data": {"subject": "Buy a van"}}));
        let (_, record) = call(&app, create, Some(u1)).await;
        let id = record["id"].as_str().unwrap().to_owned();
        let at = format!("/api/apps/lab/forms/task/records/{id}");
        call(&app, TestRequest::post().uri(&format!("{at}/actions/submit")), Some(u1)).await;
        let decide = |who: &'static str| {
            let app = &app;
            let (token, id) = (if who == "u2" { u2 } else { u3 }, id.clone());
            async move {
                let (_, tasks) = call(app, TestRequest::get().uri("/api/tasks"), Some(token)).await;
                let task = tasks["items"].as_array().unwrap().iter().find(|t| t["record_id"] == id.as_str()).unwrap()["id"].clone();
                let approve = TestRequest::post().uri(&format!("/api/tasks/{}/approve", task.as_str().unwrap())).set_json(json!({}));
                let (status, body) = call(app, approve, Some(token)).await;
                assert_eq!(status, StatusCode::OK, "{body}");
            }
        };
        // Checking: u3 is not yet asked, and reads the subject as any agent does.
        let (_, seen) = call(&app, TestRequest::get().uri(&at), Some(u3)).await;
        assert_eq!(seen["data"]["subject"], "Buy a van", "{url}: {seen}");
        decide("u2").await;

        // Signing: every read of u3's leaves the subject out; the owner's do not.
        let (status, seen) = call(&app, TestRequest::get().uri(&at), Some(u3)).await;
        assert_eq!(status, StatusCode::OK, "{url}: {seen}");
        assert!(seen["data"].get("subject").is_none(), "{url}: {seen}");
        let (_, list) = call(&app, TestRequest::get().uri("/api/apps/lab/forms/task/records"), Some(u3)).await;
        let row = list["items"].as_array().unwrap().iter().find(|r| r["id"] == id.as_str()).unwrap();
        assert!(row["data"].get("subject").is_none(), "{url}: {row}");
        let (_, history) = call(&app, TestRequest::get().uri(&format!("{at}/history")), Some(u3)).await;
        let versions = history.as_array().unwrap_or_else(|| history["items"].as_array().unwrap());
        assert!(versions.len() > 1 && versions.iter().all(|v| v["record"]["data"].get("subject").is_none()), "{url}: {history}");
        let preview = TestRequest::post().uri("/api/apps/lab/forms/task/preview").set_json(json!({"data": {}, "id": id}));
        let (status, previewed) = call(&app, preview, Some(u3)).await;
        assert_eq!(status, StatusCode::OK, "{url}: {previewed}");
        assert!(previewed["data"].get("subject").is_none(), "{url}: {previewed}");
        let export = TestRequest::get().uri("/api/apps/lab/forms/task/export?format=csv");
        let (status, csv) = call(&app, export, Some(u3)).await;
        assert_eq!(status, StatusCode::OK, "{url}: {csv}");
        assert!(csv.as_str().is_some_and(|csv| !csv.contains("Buy a van")), "{url}: {csv}");
        let (_, flow) = call(&app, TestRequest::get().uri(&format!("{at}/actions")), Some(u3)).await;
        assert_eq!(flow["hidden"], json!(["subject"]), "{url}: {flow}");
        let (_, owners) = call(&app, TestRequest::get().uri(&at), Some(u1)).await;
        assert_eq!(owners["data"]["subject"], "Buy a van", "{url}: {owners}");
        let (_, owners_flow) = call(&app, TestRequest::get().uri(&format!("{at}/actions")), Some(u1)).await;
        assert_eq!(owners_flow["hidden"], json!([]), "{url}: {owners_flow}");
        let patch = |subject: &str, version: &serde_json::Value| {
            TestRequest::patch()
                .uri(&at)
                .insert_header(("If-Match", format!("\"{version}\"")))
                .set_json(json!({"data": {"subject": subject}}))
        };
        let (status, refused) = call(&app, patch("Buy a bus", &owners["version"]), Some(u3)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {refused}");
        assert_eq!(refused["details"][0]["message"], "is hidden from you at this approval step", "{url}: {refused}");
        let (status, changed) = call(&app, patch("Buy a red van", &owners["version"]), Some(u1)).await;
        assert_eq!(status, StatusCode::OK, "{url}: {changed}");

        // Signed: the step no longer waits on u3, whose role reads the subject.
        decide("u3").await;
        let (_, seen) = call(&app, TestRequest::get().uri(&at), Some(u3)).await;
        assert_eq!(seen["data"]["subject"], "Buy a red van", "{url}: {seen}");
        drop(app);
        engine.close().await.unwrap();
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A step may not hide a field the form lacks, nor one it lets its approvers edit.
#[test]
fn a_step_hiding_an_unknown_or_editable_field_fails_the_check() {
    let dir = std::env::temp_dir().join(format!("tessera-step-hidden-check-{}", uuid::Uuid::now_v7().simple()));
    let steps = json!([
        {"id": "check", "label": "Check", "approvers": [{"user": "u2"}], "editable": ["subject"], "hidden": ["subject", "budget"]}
    ]);
    let flow = review_flow(steps, json!({}));
    e2e::lab_with_task_flow(&dir, &flow);
    let problems: Vec<String> =
        engine::LoadedApp::check(&dir).iter().map(|d| d.to_string().replace(&format!("{}/", dir.display()), "")).collect();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(
        problems,
        [
            "flows/task.json: /states/1/approval/steps/0/hidden/0: `subject` is editable in this step: an approver cannot change what they do not see",
            "flows/task.json: /states/1/approval/steps/0/hidden/1: the form has no field `budget`",
        ]
    );
}

/// An approver the form grants nothing still opens what they are asked to decide: while a
/// decision of theirs is pending, the app view lists the form (outside the navigation) and
/// the record reads; once they have decided, neither.
#[actix_web::test]
async fn an_approver_without_grants_sees_the_form_of_their_pending_decision_and_no_more() {
    let dir = std::env::temp_dir().join(format!("tessera-outside-approver-{}", uuid::Uuid::now_v7().simple()));
    let flow = review_flow(json!([{"id": "check", "label": "Check", "approvers": [{"user": "auditor"}]}]), json!({}));
    for url in databases().await {
        let app_dir = dir.join(uuid::Uuid::now_v7().simple().to_string());
        e2e::lab_with_task_flow(&app_dir, &flow);
        // The auditor holds no role of the app.
        let seed = app_dir.join("seed/users.json");
        let mut users: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&seed).unwrap()).unwrap();
        users["users"].as_array_mut().unwrap().push(json!({"username": "auditor", "display_name": "Auditor", "roles": []}));
        std::fs::write(&seed, users.to_string()).unwrap();
        let app_json = app_dir.join("app.json");
        let mut definition: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&app_json).unwrap()).unwrap();
        definition["navigation"] = json!([{"label": "Work", "forms": ["task", "deal"]}]);
        std::fs::write(&app_json, definition.to_string()).unwrap();
        let engine = Engine::open_with(&url, &[app_dir], &e2e::settings()).await.expect("opens");
        engine.seed("lab", "users").await.unwrap();
        let u1 = engine.login("u1", "pw").await.unwrap().token;
        let auditor = engine.login("auditor", "pw").await.unwrap().token;
        let app = start(engine.clone()).await;
        let listed = |view: &serde_json::Value| {
            let groups = view["app"]["navigation"].as_array().into_iter().flatten();
            let navigated = groups.into_iter().any(|g| g["forms"].as_array().is_some_and(|f| f.contains(&json!("task"))));
            (view["forms"].get("task").is_some(), navigated)
        };
        let (_, view) = call(&app, TestRequest::get().uri("/api/apps/lab"), Some(&auditor)).await;
        assert_eq!(listed(&view), (false, false), "{url}: {view}");
        let (_, view) = call(&app, TestRequest::get().uri("/api/apps/lab"), Some(&u1)).await;
        assert_eq!(listed(&view), (true, true), "{url}: {view}");

        let create = TestRequest::post().uri("/api/apps/lab/forms/task/records").set_json(json!({"data": {"subject": "Buy a van"}}));
        let (_, record) = call(&app, create, Some(&u1)).await;
        let at = format!("/api/apps/lab/forms/task/records/{}", record["id"].as_str().unwrap());
        call(&app, TestRequest::post().uri(&format!("{at}/actions/submit")), Some(&u1)).await;
        let (_, view) = call(&app, TestRequest::get().uri("/api/apps/lab"), Some(&auditor)).await;
        assert_eq!(listed(&view), (true, false), "{url}: {view}");
        assert_eq!(view["forms"]["task"]["access"]["actions"], json!([]), "{url}: {view}");
        let (status, seen) = call(&app, TestRequest::get().uri(&at), Some(&auditor)).await;
        assert_eq!((status, &seen["data"]["subject"]), (StatusCode::OK, &json!("Buy a van")), "{url}: {seen}");

        let (_, tasks) = call(&app, TestRequest::get().uri("/api/tasks"), Some(&auditor)).await;
        let task = tasks["items"][0]["id"].as_str().unwrap().to_owned();
        let (status, body) =
            call(&app, TestRequest::post().uri(&format!("/api/tasks/{task}/approve")).set_json(json!({})), Some(&auditor)).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        let (_, view) = call(&app, TestRequest::get().uri("/api/apps/lab"), Some(&auditor)).await;
        assert_eq!(listed(&view), (false, false), "{url}: {view}");
        let (status, _) = call(&app, TestRequest::get().uri(&at), Some(&auditor)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{url}");
        drop(app);
        engine.close().await.unwrap();
    }
    std::fs::remove_dir_all(&dir).ok();
}
