//! Who is calling: a bearer token (API clients) or the session cookie (the browser).

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use engine::{Actor, EngineError};

use crate::{ApiError, AppState};

/// Name of the session cookie set at login.
pub(crate) const SESSION_COOKIE: &str = "tessera_session";

/// The authenticated user of a request; extracting it answers 401 when there is none.
pub(crate) struct Caller(pub(crate) Actor);

/// The session token the request carries, if any.
pub(crate) fn token(req: &HttpRequest) -> Option<String> {
    let bearer = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned());
    bearer.or_else(|| req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()))
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = token(req);
        Box::pin(async move {
            let (Some(state), Some(token)) = (state, token) else {
                return Err(EngineError::Unauthenticated.into());
            };
            Ok(Caller(state.engine.authenticate(&token).await?))
        })
    }
}
