//! Login, logout and the current user.

use std::net::IpAddr;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;

use super::{AUTH_BODY_BYTES, json_body};
use crate::auth::{Caller, SESSION_COOKIE, token};
use crate::{ApiError, AppState};
use engine::{EngineError, Login};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginBody {
    username: String,
    password: String,
}

/// Logs in: returns a bearer token and sets an HttpOnly session cookie.
#[utoipa::path(tag = "auth", request_body = LoginBody, responses(
    (status = 200, description = "Token, expiry and user", body = crate::wire::Login),
    (status = 401, description = "Wrong username or password", body = crate::wire::ErrorBody),
    (status = 413, description = "A body past `AUTH_BODY_BYTES`", body = crate::wire::ErrorBody),
    (status = 422, description = "A username or password longer than any may be", body = crate::wire::ErrorBody),
    (status = 429, description = "Too many failures of this username or from this address", body = crate::wire::ErrorBody)))]
#[post("/api/auth/login")]
pub(crate) async fn login(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> Result<HttpResponse, ApiError> {
    let body: LoginBody = json_body(&req, payload, AUTH_BODY_BYTES).await?;
    let address = state.proxies.client(&req);
    // Refused (422) before the limiter: no guess to count, and a username past the bound is never
    // kept by the limiter, whose map is sized by it.
    engine::check_login_lengths(&body.username, &body.password)?;
    let login = limited_login(&state, &body, address).await?;
    let cookie = Cookie::build(SESSION_COOKIE, login.token.clone()).path("/").http_only(true).same_site(SameSite::Strict).finish();
    Ok(HttpResponse::Ok().cookie(cookie).json(login))
}

/// Tries the login if the limiter admits it: a wrong password stays counted as the failure it
/// was admitted as; a success, or an error before the password was judged, is taken back.
async fn limited_login(state: &AppState, body: &LoginBody, address: IpAddr) -> Result<Login, ApiError> {
    let attempt =
        state.login_limiter.admit(&body.username, address).map_err(|retry_after_secs| EngineError::RateLimited { retry_after_secs })?;
    let outcome = state.engine.login(&body.username, &body.password).await;
    match &outcome {
        Ok(_) => state.login_limiter.succeeded(attempt),
        Err(EngineError::BadCredentials) => {} // counted when admitted
        Err(_) => state.login_limiter.withdrawn(attempt),
    }
    Ok(outcome?)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordBody {
    current: String,
    new: String,
}

/// Changes the caller's password; their other sessions end.
#[utoipa::path(tag = "auth", request_body = PasswordBody, responses((status = 204, description = "Changed"),
    (status = 422, description = "Wrong current password or too short a new one", body = crate::wire::ErrorBody)))]
#[post("/api/auth/password")]
pub(crate) async fn change_password(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: PasswordBody = json_body(&req, payload, AUTH_BODY_BYTES).await?;
    let (token, _) = token(&req).unwrap_or_default();
    state.engine.change_password(&caller.0, &token, &body.current, &body.new).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Ends the session of the token or cookie sent.
#[utoipa::path(tag = "auth", responses((status = 204, description = "Logged out")))]
#[post("/api/auth/logout")]
pub(crate) async fn logout(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    if let Some((token, _)) = token(&req) {
        state.engine.logout(&token).await?;
    }
    let mut gone = Cookie::build(SESSION_COOKIE, "").path("/").finish();
    gone.make_removal();
    Ok(HttpResponse::NoContent().cookie(gone).finish())
}

/// The logged-in user.
#[utoipa::path(tag = "auth", responses((status = 200, description = "The user", body = crate::wire::User),
    (status = 401, description = "Not logged in", body = crate::wire::ErrorBody)))]
#[get("/api/auth/me")]
pub(crate) async fn me(caller: Caller) -> HttpResponse {
    HttpResponse::Ok().json(caller.0)
}

/// The session the cookie carries, with its CSRF token: a new browser tab signs in with it.
/// Only the cookie is read (a bearer token needs no CSRF token, and has no session).
#[utoipa::path(tag = "auth", responses((status = 200, description = "`{user, csrf_token, expires_at}`", body = crate::wire::Login),
    (status = 401, description = "No live session cookie", body = crate::wire::ErrorBody)))]
#[get("/api/auth/session")]
pub(crate) async fn session(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let cookie = req.cookie(SESSION_COOKIE).ok_or(EngineError::Unauthenticated)?;
    Ok(HttpResponse::Ok().json(state.engine.resume(cookie.value()).await?))
}
