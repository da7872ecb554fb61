//! Scenario tests of an app (`tests/<id>.json`): steps taken as named users against a throwaway
//! database — create, update, act, approve, reject, transfer — a clock that can be advanced so
//! timers and schedules fire, and expectations on records, tasks and outgoing messages. The
//! engine runs them (`tessera test`); this is their format.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The most steps a scenario takes: a test, not a load generator.
pub const MAX_SCENARIO_STEPS: usize = 1_000;
/// The furthest one `advance` moves the clock (a year): the jobs due by then all run, and a
/// repeating timer runs once a period.
pub const MAX_ADVANCE_SECONDS: i64 = 366 * 86_400;

/// One scenario: a name, where its users come from, and its steps in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    /// The seed whose users (and only they) exist; without one, only `admin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<String>,
    /// When the scenario starts (RFC 3339, `2026-03-01T09:00:00Z`); the moment it runs by
    /// default. Its steps, jobs and report expectations read this clock, so "31–60 days overdue"
    /// holds on any day the test runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<String>,
    pub steps: Vec<Step>,
}

/// One step: exactly one of `create`, `update`, `act`, `approve`, `reject`, `transfer`,
/// `advance` or `expect`. A step that acts names its user (`as`); `error` expects it to be
/// refused with that code instead.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    #[serde(rename = "as", default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Creates a record of this form with `data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<String>,
    /// Changes the record saved under this name (`$deal`) with `data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<String>,
    /// Takes this flow action on the record named by `on`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<String>,
    /// Decides the user's pending approval task of the record saved under this name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approve: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reject: Option<String>,
    /// Hands the user's pending task of this record to `to`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer: Option<String>,
    /// Takes the record saved under this name from its form's pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
    /// Puts the record saved under this name back into its form's pool.
    #[serde(rename = "return", default, skip_serializing_if = "Option::is_none")]
    pub return_to_pool: Option<String>,
    /// Gives the record saved under this name to the user `to`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assign: Option<String>,
    /// Merges the record saved under this name into the one `to` names (`$keep`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<String>,
    /// Names (`save_as`) the one record of a form matching a filter, as the user in `as` (the
    /// admin by default) may see it: a record a rule or a flow created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub find: Option<FindRecord>,
    /// Moves the clock on (`30m`, `2h`, `3d`) and runs every job due by then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// The name later steps use for the record this step created (`deal`, used as `$deal`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save_as: Option<String>,
    /// The error code the step must be refused with (`validation_failed`, `forbidden` …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Step {
    /// The names of the actions this step takes; a valid step takes exactly one.
    pub fn actions(&self) -> Vec<&'static str> {
        let taken = [
            ("create", self.create.is_some()),
            ("update", self.update.is_some()),
            ("act", self.act.is_some()),
            ("approve", self.approve.is_some()),
            ("reject", self.reject.is_some()),
            ("transfer", self.transfer.is_some()),
            ("claim", self.claim.is_some()),
            ("return", self.return_to_pool.is_some()),
            ("assign", self.assign.is_some()),
            ("merge", self.merge.is_some()),
            ("find", self.find.is_some()),
            ("advance", self.advance.is_some()),
            ("expect", self.expect.is_some()),
        ];
        taken.into_iter().filter(|(_, on)| *on).map(|(name, _)| name).collect()
    }
}

/// What must hold at this point.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The record saved under this name, read as the admin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// Who reads `record` instead of the admin: the fields hidden from them read as `null`, and
    /// a record outside their scope fails the expectation.
    #[serde(rename = "as", default, skip_serializing_if = "Option::is_none")]
    pub reader: Option<String>,
    /// Its flow state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Its owner: a username, or `""` for a record in its form's pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Values its data must hold (others may be there too); `null` for none. Numbers compare by
    /// value; an object (a child row) holds the members named, a list as many items as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Map<String, Value>>,
    /// How many pending approval tasks a user has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<TaskCount>,
    /// How many messages of a kind went to a user (at least, at most).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbox: Option<OutboxCount>,
    /// How many records of a form match a filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<RecordCount>,
    /// Rows a saved report shows, at the scenario's time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<ReportRows>,
}

/// Rows of a saved report as a user sees them, each an object of dimension and measure values
/// by column id (only those named are compared; numbers by value).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRows {
    /// The saved report's id.
    pub id: String,
    /// Who runs it (the admin by default): their scope decides what it counts.
    #[serde(rename = "as", default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Rows it must show: the one with the dimension values given must have the measures given.
    /// `$name` stands for a saved record's id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rows: Vec<Map<String, Value>>,
    /// Rows it must not show: none may have all the values given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub absent: Vec<Map<String, Value>>,
}

/// The record a `find` step names: exactly one of `form` must match `filter`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FindRecord {
    pub form: String,
    /// A list filter; `$name` stands for a saved record's id.
    pub filter: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordCount {
    pub form: String,
    /// A list filter (`{"opportunity": "$deal"}`); `$name` stands for a saved record's id.
    #[serde(default)]
    pub filter: Map<String, Value>,
    pub count: u64,
    /// Who counts: only the records this user may read (the admin by default).
    #[serde(rename = "as", default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskCount {
    pub user: String,
    pub count: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutboxCount {
    /// `notify` for a rule's or a flow's notification.
    pub kind: String,
    pub to: String,
    #[serde(default)]
    pub at_least: usize,
    /// At most this many: `0` says nothing was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_most: Option<usize>,
}

/// The scenario in `text`, or the problems with it as `(pointer, message)`.
pub fn parse_scenario(text: &str) -> Result<Scenario, Vec<(String, String)>> {
    let scenario: Scenario = serde_json::from_str(text).map_err(|e| vec![(String::new(), format!("not a scenario: {e}"))])?;
    let mut problems = Vec::new();
    if scenario.steps.len() > MAX_SCENARIO_STEPS {
        problems.push(("/steps".to_owned(), format!("at most {MAX_SCENARIO_STEPS} steps a scenario")));
    }
    for (i, step) in scenario.steps.iter().enumerate() {
        let actions = step.actions();
        if actions.len() != 1 {
            let message = format!(
                "a step takes exactly one of create, update, act, approve, reject, transfer, claim, return, assign, merge, find, advance, expect (here: {actions:?})"
            );
            problems.push((format!("/steps/{i}"), message));
        }
        let acts = !matches!(actions.as_slice(), ["advance"] | ["expect"] | ["find"]);
        if step.find.is_some() && step.save_as.is_none() {
            problems.push((format!("/steps/{i}/save_as"), "`find` names the record it finds in `save_as`".to_owned()));
        }
        if acts && step.user.is_none() {
            problems.push((format!("/steps/{i}/as"), "a step that acts names its user in `as`".to_owned()));
        }
        match step.advance.as_deref().map(|a| (a, crate::parse_duration(a))) {
            Some((advance, None)) => {
                problems.push((format!("/steps/{i}/advance"), format!("`{advance}` is no duration such as 30m, 2h or 3d")))
            }
            Some((advance, Some(seconds))) if seconds > MAX_ADVANCE_SECONDS => {
                problems.push((format!("/steps/{i}/advance"), format!("`{advance}` is more than a year; advance in steps")))
            }
            _ => {}
        }
        if step.act.is_some() && step.on.is_none() {
            problems.push((format!("/steps/{i}/on"), "`act` names its record in `on`".to_owned()));
        }
    }
    if problems.is_empty() { Ok(scenario) } else { Err(problems) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_takes_one_action_as_a_user_and_the_clock_moves_within_bounds() {
        let problems = |steps: &str| parse_scenario(&format!(r#"{{"name": "t", "steps": {steps}}}"#)).err().unwrap_or_default();
        assert!(problems(r#"[{"advance": "2d"}, {"expect": {}}]"#).is_empty());
        assert_eq!(problems(r#"[{"create": "lead"}]"#)[0].0, "/steps/0/as");
        assert_eq!(problems(r#"[{"as": "a", "create": "lead", "advance": "1d"}]"#)[0].0, "/steps/0");
        assert_eq!(problems(r#"[{"advance": "soon"}]"#)[0].0, "/steps/0/advance");
        assert!(problems(r#"[{"advance": "400d"}]"#)[0].1.contains("more than a year"));
        let many = format!("[{}]", vec![r#"{"advance": "1s"}"#; MAX_SCENARIO_STEPS + 1].join(","));
        assert_eq!(problems(&many)[0].0, "/steps");
        // A find names what it finds; it needs no user.
        let find = r#"{"find": {"form": "contract", "filter": {"opportunity": "$deal"}}"#;
        assert_eq!(problems(&format!("[{find}}}]"))[0].0, "/steps/0/save_as");
        assert!(problems(&format!(r#"[{find}, "save_as": "contract"}}]"#)).is_empty());
    }
}
