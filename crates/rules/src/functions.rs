//! The platform functions scripts may call, and the per-call state they report into (field
//! errors, effects, the deadline, the host), kept in a thread-local for the length of one call.

use std::cell::{Cell, RefCell};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Utc};
use rhai::{Array, Dynamic, EvalAltResult, Map as RhaiMap};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::Value;

use crate::{Allowance, Effect, Host, Limits, ReadAs};

/// What one call collected.
pub(crate) struct CallState {
    pub(crate) errors: Vec<(String, String)>,
    pub(crate) effects: Vec<Effect>,
    /// Set when the host failed: the script's error is then the host's.
    pub(crate) host_error: Option<String>,
    pub(crate) deadline_ms: u128,
    /// Whether the call ran past its deadline, whatever the script made of being stopped.
    pub(crate) expired: bool,
}

struct Current {
    host: Arc<dyn Host>,
    /// What `today()` and `now()` read; the wall clock when `None`.
    at: Option<DateTime<Utc>>,
    deadline: Instant,
    max_find: u64,
    state: CallState,
}

thread_local! {
    static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) };
    /// Set once the call in progress passed its deadline; read at every operation from then on.
    static EXPIRED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `call` with a fresh call state and returns what it collected. The call ends by its own
/// deadline, or by the end of the job's run when it draws on an [`Allowance`].
pub(crate) fn with_call<R>(limits: &Limits, host: Arc<dyn Host>, at: Option<DateTime<Utc>>, call: impl FnOnce() -> R) -> (R, CallState) {
    let state =
        CallState { errors: Vec::new(), effects: Vec::new(), host_error: None, deadline_ms: limits.deadline.as_millis(), expired: false };
    let own = Instant::now() + limits.deadline;
    let deadline = Allowance::run_ends().map_or(own, |job| job.min(own));
    let current = Current { host, at, deadline, max_find: limits.max_find, state };
    let outer = CURRENT.with(|c| c.replace(Some(current)));
    let outer_expired = EXPIRED.replace(false);
    let result = call();
    let expired = EXPIRED.replace(outer_expired);
    let mut mine = CURRENT.with(|c| c.replace(outer)).expect("call state set above");
    mine.state.expired = expired;
    (result, mine.state)
}

/// The time of the running call: its command's, or the wall clock.
fn clock() -> DateTime<Utc> {
    with_current(|c| c.at).ok().flatten().unwrap_or_else(Utc::now)
}

fn with_current<R>(f: impl FnOnce(&mut Current) -> R) -> Result<R, Box<EvalAltResult>> {
    CURRENT.with(|c| c.borrow_mut().as_mut().map(f)).ok_or_else(|| "platform functions need a running rule".into())
}

/// Progress callback: stops the script once its wall-clock deadline has passed. Reading the
/// clock every operation would cost more than the operations, so it looks every 256. Once
/// late, every operation stops it: rhai lets a script catch a stop that reaches it wrapped in
/// a function's error (a closure given to `map`, `filter`, `sort` …), and the next operation
/// after the `catch` must stop it again.
pub(crate) fn check_deadline(operations: u64) -> Option<Dynamic> {
    let stop = || Some(Dynamic::from("deadline"));
    if EXPIRED.get() {
        return stop();
    }
    if !operations.is_multiple_of(256) || !past_deadline() {
        return None;
    }
    EXPIRED.set(true);
    stop()
}

fn past_deadline() -> bool {
    CURRENT.with(|c| c.borrow().as_ref().is_some_and(|cur| Instant::now() > cur.deadline))
}

type Fallible<T> = Result<T, Box<EvalAltResult>>;

/// The error that ends a script past its deadline; rhai does not let a script catch it.
fn terminated() -> Box<EvalAltResult> {
    EXPIRED.set(true);
    EvalAltResult::ErrorTerminated(Dynamic::from("deadline"), rhai::Position::NONE).into()
}

/// Asks the host. A read may wait (for the database, for a lock), so the deadline is looked at
/// before and after it rather than at the next 256th operation.
fn host_call<T>(f: impl FnOnce(&dyn Host, u64) -> Result<T, String>) -> Fallible<T> {
    if EXPIRED.get() || past_deadline() {
        return Err(terminated());
    }
    let (host, max_find) = with_current(|cur| (cur.host.clone(), cur.max_find))?;
    let answer = f(host.as_ref(), max_find);
    if past_deadline() {
        return Err(terminated());
    }
    answer.map_err(|message| {
        let _ = with_current(|cur| cur.state.host_error = Some(message.clone()));
        message.into()
    })
}

fn json(value: &Dynamic) -> Value {
    rhai::serde::from_dynamic(value).unwrap_or(Value::Null)
}

fn dynamic(value: &Value) -> Dynamic {
    rhai::serde::to_dynamic(value).unwrap_or(Dynamic::UNIT)
}

fn date(text: &str) -> Fallible<NaiveDate> {
    let day = text.get(..10).unwrap_or(text);
    NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| format!("`{text}` is not a date (YYYY-MM-DD)").into())
}

/// An RFC 3339 instant, or a date (`YYYY-MM-DD`) as its midnight UTC.
fn instant(text: &str) -> Fallible<chrono::DateTime<chrono::Utc>> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&chrono::Utc));
    }
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| format!("`{text}` is not an instant (RFC 3339) or a date"))?;
    Ok(day.and_time(chrono::NaiveTime::MIN).and_utc())
}

/// The numbers under `field` of each row of `rows` (missing or non-numeric values skipped).
fn column(rows: &Array, field: &str) -> Vec<f64> {
    rows.iter()
        .filter_map(|row| row.read_lock::<RhaiMap>().and_then(|m| m.get(field).cloned()))
        .filter_map(|v| v.as_float().ok().or_else(|| v.as_int().ok().map(|i| i as f64)))
        .collect()
}

/// `x` as the decimal its shortest text writes (2.675, not the binary 2.67499…), when it is one
/// rust_decimal holds (up to about 7.9 × 10^28).
fn written_decimal(x: f64) -> Option<Decimal> {
    // Rust prints floats in full (no exponent) with the fewest digits that read back.
    Decimal::from_str(&x.to_string()).ok()
}

/// The `f64` nearest to `d`: the one whose shortest text is `d` for up to 15 significant digits.
fn nearest_f64(d: Decimal) -> f64 {
    d.to_string().parse().unwrap_or(f64::NAN)
}

/// `x` rounded half away from zero to `places` as written: round_to(2.675, 2) is 2.68, as a
/// person (and the field it is stored in) rounds it. Binary arithmetic gave 2.67.
fn round_half_up(x: f64, places: u32) -> f64 {
    match written_decimal(x) {
        Some(d) => nearest_f64(d.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero)),
        // Beyond rust_decimal's range no fraction is left to round.
        None => x,
    }
}

/// The sum of the decimals `values` write: 0.1 + 0.2 is 0.3, not 0.30000000000000004. Falls
/// back to binary addition past rust_decimal's range.
fn exact_sum(values: &[f64]) -> f64 {
    let decimals: Option<Vec<Decimal>> = values.iter().map(|&x| written_decimal(x)).collect();
    match decimals.and_then(|ds| ds.into_iter().try_fold(Decimal::ZERO, Decimal::checked_add)) {
        Some(total) => nearest_f64(total),
        None => values.iter().sum(),
    }
}

/// A platform function as a script's author sees it. The reference (`docs/rule-functions.md`)
/// and the editors' completion (`GET /api/rule-functions`) are made from [`FUNCTIONS`], and a
/// test holds the table to what [`register`] registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Function {
    pub name: &'static str,
    /// How it is called, its parameters named: `add_days(date, days)`.
    pub call: &'static str,
    /// What it answers.
    pub returns: &'static str,
    /// `dates`, `rows`, `numbers`, `problems and effects`, `records`.
    pub group: &'static str,
    pub doc: &'static str,
}

/// Every platform function, in the order the reference lists them.
pub const FUNCTIONS: &[Function] = &[
    Function {
        name: "now",
        call: "now()",
        returns: "text",
        group: "dates",
        doc: "The current instant, RFC 3339 in UTC (`2026-12-05T08:00:00Z`): the command's time, the same for every rule it runs.",
    },
    Function { name: "today", call: "today()", returns: "date", group: "dates", doc: "Today's date, `YYYY-MM-DD`, in UTC." },
    Function {
        name: "add_days",
        call: "add_days(date, days)",
        returns: "date",
        group: "dates",
        doc: "The date `days` after `date` (before it when negative).",
    },
    Function {
        name: "add_hours",
        call: "add_hours(instant, hours)",
        returns: "text",
        group: "dates",
        doc: "The instant `hours` after `instant` (RFC 3339, as `now()` writes it; a date counts from its midnight UTC), RFC 3339 in UTC: `add_hours(now(), 4)` is a deadline four hours on.",
    },
    Function {
        name: "days_between",
        call: "days_between(from, to)",
        returns: "integer",
        group: "dates",
        doc: "Whole days from `from` to `to`: negative when `to` comes first.",
    },
    Function { name: "year", call: "year(date)", returns: "integer", group: "dates", doc: "The year of a date." },
    Function { name: "month", call: "month(date)", returns: "integer", group: "dates", doc: "The month of a date, 1–12." },
    Function {
        name: "sum",
        call: "sum(rows, field)",
        returns: "number",
        group: "rows",
        doc: "The total of `field` over child-table rows (`sum(record.items, \"amount\")`), added as the decimals written, so money adds up exactly. Rows without a number count as nothing.",
    },
    Function {
        name: "avg",
        call: "avg(rows, field)",
        returns: "number",
        group: "rows",
        doc: "The mean of `field` over the rows that have a number in it; 0 when none has.",
    },
    Function {
        name: "min_of",
        call: "min_of(rows, field)",
        returns: "number",
        group: "rows",
        doc: "The smallest `field` of the rows (infinity when none has a number).",
    },
    Function {
        name: "max_of",
        call: "max_of(rows, field)",
        returns: "number",
        group: "rows",
        doc: "The largest `field` of the rows (minus infinity when none has a number).",
    },
    Function {
        name: "round_to",
        call: "round_to(number, digits)",
        returns: "number",
        group: "numbers",
        doc: "`number` rounded half away from zero to `digits` (0–9) decimals, as the decimal written: `round_to(2.675, 2)` is 2.68.",
    },
    Function {
        name: "error",
        call: "error(field, message)",
        returns: "nothing",
        group: "problems and effects",
        doc: "Refuses the save with `message` at `field` (a field id or a JSON pointer); the rule carries on, so it can name every problem at once.",
    },
    Function {
        name: "notify",
        call: "notify(username, text)",
        returns: "nothing",
        group: "problems and effects",
        doc: "Sends `text` to a user's notifications, written in the save's transaction.",
    },
    Function {
        name: "notify_about",
        call: "notify_about(username, text, form, id)",
        returns: "nothing",
        group: "problems and effects",
        doc: "As `notify`, about record `id` of `form`, which the notification opens (a schedule's reminder about a deal).",
    },
    Function {
        name: "create",
        call: "create(form, data)",
        returns: "nothing",
        group: "problems and effects",
        doc: "Creates a record of `form` in this app from the map `data`, in the save's transaction, with the app's authority.",
    },
    Function {
        name: "update",
        call: "update(form, id, data)",
        returns: "nothing",
        group: "problems and effects",
        doc: "Changes the fields `data` names on record `id` of `form`, in the save's transaction, with the app's authority.",
    },
    Function {
        name: "webhook",
        call: "webhook(url, event, data)",
        returns: "nothing",
        group: "problems and effects",
        doc: "Queues `{event, app, data}` for an outside system at the http(s) `url`, in the outbox, written in the save's transaction and delivered after it (a mail service sending a campaign's e-mail).",
    },
    Function {
        name: "lookup",
        call: "lookup(form, id)",
        returns: "record or ()",
        group: "records",
        doc: "Record `id` of `form` as a map (with `id` and `owner`), read with the app's authority; `()` when there is none.",
    },
    Function {
        name: "lookup_as_user",
        call: "lookup_as_user(form, id)",
        returns: "record or ()",
        group: "records",
        doc: "As `lookup`, but only if the user the rule runs for may read the record, and without the fields hidden from them.",
    },
    Function {
        name: "find",
        call: "find(form, filter, limit)",
        returns: "list of records",
        group: "records",
        doc: "Records of `form` matching `filter` (the list API's filter language, as a map), at most `limit` (and the sandbox's `max_find`), read with the app's authority.",
    },
    Function {
        name: "find_as_user",
        call: "find_as_user(form, filter, limit)",
        returns: "list of records",
        group: "records",
        doc: "As `find`, but only what the user the rule runs for may read.",
    },
    Function {
        name: "round_robin",
        call: "round_robin(pool, members)",
        returns: "username",
        group: "records",
        doc: "The next of `members` for the named `pool`, in turn across every save and server: for `assign` rules.",
    },
    Function {
        name: "connector",
        call: "connector(id, key)",
        returns: "map or ()",
        group: "records",
        doc: "What the app's connector `id` (`connectors` in `app.json`: a business registry, say) answers for `key`, as a map; `()` when it knows nothing of it.",
    },
];

/// The reference of the platform functions, as `docs/rule-functions.md` holds it.
pub fn reference() -> String {
    let mut out = String::from(
        "# Rule functions\n\nThe platform functions a rule or an expression may call, besides rhai's own (text, maths,\narrays, maps). Generated from `rules::FUNCTIONS`; a test holds this file to it.\n",
    );
    let mut group = "";
    for f in FUNCTIONS {
        if f.group != group {
            group = f.group;
            out.push_str(&format!(
                "\n## {}{}\n\n| Call | Answers | What it does |\n|---|---|---|\n",
                group[..1].to_uppercase(),
                &group[1..]
            ));
        }
        out.push_str(&format!("| `{}` | {} | {} |\n", f.call, f.returns, f.doc.replace('|', "\\|")));
    }
    out
}

pub(crate) fn register(engine: &mut rhai::Engine) {
    // Time: dates are `YYYY-MM-DD` text, instants RFC 3339 in UTC.
    engine.register_fn("now", || clock().to_rfc3339_opts(SecondsFormat::Secs, true));
    engine.register_fn("today", || clock().date_naive().format("%Y-%m-%d").to_string());
    engine.register_fn("add_days", |d: &str, n: i64| -> Fallible<String> {
        Ok((date(d)? + chrono::Duration::days(n)).format("%Y-%m-%d").to_string())
    });
    engine.register_fn("add_hours", |t: &str, n: i64| -> Fallible<String> {
        Ok((instant(t)? + chrono::Duration::hours(n)).to_rfc3339_opts(SecondsFormat::Secs, true))
    });
    engine.register_fn("days_between", |a: &str, b: &str| -> Fallible<i64> { Ok((date(b)? - date(a)?).num_days()) });
    engine.register_fn("year", |d: &str| -> Fallible<i64> { Ok(i64::from(date(d)?.year())) });
    engine.register_fn("month", |d: &str| -> Fallible<i64> { Ok(i64::from(date(d)?.month())) });

    // Aggregates over child rows: `sum(record.items, "amount")`.
    engine.register_fn("sum", |rows: Array, field: &str| exact_sum(&column(&rows, field)));
    engine.register_fn("avg", |rows: Array, field: &str| {
        let v = column(&rows, field);
        if v.is_empty() { 0.0 } else { v.iter().sum::<f64>() / v.len() as f64 }
    });
    engine.register_fn("min_of", |rows: Array, field: &str| column(&rows, field).into_iter().fold(f64::INFINITY, f64::min));
    engine.register_fn("max_of", |rows: Array, field: &str| column(&rows, field).into_iter().fold(f64::NEG_INFINITY, f64::max));
    engine.register_fn("round_to", |x: f64, digits: i64| round_half_up(x, digits.clamp(0, 9) as u32));
    engine.register_fn("round_to", |x: i64, _digits: i64| x as f64);

    // Reports from the script.
    engine.register_fn("error", |path: &str, message: &str| -> Fallible<()> {
        let path = if path.starts_with('/') { path.to_owned() } else { format!("/{path}") };
        with_current(|cur| cur.state.errors.push((path, message.to_owned())))
    });
    engine.register_fn("notify", |user: &str, text: &str| -> Fallible<()> {
        with_current(|cur| cur.state.effects.push(Effect::Notify { user: user.to_owned(), text: text.to_owned(), about: None }))
    });
    engine.register_fn("notify_about", |user: &str, text: &str, form: &str, id: &str| -> Fallible<()> {
        let about = Some((form.to_owned(), id.to_owned()));
        with_current(|cur| cur.state.effects.push(Effect::Notify { user: user.to_owned(), text: text.to_owned(), about }))
    });
    engine.register_fn("create", |form: &str, data: RhaiMap| -> Fallible<()> {
        let data = json(&Dynamic::from_map(data));
        with_current(|cur| cur.state.effects.push(Effect::Create { form: form.to_owned(), data }))
    });
    engine.register_fn("webhook", |url: &str, event: &str, data: RhaiMap| -> Fallible<()> {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(format!("webhook: `{url}` is no http(s) address").into());
        }
        let data = json(&Dynamic::from_map(data));
        with_current(|cur| cur.state.effects.push(Effect::Webhook { url: url.to_owned(), event: event.to_owned(), data }))
    });
    engine.register_fn("update", |form: &str, id: &str, data: RhaiMap| -> Fallible<()> {
        let data = json(&Dynamic::from_map(data));
        with_current(|cur| cur.state.effects.push(Effect::Update { form: form.to_owned(), id: id.to_owned(), data }))
    });

    // Reading the platform, through the host.
    for (name, read_as) in [("lookup", ReadAs::App), ("lookup_as_user", ReadAs::User)] {
        engine.register_fn(name, move |form: &str, id: &str| -> Fallible<Dynamic> {
            host_call(|host, _| host.lookup(form, id, read_as)).map(|found| found.as_ref().map(dynamic).unwrap_or(Dynamic::UNIT))
        });
    }
    for (name, read_as) in [("find", ReadAs::App), ("find_as_user", ReadAs::User)] {
        engine.register_fn(name, move |form: &str, filter: RhaiMap, limit: i64| -> Fallible<Array> {
            let filter = json(&Dynamic::from_map(filter));
            host_call(|host, max| host.find(form, filter, (limit.max(0) as u64).min(max), read_as))
                .map(|rows| rows.iter().map(dynamic).collect())
        });
    }
    engine.register_fn("connector", |id: &str, key: &str| -> Fallible<Dynamic> {
        host_call(|host, _| host.connector(id, key)).map(|found| found.as_ref().map(dynamic).unwrap_or(Dynamic::UNIT))
    });
    engine.register_fn("round_robin", |pool: &str, members: Array| -> Fallible<String> {
        let members: Vec<String> = members.into_iter().filter_map(|m| m.into_string().ok()).collect();
        if members.is_empty() {
            return Err("round_robin needs at least one member".into());
        }
        host_call(|host, _| host.round_robin(pool, &members))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_names_every_registered_function_and_only_those() {
        let mut engine = rhai::Engine::new_raw();
        register(&mut engine);
        let registered: std::collections::BTreeSet<String> =
            engine.gen_fn_signatures(false).iter().filter_map(|s| s.split('(').next().map(str::to_owned)).collect();
        let documented: std::collections::BTreeSet<String> = FUNCTIONS.iter().map(|f| f.name.to_owned()).collect();
        assert_eq!(registered, documented, "a function is registered without a line in FUNCTIONS, or the other way round");
        for f in FUNCTIONS {
            assert!(f.call.starts_with(&format!("{}(", f.name)), "{}: its call is written `{}`", f.name, f.call);
        }
    }

    #[test]
    fn the_reference_in_docs_is_the_one_the_table_makes() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/rule-functions.md");
        let written = std::fs::read_to_string(&path).unwrap_or_default();
        if written != reference() {
            let fresh = std::env::temp_dir().join("rule-functions.md");
            std::fs::write(&fresh, reference()).unwrap();
            panic!("docs/rule-functions.md is not what rules::FUNCTIONS makes: copy {} over it", fresh.display());
        }
    }

    #[test]
    fn round_to_rounds_the_written_decimal_half_up() {
        assert_eq!(round_half_up(2.675, 2), 2.68);
        assert_eq!(round_half_up(-2.675, 2), -2.68);
        assert_eq!(round_half_up(1.005, 2), 1.01);
        assert_eq!(round_half_up(0.1 * 3.0, 2), 0.3);
        assert_eq!(round_half_up(2.5, 0), 3.0);
        assert_eq!(round_half_up(1e300, 2), 1e300);
    }

    #[test]
    fn sums_add_the_written_decimals() {
        assert_eq!(exact_sum(&[0.1, 0.1, 0.1]), 0.3);
        assert_eq!(exact_sum(&[0.1, 0.2]).to_string(), "0.3");
        assert_eq!(exact_sum(&[]), 0.0);
        assert_eq!(exact_sum(&[1e300, 1.0]), 1e300);
    }
}
