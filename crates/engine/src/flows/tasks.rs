//! Approval tasks: kept in step with the seats an approval awaits, listed and decided.

use std::collections::{BTreeMap, HashMap};

use defs::Action;
use serde_json::Value;
use store::{Conn, Record};
use uuid::Uuid;
use workflow::{Instance, Workflow};

use crate::access::Access;
use crate::apps::FormRuntime;
use crate::command::Cmd;
use crate::{Actor, Engine, EngineError, Envelope, time};

use super::act::ActOn;
use super::{ActRequest, ActResult, TaskView};

impl Engine {
    /// Makes the pending tasks of the record match the seats its approval awaits: the
    /// decider's task (`decided`: seat, who, approved) takes their decision, tasks no longer
    /// awaited close, new seats get tasks.
    pub(super) async fn sync_tasks(
        &self,
        cmd: Cmd<'_, impl Conn>,
        rt: &FormRuntime,
        workflow: &Workflow,
        record: &Envelope,
        instance: &Instance,
        decided: Option<(u32, &str, bool)>,
    ) -> Result<(), EngineError> {
        let tx = cmd.tx;
        let now = time::now();
        let step = workflow.current_step(instance).ok().map(|(_, s)| s.id.clone()).unwrap_or_default();
        let wanted: Vec<(i64, String, i64, String)> = workflow
            .waiting(instance)
            .into_iter()
            .flat_map(|seat| seat.users.iter().map(|u| (i64::from(instance.entry), step.clone(), i64::from(seat.id), u.clone())))
            .collect();
        for task in store::pending_tasks_of(tx, &record.id).await? {
            let key = (task.entry, task.step.clone(), task.seat, task.assignee.clone());
            if wanted.contains(&key) {
                continue;
            }
            let status = match decided {
                Some((seat, by, approved)) if i64::from(seat) == task.seat && task.assignee == by => {
                    if approved {
                        "approved"
                    } else {
                        "rejected"
                    }
                }
                _ => "closed",
            };
            store::finish_task(tx, &task.id, status, &now).await?;
        }
        let open: Vec<(i64, String, i64, String)> =
            store::pending_tasks_of(tx, &record.id).await?.into_iter().map(|t| (t.entry, t.step, t.seat, t.assignee)).collect();
        for (entry, step, seat, assignee) in wanted.into_iter().filter(|k| !open.contains(k)) {
            let task = store::Task {
                id: Uuid::now_v7().to_string(),
                app: cmd.app.id().to_owned(),
                form: rt.id().to_owned(),
                record_id: record.id.clone(),
                entry,
                step,
                seat,
                assignee,
                status: "pending".into(),
                created_at: now.clone(),
                decided_at: None,
            };
            store::insert_task(tx, &task).await?;
        }
        Ok(())
    }

    /// The actor's approval tasks with `status` (`pending` by default), newest first.
    pub async fn tasks(&self, actor: &Actor, status: Option<&str>) -> Result<Vec<TaskView>, EngineError> {
        let db = self.store.db();
        let status = status.unwrap_or("pending");
        if !["pending", "approved", "rejected", "closed"].contains(&status) {
            return Err(EngineError::malformed_at("/status", "`status` is pending, approved, rejected or closed"));
        }
        let mut tasks = store::tasks_of(db, &actor.username, status, 200).await?;
        tasks.retain(|t| actor.may_use(&t.app));
        // The tasks' records, one query per form rather than one per task.
        let mut by_form: BTreeMap<(&str, &str), Vec<String>> = BTreeMap::new();
        for task in &tasks {
            by_form.entry((task.app.as_str(), task.form.as_str())).or_default().push(task.record_id.clone());
        }
        let mut records: HashMap<String, Record> = HashMap::new();
        for ((app, form), ids) in &by_form {
            if let Ok(loaded) = self.app(app)
                && let Ok(rt) = loaded.form(form)
            {
                records.extend(store::get_many(db, &rt.table, ids).await?.into_iter().map(|r| (r.id.clone(), r)));
            }
        }
        let mut out = Vec::new();
        for task in tasks {
            let Ok(loaded) = &self.app(&task.app) else { continue };
            let Ok(rt) = loaded.form(&task.form) else { continue };
            let record = records.get(&task.record_id);
            let access = Access::of(actor, rt);
            let title = rt
                .compiled
                .def
                .title_field
                .as_ref()
                .filter(|f| (access.allows(Action::Read) || task.status == "pending") && !access.hidden.contains(*f))
                .and_then(|f| record.and_then(|r| r.data.get(f)))
                .and_then(Value::as_str)
                .map(str::to_owned);
            let step_label = loaded
                .flows
                .get(&task.form)
                .and_then(|f| f.workflow.def().states.iter().find_map(|s| s.approval.as_ref()?.steps.iter().find(|st| st.id == task.step)))
                .map(|st| st.label.clone());
            out.push(TaskView {
                step_label,
                title,
                state: record.and_then(|r| r.state.clone()).unwrap_or_default(),
                id: task.id,
                app: task.app,
                form: task.form,
                record_id: task.record_id,
                step: task.step,
                status: task.status,
                created_at: task.created_at,
                decided_at: task.decided_at,
            });
        }
        Ok(out)
    }

    /// Decides one of the actor's tasks: `approve`, `reject` or `transfer` (to `request.to`).
    pub async fn decide(&self, actor: &Actor, task_id: &str, decision: &str, request: ActRequest) -> Result<ActResult, EngineError> {
        if !["approve", "reject", "transfer", "add_approver"].contains(&decision) {
            return Err(EngineError::NotFound(format!("task action `{decision}`")));
        }
        let task = store::get_task(self.store.db(), task_id)
            .await?
            .filter(|t| t.assignee == actor.username && actor.may_use(&t.app))
            .ok_or_else(|| EngineError::NotFound(format!("task {task_id}")))?;
        if task.status != "pending" {
            return Err(EngineError::Conflict(format!("this task is already {}", task.status)));
        }
        let on = ActOn { app: &task.app, form: &task.form, id: &task.record_id, task: Some(task_id) };
        self.act_on_record(actor, on, decision, ActRequest { expected_version: None, ..request }).await
    }
}
