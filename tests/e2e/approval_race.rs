//! Two approvers deciding one 或签 step at the same moment: the first decides it, the second is
//! told the task is already decided (409) — as on SQLite, where writes take turns — and no
//! `denied` audit row makes the race look like an attack (issue 24, item 3).

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{call, databases, start};
use engine::Engine;
use serde_json::{Value, json};

/// The lab app with a flow whose first review step any one of u2 and u3 decides; u1 signs after.
fn any_of_app(dir: &std::path::Path) {
    let flow = json!({
        "$schema": "../../../schemas/flow.schema.json",
        "label": "Task review",
        "form": "task",
        "states": [
            {"id": "open", "label": "Open", "initial": true},
            {"id": "review", "label": "Review", "approval": {"steps": [
                {"id": "check", "label": "Check", "mode": "any", "approvers": [{"user": "u2"}, {"user": "u3"}]},
                {"id": "sign", "label": "Sign", "approvers": [{"user": "u1"}]}
            ], "approved": "done"}},
            {"id": "done", "label": "Done", "terminal": true}
        ],
        "transitions": [{"action": "submit", "label": "Submit", "from": ["open"], "to": "review"}]
    });
    e2e::lab_with_task_flow(dir, &flow);
}

fn task_of(tasks: &Value, record: &str) -> String {
    let items = tasks["items"].as_array().unwrap();
    let task = items.iter().find(|t| t["record_id"] == record).unwrap_or_else(|| panic!("no task for {record}: {tasks}"));
    task["id"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn the_second_of_two_approvers_deciding_at_once_is_told_it_is_decided() {
    let dir = std::env::temp_dir().join(format!("tessera-race-{}", uuid::Uuid::now_v7().simple()));
    for url in databases().await {
        let app_dir = dir.join(uuid::Uuid::now_v7().simple().to_string());
        any_of_app(&app_dir);
        let engine = Engine::open_with(&url, &[app_dir], &e2e::settings()).await.expect("opens");
        engine.ensure_admin(Some("admin-pass")).await.unwrap();
        engine.seed("lab", "users").await.unwrap();
        let token = |name: &'static str, password: &'static str| {
            let engine = engine.clone();
            async move { engine.login(name, password).await.unwrap().token }
        };
        let (u1, u2, u3, admin) =
            (token("u1", "pw").await, token("u2", "pw").await, token("u3", "pw").await, token("admin", "admin-pass").await);
        let app = start(engine.clone()).await;
        for round in 0..8 {
            let create =
                TestRequest::post().uri("/api/apps/lab/forms/task/records").set_json(json!({"data": {"subject": format!("race {round}")}}));
            let (_, record) = call(&app, create, Some(&u1)).await;
            let id = record["id"].as_str().unwrap().to_owned();
            let submit = TestRequest::post().uri(&format!("/api/apps/lab/forms/task/records/{id}/actions/submit"));
            let (status, body) = call(&app, submit, Some(&u1)).await;
            assert_eq!(status, StatusCode::OK, "{url}: {body}");
            let (_, tasks2) = call(&app, TestRequest::get().uri("/api/tasks"), Some(&u2)).await;
            let (_, tasks3) = call(&app, TestRequest::get().uri("/api/tasks"), Some(&u3)).await;
            let (t2, t3) = (task_of(&tasks2, &id), task_of(&tasks3, &id));
            let decide = |task: &str| TestRequest::post().uri(&format!("/api/tasks/{task}/approve")).set_json(json!({}));
            let ((s2, b2), (s3, b3)) = futures::join!(call(&app, decide(&t2), Some(&u2)), call(&app, decide(&t3), Some(&u3)));
            let mut statuses = [s2, s3];
            statuses.sort();
            assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT], "{url}: round {round}: u2 {s2} {b2}, u3 {s3} {b3}");
            let loser = if s2 == StatusCode::CONFLICT { &b2 } else { &b3 };
            assert_eq!(loser["error"], "conflict", "{url}: {loser}");
        }
        let (_, denied) = call(&app, TestRequest::get().uri("/api/audit?outcome=denied"), Some(&admin)).await;
        assert_eq!(denied["items"].as_array().map(Vec::len), Some(0), "{url}: a race is not an attack: {denied}");
        drop(app);
        engine.close().await.unwrap();
    }
    std::fs::remove_dir_all(&dir).ok();
}
