//! Record commands: create, get, update, delete, restore, history. Each write runs in one
//! transaction: validation, link and dedupe checks, auto-numbers, the row and its history
//! version all commit together or not at all.
//!
//! `create` drafts and writes new records, `checks` holds links and dedupe keys.

mod checks;
mod create;
mod merge;
mod ownership;
mod preview;

pub use merge::{MAX_MERGE_RELINKS, MergeMove, MergePlan};
pub(crate) use ownership::POOL_OWNER;
pub use preview::Preview;

pub(crate) use create::Draft;

use chrono::{Datelike, Utc};
use defs::Action;
use forms::{FieldCode, FieldError};
use rules::Effect;
use serde_json::{Value, json};
use store::{CmpOp, Conn, Deleted, Filter, ListQuery, Record, Scalar, SystemColumn, Target};

use crate::access::Access;
use crate::apps::FormRuntime;
use crate::audit::Subject;
use crate::command::{Cmd, MAX_EFFECT_DEPTH};
use crate::flows::ActRequest;
use crate::gather;
use crate::hooks::SaveContext;
use crate::{Actor, AppId, Engine, EngineError, Envelope, FormId, HistoryItem, RecordId, time};
use crate::{dated, locks};

/// The history's name of a change someone asked for (PATCH, an import that updates, a rule's
/// `update`): the only change a state's field locks judge ([`locks`]).
pub(crate) const UPDATE: &str = "update";

impl Engine {
    /// The live record `id` of `form`, as the actor may see it.
    pub async fn get(&self, actor: &Actor, app: &AppId, form: &FormId, id: &RecordId) -> Result<Envelope, EngineError> {
        self.get_record(actor, app.as_str(), form.as_str(), id.as_str()).await
    }

    /// [`Engine::get`] of a record the engine names by ids it already holds (a link, a
    /// template's form).
    pub(crate) async fn get_record(&self, actor: &Actor, app: &str, form: &str, id: &str) -> Result<Envelope, EngineError> {
        let work = async {
            let loaded = &self.app(app)?;
            let rt = loaded.form(form)?;
            let access = Access::of(actor, rt);
            if !crate::access::has_approvals(loaded, form) {
                access.require(Action::Read, form)?;
            }
            let cmd = Cmd::new(self.store.db(), actor, loaded);
            let record = match self.store.read(|db| async move { store::get(&db, &rt.table, id).await }).await? {
                Some(r) if r.deleted_at.is_none() => r,
                _ => return Err(EngineError::record_not_found(form, id)),
            };
            if !self.in_scope(cmd, rt, &access, Action::Read, &record).await? {
                return Err(EngineError::OutOfScope(format!("{form} record {id}")));
            }
            let mut envelope = Envelope::new(form, record);
            access.redact_record(loaded, actor, &mut envelope);
            Ok(envelope)
        };
        self.command(actor, Subject { action: "read", app, form, id }, work).await
    }

    /// Checks the actor may `action` the stored `record`: 404 when they may not even see it,
    /// 403 when they see it but may not do this. Returns the actor's access.
    async fn authorize(&self, cmd: Cmd<'_, impl Conn>, rt: &FormRuntime, record: &Record, action: Action) -> Result<Access, EngineError> {
        let form = rt.id();
        let access = Access::of(cmd.actor, rt);
        if !self.in_scope(cmd, rt, &access, Action::Read, record).await? {
            return Err(EngineError::OutOfScope(format!("{form} record {}", record.id)));
        }
        access.require(action, form)?;
        if !self.in_scope(cmd, rt, &access, action, record).await? {
            let verb = crate::access::action_name(action);
            return Err(EngineError::Forbidden(format!("you may not {verb} this {form} record")));
        }
        Ok(access)
    }

    /// Whether `record` lies in the scope of the actor's grants for `action`.
    pub(crate) async fn in_scope(
        &self,
        cmd: Cmd<'_, impl Conn>,
        rt: &FormRuntime,
        access: &Access,
        action: Action,
        record: &Record,
    ) -> Result<bool, EngineError> {
        let Some(scope) = self.scope(cmd.tx, cmd.actor, cmd.app, rt, access, action).await? else {
            return Ok(true);
        };
        let deleted = if record.deleted_at.is_some() { Deleted::Only } else { Deleted::Exclude };
        exists_within(cmd.tx, rt, &record.id, Some(scope), deleted).await
    }

    /// Whether the actor may read the live record `id` of `rt`.
    pub(crate) async fn may_read(&self, cmd: Cmd<'_, impl Conn>, rt: &FormRuntime, id: &str) -> Result<bool, EngineError> {
        let access = Access::of(cmd.actor, rt);
        if !access.allows(Action::Read) {
            return Ok(false);
        }
        let scope = self.scope(cmd.tx, cmd.actor, cmd.app, rt, &access, Action::Read).await?;
        exists_within(cmd.tx, rt, id, scope, Deleted::Exclude).await
    }

    /// `error` as the actor may see it: a duplicate names the other record only to a caller who
    /// may read it.
    pub(crate) async fn disclose(&self, actor: &Actor, app: &str, form: &str, error: EngineError) -> EngineError {
        let EngineError::Duplicate { existing: Some(id), fields } = error else { return error };
        let Ok(loaded) = &self.app(app) else { return EngineError::Duplicate { existing: None, fields } };
        let readable = match loaded.form(form) {
            Ok(rt) => self.may_read(Cmd::new(self.store.db(), actor, loaded), rt, &id).await.unwrap_or(false),
            Err(_) => false,
        };
        EngineError::Duplicate { existing: readable.then_some(id), fields }
    }

    /// Applies `patch` (changed fields; `null` clears one) to the record at `expected_version`.
    pub async fn update(
        &self,
        actor: &Actor,
        app: &AppId,
        form: &FormId,
        id: &RecordId,
        expected_version: i64,
        patch: Value,
    ) -> Result<Envelope, EngineError> {
        let (app, form, id) = (app.as_str(), form.as_str(), id.as_str());
        let work = async {
            let loaded = &self.app(app)?;
            let rt = loaded.form(form)?;
            let (turn, tx) = self.store.begin().await?;
            let cmd = Cmd::new(&tx, actor, loaded);
            let stored = store::get(&tx, &rt.table, id)
                .await?
                .filter(|r| r.deleted_at.is_none())
                .ok_or_else(|| EngineError::record_not_found(form, id))?;
            let access = self.authorize(cmd, rt, &stored, Action::Update).await?;
            if let Value::Object(fields) = &patch {
                access.check_writable(fields)?;
            }
            let mut envelope = self.update_in(cmd, rt, id, Some(expected_version), patch, UPDATE).await?;
            turn.commit(tx).await?;
            access.redact_record(loaded, actor, &mut envelope);
            Ok(envelope)
        };
        self.command(actor, Subject { action: "update", app, form, id }, work).await
    }

    /// Updates record `id` of `rt` in the command's transaction. Rule effects pass no
    /// `expected_version`: they change the record as it is now, within the same transaction.
    /// `op` names the change in the history (`update`, `rollup` …).
    pub(crate) async fn update_in(
        &self,
        cmd: Cmd<'_, impl Conn>,
        rt: &FormRuntime,
        id: &str,
        expected_version: Option<i64>,
        patch: Value,
        op: &str,
    ) -> Result<Envelope, EngineError> {
        self.write_change(cmd, rt, Change { id, expected_version, patch, op, moved: None }).await
    }

    /// Writes `change` as the record's next version, in the command's transaction.
    pub(crate) async fn write_change(
        &self,
        cmd: Cmd<'_, impl Conn>,
        rt: &FormRuntime,
        change: Change<'_>,
    ) -> Result<Envelope, EngineError> {
        let Change { id, expected_version, patch, op, moved } = change;
        let (tx, actor, form) = (cmd.tx, cmd.actor, rt.id());
        let Value::Object(patch) = patch else {
            return Err(EngineError::malformed_at("/data", "`data` must be an object of changed field values"));
        };
        let old = current(tx, rt, form, id, expected_version, false).await?;
        let expected_version = old.version;
        let mut data = old.data.clone();
        for (key, value) in patch {
            match value {
                Value::Null => data.remove(&key),
                value => data.insert(key, value),
            };
        }
        let mut errors = if cmd.trusted() { Vec::new() } else { rt.compiled.read_only_errors(Some(&old.data), &data) };
        if let Some(field) = cmd.app.flow_field(form).filter(|f| !cmd.trusted() && data.get(*f) != old.data.get(*f)) {
            errors.push(FieldError::coded(
                format!("/{field}"),
                FieldCode::FollowsFlow,
                format!("`{field}` follows the flow: change it with the record's actions"),
            ));
        }
        if !errors.is_empty() {
            return Err(EngineError::Invalid(errors));
        }
        let verdict = if op == UPDATE { locks::judge(cmd.app, form, actor, &old, &data)? } else { locks::Verdict::Free };
        let save = SaveContext { id: id.to_owned(), data, old: Some(old.data.clone()), at: time::rules_time() };
        let prepared = self.prepare(cmd, rt, save).await?;
        if !prepared.errors.is_empty() {
            return Err(EngineError::Invalid(prepared.errors));
        }
        let data = prepared.data;
        if op == dated::RECOMPUTE && data == old.data {
            return Ok(Envelope::new(form, old));
        }
        self.check_references(cmd, rt, Some(&old.data), &data).await?;
        self.check_duplicates(tx, rt, Some(&old), &data).await?;
        let before = Envelope::new(form, old.clone());
        let old_data = old.data.clone();
        let mut record = Record { data, form_version: rt.version, ..next_version(old, actor) };
        if let Some(moved) = moved {
            (record.state, record.flow) = (Some(moved.state), Some(moved.flow));
        }
        let envelope = self.write_version(cmd, rt, &before, record, expected_version, op).await?;
        self.refresh_rollups(cmd, rt, &[&old_data, &envelope.data]).await?;
        let mut effects = prepared.effects;
        let save = SaveContext { id: envelope.id.clone(), data: envelope.data.clone(), old: Some(old_data), at: time::rules_time() };
        effects.extend(self.after_save(cmd, rt, save).await?);
        self.apply_effects(cmd, form, &envelope.id, effects).await?;
        if verdict == locks::Verdict::Reapprove {
            // A person's change asks the approvers again; a trusted writer's acts as the system.
            Box::pin(self.act_in(cmd, rt, id, defs::REAPPROVE, ActRequest::default())).await?;
            return Ok(Envelope::new(form, current(tx, rt, form, id, None, false).await?));
        }
        Ok(envelope)
    }

    /// Applies what rules asked for, in the command's transaction; `form` and `id` name the
    /// record whose rules asked (empty for a schedule's). Effects may cause effects; a chain
    /// deeper than [`MAX_EFFECT_DEPTH`] is a loop in the rules and fails the command.
    pub(crate) async fn apply_effects(
        &self,
        cmd: Cmd<'_, impl Conn>,
        form: &str,
        id: &str,
        effects: Vec<Effect>,
    ) -> Result<(), EngineError> {
        if !effects.is_empty() && cmd.depth >= MAX_EFFECT_DEPTH {
            let message = format!("effects nested deeper than {MAX_EFFECT_DEPTH}; do the rules trigger each other in a loop?");
            return Err(EngineError::Rule(rules::RuleError::Failed { rule: format!("{form} hooks"), message }));
        }
        for effect in effects {
            match effect {
                // A record in its form's pool has nobody to tell.
                Effect::Notify { user, .. } if user == POOL_OWNER => {}
                Effect::Notify { user, text, about } => {
                    let about = about.or_else(|| (!id.is_empty()).then(|| (form.to_owned(), id.to_owned())));
                    let payload = match about {
                        Some((form, record)) => json!({"text": text, "form": form, "record": record}),
                        None => json!({"text": text}),
                    };
                    store::insert_outbox(cmd.tx, &crate::outbox_message(cmd.app.id(), "notify", user, payload)).await?;
                }
                Effect::Webhook { url, event, data } => {
                    let payload = json!({"event": event, "app": cmd.app.id(), "data": data});
                    store::insert_outbox(cmd.tx, &crate::outbox_message(cmd.app.id(), store::WEBHOOK, url, payload)).await?;
                }
                Effect::Create { form: target, data } => {
                    Box::pin(self.create_in(cmd.deeper(), cmd.form(&target)?, data, None)).await?;
                }
                Effect::Update { form: target, id: target_id, data } => {
                    Box::pin(self.update_in(cmd.deeper(), cmd.form(&target)?, &target_id, None, data, UPDATE)).await?;
                }
            }
        }
        Ok(())
    }

    /// Soft-deletes the record at `expected_version`; it can be restored.
    pub async fn delete(
        &self,
        actor: &Actor,
        app: &AppId,
        form: &FormId,
        id: &RecordId,
        expected_version: i64,
    ) -> Result<Envelope, EngineError> {
        let (app, form, id) = (app.as_str(), form.as_str(), id.as_str());
        self.command(actor, Subject { action: "delete", app, form, id }, self.change_deleted(actor, app, form, id, expected_version, true))
            .await
    }

    /// Brings a soft-deleted record back, unless a live record now duplicates it.
    pub async fn restore(
        &self,
        actor: &Actor,
        app: &AppId,
        form: &FormId,
        id: &RecordId,
        expected_version: i64,
    ) -> Result<Envelope, EngineError> {
        let (app, form, id) = (app.as_str(), form.as_str(), id.as_str());
        self.command(
            actor,
            Subject { action: "restore", app, form, id },
            self.change_deleted(actor, app, form, id, expected_version, false),
        )
        .await
    }

    async fn change_deleted(
        &self,
        actor: &Actor,
        app: &str,
        form: &str,
        id: &str,
        expected_version: i64,
        delete: bool,
    ) -> Result<Envelope, EngineError> {
        let loaded = &self.app(app)?;
        let rt = loaded.form(form)?;
        let (turn, tx) = self.store.begin().await?;
        let cmd = Cmd::new(&tx, actor, loaded);
        let stored = store::get(&tx, &rt.table, id).await?.ok_or_else(|| EngineError::record_not_found(form, id))?;
        // Access first: the record's state and version are nobody's business outside its scope.
        let access = self.authorize(cmd, rt, &stored, Action::Delete).await?;
        let old = at_version(stored, form, Some(expected_version), !delete)?;
        if !delete {
            self.check_duplicates(&tx, rt, Some(&old), &old.data).await?;
        }
        let before = Envelope::new(form, old.clone());
        let (deleted_at, op) = if delete { (Some(time::stamp()), "delete") } else { (None, "restore") };
        let record = Record { deleted_at, ..next_version(old, actor) };
        let mut envelope = self.write_version(cmd, rt, &before, record, expected_version, op).await?;
        self.refresh_rollups(cmd, rt, &[&envelope.data]).await?;
        turn.commit(tx).await?;
        access.redact_record(loaded, actor, &mut envelope);
        Ok(envelope)
    }

    /// Gives the record to `owner` as a new version, written as `op` (a flow timer's
    /// `escalate`, an admin's `handover`).
    pub(crate) async fn reassign(
        &self,
        cmd: Cmd<'_, impl Conn>,
        rt: &FormRuntime,
        old: &Record,
        owner: &str,
        op: &str,
    ) -> Result<(), EngineError> {
        let before = Envelope::new(rt.id(), old.clone());
        let record = Record { owner: owner.to_owned(), ..next_version(old.clone(), cmd.actor) };
        self.write_version(cmd, rt, &before, record, old.version, op).await?;
        Ok(())
    }

    /// Every version of the record, oldest first (deleted records keep their history).
    pub async fn history(&self, actor: &Actor, app: &AppId, form: &FormId, id: &RecordId) -> Result<Vec<HistoryItem>, EngineError> {
        let (app, form, id) = (app.as_str(), form.as_str(), id.as_str());
        let work = async {
            let loaded = &self.app(app)?;
            let rt = loaded.form(form)?;
            let db = self.store.db();
            let record = store::get(db, &rt.table, id).await?.ok_or_else(|| EngineError::record_not_found(form, id))?;
            let access = self.authorize(Cmd::new(db, actor, loaded), rt, &record, Action::Read).await?;
            let live = Envelope::new(form, record);
            // Read after the live row: every version before it has its snapshot by now (it was
            // filled in the transaction that wrote the live row), and versions written since
            // are left for the next read.
            let entries = store::history(db, id).await?;
            // While the record waits at an approval step, its earlier versions hide what it does.
            let hidden = crate::flows::hidden_at_step(loaded, form, &actor.username, live.flow.as_ref());
            entries
                .into_iter()
                .filter(|e| e.version <= live.version)
                .map(|e| {
                    let mut record = version_record(&e, &live)?;
                    if let Some(Value::Object(data)) = record.get_mut("data") {
                        access.redact(data);
                        data.retain(|k, _| !hidden.contains(k));
                    }
                    Ok(HistoryItem { version: e.version, op: e.op, changed_by: e.changed_by, changed_at: e.changed_at, record })
                })
                .collect()
        };
        self.command(actor, Subject { action: "history", app, form, id }, work).await
    }

    pub(crate) async fn write_version(
        &self,
        cmd: Cmd<'_, impl Conn>,
        rt: &FormRuntime,
        before: &Envelope,
        record: Record,
        expected_version: i64,
        op: &str,
    ) -> Result<Envelope, EngineError> {
        if !store::update(cmd.tx, &rt.table, &record, expected_version).await? {
            let current = store::get(cmd.tx, &rt.table, &record.id).await?.map(|r| r.version).unwrap_or(0);
            return Err(EngineError::StaleVersion { current });
        }
        let envelope = Envelope::new(&before.form, record);
        self.record_write(cmd, Some(before), &envelope, op).await?;
        Ok(envelope)
    }

    /// Keeps the new version in the history and the audit log. The live row holds the new
    /// version, so its history row holds no snapshot; the version it replaced (`before`) leaves
    /// the live row, so its snapshot goes into its history row now.
    async fn record_write(
        &self,
        cmd: Cmd<'_, impl Conn>,
        before: Option<&Envelope>,
        after: &Envelope,
        op: &str,
    ) -> Result<(), EngineError> {
        self.audit_write(cmd, op, before, after, &snapshot_text(after)?).await?;
        if let Some(before) = before {
            keep_version(cmd.tx, before).await?;
        }
        let entry = store::HistoryEntry {
            record_id: after.id.clone(),
            version: after.version,
            app: cmd.app.id().to_owned(),
            form: after.form.clone(),
            op: op.to_owned(),
            snapshot: store::LIVE_SNAPSHOT.to_owned(),
            changed_by: after.updated_by.clone(),
            changed_at: after.updated_at.clone(),
        };
        Ok(gather::history(cmd.tx, entry).await?)
    }
}

/// Keeps `version` — the stored version a write replaces in the live row — in its history row,
/// unless that row holds it already. A flow's move calls it before it changes the row's state
/// in place, so the version keeps the state it had; the write then finds it kept.
pub(crate) async fn keep_version(tx: &impl Conn, version: &Envelope) -> Result<(), EngineError> {
    let superseded = gather::Superseded { record_id: version.id.clone(), version: version.version, snapshot: snapshot_text(version)? };
    Ok(gather::supersede(tx, superseded).await?)
}

/// A version's snapshot as the history keeps it and the audit hashes it: the envelope as JSON
/// with every object's members in key order, so the same version gives the same text however
/// the database handed its data back (PostgreSQL's `jsonb` orders keys its own way).
fn snapshot_text(envelope: &Envelope) -> Result<String, EngineError> {
    let mut value = serde_json::to_value(envelope).map_err(|e| EngineError::Internal(e.to_string()))?;
    value.sort_all_objects();
    Ok(value.to_string())
}

/// The record at history entry `e`: its snapshot, or the live record when the entry is the
/// live version (no snapshot).
fn version_record(e: &store::HistoryEntry, live: &Envelope) -> Result<Value, EngineError> {
    let version = format!("version {} of {} record {}", e.version, live.form, live.id);
    if e.snapshot != store::LIVE_SNAPSHOT {
        return serde_json::from_str(&e.snapshot).map_err(|error| EngineError::Internal(format!("{version} is not JSON: {error}")));
    }
    if e.version != live.version {
        return Err(EngineError::Internal(format!("{version} has no snapshot, but the record is at version {}", live.version)));
    }
    serde_json::to_value(live).map_err(|error| EngineError::Internal(error.to_string()))
}

/// The stored record `id`, checked to be at `expected_version` (when given) and (not) deleted.
async fn current(
    tx: &impl Conn,
    rt: &FormRuntime,
    form: &str,
    id: &str,
    expected_version: Option<i64>,
    deleted: bool,
) -> Result<Record, EngineError> {
    let record = store::get(tx, &rt.table, id).await?.ok_or_else(|| EngineError::record_not_found(form, id))?;
    at_version(record, form, expected_version, deleted)
}

/// `record`, checked to be at `expected_version` (when given) and (not) deleted.
fn at_version(record: Record, form: &str, expected_version: Option<i64>, deleted: bool) -> Result<Record, EngineError> {
    let id = &record.id;
    if record.deleted_at.is_some() != deleted {
        return Err(if deleted {
            EngineError::malformed(format!("{form} record {id} is not deleted"))
        } else {
            EngineError::record_not_found(form, id)
        });
    }
    if expected_version.is_some_and(|v| v != record.version) {
        return Err(EngineError::StaleVersion { current: record.version });
    }
    Ok(record)
}

/// Whether record `id` of `rt` exists among those `scope` selects (all, when `None`).
async fn exists_within(db: &impl Conn, rt: &FormRuntime, id: &str, scope: Option<Filter>, deleted: Deleted) -> Result<bool, EngineError> {
    let by_id = Filter::Cmp(Target::System(SystemColumn::Id), CmpOp::Eq, Scalar::Text(id.to_owned()));
    let filter = match scope {
        Some(scope) => Filter::All(vec![by_id, scope]),
        None => by_id,
    };
    let query = ListQuery { filter: Some(filter), sort: Vec::new(), after: None, limit: 1, deleted };
    Ok(!store::list(db, &rt.table, &query).await?.is_empty())
}

/// A change to a record: its patch, and for a flow's move the state and flow it moves to,
/// written with the new version (one row update, so the version it replaces, kept in the
/// history and compared in the audit, is the record as it was).
pub(crate) struct Change<'a> {
    pub id: &'a str,
    pub expected_version: Option<i64>,
    pub patch: Value,
    /// `update`, or `flow:<action>` for a move …
    pub op: &'a str,
    pub moved: Option<Moved>,
}

/// Where a flow's action moves the record.
pub(crate) struct Moved {
    pub state: String,
    pub flow: Value,
}

pub(crate) fn next_version(old: Record, actor: &Actor) -> Record {
    Record { version: old.version + 1, updated_by: actor.username.clone(), updated_at: time::stamp(), ..old }
}

/// Fills an auto-number pattern: date parts from today, the `#` run from a counter keyed by
/// everything else, so `QT-{YYYY}-{#####}` restarts each year.
async fn next_number(tx: &impl Conn, app: &str, form: &str, field: &str, pattern: &str) -> Result<String, EngineError> {
    let today = Utc::now().date_naive();
    let filled = pattern
        .replace("{YYYY}", &format!("{:04}", today.year()))
        .replace("{MM}", &format!("{:02}", today.month()))
        .replace("{DD}", &format!("{:02}", today.day()));
    let start = filled.find('#').unwrap_or(filled.len());
    let end = filled[start..].find(|c| c != '#').map_or(filled.len(), |n| start + n);
    let width = end - start;
    let braced = filled[..start].ends_with('{') && filled[end..].starts_with('}');
    let (prefix, suffix) = if braced { (&filled[..start - 1], &filled[end + 1..]) } else { (&filled[..start], &filled[end..]) };
    let n = store::next_counter(tx, &format!("{app}:{form}:{field}:{prefix}#{suffix}")).await?;
    Ok(format!("{prefix}{n:0width$}{suffix}"))
}
