//! Who is calling: logins, sessions, API tokens and passwords. Passwords are hashed with argon2;
//! a session or API token is random, shown once, and only its SHA-256 digest is stored.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Instant;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, Utc};
use rand_core::{OsRng, RngCore};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use forms::{FieldCode, FieldError};

use crate::{Engine, EngineError, time};

/// How long a login lasts.
const SESSION_DAYS: i64 = 7;

/// How long a session read from the database is trusted without reading it again. Logouts and
/// password changes in this process take effect at once; another server sharing the database
/// notices them within this time.
const SESSION_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(2);
/// Entries kept at most; beyond it the cache starts over (it only saves reads).
const SESSION_CACHE_MAX: usize = 10_000;

/// Sessions and API tokens recently read, by token digest: every request authenticates, and this spares most
/// of them a database round trip.
#[derive(Clone, Default)]
pub(crate) struct SessionCache {
    entries: Arc<Mutex<HashMap<String, CachedSession>>>,
    /// Counts the forgettings: an entry read before one is not put.
    generation: Arc<std::sync::atomic::AtomicU64>,
}

struct CachedSession {
    actor: Actor,
    csrf_hash: String,
    read_at: Instant,
}

impl SessionCache {
    fn get(&self, key: &str) -> Option<(Actor, String)> {
        let cache = self.entries.lock().ok()?;
        cache.get(key).filter(|s| s.read_at.elapsed() < SESSION_CACHE_TTL).map(|s| (s.actor.clone(), s.csrf_hash.clone()))
    }

    fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Remembers what was read at `generation`, unless something was forgotten since.
    fn put(&self, key: String, actor: Actor, csrf_hash: String, generation: u64) {
        if let Ok(mut cache) = self.entries.lock() {
            if self.generation() != generation {
                return;
            }
            if cache.len() >= SESSION_CACHE_MAX {
                cache.clear();
            }
            cache.insert(key, CachedSession { actor, csrf_hash, read_at: Instant::now() });
        }
    }

    fn forget(&self, keep: impl Fn(&str, &Actor) -> bool) {
        if let Ok(mut cache) = self.entries.lock() {
            self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            cache.retain(|key, s| keep(key, &s.actor));
        }
    }
}

/// The user on whose behalf a command runs. Every command takes one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    pub username: String,
    pub display_name: String,
    /// Roles that hold in every app: `admin`, the platform's administrator.
    pub roles: Vec<String>,
    /// The roles held in each app, by app id: a role means something only in the app that
    /// declares it.
    pub grants: BTreeMap<String, Vec<String>>,
    pub department: Option<String>,
    /// `person`, or `service` for an integration's account.
    pub kind: String,
    pub language: Option<String>,
    /// Until it is done, the actor may only change their password (the server refuses the rest).
    pub must_change_password: bool,
    /// The apps an API token limits the actor to; `None`: every app.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apps: Option<Vec<String>>,
}

impl Actor {
    /// Whether the actor holds the admin role, which every app knows.
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == crate::access::ADMIN)
    }

    /// The roles the actor holds in `app`: the platform's and the app's grants; none in an app
    /// their token does not reach.
    pub fn roles_in(&self, app: &str) -> Vec<String> {
        if !self.may_use(app) {
            return Vec::new();
        }
        self.roles.iter().chain(self.grants.get(app).into_iter().flatten()).cloned().collect()
    }

    /// Whether the actor may act in `app` at all: a token limited to apps reaches no other, not
    /// even through an approval task there.
    pub fn may_use(&self, app: &str) -> bool {
        self.apps.as_ref().is_none_or(|apps| apps.iter().any(|a| a == app))
    }

    /// The platform itself, for work no person started (seeding, jobs).
    pub fn system() -> Actor {
        Actor::of(store::User {
            username: "system".into(),
            display_name: "System".into(),
            roles: vec![crate::access::ADMIN.into()],
            kind: "service".into(),
            active: true,
            ..store::User::default()
        })
    }

    /// Anyone holding `role` in `app` and nothing else: whom a builder's "view as" a role shows.
    pub(crate) fn holding(app: &str, role: &str) -> Actor {
        Actor {
            display_name: format!("{role} of {app}"),
            grants: BTreeMap::from([(app.to_owned(), vec![role.to_owned()])]),
            ..Actor::of(store::User { kind: PERSON.into(), active: true, ..store::User::default() })
        }
    }

    pub(crate) fn of(u: store::User) -> Actor {
        Actor {
            username: u.username,
            display_name: u.display_name,
            roles: u.roles,
            grants: u.grants,
            department: u.department,
            kind: u.kind,
            language: u.language,
            must_change_password: u.must_change_password,
            apps: None,
        }
    }

    /// The user as an app's rules and templates see them: the roles they hold in `app`.
    pub(crate) fn in_app(&self, app: &str) -> serde_json::Value {
        serde_json::json!({
            "username": self.username,
            "display_name": self.display_name,
            "roles": self.roles_in(app),
            "department": self.department,
        })
    }

    /// Narrows the actor to what a token limited to `apps` may do: act in those apps only
    /// ([`Actor::may_use`]), with their grants there and no platform role (which would reach
    /// every app and the organisation).
    fn limited_to(mut self, apps: &[String]) -> Actor {
        self.grants.retain(|app, _| apps.contains(app));
        self.roles.clear();
        self.apps = Some(apps.to_vec());
        self
    }
}

/// A successful login.
#[derive(Debug, Clone, Serialize)]
pub struct Login {
    pub token: String,
    /// Echo this in `X-CSRF-Token` on writes authenticated by the session cookie.
    pub csrf_token: String,
    pub expires_at: String,
    pub user: Actor,
}

/// A session picked up again from its cookie: no token (the cookie is it), its CSRF token.
#[derive(Debug, Clone, Serialize)]
pub struct Resumed {
    /// Echo this in `X-CSRF-Token` on writes.
    pub csrf_token: String,
    pub expires_at: String,
    pub user: Actor,
}

/// How a request proves it was not forged by another site.
#[derive(Debug, Clone, Copy)]
pub enum Csrf<'a> {
    /// Bearer tokens and safe methods: a browser never sends these on its own.
    NotNeeded,
    /// A write authenticated by the cookie: the header the request carried, if any.
    Required(Option<&'a str>),
}

/// Longest username a login is tried with: longer than any person's; nothing longer is hashed
/// or remembered by a rate limiter.
pub const MAX_USERNAME_CHARS: usize = 128;
/// Longest password accepted at login and on a change: room for any passphrase or generated
/// password, while argon2 never reads megabytes.
pub const MAX_PASSWORD_CHARS: usize = 1_024;

/// Shortest password accepted on a change.
const MIN_PASSWORD: usize = 8;

/// Password hashes computed at once in this process: one a core. An argon2 hash is tens of
/// milliseconds of one core and 19 MiB; more at once would only wait for a core while holding
/// their memory, and on the request threads they would hold up every other request.
static HASHING: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(1, |n| n.get())));

/// Runs argon2 `work` on the blocking pool, at most one a core at a time (the others wait
/// without a thread).
async fn hashing<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, EngineError> {
    let _slot = HASHING.acquire().await.map_err(|e| EngineError::Internal(format!("password hashing closed: {e}")))?;
    tokio::task::spawn_blocking(work).await.map_err(|e| EngineError::Internal(format!("password hashing failed: {e}")))
}

pub(crate) async fn hash_password(password: &str) -> Result<String, EngineError> {
    let password = password.to_owned();
    hashing(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| EngineError::Internal(format!("password hashing failed: {e}")))
    })
    .await?
}

async fn verify_password(password: &str, hash: String) -> Result<bool, EngineError> {
    let password = password.to_owned();
    hashing(move || PasswordHash::new(&hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()))
        .await
}

/// Refuses with 422 a field longer than `max` characters, before anything is hashed.
fn check_length(pointer: &str, value: &str, max: usize) -> Result<(), EngineError> {
    if value.chars().count() > max {
        return Err(EngineError::Invalid(vec![
            FieldError::coded(pointer, FieldCode::MaxLength, format!("at most {max} characters")).with("limit", max),
        ]));
    }
    Ok(())
}

pub(crate) fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

pub(crate) fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Refuses with 422 a username or password past [`MAX_USERNAME_CHARS`] or [`MAX_PASSWORD_CHARS`]:
/// [`Engine::login`] does, and a rate limiter asks first, so as never to remember such a name.
pub fn check_login_lengths(username: &str, password: &str) -> Result<(), EngineError> {
    check_length("/username", username, MAX_USERNAME_CHARS)?;
    check_length("/password", password, MAX_PASSWORD_CHARS)
}

/// What an API token starts with, so a request's bearer is looked up in the right table.
pub(crate) const API_TOKEN_PREFIX: &str = "tsk_";

/// The CSRF token of a session: derived from the session's secret token, so the page can be
/// given it again (`GET /api/auth/session`) by whoever holds the cookie — a new tab — while
/// another site, which cannot read our responses, never learns it.
fn csrf_of(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(format!("csrf:{token}").as_bytes()))
}

/// A few of the passwords tried first by anyone guessing: refused whatever their length.
static COMMON_PASSWORDS: LazyLock<std::collections::HashSet<&'static str>> =
    LazyLock::new(|| include_str!("common_passwords.txt").lines().map(str::trim).filter(|l| !l.is_empty()).collect());

/// The password policy: at least [`MIN_PASSWORD`] characters, not containing the username,
/// not one of the commonest passwords. `pointer` locates the problem in the request.
pub(crate) fn check_password_policy(pointer: &str, username: &str, password: &str) -> Result<(), EngineError> {
    check_length(pointer, password, MAX_PASSWORD_CHARS)?;
    let lower = password.to_lowercase();
    let problem = if password.chars().count() < MIN_PASSWORD {
        FieldError::coded(pointer, FieldCode::MinLength, format!("use at least {MIN_PASSWORD} characters")).with("limit", MIN_PASSWORD)
    } else if !username.is_empty() && lower.contains(&username.to_lowercase()) {
        FieldError::coded(pointer, FieldCode::ContainsUsername, "must not contain the username")
    } else if COMMON_PASSWORDS.contains(lower.as_str()) {
        FieldError::coded(pointer, FieldCode::CommonPassword, "is one of the most common passwords; choose another")
    } else {
        return Ok(());
    };
    Err(EngineError::Invalid(vec![problem]))
}

impl Engine {
    /// Checks a username and password and opens a session. Deactivated users and service
    /// accounts are refused like a wrong password.
    pub async fn login(&self, username: &str, password: &str) -> Result<Login, EngineError> {
        check_login_lengths(username, password)?;
        // Only an active person logs in; for anyone else (unknown, deactivated, a service
        // account) a dummy hash is verified, so timing does not tell who exists.
        let user = store::get_user(self.store.db(), username).await?.filter(|u| u.active && u.kind == PERSON);
        let hash = user.as_ref().map(|u| u.password_hash.clone()).unwrap_or_else(|| DUMMY_HASH.to_owned());
        let ok = verify_password(password, hash).await?;
        let Some(user) = user.filter(|_| ok) else {
            return Err(EngineError::BadCredentials);
        };
        // A session token never looks like an API token, whose prefix sends it to another table.
        let token = std::iter::repeat_with(|| random_token(32)).find(|t| !t.starts_with(API_TOKEN_PREFIX)).unwrap_or_default();
        let csrf_token = csrf_of(&token);
        let expires_at = time::format(Utc::now() + Duration::days(SESSION_DAYS));
        let session = store::Session {
            token_hash: digest(&token),
            username: user.username.clone(),
            created_at: time::now(),
            expires_at: expires_at.clone(),
            csrf_hash: digest(&csrf_token),
        };
        store::create_session(&self.store, &session).await?;
        Ok(Login { token, csrf_token, expires_at, user: Actor::of(user) })
    }

    /// The user a session or API token belongs to; a cookie-authenticated write must also carry
    /// the session's CSRF token. A deactivated user's sessions and tokens fail.
    pub async fn authenticate(&self, token: &str, csrf: Csrf<'_>) -> Result<Actor, EngineError> {
        let key = digest(token);
        let (actor, csrf_hash) = match self.sessions.get(&key) {
            Some(found) => found,
            None => {
                // Taken before reading: a change to users that commits meanwhile bumps it, and
                // what was read before it is then not remembered.
                let generation = self.sessions.generation();
                let found = if token.starts_with(API_TOKEN_PREFIX) {
                    let now = time::now();
                    let (api_token, user) = store::token_user(self.store.db(), &key, &now).await?.ok_or(EngineError::Unauthenticated)?;
                    // Read again at most once per cache lifetime: the last use is as exact as
                    // that. Only a record of use: a busy writer must not fail the request.
                    if let Err(e) = store::touch_token(&self.store, &api_token.id, &now).await {
                        tracing::warn!(error = %e, token = %api_token.id, "could not record a token's use");
                    }
                    let actor = Actor::of(user);
                    (api_token.apps.as_deref().map_or(actor.clone(), |apps| actor.limited_to(apps)), String::new())
                } else {
                    let (user, csrf) = store::session(self.store.db(), &key, &time::now()).await?.ok_or(EngineError::Unauthenticated)?;
                    (Actor::of(user), csrf)
                };
                self.sessions.put(key, found.0.clone(), found.1.clone(), generation);
                found
            }
        };
        if let Csrf::Required(sent) = csrf
            && sent.map(digest).as_deref() != Some(csrf_hash.as_str())
        {
            return Err(EngineError::Csrf);
        }
        Ok(actor)
    }

    /// The session of a cookie's token again, with its CSRF token: a new tab of the browser
    /// picks up the session the cookie carries.
    pub async fn resume(&self, token: &str) -> Result<Resumed, EngineError> {
        if token.starts_with(API_TOKEN_PREFIX) {
            return Err(EngineError::Unauthenticated);
        }
        let csrf_token = csrf_of(token);
        // A session from before CSRF tokens were derived has another one: it cannot be resumed,
        // and its tab signs in again.
        let user = match self.authenticate(token, Csrf::Required(Some(&csrf_token))).await {
            Err(EngineError::Csrf) => return Err(EngineError::Unauthenticated),
            other => other?,
        };
        let expires_at = store::session_expiry(self.store.db(), &digest(token)).await?.ok_or(EngineError::Unauthenticated)?;
        Ok(Resumed { csrf_token, expires_at, user })
    }

    /// Changes the actor's password and ends their other sessions.
    pub async fn change_password(&self, actor: &Actor, token: &str, current: &str, new: &str) -> Result<(), EngineError> {
        let user = store::get_user(self.store.db(), &actor.username).await?.ok_or(EngineError::Unauthenticated)?;
        check_length("/current", current, MAX_PASSWORD_CHARS)?;
        if !verify_password(current, user.password_hash).await? {
            return Err(EngineError::Invalid(vec![FieldError::coded(
                "/current",
                FieldCode::WrongPassword,
                "this is not your current password",
            )]));
        }
        check_password_policy("/new", &actor.username, new)?;
        if new == current {
            return Err(EngineError::Invalid(vec![FieldError::coded(
                "/new",
                FieldCode::SamePassword,
                "choose a password other than the current one",
            )]));
        }
        // Hashed before the write turn, which would otherwise wait for it.
        let hash = hash_password(new).await?;
        let (turn, tx) = self.store.begin().await?;
        store::set_password(&tx, &actor.username, &hash, false).await?;
        store::delete_sessions_of(&tx, &actor.username, Some(&digest(token))).await?;
        turn.commit(tx).await?;
        // Every cached entry of the user goes: the kept session is read again, without the
        // forced change.
        self.forget_user(&actor.username);
        Ok(())
    }

    /// Drops what this server remembers of `username`'s sessions and tokens: their next
    /// request reads them again. Other servers read them again within [`SESSION_CACHE_TTL`].
    pub(crate) fn forget_user(&self, username: &str) {
        self.sessions.forget(|_, actor| actor.username != username);
    }

    /// Ends a session; the token stops working at once.
    pub async fn logout(&self, token: &str) -> Result<(), EngineError> {
        let key = digest(token);
        store::delete_session(&self.store, &key).await?;
        self.sessions.forget(|cached, _| cached != key);
        Ok(())
    }

    /// The user `username` as an actor, without a password: for the scenario runner, which
    /// acts as the users its steps name.
    pub(crate) async fn actor_named(&self, username: &str) -> Result<Actor, EngineError> {
        let user = store::get_user(self.store.db(), username).await?;
        user.map(Actor::of).ok_or_else(|| EngineError::NotFound(format!("user `{username}`")))
    }

    /// Creates `admin` when the database has no users. Returns the password when it was
    /// generated (none given), so the caller can show it once.
    pub async fn ensure_admin(&self, password: Option<&str>) -> Result<Option<String>, EngineError> {
        if !store::users(self.store.db()).await?.is_empty() {
            return Ok(None);
        }
        let generated = password.is_none().then(|| random_token(12));
        let password = password.map(str::to_owned).or_else(|| generated.clone()).unwrap_or_default();
        let admin = store::User {
            username: "admin".into(),
            display_name: "Administrator".into(),
            roles: vec![crate::access::ADMIN.into()],
            ..store::User::default()
        };
        self.insert_user(self.store.db(), admin, &password, "system").await?;
        Ok(generated)
    }

    /// Stores a new user with `password` hashed; the rest of `user` as given, stamped now.
    pub(crate) async fn insert_user(&self, db: &impl store::Conn, user: store::User, password: &str, by: &str) -> Result<(), EngineError> {
        let user = store::User {
            password_hash: if password.is_empty() { DISABLED_PASSWORD.to_owned() } else { hash_password(password).await? },
            created_at: time::now(),
            kind: if user.kind.is_empty() { PERSON.to_owned() } else { user.kind },
            active: true,
            ..user
        };
        Ok(store::insert_user(db, &user, by).await?)
    }
}

/// The kind of a user who logs in (the other kind, `service`, only uses tokens).
pub(crate) const PERSON: &str = "person";

/// The stored password of an account that has none (a service account): no argon2 hash, so
/// nothing verifies against it.
pub(crate) const DISABLED_PASSWORD: &str = "!";

/// An argon2 hash of a random password nobody knows, verified against when the user is unknown.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2MUjoMpAF4Hw6Qv5S7ajIlhcW5sdgldKjDsTD3hHnfU";
