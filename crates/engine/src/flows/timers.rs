//! State timers: scheduled as durable jobs when a record enters a state, fired by the job worker.

use chrono::{DateTime, NaiveDate, Utc};
use defs::{Label, TimerAction};
use serde_json::{Value, json};
use store::Conn;
use uuid::Uuid;
use workflow::{Env, Instance, Workflow};

use crate::apps::FormRuntime;
use crate::command::Cmd;
use crate::jobs::JobKind;
use crate::people::Organisation;
use crate::{Actor, Engine, EngineError, Envelope, LoadedApp, time};

use super::env::{FlowEnv, recipients, truthy};
use super::{ActRequest, instance_of};

impl Engine {
    /// Schedules the timers of the state the record just entered, as durable jobs.
    pub(super) async fn schedule_timers(
        &self,
        cmd: Cmd<'_, impl Conn>,
        rt: &FormRuntime,
        workflow: &Workflow,
        record: &Envelope,
        instance: &Instance,
    ) -> Result<(), EngineError> {
        let (app, form): (&LoadedApp, _) = (cmd.app, rt.id());
        let Some(state) = workflow.def().state(&instance.state) else { return Ok(()) };
        let now = time::current();
        for timer in &state.timers {
            let env = FlowEnv {
                now: time::now(),
                id: &record.id,
                owner: &record.owner,
                record: &record.data,
                user: Value::Null,
                org: &Organisation::default(),
                app,
                allowance: app.rules.allowance(),
            };
            let Some(due) = timer_due(timer, &env, now)? else { continue };
            let job = store::Job {
                id: Uuid::now_v7().to_string(),
                key: format!("timer:{}:{}:{}", record.id, instance.entry, timer.id),
                app: app.id().to_owned(),
                kind: JobKind::FlowTimer.name().into(),
                due_at: time::format(due),
                payload: json!({"form": form, "record": record.id, "entry": instance.entry, "state": instance.state, "timer": timer.id}),
                attempts: 0,
            };
            crate::gather::job(cmd.tx, job).await?;
        }
        Ok(())
    }

    /// Runs a flow timer job: void when the record left the state it was started in. Returns
    /// when it is due again (timers with `every`), and whether the job was marked so with its
    /// effects, in their transaction.
    pub(crate) async fn run_flow_timer(&self, job: &store::Job, now: DateTime<Utc>) -> Result<(Option<DateTime<Utc>>, bool), EngineError> {
        let loaded = &self.app(&job.app)?;
        let (form, id, timer_id) = (
            job.payload["form"].as_str().unwrap_or_default(),
            job.payload["record"].as_str().unwrap_or_default(),
            job.payload["timer"].as_str().unwrap_or_default(),
        );
        let entry = job.payload["entry"].as_u64().unwrap_or_default();
        let rt = loaded.form(form)?;
        let (turn, tx) = self.store.begin().await?;
        store::lock_key(&tx, &format!("flow:{id}")).await?;
        let Some(record) = store::get(&tx, &rt.table, id).await?.filter(|r| r.deleted_at.is_none()) else { return Ok((None, false)) };
        let mut instance = instance_of(loaded, form, &record)?;
        if u64::from(instance.entry) != entry {
            return Ok((None, false));
        }
        let workflow = self.workflow_for(&tx, loaded, form, &mut instance).await?;
        let Some(timer) = workflow.def().state(&instance.state).and_then(|s| s.timers.iter().find(|t| t.id == timer_id)) else {
            return Ok((None, false));
        };
        let again = timer.every.as_deref().and_then(defs::parse_duration).map(|s| now + chrono::Duration::seconds(s));
        let system = Actor::system();
        // The platform acts: trusted, on the record whoever may see it.
        let cmd = Cmd::new(&tx, &system, loaded).first_effect();
        let org = Organisation::load(&tx).await?;
        let env = FlowEnv::of_record(loaded, Some(&system), &record, &org);
        if let Some(condition) = &timer.condition
            && !truthy(&env.eval(condition, &[])?)
        {
            return Ok((again, false));
        }
        let notify = |to: Vec<String>, text: &Label| {
            to.into_iter()
                .map(|user| {
                    let payload = json!({"text": text.text("zh-CN"), "form": form, "record": id, "timer": timer_id});
                    crate::outbox_message(&job.app, "notify", user, payload)
                })
                .collect::<Vec<_>>()
        };
        match &timer.action {
            TimerAction::Fire(action) => {
                self.act_in(cmd, rt, id, action, ActRequest::default()).await?;
            }
            TimerAction::Remind { to, text } => {
                let to = if to.is_empty() {
                    let waiting: Vec<String> = workflow.waiting(&instance).iter().flat_map(|s| s.users.clone()).collect();
                    if waiting.is_empty() { vec![record.owner.clone()] } else { waiting }
                } else {
                    recipients(to, &env, &instance)
                };
                for message in notify(to, text) {
                    store::insert_outbox(&tx, &message).await?;
                }
            }
            TimerAction::Escalate { text, reassign } => {
                let managers = env.managers(&record.owner, 1);
                for message in notify(managers.clone(), text) {
                    store::insert_outbox(&tx, &message).await?;
                }
                if let (true, Some(manager)) = (*reassign, managers.first()) {
                    self.reassign(cmd, rt, &record, manager, "escalate").await?;
                }
            }
        }
        // Marked with its effects: a process dying between the two would repeat them.
        store::finish_job(&tx, &job.id, again.map(crate::time::format).as_deref(), None).await?;
        turn.commit(tx).await?;
        Ok((again, true))
    }
}

/// When a timer fires: at its date field (plus `after`), or `after`/`after_expr` from now.
/// `None` when its date field is empty.
pub(super) fn timer_due(timer: &defs::Timer, env: &FlowEnv, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, EngineError> {
    let duration = match (&timer.after_expr, &timer.after) {
        (Some(source), _) => {
            let value = env.eval(source, &[])?;
            let seconds = match &value {
                Value::Number(minutes) => minutes.as_f64().map(|m| (m * 60.0) as i64),
                Value::String(text) => defs::parse_duration(text),
                _ => None,
            };
            Some(seconds.ok_or_else(|| {
                EngineError::Rule(rules::RuleError::Failed {
                    rule: format!("timer `{}`", timer.id),
                    message: format!("`after_expr` gave {value}, not a duration such as \"4h\" or a number of minutes"),
                })
            })?)
        }
        (None, Some(text)) => defs::parse_duration(text),
        (None, None) => None,
    };
    let base = match &timer.at_field {
        Some(field) => match env.record.get(field).and_then(Value::as_str) {
            Some(text) => match text.parse::<DateTime<Utc>>() {
                Ok(at) => at,
                Err(_) => match text.parse::<NaiveDate>() {
                    Ok(day) => day.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or(now),
                    Err(_) => return Ok(None),
                },
            },
            None => return Ok(None),
        },
        None => now,
    };
    Ok(Some(base + chrono::Duration::seconds(duration.unwrap_or(0))))
}
