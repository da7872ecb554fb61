//! The organisation: users, their role grants per app, departments, login sessions and API
//! tokens. Passwords arrive already hashed and tokens already digested: the store never sees a
//! secret.

use std::collections::BTreeMap;

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, Order, Query};

use crate::names::{api_tokens, departments, role_grants, sessions, users};
use crate::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct User {
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    /// Roles that hold in every app: only `admin`, the platform's administrator.
    pub roles: Vec<String>,
    pub department: Option<String>,
    pub created_at: String,
    /// `person`, or `service` for an integration's account, which never logs in.
    pub kind: String,
    /// A deactivated user cannot log in and their sessions and tokens fail.
    pub active: bool,
    /// Set when an admin chose the password: the user must change it before anything else.
    pub must_change_password: bool,
    pub language: Option<String>,
    /// The roles the user holds in each app, by app id.
    pub grants: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub token_hash: String,
    pub username: String,
    pub created_at: String,
    pub expires_at: String,
    /// Digest of the CSRF token a cookie-authenticated write must echo.
    pub csrf_hash: String,
}

const USER_COLUMNS: [&str; 10] = [
    users::USERNAME,
    users::DISPLAY_NAME,
    users::PASSWORD_HASH,
    users::ROLES,
    users::DEPARTMENT,
    users::CREATED_AT,
    users::KIND,
    users::ACTIVE,
    users::MUST_CHANGE_PASSWORD,
    users::LANGUAGE,
];

fn json_list(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

/// Stores a new user with their grants.
pub async fn insert_user(db: &impl ConnectionTrait, u: &User, granted_by: &str) -> Result<(), StoreError> {
    let q = Query::insert()
        .into_table(users::TABLE)
        .columns(USER_COLUMNS)
        .values_panic([
            Expr::val(u.username.clone()),
            Expr::val(u.display_name.clone()),
            Expr::val(u.password_hash.clone()),
            Expr::val(json_list(&u.roles)),
            Expr::val(u.department.clone()),
            Expr::val(u.created_at.clone()),
            Expr::val(u.kind.clone()),
            Expr::val(u.active),
            Expr::val(u.must_change_password),
            Expr::val(u.language.clone()),
        ])
        .to_owned();
    db.execute(&q).await?;
    for (app, roles) in &u.grants {
        set_grants(db, &u.username, app, roles, granted_by, &u.created_at).await?;
    }
    Ok(())
}

/// Writes a user's profile back: everything but the password and the grants.
pub async fn save_user(db: &impl ConnectionTrait, u: &User) -> Result<(), StoreError> {
    let q = Query::update()
        .table(users::TABLE)
        .values([
            (users::DISPLAY_NAME, Expr::val(u.display_name.clone())),
            (users::ROLES, Expr::val(json_list(&u.roles))),
            (users::DEPARTMENT, Expr::val(u.department.clone())),
            (users::KIND, Expr::val(u.kind.clone())),
            (users::ACTIVE, Expr::val(u.active)),
            (users::MUST_CHANGE_PASSWORD, Expr::val(u.must_change_password)),
            (users::LANGUAGE, Expr::val(u.language.clone())),
        ])
        .and_where(Expr::col(users::USERNAME).eq(u.username.clone()))
        .to_owned();
    db.execute(&q).await?;
    Ok(())
}

fn decode(row: &sea_orm::QueryResult) -> Result<User, StoreError> {
    let roles: String = row.try_get("", users::ROLES)?;
    Ok(User {
        username: row.try_get("", users::USERNAME)?,
        display_name: row.try_get("", users::DISPLAY_NAME)?,
        password_hash: row.try_get("", users::PASSWORD_HASH)?,
        roles: serde_json::from_str(&roles).map_err(|e| StoreError::corrupt(users::TABLE, e))?,
        department: row.try_get("", users::DEPARTMENT)?,
        created_at: row.try_get("", users::CREATED_AT)?,
        kind: row.try_get("", users::KIND)?,
        active: row.try_get("", users::ACTIVE)?,
        must_change_password: row.try_get("", users::MUST_CHANGE_PASSWORD)?,
        language: row.try_get("", users::LANGUAGE)?,
        grants: BTreeMap::new(),
    })
}

/// Fills in the grants of `found`, in one query.
async fn with_grants(db: &impl ConnectionTrait, mut found: Vec<User>, one: Option<&str>) -> Result<Vec<User>, StoreError> {
    let mut q = Query::select()
        .columns([role_grants::USERNAME, role_grants::APP, role_grants::ROLE])
        .from(role_grants::TABLE)
        .order_by(role_grants::APP, Order::Asc)
        .order_by(role_grants::ROLE, Order::Asc)
        .to_owned();
    if let Some(username) = one {
        q.and_where(Expr::col(role_grants::USERNAME).eq(username));
    }
    let mut grants: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for row in db.query_all(&q).await? {
        let (user, app, role): (String, String, String) =
            (row.try_get("", role_grants::USERNAME)?, row.try_get("", role_grants::APP)?, row.try_get("", role_grants::ROLE)?);
        grants.entry(user).or_default().entry(app).or_default().push(role);
    }
    for user in &mut found {
        user.grants = grants.remove(&user.username).unwrap_or_default();
    }
    Ok(found)
}

pub async fn get_user(db: &impl ConnectionTrait, username: &str) -> Result<Option<User>, StoreError> {
    let q = Query::select().columns(USER_COLUMNS).from(users::TABLE).and_where(Expr::col(users::USERNAME).eq(username)).to_owned();
    let Some(row) = db.query_one(&q).await? else { return Ok(None) };
    Ok(with_grants(db, vec![decode(&row)?], Some(username)).await?.pop())
}

pub async fn user_exists(db: &impl ConnectionTrait, username: &str) -> Result<bool, StoreError> {
    let q = Query::select().expr(Expr::val(1)).from(users::TABLE).and_where(Expr::col(users::USERNAME).eq(username)).to_owned();
    Ok(db.query_one(&q).await?.is_some())
}

/// Every user, active or not, by username.
pub async fn users(db: &impl ConnectionTrait) -> Result<Vec<User>, StoreError> {
    let q = Query::select().columns(USER_COLUMNS).from(users::TABLE).order_by(users::USERNAME, Order::Asc).to_owned();
    let found = db.query_all(&q).await?.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    with_grants(db, found, None).await
}

/// The usernames of the users in `departments`.
pub async fn members_of(db: &impl ConnectionTrait, departments: &std::collections::BTreeSet<String>) -> Result<Vec<String>, StoreError> {
    let q = Query::select()
        .column(users::USERNAME)
        .from(users::TABLE)
        .and_where(Expr::col(users::DEPARTMENT).is_in(departments.iter().cloned()))
        .to_owned();
    db.query_all(&q).await?.iter().map(|row| Ok(row.try_get("", users::USERNAME)?)).collect()
}

/// Makes `roles` the user's roles in `app`, replacing what they held there.
pub async fn set_grants(
    db: &impl ConnectionTrait,
    username: &str,
    app: &str,
    roles: &[String],
    granted_by: &str,
    at: &str,
) -> Result<(), StoreError> {
    let clear = Query::delete()
        .from_table(role_grants::TABLE)
        .and_where(Expr::col(role_grants::USERNAME).eq(username))
        .and_where(Expr::col(role_grants::APP).eq(app))
        .to_owned();
    db.execute(&clear).await?;
    if roles.is_empty() {
        return Ok(());
    }
    let mut q = Query::insert()
        .into_table(role_grants::TABLE)
        .columns([role_grants::USERNAME, role_grants::APP, role_grants::ROLE, role_grants::GRANTED_BY, role_grants::GRANTED_AT])
        .to_owned();
    let mut seen = std::collections::BTreeSet::new();
    for role in roles.iter().filter(|r| seen.insert(r.as_str())) {
        q.values_panic([Expr::val(username), Expr::val(app), Expr::val(role.clone()), Expr::val(granted_by), Expr::val(at)]);
    }
    db.execute(&q).await?;
    Ok(())
}

/// Stores a new session, in turn with the other writers (a login is a write like any other).
pub async fn create_session(store: &Store, s: &Session) -> Result<(), StoreError> {
    let q = Query::insert()
        .into_table(sessions::TABLE)
        .columns([sessions::TOKEN_HASH, sessions::USERNAME, sessions::CREATED_AT, sessions::EXPIRES_AT, sessions::CSRF_HASH])
        .values_panic([
            Expr::val(s.token_hash.clone()),
            Expr::val(s.username.clone()),
            Expr::val(s.created_at.clone()),
            Expr::val(s.expires_at.clone()),
            Expr::val(s.csrf_hash.clone()),
        ])
        .to_owned();
    store.write(&q).await.map(drop)
}

/// The active user a live session belongs to and the session's CSRF digest; `now` decides what
/// has expired.
pub async fn session(db: &impl ConnectionTrait, token_hash: &str, now: &str) -> Result<Option<(User, String)>, StoreError> {
    let q = Query::select()
        .columns(USER_COLUMNS.map(|c| (users::TABLE, c)))
        .column((sessions::TABLE, sessions::CSRF_HASH))
        .from(sessions::TABLE)
        .inner_join(users::TABLE, Expr::col((users::TABLE, users::USERNAME)).equals((sessions::TABLE, sessions::USERNAME)))
        .and_where(Expr::col((sessions::TABLE, sessions::TOKEN_HASH)).eq(token_hash))
        .and_where(Expr::col((sessions::TABLE, sessions::EXPIRES_AT)).gt(now))
        .and_where(Expr::col((users::TABLE, users::ACTIVE)).eq(true))
        .to_owned();
    let Some(row) = db.query_one(&q).await? else {
        return Ok(None);
    };
    let csrf: String = row.try_get("", sessions::CSRF_HASH)?;
    let user = decode(&row)?;
    let username = user.username.clone();
    let user = with_grants(db, vec![user], Some(&username)).await?.pop();
    Ok(user.map(|u| (u, csrf)))
}

/// When the session with this digest expires, if it exists.
pub async fn session_expiry(db: &impl ConnectionTrait, token_hash: &str) -> Result<Option<String>, StoreError> {
    let q = Query::select()
        .column(sessions::EXPIRES_AT)
        .from(sessions::TABLE)
        .and_where(Expr::col(sessions::TOKEN_HASH).eq(token_hash))
        .to_owned();
    db.query_one(&q).await?.map(|row| Ok(row.try_get("", sessions::EXPIRES_AT)?)).transpose()
}

pub async fn set_password(db: &impl ConnectionTrait, username: &str, password_hash: &str, must_change: bool) -> Result<(), StoreError> {
    let q = Query::update()
        .table(users::TABLE)
        .values([(users::PASSWORD_HASH, Expr::val(password_hash)), (users::MUST_CHANGE_PASSWORD, Expr::val(must_change))])
        .and_where(Expr::col(users::USERNAME).eq(username))
        .to_owned();
    db.execute(&q).await?;
    Ok(())
}

/// Ends every session of `username` but the one with `keep` (after a password change), or all
/// of them with no `keep`.
pub async fn delete_sessions_of(db: &impl ConnectionTrait, username: &str, keep: Option<&str>) -> Result<(), StoreError> {
    let mut q = Query::delete().from_table(sessions::TABLE).and_where(Expr::col(sessions::USERNAME).eq(username)).to_owned();
    if let Some(keep) = keep {
        q.and_where(Expr::col(sessions::TOKEN_HASH).ne(keep));
    }
    db.execute(&q).await?;
    Ok(())
}

/// Ends a session, in turn with the other writers.
pub async fn delete_session(store: &Store, token_hash: &str) -> Result<(), StoreError> {
    let q = Query::delete().from_table(sessions::TABLE).and_where(Expr::col(sessions::TOKEN_HASH).eq(token_hash)).to_owned();
    store.write(&q).await.map(drop)
}

/// A department of the tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Department {
    pub id: String,
    pub name: String,
    pub parent: Option<String>,
    pub manager: Option<String>,
    pub created_at: String,
}

const DEPARTMENT_COLUMNS: [&str; 5] =
    [departments::ID, departments::NAME, departments::PARENT, departments::MANAGER, departments::CREATED_AT];

/// Every department, by id.
pub async fn departments(db: &impl ConnectionTrait) -> Result<Vec<Department>, StoreError> {
    let q = Query::select().columns(DEPARTMENT_COLUMNS).from(departments::TABLE).order_by(departments::ID, Order::Asc).to_owned();
    db.query_all(&q)
        .await?
        .iter()
        .map(|row| {
            Ok(Department {
                id: row.try_get("", departments::ID)?,
                name: row.try_get("", departments::NAME)?,
                parent: row.try_get("", departments::PARENT)?,
                manager: row.try_get("", departments::MANAGER)?,
                created_at: row.try_get("", departments::CREATED_AT)?,
            })
        })
        .collect()
}

pub async fn insert_department(db: &impl ConnectionTrait, d: &Department) -> Result<(), StoreError> {
    let q = Query::insert()
        .into_table(departments::TABLE)
        .columns(DEPARTMENT_COLUMNS)
        .values_panic([
            Expr::val(d.id.clone()),
            Expr::val(d.name.clone()),
            Expr::val(d.parent.clone()),
            Expr::val(d.manager.clone()),
            Expr::val(d.created_at.clone()),
        ])
        .to_owned();
    db.execute(&q).await?;
    Ok(())
}

/// Writes a department's name, parent and manager back.
pub async fn save_department(db: &impl ConnectionTrait, d: &Department) -> Result<(), StoreError> {
    let q = Query::update()
        .table(departments::TABLE)
        .values([
            (departments::NAME, Expr::val(d.name.clone())),
            (departments::PARENT, Expr::val(d.parent.clone())),
            (departments::MANAGER, Expr::val(d.manager.clone())),
        ])
        .and_where(Expr::col(departments::ID).eq(d.id.clone()))
        .to_owned();
    db.execute(&q).await?;
    Ok(())
}

pub async fn delete_department(db: &impl ConnectionTrait, id: &str) -> Result<(), StoreError> {
    db.execute(&Query::delete().from_table(departments::TABLE).and_where(Expr::col(departments::ID).eq(id)).to_owned()).await?;
    Ok(())
}

/// An API token; its secret is shown once and only its digest kept.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiToken {
    pub id: String,
    pub name: String,
    pub token_hash: String,
    /// Whose rights the token carries.
    pub username: String,
    pub created_by: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    /// The apps it is limited to; `None`: every app its user may use.
    pub apps: Option<Vec<String>>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

const TOKEN_COLUMNS: [&str; 10] = [
    api_tokens::ID,
    api_tokens::NAME,
    api_tokens::TOKEN_HASH,
    api_tokens::USERNAME,
    api_tokens::CREATED_BY,
    api_tokens::CREATED_AT,
    api_tokens::EXPIRES_AT,
    api_tokens::APPS,
    api_tokens::LAST_USED_AT,
    api_tokens::REVOKED_AT,
];

fn decode_token(row: &sea_orm::QueryResult) -> Result<ApiToken, StoreError> {
    let apps: Option<String> = row.try_get("", api_tokens::APPS)?;
    Ok(ApiToken {
        id: row.try_get("", api_tokens::ID)?,
        name: row.try_get("", api_tokens::NAME)?,
        token_hash: row.try_get("", api_tokens::TOKEN_HASH)?,
        username: row.try_get("", api_tokens::USERNAME)?,
        created_by: row.try_get("", api_tokens::CREATED_BY)?,
        created_at: row.try_get("", api_tokens::CREATED_AT)?,
        expires_at: row.try_get("", api_tokens::EXPIRES_AT)?,
        apps: apps.map(|a| serde_json::from_str(&a)).transpose().map_err(|e| StoreError::corrupt(api_tokens::TABLE, e))?,
        last_used_at: row.try_get("", api_tokens::LAST_USED_AT)?,
        revoked_at: row.try_get("", api_tokens::REVOKED_AT)?,
    })
}

pub async fn insert_token(db: &impl ConnectionTrait, t: &ApiToken) -> Result<(), StoreError> {
    let q = Query::insert()
        .into_table(api_tokens::TABLE)
        .columns(TOKEN_COLUMNS)
        .values_panic([
            Expr::val(t.id.clone()),
            Expr::val(t.name.clone()),
            Expr::val(t.token_hash.clone()),
            Expr::val(t.username.clone()),
            Expr::val(t.created_by.clone()),
            Expr::val(t.created_at.clone()),
            Expr::val(t.expires_at.clone()),
            Expr::val(t.apps.as_deref().map(json_list)),
            Expr::val(t.last_used_at.clone()),
            Expr::val(t.revoked_at.clone()),
        ])
        .to_owned();
    db.execute(&q).await?;
    Ok(())
}

/// Tokens, newest first: those of `username`, or every one.
pub async fn tokens(db: &impl ConnectionTrait, username: Option<&str>) -> Result<Vec<ApiToken>, StoreError> {
    let mut q = Query::select().columns(TOKEN_COLUMNS).from(api_tokens::TABLE).order_by(api_tokens::CREATED_AT, Order::Desc).to_owned();
    if let Some(username) = username {
        q.and_where(Expr::col(api_tokens::USERNAME).eq(username));
    }
    db.query_all(&q).await?.iter().map(decode_token).collect()
}

pub async fn token(db: &impl ConnectionTrait, id: &str) -> Result<Option<ApiToken>, StoreError> {
    let q = Query::select().columns(TOKEN_COLUMNS).from(api_tokens::TABLE).and_where(Expr::col(api_tokens::ID).eq(id)).to_owned();
    db.query_one(&q).await?.as_ref().map(decode_token).transpose()
}

/// The token with this digest, if it is live (not revoked, not expired at `now`), with its
/// active user.
pub async fn token_user(db: &impl ConnectionTrait, token_hash: &str, now: &str) -> Result<Option<(ApiToken, User)>, StoreError> {
    let q = Query::select()
        .columns(TOKEN_COLUMNS)
        .from(api_tokens::TABLE)
        .and_where(Expr::col(api_tokens::TOKEN_HASH).eq(token_hash))
        .and_where(Expr::col(api_tokens::REVOKED_AT).is_null())
        .and_where(Expr::col(api_tokens::EXPIRES_AT).is_null().or(Expr::col(api_tokens::EXPIRES_AT).gt(now)))
        .to_owned();
    let Some(token) = db.query_one(&q).await?.as_ref().map(decode_token).transpose()? else { return Ok(None) };
    Ok(get_user(db, &token.username).await?.filter(|u| u.active).map(|u| (token, u)))
}

/// Records a token's use.
pub async fn touch_token(store: &Store, id: &str, at: &str) -> Result<(), StoreError> {
    let q = Query::update()
        .table(api_tokens::TABLE)
        .values([(api_tokens::LAST_USED_AT, Expr::val(at))])
        .and_where(Expr::col(api_tokens::ID).eq(id))
        .to_owned();
    store.write(&q).await.map(drop)
}

/// Revokes a token at `at` (a revoked token stays listed); answers whether it was live.
pub async fn revoke_token(db: &impl ConnectionTrait, id: &str, at: &str) -> Result<u64, StoreError> {
    let q = Query::update()
        .table(api_tokens::TABLE)
        .values([(api_tokens::REVOKED_AT, Expr::val(at))])
        .and_where(Expr::col(api_tokens::ID).eq(id))
        .and_where(Expr::col(api_tokens::REVOKED_AT).is_null())
        .to_owned();
    Ok(db.execute(&q).await?.rows_affected())
}

/// Revokes every live token of `username` at `at`.
pub async fn revoke_tokens_of(db: &impl ConnectionTrait, username: &str, at: &str) -> Result<(), StoreError> {
    let q = Query::update()
        .table(api_tokens::TABLE)
        .values([(api_tokens::REVOKED_AT, Expr::val(at))])
        .and_where(Expr::col(api_tokens::USERNAME).eq(username))
        .and_where(Expr::col(api_tokens::REVOKED_AT).is_null())
        .to_owned();
    db.execute(&q).await?;
    Ok(())
}
