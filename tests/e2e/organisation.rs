//! The organisation administered through the API, on SQLite and PostgreSQL: users created and
//! granted roles per app, departments moved under them, work handed over, tokens that expire or
//! are limited, and admin routes closed to everyone else.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use e2e::{call, crm, databases, start};
use serde_json::{Value, json};

/// A request with a JSON body.
fn post(uri: &str, body: Value) -> TestRequest {
    TestRequest::post().uri(uri).set_json(body)
}

#[actix_web::test]
async fn a_new_rep_is_granted_moved_handed_over_and_deactivated() {
    for url in databases().await {
        let (engine, admin) = crm(&url).await;
        engine.seed_users("crm", "demo").await.unwrap();
        let app = start(engine).await;
        let admin = Some(admin.as_str());
        let ok = |status: StatusCode, body: &Value, what: &str| assert!(status.is_success(), "{url}: {what}: {status} {body}");

        // Two teams under Sales, each with a manager of its own.
        for (team, boss) in [("team_a", "boss_a"), ("team_b", "boss_b")] {
            let user = json!({"username": boss, "display_name": boss, "password": "Quiet-Harbour-81", "department": "sales",
                              "grants": {"crm": ["sales_manager"]}});
            let (status, body) = call(&app, post("/api/users", user), admin).await;
            ok(status, &body, "create a manager");
            let department = json!({"id": team, "name": team, "parent": "sales", "manager": boss});
            let (status, body) = call(&app, post("/api/departments", department), admin).await;
            assert_eq!(status, StatusCode::CREATED, "{url}: {body}");
        }
        // A circle is refused where it would start.
        let (status, body) =
            call(&app, TestRequest::patch().uri("/api/departments/sales").set_json(json!({"parent": "team_a"})), admin).await;
        assert_eq!((status, body["details"][0]["path"].as_str()), (StatusCode::BAD_REQUEST, Some("/parent")), "{url}: {body}");

        // A new rep: granted sales_rep in the CRM, told to choose a password at first login.
        let user = json!({"username": "newrep", "display_name": "New Rep", "department": "team_a", "grants": {"crm": ["sales_rep"]}});
        let (status, created) = call(&app, post("/api/users", user), admin).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {created}");
        assert_eq!(created["user"]["must_change_password"], json!(true), "{url}");
        let first = created["password"].as_str().expect("a generated password").to_owned();
        let (status, login) = call(&app, post("/api/auth/login", json!({"username": "newrep", "password": first})), None).await;
        ok(status, &login, "log in");
        let rep_session = login["token"].as_str().unwrap().to_owned();
        let rep = Some(rep_session.as_str());
        assert_eq!(login["user"]["grants"], json!({"crm": ["sales_rep"]}), "{url}");
        let (status, body) = call(&app, TestRequest::get().uri("/api/apps/crm/forms/account/records"), rep).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("password_change_required")), "{url}");
        let weak = json!({"current": first, "new": "newrep-2026"});
        let (status, body) = call(&app, post("/api/auth/password", weak), rep).await;
        assert_eq!(body["details"][0]["code"], json!("contains_username"), "{url}: {status} {body}");
        let (status, body) = call(&app, post("/api/auth/password", json!({"current": first, "new": "Amber-Kettle-63"})), rep).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{url}: {body}");

        // They see only their own accounts.
        let (status, body) = call(&app, post("/api/apps/crm/forms/account/records", json!({"data": {"name": "Newrep Co"}})), rep).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {body}");
        let account = body["id"].as_str().unwrap().to_owned();
        let (_, rep1) = call(&app, post("/api/auth/login", json!({"username": "rep1", "password": "demo"})), None).await;
        let rep1 = rep1["token"].as_str().map(str::to_owned);
        let (_, rep1_account) =
            call(&app, post("/api/apps/crm/forms/account/records", json!({"data": {"name": "Rep1 Co"}})), rep1.as_deref()).await;
        let (_, listed) = call(&app, TestRequest::get().uri("/api/apps/crm/forms/account/records"), rep).await;
        let ids: Vec<&str> = listed["items"].as_array().unwrap().iter().filter_map(|r| r["id"].as_str()).collect();
        assert_eq!(ids, [account.as_str()], "{url}: {listed} (rep1's is {})", rep1_account["id"]);

        // The manager chain follows the department: a quote in team_a waits for boss_a; after
        // the move to team_b, the next one waits for boss_b.
        let (_, product) = call(
            &app,
            post("/api/apps/crm/forms/product/records", json!({"data": {"code": "P-O", "name": "Org", "unit_price": 10}})),
            admin,
        )
        .await;
        let approver = |quote: String| {
            let app = &app;
            async move {
                let submit = post(&format!("/api/apps/crm/forms/quote/records/{quote}/actions/submit"), json!({}));
                let (status, body) = call(app, submit, rep).await;
                assert_eq!(status, StatusCode::OK, "submit: {body}");
                body["flow"]["approval"]["waiting"].clone()
            }
        };
        let quote = || {
            let items = json!([{"product": product["id"], "qty": 1, "unit_price": 10}]);
            let body = json!({"data": {"account": account, "items": items, "discount": 15}});
            let app = &app;
            async move {
                let (status, body) = call(app, post("/api/apps/crm/forms/quote/records", body), rep).await;
                assert_eq!(status, StatusCode::CREATED, "quote: {body}");
                body["id"].as_str().unwrap().to_owned()
            }
        };
        let first_quote = quote().await;
        assert_eq!(approver(first_quote.clone()).await, json!(["boss_a"]), "{url}");
        let (status, body) =
            call(&app, TestRequest::patch().uri("/api/users/newrep").set_json(json!({"department": "team_b"})), admin).await;
        ok(status, &body, "move");
        let second_quote = quote().await;
        assert_eq!(approver(second_quote.clone()).await, json!(["boss_b"]), "{url}");

        // A personal token of the rep, for the deactivation below.
        let (status, issued) = call(&app, post("/api/tokens", json!({"name": "sync"})), rep).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {issued}");
        let rep_token = issued["token"].as_str().unwrap().to_owned();
        let (status, _) = call(&app, TestRequest::get().uri("/api/auth/me"), Some(&rep_token)).await;
        assert_eq!(status, StatusCode::OK, "{url}");

        // boss_b leaves: the pending approval goes to the successor, through the flow.
        let (status, body) = call(&app, post("/api/users/boss_b/deactivate", json!({})), admin).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::CONFLICT, Some("open_work")), "{url}: {body}");
        assert_eq!(body["work"]["tasks"], json!(1), "{url}: {body}");
        let (status, body) = call(&app, post("/api/users/boss_b/deactivate", json!({"successor": "manager1"})), admin).await;
        ok(status, &body, "deactivate boss_b");
        let (_, flow) =
            call(&app, TestRequest::get().uri(&format!("/api/apps/crm/forms/quote/records/{second_quote}/actions")), admin).await;
        assert_eq!(flow["approval"]["waiting"], json!(["manager1"]), "{url}: {flow}");
        // The task moved by the flow's own transfer, in the record's flow log, and the summary
        // of the hand-over is in the audit log.
        let transfer =
            flow["log"].as_array().and_then(|log| log.iter().rev().find(|e| e["action"] == "transfer")).cloned().unwrap_or_default();
        assert_eq!(transfer["by"], json!("boss_b"), "{url}: {flow}");
        assert!(transfer["comment"].as_str().is_some_and(|c| c.contains("manager1")), "{url}: {flow}");
        let (_, audit) = call(&app, TestRequest::get().uri("/api/audit?form=user&record=boss_b&limit=5"), admin).await;
        let summary = audit["items"].as_array().unwrap().iter().find(|r| r["action"] == "user.handover").cloned().unwrap_or_default();
        let after = &summary["after"];
        assert_eq!((after["to"].as_str(), after["moved"]["tasks"].as_u64()), (Some("manager1"), Some(1)), "{url}: {audit}");

        // The rep leaves: preview, then everything to rep1; their token fails at once.
        let (_, preview) = call(&app, TestRequest::get().uri("/api/users/newrep/handover"), admin).await;
        let owned = |work: &Value, form: &str| {
            work["forms"].as_array().unwrap().iter().find(|f| f["form"] == form).map_or(0, |f| f["records"].as_u64().unwrap())
        };
        assert_eq!((owned(&preview, "account"), owned(&preview, "quote")), (1, 2), "{url}: {preview}");
        let (status, body) = call(&app, post("/api/users/newrep/deactivate", json!({"successor": "rep1"})), admin).await;
        ok(status, &body, "deactivate newrep");
        assert_eq!(body["active"], json!(false), "{url}");
        for token in [rep_token.as_str(), rep_session.as_str()] {
            let (status, _) = call(&app, TestRequest::get().uri("/api/auth/me"), Some(token)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{url}: a deactivated user's token still works");
        }
        let (status, _) = call(&app, post("/api/auth/login", json!({"username": "newrep", "password": "Amber-Kettle-63"})), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{url}");
        let (_, record) = call(&app, TestRequest::get().uri(&format!("/api/apps/crm/forms/account/records/{account}")), admin).await;
        assert_eq!(record["owner"], json!("rep1"), "{url}: {record}");
        let (_, history) =
            call(&app, TestRequest::get().uri(&format!("/api/apps/crm/forms/account/records/{account}/history")), admin).await;
        let last = history["items"].as_array().unwrap().last().unwrap().clone();
        assert_eq!((last["op"].as_str(), last["changed_by"].as_str()), (Some("handover"), Some("admin")), "{url}: {history}");
        let (_, audit) = call(&app, TestRequest::get().uri(&format!("/api/audit?record={account}&limit=5")), admin).await;
        assert_eq!(audit["items"][0]["action"], json!("handover"), "{url}: {audit}");
        let (_, audit) = call(&app, TestRequest::get().uri("/api/audit?form=user&record=newrep"), admin).await;
        let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().filter_map(|r| r["action"].as_str()).collect();
        assert_eq!(actions, ["user.deactivate", "user.handover", "user.update", "user.create"], "{url}: {audit}");
        let (_, verified) = call(&app, TestRequest::get().uri("/api/audit/verify"), admin).await;
        assert_eq!(verified["ok"], json!(true), "{url}: {verified}");
        let (_, preview) = call(&app, TestRequest::get().uri("/api/users/newrep/handover"), admin).await;
        assert_eq!(preview, json!({"forms": [], "tasks": 0, "timers": 0}), "{url}");
    }
}

#[actix_web::test]
async fn tokens_expire_carry_their_service_accounts_role_and_can_be_limited_to_apps() {
    for url in databases().await {
        let (engine, admin_token) = crm(&url).await;
        engine.seed("crm", "demo").await.unwrap();
        let app = start(engine).await;
        let admin = Some(admin_token.as_str());
        let accounts = |token: String| {
            let app = &app;
            async move {
                let (status, body) =
                    call(app, TestRequest::get().uri("/api/apps/crm/forms/account/records?count=true"), Some(&token)).await;
                (status, body["total"]["records"].as_u64())
            }
        };
        let all = accounts(admin_token.clone()).await.1.unwrap();
        assert!(all > 0, "{url}");

        // A service account with the executive's role reads every account; as a sales rep it
        // would own none and see none.
        let erp = json!({"username": "erp", "display_name": "ERP sync", "kind": "service", "grants": {"crm": ["executive"]}});
        let (status, body) = call(&app, post("/api/users", erp), admin).await;
        assert_eq!((status, body.get("password")), (StatusCode::CREATED, None), "{url}: {body}");
        let (status, body) = call(&app, post("/api/auth/login", json!({"username": "erp", "password": ""})), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{url}: a service account logs in: {body}");
        let (_, issued) = call(&app, post("/api/tokens", json!({"name": "erp", "username": "erp"})), admin).await;
        let erp_token = issued["token"].as_str().unwrap().to_owned();
        assert_eq!(accounts(erp_token.clone()).await, (StatusCode::OK, Some(all)), "{url}");
        let regrant = TestRequest::put().uri("/api/users/erp/grants/crm").set_json(json!({"roles": ["sales_rep"]}));
        let (status, body) = call(&app, regrant, admin).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        assert_eq!(accounts(erp_token.clone()).await, (StatusCode::OK, Some(0)), "{url}");
        let (_, listed) = call(&app, TestRequest::get().uri("/api/tokens"), admin).await;
        let used = listed["items"].as_array().unwrap().iter().find(|t| t["username"] == "erp").unwrap().clone();
        assert!(used["last_used_at"].is_string(), "{url}: {used}");
        let undeclared = TestRequest::put().uri("/api/users/erp/grants/crm").set_json(json!({"roles": ["pilot"]}));
        let (status, body) = call(&app, undeclared, admin).await;
        assert_eq!((status, body["details"][0]["path"].as_str()), (StatusCode::BAD_REQUEST, Some("/roles/0")), "{url}: {body}");

        // A token may be limited only to apps that exist.
        let login = |username: &'static str| {
            let app = &app;
            async move {
                let (_, body) = call(app, post("/api/auth/login", json!({"username": username, "password": "demo"})), None).await;
                body["token"].as_str().unwrap().to_owned()
            }
        };
        let rep1 = login("rep1").await;
        let mine = accounts(rep1.clone()).await.1.unwrap();
        assert!(mine > 0, "{url}");
        let (status, body) = call(&app, post("/api/tokens", json!({"name": "x", "apps": ["nope"]})), Some(&rep1)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");

        // A token past its expiry stops working (within the session cache's two seconds).
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
        let (status, issued) = call(&app, post("/api/tokens", json!({"name": "brief", "expires_at": soon})), Some(&rep1)).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {issued}");
        let brief = issued["token"].as_str().unwrap().to_owned();
        assert_eq!(accounts(brief.clone()).await, (StatusCode::OK, Some(mine)), "{url}");
        tokio::time::sleep(std::time::Duration::from_millis(4_500)).await;
        assert_eq!(accounts(brief.clone()).await.0, StatusCode::UNAUTHORIZED, "{url}: an expired token works");
        // A revoked one at once.
        let (_, issued) = call(&app, post("/api/tokens", json!({"name": "revoked"})), Some(&rep1)).await;
        let revoked = issued["token"].as_str().unwrap().to_owned();
        assert_eq!(accounts(revoked.clone()).await.0, StatusCode::OK, "{url}");
        let id = issued["item"]["id"].as_str().unwrap();
        let (status, _) = call(&app, TestRequest::delete().uri(&format!("/api/tokens/{id}")), Some(&rep1)).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{url}");
        assert_eq!(accounts(revoked).await.0, StatusCode::UNAUTHORIZED, "{url}: a revoked token works");

        // A rep is refused every admin route (and sees no one's secrets on the others).
        let admin_routes = [
            TestRequest::get().uri("/api/users/rep2"),
            post("/api/users", json!({"username": "x1", "display_name": "X"})),
            TestRequest::patch().uri("/api/users/rep2").set_json(json!({"display_name": "X"})),
            TestRequest::put().uri("/api/users/rep2/grants/crm").set_json(json!({"roles": []})),
            post("/api/users/rep2/password", json!({})),
            post("/api/users/rep2/deactivate", json!({})),
            post("/api/users/rep2/activate", json!({})),
            TestRequest::get().uri("/api/users/rep2/handover"),
            post("/api/users/rep2/handover", json!({"to": "rep1"})),
            post("/api/departments", json!({"id": "x", "name": "X"})),
            TestRequest::patch().uri("/api/departments/sales").set_json(json!({"name": "X"})),
            TestRequest::delete().uri("/api/departments/it"),
            post("/api/tokens", json!({"name": "x", "username": "rep2"})),
            TestRequest::get().uri("/api/audit"),
            TestRequest::get().uri("/api/audit/verify"),
            TestRequest::post()
                .uri("/api/users/import?dry_run=true")
                .insert_header(("content-type", "text/csv"))
                .set_payload("username\nx2\n"),
        ];
        for (i, req) in admin_routes.into_iter().enumerate() {
            let (status, body) = call(&app, req, Some(&rep1)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{url}: admin route {i}: {body}");
        }
        let (_, directory) = call(&app, TestRequest::get().uri("/api/users"), Some(&rep1)).await;
        assert!(directory["items"][0].get("grants").is_none(), "{url}: {directory}");
        let (_, tokens) = call(&app, TestRequest::get().uri("/api/tokens"), Some(&rep1)).await;
        assert!(tokens["items"].as_array().unwrap().iter().all(|t| t["username"] == "rep1"), "{url}: {tokens}");
    }
}

#[actix_web::test]
async fn users_are_imported_from_a_spreadsheet_with_a_dry_run_and_row_errors() {
    for url in databases().await {
        let (engine, admin) = crm(&url).await;
        engine.seed_users("crm", "demo").await.unwrap();
        let app = start(engine).await;
        let admin = Some(admin.as_str());
        let csv = "username,display_name,department,grants,password\n\
                   zhao,赵敏,sales_east,crm:sales_rep,\n\
                   qian,钱进,nowhere,crm:sales_rep,\n\
                   sun,孙悦,sales_south,crm:pilot,\n\
                   li,李雷,sales_east,,li123456\n\
                   zhao,赵敏,sales_east,,\n";
        let upload = |dry_run: bool| {
            TestRequest::post()
                .uri(&format!("/api/users/import?dry_run={dry_run}"))
                .insert_header(("content-type", "text/csv"))
                .set_payload(csv)
        };
        let (status, dry) = call(&app, upload(true), admin).await;
        assert_eq!(status, StatusCode::OK, "{url}: {dry}");
        let problems: Vec<(u64, &str)> =
            dry["errors"].as_array().unwrap().iter().map(|e| (e["row"].as_u64().unwrap(), e["column"].as_str().unwrap_or(""))).collect();
        assert_eq!(problems, [(3, "department"), (4, "grants"), (5, "password"), (6, "username")], "{url}: {dry}");
        assert_eq!((dry["created"].as_u64(), dry["committed"].as_bool()), (Some(1), Some(false)), "{url}: {dry}");
        let (_, users) = call(&app, TestRequest::get().uri("/api/users/zhao"), admin).await;
        assert_eq!(users["error"], json!("not_found"), "{url}: a dry run created a user");

        let (status, done) = call(&app, upload(false), admin).await;
        assert_eq!((status, done["created"].as_u64(), done["failed"].as_u64()), (StatusCode::OK, Some(1), Some(4)), "{url}: {done}");
        let password = done["passwords"][0]["password"].as_str().unwrap();
        let (status, login) = call(&app, post("/api/auth/login", json!({"username": "zhao", "password": password})), None).await;
        assert_eq!(status, StatusCode::OK, "{url}: {login}");
        assert_eq!(
            (login["user"]["must_change_password"].as_bool(), &login["user"]["grants"]),
            (Some(true), &json!({"crm": ["sales_rep"]}))
        );

        // Not even a user who must change their password first; a rep is refused as one of the
        // admin routes (`tokens_expire_…`).
        let (status, body) = call(&app, upload(false).uri("/api/users/import"), Some(login["token"].as_str().unwrap())).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{url}: {body}");
    }
}

#[actix_web::test]
async fn a_token_limited_to_one_app_reaches_nothing_in_another_and_mints_no_tokens() {
    for url in databases().await {
        let apps = [e2e::repo().join("apps/crm"), e2e::repo().join("tests/fixtures/lab")];
        let engine = engine::Engine::open_with(&url, &apps, &e2e::settings()).await.unwrap();
        engine.ensure_admin(Some("admin-pass")).await.unwrap();
        engine.seed_users("crm", "demo").await.unwrap();
        let admin = engine.login("admin", "admin-pass").await.unwrap().token;
        let rep1 = engine.login("rep1", "demo").await.unwrap().token;
        let app = start(engine).await;
        let (admin, rep1) = (Some(admin.as_str()), Some(rep1.as_str()));

        // rep1 reads the CRM with a session, not with a token limited to the lab.
        let (status, issued) =
            call(&app, post("/api/tokens", json!({"name": "lab only", "username": "rep1", "apps": ["lab"]})), admin).await;
        assert_eq!(status, StatusCode::CREATED, "{url}: {issued}");
        let limited = issued["token"].as_str().unwrap().to_owned();
        let limited = Some(limited.as_str());
        let (status, body) = call(&app, TestRequest::get().uri("/api/apps/crm/forms/account/records"), rep1).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        let (status, body) = call(&app, TestRequest::get().uri("/api/apps/crm/forms/account/records"), limited).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{url}: the lab token reads the CRM: {body}");
        let (status, body) = call(&app, post("/api/tokens", json!({"name": "wider"})), limited).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{url}: a limited token minted another: {body}");
        let (_, me) = call(&app, TestRequest::get().uri("/api/auth/me"), limited).await;
        assert_eq!((&me["apps"], &me["grants"]), (&json!(["lab"]), &json!({})), "{url}: {me}");

        // A new password is not the one an admin chose; nobody is called `system`.
        let (status, body) = call(&app, post("/api/users", json!({"username": "system", "display_name": "S"})), admin).await;
        assert_eq!((status, body["details"][0]["path"].as_str()), (StatusCode::BAD_REQUEST, Some("/username")), "{url}: {body}");
        let user = json!({"username": "temp", "display_name": "Temp", "password": "Granite-Owl-19"});
        call(&app, post("/api/users", user), admin).await;
        let (_, login) = call(&app, post("/api/auth/login", json!({"username": "temp", "password": "Granite-Owl-19"})), None).await;
        let temp = login["token"].as_str().unwrap().to_owned();
        let same = json!({"current": "Granite-Owl-19", "new": "Granite-Owl-19"});
        let (status, body) = call(&app, post("/api/auth/password", same), Some(&temp)).await;
        assert_eq!((status, body["details"][0]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("same_password")), "{url}");

        // Deactivation revokes the user's tokens: reactivating them gives none back.
        let (_, issued) = call(&app, post("/api/tokens", json!({"name": "temp's", "username": "temp"})), admin).await;
        let temps = issued["token"].as_str().unwrap().to_owned();
        let (status, body) = call(&app, post("/api/users/temp/deactivate", json!({})), admin).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        call(&app, post("/api/users/temp/activate", json!({})), admin).await;
        let (status, _) = call(&app, TestRequest::get().uri("/api/auth/me"), Some(&temps)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{url}: a reactivated user's old token works");
    }
}

#[actix_web::test]
async fn an_admin_reset_forces_a_new_password_that_is_not_a_common_one_and_a_reactivated_user_signs_in() {
    for url in databases().await {
        let (engine, admin_token) = crm(&url).await;
        engine.seed("crm", "demo").await.unwrap();
        let app = start(engine).await;
        let admin = Some(admin_token.as_str());
        let login = |password: String| {
            let app = &app;
            async move { call(app, post("/api/auth/login", json!({"username": "rep2", "password": password})), None).await }
        };
        let (status, reset) = call(&app, post("/api/users/rep2/password", json!({})), admin).await;
        assert_eq!(status, StatusCode::OK, "{url}: {reset}");
        let given = reset["password"].as_str().expect("a generated password").to_owned();
        assert_eq!(login("demo".into()).await.0, StatusCode::UNAUTHORIZED, "{url}: the old password still works");
        let (status, session) = login(given.clone()).await;
        assert_eq!((status, session["user"]["must_change_password"].as_bool()), (StatusCode::OK, Some(true)), "{url}: {session}");
        let rep2 = Some(session["token"].as_str().unwrap());
        let (_, body) = call(&app, post("/api/auth/password", json!({"current": given, "new": "password123"})), rep2).await;
        assert_eq!(body["details"][0]["code"], json!("common_password"), "{url}: {body}");
        let (status, body) = call(&app, post("/api/auth/password", json!({"current": given, "new": "Copper-Lantern-27"})), rep2).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{url}: {body}");

        // Deactivated, they cannot sign in; reactivated, they can, with the password they chose.
        let (status, body) = call(&app, post("/api/users/rep2/deactivate", json!({"successor": "rep1"})), admin).await;
        assert_eq!(status, StatusCode::OK, "{url}: {body}");
        assert_eq!(login("Copper-Lantern-27".into()).await.0, StatusCode::UNAUTHORIZED, "{url}");
        let (status, body) = call(&app, post("/api/users/rep2/activate", json!({})), admin).await;
        assert_eq!((status, body["active"].as_bool()), (StatusCode::OK, Some(true)), "{url}: {body}");
        let (status, session) = login("Copper-Lantern-27".into()).await;
        assert_eq!((status, session["user"]["must_change_password"].as_bool()), (StatusCode::OK, Some(false)), "{url}: {session}");
    }
}
