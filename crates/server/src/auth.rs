//! Who is calling: a bearer token (API clients) or the session cookie (the browser).

use std::future::Future;
use std::pin::Pin;

use actix_web::http::Method;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use engine::{Actor, Csrf, EngineError};

use crate::{ApiError, AppState};

/// Name of the session cookie set at login.
pub(crate) const SESSION_COOKIE: &str = "tessera_session";

/// The authenticated user of a request; extracting it answers 401 when there is none and 403
/// for a cookie-authenticated write without the CSRF token.
pub(crate) struct Caller(pub(crate) Actor);

/// The session token the request carries, if any, and whether it came in the cookie.
pub(crate) fn token(req: &HttpRequest) -> Option<(String, bool)> {
    let bearer = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| (t.trim().to_owned(), false));
    bearer.or_else(|| req.cookie(SESSION_COOKIE).map(|c| (c.value().to_owned(), true)))
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = token(req);
        // A browser attaches cookies to requests other sites make it send; a write authenticated
        // by the cookie must prove it came from our page by echoing the session's CSRF token.
        let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        let csrf_header = req.headers().get("x-csrf-token").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let own_account = req.path().starts_with("/api/auth/");
        Box::pin(async move {
            let (Some(state), Some((token, from_cookie))) = (state, token) else {
                return Err(EngineError::Unauthenticated.into());
            };
            let csrf = if from_cookie && unsafe_method { Csrf::Required(csrf_header.as_deref()) } else { Csrf::NotNeeded };
            let actor = state.engine.authenticate(&token, csrf).await?;
            // Until they chose their own password, a user may only do that (and sign out).
            if actor.must_change_password && !own_account {
                return Err(EngineError::PasswordChangeRequired.into());
            }
            crate::metrics::record_user(&actor.username);
            Ok(Caller(actor))
        })
    }
}
