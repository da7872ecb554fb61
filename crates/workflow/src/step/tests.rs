//! Unit tests of the step function: approvals, moves and verification on small flows.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::*;
use crate::{Problem, Workflow};

struct TestEnv {
    owner: String,
    record: serde_json::Map<String, Value>,
    roles: HashMap<&'static str, Vec<String>>,
    managers: HashMap<&'static str, Vec<String>>,
}

impl Env for TestEnv {
    fn now(&self) -> String {
        "2026-11-23T10:00:00Z".into()
    }
    fn owner(&self) -> &str {
        &self.owner
    }
    fn value(&self, field: &str) -> Option<&Value> {
        self.record.get(field)
    }
    fn role_members(&self, role: &str) -> Vec<String> {
        self.roles.get(role).cloned().unwrap_or_default()
    }
    fn managers(&self, user: &str, levels: u8) -> Vec<String> {
        self.managers.get(user).map(|m| m.iter().take(levels as usize).cloned().collect()).unwrap_or_default()
    }
    /// Conditions in these tests: `record.field > number`.
    fn holds(&self, condition: &str) -> Result<bool, String> {
        let (field, limit) = condition.split_once(" > ").ok_or("unsupported")?;
        let value = self.record.get(field.trim_start_matches("record.")).and_then(Value::as_f64).unwrap_or(0.0);
        Ok(value > limit.parse::<f64>().map_err(|e| e.to_string())?)
    }
    fn rule_users(&self, _rule: &str) -> Result<Vec<String>, String> {
        Ok(vec!["ruled".into()])
    }
}

fn env(discount: f64) -> TestEnv {
    TestEnv {
        owner: "rep".into(),
        record: json!({"discount": discount}).as_object().cloned().unwrap_or_default(),
        roles: HashMap::from([
            ("legal", vec!["lawyer".into()]),
            ("finance", vec!["cfo".into(), "clerk".into()]),
            ("admin", vec!["root".into()]),
        ]),
        managers: HashMap::from([("rep", vec!["boss".into(), "director".into()])]),
    }
}

fn person(username: &str) -> Person<'_> {
    Person { username, roles: &[], may_update: true, system: false }
}

fn flow(approval: Value) -> Workflow {
    let def = json!({
        "label": "Quote",
        "form": "quote",
        "states": [
            {"id": "draft", "label": "Draft", "initial": true},
            {"id": "approving", "label": "Approving", "approval": approval},
            {"id": "approved", "label": "Approved"},
            {"id": "sent", "label": "Sent", "terminal": true}
        ],
        "transitions": [
            {"action": "submit", "label": "Submit", "from": ["draft"], "to": "approving"},
            {"action": "send", "label": "Send", "from": ["approved"], "to": "sent",
             "guard": {"if": "record.discount > -1", "message": "never"}, "require": ["discount"]}
        ]
    });
    Workflow::compile("quote", serde_json::from_value(def).expect("flow parses")).expect("flow verifies")
}

fn submitted(wf: &Workflow, env: &TestEnv) -> Instance {
    let start = wf.start(1, None, "rep", env).expect("starts");
    assert_eq!(start.instance.state, "draft");
    wf.step(&start.instance, &person("rep"), &Command::Act("submit".into()), None, env).expect("submits").instance
}

fn act(wf: &Workflow, i: &Instance, who: &str, command: Command, env: &TestEnv) -> Result<Instance, StepError> {
    wf.step(i, &person(who), &command, None, env).map(|s| s.instance)
}

#[test]
fn conditional_steps_manager_then_director() {
    let wf = flow(json!({"steps": [
        {"id": "manager", "label": "Manager", "approvers": [{"manager": {}}], "when": "record.discount > 10"},
        {"id": "director", "label": "Director", "approvers": [{"user": "director"}], "when": "record.discount > 25"}
    ], "approved": "approved", "on_reject": "draft"}));
    // 5 %: no step applies, approved at once.
    assert_eq!(submitted(&wf, &env(5.0)).state, "approved");
    // 15 %: the manager only.
    let e = env(15.0);
    let i = submitted(&wf, &e);
    assert_eq!(wf.waiting(&i)[0].users, ["boss"]);
    assert_eq!(act(&wf, &i, "boss", Command::Approve, &e).unwrap().state, "approved");
    // 30 %: manager, then director; someone else cannot approve.
    let e = env(30.0);
    let i = submitted(&wf, &e);
    assert!(matches!(act(&wf, &i, "director", Command::Approve, &e), Err(StepError::NotAllowed(_))));
    let i = act(&wf, &i, "boss", Command::Approve, &e).unwrap();
    assert_eq!((i.state.as_str(), wf.waiting(&i)[0].users.clone()), ("approving", vec!["director".to_owned()]));
    let rejected = act(&wf, &i, "director", Command::Reject, &e).unwrap();
    assert_eq!(rejected.state, "draft");
    assert_eq!(rejected.log.iter().map(|l| l.action.as_str()).collect::<Vec<_>>(), ["submit", "approve", "reject", "rejected"]);
}

#[test]
fn countersign_needs_every_seat_and_a_role_seat_is_taken_by_any_member() {
    let wf = flow(json!({"steps": [
        {"id": "sign", "label": "Sign", "approvers": [{"role": "legal"}, {"role": "finance"}], "mode": "all"}
    ], "approved": "approved"}));
    let e = env(0.0);
    let i = submitted(&wf, &e);
    assert_eq!(wf.waiting(&i).len(), 2);
    let i = act(&wf, &i, "clerk", Command::Approve, &e).unwrap();
    assert_eq!(i.state, "approving");
    // The finance seat is taken: the other finance member has nothing to decide.
    assert!(matches!(act(&wf, &i, "cfo", Command::Approve, &e), Err(StepError::NotAllowed(_))));
    assert_eq!(act(&wf, &i, "lawyer", Command::Approve, &e).unwrap().state, "approved");
}

#[test]
fn or_sign_and_m_of_n() {
    let any = flow(
        json!({"steps": [{"id": "s", "label": "S", "approvers": [{"user": "a"}, {"user": "b"}], "mode": "any"}], "approved": "approved"}),
    );
    let e = env(0.0);
    let i = submitted(&any, &e);
    assert_eq!(act(&any, &i, "b", Command::Approve, &e).unwrap().state, "approved");
    let i = act(&any, &i, "a", Command::Reject, &e).unwrap();
    assert_eq!(i.state, "approving", "one rejection of two or-sign seats leaves the other");
    assert_eq!(act(&any, &i, "b", Command::Reject, &e).unwrap().state, "draft");

    let two = flow(
        json!({"steps": [{"id": "s", "label": "S", "approvers": [{"user": "a"}, {"user": "b"}, {"user": "c"}], "mode": {"m_of_n": 2}}], "approved": "approved"}),
    );
    let i = submitted(&two, &e);
    let i = act(&two, &i, "a", Command::Approve, &e).unwrap();
    let i = act(&two, &i, "b", Command::Reject, &e).unwrap();
    assert_eq!(i.state, "approving");
    assert_eq!(act(&two, &i, "c", Command::Approve, &e).unwrap().state, "approved");
    let i = submitted(&two, &e);
    let i = act(&two, &i, "a", Command::Reject, &e).unwrap();
    assert_eq!(act(&two, &i, "b", Command::Reject, &e).unwrap().state, "draft", "two of three rejected: 2 approvals impossible");
}

#[test]
fn sequential_chain_of_managers_and_reject_to_previous_step() {
    let wf = flow(json!({"steps": [
        {"id": "first", "label": "1", "approvers": [{"user": "a"}]},
        {"id": "chain", "label": "2", "approvers": [{"manager": {"levels": 2}}]}
    ], "approved": "approved", "on_reject": "previous_step"}));
    let e = env(0.0);
    let i = submitted(&wf, &e);
    let i = act(&wf, &i, "a", Command::Approve, &e).unwrap();
    // In order: the director waits for the manager.
    assert!(act(&wf, &i, "director", Command::Approve, &e).is_err());
    let i = act(&wf, &i, "boss", Command::Approve, &e).unwrap();
    let back = act(&wf, &i, "director", Command::Reject, &e).unwrap();
    assert_eq!((back.state.as_str(), wf.waiting(&back)[0].users.clone()), ("approving", vec!["a".to_owned()]));
    // At the first step, previous_step goes back where the record came from.
    assert_eq!(act(&wf, &back, "a", Command::Reject, &e).unwrap().state, "draft");
}

#[test]
fn recall_transfer_add_approver() {
    let wf = flow(json!({"steps": [{"id": "s", "label": "S", "approvers": [{"user": "a"}], "mode": "all"}], "approved": "approved"}));
    let e = env(0.0);
    let i = submitted(&wf, &e);
    assert!(matches!(act(&wf, &i, "a", Command::Recall, &e), Err(StepError::NotAllowed(_))));
    assert_eq!(act(&wf, &i, "rep", Command::Recall, &e).unwrap().state, "draft");
    assert!(matches!(act(&wf, &i, "a", Command::Transfer("rep".into()), &e), Err(StepError::Invalid(_))), "not to the submitter");
    let i = act(&wf, &i, "a", Command::Transfer("b".into()), &e).unwrap();
    assert!(act(&wf, &i, "a", Command::Approve, &e).is_err());
    let i = act(&wf, &i, "b", Command::AddApprover("c".into()), &e).unwrap();
    let i = act(&wf, &i, "b", Command::Approve, &e).unwrap();
    assert_eq!(i.state, "approving", "the added approver must sign too");
    assert!(matches!(act(&wf, &i, "rep", Command::Recall, &e), Err(StepError::Unavailable(_))));
    assert_eq!(act(&wf, &i, "c", Command::Approve, &e).unwrap().state, "approved");
}

#[test]
fn self_approval_is_skipped_and_fallbacks_apply() {
    let own = flow(json!({"steps": [{"id": "s", "label": "S", "approvers": [{"user": "rep"}]}], "approved": "approved"}));
    let e = env(0.0);
    let i = submitted(&own, &e);
    assert_eq!(own.waiting(&i)[0].users, ["root"], "the submitter is removed; the admin fallback decides");
    let auto = flow(
        json!({"steps": [{"id": "s", "label": "S", "approvers": [{"field": "nobody"}]}], "approved": "approved", "fallback": "auto_pass"}),
    );
    let i = submitted(&auto, &e);
    assert_eq!(i.state, "approved");
    assert!(i.log.iter().any(|l| l.action == "auto_pass"));
    let allowed = flow(
        json!({"steps": [{"id": "s", "label": "S", "approvers": [{"user": "rep"}]}], "approved": "approved", "allow_self_approval": true}),
    );
    assert_eq!(allowed.waiting(&submitted(&allowed, &e))[0].users, ["rep"]);
}

#[test]
fn transitions_check_state_who_required_fields() {
    let wf = flow(json!({"steps": [{"id": "s", "label": "S", "approvers": [{"user": "a"}]}], "approved": "approved"}));
    let e = env(0.0);
    let i = submitted(&wf, &e);
    assert!(matches!(act(&wf, &i, "rep", Command::Act("submit".into()), &e), Err(StepError::Unavailable(_))), "double submit");
    assert!(matches!(act(&wf, &i, "rep", Command::Act("fly".into()), &e), Err(StepError::UnknownAction(_))));
    let approved = act(&wf, &i, "a", Command::Approve, &e).unwrap();
    let reader = Person { username: "x", roles: &[], may_update: false, system: false };
    assert!(matches!(wf.step(&approved, &reader, &Command::Act("send".into()), None, &e), Err(StepError::NotAllowed(_))));
    let mut empty = env(0.0);
    empty.record.clear();
    assert_eq!(act(&wf, &approved, "rep", Command::Act("send".into()), &empty), Err(StepError::MissingFields(vec!["discount".into()])));
    let sent = wf.step(&approved, &person("rep"), &Command::Act("send".into()), None, &e).unwrap();
    assert_eq!(sent.entered, ["sent"]);
}

fn problems(def: Value) -> Vec<Problem> {
    Workflow::compile("f", serde_json::from_value(def).expect("parses")).err().unwrap_or_default()
}

#[test]
fn verification_names_unreachable_states_dead_ends_and_unknown_states() {
    let found = problems(json!({"label": "F", "form": "x", "states": [
        {"id": "a", "label": "A", "initial": true},
        {"id": "b", "label": "B"},
        {"id": "island", "label": "I"},
        {"id": "done", "label": "D", "terminal": true}
    ], "transitions": [
        {"action": "go", "label": "Go", "from": ["a"], "to": "b"},
        {"action": "finish", "label": "F", "from": ["a"], "to": "done"}
    ]}));
    assert_eq!(
        found,
        vec![
            Problem { pointer: "/states/1".into(), message: "state `b` is a dead end: no terminal state can be reached from it".into() },
            Problem { pointer: "/states/2".into(), message: "state `island` cannot be reached from the initial state `a`".into() },
        ]
    );
    let found = problems(json!({"label": "F", "form": "x", "states": [
        {"id": "a", "label": "A", "initial": true}, {"id": "done", "label": "D", "terminal": true}
    ], "transitions": [
        {"action": "approve", "label": "A", "from": ["a", "nowhere"], "to": "done"},
        {"action": "back", "label": "B", "from": ["done"], "to": "a"}
    ]}));
    let pointers: Vec<&str> = found.iter().map(|p| p.pointer.as_str()).collect();
    assert_eq!(pointers, ["/transitions/0/action", "/transitions/0/from/1", "/transitions/1/from/0"]);
}

#[test]
fn verification_names_steps_that_could_never_pass_and_a_rejection_that_never_comes_back() {
    let found = problems(json!({"label": "F", "form": "x", "states": [
        {"id": "draft", "label": "D", "initial": true},
        {"id": "approving", "label": "A", "approval": {"approved": "done", "steps": [
            {"id": "nobody", "label": "N", "approvers": []},
            {"id": "board", "label": "B", "approvers": [{"role": "board"}, {"manager": {"levels": 2}}], "mode": {"m_of_n": 4}},
            {"id": "pair", "label": "P", "approvers": [{"role": "finance"}, {"role": "legal"}], "mode": {"m_of_n": 2}}
        ]}},
        {"id": "done", "label": "Done", "terminal": true},
        {"id": "archived", "label": "Archived", "terminal": true}
    ], "transitions": [
        {"action": "submit", "label": "S", "from": ["draft"], "to": "approving"}
    ]}));
    let found: Vec<(&str, &str)> = found.iter().map(|p| (p.pointer.as_str(), p.message.as_str())).collect();
    assert_eq!(
        found,
        [
            ("/states/1/approval/steps/0/approvers", "a step needs at least one approver"),
            ("/states/1/approval/steps/1/mode/m_of_n", "4 approvals are asked of a step with 3 approver seat(s): it could never pass"),
        ]
    );
    let found = problems(json!({"label": "F", "form": "x", "states": [
        {"id": "draft", "label": "D", "initial": true},
        {"id": "approving", "label": "A", "approval": {"approved": "done", "on_reject": "archived", "steps": [
            {"id": "boss", "label": "B", "approvers": [{"manager": {}}]}
        ]}},
        {"id": "done", "label": "Done", "terminal": true},
        {"id": "archived", "label": "Archived", "terminal": true}
    ], "transitions": [
        {"action": "submit", "label": "S", "from": ["draft"], "to": "approving"}
    ]}));
    assert_eq!(
        found,
        [Problem {
            pointer: "/states/1/approval/on_reject".into(),
            message: "`archived` is not before the approval of `approving`: a record sent back there never comes back to it".into()
        }]
    );
}

#[test]
fn progress_stored_as_a_step_position_is_read_as_that_step_of_its_version() {
    let steps = json!([
        {"id": "manager", "label": "Manager", "approvers": [{"user": "boss"}]},
        {"id": "director", "label": "Director", "approvers": [{"user": "ceo"}]}
    ]);
    let wf = flow(json!({"steps": steps, "approved": "approved"}));
    let progress: crate::Progress = serde_json::from_value(json!({"step": 1, "seats": []})).expect("an old instance reads");
    let instance = Instance { state: "approving".into(), approval: Some(progress), ..Instance::default() };
    assert_eq!(wf.current_step(&instance).expect("a step").1.id, "director");
}

#[test]
fn a_countersign_seat_left_without_anyone_goes_to_the_fallback_instead_of_vanishing() {
    // Before: the submitter's own seat (a finance clerk who changed an approved contract, say)
    // was dropped when they were taken out of it, and the countersign passed without it.
    let all = json!({"steps": [{"id": "s", "label": "S", "approvers": [{"role": "legal"}, {"user": "rep"}], "mode": "all"}], "approved": "approved"});
    let e = env(0.0);
    let countersign = flow(all.clone());
    let seats: Vec<Vec<String>> = countersign.waiting(&submitted(&countersign, &e)).into_iter().map(|s| s.users.clone()).collect();
    assert_eq!(seats, [vec!["lawyer".to_owned()], vec!["root".to_owned()]], "the admin takes the emptied seat");
    let mut auto = all;
    auto["fallback"] = json!("auto_pass");
    let passing = flow(auto);
    let seats: Vec<Vec<String>> = passing.waiting(&submitted(&passing, &e)).into_iter().map(|s| s.users.clone()).collect();
    assert_eq!(seats, [vec!["lawyer".to_owned()]], "with auto_pass the emptied seat passes on its own");
}
