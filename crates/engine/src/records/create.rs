//! Creating a record: worked out as far as it goes without the database (a [`Draft`]: defaults,
//! the start of its flow, the first run of its rules), then written in the command's
//! transaction with everything it asks for.

use defs::Action;
use forms::{FieldCode, FieldError};
use serde_json::{Map, Value};
use store::{Conn, Record};
use uuid::Uuid;
use workflow::Instance;

use crate::access::Access;
use crate::apps::FormRuntime;
use crate::audit::Subject;
use crate::command::Cmd;
use crate::flows::starts_in_approval;
use crate::hooks::{RulesDraft, SaveContext, Turn};
use crate::people::Organisation;
use crate::{Actor, AppId, Engine, EngineError, Envelope, FormId, time};

use super::next_number;

/// A new record worked out before its write (see [`Engine::draft`]).
pub(crate) struct Draft {
    id: String,
    /// The owner the caller gave, overriding assignment.
    owner: Option<String>,
    stage: DraftStage,
}

enum DraftStage {
    /// Its flow started and its rules drafted.
    Started(Box<(Option<Instance>, RulesDraft)>),
    /// Its flow starts in an approval, which needs the user directory: started in the transaction.
    NeedsDirectory(Map<String, Value>),
}

impl Engine {
    /// Creates a record of `form` from `data` (the form's fields).
    pub async fn create(&self, actor: &Actor, app: &AppId, form: &FormId, data: Value) -> Result<Envelope, EngineError> {
        let (app, form) = (app.as_str(), form.as_str());
        let work = async {
            let loaded = &self.app(app)?;
            let rt = loaded.form(form)?;
            let access = Access::of(actor, rt);
            access.require(Action::Create, form)?;
            if let Value::Object(fields) = &data {
                access.check_writable(fields)?;
            }
            // Drafted before the write turn: other requests write meanwhile.
            let drafting = Cmd::new(&(), actor, loaded);
            let draft = self.draft_with_rules(Turn::NotYet, drafting, rt, data, None).await?;
            let (turn, tx) = self.store.begin().await?;
            let mut envelope = self.create_drafted(drafting.within(&tx), rt, draft).await?;
            turn.commit(tx).await?;
            access.redact_record(loaded, actor, &mut envelope);
            Ok(envelope)
        };
        self.command(actor, Subject { action: "create", app, form, id: "" }, work).await
    }

    /// Creates a record of `rt` in the command's transaction; `owner` overrides assignment and
    /// the actor.
    pub(crate) async fn create_in(
        &self,
        cmd: Cmd<'_, impl Conn>,
        rt: &FormRuntime,
        data: Value,
        owner: Option<&str>,
    ) -> Result<Envelope, EngineError> {
        let draft = self.draft_with_rules(Turn::Held, cmd, rt, data, owner).await?;
        self.create_drafted(cmd, rt, draft).await
    }

    /// Works out a new record as far as it goes without the database: read-only fields,
    /// defaults, the start of its flow, the first run of its rules. `owner` as for
    /// [`Engine::create_in`].
    pub(crate) fn draft<C>(&self, cmd: Cmd<'_, C>, rt: &FormRuntime, data: Value, owner: Option<&str>) -> Result<Draft, EngineError> {
        let Value::Object(mut data) = data else {
            return Err(EngineError::malformed_at("/data", "`data` must be an object of field values"));
        };
        // People may not write read-only fields; rules may.
        let errors = if cmd.trusted() { Vec::new() } else { rt.compiled.read_only_errors(None, &data) };
        if !errors.is_empty() {
            return Err(EngineError::Invalid(errors));
        }
        rt.compiled.apply_defaults(&mut data);
        let id = Uuid::now_v7().to_string();
        if starts_in_approval(cmd.app, rt.id(), &data) {
            return Ok(Draft { id, owner: owner.map(str::to_owned), stage: DraftStage::NeedsDirectory(data) });
        }
        let started = self.start(cmd, rt, &id, data, owner, &Organisation::default())?;
        Ok(Draft { id, owner: owner.map(str::to_owned), stage: DraftStage::Started(Box::new(started)) })
    }

    /// Starts a new record's flow (`org`: the organisation, when it starts in an approval) and
    /// drafts its rules.
    fn start<C>(
        &self,
        cmd: Cmd<'_, C>,
        rt: &FormRuntime,
        id: &str,
        mut data: Map<String, Value>,
        owner: Option<&str>,
        org: &Organisation,
    ) -> Result<(Option<Instance>, RulesDraft), EngineError> {
        let instance = self.start_flow(cmd, rt, owner.unwrap_or(&cmd.actor.username), &mut data, org)?;
        Ok((instance, self.draft_rules(cmd, rt, SaveContext { id: id.to_owned(), data, old: None, at: time::rules_time() })?))
    }

    /// Writes a drafted record: completes its rules with what they read, checks links and
    /// duplicates, numbers it, and stores it with its history, audit row, flow timers and the
    /// effects its rules asked for.
    pub(crate) async fn create_drafted(&self, cmd: Cmd<'_, impl Conn>, rt: &FormRuntime, draft: Draft) -> Result<Envelope, EngineError> {
        let (tx, actor, form) = (cmd.tx, cmd.actor, rt.id());
        let Draft { id, owner, stage } = draft;
        let owner = owner.as_deref();
        let (instance, rules) = match stage {
            DraftStage::Started(started) => *started,
            DraftStage::NeedsDirectory(data) => self.start(cmd, rt, &id, data, owner, &Organisation::load(tx).await?)?,
        };
        let (prepared, assign) = self.finish_rules(cmd, rules).await?;
        if !prepared.errors.is_empty() {
            return Err(EngineError::Invalid(prepared.errors));
        }
        let mut data = prepared.data;
        self.check_references(cmd, rt, None, &data).await?;
        self.check_duplicates(tx, rt, None, &data).await?;
        let owner = match owner {
            Some(owner) => owner.to_owned(),
            None => match self.assign_owner(cmd, rt, &id, &data, assign).await? {
                Some(assigned) if !store::user_exists(tx, &assigned).await? => {
                    let message = format!("assigned owner `{assigned}` does not exist");
                    return Err(EngineError::Invalid(vec![
                        FieldError::coded("/owner", FieldCode::UserNotFound, message).with("username", assigned),
                    ]));
                }
                Some(assigned) => assigned,
                None => actor.username.clone(),
            },
        };
        for (field, pattern) in rt.compiled.auto_numbers() {
            let number = next_number(tx, cmd.app.id(), form, field, pattern).await?;
            data.insert(field.to_owned(), Value::String(number));
        }
        let now = time::stamp();
        let flow = instance.as_ref().map(serde_json::to_value).transpose().map_err(|e| EngineError::Internal(e.to_string()))?;
        let record = Record {
            id,
            version: 1,
            owner,
            state: instance.as_ref().map(|i| i.state.clone()),
            flow,
            data,
            created_by: actor.username.clone(),
            created_at: now.clone(),
            updated_by: actor.username.clone(),
            updated_at: now,
            deleted_at: None,
            form_version: rt.version,
        };
        store::insert(tx, &rt.table, &record).await?;
        let envelope = Envelope::new(form, record);
        self.record_write(cmd, None, &envelope, "create").await?;
        self.refresh_rollups(cmd, rt, &[&envelope.data]).await?;
        if let Some(instance) = &instance {
            self.started_flow(cmd, rt, &envelope, instance).await?;
        }
        let mut effects = prepared.effects;
        let save = SaveContext { id: envelope.id.clone(), data: envelope.data.clone(), old: None, at: time::rules_time() };
        effects.extend(self.after_save(cmd, rt, save).await?);
        self.apply_effects(cmd, form, &envelope.id, effects).await?;
        Ok(envelope)
    }

    /// [`Engine::draft`] through [`run_rules`]. `owner` as for [`Engine::create_in`].
    pub(crate) async fn draft_with_rules<C>(
        &self,
        turn: Turn,
        cmd: Cmd<'_, C>,
        rt: &FormRuntime,
        data: Value,
        owner: Option<&str>,
    ) -> Result<Draft, EngineError> {
        let owner = owner.map(str::to_owned);
        self.run_form_rules(turn, cmd, rt, move |engine, drafting, rt| engine.draft(drafting, rt, data.clone(), owner.as_deref())).await
    }
}
