//! App definitions: canonical form, `check` diagnostics with file and pointer.

use std::fs;
use std::path::{Path, PathBuf};

use defs::{AppFiles, FileKind, canonical_text};
use e2e::{copy_dir, repo};
use engine::LoadedApp;

fn app_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        fs::read_dir(repo().join("apps")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.join("app.json").is_file()).collect();
    dirs.sort();
    dirs
}

#[test]
fn every_shipped_app_checks_clean() {
    assert!(!app_dirs().is_empty());
    for dir in app_dirs() {
        let problems = LoadedApp::check(&dir);
        assert!(problems.is_empty(), "{}:\n{}", dir.display(), problems.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"));
    }
}

/// Every definition file is in canonical form, so a save from the designer is a minimal diff,
/// and every file of the folder is read.
#[test]
fn every_definition_file_is_canonical() {
    for dir in app_dirs() {
        let (files, problems) = AppFiles::read(&dir);
        assert!(problems.is_empty(), "{problems:?}");
        for (path, text) in &files.0 {
            let (kind, _) = FileKind::of_path(path).unwrap();
            let canonical = canonical_text(kind, text).unwrap_or_else(|e| panic!("{path}: {e:?}"));
            assert!(*text == canonical, "{path} is not canonical: run `tessera fmt {}`", dir.display());
        }
        assert_eq!(files_in(&dir), files.0.len(), "{}: a file was not read", dir.display());
    }
}

/// The files of an app folder: `app.json` and those of its kinds' folders.
fn files_in(dir: &Path) -> usize {
    let mut n = 1;
    for (folder, extension) in [
        ("forms", "json"),
        ("seed", "json"),
        ("reports", "json"),
        ("dashboards", "json"),
        ("flows", "json"),
        ("rules", "rhai"),
        ("templates", "hbs"),
        ("tests", "json"),
    ] {
        if let Ok(entries) = fs::read_dir(dir.join(folder)) {
            n += entries.filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == extension)).count();
        }
    }
    n
}

/// Copies `apps/crm` to a temporary folder, applies `edit` to one file, and returns the
/// diagnostics as printed.
fn check_broken(file: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Vec<String> {
    check_edited(file, |text| {
        let mut value: serde_json::Value = serde_json::from_str(text).unwrap();
        edit(&mut value);
        serde_json::to_string_pretty(&value).unwrap()
    })
}

fn check_edited(file: &str, edit: impl FnOnce(&str) -> String) -> Vec<String> {
    let src = repo().join("apps/crm");
    let dst = std::env::temp_dir().join(format!("tessera-check-{}", uuid::Uuid::now_v7().simple()));
    copy_dir(&src, &dst);
    let path = dst.join(file);
    let edited = edit(&fs::read_to_string(&path).unwrap());
    fs::write(&path, edited).unwrap();
    let out = LoadedApp::check(&dst).iter().map(|d| d.to_string().replace(&format!("{}/", dst.display()), "")).collect();
    fs::remove_dir_all(&dst).ok();
    out
}

fn field_index(form: &serde_json::Value, id: &str) -> usize {
    form["fields"].as_array().unwrap().iter().position(|f| f["id"] == id).unwrap()
}

#[test]
fn a_broken_reference_is_named_with_file_and_pointer() {
    let mut index = 0;
    let problems = check_broken("forms/contact.json", |form| {
        index = field_index(form, "account");
        form["fields"][index]["form"] = "acount".into();
    });
    assert_eq!(problems, [format!("forms/contact.json: /fields/{index}/form: link target form `acount` does not exist")]);
}

#[test]
fn an_app_id_the_api_cannot_name_is_refused() {
    // Snake_case by the schema, but past the 48 characters an id may have: the API could not reach it.
    let problems = check_broken("app.json", |app| app["id"] = "c".repeat(49).into());
    assert!(problems.contains(&"app.json: /id: an app id is snake_case, at most 48 characters".to_owned()), "{problems:?}");
}

#[test]
fn a_wrong_type_is_named_with_file_and_pointer() {
    let mut index = 0;
    let problems = check_broken("forms/opportunity.json", |form| {
        index = field_index(form, "amount");
        form["fields"][index]["required"] = "yes".into();
    });
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with(&format!("forms/opportunity.json: /fields/{index}/required: ")), "{problems:?}");
}

#[test]
fn unknown_properties_layout_index_and_dedupe_fields_are_caught() {
    let problems = check_broken("forms/account.json", |form| {
        form["colour"] = "red".into();
    });
    assert_eq!(problems, ["forms/account.json: /colour: unknown property `colour`"]);
    let problems = check_broken("forms/account.json", |form| {
        form["indexes"] = serde_json::json!([["nmae"]]);
        form["dedupe"] = serde_json::json!([["name", "phnoe"]]);
        form["layout"][0]["fields"][0] = "nope".into();
        form["list_columns"] = serde_json::json!(["name", "tierr"]);
    });
    assert_eq!(
        problems,
        [
            "forms/account.json: /dedupe/0/1: no field `phnoe`",
            "forms/account.json: /indexes/0/0: no field `nmae`",
            "forms/account.json: /layout/0/fields/0: no field `nope`",
            "forms/account.json: /list_columns/1: no field `tierr`",
        ]
    );
}

#[test]
fn scripts_are_compiled_and_hooks_must_name_existing_functions() {
    let problems = check_edited("rules/lead_score.rhai", |text| text.replacen("let points = 0;", "let points = ;", 1));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("rules/lead_score.rhai:5:18: "), "{problems:?}");

    let problems = check_broken("forms/lead.json", |form| form["hooks"][0]["rule"] = "lead_score.scroe".into());
    assert_eq!(problems, ["forms/lead.json: /hooks/0/rule: rules/lead_score.rhai has no function `scroe(record, old, user)`"]);
    let problems = check_broken("forms/lead.json", |form| form["hooks"][0]["rule"] = "lead_scoring.score".into());
    assert_eq!(problems, ["forms/lead.json: /hooks/0/rule: no script `rules/lead_scoring.rhai`"]);
    let problems = check_broken("forms/lead.json", |form| form["fields"][0]["formula"] = "record.name +".into());
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("forms/lead.json: /fields/0/formula: 1:"), "{problems:?}");
}

#[test]
fn templates_are_compiled_and_named_with_line_and_column() {
    let problems = check_edited("templates/quote.hbs", |text| format!("{{{{monney record.data.total}}}}\n{text}"));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("templates/quote.hbs:1:"), "{problems:?}");
    assert!(problems[0].contains("monney"), "{problems:?}");
}

#[test]
fn a_flow_with_an_unreachable_state_or_a_dead_end_fails_check() {
    let problems = check_broken("flows/ticket.json", |flow| {
        let states = flow["states"].as_array_mut().unwrap();
        states.push(serde_json::json!({"id": "limbo", "label": "Limbo"}));
        states.push(serde_json::json!({"id": "stuck", "label": "Stuck"}));
        flow["transitions"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"action": "park", "label": "Park", "from": ["open"], "to": "stuck"}));
    });
    assert_eq!(
        problems,
        [
            "flows/ticket.json: /states/5: state `limbo` cannot be reached from the initial state `new`",
            "flows/ticket.json: /states/5/id: field `status` has no option `limbo` for this state",
            "flows/ticket.json: /states/6: state `stuck` is a dead end: no terminal state can be reached from it",
            "flows/ticket.json: /states/6/id: field `status` has no option `stuck` for this state",
        ]
    );
    let problems = check_broken("flows/lead.json", |flow| {
        flow["transitions"][0]["to"] = "called".into();
        flow["transitions"][1]["guard"]["if"] = "record.phone != (".into();
        flow["transitions"][0]["who"] = serde_json::json!({"roles": ["sales_wizard"], "fields": ["company"]});
    });
    assert_eq!(problems.len(), 4, "{problems:?}");
    assert!(problems.contains(&"flows/lead.json: /transitions/0/to: no state `called`".to_owned()), "{problems:?}");
    assert!(
        problems.contains(&"flows/lead.json: /transitions/0/who/roles/0: no role `sales_wizard` in app.json".to_owned()),
        "{problems:?}"
    );
    assert!(
        problems
            .contains(&"flows/lead.json: /transitions/0/who/fields/0: `company` is not `owner` or a user field of form `lead`".to_owned()),
        "{problems:?}"
    );
    assert!(problems.iter().any(|p| p.starts_with("flows/lead.json: /transitions/1/guard/if: ")), "{problems:?}");
}

/// The index of the first state of `flow` with an approval.
fn approval_state(flow: &serde_json::Value) -> usize {
    flow["states"].as_array().unwrap().iter().position(|s| s.get("approval").is_some()).unwrap()
}

#[test]
fn users_and_departments_named_by_definitions_must_exist() {
    let mut state = 0;
    let problems = check_broken("flows/quote.json", |flow| {
        state = approval_state(flow);
        flow["states"][state]["approval"]["steps"][0]["approvers"] = serde_json::json!([{"user": "ghost"}, {"user": "manager1"}]);
    });
    assert_eq!(
        problems,
        [format!("flows/quote.json: /states/{state}/approval/steps/0/approvers/0/user: no user `ghost` in the app's seed files")]
    );
    let problems = check_broken("app.json", |app| app["departments"][1]["manager"] = "ghost".into());
    assert_eq!(problems, ["app.json: /departments/1/manager: no user `ghost` in the app's seed files"]);
    let problems = check_broken("seed/demo.json", |seed| seed["users"][1]["department"] = "nowhere".into());
    assert_eq!(problems, ["seed/demo.json: /users/1/department: no department `nowhere` in app.json"]);
}

#[test]
fn calls_of_unknown_functions_fail_check_where_they_are_written() {
    let problems = check_broken("forms/lead.json", |form| form["fields"][0]["formula"] = "uppercase(record.name)".into());
    assert_eq!(problems, ["forms/lead.json: /fields/0/formula: 1:1: no function `uppercase`"]);
    let problems = check_broken("forms/lead.json", |form| form["fields"][0]["visible_if"] = "days_between(record.created_at) > 3".into());
    assert_eq!(problems, ["forms/lead.json: /fields/0/visible_if: 1:1: function `days_between` does not take 1 argument(s)"]);
    let problems = check_edited("rules/lead_score.rhai", |text| text.replacen("let points = 0;", "let points = bonus(record);", 1));
    assert_eq!(problems, ["rules/lead_score.rhai:5:18: no function `bonus`"]);
    let problems = check_broken("flows/lead.json", |flow| flow["transitions"][1]["guard"]["if"] = "is_blank(record.phone)".into());
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("flows/lead.json: /transitions/1/guard/if: ") && problems[0].contains("no function `is_blank`"),
        "{problems:?}"
    );
}

#[test]
fn start_roles_name_roles_of_the_app_on_start_states() {
    let state_of = |flow: &serde_json::Value, id: &str| flow["states"].as_array().unwrap().iter().position(|s| s["id"] == id).unwrap();
    let mut won = 0;
    let problems = check_broken("flows/opportunity.json", |flow| {
        won = state_of(flow, "won");
        flow["states"][won]["start_roles"] = serde_json::json!(["sales_manager", "closer"]);
    });
    assert_eq!(problems, [format!("flows/opportunity.json: /states/{won}/start_roles/1: no role `closer` in app.json")]);
    let mut initial = 0;
    let problems = check_broken("flows/opportunity.json", |flow| {
        initial = state_of(flow, "initial_contact");
        flow["states"][initial]["start_roles"] = serde_json::json!(["sales_manager"]);
    });
    assert_eq!(
        problems,
        [format!(
            "flows/opportunity.json: /states/{initial}/start_roles: start roles need `start`: people create records here only when it is a start"
        )]
    );
}

#[test]
fn locks_reapproval_and_upgrades_name_fields_states_and_steps_of_the_flow() {
    let state_of = |flow: &serde_json::Value, id: &str| flow["states"].as_array().unwrap().iter().position(|s| s["id"] == id).unwrap();
    let mut sent = 0;
    let problems = check_broken("flows/quote.json", |flow| {
        sent = state_of(flow, "sent");
        flow["states"][sent]["lock"] = serde_json::json!({"fields": ["items", "rebate"], "except_roles": ["closer"]});
    });
    assert_eq!(
        problems,
        [
            format!("flows/quote.json: /states/{sent}/lock/except_roles/0: no role `closer` in app.json"),
            format!("flows/quote.json: /states/{sent}/lock/fields/1: no field `rebate` in form `quote`"),
        ]
    );
    let mut approved = 0;
    let problems = check_broken("flows/quote.json", |flow| {
        approved = state_of(flow, "approved");
        flow["states"][approved]["reapprove"] = serde_json::json!({"fields": ["discount"], "to": "draft"});
    });
    assert_eq!(problems, [format!("flows/quote.json: /states/{approved}/reapprove/to: `draft` is not an approval state of this flow")]);
    let problems = check_broken("flows/quote.json", |flow| {
        flow["upgrade"] = serde_json::json!({"states": {"review": "in_review", "old": "gone"}, "steps": {"boss": "manager", "vp": "cfo"}});
    });
    assert_eq!(
        problems,
        [
            "flows/quote.json: /upgrade/states/old: no state `gone` in this flow",
            "flows/quote.json: /upgrade/steps/vp: no approval step `cfo` in this flow",
        ]
    );
}

#[test]
fn a_scope_through_a_link_names_a_link_field_and_follows_one_link_at_most() {
    let problems = check_broken("forms/payment.json", |form| form["permissions"][1]["scope"] = serde_json::json!({"via": "amount"}));
    assert_eq!(problems, ["forms/payment.json: /permissions/1/scope/via: no link field `amount`"]);
    // The payments' reps see them through their contracts; contracts seen through their
    // accounts would make a chain.
    let problems = check_broken("forms/contract.json", |form| form["permissions"][0]["scope"] = serde_json::json!({"via": "account"}));
    assert_eq!(
        problems,
        [
            "forms/payment.json: /permissions/1/scope/via: form `contract` grants by a link too: a scope follows one link at most",
            "forms/payment.json: /permissions/2/scope/via: form `contract` grants by a link too: a scope follows one link at most",
        ]
    );
}

#[test]
fn related_lists_pools_and_web_forms_are_checked_against_the_forms_they_name() {
    let problems = check_broken("forms/account.json", |form| {
        form["related"] = serde_json::json!([
            {"form": "contact", "link": "account"},
            {"form": "contact", "link": "name"},
            {"form": "campaign_member", "link": "contact.account"},
            {"form": "campaign_member", "link": "campaign"},
            {"form": "nothing", "link": "account"}
        ]);
    });
    assert_eq!(
        problems,
        [
            "forms/account.json: /related/1/link: `name` is not a link (or a path of links) of form `contact` to this form",
            "forms/account.json: /related/3/link: `campaign` is not a link (or a path of links) of form `campaign_member` to this form",
            "forms/account.json: /related/4/form: no form `nothing`",
        ]
    );
    let problems = check_broken("forms/lead.json", |form| {
        form.as_object_mut().unwrap().remove("pool");
        form["web_form"]["fields"] = serde_json::json!(["name", "campaign", "nope", "name"]);
        form["web_form"]["set"] = serde_json::json!({"source": "web", "name": "x"});
    });
    assert_eq!(
        problems,
        [
            "forms/lead.json: /permissions/1/scope: the form has no `pool`",
            "forms/lead.json: /permissions/3/scope: the form has no `pool`",
            "forms/lead.json: /web_form/fields/1: a visitor cannot fill a `link` field",
            "forms/lead.json: /web_form/fields/2: no field `nope`",
            "forms/lead.json: /web_form/fields/3: `name` is listed twice",
            "forms/lead.json: /web_form/set/name: `name` is filled by the visitor too",
        ]
    );
}

#[test]
fn a_connectors_fixture_answers_each_key_once() {
    let problems = check_broken("app.json", |app| {
        let fixture = &mut app["connectors"]["business_registry"]["provider"]["fixture"];
        fixture[1]["credit_code"] = fixture[0]["credit_code"].clone();
        fixture[2].as_object_mut().unwrap().remove("credit_code");
    });
    assert_eq!(
        problems,
        [
            "app.json: /connectors/business_registry/provider/fixture/1/credit_code: `91310115MA1H7XKQ2N` answers twice",
            "app.json: /connectors/business_registry/provider/fixture/2/credit_code: each record holds its key `credit_code` as text",
        ]
    );
}
