//! Starting a new record's flow and taking actions: one command, one transaction.

use defs::{Action, Effect};
use forms::{FieldCode, FieldError};
use serde_json::{Map, Value, json};
use store::{Conn, Record};
use workflow::{Command, Env, Instance, Person};

use super::MAX_COMMENT_CHARS;
use crate::access::Access;
use crate::apps::FormRuntime;
use crate::audit::Subject;
use crate::command::Cmd;
use crate::people::Organisation;
use crate::records::{Change, Moved};
use crate::{Actor, AppId, Engine, EngineError, Envelope, FormId, LoadedApp, RecordId, time};

use super::env::{FlowEnv, recipients, step_error};
use super::{ActRequest, ActResult, actor_json, instance_of, view};

/// The record an action is taken on, by ids, and the task it decides, if it decides one.
pub(crate) struct ActOn<'a> {
    pub(crate) app: &'a str,
    pub(crate) form: &'a str,
    pub(crate) id: &'a str,
    pub(crate) task: Option<&'a str>,
}

impl Engine {
    /// Starts the flow of a new record of `rt`: sets its state, the flow field and the entered
    /// state's `set` values in `data`. A trusted writer ([`Cmd::trusted`]: seeds, rules) may
    /// place the record in any state through the flow field; people in the initial state or a
    /// state marked `start` (and, when it names `start_roles`, only their members and admins).
    /// `org` is the organisation when [`starts_in_approval`] says it is needed, else empty.
    pub(crate) fn start_flow<C>(
        &self,
        cmd: Cmd<'_, C>,
        rt: &FormRuntime,
        owner: &str,
        data: &mut Map<String, Value>,
        org: &Organisation,
    ) -> Result<Option<Instance>, EngineError> {
        let (app, actor, trusted): (&LoadedApp, _, _) = (cmd.app, cmd.actor, cmd.trusted());
        let Some(runtime) = app.flows.get(rt.id()) else { return Ok(None) };
        let workflow = &runtime.workflow;
        let field = workflow.def().field.as_deref();
        let requested = field.and_then(|f| data.get(f)).and_then(Value::as_str).map(str::to_owned);
        let initial = workflow.def().initial().map(|s| s.id.as_str()).unwrap_or_default();
        if requested.as_deref().is_some_and(|s| workflow.def().state(s).is_none()) {
            return Ok(None); // not a state at all: validation names the field's allowed values
        }
        let admin = actor.is_admin();
        let roles = actor.roles_in(app.id());
        let may_start = |state: &str| {
            state == initial
                || workflow
                    .def()
                    .state(state)
                    .is_some_and(|s| s.start && (admin || s.start_roles.is_empty() || s.start_roles.iter().any(|r| roles.contains(r))))
        };
        if let (Some(f), Some(state)) = (field, &requested)
            && !trusted
            && !may_start(state)
        {
            let message =
                format!("you may not create records in `{state}`: they start in `{initial}`, and `{f}` then follows the flow's actions");
            let error = FieldError::coded(format!("/{f}"), FieldCode::StartState, message);
            return Err(EngineError::Invalid(vec![error.with("state", state.as_str()).with("initial", initial)]));
        }
        let env = FlowEnv {
            now: time::now(),
            id: "",
            owner,
            record: data,
            user: actor_json(actor, app.id()),
            org,
            app,
            allowance: app.rules.allowance(),
        };
        let step = workflow.start(runtime.version, requested.as_deref(), &actor.username, &env).map_err(step_error)?;
        // A state's `set` gives defaults here: values the creator gave win.
        let mut patch = Map::new();
        for state in &step.entered {
            for (name, value) in workflow.def().state(state).map(|s| &s.set).into_iter().flatten() {
                if !data.contains_key(name) {
                    patch.insert(name.clone(), env.value_of(value, &Value::Null)?);
                }
            }
        }
        data.extend(patch);
        if let Some(f) = field {
            data.insert(f.to_owned(), Value::String(step.instance.state.clone()));
        }
        Ok(Some(step.instance))
    }

    /// After a new record with a flow is written: its first state's timers, and tasks when it
    /// starts in an approval.
    pub(crate) async fn started_flow(
        &self,
        cmd: Cmd<'_, impl Conn>,
        rt: &FormRuntime,
        envelope: &Envelope,
        instance: &Instance,
    ) -> Result<(), EngineError> {
        let Some(runtime) = cmd.app.flows.get(rt.id()) else { return Ok(()) };
        if instance.approval.is_some() {
            self.sync_tasks(cmd, rt, &runtime.workflow, envelope, instance, None).await?;
        }
        self.schedule_timers(cmd, rt, &runtime.workflow, envelope, instance).await
    }

    /// Takes `action` on the record: a transition of its flow, or an approval action
    /// (`approve`, `reject`, `recall`, `transfer`, `add_approver`).
    pub async fn act(
        &self,
        actor: &Actor,
        app: &AppId,
        form: &FormId,
        id: &RecordId,
        action: &str,
        request: ActRequest,
    ) -> Result<ActResult, EngineError> {
        let on = ActOn { app: app.as_str(), form: form.as_str(), id: id.as_str(), task: None };
        self.act_on_record(actor, on, action, request).await
    }

    /// [`Engine::act`] on a record the engine names by ids it already holds (a task's).
    pub(crate) async fn act_on_record(
        &self,
        actor: &Actor,
        on: ActOn<'_>,
        action: &str,
        request: ActRequest,
    ) -> Result<ActResult, EngineError> {
        let ActOn { app, form, id, task } = on;
        if let Some(comment) = &request.comment
            && comment.chars().count() > MAX_COMMENT_CHARS
        {
            let message = format!("a comment is at most {MAX_COMMENT_CHARS} characters");
            let error = FieldError::coded("/comment", FieldCode::MaxLength, message).with("limit", MAX_COMMENT_CHARS);
            return Err(EngineError::Invalid(vec![error]));
        }
        let work = async {
            let loaded = &self.app(app)?;
            let rt = loaded.form(form)?;
            let (turn, tx) = self.store.begin().await?;
            if let Some(task) = task {
                // Decided in the record's turn: a co-approver who decided the same step a
                // moment ago has closed this task by now, and that is a conflict, not a refusal.
                store::lock_key(&tx, &format!("flow:{id}")).await?;
                match store::get_task(&tx, task).await?.map(|t| t.status) {
                    Some(status) if status != "pending" => {
                        return Err(EngineError::Conflict(format!("this task is already {status}")));
                    }
                    _ => {}
                }
            }
            let result = self.act_in(Cmd::new(&tx, actor, loaded), rt, id, action, request).await?;
            turn.commit(tx).await?;
            Ok(result)
        };
        self.command(actor, Subject { action: "act", app, form, id }, work).await
    }

    /// Takes `action` on record `id` of `rt` in the command's transaction. A trusted command
    /// ([`Cmd::trusted`]) acts as the system: on any record, with the rights of the flow.
    pub(crate) async fn act_in(
        &self,
        cmd: Cmd<'_, impl Conn>,
        rt: &FormRuntime,
        id: &str,
        action: &str,
        request: ActRequest,
    ) -> Result<ActResult, EngineError> {
        let (tx, actor, loaded, form, system) = (cmd.tx, cmd.actor, cmd.app, rt.id(), cmd.trusted());
        // Two people acting on one record at once take turns (PostgreSQL; SQLite's write
        // transactions already do): a countersign counts each approval once, a double submit
        // finds the record already moved.
        store::lock_key(tx, &format!("flow:{id}")).await?;
        let (record, access) = if system {
            let record = store::get(tx, &rt.table, id)
                .await?
                .filter(|r| r.deleted_at.is_none())
                .ok_or_else(|| EngineError::record_not_found(form, id))?;
            (record, Access::of(actor, rt))
        } else {
            self.flow_record(cmd, rt, id).await?
        };
        if request.expected_version.is_some_and(|v| v != record.version) {
            return Err(EngineError::StaleVersion { current: record.version });
        }
        let may_update = system || self.may_update(cmd, rt, &access, &record).await?;
        let mut instance = instance_of(loaded, form, &record)?;
        let workflow = self.workflow_for(tx, loaded, form, &mut instance).await?;
        let command = match action {
            "approve" => Command::Approve,
            "reject" => Command::Reject,
            "recall" => Command::Recall,
            defs::REAPPROVE => Command::Reapprove,
            "transfer" | "add_approver" => {
                let to = request.to.clone().ok_or_else(|| EngineError::malformed_at("/to", format!("`{action}` names a user in `to`")))?;
                if !store::get_user(tx, &to).await?.is_some_and(|u| u.active && u.kind == crate::auth::PERSON) {
                    return Err(EngineError::malformed_at("/to", format!("no active person `{to}`")));
                }
                if action == "transfer" { Command::Transfer(to) } else { Command::AddApprover(to) }
            }
            other => Command::Act(other.to_owned()),
        };
        let org = Organisation::load(tx).await?;
        let env = FlowEnv::of_record(loaded, Some(actor), &record, &org);
        let roles = actor.roles_in(loaded.id());
        let person = Person { username: &actor.username, roles: &roles, may_update, system };
        let step = workflow.step(&instance, &person, &command, request.comment.clone(), &env).map_err(step_error)?;

        // The record's next version: fields the entered states and the move set, in order;
        // records the move creates get their ids into `created` for later values.
        let mut patch = Map::new();
        for state in &step.entered {
            for (name, value) in workflow.def().state(state).map(|s| &s.set).into_iter().flatten() {
                patch.insert(name.clone(), env.value_of(value, &Value::Null)?);
            }
        }
        let mut created = Value::Object(Map::new());
        let mut messages = Vec::new();
        // The people a step copies (抄送) hear how it ended, once the decision ended it.
        if let (Some(_), Ok((_, was))) = (step.decided, workflow.current_step(&instance)) {
            let same_step =
                step.instance.entry == instance.entry && workflow.current_step(&step.instance).is_ok_and(|(_, now)| now.id == was.id);
            if !same_step {
                let (outcome, word) = if command == Command::Approve { ("approved", "已通过") } else { ("rejected", "已退回") };
                let text = format!("{}：{word}", was.label.text("zh-CN"));
                for user in recipients(&was.cc, &env, &instance) {
                    messages.push(("notify", user, json!({"text": text, "form": form, "record": id, "step": was.id, "outcome": outcome})));
                }
            }
        }
        for effect in &step.effects {
            match effect {
                Effect::Set(values) => {
                    for (name, value) in values {
                        patch.insert(name.clone(), env.value_of(value, &created)?);
                    }
                }
                Effect::Create(create) => {
                    let mut data = Map::new();
                    for (name, value) in &create.data {
                        // An expression over an empty field gives nothing: leave the field out.
                        match env.value_of(value, &created)? {
                            Value::Null => {}
                            value => {
                                data.insert(name.clone(), value);
                            }
                        }
                    }
                    let target = cmd.form(&create.form)?;
                    let reused = if create.reuse { self.readable_duplicate(cmd, target, &data).await? } else { None };
                    let id = match reused {
                        Some(id) => id,
                        None => Box::pin(self.create_in(cmd.first_effect(), target, Value::Object(data), Some(&record.owner))).await?.id,
                    };
                    if let (Some(name), Value::Object(map)) = (&create.name, &mut created) {
                        map.insert(name.clone(), Value::String(id));
                    }
                }
                Effect::Notify(notify) => {
                    let text = notify.text.text("zh-CN").to_owned();
                    for user in recipients(&notify.to, &env, &instance) {
                        messages.push(("notify", user, json!({"text": text, "form": form, "record": id})));
                    }
                }
                Effect::Webhook(hook) => {
                    messages.push((
                        store::WEBHOOK,
                        hook.url.clone(),
                        json!({"event": hook.event, "app": loaded.id(), "form": form, "record": id}),
                    ));
                }
            }
        }
        if let Some(field) = workflow.def().field.as_deref() {
            patch.insert(field.to_owned(), Value::String(step.instance.state.clone()));
        }
        let flow = serde_json::to_value(&step.instance).map_err(|e| EngineError::Internal(e.to_string()))?;
        let op = format!("flow:{action}");
        let moved = Some(Moved { state: step.instance.state.clone(), flow });
        let change = Change { id, expected_version: Some(record.version), patch: Value::Object(patch), op: &op, moved };
        let mut envelope = self.write_change(cmd.first_effect(), rt, change).await?;
        for (kind, recipient, payload) in messages {
            store::insert_outbox(tx, &crate::outbox_message(loaded.id(), kind, recipient, payload)).await?;
        }
        let decided = step.decided.map(|seat| (seat, actor.username.as_str(), command == Command::Approve));
        self.sync_tasks(cmd, rt, &workflow, &envelope, &step.instance, decided).await?;
        if step.instance.entry != instance.entry {
            self.schedule_timers(cmd, rt, &workflow, &envelope, &step.instance).await?;
        }
        let env = FlowEnv { record: &envelope.data, owner: &envelope.owner, ..env };
        let flow = view(&workflow, &step.instance, envelope.version, (!system).then_some((&person, &env as &dyn Env)))?;
        access.redact_record(loaded, actor, &mut envelope);
        Ok(ActResult { record: envelope, flow })
    }

    /// The live record, checked readable by the actor (404 otherwise), and the actor's access.
    pub(super) async fn flow_record(&self, cmd: Cmd<'_, impl Conn>, rt: &FormRuntime, id: &str) -> Result<(Record, Access), EngineError> {
        let form = rt.id();
        if !cmd.app.flows.contains_key(form) {
            return Err(EngineError::NotFound(format!("a flow of form `{form}`")));
        }
        let record = store::get(cmd.tx, &rt.table, id)
            .await?
            .filter(|r| r.deleted_at.is_none())
            .ok_or_else(|| EngineError::record_not_found(form, id))?;
        let access = Access::of(cmd.actor, rt);
        if !self.in_scope(cmd, rt, &access, Action::Read, &record).await? {
            return Err(EngineError::OutOfScope(format!("{form} record {id}")));
        }
        Ok((record, access))
    }

    pub(super) async fn may_update(
        &self,
        cmd: Cmd<'_, impl Conn>,
        rt: &FormRuntime,
        access: &Access,
        record: &Record,
    ) -> Result<bool, EngineError> {
        Ok(access.allows(Action::Update) && self.in_scope(cmd, rt, access, Action::Update, record).await?)
    }
}
