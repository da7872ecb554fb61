//! Flow definitions at load: their problems for `tessera check`, and their stored versions.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use defs::{Diagnostic, Effect, Flow};
use serde_json::Value;
use store::Conn;
use workflow::Workflow;

use crate::load::checked_expression;
use crate::{EngineError, LoadedApp, time};

use crate::apps::FlowRuntime;

/// Problems of the app's flows for `tessera check`: the graph (from the workflow crate) and the
/// expressions and rules flows name (from the rules engine).
pub(crate) fn compile_flows(
    defs: &defs::AppDefs,
    rules: &rules::Rules,
    dir: &Path,
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<String, FlowRuntime> {
    let mut flows = BTreeMap::new();
    for (id, flow) in &defs.flows {
        let file = dir.join("flows").join(format!("{id}.json"));
        let mut at = |pointer: String, message: String| diags.push(Diagnostic::new(&file, pointer, message));
        // The form's fields, which the flow's expressions read of `record` (a form the app lacks
        // is `defs`' to report).
        let form = defs.forms.get(&flow.form);
        let fields: Vec<&str> = form.map(|f| f.fields.iter().map(|f| f.id.as_str()).collect()).unwrap_or_default();
        for (pointer, source) in expressions(flow) {
            let checked =
                if form.is_some() { checked_expression(rules, &source, &fields) } else { rules.expression(&source).map_err(|e| vec![e]) };
            for e in checked.err().into_iter().flatten() {
                at(pointer.clone(), format!("{}:{}: {}", e.line, e.column, e.message));
            }
        }
        for (s, state) in flow.states.iter().enumerate() {
            for (k, step) in state.approval.iter().flat_map(|a| a.steps.iter().enumerate()) {
                for (c, to) in step.cc.iter().enumerate() {
                    let problem = match (to.strip_prefix("role:"), to.strip_prefix("field:")) {
                        (Some(role), _) if !defs.app.roles.iter().any(|r| r.id == role) => Some(format!("no role `{role}` in app.json")),
                        (_, Some(field)) if form.is_some_and(|f| f.field(field).is_none_or(|f| f.kind != defs::FieldKind::USER)) => {
                            Some(format!("the form has no user field `{field}`"))
                        }
                        _ => None,
                    };
                    if let Some(message) = problem {
                        at(format!("/states/{s}/approval/steps/{k}/cc/{c}"), message);
                    }
                }
                for (e, field) in step.editable.iter().enumerate() {
                    if form.is_some_and(|f| f.field(field).is_none()) {
                        at(format!("/states/{s}/approval/steps/{k}/editable/{e}"), format!("the form has no field `{field}`"));
                    }
                }
                for (h, field) in step.hidden.iter().enumerate() {
                    let pointer = format!("/states/{s}/approval/steps/{k}/hidden/{h}");
                    if form.is_some_and(|f| f.field(field).is_none()) {
                        at(pointer, format!("the form has no field `{field}`"));
                    } else if step.editable.contains(field) {
                        at(pointer, format!("`{field}` is editable in this step: an approver cannot change what they do not see"));
                    }
                }
                for (a, approver) in step.approvers.iter().enumerate() {
                    let pointer = format!("/states/{s}/approval/steps/{k}/approvers/{a}");
                    match approver {
                        defs::Approver::Rule(rule) => {
                            let (script, function) = rule.split_once('.').unwrap_or((rule, ""));
                            if rules.has_script(script) && !rules.has_function(script, function, 3) {
                                at(
                                    format!("{pointer}/rule"),
                                    format!("rules/{script}.rhai has no function `{function}(record, old, user)`"),
                                );
                            }
                        }
                        // A seat nobody can hold leaves the step without an approver.
                        defs::Approver::Role(role) if role != crate::access::ADMIN && !defs.app.roles.iter().any(|r| &r.id == role) => {
                            at(format!("{pointer}/role"), format!("`{role}` is not a role of the app: the step would find no approver"));
                        }
                        defs::Approver::Field(field) if field != "owner" => match form.and_then(|f| f.field(field)) {
                            Some(f) if f.kind == defs::FieldKind::USER => {}
                            Some(_) => at(format!("{pointer}/field"), format!("field `{field}` is not a user field")),
                            None if form.is_some() => at(format!("{pointer}/field"), format!("the form has no field `{field}`")),
                            None => {}
                        },
                        _ => {}
                    }
                }
            }
        }
        match Workflow::compile(id, flow.clone()) {
            Ok(workflow) => {
                flows.insert(flow.form.clone(), FlowRuntime { workflow: Arc::new(workflow), version: 0 });
            }
            Err(problems) => problems.into_iter().for_each(|p| at(p.pointer, p.message)),
        }
    }
    flows
}

/// Every expression of a flow with its pointer: guards, `who.if`, step conditions, timer
/// durations, and `=` values.
fn expressions(flow: &Flow) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut values = |base: String, map: &indexmap::IndexMap<String, Value>| {
        for (name, value) in map {
            if let Some(source) = value.as_str().and_then(|s| s.strip_prefix('=')) {
                out.push((format!("{base}/{name}"), source.to_owned()));
            }
        }
    };
    for (s, state) in flow.states.iter().enumerate() {
        values(format!("/states/{s}/set"), &state.set);
    }
    for (t, transition) in flow.transitions.iter().enumerate() {
        for (e, effect) in transition.effects.iter().enumerate() {
            match effect {
                Effect::Set(map) => values(format!("/transitions/{t}/effects/{e}/set"), map),
                Effect::Create(create) => values(format!("/transitions/{t}/effects/{e}/create/data"), &create.data),
                _ => {}
            }
        }
    }
    for (t, transition) in flow.transitions.iter().enumerate() {
        if let Some(guard) = &transition.guard {
            out.push((format!("/transitions/{t}/guard/if"), guard.condition.clone()));
        }
        if let Some(condition) = transition.who.as_ref().and_then(|w| w.condition.clone()) {
            out.push((format!("/transitions/{t}/who/if"), condition));
        }
    }
    for (s, state) in flow.states.iter().enumerate() {
        for (k, step) in state.approval.iter().flat_map(|a| a.steps.iter().enumerate()) {
            if let Some(condition) = &step.condition {
                out.push((format!("/states/{s}/approval/steps/{k}/when"), condition.clone()));
            }
        }
        for (t, timer) in state.timers.iter().enumerate() {
            if let Some(source) = &timer.after_expr {
                out.push((format!("/states/{s}/timers/{t}/after_expr"), source.clone()));
            }
            if let Some(source) = &timer.condition {
                out.push((format!("/states/{s}/timers/{t}/if"), source.clone()));
            }
        }
    }
    out
}

impl LoadedApp {
    /// Stores each flow definition under a new version when it changed since the last start, so
    /// records in flight can keep following the version they started with.
    pub(crate) async fn register_flows(&mut self, db: &impl Conn) -> Result<(), EngineError> {
        let app = self.defs.app.id.clone();
        for runtime in self.flows.values_mut() {
            let id = runtime.workflow.id().to_owned();
            let text = defs::to_canonical_json(runtime.workflow.def());
            runtime.version = match store::latest_flow_version(db, &app, &id).await? {
                Some((version, stored)) if stored == text => version,
                latest => {
                    let version = latest.map_or(1, |(v, _)| v + 1);
                    store::insert_flow_version(db, &app, &id, version, &text, &time::now()).await?;
                    version
                }
            };
        }
        Ok(())
    }
}
