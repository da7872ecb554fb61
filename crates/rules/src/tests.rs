//! The sandbox under adversarial scripts, and the platform functions.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{Allowance, Effect, Host, Input, Limits, ReadAs, RuleError, Rules};

/// A host over a fixed set of records with an in-memory rotation.
struct FakeHost {
    turns: Mutex<u64>,
}

impl Host for FakeHost {
    fn lookup(&self, form: &str, id: &str, read_as: ReadAs) -> Result<Option<Value>, String> {
        Ok((form == "account" && id == "a1").then(|| json!({"name": "Acme", "tier": "A", "as_user": read_as == ReadAs::User})))
    }
    fn find(&self, _form: &str, filter: Value, limit: u64, read_as: ReadAs) -> Result<Vec<Value>, String> {
        Ok((0..limit.min(3)).map(|i| json!({"n": i, "filter": filter.clone(), "as_user": read_as == ReadAs::User})).collect())
    }
    fn round_robin(&self, _pool: &str, members: &[String]) -> Result<String, String> {
        let mut turn = self.turns.lock().unwrap();
        *turn += 1;
        Ok(members[(*turn as usize - 1) % members.len()].clone())
    }
}

fn host() -> Arc<dyn Host> {
    Arc::new(FakeHost { turns: Mutex::new(0) })
}

fn rules(source: &str) -> Rules {
    let mut rules = Rules::new(Limits::default());
    rules.compile("test", source).unwrap();
    rules
}

fn input(record: Value) -> Input {
    Input { record: record.as_object().unwrap().clone(), old: None, user: json!({"username": "rep1"}), at: None }
}

fn limit_of(result: Result<crate::Outcome, RuleError>) -> String {
    match result {
        Err(RuleError::LimitExceeded { rule, limit }) => {
            assert_eq!(rule, "test.run");
            limit
        }
        other => panic!("expected a limit, got {other:?}"),
    }
}

#[test]
fn runaway_scripts_are_stopped_quickly() {
    // On a loaded machine the deadline may stop a growing string or array before its size limit
    // does, and on a quiet one the operations limit may stop an empty loop before the deadline;
    // either way the script is stopped by a limit (the deadline alone is tested below).
    let deadline = "ran longer than 100 ms";
    let operations = "too many operations";
    for (source, expected) in [
        ("fn run(record, old, user) { loop { } }", [deadline, operations]),
        ("fn run(record, old, user) { let x = 0; while true { x += 1; } }", [deadline, operations]),
        ("fn f(n) { f(n + 1) } fn run(record, old, user) { f(0) }", ["calls nested too deep", "calls nested too deep"]),
        ("fn run(record, old, user) { let s = \"x\"; loop { s += s; } }", ["too large", deadline]),
        ("fn run(record, old, user) { let a = []; loop { a += [1, 2, 3]; } }", ["too large", deadline]),
        ("fn run(record, old, user) { let m = #{}; let i = 0; loop { m[`k${i}`] = i; i += 1; } }", ["too large", deadline]),
    ] {
        let started = Instant::now();
        let limit = limit_of(rules(source).call("test", "run", &input(json!({})), host()));
        assert!(expected.iter().any(|e| limit.contains(e)), "{source}: {limit}");
        // A functional bound (the script stops), far above the 100 ms deadline so a busy machine
        // cannot fail it; speed itself is measured by the benchmark.
        assert!(started.elapsed() < Duration::from_secs(5), "{source} took {:?}", started.elapsed());
    }
}

#[test]
fn the_deadline_is_configurable() {
    let mut rules = Rules::new(Limits { deadline: Duration::from_millis(20), max_operations: u64::MAX, ..Limits::default() });
    rules.compile("test", "fn run(record, old, user) { loop { } }").unwrap();
    let started = Instant::now();
    let limit = limit_of(rules.call("test", "run", &input(json!({})), host()));
    assert_eq!(limit, "ran longer than 20 ms");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn no_eval_no_modules_no_io() {
    let mut rules = Rules::new(Limits::default());
    assert!(rules.compile("t", "fn run(r, o, u) { eval(\"1\") }").is_err());
    assert!(rules.compile("t", "import \"os\" as os; fn run(r, o, u) { 1 }").is_err());
    // A function the sandbox lacks is refused when the script compiles; one reached by name at
    // run time (`call`) still fails there.
    assert_eq!(rules.compile("t", "fn run(r, o, u) { open_file(\"/etc/passwd\") }").unwrap_err().message, "no function `open_file`");
    rules.compile("t", "fn run(r, o, u) { call(Fn(\"open_file\"), \"/etc/passwd\") }").unwrap();
    assert!(matches!(rules.call("t", "run", &input(json!({})), host()), Err(RuleError::Failed { .. })));
}

#[test]
fn compile_errors_have_line_and_column() {
    let mut rules = Rules::new(Limits::default());
    let err = rules.compile("t", "fn run(r, o, u) {\n  let x = ;\n}").unwrap_err();
    assert_eq!((err.line, err.column), (2, 11), "{err}");
}

#[test]
fn scripts_read_records_and_report_errors_and_effects() {
    let rules = rules(
        r#"
        fn run(record, old, user) {
            if record.amount > 100 { error("amount", "too much for " + user.username); }
            notify("manager1", "new deal " + record.name);
            create("activity", #{ subject: "call " + record.name });
            let acct = lookup("account", record.account);
            let rows = find("contact", #{ account: record.account }, 1000);
            #{ tier: acct.tier, found: rows.len(), total: sum(record.items, "qty"), next: round_robin("east", ["a", "b"]) }
        }
        "#,
    );
    let out = rules
        .call("test", "run", &input(json!({"name": "Big", "amount": 500, "account": "a1", "items": [{"qty": 2}, {"qty": 3.5}]})), host())
        .unwrap();
    assert_eq!(out.errors, [("/amount".to_owned(), "too much for rep1".to_owned())]);
    assert_eq!(out.effects[0], Effect::Notify { user: "manager1".into(), text: "new deal Big".into(), about: None });
    assert_eq!(out.effects[1], Effect::Create { form: "activity".into(), data: json!({"subject": "call Big"}) });
    assert_eq!(out.value, json!({"tier": "A", "found": 3, "total": 5.5, "next": "a"}));
}

#[test]
fn lookup_and_find_read_as_the_app_and_their_as_user_forms_as_the_user() {
    let rules = rules(
        r#"
        fn run(record, old, user) {
            #{
                app: lookup("account", "a1").as_user,
                user: lookup_as_user("account", "a1").as_user,
                app_rows: find("contact", #{}, 1)[0].as_user,
                user_rows: find_as_user("contact", #{}, 1)[0].as_user,
            }
        }
        "#,
    );
    let out = rules.call("test", "run", &input(json!({})), host()).unwrap();
    assert_eq!(out.value, json!({"app": false, "user": true, "app_rows": false, "user_rows": true}));
}

#[test]
fn expressions_and_dates() {
    let rules = Rules::new(Limits::default());
    let e = rules.expression("record.qty * record.price * (1.0 - record.discount / 100.0)").unwrap();
    let v = rules.eval(&e, &input(json!({"qty": 3, "price": 10, "discount": 10})), host()).unwrap();
    assert_eq!(v, json!(27.0));
    let e = rules.expression(r#"days_between("2026-01-30", add_days("2026-01-30", 35)) + month("2026-03-01")"#).unwrap();
    assert_eq!(rules.eval(&e, &input(json!({})), host()).unwrap(), json!(38));
    assert!(rules.expression("record.qty +").is_err());
}

/// Runs `run` on a thread of its own and waits at most `patience` for it: a script the
/// sandbox fails to stop would otherwise hang the test instead of failing it.
fn within<T: Send + 'static>(patience: Duration, run: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(run()));
    result.recv_timeout(patience).unwrap_or_else(|_| panic!("still running after {patience:?}"))
}

#[test]
fn the_deadline_holds_whatever_the_script_catches() {
    // Operations unbounded: only the deadline can stop these scripts.
    let limits = Limits { deadline: Duration::from_millis(100), max_operations: u64::MAX, ..Limits::default() };
    for source in [
        // A stop inside a closure reaches `catch` wrapped in `map`'s error, which rhai lets a
        // script catch.
        "fn spin() { loop { } } fn run(record, old, user) { loop { try { [1].map(|x| spin()); } catch { } } }",
        // Caught, then the script returns normally as if it had finished in time.
        "fn run(record, old, user) { try { [1].map(|x| { loop { } }); } catch { } 42 }",
        "fn run(record, old, user) { loop { try { throw \"again\"; } catch { } } }",
        "fn run(record, old, user) { loop { try { add_days(\"not a date\", 1); } catch { } } }",
        "fn run(record, old, user) { let n = 0; loop { try { lookup(\"account\", `${n}`); } catch { } n += 1; } }",
    ] {
        let mut rules = Rules::new(limits.clone());
        rules.compile("test", source).unwrap();
        // Thirty times the deadline: the script must stop, however busy the machine.
        let result = within(Duration::from_secs(3), move || rules.call("test", "run", &input(json!({})), host()));
        assert_eq!(limit_of(result), "ran longer than 100 ms", "{source}");
    }
}

#[test]
fn every_call_of_a_job_draws_on_its_one_allowance() {
    let rules = rules(
        "fn spin(record, old, user) { loop { } }
         fn count(record, old, user) { let n = 0; for i in 0..1000 { n += i; } n }",
    );
    let allowance = rules.allowance();
    assert_eq!(rules.call("test", "count", &input(json!({})), host()).unwrap().value, json!(499_500));
    let spun = allowance.spend(|| rules.call("test", "spin", &input(json!({})), host()));
    assert!(matches!(spun, Err(RuleError::LimitExceeded { .. })), "{spun:?}");
    assert!(allowance.is_spent());
    // What the first call used up is gone for the job's later calls and runs too.
    let counted = allowance.spend(|| rules.call("test", "count", &input(json!({})), host()));
    assert!(matches!(counted, Err(RuleError::LimitExceeded { .. })), "{counted:?}");
    // Outside the job, a call has its own deadline again.
    assert!(rules.call("test", "count", &input(json!({})), host()).is_ok());
}

#[test]
fn a_run_within_a_slice_is_kept_and_one_the_slice_stopped_is_not() {
    let rules = rules(
        "fn spin(record, old, user) { loop { } }
         fn count(record, old, user) { let n = 0; for i in 0..10 { n += i; } n }",
    );
    let allowance = rules.allowance();
    let slice = Duration::from_millis(20);
    let counted = Allowance::within(slice, || allowance.spend(|| rules.call("test", "count", &input(json!({})), host())));
    assert_eq!(counted.map(|c| c.unwrap().value), Some(json!(45)));
    let spun = Allowance::within(slice, || allowance.spend(|| rules.call("test", "spin", &input(json!({})), host())));
    assert!(spun.is_none(), "a run stopped by the slice is to be made again elsewhere: {spun:?}");
    // The slice ended that run, not the job: what is left of its time is still there.
    assert!(!allowance.is_spent());
}

#[test]
fn calls_of_functions_the_sandbox_lacks_do_not_compile() {
    let mut rules = Rules::new(Limits::default());
    let err = rules.expression("record.qty * dayz_between(record.start, record.end)").unwrap_err();
    assert_eq!((err.line, err.column, err.message.as_str()), (1, 14, "no function `dayz_between`"));
    let err = rules.expression("days_between(record.start)").unwrap_err();
    assert_eq!(err.message, "function `days_between` does not take 1 argument(s)");
    let err = rules.compile("t", "fn run(r, o, u) {\n  r.name.starts_withh(\"VIP\")\n}").unwrap_err();
    assert_eq!((err.line, err.message.as_str()), (2, "no function `starts_withh`"));
    let err = rules.compile("t", "fn run(r, o, u) { helper(r, 1) }\nfn helper(r) { r }").unwrap_err();
    assert_eq!(err.message, "function `helper` does not take 2 argument(s)");
    // Platform functions, the language's own, methods, operators, closures and the script's
    // own functions all resolve.
    rules
        .compile(
            "t",
            "fn run(r, o, u) {
                let rows = r.items.filter(|x| x.qty > 0).map(|x| x.qty * 2);
                let f = Fn(\"helper\");
                if r.name.starts_with(\"VIP\") && type_of(r) == \"map\" { print(`vip ${r.name}`); }
                for i in 0..rows.len() { rows[i] = round_to(rows[i] / 3.0, 2); }
                #{ total: sum(r.items, \"qty\"), when: add_days(today(), 3), h: f.call(r), n: \"x\" in r, s: helper(r) }
            }
            fn helper(r) { r }",
        )
        .unwrap();
    rules.expression("record.qty ?? 0 + year(record.closed) - (if record.a { 1 } else { 0 })").unwrap();
}

#[test]
fn a_call_with_values_a_function_does_not_take_names_no_rust_types() {
    let rules = rules("fn run(record, old, user) { add_days(record.qty, 1) }");
    let Err(RuleError::Failed { message, .. }) = rules.call("test", "run", &input(json!({"qty": 3})), host()) else {
        panic!("expected a failure")
    };
    assert_eq!(message, "function `add_days` cannot take these values (line 1, position 29)");
}

#[test]
fn scripts_and_expressions_that_read_the_date_are_told_apart() {
    let mut r = rules("fn before_save(record, old, user) { #{ overdue: due(record) } }\nfn due(record) { record.due < today() }");
    r.compile("plain", "fn before_save(record, old, user) { #{ total: record.qty * 2 } }").unwrap();
    assert!(r.reads_clock("test"), "through a function of the script");
    assert!(!r.reads_clock("plain"));
    assert!(r.expression("days_between(record.start, now())").unwrap().reads_clock());
    assert!(!r.expression("record.qty * record.price").unwrap().reads_clock());
}

#[test]
fn an_expression_names_the_fields_it_reads_where_it_reads_them() {
    let r = Rules::new(Limits::default());
    let read = r.expression("record.qty * record.price + old.qty.len() - record.lines[0].amount + len(record.note)").unwrap().fields_read();
    let names: Vec<&str> = read.iter().map(|(f, ..)| f.as_str()).collect();
    assert_eq!(names, ["qty", "price", "qty", "lines", "note"]);
    assert_eq!((read[1].1, read[1].2), (1, 21), "line and column of `price`");
    assert!(r.expression("user.name == \"a\"").unwrap().fields_read().is_empty(), "the user is not the record");
}

#[test]
fn a_name_that_is_no_variable_is_a_compile_error() {
    let rules = Rules::new(Limits::default());
    // Rhai functions see only their parameters: a script constant read inside one would fail
    // on the day the line runs.
    let err = rules.check_script("const READY = 80;\nfn ready(record, old, user) {\n  record.score >= READY\n}").unwrap_err();
    assert_eq!((err.line, err.message.contains("READY")), (3, true), "{err:?}");
    let err = rules.expression("recod.amount > 100").unwrap_err();
    assert!(err.message.contains("recod"), "{err:?}");
    rules.expression("record.amount > 100 && old != () && user.username != \"\"").unwrap();
    rules.check_script("fn ready(record, old, user) { let limit = 80; record.score >= limit }").unwrap();
}

#[test]
fn add_hours_moves_an_instant_or_a_dates_midnight_on() {
    let rules = Rules::new(Limits::default());
    let value = |source: &str| rules.eval(&rules.expression(source).unwrap(), &input(json!({})), host()).unwrap();
    assert_eq!(value(r#"add_hours("2026-12-05T22:30:00Z", 4)"#), "2026-12-06T02:30:00Z");
    assert_eq!(value(r#"add_hours("2026-12-05T10:00:00+08:00", -1)"#), "2026-12-05T01:00:00Z");
    assert_eq!(value(r#"add_hours("2026-12-05", 24)"#), "2026-12-06T00:00:00Z");
}
