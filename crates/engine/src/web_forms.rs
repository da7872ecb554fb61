//! Public web forms: what a page shows a visitor, and their submissions, which create a record
//! with nobody signed in. The form's `web_form` decides which fields a visitor may fill; the
//! server bounds the body and the submissions per address.

use rules::Effect;
use serde_json::{Map, Value, json};

use crate::audit::Subject;
use crate::command::Cmd;
use crate::hooks::Turn;
use crate::records::POOL_OWNER;
use crate::{Actor, AppId, Engine, EngineError, FormId};

impl Engine {
    /// The public description of `form`'s web form: its title, the fields a visitor fills (as
    /// the form defines them), the hidden ones an embedding page may fill, and the thanks.
    pub fn web_form(&self, app: &AppId, form: &FormId) -> Result<Value, EngineError> {
        let loaded = self.app(app.as_str())?;
        let rt = loaded.form(form.as_str())?;
        let def = &rt.compiled.def;
        let web = def.web_form.as_ref().ok_or_else(|| no_web_form(form.as_str()))?;
        let fields: Vec<&defs::Field> = web.fields.iter().filter_map(|id| def.field(id)).collect();
        Ok(json!({
            "app": {"id": loaded.id(), "name": loaded.defs.app.name},
            "title": web.title.as_ref().unwrap_or(&def.label),
            "fields": fields,
            "hidden": web.hidden,
            "thanks": web.thanks,
        }))
    }

    /// Creates a record of `form` from a visitor's `fields`, with the web form's `set` values,
    /// into the form's pool when it has one (otherwise its assign hooks choose, as for any new
    /// record); answers the web form's thanks. A submission that duplicates a live record
    /// creates nothing: the visitor is told nothing more than on success (whether an address is
    /// known is nobody's business), and that record's owner is notified with what was sent. One
    /// that filled the page's `honeypot` (a bot) is thanked alike and kept nowhere.
    pub async fn submit_web_form(
        &self,
        app: &AppId,
        form: &FormId,
        fields: Map<String, Value>,
        honeypot: bool,
    ) -> Result<Option<defs::Label>, EngineError> {
        let (app, form) = (app.as_str(), form.as_str());
        let actor = Actor::system();
        let work = async {
            let loaded = &self.app(app)?;
            let rt = loaded.form(form)?;
            let web = rt.compiled.def.web_form.as_ref().ok_or_else(|| no_web_form(form))?;
            if honeypot {
                tracing::info!(%app, %form, "web form submission with its honeypot filled: dropped");
                return Ok(web.thanks.clone());
            }
            if let Some(key) = fields.keys().find(|k| !web.fields.contains(k) && !web.hidden.contains(k)) {
                return Err(EngineError::malformed_at(format!("/{key}"), format!("this web form has no field `{key}`")));
            }
            let sent = fields.clone();
            let mut data = fields;
            data.extend(web.set.clone());
            let owner = rt.compiled.def.pool.is_some().then_some(POOL_OWNER);
            let drafting = Cmd::new(&(), &actor, loaded);
            let draft = self.draft_with_rules(Turn::NotYet, drafting, rt, Value::Object(data), owner).await?;
            let (turn, tx) = self.store.begin().await?;
            let cmd = drafting.within(&tx);
            match self.create_drafted(cmd, rt, draft).await {
                Ok(_) => {}
                Err(EngineError::Duplicate { existing: Some(id), .. }) => {
                    let existing = store::get(&tx, &rt.table, &id).await?;
                    if let Some(owner) = existing.map(|r| r.owner).filter(|o| o != POOL_OWNER) {
                        let text = format!("A web form submission matches this {form} record: {}", Value::Object(sent));
                        self.apply_effects(cmd, form, &id, vec![Effect::Notify { user: owner, text, about: None }]).await?;
                    }
                }
                Err(other) => return Err(other),
            }
            turn.commit(tx).await?;
            Ok(web.thanks.clone())
        };
        self.command(&actor, Subject { action: "web_form", app, form, id: "" }, work).await
    }
}

fn no_web_form(form: &str) -> EngineError {
    EngineError::NotFound(format!("web form {form}"))
}
