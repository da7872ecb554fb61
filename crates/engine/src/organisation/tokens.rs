//! API tokens for integrations: a person's own, or a service account's (made by an admin).
//! The secret is answered once and only its digest kept; a token may expire and may be
//! limited to some apps, and is revoked rather than deleted so its use stays on record.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{audit_entry, check_name};
use crate::auth::{API_TOKEN_PREFIX, random_token};
use crate::{Actor, Engine, EngineError, time};

/// A token as listed: never its secret.
#[derive(Debug, Clone, Serialize)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub username: String,
    pub created_by: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub apps: Option<Vec<String>>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl From<store::ApiToken> for TokenView {
    fn from(t: store::ApiToken) -> Self {
        TokenView {
            id: t.id,
            name: t.name,
            username: t.username,
            created_by: t.created_by,
            created_at: t.created_at,
            expires_at: t.expires_at,
            apps: t.apps,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    pub name: String,
    /// Whose rights it carries: the caller's own by default; another user's needs an admin.
    #[serde(default)]
    pub username: Option<String>,
    /// RFC 3339; none: it lasts until revoked.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// The apps it may be used in; none: every app its user may use.
    #[serde(default)]
    pub apps: Option<Vec<String>>,
}

/// A new token: `token` is the secret, shown this once.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedToken {
    pub token: String,
    pub item: TokenView,
}

/// Most apps a token may be limited to.
const MAX_TOKEN_APPS: usize = 100;

impl Engine {
    /// Tokens newest first: the caller's own, or every one for an admin.
    pub async fn tokens(&self, actor: &Actor) -> Result<Vec<TokenView>, EngineError> {
        let mine = (!actor.is_admin()).then_some(actor.username.as_str());
        Ok(store::tokens(self.store.db(), mine).await?.into_iter().map(TokenView::from).collect())
    }

    pub async fn create_token(&self, actor: &Actor, new: NewToken) -> Result<IssuedToken, EngineError> {
        check_name("/name", &new.name)?;
        if actor.apps.is_some() {
            return Err(EngineError::Forbidden("a token limited to apps cannot make tokens".into()));
        }
        let username = new.username.clone().unwrap_or_else(|| actor.username.clone());
        if username != actor.username && !actor.is_admin() {
            return Err(EngineError::Forbidden("only admins may make tokens for other users".into()));
        }
        let expires_at = match &new.expires_at {
            Some(text) => {
                let at = chrono::DateTime::parse_from_rfc3339(text)
                    .map_err(|_| EngineError::malformed_at("/expires_at", "a time such as `2027-01-31T00:00:00Z`"))?;
                if at <= time::current() {
                    return Err(EngineError::malformed_at("/expires_at", "lies in the past"));
                }
                Some(time::format(at.with_timezone(&chrono::Utc)))
            }
            None => None,
        };
        if let Some(apps) = &new.apps {
            if apps.len() > MAX_TOKEN_APPS {
                return Err(EngineError::malformed_at("/apps", format!("at most {MAX_TOKEN_APPS} apps")));
            }
            for (i, app) in apps.iter().enumerate() {
                self.app(app).map_err(|_| EngineError::malformed_at(format!("/apps/{i}"), format!("no app `{app}`")))?;
            }
        }
        let (turn, tx) = self.store.begin().await?;
        match store::get_user(&tx, &username).await? {
            Some(user) if user.active => {}
            _ => return Err(EngineError::malformed_at("/username", format!("no active user `{username}`"))),
        }
        let secret = format!("{API_TOKEN_PREFIX}{}", random_token(32));
        let token = store::ApiToken {
            id: uuid::Uuid::now_v7().to_string(),
            name: new.name.trim().to_owned(),
            token_hash: crate::auth::digest(&secret),
            username,
            created_by: actor.username.clone(),
            created_at: time::now(),
            expires_at,
            apps: new.apps,
            last_used_at: None,
            revoked_at: None,
        };
        store::insert_token(&tx, &token).await?;
        let item = TokenView::from(token);
        store::append_audit(&tx, &audit_entry(actor, "token.create", "token", &item.id, json!(item))).await?;
        turn.commit(tx).await?;
        Ok(IssuedToken { token: secret, item })
    }

    /// Revokes a token: the caller's own, or any for an admin. It fails at once.
    pub async fn revoke_token(&self, actor: &Actor, id: &str) -> Result<(), EngineError> {
        let (turn, tx) = self.store.begin().await?;
        let token = store::token(&tx, id).await?.filter(|t| actor.is_admin() || t.username == actor.username);
        let token = token.ok_or_else(|| EngineError::NotFound(format!("token `{id}`")))?;
        // Revoked already: nothing changes, and nothing is audited twice.
        if store::revoke_token(&tx, id, &time::now()).await? == 0 {
            return Ok(());
        }
        store::append_audit(&tx, &audit_entry(actor, "token.revoke", "token", id, json!({"username": token.username}))).await?;
        turn.commit(tx).await?;
        self.forget_user(&token.username);
        Ok(())
    }
}
