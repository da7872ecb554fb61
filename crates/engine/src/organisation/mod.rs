//! The organisation: users, departments, who holds which role in which app, API tokens and the
//! hand-over of a leaver's work. Admins change it; every permission scope and every approval
//! reads it as it is at the moment ([`Organisation`]), so a move or a grant counts at once.

mod departments;
mod handover;
mod import;
mod tokens;
mod users;

use std::collections::BTreeSet;

use serde_json::Value;
use store::AuditEntry;

pub use departments::{DepartmentChange, DepartmentView, NewDepartment};
pub use handover::{FormWork, HandoverRequest, Work};
pub use import::{GeneratedPassword, MAX_USER_IMPORT_ROWS, UsersImport};
pub use tokens::{IssuedToken, NewToken, TokenView};
pub use users::{CreatedUser, NewUser, ProfileChange, UserChange, UserView};

use crate::access::require_admin;
use crate::{Actor, Engine, EngineError, LoadedApp, time};

/// Roles as a seed or an older database lists them, split into the platform's (`admin`) and
/// those an app grants.
pub(crate) fn split_platform_roles(roles: &[String]) -> (Vec<String>, Vec<String>) {
    roles.iter().cloned().partition(|r| r == crate::access::ADMIN)
}

/// The audit row of a change to the organisation: no app, `subject` (`user`, `department`,
/// `token`) as the form, and what it became — never a secret.
fn audit_entry(actor: &Actor, action: &str, subject: &str, id: &str, after: Value) -> AuditEntry {
    AuditEntry {
        at: time::now(),
        actor: actor.username.clone(),
        action: action.to_owned(),
        app: String::new(),
        form: subject.to_owned(),
        record_id: id.to_owned(),
        outcome: "ok".into(),
        before: String::new(),
        after: after.to_string(),
    }
}

/// Checks an id a person chose (a username, a department id): 1–64 lowercase letters, digits,
/// `_`, `-` or `.`, starting with a letter or digit — it appears in URLs, files and filters.
fn check_id(pointer: &str, id: &str) -> Result<(), EngineError> {
    let ok = (1..=64).contains(&id.len())
        && id.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(EngineError::malformed_at(pointer, "use 1–64 lowercase letters, digits, `_`, `-` or `.`, starting with a letter or digit"))
    }
}

/// Longest display name of a user or department.
pub const MAX_NAME_CHARS: usize = 100;

/// Checks a name people read: not blank, at most [`MAX_NAME_CHARS`].
fn check_name(pointer: &str, name: &str) -> Result<(), EngineError> {
    if name.trim().is_empty() {
        return Err(EngineError::malformed_at(pointer, "must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(EngineError::malformed_at(pointer, format!("at most {MAX_NAME_CHARS} characters")));
    }
    Ok(())
}

impl Engine {
    /// The first time app `app` is loaded into this database, its `app.json` departments that
    /// the database lacks: an app's tree is where a new installation starts, and admins own it
    /// afterwards (a later release does not bring back a department they deleted).
    pub(crate) async fn adopt_departments(&self, app: &LoadedApp) -> Result<(), EngineError> {
        let marker = format!("organisation:departments:{}", app.id());
        if app.defs.app.departments.is_empty() || store::get_meta(self.store.db(), &marker).await?.is_some() {
            return Ok(());
        }
        // Servers starting together adopt one at a time (the schema lock), each reading again.
        let (turn, tx) = self.store.begin_serialised().await?;
        if store::get_meta(&tx, &marker).await?.is_none() {
            let known: BTreeSet<String> = store::departments(&tx).await?.into_iter().map(|d| d.id).collect();
            for d in app.defs.app.departments.iter().filter(|d| !known.contains(&d.id)) {
                let department = store::Department {
                    id: d.id.clone(),
                    // One name, in the company's language: Chinese when the label has it.
                    name: d.label.text("zh-CN").to_owned(),
                    parent: d.parent.clone(),
                    manager: d.manager.clone(),
                    created_at: time::now(),
                };
                store::insert_department(&tx, &department).await?;
            }
            store::set_meta(&tx, &marker, "done").await?;
        }
        turn.commit(tx).await?;
        Ok(())
    }

    /// Once, for a database from before roles were granted per app: each user's roles (but the
    /// platform's `admin`) become grants in every loaded app that declares them.
    pub(crate) async fn grant_legacy_roles(&self) -> Result<(), EngineError> {
        const MARKER: &str = "organisation:grants_per_app";
        if store::get_meta(self.store.db(), MARKER).await?.is_some() {
            return Ok(());
        }
        let apps = self.apps();
        let (turn, tx) = self.store.begin_serialised().await?;
        if store::get_meta(&tx, MARKER).await?.is_none() {
            for mut user in store::users(&tx).await? {
                let (platform, app_roles) = split_platform_roles(&user.roles);
                if app_roles.is_empty() {
                    continue;
                }
                for app in &apps {
                    let declared: Vec<String> =
                        app_roles.iter().filter(|r| app.defs.app.roles.iter().any(|d| &d.id == *r)).cloned().collect();
                    if !declared.is_empty() && !user.grants.contains_key(app.id()) {
                        store::set_grants(&tx, &user.username, app.id(), &declared, "system", &time::now()).await?;
                    }
                }
                user.roles = platform;
                store::save_user(&tx, &user).await?;
            }
            store::set_meta(&tx, MARKER, "done").await?;
        }
        turn.commit(tx).await?;
        Ok(())
    }
}
