//! Live apps, for admins: an app's definition files edited as a draft, each save answered with
//! the draft's problems; the draft published (checked whole) or refused with every problem;
//! the releases listed and an old one published again.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use engine::{AppId, Code, FormId, Migration};
use serde::Deserialize;
use serde_json::Value;

use super::{etag, json_body};
use crate::auth::Caller;
use crate::wire::ErrorBody;
use crate::{ApiError, AppState, MAX_BODY_BYTES};

/// A definition file's text: a seed of demo data is the largest the CRM has (57 KB).
pub(crate) const DEFINITION_BODY_BYTES: usize = MAX_BODY_BYTES;

/// A file's place: its kind (`app`, `form`, `flow`, `rule`, `report`, `dashboard`, `template`,
/// `seed`) and id.
fn kind_of(kind: &str) -> Result<defs::FileKind, ApiError> {
    defs::FileKind::parse(kind).ok_or_else(|| {
        let kinds: Vec<&str> = defs::FileKind::ALL.iter().map(|k| k.name()).collect();
        ApiError::new(Code::NotFound, format!("no kind of definition `{kind}`; the kinds are {}", kinds.join(", ")))
    })
}

/// The app's files, with what its draft changes.
#[utoipa::path(tag = "definitions", params(("app" = String, Path)), responses(
    (status = 200, description = "The files of the live release and of the draft", body = answers::DefinitionIndex),
    (status = 403, description = "Not an admin", body = ErrorBody),
    (status = 404, description = "No such app", body = ErrorBody)))]
#[get("/api/apps/{app}/definitions")]
pub(crate) async fn index(caller: Caller, state: web::Data<AppState>, path: web::Path<AppId>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.engine.definitions(&caller.0, &path.into_inner()).await?))
}

/// One file as the draft has it; its `ETag` is the version a save names in `If-Match`.
#[utoipa::path(tag = "definitions", params(("app" = String, Path), ("kind" = String, Path), ("id" = String, Path)), responses(
    (status = 200, description = "The file: a JSON definition as `definition`, a script or template as `source`", body = answers::DefinitionView),
    (status = 403, description = "Not an admin", body = ErrorBody),
    (status = 404, description = "No such app, kind or file", body = ErrorBody)))]
#[get("/api/apps/{app}/definitions/{kind}/{id}")]
pub(crate) async fn get_definition(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(AppId, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (app, kind, id) = path.into_inner();
    let view = state.engine.definition(&caller.0, &app, kind_of(&kind)?, &id).await?;
    Ok(HttpResponse::Ok().insert_header(etag(view.version)).json(view))
}

/// One file as an earlier release had it (`{kind, id, version, draft: false, definition | source}`).
#[utoipa::path(tag = "definitions", params(("app" = String, Path), ("release" = i64, Path), ("kind" = String, Path), ("id" = String, Path)), responses(
    (status = 200, description = "The file: a JSON definition as `definition`, a script or template as `source`", body = answers::DefinitionView),
    (status = 403, description = "Not an admin", body = ErrorBody),
    (status = 404, description = "No such app, release, kind or file in that release", body = ErrorBody)))]
#[get("/api/apps/{app}/releases/{release}/definitions/{kind}/{id}")]
pub(crate) async fn released_definition(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(AppId, i64, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (app, release, kind, id) = path.into_inner();
    Ok(HttpResponse::Ok().json(state.engine.released_definition(&caller.0, &app, release, kind_of(&kind)?, &id).await?))
}

/// A file's new text: `definition` (JSON) for definitions, `source` for scripts and templates
/// (the engine reads it, once it has checked who asks). For the document only.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(crate) struct DefinitionBody {
    definition: Option<Value>,
    source: Option<String>,
}

/// Saves a file into the draft. `If-Match` names the version edited (needed unless the file
/// is new); an edit of an older version is merged with the saves since, unless both changed
/// the same part (409 with the current version). The draft is kept even with problems: they
/// are answered, each with its file and JSON pointer.
#[utoipa::path(tag = "definitions", params(("app" = String, Path), ("kind" = String, Path), ("id" = String, Path),
    ("If-Match" = Option<i64>, Header, description = "The version edited")), request_body = DefinitionBody, responses(
    (status = 200, description = "The draft's new version and every problem of the draft", body = answers::Saved),
    (status = 403, description = "Not an admin", body = ErrorBody),
    (status = 409, description = "Stale: both edits changed the same part", body = ErrorBody),
    (status = 413, description = "Body past `DEFINITION_BODY_BYTES`", body = ErrorBody)))]
#[put("/api/apps/{app}/definitions/{kind}/{id}")]
pub(crate) async fn put_definition(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(AppId, String, String)>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (app, kind, id) = path.into_inner();
    let kind = kind_of(&kind)?;
    let based_on = if req.headers().contains_key("if-match") { Some(super::if_match(&req)?) } else { None };
    let body: Value = json_body(&req, payload, DEFINITION_BODY_BYTES).await?;
    let saved = state.engine.save_definition(&caller.0, &app, kind, &id, based_on, &body).await?;
    Ok(HttpResponse::Ok().insert_header(etag(saved.version)).json(saved))
}

/// Removes a file in the draft (`If-Match`: the version removed).
#[utoipa::path(tag = "definitions", params(("app" = String, Path), ("kind" = String, Path), ("id" = String, Path),
    ("If-Match" = i64, Header, description = "The version removed")), responses(
    (status = 200, description = "The draft's new version and every problem of the draft", body = answers::Saved),
    (status = 403, description = "Not an admin", body = ErrorBody),
    (status = 409, description = "Stale", body = ErrorBody)))]
#[delete("/api/apps/{app}/definitions/{kind}/{id}")]
pub(crate) async fn delete_definition(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(AppId, String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (app, kind, id) = path.into_inner();
    let saved = state.engine.delete_definition(&caller.0, &app, kind_of(&kind)?, &id, super::if_match(&req)?).await?;
    Ok(HttpResponse::Ok().json(saved))
}

/// What a publish or a rollback says of itself, and how it migrates the records stored:
/// `{"op": "default", "form", "field", "value"}`, `{"op": "rename", "form", "from", "to"}`,
/// `{"op": "drop", "form", "field"}`.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PublishBody {
    #[serde(default)]
    message: String,
    #[serde(default)]
    #[schema(value_type = Vec<std::collections::BTreeMap<String, Value>>)]
    migrations: Vec<Migration>,
}

/// The migrations an impact is measured with.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImpactBody {
    #[serde(default)]
    #[schema(value_type = Vec<std::collections::BTreeMap<String, Value>>)]
    migrations: Vec<Migration>,
}

/// What publishing the draft with `migrations` would do to the records stored: for each form
/// it changes, how many records would no longer validate, grouped by pointer and problem, with
/// sample ids.
#[utoipa::path(tag = "definitions", params(("app" = String, Path)), request_body = ImpactBody, responses(
    (status = 200, description = "What the draft would do to the live records", body = answers::Impact),
    (status = 403, description = "Not an admin", body = ErrorBody),
    (status = 422, description = "The draft has problems, or a migration names what the draft lacks", body = ErrorBody)))]
#[post("/api/apps/{app}/impact")]
pub(crate) async fn impact(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<AppId>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: ImpactBody = json_body(&req, payload, super::COMMAND_BODY_BYTES).await?;
    Ok(HttpResponse::Ok().json(state.engine.impact(&caller.0, &path.into_inner(), &body.migrations).await?))
}

/// Starts measuring the impact as a job, for tables too big to read within a request: answers
/// 202 with the run to poll (`GET …/impact/runs/{run}`). The draft is checked at once.
#[utoipa::path(tag = "definitions", params(("app" = String, Path)), request_body = ImpactBody, responses(
    (status = 202, description = "The id of the measure, to poll", body = answers::ImpactStarted),
    (status = 403, description = "Not an admin or builder", body = ErrorBody),
    (status = 422, description = "The draft has problems", body = ErrorBody)))]
#[post("/api/apps/{app}/impact/runs")]
pub(crate) async fn start_impact(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<AppId>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: ImpactBody = json_body(&req, payload, super::COMMAND_BODY_BYTES).await?;
    let run = state.engine.start_impact(&caller.0, &path.into_inner(), body.migrations).await?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({ "run": run })))
}

/// How a measure started with `POST …/impact/runs` stands: `{state: queued | running | done |
/// failed, checked, total, impact, error}`, `impact` as `POST …/impact` answers it.
#[utoipa::path(tag = "definitions", params(("app" = String, Path), ("run" = String, Path)), responses(
    (status = 200, description = "How the measure stands: `impact` once done, `error` once failed", body = answers::ImpactRun),
    (status = 403, description = "Not an admin or builder", body = ErrorBody),
    (status = 404, description = "No such run of this app", body = ErrorBody)))]
#[get("/api/apps/{app}/impact/runs/{run}")]
pub(crate) async fn impact_run(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(AppId, String)>,
) -> Result<HttpResponse, ApiError> {
    let (app, run) = path.into_inner();
    Ok(HttpResponse::Ok().json(state.engine.impact_run(&caller.0, &app, &run).await?))
}

/// Checks the whole draft as `tessera check` does and makes it the live app in one step, or
/// refuses with every problem (422, each with its file and JSON pointer) — the records that
/// would no longer validate too, unless `migrations` bring them in line; the migrations write
/// each record they change as a new version (`migrate`) in the same transaction.
#[utoipa::path(tag = "definitions", params(("app" = String, Path)), request_body = PublishBody, responses(
    (status = 201, description = "The new release", body = answers::Release),
    (status = 403, description = "Not an admin", body = ErrorBody),
    (status = 422, description = "The draft has problems", body = ErrorBody)))]
#[post("/api/apps/{app}/publish")]
pub(crate) async fn publish(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<AppId>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: PublishBody = json_body(&req, payload, super::COMMAND_BODY_BYTES).await?;
    Ok(HttpResponse::Created().json(state.engine.publish(&caller.0, &path.into_inner(), &body.message, &body.migrations).await?))
}

/// The app's published releases, newest first.
#[utoipa::path(tag = "definitions", params(("app" = String, Path)), responses(
    (status = 200, description = "The releases, newest first", body = answers::Releases),
    (status = 403, description = "Not an admin", body = ErrorBody)))]
#[get("/api/apps/{app}/releases")]
pub(crate) async fn releases(caller: Caller, state: web::Data<AppState>, path: web::Path<AppId>) -> Result<HttpResponse, ApiError> {
    let items = state.engine.releases(&caller.0, &path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

/// Publishes an earlier release again, checked like any publish; the draft is left alone.
#[utoipa::path(tag = "definitions", params(("app" = String, Path), ("release" = i64, Path)), request_body = PublishBody, responses(
    (status = 201, description = "The new release", body = answers::Release),
    (status = 403, description = "Not an admin", body = ErrorBody),
    (status = 404, description = "No such release", body = ErrorBody),
    (status = 422, description = "That release no longer checks", body = ErrorBody)))]
#[post("/api/apps/{app}/releases/{release}/rollback")]
pub(crate) async fn rollback(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(AppId, i64)>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (app, release) = path.into_inner();
    let body: PublishBody = json_body(&req, payload, super::COMMAND_BODY_BYTES).await?;
    Ok(HttpResponse::Created().json(state.engine.rollback(&caller.0, &app, release, &body.message, &body.migrations).await?))
}

/// An uploaded bundle: the CRM's is 60 KB zipped; its files unzip to at most
/// `defs::MAX_BUNDLE_UNZIPPED_BYTES`.
pub(crate) const BUNDLE_BODY_BYTES: usize = 16 << 20;

/// The app's live release as a bundle (`crm-1.3.0.tpl`): a zip of its canonical files with a
/// manifest (id, version, definition format, checksums).
#[utoipa::path(tag = "definitions", params(("app" = String, Path)), responses(
    (status = 200, description = "The bundle", content_type = "application/zip", body = Vec<u8>),
    (status = 403, description = "Not an admin", body = ErrorBody)))]
#[get("/api/apps/{app}/bundle")]
pub(crate) async fn export_bundle(caller: Caller, state: web::Data<AppState>, path: web::Path<AppId>) -> Result<HttpResponse, ApiError> {
    let app = path.into_inner();
    let bytes = state.engine.export_bundle(&caller.0, &app).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/zip")
        .insert_header(("Content-Disposition", format!("attachment; filename=\"{}.tpl\"", app.as_str())))
        .body(bytes))
}

/// Installs the app of a bundle, or — when it is installed — merges what the bundle changed
/// since its last install into the live release (an admin's changes are kept), checked and
/// impact-analysed as a publish.
#[utoipa::path(tag = "definitions", request_body(content = Vec<u8>, content_type = "application/zip"), responses(
    (status = 201, description = "The app's new live release; `conflicts` names the files where an admin's change to the same part was kept over the bundle's", body = answers::Installed),
    (status = 400, description = "Not a bundle, or a file does not match its checksum", body = ErrorBody),
    (status = 403, description = "Not an admin", body = ErrorBody),
    (status = 413, description = "Past `BUNDLE_BODY_BYTES`, or unzips past `MAX_BUNDLE_UNZIPPED_BYTES`", body = ErrorBody),
    (status = 422, description = "The app has problems, or would leave records invalid", body = ErrorBody)))]
#[post("/api/bundles")]
pub(crate) async fn install_bundle(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let bytes = super::read_body(&req, payload, BUNDLE_BODY_BYTES).await?;
    let (app, installed) = state.engine.install_bundle(&caller.0, &bytes).await?;
    Ok(HttpResponse::Created().json(serde_json::json!({ "app": app, "release": installed.release, "conflicts": installed.conflicts })))
}

/// Runs the app's scenario tests (`tests/*.json`) against its draft, each in a throwaway
/// database: what the designers call before a publish.
#[utoipa::path(tag = "definitions", params(("app" = String, Path)), responses(
    (status = 200, description = "Each test's outcome, and its records' way through their flows", body = answers::TestRun),
    (status = 403, description = "Not an admin", body = ErrorBody)))]
#[post("/api/apps/{app}/test")]
pub(crate) async fn test_draft(caller: Caller, state: web::Data<AppState>, path: web::Path<AppId>) -> Result<HttpResponse, ApiError> {
    let items = state.engine.test_draft(&caller.0, &path.into_inner()).await?;
    let failed = items.iter().filter(|o| o.failure.is_some()).count();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "passed": items.len() - failed, "failed": failed, "items": items })))
}

/// What changed from one release to another, file by file: fields, states, transitions and the
/// other listed items added, removed and changed, and the other parts of each definition.
#[utoipa::path(tag = "definitions", params(("app" = String, Path), ("from" = i64, Path), ("to" = i64, Path)), responses(
    (status = 200, description = "The files that differ, and what changed in each", body = answers::ReleaseDiff),
    (status = 403, description = "Not an admin", body = ErrorBody),
    (status = 404, description = "No such release", body = ErrorBody)))]
#[get("/api/apps/{app}/releases/{from}/diff/{to}")]
pub(crate) async fn release_diff(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(AppId, i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (app, from, to) = path.into_inner();
    let items = state.engine.release_diff(&caller.0, &app, from, to).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
}

/// A new app: its id, its name and, optionally, its icon and the languages of its labels.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewApp {
    id: String,
    #[schema(value_type = LabelText)]
    name: Value,
    /// An icon name (`app.json`'s `icon`).
    icon: Option<String>,
    /// `zh-CN`, `en` or both (`app.json`'s `languages`).
    #[serde(default)]
    languages: Vec<String>,
}

/// A label: one text, or a text a language (`{"en": "Sales", "zh-CN": "销售"}`). For the
/// document only: the engine reads it as the definitions do.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
#[serde(untagged)]
pub(crate) enum LabelText {
    Text(String),
    ByLanguage(std::collections::BTreeMap<String, String>),
}

/// Creates an empty app — nothing but its `app.json` — as release 1, for the builder to fill.
#[utoipa::path(tag = "definitions", request_body = NewApp, responses(
    (status = 201, description = "The app and its first release", body = answers::AppRelease),
    (status = 400, description = "Not a snake_case id, or no name", body = ErrorBody),
    (status = 403, description = "Not an admin", body = ErrorBody),
    (status = 409, description = "The app exists", body = ErrorBody)))]
#[post("/api/apps")]
pub(crate) async fn create_app(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: NewApp = json_body(&req, payload, super::COMMAND_BODY_BYTES).await?;
    let mut settings = serde_json::json!({ "name": body.name });
    if let Some(icon) = body.icon {
        settings["icon"] = icon.into();
    }
    if !body.languages.is_empty() {
        settings["languages"] = body.languages.into();
    }
    let release = state.engine.create_app(&caller.0, &body.id, &settings).await?;
    Ok(HttpResponse::Created().json(serde_json::json!({ "app": body.id, "release": release })))
}

/// Archives an app: no longer served, on every server within a second; its records,
/// definitions and releases are kept.
#[utoipa::path(tag = "definitions", params(("app" = String, Path)), responses(
    (status = 204, description = "Archived"),
    (status = 403, description = "Not an admin", body = ErrorBody),
    (status = 404, description = "No such app", body = ErrorBody)))]
#[post("/api/apps/{app}/archive")]
pub(crate) async fn archive_app(caller: Caller, state: web::Data<AppState>, path: web::Path<AppId>) -> Result<HttpResponse, ApiError> {
    state.engine.archive_app(&caller.0, &path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Serves an archived app again, at its newest release.
#[utoipa::path(tag = "definitions", params(("app" = String, Path)), responses(
    (status = 204, description = "Served again"),
    (status = 403, description = "Not an admin", body = ErrorBody)))]
#[post("/api/apps/{app}/unarchive")]
pub(crate) async fn unarchive_app(caller: Caller, state: web::Data<AppState>, path: web::Path<AppId>) -> Result<HttpResponse, ApiError> {
    state.engine.unarchive_app(&caller.0, &path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DraftPreviewBody {
    /// A new record's fields, by field id.
    #[schema(value_type = std::collections::BTreeMap<String, Value>)]
    data: Value,
}

/// A new record of the draft's form `form` as a save would make it — the designer's live
/// preview, by the server's rules over the draft: formulas, defaults, what `visible_if` hides and
/// `required_if` requires, the problems. Nothing is written.
#[utoipa::path(tag = "definitions", params(("app" = String, Path), ("form" = String, Path)), request_body = DraftPreviewBody, responses(
    (status = 200, description = "`{data, hidden, required, errors}`", body = crate::wire::Preview),
    (status = 403, description = "Not a builder of the app", body = ErrorBody),
    (status = 404, description = "No such app, or the draft has no such form", body = ErrorBody),
    (status = 422, description = "The draft has problems, or a rule failed", body = ErrorBody)))]
#[post("/api/apps/{app}/definitions/form/{form}/preview")]
pub(crate) async fn preview_draft(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(AppId, FormId)>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (app, form) = path.into_inner();
    let body: DraftPreviewBody = json_body(&req, payload, MAX_BODY_BYTES).await?;
    Ok(HttpResponse::Ok().json(Box::pin(state.engine.preview_draft(&caller.0, &app, &form, body.data)).await?))
}

/// An expression being typed in a designer, and the fields its form has now.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExpressionCheckBody {
    /// A formula, default or condition, as a field definition holds it.
    expression: String,
    /// The ids of the form's fields (as the designer has them, saved or not).
    #[serde(default)]
    fields: Vec<String>,
    /// `expression` (the default) or `script`: the text is a whole rules script
    /// (`rules/*.rhai`).
    #[serde(default)]
    kind: SourceKind,
}

/// What a checked text is.
#[derive(Deserialize, Default, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SourceKind {
    #[default]
    Expression,
    Script,
}

/// The problems of a field's expression as `tessera check` names them — a syntax error, a call
/// of a function the rules lack, a field the form does not have — each at its line and column,
/// for an editor to mark as the builder types; or of a rules script (`kind: script`). It is
/// compiled, never run.
#[utoipa::path(tag = "definitions", params(("app" = String, Path)), request_body = ExpressionCheckBody, responses(
    (status = 200, description = "Where the expression goes wrong: no problems when it compiles", body = answers::ExpressionCheck),
    (status = 403, description = "Not a builder of the app", body = ErrorBody),
    (status = 404, description = "No such app", body = ErrorBody)))]
#[post("/api/apps/{app}/expressions/check")]
pub(crate) async fn check_expression(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<AppId>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: ExpressionCheckBody = json_body(&req, payload, super::COMMAND_BODY_BYTES).await?;
    let script = body.kind == SourceKind::Script;
    let problems = state.engine.check_expression(&caller.0, &path.into_inner(), &body.expression, &body.fields, script).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "problems": problems })))
}

/// Whom to show the app to: `user` (a username) or `role` (one of the app's roles), and
/// whether as the draft would make it.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ViewAsQuery {
    user: Option<String>,
    role: Option<String>,
    #[serde(default)]
    draft: bool,
}

/// The app as a user, or anyone holding a role, would see it: the forms they may read, their
/// fields without those hidden from them, read-only fields and actions — as published, or as
/// the draft would make it (`draft=true`). For the app's builders; no record is read.
#[utoipa::path(tag = "definitions", params(("app" = String, Path), ViewAsQuery), responses(
    (status = 200, description = "The app view `GET /api/apps/{app}` would answer them", body = crate::wire::AppView),
    (status = 400, description = "Neither or both of `user` and `role`", body = ErrorBody),
    (status = 403, description = "Not a builder of the app", body = ErrorBody),
    (status = 404, description = "No such app, user or role", body = ErrorBody)))]
#[get("/api/apps/{app}/view-as")]
pub(crate) async fn view_as(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<AppId>,
    query: web::Query<ViewAsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let who = match (query.user, query.role) {
        (Some(user), None) => engine::ViewAs::User(user),
        (None, Some(role)) => engine::ViewAs::Role(role),
        _ => return Err(ApiError::new(Code::Malformed, "name either `user` or `role`")),
    };
    Ok(HttpResponse::Ok().json(state.engine.view_as(&caller.0, &path.into_inner(), &who, query.draft).await?))
}

/// Answers described for the document only: the engine serialises its own types.
#[allow(dead_code)]
mod answers {
    use utoipa::ToSchema;

    /// An app's files and the state of its draft.
    #[derive(ToSchema)]
    pub(crate) struct DefinitionIndex {
        app: String,
        /// The live release.
        release: i64,
        items: Vec<DefinitionEntry>,
    }

    /// One file of an app.
    #[derive(ToSchema)]
    pub(crate) struct DefinitionEntry {
        /// `app`, `form`, `flow`, `rule`, `report`, `dashboard`, `template`, `seed` or `test`.
        kind: String,
        id: String,
        path: String,
        /// The version an edit names in `If-Match`: the draft's when there is one.
        version: i64,
        /// The version the live release holds (null: added by the draft).
        published: Option<i64>,
        /// Changed by the draft.
        draft: bool,
        /// Removed by the draft.
        deleted: bool,
    }

    /// A measure of a draft's impact, started.
    #[derive(ToSchema)]
    pub(crate) struct ImpactStarted {
        /// Poll `/api/apps/{app}/impact/runs/{run}`.
        run: String,
    }

    /// One file's text at the version an edit would name.
    #[derive(ToSchema)]
    pub(crate) struct DefinitionView {
        kind: String,
        id: String,
        version: i64,
        draft: bool,
        /// A JSON definition; absent for scripts and templates.
        definition: Option<serde_json::Map<String, serde_json::Value>>,
        /// A script's or template's text; absent for JSON definitions.
        source: Option<String>,
    }

    /// What a save answers.
    #[derive(ToSchema)]
    pub(crate) struct Saved {
        version: i64,
        /// Merged with an edit saved since the version the request named.
        merged: bool,
        problems: Vec<DraftProblem>,
    }

    /// A problem of a draft: the file, the JSON pointer (or `line:col` in a script) and what.
    #[derive(ToSchema)]
    pub(crate) struct DraftProblem {
        file: String,
        pointer: String,
        message: String,
    }

    #[derive(ToSchema)]
    pub(crate) struct ExpressionCheck {
        problems: Vec<ExpressionProblem>,
    }

    /// Line and column 1-based; 0 when unknown.
    #[derive(ToSchema)]
    pub(crate) struct ExpressionProblem {
        line: u64,
        column: u64,
        message: String,
    }

    /// What a draft would do: each form's records against its new definition, and the records in
    /// flight on the flows it changes.
    #[derive(ToSchema)]
    pub(crate) struct Impact {
        forms: Vec<FormImpact>,
        flows: Vec<FlowInFlight>,
    }

    #[derive(ToSchema)]
    pub(crate) struct FormImpact {
        form: String,
        records: u64,
        /// Records the migrations and new fields' defaults change.
        changed: u64,
        /// Records that would not validate.
        invalid: u64,
        problems: Vec<ProblemGroup>,
    }

    /// Records failing the same way.
    #[derive(ToSchema)]
    pub(crate) struct ProblemGroup {
        pointer: String,
        field: String,
        /// A field problem's code (`required`, `type`, `unknown_field` …).
        code: String,
        message: String,
        records: u64,
        samples: Vec<String>,
        /// The migrations that fix such records: `default`, `convert`, `rename`, `drop`.
        fixes: Vec<String>,
    }

    /// The live records of a form whose flow the draft changes, by state.
    #[derive(ToSchema)]
    pub(crate) struct FlowInFlight {
        form: String,
        states: std::collections::BTreeMap<String, u64>,
        /// States the new version neither has nor maps: their records finish on the old one.
        staying: Vec<String>,
    }

    #[derive(ToSchema)]
    pub(crate) struct ImpactRun {
        /// `queued`, `running`, `done` or `failed`.
        state: String,
        #[schema(required)]
        checked: Option<u64>,
        #[schema(required)]
        total: Option<u64>,
        #[schema(required)]
        impact: Option<Impact>,
        #[schema(required)]
        error: Option<String>,
    }

    /// A published release.
    #[derive(ToSchema)]
    pub(crate) struct Release {
        release: i64,
        /// `publish`, `rollback`, `install` …
        source: String,
        author: String,
        published_at: String,
        message: String,
        /// How many files it holds.
        files: u64,
    }

    #[derive(ToSchema)]
    pub(crate) struct Releases {
        items: Vec<Release>,
    }

    #[derive(ToSchema)]
    pub(crate) struct AppRelease {
        app: String,
        release: i64,
    }

    #[derive(ToSchema)]
    pub(crate) struct Installed {
        app: String,
        release: i64,
        conflicts: Vec<String>,
    }

    #[derive(ToSchema)]
    pub(crate) struct ReleaseDiff {
        items: Vec<FileChange>,
    }

    #[derive(ToSchema)]
    pub(crate) struct FileChange {
        path: String,
        /// `added`, `removed` or `changed`.
        change: String,
        /// For a changed JSON definition, each list of items that changed (`fields`, `states` …).
        lists: Option<std::collections::BTreeMap<String, ItemChanges>>,
        /// The other top-level parts that changed (`label`, `layout`, `chart` …).
        parts: Option<Vec<String>>,
    }

    #[derive(ToSchema)]
    pub(crate) struct ItemChanges {
        added: Vec<String>,
        removed: Vec<String>,
        changed: std::collections::BTreeMap<String, Vec<String>>,
    }

    #[derive(ToSchema)]
    pub(crate) struct TestRun {
        passed: u64,
        failed: u64,
        items: Vec<ScenarioOutcome>,
    }

    #[derive(ToSchema)]
    pub(crate) struct ScenarioOutcome {
        id: String,
        name: String,
        /// Why it failed (null when it passed).
        #[schema(required)]
        failure: Option<String>,
        paths: Vec<FlowPath>,
    }

    /// The moves one record made through its form's flow.
    #[derive(ToSchema)]
    pub(crate) struct FlowPath {
        record: String,
        form: String,
        moves: Vec<Move>,
    }

    #[derive(ToSchema)]
    pub(crate) struct Move {
        action: String,
        from: String,
        to: String,
        step: Option<String>,
    }
}
