//! Record commands: create, get, update, delete, restore, history. Each write runs in one
//! transaction: validation, link and dedupe checks, auto-numbers, the row and its history
//! version all commit together or not at all.

use chrono::{Datelike, Utc};
use defs::FieldKind;
use forms::FieldError;
use serde_json::{Map, Value};
use store::{Conn, Record};
use uuid::Uuid;

use crate::apps::{FormRuntime, column_kind};
use crate::list::scalar_of;
use crate::{Actor, Engine, EngineError, Envelope, HistoryItem, time};

impl Engine {
    /// Creates a record of `form` from `data` (the form's fields).
    pub async fn create(&self, actor: &Actor, app: &str, form: &str, data: Value) -> Result<Envelope, EngineError> {
        let tx = self.store.begin().await?;
        let envelope = self.create_in(&tx, actor, app, form, data, None).await?;
        tx.commit().await.map_err(store::StoreError::from)?;
        Ok(envelope)
    }

    /// Creates inside the caller's transaction; `owner` defaults to the actor.
    pub(crate) async fn create_in(
        &self,
        tx: &impl Conn,
        actor: &Actor,
        app: &str,
        form: &str,
        data: Value,
        owner: Option<&str>,
    ) -> Result<Envelope, EngineError> {
        let rt = self.app(app)?.form(form)?;
        let Value::Object(mut data) = data else {
            return Err(EngineError::malformed_at("/data", "`data` must be an object of field values"));
        };
        let mut errors = rt.compiled.read_only_errors(None, &data);
        rt.compiled.apply_defaults(&mut data);
        errors.extend(rt.compiled.validate(&Value::Object(data.clone())));
        if !errors.is_empty() {
            return Err(EngineError::Invalid(errors));
        }
        self.check_references(tx, app, rt, None, &data).await?;
        self.check_duplicates(tx, rt, None, &data).await?;
        for (field, pattern) in rt.compiled.auto_numbers() {
            let number = next_number(tx, app, form, field, pattern).await?;
            data.insert(field.to_owned(), Value::String(number));
        }
        let now = time::now();
        let record = Record {
            id: Uuid::now_v7().to_string(),
            version: 1,
            owner: owner.unwrap_or(&actor.username).to_owned(),
            state: None,
            data,
            created_by: actor.username.clone(),
            created_at: now.clone(),
            updated_by: actor.username.clone(),
            updated_at: now,
            deleted_at: None,
        };
        store::insert(tx, &rt.table, &record).await?;
        let envelope = Envelope::new(form, record);
        record_history(tx, app, &envelope, "create").await?;
        Ok(envelope)
    }

    /// The live record `id` of `form`.
    pub async fn get(&self, _actor: &Actor, app: &str, form: &str, id: &str) -> Result<Envelope, EngineError> {
        let rt = self.app(app)?.form(form)?;
        match store::get(self.store.db(), &rt.table, id).await? {
            Some(r) if r.deleted_at.is_none() => Ok(Envelope::new(form, r)),
            _ => Err(not_found(form, id)),
        }
    }

    /// Applies `patch` (changed fields; `null` clears one) to the record at `expected_version`.
    pub async fn update(
        &self,
        actor: &Actor,
        app: &str,
        form: &str,
        id: &str,
        expected_version: i64,
        patch: Value,
    ) -> Result<Envelope, EngineError> {
        let rt = self.app(app)?.form(form)?;
        let Value::Object(patch) = patch else {
            return Err(EngineError::malformed_at("/data", "`data` must be an object of changed field values"));
        };
        let tx = self.store.begin().await?;
        let old = current(&tx, rt, form, id, expected_version, false).await?;
        let mut data = old.data.clone();
        for (key, value) in patch {
            match value {
                Value::Null => data.remove(&key),
                value => data.insert(key, value),
            };
        }
        let mut errors = rt.compiled.read_only_errors(Some(&old.data), &data);
        errors.extend(rt.compiled.validate(&Value::Object(data.clone())));
        if !errors.is_empty() {
            return Err(EngineError::Invalid(errors));
        }
        self.check_references(&tx, app, rt, Some(&old.data), &data).await?;
        self.check_duplicates(&tx, rt, Some(&old), &data).await?;
        let record = Record { data, ..next_version(old, actor) };
        let envelope = self.write_version(&tx, app, rt, form, record, expected_version, "update").await?;
        tx.commit().await.map_err(store::StoreError::from)?;
        Ok(envelope)
    }

    /// Soft-deletes the record at `expected_version`; it can be restored.
    pub async fn delete(&self, actor: &Actor, app: &str, form: &str, id: &str, expected_version: i64) -> Result<Envelope, EngineError> {
        let rt = self.app(app)?.form(form)?;
        let tx = self.store.begin().await?;
        let old = current(&tx, rt, form, id, expected_version, false).await?;
        let record = Record { deleted_at: Some(time::now()), ..next_version(old, actor) };
        let envelope = self.write_version(&tx, app, rt, form, record, expected_version, "delete").await?;
        tx.commit().await.map_err(store::StoreError::from)?;
        Ok(envelope)
    }

    /// Brings a soft-deleted record back, unless a live record now duplicates it.
    pub async fn restore(&self, actor: &Actor, app: &str, form: &str, id: &str, expected_version: i64) -> Result<Envelope, EngineError> {
        let rt = self.app(app)?.form(form)?;
        let tx = self.store.begin().await?;
        let old = current(&tx, rt, form, id, expected_version, true).await?;
        self.check_duplicates(&tx, rt, Some(&old), &old.data).await?;
        let record = Record { deleted_at: None, ..next_version(old, actor) };
        let envelope = self.write_version(&tx, app, rt, form, record, expected_version, "restore").await?;
        tx.commit().await.map_err(store::StoreError::from)?;
        Ok(envelope)
    }

    /// Every version of the record, oldest first (deleted records keep their history).
    pub async fn history(&self, _actor: &Actor, app: &str, form: &str, id: &str) -> Result<Vec<HistoryItem>, EngineError> {
        let rt = self.app(app)?.form(form)?;
        if store::get(self.store.db(), &rt.table, id).await?.is_none() {
            return Err(not_found(form, id));
        }
        let entries = store::history(self.store.db(), id).await?;
        Ok(entries
            .into_iter()
            .map(|e| HistoryItem { version: e.version, op: e.op, changed_by: e.changed_by, changed_at: e.changed_at, record: e.snapshot })
            .collect())
    }

    #[allow(clippy::too_many_arguments)]
    async fn write_version(
        &self,
        tx: &impl Conn,
        app: &str,
        rt: &FormRuntime,
        form: &str,
        record: Record,
        expected_version: i64,
        op: &str,
    ) -> Result<Envelope, EngineError> {
        if !store::update(tx, &rt.table, &record, expected_version).await? {
            let current = store::get(tx, &rt.table, &record.id).await?.map(|r| r.version).unwrap_or(0);
            return Err(EngineError::StaleVersion { current });
        }
        let envelope = Envelope::new(form, record);
        record_history(tx, app, &envelope, op).await?;
        Ok(envelope)
    }

    /// Links must name live records of their target form, and user fields existing users.
    /// On update only changed values are checked: a link that was valid when written stays.
    async fn check_references(
        &self,
        tx: &impl Conn,
        app: &str,
        rt: &FormRuntime,
        old: Option<&Map<String, Value>>,
        data: &Map<String, Value>,
    ) -> Result<(), EngineError> {
        let old_links = old.map(|o| rt.compiled.links(o)).unwrap_or_default();
        let mut errors = Vec::new();
        for link in rt.compiled.links(data) {
            if old_links.contains(&link) {
                continue;
            }
            let target = self.app(app)?.form(&link.form)?;
            if !store::exists(tx, &target.table, &link.id).await? {
                errors.push(FieldError::new(&link.path, format!("no {} record with id {}", link.form, link.id)));
            }
        }
        for field in rt.compiled.def.fields.iter().filter(|f| f.kind == FieldKind::User) {
            let Some(Value::String(username)) = data.get(&field.id) else { continue };
            let unchanged = old.and_then(|o| o.get(&field.id)) == data.get(&field.id);
            if !unchanged && !store::user_exists(tx, username).await? {
                errors.push(FieldError::new(format!("/{}", field.id), format!("no user `{username}`")));
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(EngineError::Invalid(errors)) }
    }

    /// Refuses `data` when a live record shares all values of one of the form's dedupe keys.
    async fn check_duplicates(&self, tx: &impl Conn, rt: &FormRuntime, old: Option<&Record>, data: &Map<String, Value>) -> Result<(), EngineError> {
        for key in &rt.compiled.def.dedupe {
            let mut values = Vec::new();
            for name in key {
                let column = rt.compiled.column(name).and_then(column_kind);
                let scalar = data.get(name).and_then(|v| column.and_then(|c| scalar_of(v, c)));
                match (column, scalar) {
                    (Some(c), Some(s)) => values.push((name.clone(), c, s)),
                    _ => break,
                }
            }
            if values.len() < key.len() {
                continue; // a key with an empty part cannot collide
            }
            if let Some(old) = old.filter(|o| o.deleted_at.is_none()) {
                if key.iter().all(|k| old.data.get(k) == data.get(k)) {
                    continue;
                }
            }
            let lock = format!("dedupe:{}:{}", rt.table.name, serde_json::to_string(&key.iter().map(|k| data.get(k)).collect::<Vec<_>>()).unwrap_or_default());
            store::lock_key(tx, &lock).await?;
            let exclude = old.map(|o| o.id.as_str());
            if let Some(existing) = store::find_duplicate(tx, &rt.table, &values, exclude).await? {
                return Err(EngineError::Duplicate { existing, fields: key.clone() });
            }
        }
        Ok(())
    }
}

/// The stored record `id`, checked to be at `expected_version` and (not) deleted.
async fn current(tx: &impl Conn, rt: &FormRuntime, form: &str, id: &str, expected_version: i64, deleted: bool) -> Result<Record, EngineError> {
    let record = store::get(tx, &rt.table, id).await?.ok_or_else(|| not_found(form, id))?;
    if record.deleted_at.is_some() != deleted {
        return Err(if deleted {
            EngineError::malformed(format!("{form} record {id} is not deleted"))
        } else {
            not_found(form, id)
        });
    }
    if record.version != expected_version {
        return Err(EngineError::StaleVersion { current: record.version });
    }
    Ok(record)
}

fn next_version(old: Record, actor: &Actor) -> Record {
    Record { version: old.version + 1, updated_by: actor.username.clone(), updated_at: time::now(), ..old }
}

fn not_found(form: &str, id: &str) -> EngineError {
    EngineError::NotFound(format!("{form} record {id}"))
}

async fn record_history(tx: &impl Conn, app: &str, envelope: &Envelope, op: &str) -> Result<(), EngineError> {
    let entry = store::HistoryEntry {
        record_id: envelope.id.clone(),
        version: envelope.version,
        app: app.to_owned(),
        form: envelope.form.clone(),
        op: op.to_owned(),
        snapshot: serde_json::to_value(envelope).map_err(|e| EngineError::Internal(e.to_string()))?,
        changed_by: envelope.updated_by.clone(),
        changed_at: envelope.updated_at.clone(),
    };
    Ok(store::insert_history(tx, &entry).await?)
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
