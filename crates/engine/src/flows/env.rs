//! What the workflow crate asks of the engine while it steps: people, conditions, values.

use std::sync::Arc;

use defs::Label;
use forms::{FieldCode, FieldError};
use serde_json::{Map, Value, json};
use workflow::{Env, Instance, StepError};

use super::actor_json;
use crate::people::Organisation;
use crate::{Actor, EngineError, LoadedApp, time};

/// The rules' sandbox for flow conditions: they see the record and the user, nothing else.
pub(super) struct NoHost;

impl rules::Host for NoHost {
    fn lookup(&self, _: &str, _: &str, _: rules::ReadAs) -> Result<Option<Value>, String> {
        Err("flow conditions cannot read other records".into())
    }
    fn find(&self, _: &str, _: Value, _: u64, _: rules::ReadAs) -> Result<Vec<Value>, String> {
        Err("flow conditions cannot read other records".into())
    }
    fn round_robin(&self, _: &str, _: &[String]) -> Result<String, String> {
        Err("flow conditions cannot rotate".into())
    }
}

/// The engine's answers to the workflow crate: people from the users table and the app's
/// departments, conditions from the rules engine.
pub(super) struct FlowEnv<'a> {
    pub(super) now: String,
    /// The record's id (empty before a new record is written).
    pub(super) id: &'a str,
    pub(super) owner: &'a str,
    pub(super) record: &'a Map<String, Value>,
    pub(super) user: Value,
    pub(super) org: &'a Organisation,
    pub(super) app: &'a LoadedApp,
    /// The time all the expressions of one command may take together, as a save's rules share
    /// theirs: a move evaluating many conditions cannot take the deadline many times over.
    pub(super) allowance: rules::Allowance,
}

impl Env for FlowEnv<'_> {
    fn now(&self) -> String {
        self.now.clone()
    }
    fn owner(&self) -> &str {
        self.owner
    }
    fn value(&self, field: &str) -> Option<&Value> {
        self.record.get(field)
    }
    fn role_members(&self, role: &str) -> Vec<String> {
        self.org.role_members(self.app.id(), role)
    }
    fn managers(&self, user: &str, levels: u8) -> Vec<String> {
        self.org.managers(user, levels)
    }
    fn holds(&self, condition: &str) -> Result<bool, String> {
        Ok(truthy(&self.eval(condition, &[]).map_err(|e| e.to_string())?))
    }
    fn rule_users(&self, rule: &str) -> Result<Vec<String>, String> {
        let (script, function) = rule.split_once('.').unwrap_or((rule, ""));
        let input = self.input();
        let outcome =
            self.allowance.spend(|| self.app.rules.call(script, function, &input, Arc::new(NoHost))).map_err(|e| e.to_string())?;
        Ok(match outcome.value {
            Value::String(user) => vec![user],
            Value::Array(users) => users.into_iter().filter_map(|u| u.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        })
    }
}

impl<'a> FlowEnv<'a> {
    /// The answers for stored `record`, acting as `actor` (`None`: the platform, as no user).
    pub(super) fn of_record(app: &'a LoadedApp, actor: Option<&Actor>, record: &'a store::Record, org: &'a Organisation) -> Self {
        FlowEnv {
            now: time::now(),
            id: &record.id,
            owner: &record.owner,
            record: &record.data,
            user: actor.map_or(Value::Null, |a| actor_json(a, app.id())),
            org,
            app,
            allowance: app.rules.allowance(),
        }
    }
}

impl FlowEnv<'_> {
    pub(super) fn input(&self) -> rules::Input {
        let mut record = self.record.clone();
        record.insert("id".into(), Value::String(self.id.to_owned()));
        record.insert("owner".into(), Value::String(self.owner.to_owned()));
        rules::Input { record, old: None, user: self.user.clone(), at: time::rules_time() }
    }

    pub(super) fn eval(&self, source: &str, vars: &[(&str, &Value)]) -> Result<Value, EngineError> {
        let expression = self
            .app
            .rules
            .expression(source)
            .map_err(|e| EngineError::Internal(format!("flow expression `{source}` did not compile: {}", e.message)))?;
        let input = self.input();
        Ok(self.allowance.spend(|| self.app.rules.eval_with(&expression, &input, vars, Arc::new(NoHost)))?)
    }

    /// A value of `set` or `create.data`: literal JSON, or an expression after `=`.
    pub(super) fn value_of(&self, value: &Value, created: &Value) -> Result<Value, EngineError> {
        match value.as_str().and_then(|s| s.strip_prefix('=')) {
            Some(source) => self.eval(source, &[("created", created)]),
            None => Ok(value.clone()),
        }
    }
}

pub(super) fn truthy(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::Null => false,
        Value::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

pub(super) fn step_error(e: StepError) -> EngineError {
    match e {
        StepError::UnknownAction(action) => EngineError::NotFound(format!("action `{action}`")),
        StepError::Unavailable(message) => EngineError::Conflict(message),
        StepError::NotAllowed(message) => EngineError::Forbidden(message),
        StepError::MissingFields(fields) => EngineError::Invalid(
            fields
                .iter()
                .map(|f| FieldError::coded(format!("/{f}"), FieldCode::RequiredForAction, "required before this action"))
                .collect(),
        ),
        StepError::Guard(message) => {
            EngineError::Invalid(vec![FieldError::coded("", FieldCode::Guard, guard_text(&message)).with("text", json!(message))])
        }
        StepError::Invalid(message) => EngineError::malformed(message),
        StepError::Condition { source_text, message } => {
            EngineError::Rule(rules::RuleError::Failed { rule: format!("flow condition `{source_text}`"), message })
        }
    }
}

/// A guard's message in every language it has, so the API needs no locale to be understood.
pub(super) fn guard_text(label: &Label) -> String {
    let mut texts = label.texts();
    texts.dedup();
    texts.join(" / ")
}

/// Usernames of `notify` recipients: `owner`, `submitter`, `manager`, `role:x`, `field:x` or a name.
pub(super) fn recipients(to: &[String], env: &FlowEnv, instance: &Instance) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for entry in to {
        let found = match entry.as_str() {
            // A record in its form's pool has nobody to tell.
            "owner" if env.owner == crate::records::POOL_OWNER => Vec::new(),
            "owner" => vec![env.owner.to_owned()],
            "submitter" => instance.submitter.iter().cloned().collect(),
            "manager" => env.managers(env.owner, 1),
            other => match (other.strip_prefix("role:"), other.strip_prefix("field:")) {
                (Some(role), _) => env.role_members(role),
                (_, Some(field)) => env.record.get(field).and_then(Value::as_str).map(str::to_owned).into_iter().collect(),
                _ => vec![other.to_owned()],
            },
        };
        for user in found {
            if !out.contains(&user) {
                out.push(user);
            }
        }
    }
    out
}
