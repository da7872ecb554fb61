//! What a flow's state says of changes people ask for: fields it locks, and fields whose change
//! sends the record back for approval. Only changes asked for are judged — through PATCH, an
//! import that updates, or a rule's `update` — never the flow's own moves or figures the engine
//! derives, so an approved quote's total still follows its (unchangeable) lines.

use forms::{FieldCode, FieldError};
use serde_json::{Map, Value};
use store::Record;

use crate::apps::LoadedApp;
use crate::{Actor, EngineError};

/// What an allowed change asks of the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Free,
    /// The change touched a field the state's `reapprove` covers: after it is written the record
    /// goes back into its approval.
    Reapprove,
}

/// Judges the change of `old` into `data` by `actor` against the lock of the record's state: a
/// 422 at every locked field changed, and at every field its approval step hides from them.
pub(crate) fn judge(app: &LoadedApp, form: &str, actor: &Actor, old: &Record, data: &Map<String, Value>) -> Result<Verdict, EngineError> {
    let Some((flow, state)) = app.flows.get(form).zip(old.state.as_deref()).and_then(|(f, s)| Some((f, f.workflow.def().state(s)?))) else {
        return Ok(Verdict::Free);
    };
    let mut changed: Vec<&String> = data.keys().filter(|f| old.data.get(*f) != data.get(*f)).collect();
    changed.extend(old.data.keys().filter(|f| !data.contains_key(*f)));
    let roles = actor.roles_in(app.id());
    let mut locked: Vec<&&String> = changed.iter().filter(|f| state.lock.as_ref().is_some_and(|lock| lock.holds(f, &roles))).collect();
    // The approvers an approval step waits for may change the fields it lets them edit (the
    // record's progress is read only when a locked field changed).
    if !locked.is_empty() {
        let instance = crate::flows::instance_of(app, form, old)?;
        let editable = flow.workflow.editable_by(&instance, &actor.username);
        locked.retain(|f| !editable.contains(f));
    }
    // Nor may they change what the step hides from them: they cannot see what they would change.
    let hidden = crate::flows::hidden_at_step(app, form, &actor.username, old.flow.as_ref());
    let unseen: Vec<FieldError> = (changed.iter().filter(|f| hidden.contains(f) && !locked.contains(f)))
        .map(|f| {
            FieldError::coded(format!("/{f}"), FieldCode::Locked, "is hidden from you at this approval step")
                .with("state", state.id.as_str())
        })
        .collect();
    let errors: Vec<FieldError> = (locked.into_iter())
        .map(|f| {
            FieldError::coded(format!("/{f}"), FieldCode::Locked, format!("is locked while the record is in `{}`", state.id))
                .with("state", state.id.as_str())
        })
        .chain(unseen)
        .collect();
    if !errors.is_empty() {
        return Err(EngineError::Invalid(errors));
    }
    let reapprove = state.reapprove.as_ref().is_some_and(|r| changed.iter().any(|f| r.covers(f)));
    Ok(if reapprove { Verdict::Reapprove } else { Verdict::Free })
}
