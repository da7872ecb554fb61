//! Who may do what: a user's rights on a form, from the grants of their roles. Every command
//! asks here; nothing outside the engine decides. `admin` may do everything; a form that grants
//! a user nothing is closed to them.

use std::collections::BTreeSet;

use defs::{Action, Grant, Scope};
use forms::{FieldCode, FieldError};
use serde_json::{Map, Value};
use store::{CmpOp, Conn, Filter, Scalar, SystemColumn, Target};

use crate::apps::{FormRuntime, LoadedApp};
use crate::records::POOL_OWNER;
use crate::{Actor, Engine, EngineError, Envelope};

/// The role that may do everything everywhere.
pub(crate) const ADMIN: &str = "admin";

/// A user's rights on one form.
#[derive(Debug, Clone)]
pub(crate) struct Access {
    admin: bool,
    grants: Vec<Grant>,
    /// Fields the user may not see: hidden by every grant that lets them read.
    pub(crate) hidden: BTreeSet<String>,
    /// Fields the user may not change: read-only or hidden in every grant that lets them write.
    pub(crate) locked: BTreeSet<String>,
}

impl Access {
    pub(crate) fn of(actor: &Actor, rt: &FormRuntime) -> Access {
        let admin = actor.is_admin();
        let roles = actor.roles_in(&rt.app);
        let grants: Vec<Grant> = if admin {
            Vec::new()
        } else {
            rt.compiled.def.permissions.iter().filter(|g| g.roles.iter().any(|r| roles.contains(r))).cloned().collect()
        };
        let common = |actions: &[Action], pick: &dyn Fn(&Grant) -> Vec<String>| -> BTreeSet<String> {
            let relevant: Vec<&Grant> = grants.iter().filter(|g| g.actions.iter().any(|a| actions.contains(a))).collect();
            let Some((first, rest)) = relevant.split_first() else { return BTreeSet::new() };
            pick(first).into_iter().filter(|f| rest.iter().all(|g| pick(g).contains(f))).collect()
        };
        let hidden = common(&[Action::Read], &|g| g.hidden.clone());
        let locked = common(&[Action::Create, Action::Update], &|g| g.hidden.iter().chain(&g.read_only).cloned().collect());
        Access { admin, grants, hidden, locked }
    }

    pub(crate) fn allows(&self, action: Action) -> bool {
        self.admin || self.grants.iter().any(|g| g.actions.contains(&action))
    }

    /// Refuses with 403 unless the user may `action` on `form`.
    pub(crate) fn require(&self, action: Action, form: &str) -> Result<(), EngineError> {
        if self.allows(action) {
            Ok(())
        } else {
            Err(EngineError::Forbidden(format!("you may not {} {form} records", action_name(action))))
        }
    }

    /// Refuses with 403 a write that names fields the user may not change.
    pub(crate) fn check_writable(&self, data: &Map<String, Value>) -> Result<(), EngineError> {
        let denied: Vec<FieldError> = data
            .keys()
            .filter(|k| self.locked.contains(*k))
            .map(|k| FieldError::coded(format!("/{k}"), FieldCode::NotWritable, "you may not change this field"))
            .collect();
        if denied.is_empty() { Ok(()) } else { Err(EngineError::ForbiddenFields(denied)) }
    }

    /// Refuses with 403 a query that names a field the user may not see.
    pub(crate) fn check_visible(&self, field: &str, path: &str) -> Result<(), EngineError> {
        if self.hidden.contains(field) {
            Err(EngineError::ForbiddenFields(vec![
                FieldError::coded(path, FieldCode::NotReadable, format!("you may not read `{field}`")).with("field", field),
            ]))
        } else {
            Ok(())
        }
    }

    /// Removes what the user may not see.
    pub(crate) fn redact(&self, data: &mut Map<String, Value>) {
        if !self.hidden.is_empty() {
            data.retain(|k, _| !self.hidden.contains(k));
        }
    }

    /// `envelope` as `actor` may see it: without the fields their grants hide, nor those the
    /// approval step its record waits at hides from them.
    pub(crate) fn redact_record(&self, app: &LoadedApp, actor: &Actor, envelope: &mut Envelope) {
        self.redact_stored(app, actor, &envelope.form, envelope.flow.as_ref(), &mut envelope.data);
    }

    /// The `data` of a record of `form` whose flow instance is `flow`, as `actor` may see it
    /// (see [`Access::redact_record`]).
    pub(crate) fn redact_stored(&self, app: &LoadedApp, actor: &Actor, form: &str, flow: Option<&Value>, data: &mut Map<String, Value>) {
        self.redact(data);
        let hidden = crate::flows::hidden_at_step(app, form, &actor.username, flow);
        data.retain(|k, _| !hidden.contains(k));
    }
}

pub(crate) fn action_name(action: Action) -> &'static str {
    match action {
        Action::Create => "create",
        Action::Read => "read",
        Action::Update => "update",
        Action::Delete => "delete",
        Action::Export => "export",
        Action::Print => "print",
        Action::Import => "import",
        Action::Assign => "assign",
    }
}

impl Engine {
    /// The records `action` may touch, as a filter (`None`: all of them). Callers check
    /// [`Access::require`] first.
    pub(crate) async fn scope(
        &self,
        db: &impl Conn,
        actor: &Actor,
        app: &LoadedApp,
        rt: &FormRuntime,
        access: &Access,
        action: Action,
    ) -> Result<Option<Filter>, EngineError> {
        if access.admin {
            return Ok(None);
        }
        let owner = |users: Vec<String>| Filter::In {
            target: Target::System(SystemColumn::Owner),
            values: users.into_iter().map(Scalar::Text).collect(),
            negate: false,
        };
        let mut any = Vec::new();
        // An approver reads what they are asked to decide, whatever their scope: a task routed to
        // someone who could not open its record would stick until the submitter recalled it.
        if action == Action::Read && has_approvals(app, &rt.compiled.id) && actor.may_use(app.id()) {
            any.push(Filter::PendingTaskOf { app: app.id().to_owned(), form: rt.compiled.id.clone(), assignee: actor.username.clone() });
        }
        for grant in access.grants.iter().filter(|g| g.actions.contains(&action)) {
            any.push(match &grant.scope {
                Scope::All => return Ok(None),
                Scope::Own => Filter::Cmp(Target::System(SystemColumn::Owner), CmpOp::Eq, Scalar::Text(actor.username.clone())),
                Scope::Department => owner(self.colleagues(db, actor, false).await?),
                Scope::DepartmentTree => owner(self.colleagues(db, actor, true).await?),
                Scope::Filter(filter) => crate::filter::parse_filter(app, rt, filter, "/permissions")?,
                Scope::Via(link) => Box::pin(self.through_link(db, actor, app, rt, link)).await?,
                Scope::UserField(field) => Filter::Cmp(
                    Target::Field { name: field.clone(), kind: store::ColumnKind::Text },
                    CmpOp::Eq,
                    Scalar::Text(actor.username.clone()),
                ),
                Scope::Pool => Filter::Cmp(Target::System(SystemColumn::Owner), CmpOp::Eq, Scalar::Text(POOL_OWNER.to_owned())),
            });
        }
        Ok(Some(Filter::Any(any)))
    }

    /// The records whose link field `link` names a record of the linked form the actor may read
    /// (`tessera check` keeps the linked form's own scopes from following a link again).
    async fn through_link(
        &self,
        db: &impl Conn,
        actor: &Actor,
        app: &LoadedApp,
        rt: &FormRuntime,
        link: &str,
    ) -> Result<Filter, EngineError> {
        let target = rt.compiled.def.field(link).and_then(|f| f.form.as_deref()).unwrap_or_default();
        let target_rt = app.form(target)?;
        let access = Access::of(actor, target_rt);
        if !access.allows(Action::Read) {
            return Ok(Filter::Any(Vec::new())); // nothing: the user reads none of them
        }
        let filter = self.scope(db, actor, app, target_rt, &access, Action::Read).await?.unwrap_or(Filter::All(Vec::new()));
        Ok(Filter::Link { field: link.to_owned(), table: target_rt.table.clone(), filter: Box::new(filter) })
    }

    /// Users in the actor's department (and, with `below`, its sub-departments), the actor included.
    async fn colleagues(&self, db: &impl Conn, actor: &Actor, below: bool) -> Result<Vec<String>, EngineError> {
        let Some(home) = &actor.department else {
            return Ok(vec![actor.username.clone()]);
        };
        // Every list under a department scope asks: the tree and the members' names only.
        let departments = if below { crate::people::subtree(&store::departments(db).await?, home) } else { BTreeSet::from([home.clone()]) };
        let mut names = store::members_of(db, &departments).await?;
        if !names.contains(&actor.username) {
            names.push(actor.username.clone());
        }
        Ok(names)
    }
}

/// Refuses anyone but an admin: `what` says what they tried.
pub(crate) fn require_admin(actor: &Actor, what: &str) -> Result<(), EngineError> {
    if actor.is_admin() { Ok(()) } else { Err(EngineError::Forbidden(format!("only admins may {what}"))) }
}

/// Whether `form` has a flow with approvals: then whoever a pending task names reads its record,
/// whatever their grants ([`Engine::scope`]).
pub(crate) fn has_approvals(app: &LoadedApp, form: &str) -> bool {
    app.flows.get(form).is_some_and(|f| f.workflow.def().states.iter().any(|s| s.approval.is_some()))
}
