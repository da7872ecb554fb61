//! What a write must not break beyond its own form's schema: links to records that exist (and
//! that the writer may read), users that exist, saved filters their target form understands,
//! and the form's dedupe keys.

use defs::FieldKind;
use forms::{FieldCode, FieldError};
use serde_json::{Map, Value};
use store::{Conn, Record};

use crate::apps::{FormRuntime, column_kind};
use crate::command::Cmd;
use crate::filter::{parse_filter, scalar_of};
use crate::{Engine, EngineError};

impl Engine {
    /// Links must name live records of their target form — records the person may read, when a
    /// person writes (trusted writers — rules and flows — link with the app's authority) —, user
    /// fields existing users, and saved filters conditions their target form's list takes. A
    /// record the person may not read is answered as a missing one. On update only changed
    /// values are checked: a link that was valid when written stays.
    pub(super) async fn check_references(
        &self,
        cmd: Cmd<'_, impl Conn>,
        rt: &FormRuntime,
        old: Option<&Map<String, Value>>,
        data: &Map<String, Value>,
    ) -> Result<(), EngineError> {
        let tx = cmd.tx;
        let old_links = old.map(|o| rt.compiled.links(o)).unwrap_or_default();
        let mut errors = Vec::new();
        for link in rt.compiled.links(data) {
            if old_links.contains(&link) {
                continue;
            }
            let target = cmd.form(&link.form)?;
            let found = match cmd.trusted() {
                false => self.may_read(cmd, target, &link.id).await?,
                true => store::exists(tx, &target.table, &link.id).await?,
            };
            if !found {
                let message = format!("no {} record with id {}", link.form, link.id);
                errors.push(FieldError::coded(&link.path, FieldCode::LinkNotFound, message).with("form", link.form).with("id", link.id));
            }
        }
        for field in rt.compiled.def.fields.iter().filter(|f| f.kind == FieldKind::USER) {
            let Some(Value::String(username)) = data.get(&field.id) else { continue };
            let unchanged = old.and_then(|o| o.get(&field.id)) == data.get(&field.id);
            if !unchanged && !store::user_exists(tx, username).await? {
                let error = FieldError::coded(format!("/{}", field.id), FieldCode::UserNotFound, format!("no user `{username}`"));
                errors.push(error.with("username", username.as_str()));
            }
        }
        for field in rt.compiled.def.fields.iter().filter(|f| f.kind == FieldKind::FILTER) {
            let Some(value) = data.get(&field.id) else { continue };
            let unchanged = old.and_then(|o| o.get(&field.id)) == Some(value);
            let (false, Some(target)) = (unchanged, field.form.as_deref()) else { continue };
            match parse_filter(cmd.app, cmd.form(target)?, value, &format!("/{}", field.id)) {
                Ok(_) => {}
                Err(EngineError::Malformed { details, .. }) => errors.extend(details),
                Err(other) => return Err(other),
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(EngineError::Invalid(errors)) }
    }

    /// Refuses `data` when a live record shares all values of one of the form's dedupe keys.
    pub(super) async fn check_duplicates(
        &self,
        tx: &impl Conn,
        rt: &FormRuntime,
        old: Option<&Record>,
        data: &Map<String, Value>,
    ) -> Result<(), EngineError> {
        match self.duplicate_of(tx, rt, old, data).await? {
            Some((existing, fields)) => Err(EngineError::Duplicate { existing: Some(existing), fields }),
            None => Ok(()),
        }
    }

    /// The live record sharing a dedupe key with `data` that the actor may read: what a `create`
    /// effect with `reuse` takes instead of making a new one.
    pub(crate) async fn readable_duplicate(
        &self,
        cmd: Cmd<'_, impl Conn>,
        rt: &FormRuntime,
        data: &Map<String, Value>,
    ) -> Result<Option<String>, EngineError> {
        let Some((existing, _)) = self.duplicate_of(cmd.tx, rt, None, data).await? else { return Ok(None) };
        Ok(self.may_read(cmd, rt, &existing).await?.then_some(existing))
    }

    /// The live record (other than `old`) sharing all values of one of the form's dedupe keys
    /// with `data`, and that key; the key stays locked until the transaction ends, so nobody
    /// makes such a record meanwhile.
    pub(crate) async fn duplicate_of(
        &self,
        tx: &impl Conn,
        rt: &FormRuntime,
        old: Option<&Record>,
        data: &Map<String, Value>,
    ) -> Result<Option<(String, Vec<String>)>, EngineError> {
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
            if let Some(old) = old.filter(|o| o.deleted_at.is_none())
                && key.iter().all(|k| old.data.get(k) == data.get(k))
            {
                continue;
            }
            let lock = format!(
                "dedupe:{}:{}",
                rt.table.name,
                serde_json::to_string(&key.iter().map(|k| data.get(k)).collect::<Vec<_>>()).unwrap_or_default()
            );
            store::lock_key(tx, &lock).await?;
            let exclude = old.map(|o| o.id.as_str());
            if let Some(existing) = store::find_duplicate(tx, &rt.table, &values, exclude).await? {
                return Ok(Some((existing, key.clone())));
            }
        }
        Ok(None)
    }
}
