//! The audit log, for admins.

use actix_web::{HttpResponse, get, web};
use engine::AuditParams;
use serde::Deserialize;

use crate::auth::Caller;
use crate::{ApiError, AppState};

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQuery {
    app: Option<String>,
    form: Option<String>,
    /// Record id.
    record: Option<String>,
    /// Username.
    actor: Option<String>,
    /// `ok` or `denied`.
    outcome: Option<String>,
    /// Rows at or after this time (RFC 3339).
    from: Option<String>,
    /// Rows before this time (RFC 3339).
    to: Option<String>,
    /// `next` of the previous page.
    before: Option<i64>,
    /// 1–1000, default 100.
    limit: Option<u64>,
}

/// Audit rows, newest first: who did what, when, what changed (before → after, with the hash of
/// the version written), and refused attempts.
#[utoipa::path(tag = "audit", params(AuditQuery), responses(
    (status = 200, description = "`{items: [{seq, at, actor, action, app, form, record, outcome, before, after, hash}], next}`", body = crate::wire::AuditPage),
    (status = 403, description = "Not an admin", body = crate::wire::ErrorBody)))]
#[get("/api/audit")]
pub(crate) async fn audit(caller: Caller, state: web::Data<AppState>, query: web::Query<AuditQuery>) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let params = AuditParams {
        app: q.app,
        form: q.form,
        record: q.record,
        actor: q.actor,
        outcome: q.outcome,
        from: q.from,
        to: q.to,
        before: q.before,
        limit: q.limit,
    };
    Ok(HttpResponse::Ok().json(state.engine.audit_log(&caller.0, &params).await?))
}

/// Walks the audit log's hash chain from the first row: whether every row holds, how many
/// there are, and where it breaks if it does.
#[utoipa::path(tag = "audit", responses(
    (status = 200, description = "`{ok, rows, message?}`", body = crate::wire::AuditVerification),
    (status = 403, description = "Not an admin", body = crate::wire::ErrorBody)))]
#[get("/api/audit/verify")]
pub(crate) async fn verify(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.engine.verify_audit_for(&caller.0).await?))
}
