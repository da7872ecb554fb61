//! The records API: list, create, get, patch, delete, restore, history, and who owns a record
//! (claim from the pool, return to it, assign), and merging duplicates.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use engine::{AppId, FormId, ListParams, RecordId};
use serde::Deserialize;
use serde_json::Value;

use super::{etag, if_match};
use crate::auth::Caller;
use crate::wire::ErrorBody;
use crate::{ApiError, AppState};

/// Body of create and patch: the form's field values.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DataBody {
    /// Field values by field id; the form's schema (`GET …/forms/{form}/schema`) says which.
    #[schema(value_type = std::collections::BTreeMap<String, Value>)]
    data: Value,
}

/// Query parameters of a list.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// JSON filter: `{"stage": "proposal", "amount": {"gt": 50000}, "account.industry": "retail", "or": [...]}`;
    /// operators eq, ne, gt, gte, lt, lte, in, nin, contains, starts_with, between, is_null.
    filter: Option<String>,
    /// Comma-separated sort keys, `-` for descending: `-amount,name`.
    sort: Option<String>,
    /// Page size, 1–500 (default 50).
    limit: Option<u64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Comma-separated fields to return in `data`.
    fields: Option<String>,
    /// `true` lists deleted records instead of live ones.
    deleted: Option<bool>,
    /// `true` also answers `total`: how many records match, exact up to 10,000.
    count: Option<bool>,
}

/// A form's path; an id that cannot exist is answered as a missing one ([`crate::error::path_config`]).
type FormPath = web::Path<(AppId, FormId)>;
/// A record's path, checked as [`FormPath`].
type RecordPath = web::Path<(AppId, FormId, RecordId)>;

/// Lists records of a form.
#[utoipa::path(tag = "records", params(("app" = String, Path), ("form" = String, Path), ListQuery), responses(
    (status = 200, description = "`{items: [envelope], next_cursor}`", body = crate::wire::Page),
    (status = 400, description = "Malformed filter, sort or cursor", body = ErrorBody)))]
#[get("/api/apps/{app}/forms/{form}/records")]
pub(crate) async fn list_records(
    caller: Caller,
    state: web::Data<AppState>,
    path: FormPath,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (app, form) = path.into_inner();
    let q = query.into_inner();
    let params = ListParams {
        filter: q.filter,
        sort: q.sort,
        limit: q.limit,
        cursor: q.cursor,
        fields: q.fields,
        deleted: q.deleted,
        count: q.count,
    };
    let page = state.engine.list(&caller.0, &app, &form, &params).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Creates a record.
#[utoipa::path(tag = "records", params(("app" = String, Path), ("form" = String, Path)), request_body = DataBody, responses(
    (status = 201, description = "The record envelope", body = crate::wire::Envelope),
    (status = 409, description = "Duplicate of an existing record", body = ErrorBody),
    (status = 422, description = "Validation failed; details carry JSON pointers", body = ErrorBody)))]
#[post("/api/apps/{app}/forms/{form}/records")]
pub(crate) async fn create_record(
    caller: Caller,
    state: web::Data<AppState>,
    path: FormPath,
    body: web::Json<DataBody>,
) -> Result<HttpResponse, ApiError> {
    let (app, form) = path.into_inner();
    let record = state.engine.create(&caller.0, &app, &form, body.into_inner().data).await?;
    Ok(HttpResponse::Created().insert_header(etag(record.version)).json(record))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreviewBody {
    /// A new record's fields, or with `id` the changes to that record, by field id.
    #[schema(value_type = std::collections::BTreeMap<String, Value>)]
    data: Value,
    /// The record being edited; none for a new one.
    #[schema(value_type = Option<String>, format = "uuid")]
    id: Option<RecordId>,
}

/// The record as a save would make it, without saving: its rules' defaults, formulas and
/// scores, the fields `visible_if` hides and `required_if` requires, and the problems a save
/// would answer. What a form shows while someone types, decided by the same rules as the save.
#[utoipa::path(tag = "records", params(("app" = String, Path), ("form" = String, Path)), request_body = PreviewBody, responses(
    (status = 200, description = "`{data, hidden, required, errors}`", body = crate::wire::Preview),
    (status = 403, description = "No right to create such a record, or to update this one", body = ErrorBody),
    (status = 404, description = "No such form, or record", body = ErrorBody),
    (status = 422, description = "A rule failed or ran past its limits", body = ErrorBody)))]
#[post("/api/apps/{app}/forms/{form}/preview")]
pub(crate) async fn preview_record(
    caller: Caller,
    state: web::Data<AppState>,
    path: FormPath,
    body: web::Json<PreviewBody>,
) -> Result<HttpResponse, ApiError> {
    let (app, form) = path.into_inner();
    let PreviewBody { data, id } = body.into_inner();
    Ok(HttpResponse::Ok().json(state.engine.preview(&caller.0, &app, &form, id.as_ref(), data).await?))
}

/// Reads a record.
#[utoipa::path(tag = "records", params(("app" = String, Path), ("form" = String, Path), ("id" = String, Path, format = "uuid", description = "A record id: a UUID")), responses(
    (status = 200, description = "The record envelope; ETag is its version", body = crate::wire::Envelope),
    (status = 404, description = "No such record", body = ErrorBody)))]
#[get("/api/apps/{app}/forms/{form}/records/{id}")]
pub(crate) async fn get_record(caller: Caller, state: web::Data<AppState>, path: RecordPath) -> Result<HttpResponse, ApiError> {
    let (app, form, id) = path.into_inner();
    let record = state.engine.get(&caller.0, &app, &form, &id).await?;
    Ok(HttpResponse::Ok().insert_header(etag(record.version)).json(record))
}

/// Changes fields of a record (`null` clears a field). Needs `If-Match: <version>`.
#[utoipa::path(tag = "records", params(("app" = String, Path), ("form" = String, Path), ("id" = String, Path, format = "uuid", description = "A record id: a UUID"),
    ("If-Match" = i64, Header, description = "The version the change is based on")), request_body = DataBody, responses(
    (status = 200, description = "The new version", body = crate::wire::Envelope),
    (status = 409, description = "Stale version or duplicate", body = ErrorBody),
    (status = 422, description = "Validation failed", body = ErrorBody),
    (status = 428, description = "If-Match missing", body = ErrorBody)))]
#[patch("/api/apps/{app}/forms/{form}/records/{id}")]
pub(crate) async fn patch_record(
    caller: Caller,
    state: web::Data<AppState>,
    path: RecordPath,
    req: HttpRequest,
    body: web::Json<DataBody>,
) -> Result<HttpResponse, ApiError> {
    let (app, form, id) = path.into_inner();
    let version = if_match(&req)?;
    let record = state.engine.update(&caller.0, &app, &form, &id, version, body.into_inner().data).await?;
    Ok(HttpResponse::Ok().insert_header(etag(record.version)).json(record))
}

/// Soft-deletes a record. Needs `If-Match: <version>`.
#[utoipa::path(tag = "records", params(("app" = String, Path), ("form" = String, Path), ("id" = String, Path, format = "uuid", description = "A record id: a UUID"),
    ("If-Match" = i64, Header, description = "The version being deleted")), responses(
    (status = 200, description = "The deleted record", body = crate::wire::Envelope),
    (status = 409, description = "Stale version", body = ErrorBody)))]
#[delete("/api/apps/{app}/forms/{form}/records/{id}")]
pub(crate) async fn delete_record(
    caller: Caller,
    state: web::Data<AppState>,
    path: RecordPath,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (app, form, id) = path.into_inner();
    let record = state.engine.delete(&caller.0, &app, &form, &id, if_match(&req)?).await?;
    Ok(HttpResponse::Ok().insert_header(etag(record.version)).json(record))
}

/// Restores a soft-deleted record. Needs `If-Match: <version>`.
#[utoipa::path(tag = "records", params(("app" = String, Path), ("form" = String, Path), ("id" = String, Path, format = "uuid", description = "A record id: a UUID"),
    ("If-Match" = i64, Header, description = "The version of the deleted record")), responses(
    (status = 200, description = "The restored record", body = crate::wire::Envelope),
    (status = 409, description = "Stale version, or a live record now duplicates it", body = ErrorBody)))]
#[post("/api/apps/{app}/forms/{form}/records/{id}/restore")]
pub(crate) async fn restore_record(
    caller: Caller,
    state: web::Data<AppState>,
    path: RecordPath,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (app, form, id) = path.into_inner();
    let record = state.engine.restore(&caller.0, &app, &form, &id, if_match(&req)?).await?;
    Ok(HttpResponse::Ok().insert_header(etag(record.version)).json(record))
}

/// Takes a record from its form's pool: the caller becomes its owner. Needs `If-Match`.
#[utoipa::path(tag = "records", params(("app" = String, Path), ("form" = String, Path), ("id" = String, Path, format = "uuid", description = "A record id: a UUID"),
    ("If-Match" = i64, Header, description = "The version being claimed")), responses(
    (status = 200, description = "The claimed record", body = crate::wire::Envelope),
    (status = 403, description = "The caller may not update the form's records", body = ErrorBody),
    (status = 409, description = "Stale version, not in the pool, or the caller holds the pool's limit", body = ErrorBody)))]
#[post("/api/apps/{app}/forms/{form}/records/{id}/claim")]
pub(crate) async fn claim_record(
    caller: Caller,
    state: web::Data<AppState>,
    path: RecordPath,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (app, form, id) = path.into_inner();
    let record = state.engine.claim(&caller.0, &app, &form, &id, if_match(&req)?).await?;
    Ok(HttpResponse::Ok().insert_header(etag(record.version)).json(record))
}

/// Puts a record back into its form's pool. Needs `If-Match`.
#[utoipa::path(tag = "records", params(("app" = String, Path), ("form" = String, Path), ("id" = String, Path, format = "uuid", description = "A record id: a UUID"),
    ("If-Match" = i64, Header, description = "The version being returned")), responses(
    (status = 200, description = "The returned record", body = crate::wire::Envelope),
    (status = 403, description = "The caller may not update this record", body = ErrorBody),
    (status = 409, description = "Stale version, already in the pool, or the form has no pool", body = ErrorBody)))]
#[post("/api/apps/{app}/forms/{form}/records/{id}/return")]
pub(crate) async fn return_record(
    caller: Caller,
    state: web::Data<AppState>,
    path: RecordPath,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (app, form, id) = path.into_inner();
    let record = state.engine.return_to_pool(&caller.0, &app, &form, &id, if_match(&req)?).await?;
    Ok(HttpResponse::Ok().insert_header(etag(record.version)).json(record))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AssignBody {
    /// The active user who will own the record.
    owner: String,
}

/// Gives a record to another user; the caller needs `assign` on it. Needs `If-Match`.
#[utoipa::path(tag = "records", params(("app" = String, Path), ("form" = String, Path), ("id" = String, Path, format = "uuid", description = "A record id: a UUID"),
    ("If-Match" = i64, Header, description = "The version being assigned")), request_body = AssignBody, responses(
    (status = 200, description = "The assigned record", body = crate::wire::Envelope),
    (status = 403, description = "The caller may not assign this record", body = ErrorBody),
    (status = 404, description = "No such record, or no such active user", body = ErrorBody),
    (status = 409, description = "Stale version", body = ErrorBody)))]
#[post("/api/apps/{app}/forms/{form}/records/{id}/assign")]
pub(crate) async fn assign_record(
    caller: Caller,
    state: web::Data<AppState>,
    path: RecordPath,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (app, form, id) = path.into_inner();
    let version = if_match(&req)?;
    let body: AssignBody = super::json_body(&req, payload, super::COMMAND_BODY_BYTES).await?;
    let record = state.engine.assign(&caller.0, &app, &form, &id, version, &body.owner).await?;
    Ok(HttpResponse::Ok().insert_header(etag(record.version)).json(record))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MergeBody {
    /// The duplicate merged away: its links move to the record of the path, then it is deleted.
    #[schema(value_type = String)]
    from: RecordId,
    /// `true` answers the plan and changes nothing.
    #[serde(default)]
    preview: bool,
}

/// Merges a duplicate into this record: every record linking to the duplicate links here
/// instead, and the duplicate is deleted; needs `update` here and `delete` on the duplicate.
#[utoipa::path(tag = "records", params(("app" = String, Path), ("form" = String, Path), ("id" = String, Path, format = "uuid", description = "The record kept")),
    request_body = MergeBody, responses(
    (status = 200, description = "`{moves: [{form, field, records}]}`: what moved (or would)", body = crate::wire::MergePlan),
    (status = 403, description = "The caller may not update this record or delete the duplicate", body = ErrorBody),
    (status = 404, description = "No such record", body = ErrorBody),
    (status = 409, description = "A relinked record would duplicate another", body = ErrorBody),
    (status = 413, description = "More than `MAX_MERGE_RELINKS` records would move", body = ErrorBody)))]
#[post("/api/apps/{app}/forms/{form}/records/{id}/merge")]
pub(crate) async fn merge_record(
    caller: Caller,
    state: web::Data<AppState>,
    path: RecordPath,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (app, form, id) = path.into_inner();
    let body: MergeBody = super::json_body(&req, payload, super::COMMAND_BODY_BYTES).await?;
    let plan = state.engine.merge(&caller.0, &app, &form, &id, &body.from, body.preview).await?;
    Ok(HttpResponse::Ok().json(plan))
}

/// Every version of a record, oldest first.
#[utoipa::path(tag = "records", params(("app" = String, Path), ("form" = String, Path), ("id" = String, Path, format = "uuid", description = "A record id: a UUID")), responses(
    (status = 200, description = "`{items: [{version, op, changed_by, changed_at, record}]}`", body = crate::wire::History),
    (status = 404, description = "No such record", body = ErrorBody)))]
#[get("/api/apps/{app}/forms/{form}/records/{id}/history")]
pub(crate) async fn record_history(caller: Caller, state: web::Data<AppState>, path: RecordPath) -> Result<HttpResponse, ApiError> {
    let (app, form, id) = path.into_inner();
    let items = state.engine.history(&caller.0, &app, &form, &id).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"items": items})))
}
