//! What a user may read about the loaded apps' definitions. The server reaches definitions only
//! through here, so what a form looks like passes the same access check as its records: a form
//! the user may not read is closed, and fields hidden from them are left out.

use defs::Action;
use serde_json::{Map, Value, json};

use crate::access::{Access, action_name};
use crate::apps::LoadedApp;
use crate::audit::Subject;
use crate::{Actor, AppId, Engine, EngineError, FormId};

impl Engine {
    /// The loaded apps, with names and versions.
    pub fn app_list(&self) -> Value {
        let apps: Vec<Value> = self
            .apps()
            .iter()
            .map(|a| json!({"id": a.id(), "name": a.defs.app.name, "version": a.defs.app.version, "icon": a.defs.app.icon}))
            .collect();
        json!({"items": apps})
    }

    /// Ids of the loaded apps.
    pub fn app_ids(&self) -> Vec<String> {
        self.apps().iter().map(|a| a.id().to_owned()).collect()
    }

    /// Ids of the loaded apps that ship a seed named `seed`.
    pub fn apps_with_seed(&self, seed: &str) -> Vec<String> {
        self.apps().iter().filter(|a| a.defs.seeds.contains_key(seed)).map(|a| a.id().to_owned()).collect()
    }

    /// The app as the actor may see it (navigation, the forms they may read, their rights).
    pub async fn app_view(&self, actor: &Actor, app: &AppId) -> Result<Value, EngineError> {
        let loaded = self.app(app.as_str())?;
        let awaiting = match actor.may_use(app.as_str()) {
            true => self.store.read(|db| async move { store::forms_awaiting(&db, app.as_str(), &actor.username).await }).await?,
            false => Vec::new(),
        };
        Ok(view_for(loaded.as_ref(), actor, &awaiting))
    }

    /// The JSON Schema a form's data satisfies, without the fields hidden from the actor; 403
    /// when they may not read the form.
    pub async fn form_schema(&self, actor: &Actor, app: &AppId, form: &FormId) -> Result<Value, EngineError> {
        let (app, form) = (app.as_str(), form.as_str());
        let result = (|| {
            let loaded = self.app(app)?;
            let rt = loaded.form(form)?;
            let access = Access::of(actor, rt);
            access.require(Action::Read, form)?;
            let mut schema = rt.compiled.schema().clone();
            if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
                properties.retain(|field, _| !access.hidden.contains(field));
            }
            if let Some(required) = schema.get_mut("required").and_then(Value::as_array_mut) {
                required.retain(|field| field.as_str().is_none_or(|f| !access.hidden.contains(f)));
            }
            Ok(schema)
        })();
        self.command(actor, Subject { action: "schema", app, form, id: "" }, std::future::ready(result)).await
    }
}

/// The app as `actor` may see it: forms they may read, without fields hidden from them,
/// with what they may do on each; navigation limited to those forms. The forms of `awaiting`
/// (a decision of theirs is pending on one of its records) are listed too, outside the
/// navigation: an approver opens the record they are asked to decide, whatever their grants.
pub(crate) fn view_for(app: &LoadedApp, actor: &Actor, awaiting: &[String]) -> Value {
    use defs::Action;
    let mut forms = Map::new();
    let mut readable = Vec::new();
    for (id, rt) in &app.forms {
        let access = Access::of(actor, rt);
        if access.allows(Action::Read) {
            readable.push(id.clone());
        } else if !awaiting.contains(id) {
            continue;
        }
        let mut def = rt.compiled.def.clone();
        def.fields.retain(|f| !access.hidden.contains(&f.id));
        for section in &mut def.layout {
            section.fields.retain(|f| !access.hidden.contains(f));
        }
        // Keys and indexes that involve a hidden field would name it; the user needs neither.
        def.dedupe.retain(|key| key.iter().all(|f| !access.hidden.contains(f)));
        def.indexes.retain(|key| key.iter().all(|f| !access.hidden.contains(f)));
        def.permissions.clear();
        // A related list of a form the user may not read would only answer 403.
        def.related.retain(|r| app.forms.get(&r.form).is_some_and(|other| Access::of(actor, other).allows(Action::Read)));
        let read_only: Vec<&String> = access.locked.iter().filter(|f| !access.hidden.contains(*f)).collect();
        let actions: Vec<&str> =
            [Action::Create, Action::Read, Action::Update, Action::Delete, Action::Export, Action::Print, Action::Import, Action::Assign]
                .into_iter()
                .filter(|a| access.allows(*a))
                .map(action_name)
                .collect();
        let mut value = serde_json::to_value(&def).unwrap_or_default();
        value["access"] = json!({"actions": actions, "read_only": read_only});
        // Print templates of this form, so clients offer printing without knowing names.
        let templates: Vec<&str> = app.printer.templates().filter(|t| crate::print::form_of(app, t) == Some(id.as_str())).collect();
        value["templates"] = json!(templates);
        // The form's flow, so clients lock its state field and name states and actions.
        if let Some(flow) = app.flows.get(id).map(|f| f.workflow.def()) {
            let states: Vec<_> = flow.states.iter().map(|s| json!({"id": s.id, "label": s.label, "terminal": s.terminal})).collect();
            let actions: Vec<_> = flow
                .transitions
                .iter()
                .map(|t| json!({"action": t.action, "label": t.label, "from": t.from, "to": t.to, "require": t.require}))
                .collect();
            value["flow"] = json!({"field": flow.field, "states": states, "actions": actions});
        }
        forms.insert(id.clone(), value);
    }
    let mut definition = app.defs.app.clone();
    // What connectors answer is for rules, read with the app's authority, not for every reader.
    definition.connectors.clear();
    for group in &mut definition.navigation {
        group.forms.retain(|f| readable.contains(f));
    }
    definition.navigation.retain(|g| !g.forms.is_empty());
    // Dashboards shown to the viewer's roles; tiles over forms they cannot read say so.
    let roles = actor.roles_in(app.id());
    let dashboards: Vec<_> = (app.defs.dashboards.iter())
        .filter(|(_, d)| d.shown_to(&roles))
        .map(|(id, d)| json!({"id": id, "label": d.label, "description": d.description}))
        .collect();
    json!({"app": definition, "forms": forms, "dashboards": dashboards})
}
