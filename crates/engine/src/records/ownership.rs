//! Who owns a record: a user claims one from its form's pool, returns it there, or someone
//! with the `assign` right gives it to another user; an open record nobody changed for the
//! pool's `return_after_days` goes back by itself. Each is a new version of the record (`op`
//! `claim`, `return`, `assign`) with its history and audit row; its data does not change.

use chrono::{DateTime, Utc};
use defs::Action;
use serde_json::{Value, json};
use store::{CmpOp, Conn, Deleted, Filter, ListQuery, Record, Scalar, SystemColumn, Target};

use super::{at_version, next_version};
use crate::access::Access;
use crate::apps::{FormRuntime, LoadedApp};
use crate::audit::Subject;
use crate::command::Cmd;
use crate::pages::Pages;
use crate::time;
use crate::{Actor, AppId, Engine, EngineError, Envelope, FormId, RecordId};

/// The owner of a record in its form's pool: nobody (no username is empty).
pub(crate) const POOL_OWNER: &str = "";

/// A change of owner.
#[derive(Debug, Clone, Copy)]
enum Change<'a> {
    /// The actor takes a record from the pool.
    Claim,
    /// The record goes back to the pool.
    Return,
    /// The record goes to this user.
    Assign(&'a str),
    /// The record goes back to the pool by itself, untouched since this time; its owner is told.
    Expire { untouched_since: &'a str },
}

impl Change<'_> {
    fn op(self) -> &'static str {
        match self {
            Change::Claim => "claim",
            Change::Return | Change::Expire { .. } => "return",
            Change::Assign(_) => "assign",
        }
    }
}

impl Engine {
    /// Takes record `id` from its form's pool: the actor, who may read it there and update the
    /// form's records, becomes its owner — unless they hold the pool's `limit` of open records.
    pub async fn claim(
        &self,
        actor: &Actor,
        app: &AppId,
        form: &FormId,
        id: &RecordId,
        expected_version: i64,
    ) -> Result<Envelope, EngineError> {
        self.change_owner(actor, app, form, id, Some(expected_version), Change::Claim).await
    }

    /// Puts record `id` back into its form's pool, for anyone who may update it.
    pub async fn return_to_pool(
        &self,
        actor: &Actor,
        app: &AppId,
        form: &FormId,
        id: &RecordId,
        expected_version: i64,
    ) -> Result<Envelope, EngineError> {
        self.change_owner(actor, app, form, id, Some(expected_version), Change::Return).await
    }

    /// Gives record `id` to the active user `owner`; the actor needs the `assign` right on it.
    pub async fn assign(
        &self,
        actor: &Actor,
        app: &AppId,
        form: &FormId,
        id: &RecordId,
        expected_version: i64,
        owner: &str,
    ) -> Result<Envelope, EngineError> {
        self.change_owner(actor, app, form, id, Some(expected_version), Change::Assign(owner)).await
    }

    async fn change_owner(
        &self,
        actor: &Actor,
        app: &AppId,
        form: &FormId,
        id: &RecordId,
        expected_version: Option<i64>,
        change: Change<'_>,
    ) -> Result<Envelope, EngineError> {
        let (app, form, id) = (app.as_str(), form.as_str(), id.as_str());
        let work = async {
            let loaded = &self.app(app)?;
            let rt = loaded.form(form)?;
            let (turn, tx) = self.store.begin().await?;
            let cmd = Cmd::new(&tx, actor, loaded);
            let stored = store::get(&tx, &rt.table, id).await?.ok_or_else(|| EngineError::record_not_found(form, id))?;
            let access = self.may_change_owner(cmd, rt, &stored, change).await?;
            let old = at_version(stored, form, expected_version, false)?;
            let version = old.version;
            let owner = match change {
                Change::Claim => {
                    if old.owner != POOL_OWNER {
                        return Err(EngineError::Conflict(format!("this {form} record is not in the pool any more")));
                    }
                    self.within_pool_limit(cmd, rt).await?;
                    actor.username.clone()
                }
                Change::Return | Change::Expire { .. } if old.owner == POOL_OWNER => {
                    return Err(EngineError::Conflict(format!("this {form} record is in the pool already")));
                }
                Change::Return => POOL_OWNER.to_owned(),
                Change::Expire { untouched_since } => {
                    if old.updated_at.as_str() >= untouched_since {
                        return Err(EngineError::Conflict(format!("this {form} record changed meanwhile")));
                    }
                    let title = rt.compiled.def.title_field.as_deref().and_then(|f| old.data.get(f)).and_then(Value::as_str);
                    let text = format!("{} went back to the pool: nobody changed it for too long", title.unwrap_or(form));
                    let payload = json!({"text": text, "form": form, "record": id});
                    store::insert_outbox(&tx, &crate::outbox_message(app, "notify", old.owner.clone(), payload)).await?;
                    POOL_OWNER.to_owned()
                }
                Change::Assign(owner) => {
                    if !store::get_user(&tx, owner).await?.is_some_and(|u| u.active) {
                        return Err(EngineError::NotFound(format!("active user {owner}")));
                    }
                    owner.to_owned()
                }
            };
            let before = Envelope::new(form, old.clone());
            let record = Record { owner, ..next_version(old, actor) };
            let mut envelope = self.write_version(cmd, rt, &before, record, version, change.op()).await?;
            turn.commit(tx).await?;
            access.redact_record(loaded, actor, &mut envelope);
            Ok(envelope)
        };
        self.command(actor, Subject { action: change.op(), app, form, id }, work).await
    }

    /// Checks the actor may make `change` to `record`: they must see it (404 otherwise), and
    /// then claim from the form's pool, update it to return it, or hold `assign` on it.
    async fn may_change_owner(
        &self,
        cmd: Cmd<'_, impl Conn>,
        rt: &FormRuntime,
        record: &Record,
        change: Change<'_>,
    ) -> Result<Access, EngineError> {
        let form = rt.id();
        let pooled = || {
            if rt.compiled.def.pool.is_some() { Ok(()) } else { Err(EngineError::Conflict(format!("form {form} has no pool"))) }
        };
        match change {
            Change::Claim => {
                let access = self.authorize(cmd, rt, record, Action::Read).await?;
                pooled()?;
                access.require(Action::Update, form)?;
                Ok(access)
            }
            Change::Return | Change::Expire { .. } => {
                let access = self.authorize(cmd, rt, record, Action::Update).await?;
                pooled()?;
                Ok(access)
            }
            Change::Assign(_) => self.authorize(cmd, rt, record, Action::Assign).await,
        }
    }

    /// Returns to their pools the open records of `app` nobody changed for the pool's
    /// `return_after_days` before `now`, each in its own transaction. Run nightly.
    pub(crate) async fn return_untouched(&self, app: &str, now: DateTime<Utc>) -> Result<(), EngineError> {
        let loaded = &self.app(app)?;
        let system = Actor::system();
        for rt in loaded.forms.values() {
            let Some(days) = rt.compiled.def.pool.as_ref().and_then(|p| p.return_after_days) else { continue };
            let since = time::format(now - chrono::Duration::days(days.into()));
            let mut untouched = open_records(loaded, rt);
            untouched.push(Filter::Cmp(Target::System(SystemColumn::Owner), CmpOp::Ne, Scalar::Text(POOL_OWNER.into())));
            untouched.push(Filter::Cmp(Target::System(SystemColumn::UpdatedAt), CmpOp::Lt, Scalar::Text(since.clone())));
            let (Ok(app_id), Ok(form_id)) = (AppId::parse(app), FormId::parse(rt.id())) else { continue };
            let mut pages = Pages::matching(&rt.table, Filter::All(untouched));
            while !pages.done() {
                for id in pages.next(self.store.db()).await? {
                    let Ok(id) = RecordId::parse(&id) else { continue };
                    let change = Change::Expire { untouched_since: &since };
                    match self.change_owner(&system, &app_id, &form_id, &id, None, change).await {
                        // Changed, claimed or returned since the page was read: not untouched.
                        Ok(_) | Err(EngineError::Conflict(_) | EngineError::StaleVersion { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        Ok(())
    }

    /// Refuses a claim by an actor who holds the pool's limit of open records of the form.
    async fn within_pool_limit(&self, cmd: Cmd<'_, impl Conn>, rt: &FormRuntime) -> Result<(), EngineError> {
        let Some(limit) = rt.compiled.def.pool.as_ref().and_then(|p| p.limit) else { return Ok(()) };
        let mut held = open_records(cmd.app, rt);
        held.push(Filter::Cmp(Target::System(SystemColumn::Owner), CmpOp::Eq, Scalar::Text(cmd.actor.username.clone())));
        let query = ListQuery { filter: Some(Filter::All(held)), sort: Vec::new(), after: None, limit: 1, deleted: Deleted::Exclude };
        let count = store::count(cmd.tx, &rt.table, &query, u64::from(limit)).await?;
        if count >= u64::from(limit) {
            let limit = crate::error::Limit { name: "pool.limit", value: limit.into() };
            return Err(EngineError::PoolLimit { form: rt.id().to_owned(), held: count, limit });
        }
        Ok(())
    }
}

/// The conditions of a form's open records: those not in a terminal state of its flow.
fn open_records(app: &LoadedApp, rt: &FormRuntime) -> Vec<Filter> {
    let Some(flow) = app.flows.get(rt.id()) else { return Vec::new() };
    let terminal: Vec<Scalar> = flow.workflow.def().states.iter().filter(|s| s.terminal).map(|s| Scalar::Text(s.id.clone())).collect();
    if terminal.is_empty() {
        return Vec::new();
    }
    vec![Filter::In { target: Target::System(SystemColumn::State), values: terminal, negate: true }]
}
