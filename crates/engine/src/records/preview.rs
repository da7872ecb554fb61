//! A record as its rules make it, without saving: what a form shows while someone types —
//! defaults, formulas and scores, which fields `visible_if` hides and `required_if` requires,
//! and the problems a save would answer. The server's rules decide, so a browser never keeps a
//! second implementation of them, and what a preview shows is what a save enforces.

use defs::Action;
use forms::FieldError;
use serde::Serialize;
use serde_json::{Map, Value};

use std::sync::Arc;

use crate::access::Access;
use crate::apps::FormRuntime;
use crate::audit::Subject;
use crate::command::Cmd;
use crate::hooks::SaveContext;
use crate::{Actor, AppId, Engine, EngineError, FormId, LoadedApp, RecordId, time};

/// A record as a save would make it.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    /// The fields as a save would store them: what the rules computed, without the fields
    /// `hidden` names or the caller may not read.
    pub data: Map<String, Value>,
    /// Fields whose `visible_if` does not hold: not shown, and not saved.
    pub hidden: Vec<String>,
    /// Fields whose `required_if` holds.
    pub required: Vec<String>,
    /// What a save would refuse, at JSON pointers, as far as the rules and the schema tell;
    /// links, dedupe keys and the flow are checked by the save itself.
    pub errors: Vec<FieldError>,
}

impl Engine {
    /// Runs the save-time rules of `form` over `data` — a new record's fields, or the changes
    /// to record `id` — and answers what they make of it. Nothing is written and no effect
    /// (message, linked record, webhook) happens; it needs the right to create the record, or
    /// to update record `id`.
    pub async fn preview(
        &self,
        actor: &Actor,
        app: &AppId,
        form: &FormId,
        id: Option<&RecordId>,
        data: Value,
    ) -> Result<Preview, EngineError> {
        let (app, form) = (app.as_str(), form.as_str());
        let record = id.map_or("", RecordId::as_str);
        let work = async {
            let loaded = &self.app(app)?;
            let rt = loaded.form(form)?;
            let Value::Object(changes) = data else {
                return Err(EngineError::malformed_at("/data", "`data` must be an object of field values"));
            };
            let db = self.store.db();
            let cmd = Cmd::new(db, actor, loaded);
            let (access, data, old) = match id {
                None => {
                    let access = Access::of(actor, rt);
                    access.require(Action::Create, form)?;
                    let mut data = changes.clone();
                    rt.compiled.apply_defaults(&mut data);
                    (access, data, None)
                }
                Some(id) => {
                    let stored = store::get(db, &rt.table, id.as_str())
                        .await?
                        .filter(|r| r.deleted_at.is_none())
                        .ok_or_else(|| EngineError::record_not_found(form, id.as_str()))?;
                    let access = self.authorize(cmd, rt, &stored, Action::Update).await?;
                    let mut data = stored.data.clone();
                    data.extend(changes.clone());
                    data.retain(|_, v| !v.is_null());
                    (access, data, Some(stored))
                }
            };
            access.check_writable(&changes)?;
            let flow = old.as_ref().and_then(|o: &store::Record| o.flow.clone());
            let old = old.map(|o| o.data);
            let mut preview = self.run_preview(cmd, rt, SaveContext { id: record.to_owned(), data, old, at: time::rules_time() }).await?;
            // What the approval step the record waits at hides from the user stays hidden.
            access.redact_stored(loaded, actor, form, flow.as_ref(), &mut preview.data);
            Ok(preview)
        };
        self.command(actor, Subject { action: "preview", app, form, id: record }, work).await
    }

    /// A new record of `form` in `app` (a draft's, compiled but not published) as its rules
    /// make it: for the designer, who may not hold the app's roles — its caller checks who may.
    pub(crate) async fn preview_with(&self, actor: &Actor, app: &Arc<LoadedApp>, form: &str, data: Value) -> Result<Preview, EngineError> {
        let rt = app.form(form)?;
        let Value::Object(mut data) = data else {
            return Err(EngineError::malformed_at("/data", "`data` must be an object of field values"));
        };
        rt.compiled.apply_defaults(&mut data);
        let cmd = Cmd::new(self.store.db(), actor, app);
        self.run_preview(cmd, rt, SaveContext { id: String::new(), data, old: None, at: time::rules_time() }).await
    }

    async fn run_preview(&self, cmd: Cmd<'_, impl store::Conn>, rt: &FormRuntime, save: SaveContext) -> Result<Preview, EngineError> {
        let draft = self.draft_rules(cmd, rt, save)?;
        let (prepared, _) = self.finish_rules(cmd, draft).await?;
        Ok(Preview { data: prepared.data, hidden: prepared.hidden, required: prepared.required, errors: prepared.errors })
    }
}
