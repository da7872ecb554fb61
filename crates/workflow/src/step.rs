//! The step function: an instance, a person and a command give the next instance and the
//! effects the engine applies. Nothing here reads or writes storage.

use std::collections::{BTreeMap, HashSet};

use defs::{Approval, ApprovalStep, Approver, Effect, Fallback, Label, Mode, PREVIOUS_STEP, Transition};
use serde::Serialize;
use serde_json::Value;

use crate::{Decision, Instance, LogEntry, Progress, Seat, Workflow};

/// Moves within one command that lead into further moves (an approval passing on its own into
/// another approval) stop here: a definition looping through approvals would never settle.
const MAX_CHAINED_MOVES: u8 = 8;

/// The person acting.
#[derive(Debug, Clone, Copy)]
pub struct Person<'a> {
    pub username: &'a str,
    pub roles: &'a [String],
    /// Whether the person may update the record (the right transitions without `who` ask for).
    pub may_update: bool,
    /// The platform itself (timers): every action is open to it.
    pub system: bool,
}

impl Person<'_> {
    fn is_admin(&self) -> bool {
        self.system || self.roles.iter().any(|r| r == "admin")
    }
}

/// What the engine knows around a step: the record, people, conditions.
pub trait Env {
    /// The time to record, RFC 3339.
    fn now(&self) -> String;
    fn owner(&self) -> &str;
    /// A field of the record.
    fn value(&self, field: &str) -> Option<&Value>;
    fn role_members(&self, role: &str) -> Vec<String>;
    /// The managers above `user`, nearest first, at most `levels`.
    fn managers(&self, user: &str, levels: u8) -> Vec<String>;
    /// Evaluates a condition over the record and the acting user.
    fn holds(&self, condition: &str) -> Result<bool, String>;
    /// Usernames an approver rule returns.
    fn rule_users(&self, rule: &str) -> Result<Vec<String>, String>;
}

/// What a person asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Takes a transition of the flow.
    Act(String),
    Approve,
    Reject,
    /// The submitter takes the request back before anyone decided (撤回).
    Recall,
    /// Hands the person's approval seat to another user (转交).
    Transfer(String),
    /// Adds an approver to the current step after the person's seat (加签).
    AddApprover(String),
    /// Sends the record back into the approval its state's `reapprove` names: the person
    /// changed a field the approval covered.
    Reapprove,
}

/// The result of a command.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub instance: Instance,
    /// States entered, in order: their `set` values apply; timers start for the last.
    pub entered: Vec<String>,
    /// The transition's effects, in order.
    pub effects: Vec<Effect>,
    /// The seat the person decided, when they approved or rejected.
    pub decided: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StepError {
    #[error("this flow has no action `{0}`")]
    UnknownAction(String),
    /// The action exists but not now (another state, already decided): a conflict.
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    NotAllowed(String),
    /// Fields the transition requires are empty.
    #[error("required before this action: {}", .0.join(", "))]
    MissingFields(Vec<String>),
    #[error("{}", .0.text("en"))]
    Guard(Label),
    #[error("{0}")]
    Invalid(String),
    /// A condition or rule could not be evaluated.
    #[error("{source_text}: {message}")]
    Condition { source_text: String, message: String },
}

/// An action a person may take now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Available {
    pub action: String,
    pub label: Label,
}

fn label(en: &str, zh: &str) -> Label {
    Label::Translated(BTreeMap::from([("en".to_owned(), en.to_owned()), ("zh-CN".to_owned(), zh.to_owned())]))
}

fn holds(env: &dyn Env, condition: &str) -> Result<bool, StepError> {
    env.holds(condition).map_err(|message| StepError::Condition { source_text: condition.to_owned(), message })
}

fn is_empty(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(_) => false,
    }
}

impl Workflow {
    /// The instance of a new record: in `state` when a trusted writer gave one the flow has,
    /// else in the initial state.
    pub fn start(&self, version: i64, state: Option<&str>, creator: &str, env: &dyn Env) -> Result<Step, StepError> {
        let initial = self.def.initial().map(|s| s.id.clone()).unwrap_or_default();
        let state = state.filter(|s| self.def.state(s).is_some()).map_or(initial, str::to_owned);
        let instance = Instance { flow: self.id.clone(), version, state: String::new(), entry: 0, ..Instance::default() };
        let mut step = Step { instance, entered: Vec::new(), effects: Vec::new(), decided: None };
        self.enter(&mut step, &state, creator, "start", None, env, 0)?;
        step.instance.came_from = None;
        step.instance.log.clear();
        Ok(step)
    }

    /// Applies `command` by `who` to `current`.
    pub fn step(
        &self,
        current: &Instance,
        who: &Person,
        command: &Command,
        comment: Option<String>,
        env: &dyn Env,
    ) -> Result<Step, StepError> {
        let mut next = Step { instance: current.clone(), entered: Vec::new(), effects: Vec::new(), decided: None };
        match command {
            Command::Act(action) => {
                let transition = self.def.transition(action).ok_or_else(|| StepError::UnknownAction(action.clone()))?;
                if !transition.from.contains(&current.state) {
                    return Err(StepError::Unavailable(format!("`{action}` cannot be taken in state `{}`", current.state)));
                }
                if !self.may_take(transition, who, env)? {
                    return Err(StepError::NotAllowed(format!("you may not take the action `{action}`")));
                }
                let missing: Vec<String> = transition.require.iter().filter(|f| is_empty(env.value(f))).cloned().collect();
                if !missing.is_empty() {
                    return Err(StepError::MissingFields(missing));
                }
                if let Some(guard) = &transition.guard
                    && !holds(env, &guard.condition)?
                {
                    return Err(StepError::Guard(guard.message.clone()));
                }
                next.effects = transition.effects.clone();
                self.enter(&mut next, &transition.to, who.username, action, comment, env, 0)?;
            }
            Command::Approve | Command::Reject => {
                let approved = *command == Command::Approve;
                let (approval, step) = self.current_step(current)?;
                let seat = self.my_seat(current, step, who)?;
                let at = env.now();
                let progress = next.instance.approval.as_mut().expect("checked by current_step");
                progress.decided = true;
                if let Some(s) = progress.seats.iter_mut().find(|s| s.id == seat) {
                    s.decision = Some(Decision { by: who.username.to_owned(), approved, at: at.clone(), comment: comment.clone() });
                }
                let index = position(approval, &progress.step).expect("checked by current_step");
                let outcome = outcome(step.mode, &progress.seats);
                let action = if approved { "approve" } else { "reject" };
                next.instance.note(at, who.username, action, &step.id, comment);
                next.decided = Some(seat);
                match outcome {
                    Outcome::Pending => {}
                    Outcome::Approved => self.advance(&mut next, approval, index + 1, who.username, env, 0)?,
                    Outcome::Rejected => self.reject(&mut next, approval, who.username, env)?,
                }
            }
            Command::Reapprove => {
                let to = self.def.state(&current.state).and_then(|s| s.reapprove.as_ref()).map(|r| r.to.clone());
                let to = to.ok_or_else(|| StepError::Unavailable(format!("state `{}` asks for no new approval", current.state)))?;
                if !(who.may_update || who.is_admin()) {
                    return Err(StepError::NotAllowed("you may not change this record".into()));
                }
                self.enter(&mut next, &to, who.username, "reapprove", comment, env, 0)?;
            }
            Command::Recall => {
                self.current_step(current)?;
                if current.submitter.as_deref() != Some(who.username) {
                    return Err(StepError::NotAllowed("only the submitter may recall".into()));
                }
                if current.approval.as_ref().is_some_and(|p| p.decided) {
                    return Err(StepError::Unavailable("an approver has already decided; it can no longer be recalled".into()));
                }
                let back = current.came_from.clone().unwrap_or_else(|| self.initial_id());
                self.enter(&mut next, &back, who.username, "recall", comment, env, 0)?;
            }
            Command::Transfer(to) | Command::AddApprover(to) => {
                let (approval, step) = self.current_step(current)?;
                let seat = self.my_seat(current, step, who)?;
                if to == who.username {
                    return Err(StepError::Invalid("choose someone other than yourself".into()));
                }
                if !approval.allow_self_approval && current.submitter.as_deref() == Some(to.as_str()) {
                    return Err(StepError::Invalid(format!("`{to}` submitted this request and may not approve it")));
                }
                let progress = next.instance.approval.as_mut().expect("checked by current_step");
                if progress.seats.iter().any(|s| s.decision.is_none() && s.users == [to.clone()]) {
                    return Err(StepError::Invalid(format!("`{to}` is already an approver of this step")));
                }
                let position = progress.seats.iter().position(|s| s.id == seat).unwrap_or(0);
                let action = if let Command::Transfer(_) = command {
                    progress.seats[position].users = vec![to.clone()];
                    "transfer"
                } else {
                    let id = progress.seats.iter().map(|s| s.id).max().unwrap_or(0) + 1;
                    progress.seats.insert(position + 1, Seat { id, users: vec![to.clone()], decision: None });
                    "add_approver"
                };
                let comment = Some(comment.map_or_else(|| format!("→ {to}"), |c| format!("→ {to}: {c}")));
                next.instance.note(env.now(), who.username, action, &step.id, comment);
            }
        }
        Ok(next)
    }

    /// `current`, an instance following `earlier` (an older version of this flow), moved onto
    /// this version as `version`; `None` when it has no place here. A record at rest moves when
    /// its state (mapped by `upgrade`) is here; one waiting in an approval only when this version
    /// declares `upgrade` and the step it waits on (mapped) is a step of the same state here —
    /// the decisions taken so far then count for that step, and no other.
    pub fn upgrade(&self, current: &Instance, earlier: &Workflow, version: i64) -> Option<Instance> {
        let declared = self.def.upgrade.as_ref();
        let moved = |state: &String| declared.and_then(|u| u.states.get(state)).unwrap_or(state).clone();
        let mut next = Instance { version, state: moved(&current.state), ..current.clone() };
        let state = self.def.state(&next.state)?;
        next.came_from = current.came_from.as_ref().map(moved).filter(|s| self.def.state(s).is_some());
        if let Some(progress) = next.approval.as_mut() {
            let mapping = declared?;
            let (_, step) = earlier.current_step(current).ok()?;
            let step = mapping.steps.get(&step.id).unwrap_or(&step.id);
            state.approval.as_ref()?.steps.iter().find(|s| &s.id == step)?;
            progress.step = step.clone();
        }
        Some(next)
    }

    /// What `who` may do now: transitions from the current state they may take, and the
    /// approval actions when a seat of theirs is waiting.
    pub fn available(&self, current: &Instance, who: &Person, env: &dyn Env) -> Result<Vec<Available>, StepError> {
        let mut out = Vec::new();
        for transition in self.def.transitions.iter().filter(|t| t.from.contains(&current.state)) {
            if self.may_take(transition, who, env)? {
                out.push(Available { action: transition.action.clone(), label: transition.label.clone() });
            }
        }
        if let Ok((_, step)) = self.current_step(current) {
            if self.my_seat(current, step, who).is_ok() {
                out.push(Available { action: "approve".into(), label: label("Approve", "同意") });
                out.push(Available { action: "reject".into(), label: label("Reject", "退回") });
                out.push(Available { action: "transfer".into(), label: label("Transfer", "转交") });
                out.push(Available { action: "add_approver".into(), label: label("Add approver", "加签") });
            }
            if current.submitter.as_deref() == Some(who.username) && !current.approval.as_ref().is_some_and(|p| p.decided) {
                out.push(Available { action: "recall".into(), label: label("Recall", "撤回") });
            }
        }
        Ok(out)
    }

    /// Seats awaited now in the current approval step (empty outside approvals).
    pub fn waiting<'i>(&self, current: &'i Instance) -> Vec<&'i Seat> {
        match (self.current_step(current), &current.approval) {
            (Ok((_, step)), Some(progress)) => progress.waiting(step.mode == Mode::Sequential),
            _ => Vec::new(),
        }
    }

    /// The locked fields `username` may still change in `current`: those the approval step under
    /// way lets its approvers edit, when it waits for them; none otherwise.
    pub fn editable_by<'w>(&'w self, current: &Instance, username: &str) -> &'w [String] {
        self.step_waiting_on(current, username).map_or(&[], |step| &step.editable)
    }

    /// The fields the step `current` waits at hides from `username`, one of the approvers it
    /// waits for; none for anyone else.
    pub fn hidden_from<'w>(&'w self, current: &Instance, username: &str) -> &'w [String] {
        self.step_waiting_on(current, username).map_or(&[], |step| &step.hidden)
    }

    /// Whether some approval step of the flow hides fields from its approvers.
    pub fn hides_fields(&self) -> bool {
        self.def.states.iter().filter_map(|s| s.approval.as_ref()).any(|a| a.steps.iter().any(|step| !step.hidden.is_empty()))
    }

    /// The step `current` waits at, when it waits on `username`.
    fn step_waiting_on(&self, current: &Instance, username: &str) -> Option<&ApprovalStep> {
        let (_, step) = self.current_step(current).ok()?;
        self.waiting(current).iter().any(|seat| seat.users.iter().any(|u| u == username)).then_some(step)
    }

    pub fn current_step(&self, current: &Instance) -> Result<(&Approval, &ApprovalStep), StepError> {
        let not_waiting = || StepError::Unavailable(format!("no approval is under way in state `{}`", current.state));
        let approval = self.def.state(&current.state).and_then(|s| s.approval.as_ref()).ok_or_else(not_waiting)?;
        let progress = current.approval.as_ref().ok_or_else(not_waiting)?;
        let step = position(approval, &progress.step).map(|i| &approval.steps[i]).ok_or_else(not_waiting)?;
        Ok((approval, step))
    }

    fn my_seat(&self, current: &Instance, step: &ApprovalStep, who: &Person) -> Result<u32, StepError> {
        let progress = current.approval.as_ref().ok_or_else(|| StepError::Unavailable("no approval is under way".into()))?;
        progress
            .waiting(step.mode == Mode::Sequential)
            .into_iter()
            .find(|s| s.users.iter().any(|u| u == who.username))
            .map(|s| s.id)
            .ok_or_else(|| StepError::NotAllowed("no approval of yours is waiting on this record".into()))
    }

    fn initial_id(&self) -> String {
        self.def.initial().map(|s| s.id.clone()).unwrap_or_default()
    }

    fn may_take(&self, transition: &Transition, who: &Person, env: &dyn Env) -> Result<bool, StepError> {
        if who.is_admin() {
            return Ok(true);
        }
        let Some(rule) = &transition.who else {
            return Ok(who.may_update);
        };
        if rule.roles.iter().any(|r| who.roles.contains(r)) {
            return Ok(true);
        }
        let names_me = |field: &String| match field.as_str() {
            "owner" => env.owner() == who.username,
            _ => env.value(field).and_then(Value::as_str) == Some(who.username),
        };
        if rule.fields.iter().any(names_me) {
            return Ok(true);
        }
        match &rule.condition {
            Some(condition) => holds(env, condition),
            None => Ok(false),
        }
    }

    /// Moves the record into `to`; an approval state opens its first applicable step.
    #[allow(clippy::too_many_arguments)]
    fn enter(
        &self,
        next: &mut Step,
        to: &str,
        by: &str,
        action: &str,
        comment: Option<String>,
        env: &dyn Env,
        depth: u8,
    ) -> Result<(), StepError> {
        if depth >= MAX_CHAINED_MOVES {
            return Err(StepError::Invalid("the flow moves on its own too many times; do approvals lead into each other?".into()));
        }
        let instance = &mut next.instance;
        let from = std::mem::replace(&mut instance.state, to.to_owned());
        instance.log.push(LogEntry {
            at: env.now(),
            by: by.to_owned(),
            action: action.to_owned(),
            from: from.clone(),
            to: to.to_owned(),
            step: None,
            comment,
        });
        instance.came_from = Some(from);
        instance.entry += 1;
        instance.approval = None;
        instance.submitter = None;
        next.entered.push(to.to_owned());
        if let Some(approval) = self.def.state(to).and_then(|s| s.approval.as_ref()) {
            next.instance.submitter = Some(by.to_owned());
            self.advance(next, approval, 0, by, env, depth + 1)?;
        }
        Ok(())
    }

    /// Opens the first step from `from_step` on that applies and has approvers; when none is
    /// left the approval passed.
    fn advance(&self, next: &mut Step, approval: &Approval, from_step: usize, by: &str, env: &dyn Env, depth: u8) -> Result<(), StepError> {
        let decided = next.instance.approval.as_ref().is_some_and(|p| p.decided);
        for step in approval.steps.iter().skip(from_step) {
            if let Some(condition) = &step.condition
                && !holds(env, condition)?
            {
                continue;
            }
            let seats = resolve(step, approval, next.instance.submitter.as_deref(), env)?;
            if seats.is_empty() {
                next.instance.note(env.now(), "system", "auto_pass", &step.id, Some("no approver could be found".into()));
                continue;
            }
            next.instance.approval = Some(Progress { step: step.id.clone(), seats, decided });
            return Ok(());
        }
        self.enter(next, &approval.approved, by, "approved", None, env, depth + 1)
    }

    fn reject(&self, next: &mut Step, approval: &Approval, by: &str, env: &dyn Env) -> Result<(), StepError> {
        let index = next.instance.approval.as_ref().and_then(|p| position(approval, &p.step)).unwrap_or(0);
        if approval.on_reject.as_deref() == Some(PREVIOUS_STEP) {
            // Back to the nearest earlier step that applies; at the first, back where it came from.
            for earlier in (0..index).rev() {
                let step = &approval.steps[earlier];
                let applies = match &step.condition {
                    Some(condition) => holds(env, condition)?,
                    None => true,
                };
                if applies {
                    return self.advance(next, approval, earlier, by, env, 0);
                }
            }
        }
        let target = match approval.on_reject.as_deref() {
            Some(state) if state != PREVIOUS_STEP => state.to_owned(),
            _ => next.instance.came_from.clone().unwrap_or_else(|| self.initial_id()),
        };
        self.enter(next, &target, by, "rejected", None, env, 0)
    }
}

/// Where step `step` (an id, or the position an instance stored before ids were kept) stands in
/// `approval`.
fn position(approval: &Approval, step: &str) -> Option<usize> {
    approval.steps.iter().position(|s| s.id == step).or_else(|| step.parse().ok().filter(|&i| i < approval.steps.len()))
}

/// The seats of a step: one per approver entry (a manager chain gives one per level), without
/// the submitter unless self-approval is allowed, and with the fallback in each seat left empty.
fn resolve(step: &ApprovalStep, approval: &Approval, submitter: Option<&str>, env: &dyn Env) -> Result<Vec<Seat>, StepError> {
    let mut groups: Vec<Vec<String>> = Vec::new();
    for approver in &step.approvers {
        match approver {
            Approver::User(user) => groups.push(vec![user.clone()]),
            Approver::Role(role) => groups.push(env.role_members(role)),
            Approver::Manager { levels } => groups.extend(env.managers(env.owner(), *levels).into_iter().map(|m| vec![m])),
            Approver::Field(field) => {
                if let Some(user) = env.value(field).and_then(Value::as_str) {
                    groups.push(vec![user.to_owned()]);
                }
            }
            Approver::Rule(rule) => {
                let users = env.rule_users(rule).map_err(|message| StepError::Condition { source_text: rule.clone(), message })?;
                groups.extend(users.into_iter().map(|u| vec![u]));
            }
        }
    }
    let not_self = |users: &mut Vec<String>| {
        if !approval.allow_self_approval {
            users.retain(|u| Some(u.as_str()) != submitter);
        }
    };
    groups.iter_mut().for_each(not_self);
    // A seat left with nobody (a role without members, the submitter's own seat) goes to the
    // admins rather than vanish: a countersign must not pass without one of its signatures.
    if approval.fallback == Fallback::Admin && (groups.is_empty() || groups.iter().any(Vec::is_empty)) {
        let mut admins = env.role_members("admin");
        not_self(&mut admins);
        groups.retain(|g| !g.is_empty() || !admins.is_empty());
        groups.iter_mut().filter(|g| g.is_empty()).for_each(|g| g.clone_from(&admins));
        if groups.is_empty() && !admins.is_empty() {
            groups.push(admins);
        }
    }
    let mut seen = HashSet::new();
    groups.retain(|g| !g.is_empty() && seen.insert(g.clone()));
    Ok(groups.into_iter().zip(1..).map(|(users, id)| Seat { id, users, decision: None }).collect())
}

enum Outcome {
    Pending,
    Approved,
    Rejected,
}

fn outcome(mode: Mode, seats: &[Seat]) -> Outcome {
    let n = seats.len();
    let approvals = seats.iter().filter(|s| s.decision.as_ref().is_some_and(|d| d.approved)).count();
    let rejections = seats.iter().filter(|s| s.decision.as_ref().is_some_and(|d| !d.approved)).count();
    let need = match mode {
        Mode::Sequential | Mode::All => n,
        Mode::Any => 1,
        Mode::MOfN(m) => (m as usize).min(n),
    };
    if approvals >= need {
        Outcome::Approved
    } else if n - rejections < need {
        Outcome::Rejected
    } else {
        Outcome::Pending
    }
}

#[cfg(test)]
mod tests;
