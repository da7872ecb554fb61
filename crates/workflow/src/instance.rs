//! Where a record stands in its flow, stored with the record.

use serde::{Deserialize, Serialize};

/// A record's place in its flow: the state, the approval in progress and what happened so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub flow: String,
    /// The flow definition version the record follows.
    pub version: i64,
    pub state: String,
    /// Counts entries into states; a timer started at one entry is void after the next.
    pub entry: u32,
    /// The state before this one: where a recall or a plain rejection returns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub came_from: Option<String>,
    /// Who moved the record into the current approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Progress>,
    /// Every move and decision, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log: Vec<LogEntry>,
}

/// The approval under way in the current state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// The id of the current step of the state's `approval.steps`: by id, not position, so a
    /// definition that adds or reorders steps cannot hand one step's decisions to another.
    #[serde(deserialize_with = "step_ref")]
    pub step: String,
    pub seats: Vec<Seat>,
    /// Whether anyone decided anything in this approval (the submitter may recall until then).
    #[serde(default)]
    pub decided: bool,
}

/// One approver seat of the current step: any of `users` may take it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seat {
    pub id: u32,
    pub users: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub by: String,
    pub approved: bool,
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    pub at: String,
    pub by: String,
    pub action: String,
    pub from: String,
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl Instance {
    /// Logs a decision or note within the current state, on approval step `step`.
    pub(crate) fn note(&mut self, at: String, by: &str, action: &str, step: &str, comment: Option<String>) {
        let state = self.state.clone();
        self.log.push(LogEntry {
            at,
            by: by.to_owned(),
            action: action.to_owned(),
            from: state.clone(),
            to: state,
            step: Some(step.to_owned()),
            comment,
        });
    }
}

/// Instances stored before steps were tracked by id hold the step's position: it is kept as its
/// digits, which no step id can be (ids start with a letter), and resolved against the version
/// the instance was stored under ([`crate::Workflow::current_step`]).
fn step_ref<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum StepRef {
        Id(String),
        Position(usize),
    }
    Ok(match StepRef::deserialize(d)? {
        StepRef::Id(id) => id,
        StepRef::Position(position) => position.to_string(),
    })
}

impl Progress {
    /// Seats whose decision is awaited now: the first undecided one in a sequential step, every
    /// undecided one otherwise.
    pub fn waiting(&self, sequential: bool) -> Vec<&Seat> {
        let open = self.seats.iter().filter(|s| s.decision.is_none());
        if sequential { open.take(1).collect() } else { open.collect() }
    }
}
