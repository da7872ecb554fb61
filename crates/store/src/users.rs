//! Users and login sessions. Passwords arrive already hashed and tokens already digested: the
//! store never sees a secret.

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, Order, Query};

use crate::names::{sessions, users};
use crate::{Store, StoreError};

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub roles: Vec<String>,
    pub department: Option<String>,
    pub created_at: String,
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

const USER_COLUMNS: [&str; 6] =
    [users::USERNAME, users::DISPLAY_NAME, users::PASSWORD_HASH, users::ROLES, users::DEPARTMENT, users::CREATED_AT];

pub async fn insert_user(db: &impl ConnectionTrait, u: &User) -> Result<(), StoreError> {
    let roles = serde_json::to_string(&u.roles).unwrap_or_else(|_| "[]".into());
    let q = Query::insert()
        .into_table(users::TABLE)
        .columns(USER_COLUMNS)
        .values_panic([
            Expr::val(u.username.clone()),
            Expr::val(u.display_name.clone()),
            Expr::val(u.password_hash.clone()),
            Expr::val(roles),
            Expr::val(u.department.clone()),
            Expr::val(u.created_at.clone()),
        ])
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
    })
}

pub async fn get_user(db: &impl ConnectionTrait, username: &str) -> Result<Option<User>, StoreError> {
    let q = Query::select().columns(USER_COLUMNS).from(users::TABLE).and_where(Expr::col(users::USERNAME).eq(username)).to_owned();
    db.query_one(&q).await?.map(|row| decode(&row)).transpose()
}

pub async fn user_exists(db: &impl ConnectionTrait, username: &str) -> Result<bool, StoreError> {
    let q = Query::select().expr(Expr::val(1)).from(users::TABLE).and_where(Expr::col(users::USERNAME).eq(username)).to_owned();
    Ok(db.query_one(&q).await?.is_some())
}

pub async fn users(db: &impl ConnectionTrait) -> Result<Vec<User>, StoreError> {
    let q = Query::select().columns(USER_COLUMNS).from(users::TABLE).order_by(users::USERNAME, Order::Asc).to_owned();
    db.query_all(&q).await?.iter().map(decode).collect()
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

/// The user a live session belongs to and the session's CSRF digest; `now` decides what has
/// expired.
pub async fn session(db: &impl ConnectionTrait, token_hash: &str, now: &str) -> Result<Option<(User, String)>, StoreError> {
    // One query: every authenticated request pays for it.
    let q = Query::select()
        .columns(USER_COLUMNS.map(|c| (users::TABLE, c)))
        .column((sessions::TABLE, sessions::CSRF_HASH))
        .from(sessions::TABLE)
        .inner_join(users::TABLE, Expr::col((users::TABLE, users::USERNAME)).equals((sessions::TABLE, sessions::USERNAME)))
        .and_where(Expr::col((sessions::TABLE, sessions::TOKEN_HASH)).eq(token_hash))
        .and_where(Expr::col((sessions::TABLE, sessions::EXPIRES_AT)).gt(now))
        .to_owned();
    let Some(row) = db.query_one(&q).await? else {
        return Ok(None);
    };
    let csrf: String = row.try_get("", sessions::CSRF_HASH)?;
    Ok(Some((decode(&row)?, csrf)))
}

pub async fn set_password(db: &impl ConnectionTrait, username: &str, password_hash: &str) -> Result<(), StoreError> {
    let q = Query::update()
        .table(users::TABLE)
        .values([(users::PASSWORD_HASH, Expr::val(password_hash))])
        .and_where(Expr::col(users::USERNAME).eq(username))
        .to_owned();
    db.execute(&q).await?;
    Ok(())
}

/// Ends every session of `username` but the one with `keep` (after a password change).
pub async fn delete_other_sessions(db: &impl ConnectionTrait, username: &str, keep: &str) -> Result<(), StoreError> {
    let q = Query::delete()
        .from_table(sessions::TABLE)
        .and_where(Expr::col(sessions::USERNAME).eq(username))
        .and_where(Expr::col(sessions::TOKEN_HASH).ne(keep))
        .to_owned();
    db.execute(&q).await?;
    Ok(())
}

/// Ends a session, in turn with the other writers.
pub async fn delete_session(store: &Store, token_hash: &str) -> Result<(), StoreError> {
    let q = Query::delete().from_table(sessions::TABLE).and_where(Expr::col(sessions::TOKEN_HASH).eq(token_hash)).to_owned();
    store.write(&q).await.map(drop)
}
