//! `(link id)`: the data of a linked record, from the context's `linked` map (record id → the
//! fields the user may read), for link fields inside child rows:
//! `{{#with (link product)}}{{name}}{{/with}}`. A list of ids gives a list; an id the engine did
//! not pass (deleted, or not readable by the user) gives nothing, so `{{else}}` can say so.

use handlebars::{Context, Helper, RenderError};
use serde_json::Value;

use super::helper_error;

/// The helper; see the module documentation.
pub(crate) fn link(h: &Helper<'_>, ctx: &Context) -> Result<Value, RenderError> {
    let id = h.param(0).ok_or_else(|| helper_error(h, "needs a record id as parameter 1"))?.value();
    let linked = ctx.data().get("linked");
    Ok(resolve(linked, id))
}

/// The linked data for an id or a list of ids.
pub(crate) fn resolve(linked: Option<&Value>, id: &Value) -> Value {
    match id {
        Value::String(id) => linked.and_then(|l| l.get(id)).cloned().unwrap_or(Value::Null),
        Value::Array(ids) => Value::Array(ids.iter().map(|id| resolve(linked, id)).collect()),
        _ => Value::Null,
    }
}
