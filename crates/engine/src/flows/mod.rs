//! Flows at run time: the engine side of the workflow crate. A record's place in its flow is
//! stored with the record (`state` and `flow` columns); a move writes the record's next version
//! (state, fields the move sets, the flow log), opens and closes approval tasks, schedules the
//! new state's timers and applies the move's effects — all in the command's one transaction.
//!
//! `load` checks and versions the definitions, `env` answers the workflow crate's questions,
//! `act` starts flows and takes actions, `tasks` keeps approval tasks, `timers` schedules and
//! fires state timers.

mod act;
mod env;
mod load;
mod tasks;
mod timers;

use std::sync::Arc;

use defs::{Flow, Label};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use store::{Conn, Record};
use workflow::{Available, Env, Instance, LogEntry, Person, Workflow};

use crate::audit::Subject;
use crate::command::Cmd;
use crate::people::Organisation;
use crate::{Actor, AppId, Engine, EngineError, Envelope, FormId, LoadedApp, RecordId};

pub(crate) use load::compile_flows;

use env::{FlowEnv, step_error};

/// What `…/records/{id}/actions` shows: where the record stands and what the caller may do.
#[derive(Debug, Clone, Serialize)]
pub struct FlowView {
    pub flow: String,
    pub state: String,
    pub state_label: Label,
    pub terminal: bool,
    /// The record's version (send it back as `If-Match` to act on exactly what was seen).
    pub version: i64,
    pub actions: Vec<Available>,
    pub approval: Option<ApprovalView>,
    pub log: Vec<LogEntry>,
    /// Fields the caller may not change in this state (`*`: every field).
    pub locked: Vec<String>,
    /// Fields the approval step under way hides from the caller, one of its approvers (left
    /// out of the record they read).
    pub hidden: Vec<String>,
    /// Fields whose change sends the record back for approval (`*`: any field).
    pub reapprove: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApprovalView {
    pub step: String,
    pub label: Label,
    pub mode: defs::Mode,
    pub submitter: Option<String>,
    pub seats: Vec<workflow::Seat>,
    /// Users whose decision is awaited now.
    pub waiting: Vec<String>,
}

/// The most characters a comment on a decision or move may have: each is kept in the record's
/// flow log for good, so a record's size grows by at most this an action.
pub(crate) const MAX_COMMENT_CHARS: usize = 2_000;

/// What comes with an action besides its name.
#[derive(Debug, Clone, Default)]
pub struct ActRequest {
    /// A comment recorded with the decision or move.
    pub comment: Option<String>,
    /// The user a `transfer` or `add_approver` names.
    pub to: Option<String>,
    /// When given, the record must be at this version (the one the person saw).
    pub expected_version: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ActResult {
    pub record: Envelope,
    pub flow: FlowView,
}

/// One of a person's approval tasks.
#[derive(Debug, Clone, Serialize)]
pub struct TaskView {
    pub id: String,
    pub app: String,
    pub form: String,
    pub record_id: String,
    /// The record's title (its form's `title_field`), when the assignee may read it.
    pub title: Option<String>,
    pub state: String,
    pub step: String,
    /// The step's label, as the flow names it.
    pub step_label: Option<Label>,
    pub status: String,
    pub created_at: String,
    pub decided_at: Option<String>,
}

impl Engine {
    /// The workflow an instance follows: the current definition when the instance can move onto
    /// it ([`Workflow::upgrade`]; the instance is moved), else the stored version it started with.
    pub(super) async fn workflow_for(
        &self,
        db: &impl Conn,
        app: &LoadedApp,
        form: &str,
        instance: &mut Instance,
    ) -> Result<Arc<Workflow>, EngineError> {
        let runtime = app.flows.get(form).ok_or_else(|| EngineError::NotFound(format!("a flow of form `{form}`")))?;
        if instance.version == runtime.version {
            return Ok(runtime.workflow.clone());
        }
        let earlier = self.stored_workflow(db, app, &instance.flow, instance.version).await?;
        match runtime.workflow.upgrade(instance, &earlier, runtime.version) {
            Some(upgraded) => {
                *instance = upgraded;
                Ok(runtime.workflow.clone())
            }
            None => Ok(earlier),
        }
    }

    /// Version `version` of flow `flow` as stored when it was current.
    pub(super) async fn stored_workflow(
        &self,
        db: &impl Conn,
        app: &LoadedApp,
        flow: &str,
        version: i64,
    ) -> Result<Arc<Workflow>, EngineError> {
        let key = (flow.to_owned(), version);
        if let Some(found) = app.old_flows.0.lock().ok().and_then(|cache| cache.get(&key).cloned()) {
            return Ok(found);
        }
        let text = store::flow_version(db, app.id(), flow, version)
            .await?
            .ok_or_else(|| EngineError::Internal(format!("flow `{flow}` version {version} is not stored")))?;
        let def: Flow = serde_json::from_str(&text).map_err(|e| EngineError::Internal(e.to_string()))?;
        let workflow = Arc::new(
            Workflow::compile(flow, def)
                .map_err(|_| EngineError::Internal(format!("stored flow `{flow}` version {version} does not verify")))?,
        );
        if let Ok(mut cache) = app.old_flows.0.lock() {
            cache.insert(key, workflow.clone());
        }
        Ok(workflow)
    }

    /// Where the record stands in its flow and what the actor may do.
    pub async fn flow_view(&self, actor: &Actor, app: &AppId, form: &FormId, id: &RecordId) -> Result<FlowView, EngineError> {
        let (app, form, id) = (app.as_str(), form.as_str(), id.as_str());
        let work = async {
            let loaded = &self.app(app)?;
            let rt = loaded.form(form)?;
            let db = self.store.db();
            let cmd = Cmd::new(db, actor, loaded);
            let (record, access) = self.flow_record(cmd, rt, id).await?;
            let may_update = self.may_update(cmd, rt, &access, &record).await?;
            let mut instance = instance_of(loaded, form, &record)?;
            let workflow = self.workflow_for(db, loaded, form, &mut instance).await?;
            let org = Organisation::load(db).await?;
            let env = FlowEnv::of_record(loaded, Some(actor), &record, &org);
            let roles = actor.roles_in(loaded.id());
            let person = Person { username: &actor.username, roles: &roles, may_update, system: false };
            view(&workflow, &instance, record.version, Some((&person, &env as &dyn Env)))
        };
        self.command(actor, Subject { action: "read", app, form, id }, work).await
    }
}

/// The record's instance; records written before their form had a flow start at the state
/// their flow field names, or the initial one.
pub(crate) fn instance_of(app: &LoadedApp, form: &str, record: &Record) -> Result<Instance, EngineError> {
    if let Some(flow) = &record.flow {
        return serde_json::from_value(flow.clone()).map_err(|e| EngineError::Internal(format!("flow of record {}: {e}", record.id)));
    }
    let runtime = app.flows.get(form).ok_or_else(|| EngineError::NotFound(format!("a flow of form `{form}`")))?;
    let def = runtime.workflow.def();
    let named = def.field.as_deref().and_then(|f| record.data.get(f)).and_then(Value::as_str).filter(|s| def.state(s).is_some());
    let state = record.state.as_deref().filter(|s| def.state(s).is_some()).or(named);
    let state = state.or_else(|| def.initial().map(|s| s.id.as_str())).unwrap_or_default();
    Ok(Instance {
        flow: runtime.workflow.id().to_owned(),
        version: runtime.version,
        state: state.to_owned(),
        entry: 1,
        ..Instance::default()
    })
}

/// The fields the approval step a record of `form` waits at (its flow instance, `flow`) hides
/// from `username`, one of the approvers it waits for ([`Workflow::hidden_from`]). Judged by the
/// form's current flow, as its locks are; a form whose flow hides nothing costs a lookup.
pub(crate) fn hidden_at_step<'a>(app: &'a LoadedApp, form: &str, username: &str, flow: Option<&Value>) -> &'a [String] {
    let Some(runtime) = app.flows.get(form).filter(|f| f.workflow.hides_fields()) else { return &[] };
    match flow.and_then(|f| Instance::deserialize(f).ok()) {
        Some(instance) => runtime.workflow.hidden_from(&instance, username),
        None => &[],
    }
}

pub(super) fn view(
    workflow: &Workflow,
    instance: &Instance,
    version: i64,
    viewer: Option<(&Person, &dyn Env)>,
) -> Result<FlowView, EngineError> {
    let state = workflow.def().state(&instance.state);
    let approval = workflow.current_step(instance).ok().zip(instance.approval.as_ref()).map(|((_, step), progress)| ApprovalView {
        step: step.id.clone(),
        label: step.label.clone(),
        mode: step.mode,
        submitter: instance.submitter.clone(),
        seats: progress.seats.clone(),
        waiting: workflow.waiting(instance).iter().flat_map(|s| s.users.clone()).collect(),
    });
    let actions = match viewer {
        Some((person, env)) => workflow.available(instance, person, env).map_err(step_error)?,
        None => Vec::new(),
    };
    let roles = viewer.map_or(&[][..], |(person, _)| person.roles);
    let editable = viewer.map_or(&[][..], |(person, _)| workflow.editable_by(instance, person.username));
    let hidden = viewer.map_or(&[][..], |(person, _)| workflow.hidden_from(instance, person.username));
    let lock = state.and_then(|s| s.lock.as_ref());
    let locked =
        lock.map(|l| l.fields.iter().filter(|f| l.holds(f, roles) && !editable.contains(f)).cloned().collect()).unwrap_or_default();
    Ok(FlowView {
        flow: workflow.id().to_owned(),
        state: instance.state.clone(),
        state_label: state.map_or_else(|| Label::Plain(instance.state.clone()), |s| s.label.clone()),
        terminal: state.is_some_and(|s| s.terminal),
        version,
        actions,
        approval,
        log: instance.log.clone(),
        locked,
        hidden: hidden.to_vec(),
        reapprove: state.and_then(|s| s.reapprove.as_ref()).map(|r| r.fields.clone()).unwrap_or_default(),
    })
}

/// Whether a new record with `data` starts its flow in an approval, whose approvers come from
/// the user directory; no other start reads the database.
pub(crate) fn starts_in_approval(app: &LoadedApp, form: &str, data: &Map<String, Value>) -> bool {
    let Some(runtime) = app.flows.get(form) else { return false };
    let def = runtime.workflow.def();
    let requested = def.field.as_deref().and_then(|f| data.get(f)).and_then(Value::as_str);
    requested.or(def.initial().map(|s| s.id.as_str())).and_then(|s| def.state(s)).is_some_and(|s| s.approval.is_some())
}

pub(super) fn actor_json(actor: &Actor, app: &str) -> Value {
    actor.in_app(app)
}
