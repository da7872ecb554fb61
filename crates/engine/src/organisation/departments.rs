//! The department tree: each department has a parent (none at a root) and a manager. Moving a
//! department moves everyone in it: scopes and manager chains read the tree when they run.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{audit_entry, check_id, check_name, require_admin};
use crate::people::Organisation;
use crate::{Actor, Engine, EngineError, time};

#[derive(Debug, Clone, Serialize)]
pub struct DepartmentView {
    pub id: String,
    pub name: String,
    pub parent: Option<String>,
    pub manager: Option<String>,
    /// How many users belong to it (not counting its sub-departments).
    pub members: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDepartment {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default)]
    pub manager: Option<String>,
}

/// What changes of a department; absent members stay, `null` clears `parent` (a root) or
/// `manager`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentChange {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "super::users::present")]
    pub parent: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::users::present")]
    pub manager: Option<Option<String>>,
}

fn no_such_department(id: &str) -> EngineError {
    EngineError::NotFound(format!("department `{id}`"))
}

fn view(org: &Organisation, d: store::Department) -> DepartmentView {
    let members = org.users.iter().filter(|u| u.department.as_deref() == Some(d.id.as_str())).count();
    DepartmentView { id: d.id, name: d.name, parent: d.parent, manager: d.manager, members }
}

impl Organisation {
    /// Refuses a parent that is not a department, or that lies under `id` (a circle).
    fn check_parent(&self, id: &str, parent: Option<&str>) -> Result<(), EngineError> {
        let Some(parent) = parent else { return Ok(()) };
        if !self.departments.iter().any(|d| d.id == parent) {
            return Err(EngineError::malformed_at("/parent", format!("no department `{parent}`")));
        }
        if self.tree_of(id, true).contains(parent) {
            return Err(EngineError::malformed_at("/parent", format!("`{parent}` is `{id}` or lies under it: the tree would go round")));
        }
        Ok(())
    }

    fn check_manager(&self, manager: Option<&str>) -> Result<(), EngineError> {
        match manager {
            Some(m) if !self.active(m) => Err(EngineError::malformed_at("/manager", format!("no active user `{m}`"))),
            _ => Ok(()),
        }
    }
}

impl Engine {
    /// The department tree as a flat list (each names its parent); anyone signed in may read it.
    pub async fn departments(&self, _actor: &Actor) -> Result<Vec<DepartmentView>, EngineError> {
        let mut org = Organisation::load(self.store.db()).await?;
        let departments = std::mem::take(&mut org.departments);
        Ok(departments.into_iter().map(|d| view(&org, d)).collect())
    }

    pub async fn create_department(&self, actor: &Actor, new: NewDepartment) -> Result<DepartmentView, EngineError> {
        require_admin(actor, "change departments")?;
        check_id("/id", &new.id)?;
        check_name("/name", &new.name)?;
        let (turn, tx) = self.store.begin().await?;
        let org = Organisation::load(&tx).await?;
        if org.departments.iter().any(|d| d.id == new.id) {
            return Err(EngineError::Duplicate { existing: Some(new.id.clone()), fields: vec!["id".into()] });
        }
        org.check_parent(&new.id, new.parent.as_deref())?;
        org.check_manager(new.manager.as_deref())?;
        let department = store::Department {
            id: new.id,
            name: new.name.trim().to_owned(),
            parent: new.parent,
            manager: new.manager,
            created_at: time::now(),
        };
        store::insert_department(&tx, &department).await?;
        let out = view(&org, department);
        store::append_audit(&tx, &audit_entry(actor, "department.create", "department", &out.id, json!(out))).await?;
        turn.commit(tx).await?;
        Ok(out)
    }

    /// Renames a department, moves it under another parent, or changes its manager.
    pub async fn update_department(&self, actor: &Actor, id: &str, change: DepartmentChange) -> Result<DepartmentView, EngineError> {
        require_admin(actor, "change departments")?;
        if let Some(name) = &change.name {
            check_name("/name", name)?;
        }
        let (turn, tx) = self.store.begin().await?;
        let org = Organisation::load(&tx).await?;
        let mut department = org.departments.iter().find(|d| d.id == id).cloned().ok_or_else(|| no_such_department(id))?;
        if let Some(parent) = change.parent {
            org.check_parent(id, parent.as_deref())?;
            department.parent = parent;
        }
        if let Some(manager) = change.manager {
            org.check_manager(manager.as_deref())?;
            department.manager = manager;
        }
        if let Some(name) = change.name {
            department.name = name.trim().to_owned();
        }
        store::save_department(&tx, &department).await?;
        let out = view(&org, department);
        store::append_audit(&tx, &audit_entry(actor, "department.update", "department", id, json!(out))).await?;
        turn.commit(tx).await?;
        Ok(out)
    }

    /// Removes a department that has neither members nor sub-departments.
    pub async fn delete_department(&self, actor: &Actor, id: &str) -> Result<(), EngineError> {
        require_admin(actor, "change departments")?;
        let (turn, tx) = self.store.begin().await?;
        let org = Organisation::load(&tx).await?;
        if !org.departments.iter().any(|d| d.id == id) {
            return Err(no_such_department(id));
        }
        if org.departments.iter().any(|d| d.parent.as_deref() == Some(id)) {
            return Err(EngineError::Conflict(format!("department `{id}` has sub-departments; move or delete them first")));
        }
        if org.users.iter().any(|u| u.department.as_deref() == Some(id)) {
            return Err(EngineError::Conflict(format!("department `{id}` has members; move them first")));
        }
        store::delete_department(&tx, id).await?;
        store::append_audit(&tx, &audit_entry(actor, "department.delete", "department", id, json!({}))).await?;
        turn.commit(tx).await?;
        Ok(())
    }
}
