//! Printing a record: the template's form is the longest form id its name starts with
//! (`quote`, `quote_compact` → quote). Only users with the `print` right, only records they may
//! read; the record and every record it links to (child rows included) reach the template with
//! the fields the user may see, and nothing else.

use defs::{Action, Field};
use serde_json::{Map, Value, json};

use crate::access::Access;
use crate::apps::{FormRuntime, LoadedApp};
use crate::audit::Subject;
use crate::{Actor, AppId, Engine, EngineError, Envelope, RecordId};

impl Engine {
    /// The HTML document of `template` for record `id`, in `locale` (`zh-CN` or `en`).
    pub async fn print(&self, actor: &Actor, app: &AppId, template: &str, id: &RecordId, locale: &str) -> Result<String, EngineError> {
        let (app, id) = (app.as_str(), id.as_str());
        self.command(actor, Subject { action: "print", app, form: template, id }, self.print_unaudited(actor, app, template, id, locale))
            .await
    }

    async fn print_unaudited(&self, actor: &Actor, app: &str, template: &str, id: &str, locale: &str) -> Result<String, EngineError> {
        let loaded = &self.app(app)?;
        if !loaded.printer.has_template(template) {
            return Err(EngineError::NotFound(format!("template `{template}`")));
        }
        let form = form_of(loaded, template).ok_or_else(|| EngineError::NotFound(format!("a form for template `{template}`")))?;
        let rt = loaded.form(form)?;
        Access::of(actor, rt).require(Action::Print, form)?;
        // `get` applies the read scope (404 outside it) and hides what the user may not see.
        let record = self.get_record(actor, app, form, id).await?;
        let mut linked = Map::new();
        let mut options = Map::new();
        options.insert(form.to_owned(), field_options(rt));
        for link in rt.compiled.links(&record.data) {
            if linked.contains_key(&link.id) {
                continue;
            }
            if let Some(target) = self.readable(actor, loaded, &link.form, &link.id).await? {
                linked.insert(link.id.clone(), Value::Object(target.data));
                options.entry(link.form.clone()).or_insert_with(|| loaded.form(&link.form).map(field_options).unwrap_or_default());
            }
        }
        let title =
            rt.compiled.def.title_field.as_ref().and_then(|f| record.data.get(f)).and_then(Value::as_str).unwrap_or(&record.id).to_owned();
        let context = json!({
            "record": record,
            "linked": linked,
            "options": options,
            "user": {"username": actor.username, "name": actor.display_name},
            "app": {"id": loaded.id(), "name": loaded.defs.app.name.text(locale)},
            "locale": locale,
            "now": crate::time::now(),
            "title": format!("{} {title}", rt.compiled.def.label.text(locale)),
        });
        loaded.printer.render(template, &context).map_err(|e| match e {
            printing::RenderError::UnknownTemplate(t) => EngineError::NotFound(format!("template `{t}`")),
            other => EngineError::Invalid(vec![
                forms::FieldError::coded("", forms::FieldCode::PrintFailed, other.to_string()).with("text", other.to_string()),
            ]),
        })
    }

    /// A linked record as the actor may see it, or `None` when they may not read it.
    async fn readable(&self, actor: &Actor, loaded: &LoadedApp, form: &str, id: &str) -> Result<Option<Envelope>, EngineError> {
        match self.get_record(actor, loaded.id(), form, id).await {
            Ok(envelope) => Ok(Some(envelope)),
            Err(EngineError::NotFound(_) | EngineError::OutOfScope(_) | EngineError::Forbidden(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The form a template prints: the longest form id the template id starts with.
pub(crate) fn form_of<'a>(app: &'a LoadedApp, template: &str) -> Option<&'a str> {
    app.forms().map(|(id, _)| id).filter(|id| template == *id || template.starts_with(&format!("{id}_"))).max_by_key(|id| id.len())
}

/// `{field: [options]}` of a form's select fields, for the `label` helper.
fn field_options(rt: &FormRuntime) -> Value {
    let select = |f: &Field| forms::field_type(&f.kind).holds_options();
    let mut out = Map::new();
    for field in rt.compiled.def.fields.iter() {
        if select(field) {
            out.insert(field.id.clone(), serde_json::to_value(&field.options).unwrap_or_default());
        }
        for column in field.fields.iter().filter(|c| select(c)) {
            out.insert(column.id.clone(), serde_json::to_value(&column.options).unwrap_or_default());
        }
    }
    Value::Object(out)
}
