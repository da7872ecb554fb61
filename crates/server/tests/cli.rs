//! The `tessera` command line as a user runs it: exit codes and messages.

mod common;

use common::{empty_postgres, repo, tessera};

#[test]
fn check_passes_on_the_crm_and_fails_with_file_and_pointer_on_a_broken_copy() {
    let (code, out) = tessera(&["check", "apps/crm"]);
    assert_eq!(code, 0, "{out}");

    let copy = std::env::temp_dir().join(format!("tessera-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    std::fs::create_dir_all(copy.join("forms")).unwrap();
    std::fs::write(
        copy.join("app.json"),
        r#"{"$schema": "../../schemas/app.schema.json", "format_version": 1, "id": "shop", "name": "Shop", "version": "1",
            "navigation": [{"label": "Sales", "forms": ["order", "invoice"]}]}"#,
    )
    .unwrap();
    std::fs::write(
        copy.join("forms/order.json"),
        r#"{"$schema": "../../../schemas/form.schema.json", "label": "Order", "fields": [
            {"id": "customer", "type": "link", "label": "Customer", "form": "customer"},
            {"id": "qty", "type": "integer", "label": "Qty", "min": "one"}],
            "tabs": [{"id": "more", "label": "More"}],
            "layout": [{"label": "Main", "fields": ["qty"], "tab": "main", "columns": 2},
                       {"label": "Who", "fields": ["customer"], "columns": 5}]}"#,
    )
    .unwrap();
    let (code, out) = tessera(&["check", copy.to_str().unwrap()]);
    std::fs::remove_dir_all(&copy).ok();
    assert_eq!(code, 1, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    let shown = |suffix: &str| lines.iter().any(|l| l.ends_with(suffix));
    assert!(shown("app.json: /navigation/0/forms/1: no form `invoice`"), "{out}");
    assert!(lines.iter().any(|l| l.contains("forms/order.json: /fields/1/min: ")), "{out}");
    assert!(lines.iter().any(|l| l.contains("forms/order.json: /layout/1/columns: ")), "{out}");
    assert!(out.contains("problem(s)"), "{out}");
}

#[test]
fn check_reports_malformed_json_with_line_and_column() {
    let copy = std::env::temp_dir().join(format!("tessera-cli-json-{}", std::process::id()));
    std::fs::create_dir_all(&copy).unwrap();
    std::fs::write(copy.join("app.json"), "{\n  \"id\": \"x\",\n  oops\n}").unwrap();
    let (code, out) = tessera(&["check", copy.to_str().unwrap()]);
    std::fs::remove_dir_all(&copy).ok();
    assert_eq!(code, 1);
    assert!(out.contains("app.json: /: not valid JSON at line 3 column 3"), "{out}");
}

#[actix_web::test]
async fn audit_verify_holds_on_an_untouched_database_and_names_an_edited_row() {
    use sea_orm::{ConnectionTrait, Database};

    let dir = std::env::temp_dir().join(format!("tessera-audit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}/audit.db", dir.display());
    let engine = engine::Engine::open(&url, &[repo().join("apps/crm")]).await.unwrap();
    engine.ensure_admin(Some("admin-pass")).await.unwrap();
    let admin = engine.login("admin", "admin-pass").await.unwrap().user;
    let (crm, account) = (engine::AppId::parse("crm").unwrap(), engine::FormId::parse("account").unwrap());
    for name in ["Audit One", "Audit Two", "Audit Three"] {
        engine.create(&admin, &crm, &account, serde_json::json!({"name": name})).await.unwrap();
    }
    engine.close().await.unwrap();

    // The app's install, then the three creates.
    let (code, out) = tessera(&["audit", "verify", "--db", &url]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ok: audit chain of 4 row(s) holds"), "{out}");

    // A row no longer keeps a copy of the previous row's hash; rows of earlier releases, which
    // do, verify as they did.
    let db = Database::connect(&url).await.unwrap();
    let copies = db.query_one_raw(sea_orm::Statement::from_string(
        db.get_database_backend(),
        "SELECT COUNT(*) AS n FROM audit_log WHERE prev_hash <> ''",
    ));
    assert_eq!(copies.await.unwrap().unwrap().try_get::<i64>("", "n").unwrap(), 0);
    let copy_previous = "UPDATE audit_log SET prev_hash = COALESCE((SELECT p.hash FROM audit_log p WHERE p.seq = audit_log.seq - 1), '')";
    db.execute_unprepared(copy_previous).await.unwrap();
    let (code, out) = tessera(&["audit", "verify", "--db", &url]);
    assert_eq!((code, out.contains("ok: audit chain of 4 row(s) holds")), (0, true), "{out}");

    db.execute_unprepared("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2").await.unwrap();
    let (code, out) = tessera(&["audit", "verify", "--db", &url]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("audit row 2: its content does not match its hash (edited, or the row before it was)"), "{out}");

    db.execute_unprepared("UPDATE audit_log SET actor = 'admin' WHERE seq = 2").await.unwrap();
    db.execute_unprepared("DELETE FROM audit_log WHERE seq = 2").await.unwrap();
    let (code, out) = tessera(&["audit", "verify", "--db", &url]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("audit row 2 is missing"), "{out}");

    // A command that only reads changes nothing: a database this build would migrate is named
    // and left as it was, and a mistyped path creates no database.
    db.execute_unprepared("DELETE FROM schema_migrations WHERE version = (SELECT MAX(version) FROM schema_migrations)").await.unwrap();
    let versions = "SELECT COUNT(*) AS n FROM schema_migrations";
    let count = |row: Option<sea_orm::QueryResult>| row.unwrap().try_get::<i64>("", "n").unwrap();
    let before = count(db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), versions)).await.unwrap());
    let (code, out) = tessera(&["audit", "verify", "--db", &url]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("start `tessera serve` on it once"), "{out}");
    let after = count(db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), versions)).await.unwrap());
    assert_eq!(before, after, "verify migrated the database");
    let missing = dir.join("typo.db");
    let (code, out) = tessera(&["audit", "verify", "--db", &format!("sqlite://{}", missing.display())]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no database at") && !missing.exists(), "{out}");
    db.close().await.ok();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn check_names_an_unreachable_state_and_a_dead_end_of_a_flow() {
    let copy = std::env::temp_dir().join(format!("tessera-cli-flow-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    for dir in ["forms", "flows"] {
        std::fs::create_dir_all(copy.join(dir)).unwrap();
    }
    std::fs::write(
        copy.join("app.json"),
        r#"{"$schema": "../../schemas/app.schema.json", "format_version": 1, "id": "desk", "name": "Desk", "version": "1"}"#,
    )
    .unwrap();
    std::fs::write(
        copy.join("forms/request.json"),
        r#"{"$schema": "../../../schemas/form.schema.json", "label": "Request", "fields": [{"id": "subject", "type": "text", "label": "Subject"}]}"#,
    )
    .unwrap();
    std::fs::write(
        copy.join("flows/request.json"),
        r#"{"$schema": "../../../schemas/flow.schema.json", "label": "Request", "form": "request",
            "states": [{"id": "open", "label": "Open", "initial": true}, {"id": "waiting", "label": "Waiting"},
                       {"id": "archived", "label": "Archived"}, {"id": "done", "label": "Done", "terminal": true}],
            "transitions": [{"action": "wait", "label": "Wait", "from": ["open"], "to": "waiting"},
                            {"action": "close", "label": "Close", "from": ["open"], "to": "done"}]}"#,
    )
    .unwrap();
    let (code, out) = tessera(&["check", copy.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("flows/request.json: /states/1: state `waiting` is a dead end: no terminal state can be reached from it"),
        "{out}"
    );
    assert!(out.contains("flows/request.json: /states/2: state `archived` cannot be reached from the initial state `open`"), "{out}");

    // What only the app knows: a role nobody can hold, a user field the form lacks, a guard
    // reading a field the form does not have.
    std::fs::write(
        copy.join("flows/request.json"),
        r#"{"$schema": "../../../schemas/flow.schema.json", "label": "Request", "form": "request",
            "states": [{"id": "open", "label": "Open", "initial": true},
                       {"id": "review", "label": "Review", "approval": {"approved": "done", "steps": [
                           {"id": "chief", "label": "Chief", "approvers": [{"role": "chief"}, {"field": "reviewer"}], "mode": "any",
                            "editable": ["subjet"], "cc": ["role:board"]}]}},
                       {"id": "done", "label": "Done", "terminal": true}],
            "transitions": [{"action": "submit", "label": "Submit", "from": ["open"], "to": "review",
                             "guard": {"if": "record.subjet != ()", "message": "A subject first"}}]}"#,
    )
    .unwrap();
    let (code, out) = tessera(&["check", copy.to_str().unwrap()]);
    std::fs::remove_dir_all(&copy).ok();
    assert_eq!(code, 1, "{out}");
    for expected in [
        "flows/request.json: /states/1/approval/steps/0/approvers/0/role: `chief` is not a role of the app: the step would find no approver",
        "flows/request.json: /states/1/approval/steps/0/approvers/1/field: the form has no field `reviewer`",
        "flows/request.json: /transitions/0/guard/if: 1:8: the form has no field `subjet`",
        "flows/request.json: /states/1/approval/steps/0/editable/0: the form has no field `subjet`",
        "flows/request.json: /states/1/approval/steps/0/cc/0: no role `board` in app.json",
    ] {
        assert!(out.contains(expected), "{expected}\n{out}");
    }
}

#[actix_web::test]
async fn an_app_exports_byte_for_byte_and_its_bundle_installs_into_an_empty_database() {
    let dir = std::env::temp_dir().join(format!("tessera-bundle-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (first, second) = (format!("sqlite://{}/first.db", dir.display()), format!("sqlite://{}/second.db", dir.display()));
    engine::Engine::open(&format!("{first}?mode=rwc"), &[repo().join("apps/crm")]).await.unwrap().close().await.unwrap();

    // The installed app, written back as a folder, is the folder it came from, byte for byte.
    let folder = dir.join("crm");
    let (code, out) = tessera(&["app", "export", "crm", "--db", &first, "--out", folder.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(defs::AppFiles::read(&folder).0, defs::AppFiles::read(&repo().join("apps/crm")).0, "the export equals apps/crm");
    // And it is what `tessera fmt` writes: formatting it changes nothing.
    let (code, out) = tessera(&["fmt", folder.to_str().unwrap()]);
    assert_eq!((code, out.contains("formatted")), (0, false), "{out}");
    assert_eq!(defs::AppFiles::read(&folder).0, defs::AppFiles::read(&repo().join("apps/crm")).0, "fmt changed the export");

    // As a bundle into an empty database, SQLite's and PostgreSQL's: installed, and the same
    // files come out of it.
    let bundle = dir.join("crm-1.0.0.tpl");
    let (code, out) = tessera(&["app", "export", "crm", "--db", &first, "--out", bundle.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let mut empty = vec![(format!("{second}?mode=rwc"), second.clone())];
    empty.extend(empty_postgres().await.map(|url| (url.clone(), url)));
    for (create, open) in empty {
        let (code, out) = tessera(&["app", "import", bundle.to_str().unwrap(), "--db", &create]);
        assert_eq!(code, 0, "{open}: {out}");
        assert!(out.contains("installed crm: release 1"), "{open}: {out}");
        let again = dir.join("again");
        let _ = std::fs::remove_dir_all(&again);
        let (code, out) = tessera(&["app", "export", "crm", "--db", &open, "--out", again.to_str().unwrap()]);
        assert_eq!(code, 0, "{open}: {out}");
        assert_eq!(defs::AppFiles::read(&again).0, defs::AppFiles::read(&folder).0, "{open}");
    }
    // Each database gave the same files back, so one check and one run of the tests say it for both.
    let again = dir.join("again");
    let (code, out) = tessera(&["check", again.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = tessera(&["test", again.to_str().unwrap()]);
    assert_eq!(code, 0, "the app's scenario tests travel with it and pass: {out}");

    // A bundle is checked as it is, without unpacking it; a problem names the file inside.
    let (code, out) = tessera(&["check", bundle.to_str().unwrap()]);
    assert_eq!((code, out.trim()), (0, "ok: 1 app(s) checked"));
    let (mut files, _) = defs::AppFiles::read(&folder);
    let account = files.0.get_mut("forms/account.json").unwrap();
    *account = account.replacen("\"type\": \"text\"", "\"type\": \"txet\"", 1);
    let broken = dir.join("broken.tpl");
    std::fs::write(&broken, defs::Bundle::new("crm", "1.0.1", files).to_zip().unwrap()).unwrap();
    let (code, out) = tessera(&["check", broken.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("broken.tpl/forms/account.json: /fields/0/type: no field type `txet`"), "{out}");

    // A file that is not a bundle is refused with why.
    std::fs::write(dir.join("junk.tpl"), "junk").unwrap();
    let (code, out) = tessera(&["app", "import", dir.join("junk.tpl").to_str().unwrap(), "--db", &second]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not an app bundle"), "{out}");
    let (code, out) = tessera(&["check", dir.join("junk.tpl").to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not a readable bundle"), "{out}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_crm_scenarios_pass_and_one_fails_when_a_rule_is_taken_out() {
    let (code, out) = tessera(&["test", "apps/crm"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(" passed, 0 failed"), "{out}");

    // The lead scoring rule taken out (its hooks kept, scoring nothing): a scenario notices.
    let copy = std::env::temp_dir().join(format!("tessera-scenarios-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    defs::AppFiles::read(&repo().join("apps/crm")).0.write(&copy).unwrap();
    std::fs::write(copy.join("rules/lead_score.rhai"), "fn score(record, old, user) { 0 }\nfn sales_ready(record, old, user) {}\n")
        .unwrap();
    let (code, out) = tessera(&["test", copy.to_str().unwrap()]);
    std::fs::remove_dir_all(&copy).ok();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAILED") && out.contains("lead_conversion.json") && out.contains(".score is"), "{out}");
}

/// `tessera` with stdout, where the operator commands print what a script captures.
fn tessera_out(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera")).args(args).current_dir(repo()).output().expect("tessera runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

#[actix_web::test]
async fn operators_add_users_set_passwords_make_tokens_and_disable_users_before_anyone_logged_in() {
    let dir = std::env::temp_dir().join(format!("tessera-users-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite://{}/t.db", dir.display());
    engine::Engine::open(&format!("{db}?mode=rwc"), &[repo().join("apps/crm")]).await.unwrap().close().await.unwrap();

    let (code, password, err) = tessera_out(&["user", "add", "ops", "--name", "Ops", "--admin", "--db", &db]);
    assert_eq!(code, 0, "{err}");
    let password = password.trim().to_owned();
    assert!(password.len() >= 12, "a generated password on stdout: {password:?}");
    let (code, _, err) = tessera_out(&[
        "user",
        "add",
        "ana",
        "--department",
        "sales_east",
        "--grant",
        "crm:sales_rep",
        "--password",
        "Violet-Anchor-52",
        "--db",
        &db,
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = tessera_out(&["user", "add", "bob", "--grant", "crm:pilot", "--db", &db]);
    assert_eq!(code, 1, "an undeclared role is refused");
    assert!(err.contains("declares no role `pilot`"), "{err}");
    let (code, token, err) = tessera_out(&["token", "create", "--user", "ana", "--name", "sync", "--expires-in-days", "30", "--db", &db]);
    assert_eq!(code, 0, "{err}");
    let token = token.trim().to_owned();

    let engine = engine::Engine::open(&db, &[]).await.unwrap();
    let login = engine.login("ops", &password).await.expect("the generated password logs in");
    assert!(login.user.is_admin() && !login.user.must_change_password, "{:?}", login.user);
    let ana = engine.authenticate(&token, engine::Csrf::NotNeeded).await.expect("the token authenticates");
    assert_eq!(ana.roles_in("crm"), ["sales_rep"]);
    engine.close().await.unwrap();

    let (code, again, err) = tessera_out(&["user", "passwd", "ana", "--db", &db]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = tessera_out(&["user", "disable", "ana", "--db", &db]);
    assert_eq!(code, 0, "ana owns nothing yet: {err}");
    let engine = engine::Engine::open(&db, &[]).await.unwrap();
    assert!(engine.login("ana", again.trim()).await.is_err(), "a disabled user logs in");
    assert!(engine.authenticate(&token, engine::Csrf::NotNeeded).await.is_err(), "a disabled user's token works");
    engine.close().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn check_names_a_section_on_an_unknown_tab_and_a_tab_without_sections() {
    let copy = std::env::temp_dir().join(format!("tessera-cli-tabs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    std::fs::create_dir_all(copy.join("forms")).unwrap();
    std::fs::write(
        copy.join("app.json"),
        r#"{"$schema": "../../schemas/app.schema.json", "format_version": 1, "id": "shop", "name": "Shop", "version": "1"}"#,
    )
    .unwrap();
    std::fs::write(
        copy.join("forms/order.json"),
        r#"{"$schema": "../../../schemas/form.schema.json", "label": "Order",
            "fields": [{"id": "qty", "type": "integer", "label": "Qty"}, {"id": "note", "type": "text", "label": "Note"}],
            "tabs": [{"id": "main", "label": "Main"}, {"id": "more", "label": "More"}],
            "layout": [{"label": "Order", "fields": ["qty"], "tab": "main", "columns": 2},
                       {"label": "Notes", "fields": ["note"], "tab": "notes"}]}"#,
    )
    .unwrap();
    let (code, out) = tessera(&["check", copy.to_str().unwrap()]);
    std::fs::remove_dir_all(&copy).ok();
    assert_eq!(code, 1, "{out}");
    let lines: Vec<&str> = out.lines().filter(|l| l.contains("forms/order.json")).collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].ends_with("/layout/1/tab: no tab `notes` in `tabs`"), "{out}");
    assert!(lines[1].ends_with("/tabs/1: no section is on tab `more`"), "{out}");
}

/// How many live accounts the database at `url` holds, read as it is.
async fn live_accounts(url: &str) -> i64 {
    use sea_orm::ConnectionTrait;
    let db = sea_orm::Database::connect(url).await.unwrap();
    let q = sea_orm::Statement::from_string(db.get_database_backend(), "SELECT COUNT(*) AS n FROM r_crm__account WHERE deleted_at IS NULL");
    let n = db.query_one_raw(q).await.unwrap().unwrap().try_get::<i64>("", "n").unwrap();
    db.close().await.ok();
    n
}

/// `tessera backup` copies a live SQLite database while it is written; `tessera restore` makes
/// the copy a new database, checked: its audit chain holds and its app is the one installed.
#[actix_web::test]
async fn a_backup_taken_while_the_crm_is_written_restores_into_a_new_database() {
    let dir = std::env::temp_dir().join(format!("tessera-backup-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let live = format!("sqlite://{}/live.db", dir.display());
    let engine = engine::Engine::open(&format!("{live}?mode=rwc"), &[repo().join("apps/crm")]).await.unwrap();
    engine.ensure_admin(Some("admin-pass")).await.unwrap();
    engine.seed("crm", "demo").await.unwrap();
    let admin = engine.authenticate(&engine.login("admin", "admin-pass").await.unwrap().token, engine::Csrf::NotNeeded).await.unwrap();
    let (app, form) = (engine::AppId::parse("crm").unwrap(), engine::FormId::parse("account").unwrap());
    let before = live_accounts(&live).await;

    // Accounts are created while the backup is taken.
    let backup = dir.join("crm.backup");
    let taking = {
        let (live, backup) = (live.clone(), backup.clone());
        tokio::task::spawn_blocking(move || tessera(&["backup", "--db", &live, "--out", backup.to_str().unwrap()]))
    };
    let mut written = 0;
    while !taking.is_finished() {
        let data = serde_json::json!({"name": format!("Written during the backup {written}")});
        engine.create(&admin, &app, &form, data).await.unwrap();
        written += 1;
    }
    let (code, out) = taking.await.unwrap();
    assert_eq!(code, 0, "{out}");
    engine.close().await.unwrap();
    let (code, out) = tessera(&["backup", "--db", &live, "--out", backup.to_str().unwrap()]);
    assert_eq!(code, 1, "a backup is never written over a file: {out}");

    let restored = format!("sqlite://{}/restored.db", dir.display());
    let (code, out) = tessera(&["restore", backup.to_str().unwrap(), "--db", &restored]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("audit chain of") && out.contains("holds"), "{out}");
    let (code, out) = tessera(&["restore", backup.to_str().unwrap(), "--db", &restored]);
    assert_eq!((code, out.contains("exists already")), (1, true), "a restore never overwrites a database: {out}");
    let (code, out) = tessera(&["audit", "verify", "--db", &restored]);
    assert_eq!(code, 0, "{out}");
    // Everything committed before the backup began is in it; what came after is not half there.
    let copied = live_accounts(&restored).await;
    assert!(copied >= before && copied <= before + written, "{before} before, {written} written meanwhile, {copied} restored");
    // The app restored is the app installed, so its scenario tests are the CRM's own.
    let folder = dir.join("restored-crm");
    let (code, out) = tessera(&["app", "export", "crm", "--db", &restored, "--out", folder.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(defs::AppFiles::read(&folder).0, defs::AppFiles::read(&repo().join("apps/crm")).0);

    // A damaged backup is refused before anything is restored.
    let mut bytes = std::fs::read(&backup).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle..middle + 4096].fill(0x5a);
    let damaged = dir.join("damaged.backup");
    std::fs::write(&damaged, bytes).unwrap();
    let elsewhere = dir.join("elsewhere.db");
    let (code, out) = tessera(&["restore", damaged.to_str().unwrap(), "--db", &format!("sqlite://{}", elsewhere.display())]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("damaged.backup is damaged"), "{out}");
    assert!(!elsewhere.exists(), "nothing is restored from a damaged backup: {out}");
    std::fs::remove_dir_all(&dir).ok();
}
