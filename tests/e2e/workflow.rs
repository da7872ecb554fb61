//! Flows through the API, as the people who would act: the CRM's lead, opportunity, quote,
//! contract and ticket flows, approvals in every mode, timers on a controllable clock, and a
//! flow definition changing under records in flight.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use chrono::{Duration, Utc};
use e2e::{call, crm, databases, start};
use engine::Engine;
use serde_json::{Value, json};

/// Logs in the demo users (`demo` password) and returns their tokens by name.
async fn people(engine: &Engine) -> HashMap<&'static str, String> {
    engine.seed_users("crm", "demo").await.expect("demo users");
    let mut tokens = HashMap::new();
    for name in ["rep1", "rep2", "manager1", "legal1", "finance1", "ceo1", "agent1", "service_manager1"] {
        tokens.insert(name, engine.login(name, "demo").await.expect("login").token);
    }
    tokens
}

fn create(form: &str, data: Value) -> TestRequest {
    TestRequest::post().uri(&format!("/api/apps/crm/forms/{form}/records")).set_json(json!({ "data": data }))
}

fn get(form: &str, id: &str) -> TestRequest {
    TestRequest::get().uri(&format!("/api/apps/crm/forms/{form}/records/{id}"))
}

fn patch(form: &str, id: &str, version: i64, data: Value) -> TestRequest {
    TestRequest::patch()
        .uri(&format!("/api/apps/crm/forms/{form}/records/{id}"))
        .insert_header(("If-Match", version.to_string()))
        .set_json(json!({ "data": data }))
}

fn act(form: &str, id: &str, action: &str) -> TestRequest {
    TestRequest::post().uri(&format!("/api/apps/crm/forms/{form}/records/{id}/actions/{action}"))
}

fn actions(form: &str, id: &str) -> TestRequest {
    TestRequest::get().uri(&format!("/api/apps/crm/forms/{form}/records/{id}/actions"))
}

fn action_names(view: &Value) -> Vec<&str> {
    view["actions"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect()
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// The caller's pending tasks on record `id`.
async fn my_tasks<S, B>(app: &S, token: &str, id: &str) -> Vec<Value>
where
    S: actix_web::dev::Service<actix_http::Request, Response = actix_web::dev::ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let (status, body) = call(app, TestRequest::get().uri("/api/tasks"), Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().unwrap().iter().filter(|t| t["record_id"] == id).cloned().collect()
}

/// Texts of the caller's notifications.
async fn inbox<S, B>(app: &S, token: &str) -> Vec<String>
where
    S: actix_web::dev::Service<actix_http::Request, Response = actix_web::dev::ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let (_, body) = call(app, TestRequest::get().uri("/api/notifications"), Some(token)).await;
    body["items"].as_array().unwrap().iter().map(|n| n["message"]["text"].as_str().unwrap_or_default().to_owned()).collect()
}

#[actix_web::test]
async fn a_lead_is_contacted_qualified_and_converted_into_account_contact_and_opportunity() {
    for url in databases().await {
        let (engine, _) = crm(&url).await;
        let who = people(&engine).await;
        let app = start(engine).await;
        let rep = Some(who["rep1"].as_str());
        let (status, lead) = call(
            &app,
            create(
                "lead",
                json!({"name": "张伟", "company": "东方重工", "region": "east",
            "industry": "manufacturing", "source": "trade_show", "estimated_budget": 300000}),
            ),
            rep,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {lead}");
        assert_eq!(
            (lead["owner"].as_str(), lead["state"].as_str(), lead["data"]["status"].as_str()),
            (Some("rep1"), Some("new"), Some("new"))
        );
        let id = id_of(&lead);

        let (_, view) = call(&app, actions("lead", &id), rep).await;
        assert_eq!(action_names(&view), ["contact", "qualify", "disqualify"], "{url}");
        let (status, moved) = call(&app, act("lead", &id, "contact"), rep).await;
        assert_eq!((status, moved["record"]["data"]["status"].as_str()), (StatusCode::OK, Some("contacted")), "{url}: {moved}");

        // The guard: no phone or e-mail yet. 422 with the guard's message, nothing written.
        let (status, refused) = call(&app, act("lead", &id, "qualify"), rep).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {refused}");
        assert!(refused["details"][0]["message"].is_string(), "{url}: {refused}");
        assert!(refused["details"][0]["message"].as_str().unwrap().contains("确认线索前需要电话或邮箱"), "{url}: {refused}");
        let (_, history) = call(&app, TestRequest::get().uri(&format!("/api/apps/crm/forms/lead/records/{id}/history")), rep).await;
        let ops: Vec<&str> = history["items"].as_array().unwrap().iter().map(|h| h["op"].as_str().unwrap()).collect();
        assert_eq!(ops, ["create", "flow:contact"], "{url}: the refused move wrote nothing");
        // A person cannot set the status by hand either.
        let (status, _) = call(&app, patch("lead", &id, 2, json!({"status": "qualified"})), rep).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}");

        call(&app, patch("lead", &id, 2, json!({"phone": "13812345678", "email": "zhangwei@dongfang.cn"})), rep).await;
        let (status, moved) = call(&app, act("lead", &id, "qualify"), rep).await;
        assert_eq!(status, StatusCode::OK, "{url}: {moved}");
        let (status, converted) = call(&app, act("lead", &id, "convert"), rep).await;
        assert_eq!(status, StatusCode::OK, "{url}: {converted}");
        let lead = &converted["record"];
        assert_eq!(lead["data"]["status"], "converted");
        let account = lead["data"]["converted_account"].as_str().expect("account linked").to_owned();
        let opportunity = lead["data"]["converted_opportunity"].as_str().expect("opportunity linked").to_owned();

        let (_, account) = call(&app, get("account", &account), rep).await;
        assert_eq!((account["data"]["name"].as_str(), account["owner"].as_str()), (Some("东方重工"), Some("rep1")), "{url}: {account}");
        let (_, deal) = call(&app, get("opportunity", &opportunity), rep).await;
        assert_eq!(deal["data"]["account"], account["id"], "{url}");
        assert_eq!((deal["data"]["amount"].as_f64(), deal["data"]["stage"].as_str()), (Some(300000.0), Some("initial_contact")));
        assert_eq!((deal["data"]["probability"].as_i64(), deal["data"]["lead"].as_str()), (Some(10), Some(id.as_str())));
        let (_, contact) = call(&app, get("contact", deal["data"]["contact"].as_str().unwrap()), rep).await;
        assert_eq!((contact["data"]["name"].as_str(), contact["data"]["phone"].as_str()), (Some("张伟"), Some("13812345678")));
        assert_eq!(contact["data"]["account"], account["id"]);

        // Converting twice: the lead has moved on (409), nothing more is created.
        let (status, _) = call(&app, act("lead", &id, "convert"), rep).await;
        assert_eq!(status, StatusCode::CONFLICT, "{url}");
        let (_, view) = call(&app, actions("lead", &id), rep).await;
        assert_eq!((view["terminal"].as_bool(), action_names(&view).len()), (Some(true), 0), "{url}: {view}");
        let log: Vec<&str> = view["log"].as_array().unwrap().iter().map(|l| l["action"].as_str().unwrap()).collect();
        assert_eq!(log, ["contact", "qualify", "convert"]);

        // Disqualifying needs a reason; another rep cannot even see the lead.
        let (_, other) = call(&app, create("lead", json!({"name": "李娜", "company": "南方电子", "region": "east"})), rep).await;
        let other = id_of(&other);
        let (status, body) = call(&app, act("lead", &other, "disqualify"), rep).await;
        assert_eq!(
            (status, body["details"][0]["path"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("/disqualified_reason")),
            "{url}: {body}"
        );
        let (status, _) = call(&app, act("lead", &other, "contact"), Some(&who["rep2"])).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{url}");
        let (status, _) = call(&app, act("lead", &other, "teleport"), rep).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{url}");
    }
}

#[actix_web::test]
async fn opportunity_stages_set_probability_and_require_their_fields() {
    for url in databases().await {
        let (engine, _) = crm(&url).await;
        let who = people(&engine).await;
        let app = start(engine).await;
        let rep = Some(who["rep1"].as_str());
        let (_, account) = call(&app, create("account", json!({"name": "华东机械"})), rep).await;
        let (status, deal) =
            call(&app, create("opportunity", json!({"name": "产线改造", "account": id_of(&account), "amount": 880000})), rep).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {deal}");
        assert_eq!((deal["data"]["stage"].as_str(), deal["data"]["probability"].as_i64()), (Some("initial_contact"), Some(10)));
        let id = id_of(&deal);
        let (status, _) = call(&app, act("opportunity", &id, "propose"), rep).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        let (status, body) = call(&app, act("opportunity", &id, "negotiate"), rep).await;
        assert_eq!((status, body["details"][0]["path"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("/close_date")), "{url}");
        call(&app, patch("opportunity", &id, 2, json!({"close_date": "2026-12-20"})), rep).await;
        for (action, stage, probability) in [("negotiate", "negotiation", 75), ("win", "won", 100)] {
            let (status, moved) = call(&app, act("opportunity", &id, action), rep).await;
            assert_eq!(status, StatusCode::OK, "{url}: {action}: {moved}");
            assert_eq!(
                (moved["record"]["data"]["stage"].as_str(), moved["record"]["data"]["probability"].as_i64()),
                (Some(stage), Some(probability))
            );
        }
        // The manager hears of the win.
        assert!(inbox(&app, &who["manager1"]).await.contains(&"商机赢单".to_owned()), "{url}");
        // Deals may be entered mid-way (a `start` state), but not moved by editing the stage.
        let renewal = json!({"name": "续约", "account": id_of(&account), "amount": 50000, "stage": "negotiation"});
        let (status, entered) = call(&app, create("opportunity", renewal), rep).await;
        assert_eq!((status, entered["data"]["probability"].as_i64()), (StatusCode::CREATED, Some(75)), "{url}: {entered}");
        let (status, _) = call(&app, patch("opportunity", &id_of(&entered), 1, json!({"stage": "won"})), rep).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        let (status, body) = call(&app, act("opportunity", &id_of(&entered), "lose"), rep).await;
        assert_eq!((status, body["details"][0]["path"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("/lost_reason")), "{url}");
    }
}

#[actix_web::test]
async fn quote_discounts_are_approved_by_the_manager_and_above_25_percent_by_the_director_too() {
    for url in databases().await {
        let (engine, admin) = crm(&url).await;
        let who = people(&engine).await;
        let app = start(engine).await;
        let (rep, manager, ceo) = (Some(who["rep1"].as_str()), Some(who["manager1"].as_str()), Some(who["ceo1"].as_str()));
        let (_, account) = call(&app, create("account", json!({"name": "远东物流"})), rep).await;
        let (_, product) = call(&app, create("product", json!({"code": "P-7", "name": "Scanner", "unit_price": 1000})), Some(&admin)).await;
        let items = json!([{"product": id_of(&product), "qty": 2, "unit_price": 1000}]);
        let quote = |discount: i64| create("quote", json!({"account": id_of(&account), "items": items, "discount": discount}));

        // No lines: the guard refuses the submit.
        let (_, empty) = call(&app, create("quote", json!({"account": id_of(&account)})), rep).await;
        let (status, body) = call(&app, act("quote", &id_of(&empty), "submit"), rep).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        assert!(body["details"][0]["message"].as_str().unwrap().contains("Add at least one line item"), "{url}: {body}");

        // 5 %: no step applies; approved at once.
        let (_, q5) = call(&app, quote(5), rep).await;
        let (_, moved) = call(&app, act("quote", &id_of(&q5), "submit"), rep).await;
        assert_eq!(moved["record"]["data"]["status"], "approved", "{url}: {moved}");

        // 15 %: the rep's manager decides, from their task list.
        let (_, q15) = call(&app, quote(15), rep).await;
        let id = id_of(&q15);
        let (_, moved) = call(&app, act("quote", &id, "submit"), rep).await;
        assert_eq!(
            (moved["flow"]["state"].as_str(), moved["flow"]["approval"]["waiting"].clone()),
            (Some("in_review"), json!(["manager1"]))
        );
        assert_eq!(action_names(&moved["flow"]), ["recall"], "{url}: the submitter may only recall");
        let (status, _) = call(&app, act("quote", &id, "approve"), rep).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{url}: not the rep's decision");
        let tasks = my_tasks(&app, &who["manager1"], &id).await;
        assert_eq!(tasks.len(), 1, "{url}: {tasks:?}");
        assert_eq!((tasks[0]["step"].as_str(), tasks[0]["state"].as_str()), (Some("manager"), Some("in_review")));
        assert_eq!(tasks[0]["step_label"]["zh-CN"], "销售经理审批", "{url}");
        // The app view tells clients which field the flow keeps and what its states are called.
        let (_, view) = call(&app, TestRequest::get().uri("/api/apps/crm"), rep).await;
        assert_eq!(view["forms"]["quote"]["flow"]["field"], "status", "{url}");
        assert_eq!(view["forms"]["quote"]["flow"]["states"][2]["id"], "approved", "{url}");
        assert_eq!(view["dashboards"].as_array().unwrap().len(), 4, "{url}: and the app's dashboards");
        let approve = TestRequest::post()
            .uri(&format!("/api/tasks/{}/approve", tasks[0]["id"].as_str().unwrap()))
            .set_json(json!({"comment": "同意"}));
        let (status, decided) = call(&app, approve, manager).await;
        assert_eq!((status, decided["record"]["data"]["status"].as_str()), (StatusCode::OK, Some("approved")), "{url}: {decided}");
        let again = TestRequest::post().uri(&format!("/api/tasks/{}/approve", tasks[0]["id"].as_str().unwrap()));
        assert_eq!(call(&app, again, manager).await.0, StatusCode::CONFLICT, "{url}: a task is decided once");
        let (_, done) = call(&app, TestRequest::get().uri("/api/tasks?status=approved"), manager).await;
        assert_eq!(done["items"].as_array().unwrap().len(), 1, "{url}: {done}");

        // 30 %: manager, then the director (executive), who sends it back to draft with a comment.
        let (_, q30) = call(&app, quote(30), rep).await;
        let id = id_of(&q30);
        call(&app, act("quote", &id, "submit"), rep).await;
        let (_, moved) = call(&app, act("quote", &id, "approve"), manager).await;
        assert_eq!(moved["flow"]["approval"]["step"], "director", "{url}: {moved}");
        assert!(my_tasks(&app, &who["manager1"], &id).await.is_empty(), "{url}");
        let (status, rejected) = call(&app, act("quote", &id, "reject").set_json(json!({"comment": "折扣过高"})), ceo).await;
        assert_eq!((status, rejected["record"]["data"]["status"].as_str()), (StatusCode::OK, Some("draft")), "{url}: {rejected}");
        let log = rejected["flow"]["log"].as_array().unwrap();
        let decision = log.iter().find(|l| l["action"] == "reject").unwrap();
        assert_eq!(
            (decision["by"].as_str(), decision["comment"].as_str(), decision["step"].as_str()),
            (Some("ceo1"), Some("折扣过高"), Some("director"))
        );

        // Recall before anyone decided: back to draft, the manager's task is withdrawn.
        let (_, q) = call(&app, quote(15), rep).await;
        let id = id_of(&q);
        call(&app, act("quote", &id, "submit"), rep).await;
        assert_eq!(my_tasks(&app, &who["manager1"], &id).await.len(), 1);
        let (status, recalled) = call(&app, act("quote", &id, "recall"), rep).await;
        assert_eq!((status, recalled["record"]["data"]["status"].as_str()), (StatusCode::OK, Some("draft")), "{url}: {recalled}");
        assert!(my_tasks(&app, &who["manager1"], &id).await.is_empty(), "{url}");

        // Transfer (转交): the manager hands the decision to the director, picked from the directory.
        let (_, directory) = call(&app, TestRequest::get().uri("/api/users"), manager).await;
        let ceo_entry = directory["items"].as_array().unwrap().iter().find(|u| u["username"] == "ceo1").cloned().unwrap();
        assert_eq!(ceo_entry.as_object().unwrap().keys().collect::<Vec<_>>(), ["username", "display_name", "department"], "{url}");
        call(&app, act("quote", &id, "submit"), rep).await;
        let (status, body) = call(&app, act("quote", &id, "transfer").set_json(json!({"to": "rep1"})), manager).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: not to the submitter: {body}");
        let (status, _) = call(&app, act("quote", &id, "transfer").set_json(json!({"to": "ceo1"})), manager).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        assert_eq!(my_tasks(&app, &who["ceo1"], &id).await.len(), 1, "{url}");
        let (_, moved) = call(&app, act("quote", &id, "approve"), ceo).await;
        assert_eq!(moved["record"]["data"]["status"], "approved", "{url}: {moved}");
    }
}

#[actix_web::test]
async fn contracts_need_the_manager_then_legal_and_finance_countersigning_at_once() {
    for url in databases().await {
        let (engine, _) = crm(&url).await;
        let who = people(&engine).await;
        let app = start(engine.clone()).await;
        let t = |name: &str| Some(who[name].clone());
        let (_, account) = call(&app, create("account", json!({"name": "西部能源"})), t("rep1").as_deref()).await;
        let contract = |name: &str| {
            create(
                "contract",
                json!({"name": name, "account": id_of(&account), "amount": 100000,
                "payment_plan": [{"due_date": "2026-01-31", "amount": 30000}, {"due_date": "2099-06-30", "amount": 70000}]}),
            )
        };

        // Rejected by legal: back to draft, finance's task withdrawn.
        let (_, first) = call(&app, contract("框架协议"), t("rep1").as_deref()).await;
        let id = id_of(&first);
        let (status, moved) = call(&app, act("contract", &id, "submit"), t("rep1").as_deref()).await;
        assert_eq!((status, moved["flow"]["approval"]["waiting"].clone()), (StatusCode::OK, json!(["manager1"])), "{url}: {moved}");
        call(&app, act("contract", &id, "approve"), t("manager1").as_deref()).await;
        assert_eq!(my_tasks(&app, &who["finance1"], &id).await.len(), 1, "{url}");
        let (_, back) =
            call(&app, act("contract", &id, "reject").set_json(json!({"comment": "违约条款需修改"})), t("legal1").as_deref()).await;
        assert_eq!(back["record"]["data"]["status"], "draft", "{url}: {back}");
        assert!(my_tasks(&app, &who["finance1"], &id).await.is_empty(), "{url}");

        // Approved: legal and finance approve at the same moment; both count once.
        let (_, second) = call(&app, contract("设备采购合同"), t("rep1").as_deref()).await;
        let id = id_of(&second);
        call(&app, act("contract", &id, "submit"), t("rep1").as_deref()).await;
        let (_, moved) = call(&app, act("contract", &id, "approve"), t("manager1").as_deref()).await;
        assert_eq!(moved["flow"]["approval"]["step"], "legal_finance", "{url}: {moved}");
        let (legal, finance) = (t("legal1"), t("finance1"));
        let (a, b) = tokio::join!(
            call(&app, act("contract", &id, "approve"), legal.as_deref()),
            call(&app, act("contract", &id, "approve"), finance.as_deref())
        );
        assert_eq!((a.0, b.0), (StatusCode::OK, StatusCode::OK), "{url}: {} / {}", a.1, b.1);
        let (_, view) = call(&app, actions("contract", &id), t("rep1").as_deref()).await;
        assert_eq!(view["state"], "approved", "{url}: {view}");
        let approvals = view["log"].as_array().unwrap().iter().filter(|l| l["action"] == "approve").count();
        assert_eq!(approvals, 3, "{url}: manager, legal, finance — each once");
        let (_, record) = call(&app, get("contract", &id), t("rep1").as_deref()).await;
        assert_eq!((record["data"]["legal_approved"].as_bool(), record["version"].as_i64()), (Some(true), Some(5)), "{url}: {record}");

        // Signed and active; overdue payments remind the owner and finance, weekly.
        let (status, signed) = call(&app, act("contract", &id, "sign"), t("rep1").as_deref()).await;
        assert_eq!((status, signed["record"]["data"]["signed_date"].is_string()), (StatusCode::OK, true), "{url}: {signed}");
        let (status, body) = call(&app, act("contract", &id, "activate"), t("rep1").as_deref()).await;
        assert_eq!((status, body["details"][0]["path"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("/start_date")), "{url}");
        let version = signed["record"]["version"].as_i64().unwrap();
        let (status, body) =
            call(&app, patch("contract", &id, version, json!({"start_date": "2026-01-01"})), t("manager1").as_deref()).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        assert_eq!(body["data"]["overdue_amount"].as_f64(), Some(30000.0), "{url}: {body}");
        let (status, _) = call(&app, act("contract", &id, "activate"), t("rep1").as_deref()).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        let now = Utc::now();
        engine.run_due_jobs(now + Duration::hours(25)).await.unwrap();
        let reminder = "合同有逾期未回款".to_owned();
        let count = |texts: Vec<String>| texts.iter().filter(|t| **t == reminder).count();
        assert_eq!(count(inbox(&app, &who["rep1"]).await), 1, "{url}");
        assert_eq!(count(inbox(&app, &who["finance1"]).await), 1, "{url}");
        engine.run_due_jobs(now + Duration::hours(26)).await.unwrap();
        assert_eq!(count(inbox(&app, &who["rep1"]).await), 1, "{url}: not again the same week");
        engine.run_due_jobs(now + Duration::days(9)).await.unwrap();
        assert_eq!(count(inbox(&app, &who["rep1"]).await), 2, "{url}: a week later, again");
        // Completing needs everything received.
        let (status, body) = call(&app, act("contract", &id, "complete"), t("finance1").as_deref()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        assert!(body["details"][0]["message"].as_str().unwrap().contains("money receivable"), "{url}: {body}");
    }
}

#[actix_web::test]
async fn a_double_submit_moves_the_record_once() {
    for url in databases().await {
        let (engine, _) = crm(&url).await;
        let who = people(&engine).await;
        let app = start(engine).await;
        let rep = Some(who["rep1"].as_str());
        let (_, account) = call(&app, create("account", json!({"name": "双击科技"})), rep).await;
        let (_, deal) = call(&app, create("opportunity", json!({"name": "双击", "amount": 1000, "account": id_of(&account)})), rep).await;
        let id = id_of(&deal);
        let (a, b) = tokio::join!(call(&app, act("opportunity", &id, "propose"), rep), call(&app, act("opportunity", &id, "propose"), rep));
        let mut statuses = [a.0, b.0];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT], "{url}: {} / {}", a.1, b.1);
        let (_, record) = call(&app, get("opportunity", &id), rep).await;
        assert_eq!((record["version"].as_i64(), record["data"]["stage"].as_str()), (Some(2), Some("proposal")), "{url}");
        // A stale If-Match is refused like any stale write.
        let (status, _) = call(&app, act("opportunity", &id, "negotiate").insert_header(("If-Match", "1")), rep).await;
        assert_eq!(status, StatusCode::CONFLICT, "{url}");
    }
}

#[actix_web::test]
async fn ticket_slas_escalate_by_priority_and_resolved_tickets_close_on_their_own() {
    for url in databases().await {
        let (engine, _) = crm(&url).await;
        let who = people(&engine).await;
        let app = start(engine.clone()).await;
        let agent = Some(who["agent1"].as_str());
        let now = Utc::now();
        let (status, ticket) = call(&app, create("ticket", json!({"subject": "设备无法启动", "priority": "urgent"})), agent).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {ticket}");
        let id = id_of(&ticket);
        let escalated = "工单超过响应时限（SLA）".to_owned();
        engine.run_due_jobs(now + Duration::minutes(50)).await.unwrap();
        assert!(!inbox(&app, &who["service_manager1"]).await.contains(&escalated), "{url}: an urgent ticket has an hour");
        engine.run_due_jobs(now + Duration::minutes(70)).await.unwrap();
        assert!(inbox(&app, &who["service_manager1"]).await.contains(&escalated), "{url}: response SLA missed");

        // A low-priority ticket has a day; starting work in time voids its response timer.
        let (_, low) = call(&app, create("ticket", json!({"subject": "咨询发票", "priority": "low"})), agent).await;
        call(&app, act("ticket", &id_of(&low), "start"), agent).await;

        // Urgent tickets must be resolved within 4 hours, or they go to the manager.
        call(&app, act("ticket", &id, "start"), agent).await;
        engine.run_due_jobs(now + Duration::hours(5)).await.unwrap();
        let (_, record) = call(&app, get("ticket", &id), Some(&who["service_manager1"])).await;
        assert_eq!(record["owner"], "service_manager1", "{url}: {record}");
        let (status, _) = call(&app, get("ticket", &id), agent).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{url}: no longer the agent's");
        let response_escalations = inbox(&app, &who["service_manager1"]).await.iter().filter(|t| **t == escalated).count();
        assert_eq!(response_escalations, 1, "{url}: the low-priority ticket was started in time");

        let manager = Some(who["service_manager1"].as_str());
        let (status, _) = call(&app, act("ticket", &id, "resolve"), manager).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: a resolution is required");
        let version = record["version"].as_i64().unwrap();
        call(&app, patch("ticket", &id, version, json!({"resolution": "更换电源模块"})), manager).await;
        let (status, _) = call(&app, act("ticket", &id, "resolve"), manager).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        engine.run_due_jobs(now + Duration::days(6)).await.unwrap();
        let (_, record) = call(&app, get("ticket", &id), manager).await;
        assert_eq!(record["data"]["status"], "resolved", "{url}");
        engine.run_due_jobs(now + Duration::days(8)).await.unwrap();
        let (_, record) = call(&app, get("ticket", &id), manager).await;
        assert_eq!((record["data"]["status"].as_str(), record["updated_by"].as_str()), (Some("closed"), Some("system")), "{url}: {record}");
    }
}

#[actix_web::test]
async fn a_scheduled_timer_survives_a_restart_and_fires_once_with_two_servers() {
    let dir = std::env::temp_dir().join(format!("tessera-timers-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut urls = vec![format!("sqlite://{}/timers.db", dir.display())];
    urls.extend(databases().await.into_iter().filter(|u| u.starts_with("postgres")));
    for url in urls {
        let now = Utc::now();
        let (engine, _) = crm(&url).await;
        let who = people(&engine).await;
        let app = start(engine.clone()).await;
        let (_, ticket) = call(&app, create("ticket", json!({"subject": "网关掉线", "priority": "high"})), Some(&who["agent1"])).await;
        assert_eq!(ticket["data"]["status"], "new", "{url}: {ticket}");
        let timers: Vec<(String, String)> =
            engine.pending_jobs("crm").await.unwrap().into_iter().filter(|(key, _)| key.starts_with("timer:")).collect();
        assert_eq!(timers.len(), 1, "{url}: {timers:?}");
        assert!(timers[0].0.ends_with(":response_sla"), "{url}: {timers:?}");
        drop(app);
        engine.close().await.unwrap();

        // Two servers start on the same database; the timer is still there and fires once.
        let (one, _) = crm(&url).await;
        let (two, _) = crm(&url).await;
        let later = now + Duration::hours(5);
        let (a, b) = tokio::join!(one.run_due_jobs(later), two.run_due_jobs(later));
        a.unwrap();
        b.unwrap();
        one.run_due_jobs(later).await.unwrap();
        let token = one.login("service_manager1", "demo").await.unwrap().token;
        let app = start(one.clone()).await;
        let escalations = inbox(&app, &token).await.iter().filter(|t| *t == "工单超过响应时限（SLA）").count();
        assert_eq!(escalations, 1, "{url}");
        assert!(one.pending_jobs("crm").await.unwrap().iter().all(|(key, _)| !key.starts_with("timer:")), "{url}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A lab app with one flow over its `task` form, reviewed in `review_state` by `approver`.
fn flow_app(dir: &std::path::Path, review_state: &str, approver: &str) {
    let steps = json!([{"id": "check", "label": "Check", "approvers": [{"user": approver}]}]);
    flow_app_with(dir, review_state, steps, None);
}

/// A lab app with one flow over its `task` form: approval `steps` in `review_state`, and the
/// flow's `upgrade` when given.
fn flow_app_with(dir: &std::path::Path, review_state: &str, steps: Value, upgrade: Option<Value>) {
    let mut flow = json!({
        "$schema": "../../../schemas/flow.schema.json",
        "label": "Task review",
        "form": "task",
        "states": [
            {"id": "open", "label": "Open", "initial": true},
            {"id": review_state, "label": "Review", "approval": {"steps": steps, "approved": "done"}},
            {"id": "done", "label": "Done", "terminal": true}
        ],
        "transitions": [{"action": "submit", "label": "Submit", "from": ["open"], "to": review_state}]
    });
    if let Some(upgrade) = upgrade {
        flow["upgrade"] = upgrade;
    }
    e2e::lab_with_task_flow(dir, &flow);
}

#[actix_web::test]
async fn a_record_in_flight_keeps_its_flow_version_until_it_reaches_a_state_of_the_new_one() {
    let dir = std::env::temp_dir().join(format!("tessera-flowver-{}", uuid::Uuid::now_v7().simple()));
    let db = format!("sqlite://{}/v.db", dir.display());
    let mut urls = vec![db];
    urls.extend(databases().await.into_iter().filter(|u| u.starts_with("postgres")));
    for url in urls {
        let app_dir = dir.join(format!("app-{}", uuid::Uuid::now_v7().simple()));
        flow_app(&app_dir, "review", "u2");
        let open = |url: String, dir: std::path::PathBuf| async move {
            let engine = Engine::open(&url, &[dir]).await.expect("opens");
            engine.seed("lab", "users").await.ok();
            let u1 = engine.login("u1", "pw").await.unwrap().token;
            let u2 = engine.login("u2", "pw").await.unwrap().token;
            let u3 = engine.login("u3", "pw").await.unwrap().token;
            (engine, u1, u2, u3)
        };
        let (engine, u1, _, _) = open(url.clone(), app_dir.clone()).await;
        let app = start(engine.clone()).await;
        let task =
            |subject: &str| TestRequest::post().uri("/api/apps/lab/forms/task/records").set_json(json!({"data": {"subject": subject}}));
        let flow_act = |id: &str, action: &str| TestRequest::post().uri(&format!("/api/apps/lab/forms/task/records/{id}/actions/{action}"));
        let (_, old) = call(&app, task("started under v1"), Some(&u1)).await;
        let old = id_of(&old);
        let (status, moved) = call(&app, flow_act(&old, "submit"), Some(&u1)).await;
        assert_eq!((status, moved["flow"]["state"].as_str()), (StatusCode::OK, Some("review")), "{url}: {moved}");
        drop(app);
        engine.close().await.unwrap();

        // Version 2 renames the review state and gives it another approver.
        flow_app(&app_dir, "checking", "u3");
        let (engine, u1, u2, u3) = open(url.clone(), app_dir.clone()).await;
        let app = start(engine.clone()).await;
        let (_, view) = call(&app, TestRequest::get().uri(&format!("/api/apps/lab/forms/task/records/{old}/actions")), Some(&u2)).await;
        assert_eq!((view["state"].as_str(), action_names(&view).contains(&"approve")), (Some("review"), true), "{url}: {view}");
        let (status, done) = call(&app, flow_act(&old, "approve"), Some(&u2)).await;
        assert_eq!((status, done["flow"]["state"].as_str()), (StatusCode::OK, Some("done")), "{url}: {done}");
        // New records follow version 2.
        let (_, new) = call(&app, task("started under v2"), Some(&u1)).await;
        let (_, moved) = call(&app, flow_act(&id_of(&new), "submit"), Some(&u1)).await;
        assert_eq!(
            (moved["flow"]["state"].as_str(), moved["flow"]["approval"]["waiting"].clone()),
            (Some("checking"), json!(["u3"])),
            "{url}"
        );
        let (status, _) = call(&app, flow_act(&id_of(&new), "approve"), Some(&u3)).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        engine.close().await.unwrap();
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[actix_web::test]
async fn a_step_added_in_front_does_not_take_the_decisions_of_the_step_in_flight() {
    // Before: progress was a step position; with a step added in front, u2's approval under v1
    // was recorded for the new first step and u2 was asked again for their own step.
    let dir = std::env::temp_dir().join(format!("tessera-flowstep-{}", uuid::Uuid::now_v7().simple()));
    let mut urls = vec![format!("sqlite://{}/v.db", dir.display())];
    urls.extend(databases().await.into_iter().filter(|u| u.starts_with("postgres")));
    let step = |id: &str, user: &str| json!({"id": id, "label": id, "approvers": [{"user": user}]});
    for url in urls {
        let app_dir = dir.join(format!("app-{}", uuid::Uuid::now_v7().simple()));
        flow_app_with(&app_dir, "review", json!([step("check", "u2")]), None);
        let open = |url: String, dir: std::path::PathBuf| async move {
            let engine = Engine::open(&url, &[dir]).await.expect("opens");
            engine.seed("lab", "users").await.ok();
            let token = |name: &'static str| {
                let engine = engine.clone();
                async move { engine.login(name, "pw").await.unwrap().token }
            };
            let tokens = [token("u1").await, token("u2").await, token("u3").await];
            (engine, tokens)
        };
        let task = || TestRequest::post().uri("/api/apps/lab/forms/task/records").set_json(json!({"data": {"subject": "in flight"}}));
        let flow_act = |id: &str, action: &str| TestRequest::post().uri(&format!("/api/apps/lab/forms/task/records/{id}/actions/{action}"));
        let (engine, [u1, _, _]) = open(url.clone(), app_dir.clone()).await;
        let app = start(engine.clone()).await;
        let mut in_flight = Vec::new();
        for _ in 0..2 {
            let (_, record) = call(&app, task(), Some(&u1)).await;
            call(&app, flow_act(&id_of(&record), "submit"), Some(&u1)).await;
            in_flight.push(id_of(&record));
        }
        drop(app);
        engine.close().await.unwrap();

        // v2 adds a step in front of `check` and one after, and declares no upgrade: the approval
        // under way finishes on v1, decided by u2 alone.
        flow_app_with(&app_dir, "review", json!([step("intake", "u3"), step("check", "u2"), step("audit", "u3")]), None);
        let (engine, [_, u2, u3]) = open(url.clone(), app_dir.clone()).await;
        let app = start(engine.clone()).await;
        let (status, done) = call(&app, flow_act(&in_flight[0], "approve"), Some(&u2)).await;
        assert_eq!((status, done["flow"]["state"].as_str()), (StatusCode::OK, Some("done")), "{url}: {done}");
        let decision = done["flow"]["log"].as_array().unwrap().iter().find(|l| l["action"] == "approve").cloned().unwrap();
        assert_eq!(decision["step"], "check", "{url}: {done}");
        let (_, tasks) = call(&app, TestRequest::get().uri("/api/tasks"), Some(&u3)).await;
        assert_eq!(tasks["items"], json!([]), "{url}: u3 has nothing to decide on v1's approval");
        drop(app);
        engine.close().await.unwrap();

        // v3 declares how v1 maps (same step ids): the other approval continues at `check`, and
        // the new `audit` step after it is asked.
        let steps = json!([step("intake", "u3"), step("check", "u2"), step("audit", "u3")]);
        flow_app_with(&app_dir, "review", steps, Some(json!({"steps": {"check": "check"}})));
        let (engine, [_, u2, u3]) = open(url.clone(), app_dir.clone()).await;
        let app = start(engine.clone()).await;
        let (status, moved) = call(&app, flow_act(&in_flight[1], "approve"), Some(&u2)).await;
        assert_eq!(status, StatusCode::OK, "{url}: {moved}");
        assert_eq!(
            (moved["flow"]["approval"]["step"].as_str(), moved["flow"]["approval"]["waiting"].clone()),
            (Some("audit"), json!(["u3"]))
        );
        let (_, done) = call(&app, flow_act(&in_flight[1], "approve"), Some(&u3)).await;
        assert_eq!(done["flow"]["state"], "done", "{url}: {done}");
        engine.close().await.unwrap();
    }
    std::fs::remove_dir_all(&dir).ok();
}
