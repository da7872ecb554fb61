//! `flows/<id>.json`: a state machine over one form's records — states, the actions that move
//! records between them, approvals and timers.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Label, is_false};

/// Actions the platform gives every approval state, and [`REAPPROVE`]; transitions may not take
/// these names.
pub const APPROVAL_ACTIONS: [&str; 6] = ["approve", "reject", "recall", "transfer", "add_approver", REAPPROVE];

/// The action sending a record back into the approval its state's `reapprove` names. Changing a
/// `reapprove` field takes it; people who may update the record may also take it by name.
pub const REAPPROVE: &str = "reapprove";

/// `on_reject` value sending a rejection back one approval step instead of to a state.
pub const PREVIOUS_STEP: &str = "previous_step";

/// A flow: the states a record of `form` goes through. Its id is the file name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    #[serde(rename = "$schema", default, skip_serializing_if = "String::is_empty")]
    pub schema: String,
    pub label: Label,
    /// The form whose records follow this flow (one flow per form).
    pub form: String,
    /// A select field of the form that mirrors the state, so lists, filters and reports can use
    /// it. People cannot change it except through the flow's actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub states: Vec<State>,
    pub transitions: Vec<Transition>,
    /// How records in flight on an earlier version of this flow continue on this one. Without
    /// it, a record waiting in an approval finishes the approval on the version it started
    /// with; a record at rest moves to this version when its state is still here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<Upgrade>,
}

/// The mapping from an earlier version's states and approval steps to this version's. Ids not
/// named keep their id; a record whose state or step then has no place here stays on its version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Upgrade {
    /// An earlier version's state id → the state of this version its records move to.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub states: IndexMap<String, String>,
    /// An earlier version's approval step id → the step of this version where an approval under
    /// way continues, with the decisions taken so far.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub steps: IndexMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct State {
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub id: String,
    pub label: Label,
    /// Where new records start; exactly one state is initial.
    #[serde(default, skip_serializing_if = "is_false")]
    pub initial: bool,
    /// New records may also be created directly in this state (e.g. deals entered mid-way);
    /// otherwise only trusted writers (seeds, rules) place records anywhere but the initial state.
    #[serde(default, skip_serializing_if = "is_false")]
    pub start: bool,
    /// With `start`, the roles whose members may create records directly in this state (empty:
    /// whoever may create). A late state — a deal already won — is one to open to few.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub start_roles: Vec<String>,
    /// A state with no way out (won, lost, closed).
    #[serde(default, skip_serializing_if = "is_false")]
    pub terminal: bool,
    /// Field values set whenever a record enters the state (e.g. a stage's probability).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub set: IndexMap<String, Value>,
    /// Makes the state an approval: records wait in it until its steps decide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
    /// Timers started when a record enters the state; leaving the state cancels them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timers: Vec<Timer>,
    /// Fields people may not change while records are in this state (a quote's prices once
    /// approved). The flow's own moves still set them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<Lock>,
    /// Fields whose change sends the record back for approval: the change is kept and the record
    /// enters the approval state `to`, submitted by whoever changed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reapprove: Option<Reapprove>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// The locked fields; `*` locks every field.
    pub fields: Vec<String>,
    /// Roles whose members may still change them (nobody else may, admins included).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except_roles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reapprove {
    /// Fields whose change needs a new approval; `*` for any field.
    pub fields: Vec<String>,
    /// The approval state the record goes back to.
    pub to: String,
}

/// Matches every field in [`Lock::fields`] and [`Reapprove::fields`].
pub const ALL_FIELDS: &str = "*";

impl Lock {
    /// Whether `field` is locked for a person holding `roles`.
    pub fn holds(&self, field: &str, roles: &[String]) -> bool {
        names(&self.fields, field) && !self.except_roles.iter().any(|r| roles.contains(r))
    }
}

impl Reapprove {
    pub fn covers(&self, field: &str) -> bool {
        names(&self.fields, field)
    }
}

fn names(fields: &[String], field: &str) -> bool {
    fields.iter().any(|f| f == field || f == ALL_FIELDS)
}

/// An action people (or timers) take to move a record from one of `from` to `to`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Transition {
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub action: String,
    pub label: Label,
    pub from: Vec<String>,
    pub to: String,
    /// Who may take the action; without it, anyone who may update the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub who: Option<Who>,
    /// A condition that must hold, and the message people get when it does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<Guard>,
    /// Fields that must have a value before the move.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub require: Vec<String>,
    /// What happens with the move, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub effects: Vec<Effect>,
}

/// People allowed to act: anyone matching one of the entries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Who {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// User fields of the record (or `owner`) naming who may act.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// An expression over `record` and `user` that is true for people who may act.
    #[serde(rename = "if", default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Guard {
    /// An expression over `record` and `user`; the action is refused when it is false.
    #[serde(rename = "if")]
    pub condition: String,
    pub message: Label,
}

/// Something a move does besides changing the state. Values in `set` and `data` are literal
/// JSON, or expressions when they are strings starting with `=` (`"=record.company"`); in a
/// `create`, `created.<name>` is the id of a record an earlier `create` of the same move named.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Effect {
    /// Sets fields of the record.
    Set(IndexMap<String, Value>),
    /// Creates a record of another form.
    Create(CreateEffect),
    /// Sends a notification.
    Notify(NotifyEffect),
    /// Queues a webhook call in the outbox, delivered after the move commits.
    Webhook(WebhookEffect),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEffect {
    pub form: String,
    /// The name later effects use for the new record's id (`created.<name>`).
    #[serde(rename = "as", default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub data: IndexMap<String, Value>,
    /// When a record of the form already holds one of its duplicate keys (`dedupe`) with these
    /// values and the user may read it, that record stands in for the new one (a lead
    /// converted into the account that exists); otherwise the move is refused as a duplicate.
    #[serde(default, skip_serializing_if = "is_false")]
    pub reuse: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifyEffect {
    /// Recipients: `owner`, `submitter`, `manager` (the owner's), `role:<id>`, `field:<user field>`
    /// or a username.
    pub to: Vec<String>,
    pub text: Label,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookEffect {
    pub url: String,
    /// The event name sent with the record (e.g. `contract.approved`).
    pub event: String,
}

/// An approval (审批): steps decided in order; when the last approves the record moves to
/// `approved`, a rejection sends it to `on_reject`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    pub steps: Vec<ApprovalStep>,
    /// The state entered when every step approved.
    pub approved: String,
    /// Where a rejection (退回) goes: a state, or `previous_step` (the step before, or where the
    /// record came from at the first step). Without it, back where the record came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_reject: Option<String>,
    /// Whether the submitter may approve their own request.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_self_approval: bool,
    /// What happens to a seat for which no approver can be found.
    #[serde(default)]
    pub fallback: Fallback,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalStep {
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub id: String,
    pub label: Label,
    /// Who decides. Each entry is one seat; a role seat is taken by any member of the role.
    pub approvers: Vec<Approver>,
    #[serde(default)]
    pub mode: Mode,
    /// An expression over `record`: the step applies only when it is true.
    #[serde(rename = "when", default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// Fields the approvers this step waits for may still change while it waits, though the
    /// state locks them (a finance approver correcting the payment terms); nobody else may.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub editable: Vec<String>,
    /// Fields the approvers this step waits for do not see while it waits on them (the cost
    /// price a sales manager approving a discount need not know): left out of the record
    /// wherever they read it. What they see otherwise is their roles' permissions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hidden: Vec<String>,
    /// Who is told how the step ended, approved or sent back (抄送): recipients as a notify
    /// effect names them (`owner`, `submitter`, `manager`, `role:<id>`, `field:<user field>`
    /// or a username).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cc: Vec<String>,
}

/// One approver seat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Approver {
    /// A named user.
    User(String),
    /// Any member of a role.
    Role(String),
    /// The department manager of the record's owner, or `levels` managers up the chain in order.
    Manager {
        #[serde(default = "one")]
        levels: u8,
    },
    /// The user named by a user field of the record.
    Field(String),
    /// A rule `script.function(record, old, user)` returning a username or a list of them.
    Rule(String),
}

fn one() -> u8 {
    1
}

/// How the seats of a step decide.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// One after another, in order (依次).
    #[default]
    Sequential,
    /// Every seat must approve (会签).
    All,
    /// Any one seat decides (或签).
    Any,
    /// At least this many seats must approve.
    MOfN(u32),
}

/// What a seat with no approver left does (a role without members, the submitter's own seat).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    /// The app's admins decide.
    #[default]
    Admin,
    /// The seat is dropped; a step left with none passes on its own.
    AutoPass,
}

/// A timer started when a record enters a state: after a duration, or at a date field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Timer {
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub id: String,
    /// A duration after entering: `30m`, `4h`, `2d`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// An expression over `record` giving the duration text (e.g. by priority); wins over `after`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_expr: Option<String>,
    /// A date or datetime field of the record: the timer fires then (plus `after`, if given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_field: Option<String>,
    /// Fires again this long after each firing while the record stays in the state (`7d`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<String>,
    /// An expression over `record`: when false at the time the timer fires, it does nothing
    /// (and, with `every`, waits for the next time).
    #[serde(rename = "if", default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    #[serde(rename = "do")]
    pub action: TimerAction,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TimerAction {
    /// Notifies recipients (as in `notify`); without `to`, the pending approvers or the owner.
    Remind {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        to: Vec<String>,
        text: Label,
    },
    /// Notifies the owner's manager; with `reassign`, the manager becomes the owner.
    Escalate {
        text: Label,
        #[serde(default, skip_serializing_if = "is_false")]
        reassign: bool,
    },
    /// Takes an action of the flow, as the system.
    Fire(String),
}

impl Flow {
    pub fn state(&self, id: &str) -> Option<&State> {
        self.states.iter().find(|s| s.id == id)
    }

    pub fn initial(&self) -> Option<&State> {
        self.states.iter().find(|s| s.initial)
    }

    pub fn transition(&self, action: &str) -> Option<&Transition> {
        self.transitions.iter().find(|t| t.action == action)
    }
}

/// Seconds in a duration text: a whole number and a unit, `30m`, `4h`, `2d`, `1w` (or several,
/// `1d12h`).
pub fn parse_duration(text: &str) -> Option<i64> {
    let mut total = 0i64;
    let mut number = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return None,
        };
        total = total.checked_add(number.parse::<i64>().ok()?.checked_mul(unit)?)?;
        number.clear();
    }
    (number.is_empty() && !text.trim().is_empty()).then_some(total)
}

/// Cross-references of flows: forms, fields, roles and scripts they name. The shape of the graph
/// (reachability, dead ends) is checked by the workflow engine.
pub(crate) fn cross_references(defs: &crate::AppDefs) -> Vec<crate::Diagnostic> {
    use std::collections::HashSet;

    use crate::{DefKind, Diagnostic, FieldKind};
    let mut out = Vec::new();
    let roles: HashSet<&str> = defs.app.roles.iter().map(|r| r.id.as_str()).chain(["admin"]).collect();
    let users = defs.usernames();
    let mut flow_of_form: std::collections::HashMap<&str, &str> = Default::default();
    for (id, flow) in &defs.flows {
        let file = defs.dir.join("flows").join(format!("{id}.json"));
        let mut at = |pointer: String, message: String| out.push(Diagnostic::new(&file, pointer, message));
        if !flow.schema.ends_with(DefKind::Flow.schema_file()) {
            at("/$schema".into(), format!("must name the schema `{}`", DefKind::Flow.schema_file()));
        }
        if let Some(other) = flow_of_form.insert(&flow.form, id) {
            at("/form".into(), format!("form `{}` already follows flow `{other}`; a form has one flow", flow.form));
        }
        let Some(form) = defs.forms.get(&flow.form) else {
            if !defs.form_exists(&flow.form) {
                at("/form".into(), format!("no form `{}`", flow.form));
            }
            continue;
        };
        let field_is = |name: &str, kinds: &[FieldKind]| form.field(name).is_some_and(|f| kinds.contains(&f.kind));
        if let Some(name) = &flow.field {
            match form.field(name) {
                None => at("/field".into(), format!("no field `{name}` in form `{}`", flow.form)),
                Some(f) if f.kind != FieldKind::SELECT => at("/field".into(), format!("`{name}` is not a select field")),
                Some(f) => {
                    for (s, state) in flow.states.iter().enumerate() {
                        if !f.options.iter().any(|o| o.value == state.id) {
                            at(format!("/states/{s}/id"), format!("field `{name}` has no option `{}` for this state", state.id));
                        }
                    }
                }
            }
        }
        let recipients = |pointer: String, to: &[String], at: &mut dyn FnMut(String, String)| {
            for (i, r) in to.iter().enumerate() {
                if let Some(role) = r.strip_prefix("role:")
                    && !roles.contains(role)
                {
                    at(format!("{pointer}/{i}"), format!("no role `{role}` in app.json"));
                }
                if let Some(field) = r.strip_prefix("field:")
                    && !field_is(field, &[FieldKind::USER])
                {
                    at(format!("{pointer}/{i}"), format!("`{field}` is not a user field of form `{}`", flow.form));
                }
                let named_user = !r.contains(':') && !["owner", "submitter", "manager"].contains(&r.as_str());
                if named_user && !users.contains(r.as_str()) {
                    at(format!("{pointer}/{i}"), crate::unknown_user(r));
                }
            }
        };
        for (s, state) in flow.states.iter().enumerate() {
            let p = format!("/states/{s}");
            if !state.start_roles.is_empty() && !state.start {
                at(format!("{p}/start_roles"), "start roles need `start`: people create records here only when it is a start".into());
            }
            for (r, role) in state.start_roles.iter().enumerate() {
                if !roles.contains(role.as_str()) {
                    at(format!("{p}/start_roles/{r}"), format!("no role `{role}` in app.json"));
                }
            }
            for name in state.set.keys() {
                if form.field(name).is_none() {
                    at(format!("{p}/set/{}", crate::diagnostic::segment(name)), format!("no field `{name}`"));
                }
            }
            let field_list = |pointer: String, fields: &[String], at: &mut dyn FnMut(String, String)| {
                for (f, name) in fields.iter().enumerate() {
                    if name != ALL_FIELDS && form.field(name).is_none() {
                        at(format!("{pointer}/{f}"), format!("no field `{name}` in form `{}`", flow.form));
                    }
                }
            };
            if let Some(lock) = &state.lock {
                field_list(format!("{p}/lock/fields"), &lock.fields, &mut at);
                for (r, role) in lock.except_roles.iter().enumerate() {
                    if !roles.contains(role.as_str()) {
                        at(format!("{p}/lock/except_roles/{r}"), format!("no role `{role}` in app.json"));
                    }
                }
            }
            if let Some(reapprove) = &state.reapprove {
                field_list(format!("{p}/reapprove/fields"), &reapprove.fields, &mut at);
                if flow.state(&reapprove.to).is_none_or(|to| to.approval.is_none()) {
                    at(format!("{p}/reapprove/to"), format!("`{}` is not an approval state of this flow", reapprove.to));
                }
            }
            if let Some(approval) = &state.approval {
                if approval.steps.is_empty() {
                    at(format!("{p}/approval/steps"), "an approval needs at least one step".into());
                }
                let mut ids = HashSet::new();
                for (k, step) in approval.steps.iter().enumerate() {
                    let sp = format!("{p}/approval/steps/{k}");
                    if !ids.insert(step.id.as_str()) {
                        at(format!("{sp}/id"), format!("step `{}` is declared twice", step.id));
                    }
                    if step.approvers.is_empty() {
                        at(format!("{sp}/approvers"), "a step needs at least one approver".into());
                    }
                    if step.mode == Mode::MOfN(0) {
                        at(format!("{sp}/mode/m_of_n"), "needs at least 1".into());
                    }
                    for (a, approver) in step.approvers.iter().enumerate() {
                        let ap = format!("{sp}/approvers/{a}");
                        match approver {
                            Approver::User(name) if !users.contains(name.as_str()) => at(format!("{ap}/user"), crate::unknown_user(name)),
                            Approver::Role(role) if !roles.contains(role.as_str()) => {
                                at(format!("{ap}/role"), format!("no role `{role}` in app.json"))
                            }
                            Approver::Field(name) if !field_is(name, &[FieldKind::USER]) => {
                                at(format!("{ap}/field"), format!("`{name}` is not a user field of form `{}`", flow.form))
                            }
                            Approver::Rule(rule) => {
                                let script = rule.split_once('.').map_or(rule.as_str(), |(s, _)| s);
                                if !defs.scripts.contains_key(script) {
                                    at(format!("{ap}/rule"), format!("no script `rules/{script}.rhai`"));
                                }
                            }
                            Approver::Manager { levels: 0 } => at(format!("{ap}/manager/levels"), "needs at least 1".into()),
                            _ => {}
                        }
                    }
                }
            }
            for (t, timer) in state.timers.iter().enumerate() {
                let tp = format!("{p}/timers/{t}");
                if timer.after.is_none() && timer.after_expr.is_none() && timer.at_field.is_none() {
                    at(tp.clone(), "a timer needs `after`, `after_expr` or `at_field`".into());
                }
                if let Some(after) = &timer.after
                    && parse_duration(after).is_none()
                {
                    at(format!("{tp}/after"), format!("`{after}` is not a duration such as `30m`, `4h`, `2d`"));
                }
                if let Some(every) = &timer.every
                    && parse_duration(every).is_none_or(|s| s < 60)
                {
                    at(format!("{tp}/every"), format!("`{every}` is not a duration of at least a minute, such as `1d`"));
                }
                if let Some(name) = &timer.at_field
                    && !field_is(name, &[FieldKind::DATE, FieldKind::DATETIME])
                {
                    at(format!("{tp}/at_field"), format!("`{name}` is not a date field of form `{}`", flow.form));
                }
                if let TimerAction::Remind { to, .. } = &timer.action {
                    recipients(format!("{tp}/do/remind/to"), to, &mut at);
                }
            }
        }
        if let Some(upgrade) = &flow.upgrade {
            for (old, new) in &upgrade.states {
                if flow.state(new).is_none() {
                    at(format!("/upgrade/states/{}", crate::diagnostic::segment(old)), format!("no state `{new}` in this flow"));
                }
            }
            let steps: HashSet<&str> =
                flow.states.iter().filter_map(|s| s.approval.as_ref()).flat_map(|a| &a.steps).map(|s| s.id.as_str()).collect();
            for (old, new) in &upgrade.steps {
                if !steps.contains(new.as_str()) {
                    at(format!("/upgrade/steps/{}", crate::diagnostic::segment(old)), format!("no approval step `{new}` in this flow"));
                }
            }
        }
        for (t, transition) in flow.transitions.iter().enumerate() {
            let p = format!("/transitions/{t}");
            if let Some(who) = &transition.who {
                for (r, role) in who.roles.iter().enumerate() {
                    if !roles.contains(role.as_str()) {
                        at(format!("{p}/who/roles/{r}"), format!("no role `{role}` in app.json"));
                    }
                }
                for (f, name) in who.fields.iter().enumerate() {
                    if name != "owner" && !field_is(name, &[FieldKind::USER]) {
                        at(format!("{p}/who/fields/{f}"), format!("`{name}` is not `owner` or a user field of form `{}`", flow.form));
                    }
                }
            }
            for (f, name) in transition.require.iter().enumerate() {
                if form.field(name).is_none() {
                    at(format!("{p}/require/{f}"), format!("no field `{name}`"));
                }
            }
            for (e, effect) in transition.effects.iter().enumerate() {
                let ep = format!("{p}/effects/{e}");
                match effect {
                    Effect::Set(fields) => {
                        for name in fields.keys().filter(|n| form.field(n).is_none()) {
                            at(format!("{ep}/set/{}", crate::diagnostic::segment(name)), format!("no field `{name}`"));
                        }
                    }
                    Effect::Create(create) => match defs.forms.get(&create.form) {
                        None if defs.form_exists(&create.form) => {}
                        None => at(format!("{ep}/create/form"), format!("no form `{}`", create.form)),
                        Some(target) => {
                            for name in create.data.keys().filter(|n| target.field(n).is_none()) {
                                let pointer = format!("{ep}/create/data/{}", crate::diagnostic::segment(name));
                                at(pointer, format!("form `{}` has no field `{name}`", create.form));
                            }
                        }
                    },
                    Effect::Notify(notify) => recipients(format!("{ep}/notify/to"), &notify.to, &mut at),
                    Effect::Webhook(hook) if !(hook.url.starts_with("https://") || hook.url.starts_with("http://")) => {
                        at(format!("{ep}/webhook/url"), "a webhook URL starts with https:// or http://".into())
                    }
                    Effect::Webhook(_) => {}
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m"), Some(1_800));
        assert_eq!(parse_duration("1d12h"), Some(129_600));
        assert_eq!(parse_duration("2w"), Some(1_209_600));
        assert_eq!(parse_duration("4"), None);
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("3 days"), None);
    }
}
