//! Users: created, edited, granted roles per app, given a new password, deactivated (their
//! work handed over) and reactivated — by admins; a user's own profile by the user.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{audit_entry, check_id, check_name, require_admin};
use crate::auth::{PERSON, check_password_policy, hash_password, random_token};
use crate::people::Organisation;
use crate::{Actor, Engine, EngineError, time};

/// The kind of an integration's account: it holds roles and tokens, and never logs in.
const SERVICE: &str = "service";

/// Longest language tag a profile keeps (`zh-CN`, `en`, `pt-BR` …).
const MAX_LANGUAGE_CHARS: usize = 16;

/// A user as admins see them: everything but the password.
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub username: String,
    pub display_name: String,
    pub department: Option<String>,
    pub kind: String,
    pub language: Option<String>,
    /// Platform roles: `admin` or none.
    pub roles: Vec<String>,
    /// Roles per app.
    pub grants: BTreeMap<String, Vec<String>>,
    pub must_change_password: bool,
    pub active: bool,
    pub created_at: String,
}

impl From<store::User> for UserView {
    fn from(u: store::User) -> Self {
        UserView {
            username: u.username,
            display_name: u.display_name,
            department: u.department,
            kind: u.kind,
            language: u.language,
            roles: u.roles,
            grants: u.grants,
            must_change_password: u.must_change_password,
            active: u.active,
            created_at: u.created_at,
        }
    }
}

/// A user to create.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    /// `person` (the default) or `service`.
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub department: Option<String>,
    /// Generated (and answered once) when a person is created without one.
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    /// Platform roles: `["admin"]` or none.
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub grants: BTreeMap<String, Vec<String>>,
}

/// A created user, and the password the server chose for them, shown this once.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedUser {
    pub user: UserView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// What an admin changes of a user; absent members stay. `department` and `language` take
/// `null` to clear.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub department: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub language: Option<Option<String>>,
    #[serde(default)]
    pub roles: Option<Vec<String>>,
}

/// What a user changes of their own profile.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileChange {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub language: Option<Option<String>>,
}

/// A member that is present, `null` included: `Some(None)` clears, absent (`None`) keeps.
pub(super) fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

fn check_language(language: Option<&str>) -> Result<(), EngineError> {
    match language {
        Some(l) if l.is_empty() || l.len() > MAX_LANGUAGE_CHARS || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => {
            Err(EngineError::malformed_at("/language", "a language tag such as `zh-CN` or `en`"))
        }
        _ => Ok(()),
    }
}

fn check_platform_roles(roles: &[String]) -> Result<(), EngineError> {
    match roles.iter().position(|r| r != crate::access::ADMIN) {
        Some(i) => Err(EngineError::malformed_at(
            format!("/roles/{i}"),
            "the only platform role is `admin`; grant an app's roles in that app (`grants`)",
        )),
        None => Ok(()),
    }
}

/// A new user checked and ready to store, with the password to hash and, when the server chose
/// it, that password to show once.
pub(super) struct PreparedUser {
    pub(super) user: store::User,
    pub(super) password: String,
    pub(super) generated: Option<String>,
}

/// The stored form of a prepared user's password: an argon2 hash, or none for a service
/// account.
pub(super) async fn hash_password_of(prepared: &PreparedUser) -> Result<String, EngineError> {
    if prepared.password.is_empty() { Ok(crate::auth::DISABLED_PASSWORD.to_owned()) } else { hash_password(&prepared.password).await }
}

fn no_such_user(username: &str) -> EngineError {
    EngineError::NotFound(format!("user `{username}`"))
}

impl Engine {
    /// The users: every one with everything but the password for an admin; for anyone else
    /// the directory of active people a picker offers (username, name, department).
    pub async fn users(&self, actor: &Actor) -> Result<Vec<serde_json::Value>, EngineError> {
        let users = store::users(self.store.db()).await?;
        Ok(if actor.is_admin() {
            users.into_iter().map(|u| json!(UserView::from(u))).collect()
        } else {
            users
                .into_iter()
                .filter(|u| u.active)
                .map(|u| json!({"username": u.username, "display_name": u.display_name, "department": u.department}))
                .collect()
        })
    }

    /// One user, for an admin or the user themself.
    pub async fn user(&self, actor: &Actor, username: &str) -> Result<UserView, EngineError> {
        if !actor.is_admin() && actor.username != username {
            return Err(EngineError::Forbidden("only admins may see other users".into()));
        }
        Ok(store::get_user(self.store.db(), username).await?.ok_or_else(|| no_such_user(username))?.into())
    }

    /// Creates a user. A person created by an admin must choose their own password at first
    /// login (`force_change`; operators scripting the CLI choose).
    pub async fn create_user(&self, actor: &Actor, new: NewUser, force_change: bool) -> Result<CreatedUser, EngineError> {
        require_admin(actor, "create users")?;
        let prepared = self.prepare_user(new, force_change)?;
        let password_hash = hash_password_of(&prepared).await?;
        let (turn, tx) = self.store.begin().await?;
        let view = self.insert_prepared(&tx, actor, prepared.user, password_hash).await?;
        turn.commit(tx).await?;
        Ok(CreatedUser { user: view, password: prepared.generated })
    }

    /// Checks a new user, as far as it can be without the database, and picks their password.
    pub(super) fn prepare_user(&self, new: NewUser, force_change: bool) -> Result<PreparedUser, EngineError> {
        check_id("/username", &new.username)?;
        if new.username == Actor::system().username {
            return Err(EngineError::malformed_at("/username", "`system` names the platform itself"));
        }
        check_name("/display_name", &new.display_name)?;
        check_language(new.language.as_deref())?;
        check_platform_roles(&new.roles)?;
        let kind = new.kind.clone().unwrap_or_else(|| PERSON.to_owned());
        if kind != PERSON && kind != SERVICE {
            return Err(EngineError::malformed_at("/kind", "`person` or `service`"));
        }
        let generated = (kind == PERSON && new.password.is_none()).then(|| random_token(12));
        let password = match (&new.password, &generated) {
            (_, Some(generated)) => generated.clone(),
            (Some(given), None) if kind == PERSON => {
                check_password_policy("/password", &new.username, given)?;
                given.clone()
            }
            (Some(_), None) => return Err(EngineError::malformed_at("/password", "a service account has no password; give it a token")),
            (None, None) => String::new(),
        };
        for (app, roles) in &new.grants {
            self.check_grant(&format!("/grants/{app}"), app, roles)?;
        }
        let user = store::User {
            username: new.username,
            display_name: new.display_name.trim().to_owned(),
            roles: new.roles,
            department: new.department,
            must_change_password: force_change && kind == PERSON,
            kind,
            language: new.language,
            grants: new.grants,
            ..store::User::default()
        };
        Ok(PreparedUser { user, password, generated })
    }

    /// Stores a prepared user in `tx`, refusing a username that is taken or a department that
    /// does not exist, and audits it.
    pub(super) async fn insert_prepared(
        &self,
        tx: &impl store::Conn,
        actor: &Actor,
        user: store::User,
        password_hash: String,
    ) -> Result<UserView, EngineError> {
        self.check_against(tx, &user).await?;
        let username = user.username.clone();
        store::insert_user(tx, &store::User { password_hash, created_at: time::now(), active: true, ..user }, &actor.username).await?;
        let view = UserView::from(store::get_user(tx, &username).await?.ok_or_else(|| no_such_user(&username))?);
        store::append_audit(tx, &audit_entry(actor, "user.create", "user", &username, json!(view))).await?;
        Ok(view)
    }

    /// Changes a user's name, department, language or platform roles.
    pub async fn update_user(&self, actor: &Actor, username: &str, change: UserChange) -> Result<UserView, EngineError> {
        require_admin(actor, "change users")?;
        if let Some(name) = &change.display_name {
            check_name("/display_name", name)?;
        }
        if let Some(language) = &change.language {
            check_language(language.as_deref())?;
        }
        if let Some(roles) = &change.roles {
            check_platform_roles(roles)?;
        }
        let (turn, tx) = self.store.begin().await?;
        let mut user = store::get_user(&tx, username).await?.ok_or_else(|| no_such_user(username))?;
        if let Some(department) = &change.department {
            self.check_department(&tx, "/department", department.as_deref()).await?;
            user.department = department.clone();
        }
        if let Some(name) = change.display_name {
            user.display_name = name.trim().to_owned();
        }
        if let Some(language) = change.language {
            user.language = language;
        }
        if let Some(roles) = change.roles {
            if user.roles.iter().any(|r| r == crate::access::ADMIN) && roles.is_empty() {
                self.keep_an_admin(&tx, username).await?;
            }
            user.roles = roles;
        }
        store::save_user(&tx, &user).await?;
        let view = UserView::from(user);
        store::append_audit(&tx, &audit_entry(actor, "user.update", "user", username, json!(view))).await?;
        turn.commit(tx).await?;
        self.forget_user(username);
        Ok(view)
    }

    /// Changes the actor's own name or language; answers the actor as their next request sees
    /// them.
    pub async fn update_profile(&self, actor: &Actor, change: ProfileChange) -> Result<Actor, EngineError> {
        if let Some(name) = &change.display_name {
            check_name("/display_name", name)?;
        }
        if let Some(language) = &change.language {
            check_language(language.as_deref())?;
        }
        let (turn, tx) = self.store.begin().await?;
        let mut user = store::get_user(&tx, &actor.username).await?.ok_or(EngineError::Unauthenticated)?;
        if let Some(name) = change.display_name {
            user.display_name = name.trim().to_owned();
        }
        if let Some(language) = change.language {
            user.language = language;
        }
        store::save_user(&tx, &user).await?;
        turn.commit(tx).await?;
        self.forget_user(&actor.username);
        Ok(Actor::of(user))
    }

    /// Makes `roles` the user's roles in `app`: each must be one the app declares.
    pub async fn grant_roles(&self, actor: &Actor, username: &str, app: &str, roles: Vec<String>) -> Result<UserView, EngineError> {
        require_admin(actor, "grant roles")?;
        self.check_grant("/roles", app, &roles)?;
        let (turn, tx) = self.store.begin().await?;
        if !store::user_exists(&tx, username).await? {
            return Err(no_such_user(username));
        }
        store::set_grants(&tx, username, app, &roles, &actor.username, &time::now()).await?;
        let entry =
            store::AuditEntry { app: app.to_owned(), ..audit_entry(actor, "user.grant", "user", username, json!({"roles": roles})) };
        store::append_audit(&tx, &entry).await?;
        let user = store::get_user(&tx, username).await?.ok_or_else(|| no_such_user(username))?;
        turn.commit(tx).await?;
        self.forget_user(username);
        Ok(user.into())
    }

    /// Sets a new password for a user (generated when none is given, and answered once); their
    /// sessions end now, and with `force_change` they must change it at their next login.
    pub async fn reset_password(
        &self,
        actor: &Actor,
        username: &str,
        password: Option<String>,
        force_change: bool,
    ) -> Result<Option<String>, EngineError> {
        require_admin(actor, "set other users' passwords")?;
        let generated = password.is_none().then(|| random_token(12));
        let password = password.or_else(|| generated.clone()).unwrap_or_default();
        if generated.is_none() {
            check_password_policy("/password", username, &password)?;
        }
        let user = store::get_user(self.store.db(), username).await?.ok_or_else(|| no_such_user(username))?;
        if user.kind != PERSON {
            return Err(EngineError::malformed_at("/password", "a service account has no password; give it a token"));
        }
        let hash = hash_password(&password).await?;
        let (turn, tx) = self.store.begin().await?;
        store::set_password(&tx, username, &hash, force_change).await?;
        store::delete_sessions_of(&tx, username, None).await?;
        let entry = audit_entry(actor, "user.password", "user", username, json!({"must_change_password": force_change}));
        store::append_audit(&tx, &entry).await?;
        turn.commit(tx).await?;
        self.forget_user(username);
        Ok(generated)
    }

    /// Deactivates a user: they cannot log in, their sessions end and their tokens are revoked,
    /// at once on this server and on others within the session cache's lifetime (2 s). A user
    /// who still owns records or has open tasks needs a `successor`, who receives all of it
    /// first.
    pub async fn deactivate_user(&self, actor: &Actor, username: &str, successor: Option<String>) -> Result<UserView, EngineError> {
        require_admin(actor, "deactivate users")?;
        if actor.username == username {
            return Err(EngineError::Conflict("you cannot deactivate yourself".into()));
        }
        let user = store::get_user(self.store.db(), username).await?.ok_or_else(|| no_such_user(username))?;
        // Refused before anything is handed over.
        if user.roles.iter().any(|r| r == crate::access::ADMIN) {
            self.keep_an_admin(self.store.db(), username).await?;
        }
        if let Some(to) = successor {
            let request = super::HandoverRequest { to, forms: None, tasks: true };
            Box::pin(self.hand_over(actor, username, request)).await?;
        }
        // What is left (everything, without a successor; a task the successor could not take)
        // keeps the user active.
        let work = self.open_work(username, None).await?;
        if !work.is_empty() {
            return Err(EngineError::OpenWork(work));
        }
        let (turn, tx) = self.store.begin().await?;
        if user.roles.iter().any(|r| r == crate::access::ADMIN) {
            self.keep_an_admin(&tx, username).await?;
        }
        let user = store::User { active: false, ..store::get_user(&tx, username).await?.ok_or_else(|| no_such_user(username))? };
        store::save_user(&tx, &user).await?;
        store::delete_sessions_of(&tx, username, None).await?;
        // Revoked, not only refused while inactive: reactivating someone gives back no token.
        store::revoke_tokens_of(&tx, username, &time::now()).await?;
        store::append_audit(&tx, &audit_entry(actor, "user.deactivate", "user", username, json!({"active": false}))).await?;
        turn.commit(tx).await?;
        self.forget_user(username);
        Ok(user.into())
    }

    /// Lets a deactivated user log in again.
    pub async fn activate_user(&self, actor: &Actor, username: &str) -> Result<UserView, EngineError> {
        require_admin(actor, "activate users")?;
        let (turn, tx) = self.store.begin().await?;
        let user = store::User { active: true, ..store::get_user(&tx, username).await?.ok_or_else(|| no_such_user(username))? };
        store::save_user(&tx, &user).await?;
        store::append_audit(&tx, &audit_entry(actor, "user.activate", "user", username, json!({"active": true}))).await?;
        turn.commit(tx).await?;
        Ok(user.into())
    }

    /// Refuses a new user whose username is taken or whose department does not exist.
    pub(super) async fn check_against(&self, db: &impl store::Conn, user: &store::User) -> Result<(), EngineError> {
        if store::user_exists(db, &user.username).await? {
            return Err(EngineError::Duplicate { existing: Some(user.username.clone()), fields: vec!["username".into()] });
        }
        self.check_department(db, "/department", user.department.as_deref()).await
    }

    /// Refuses a change that would leave no active admin besides `username`: nobody could
    /// administer the platform any more.
    async fn keep_an_admin(&self, db: &impl store::Conn, username: &str) -> Result<(), EngineError> {
        let others = Organisation::load(db)
            .await?
            .users
            .into_iter()
            .filter(|u| u.active && u.username != username && u.roles.iter().any(|r| r == crate::access::ADMIN));
        if others.count() == 0 {
            return Err(EngineError::Conflict(format!("`{username}` is the last active admin; make another user admin first")));
        }
        Ok(())
    }

    /// Each of `roles` must be declared by app `app`.
    fn check_grant(&self, pointer: &str, app: &str, roles: &[String]) -> Result<(), EngineError> {
        let loaded = self.app(app).map_err(|_| EngineError::malformed_at(pointer, format!("no app `{app}`")))?;
        for (i, role) in roles.iter().enumerate() {
            if !loaded.defs.app.roles.iter().any(|r| &r.id == role) {
                return Err(EngineError::malformed_at(format!("{pointer}/{i}"), format!("app `{app}` declares no role `{role}`")));
            }
        }
        Ok(())
    }

    async fn check_department(&self, db: &impl store::Conn, pointer: &str, department: Option<&str>) -> Result<(), EngineError> {
        match department {
            Some(id) if !store::departments(db).await?.iter().any(|d| d.id == id) => {
                Err(EngineError::malformed_at(pointer, format!("no department `{id}`")))
            }
            _ => Ok(()),
        }
    }
}
