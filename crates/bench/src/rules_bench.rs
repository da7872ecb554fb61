//! Rule evaluations per second: the CRM's lead-scoring script through the sandbox, against the
//! same scoring written in Rust (the baseline), on one core.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use rules::{Host, Input, Limits, Rules};
use serde_json::{Value, json};

use crate::median_rate;

/// Scoring reads no other records when the lead has no id yet, so the host is never asked.
struct Idle;

impl Host for Idle {
    fn lookup(&self, _: &str, _: &str, _: rules::ReadAs) -> Result<Option<Value>, String> {
        Ok(None)
    }
    fn find(&self, _: &str, _: Value, _: u64, _: rules::ReadAs) -> Result<Vec<Value>, String> {
        Ok(Vec::new())
    }
    fn round_robin(&self, _: &str, members: &[String]) -> Result<String, String> {
        Ok(members[0].clone())
    }
}

fn lead() -> serde_json::Map<String, Value> {
    json!({"name": "张伟", "company": "华信科技", "region": "east", "industry": "it", "source": "referral",
           "email": "zw@huaxin.example", "phone": "13800000001", "rating": "hot", "estimated_budget": 500000})
    .as_object()
    .cloned()
    .unwrap_or_default()
}

/// The lead-scoring rule, hand-written: what the script would cost without a sandbox.
fn native_score(lead: &serde_json::Map<String, Value>) -> i64 {
    let s = |k: &str| lead.get(k).and_then(Value::as_str);
    let mut points = match s("industry") {
        Some("finance" | "it") => 15,
        Some("manufacturing" | "energy") => 12,
        Some("healthcare" | "automotive" | "electronics") => 10,
        Some("telecom") => 8,
        _ => 0,
    };
    points += match s("source") {
        Some("referral") => 20,
        Some("partner" | "trade_show") => 15,
        Some("bidding") => 12,
        Some("campaign" | "web") => 10,
        Some("search_ads") => 8,
        Some("social") => 5,
        Some("cold_call") => 3,
        _ => 0,
    };
    if let Some(budget) = lead.get("estimated_budget").and_then(Value::as_f64) {
        points += if budget >= 1e6 {
            25
        } else if budget >= 2e5 {
            15
        } else if budget > 0.0 {
            5
        } else {
            0
        };
    }
    points += 5 * ["email", "phone", "title"].iter().filter(|k| lead.contains_key(**k)).count() as i64;
    points += match s("rating") {
        Some("hot") => 15,
        Some("warm") => 5,
        _ => 0,
    };
    points.min(100)
}

pub(crate) fn run() {
    let source = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../apps/crm/rules/lead_score.rhai"))
        .expect("apps/crm/rules/lead_score.rhai");
    let mut rules = Rules::new(Limits::default());
    rules.compile("lead_score", &source).expect("lead_score compiles");
    let host: Arc<dyn Host> = Arc::new(Idle);
    let input = Input { record: lead(), old: None, user: json!({"username": "rep1"}), at: None };

    let script = rules.call("lead_score", "score", &input, host.clone()).expect("scores").value;
    assert_eq!(script, json!(native_score(&input.record)), "the baseline computes the same score");

    let runs = 7;
    let rhai = median_rate(runs, 20_000, || {
        black_box(rules.call("lead_score", "score", black_box(&input), host.clone()).ok());
    });
    let native = median_rate(runs, 2_000_000, || {
        black_box(native_score(black_box(&input.record)));
    });
    println!("rules: CRM lead scoring, one thread, median of {runs} runs");
    println!("  sandboxed rhai script   {rhai:>12.0} evaluations/s");
    println!("  hand-written Rust       {native:>12.0} evaluations/s (baseline)");
    println!("  ratio script/baseline   {:>12.3}", rhai / native);
}
