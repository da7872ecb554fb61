//! What a user may read about the loaded apps' definitions. The server reaches definitions only
//! through here, so what a form looks like passes the same access check as its records: a form
//! the user may not read is closed, and fields hidden from them are left out.

use defs::Action;
use serde_json::{Value, json};

use crate::access::Access;
use crate::audit::Subject;
use crate::{Actor, Engine, EngineError};

impl Engine {
    /// The loaded apps, with names and versions.
    pub fn app_list(&self) -> Value {
        let apps: Vec<Value> = self.apps().map(|a| json!({"id": a.id(), "name": a.defs.app.name, "version": a.defs.app.version})).collect();
        json!({"items": apps})
    }

    /// Ids of the loaded apps.
    pub fn app_ids(&self) -> Vec<String> {
        self.apps().map(|a| a.id().to_owned()).collect()
    }

    /// Ids of the loaded apps that ship a seed named `seed`.
    pub fn apps_with_seed(&self, seed: &str) -> Vec<String> {
        self.apps().filter(|a| a.defs.seeds.contains_key(seed)).map(|a| a.id().to_owned()).collect()
    }

    /// The app as the actor may see it (navigation, the forms they may read, their rights).
    pub fn app_view(&self, actor: &Actor, app: &str) -> Result<Value, EngineError> {
        Ok(self.app(app)?.view_for(actor))
    }

    /// The JSON Schema a form's data satisfies, without the fields hidden from the actor; 403
    /// when they may not read the form.
    pub async fn form_schema(&self, actor: &Actor, app: &str, form: &str) -> Result<Value, EngineError> {
        let result = (|| {
            let rt = self.app(app)?.form(form)?;
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
