//! The organisation, administered: users, role grants per app, passwords, deactivation and
//! hand-over, departments and API tokens. The engine refuses whoever may not (admins only,
//! but for a user's own profile and personal tokens); the UI only hides what it would refuse.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use engine::{DepartmentChange, HandoverRequest, NewDepartment, NewToken, NewUser, ProfileChange, UserChange};
use serde::Deserialize;

use super::{AUTH_BODY_BYTES, COMMAND_BODY_BYTES, IMPORT_BODY_BYTES, json_body, optional_json_body};
use crate::auth::Caller;
use crate::wire::ErrorBody;
use crate::{ApiError, AppState, tabular};

/// Users, for admins with everything but the password; for anyone else the directory of
/// active people that pickers offer (username, name, department).
#[utoipa::path(tag = "organisation", responses(
    (status = 200, description = "`{items: [user]}`", body = answers::Users),
    (status = 401, description = "Not logged in", body = ErrorBody)))]
#[get("/api/users")]
pub(crate) async fn users(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let items = state.engine.users(&caller.0).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"items": items})))
}

/// Creates a user. A person without a `password` gets one generated, answered this once; a
/// person created here must choose their own password at first login.
#[utoipa::path(tag = "organisation", request_body = answers::NewUser, responses(
    (status = 201, description = "`{user, password?}`", body = answers::CreatedUser),
    (status = 400, description = "A bad username, department, role or app", body = ErrorBody),
    (status = 403, description = "Not an admin", body = ErrorBody),
    (status = 409, description = "The username is taken", body = ErrorBody),
    (status = 422, description = "The password breaks the policy", body = ErrorBody)))]
#[post("/api/users")]
pub(crate) async fn create_user(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: NewUser = json_body(&req, payload, AUTH_BODY_BYTES).await?;
    Ok(HttpResponse::Created().json(state.engine.create_user(&caller.0, body, true).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct UsersImportQuery {
    /// `csv` or `xlsx`; default from the Content-Type, else CSV.
    format: Option<String>,
    /// Check every row and report, creating nobody.
    dry_run: Option<bool>,
}

/// Creates a user a row of a CSV or XLSX file with the columns `username` (required),
/// `display_name`, `department`, `language`, `password`, `kind`, `admin` (yes/no) and `grants`
/// (`app:role` pairs). Each row is checked as `POST /api/users` checks one; the good rows are
/// created (none with `dry_run`), and the report names each bad row and column as a record
/// import's does. Passwords the server chose are answered once.
#[utoipa::path(tag = "organisation", params(UsersImportQuery),
    request_body(content = Vec<u8>, description = "The CSV or XLSX file", content_type = "text/csv"),
    responses(
        (status = 200, description = "The import report, and `passwords: [{username, password}]`", body = answers::UsersImport),
        (status = 400, description = "Unreadable file or unknown columns", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 413, description = "More than `MAX_USER_IMPORT_ROWS` rows, or past a bound of the file", body = ErrorBody)))]
#[post("/api/users/import")]
pub(crate) async fn import_users(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<UsersImportQuery>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // Refused before the file is read.
    if !caller.0.is_admin() {
        return Err(engine::EngineError::Forbidden("only admins may import users".into()).into());
    }
    let q = query.into_inner();
    let format = q.format.unwrap_or_else(|| super::import::format_of(&req));
    let table = tabular::read_upload(&req, payload, IMPORT_BODY_BYTES, format).await?;
    Ok(HttpResponse::Ok().json(Box::pin(state.engine.import_users(&caller.0, table, q.dry_run.unwrap_or(false))).await?))
}

/// One user: for admins, or the user themself.
#[utoipa::path(tag = "organisation", params(("username" = String, Path)), responses(
    (status = 200, description = "The user", body = answers::UserView),
    (status = 403, description = "Neither an admin nor this user", body = ErrorBody),
    (status = 404, description = "No such user", body = ErrorBody)))]
#[get("/api/users/{username}")]
pub(crate) async fn user(caller: Caller, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.engine.user(&caller.0, &path).await?))
}

/// Changes a user's name, department (which moves their scopes and manager chain at once),
/// language or platform roles.
#[utoipa::path(tag = "organisation", params(("username" = String, Path)), request_body = answers::UserChange, responses(
    (status = 200, description = "The user", body = answers::UserView),
    (status = 400, description = "A bad department, language or role", body = ErrorBody),
    (status = 403, description = "Not an admin", body = ErrorBody),
    (status = 404, description = "No such user", body = ErrorBody),
    (status = 409, description = "It would leave no active admin", body = ErrorBody)))]
#[patch("/api/users/{username}")]
pub(crate) async fn update_user(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: UserChange = json_body(&req, payload, AUTH_BODY_BYTES).await?;
    Ok(HttpResponse::Ok().json(state.engine.update_user(&caller.0, &path, body).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct GrantBody {
    /// Role ids the app declares; empty takes every role in the app away.
    roles: Vec<String>,
}

/// Makes `roles` the user's roles in app `app`.
#[utoipa::path(tag = "organisation", params(("username" = String, Path), ("app" = String, Path)), request_body = GrantBody, responses(
    (status = 200, description = "The user", body = answers::UserView),
    (status = 400, description = "A role the app does not declare", body = ErrorBody),
    (status = 403, description = "Not an admin", body = ErrorBody),
    (status = 404, description = "No such user or app", body = ErrorBody)))]
#[put("/api/users/{username}/grants/{app}")]
pub(crate) async fn grant_roles(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (username, app) = path.into_inner();
    let body: GrantBody = json_body(&req, payload, AUTH_BODY_BYTES).await?;
    Ok(HttpResponse::Ok().json(state.engine.grant_roles(&caller.0, &username, &app, body.roles).await?))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResetPasswordBody {
    /// The new password; none: one is generated and answered once.
    password: Option<String>,
}

/// Sets a user's password; they must change it at their next login, and their sessions end.
#[utoipa::path(tag = "organisation", params(("username" = String, Path)), request_body = ResetPasswordBody, responses(
    (status = 200, description = "`{password?}`: the generated password, shown once", body = answers::ResetPassword),
    (status = 403, description = "Not an admin", body = ErrorBody),
    (status = 404, description = "No such user", body = ErrorBody),
    (status = 422, description = "The password breaks the policy", body = ErrorBody)))]
#[post("/api/users/{username}/password")]
pub(crate) async fn reset_password(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: ResetPasswordBody = optional_json_body(&req, payload, AUTH_BODY_BYTES).await?;
    let password = state.engine.reset_password(&caller.0, &path, body.password, true).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"password": password})))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeactivateBody {
    /// Who receives the user's records and open tasks first.
    successor: Option<String>,
}

/// Deactivates a user: no more logins, and their sessions and tokens fail at once. A user who
/// still owns records or has open tasks needs a `successor` (409 `open_work` says what).
#[utoipa::path(tag = "organisation", params(("username" = String, Path)), request_body = DeactivateBody, responses(
    (status = 200, description = "The user", body = answers::UserView),
    (status = 403, description = "Not an admin", body = ErrorBody),
    (status = 404, description = "No such user", body = ErrorBody),
    (status = 409, description = "`open_work`: name a successor; or the last admin, or oneself", body = ErrorBody)))]
#[post("/api/users/{username}/deactivate")]
pub(crate) async fn deactivate_user(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: DeactivateBody = optional_json_body(&req, payload, AUTH_BODY_BYTES).await?;
    Ok(HttpResponse::Ok().json(Box::pin(state.engine.deactivate_user(&caller.0, &path, body.successor)).await?))
}

/// Lets a deactivated user log in again.
#[utoipa::path(tag = "organisation", params(("username" = String, Path)), responses(
    (status = 200, description = "The user", body = answers::UserView),
    (status = 403, description = "Not an admin", body = ErrorBody),
    (status = 404, description = "No such user", body = ErrorBody)))]
#[post("/api/users/{username}/activate")]
pub(crate) async fn activate_user(caller: Caller, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.engine.activate_user(&caller.0, &path).await?))
}

/// What a hand-over of the user would move: live records they own per form, open approval
/// tasks, and the timers pending on those records.
#[utoipa::path(tag = "organisation", params(("username" = String, Path)), responses(
    (status = 200, description = "`{forms: [{app, form, records}], tasks, timers}`", body = crate::wire::Work),
    (status = 403, description = "Not an admin", body = ErrorBody),
    (status = 404, description = "No such user", body = ErrorBody)))]
#[get("/api/users/{username}/handover")]
pub(crate) async fn handover_preview(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.engine.handover_preview(&caller.0, &path).await?))
}

/// Hands the user's records of the chosen forms (all by default) and open tasks to `to`:
/// each record a new version with history and audit, each task by the flow's transfer.
#[utoipa::path(tag = "organisation", params(("username" = String, Path)), request_body = answers::HandoverRequest, responses(
    (status = 200, description = "What moved: `{forms: [{app, form, records}], tasks, timers}`", body = crate::wire::Work),
    (status = 400, description = "No such successor or form", body = ErrorBody),
    (status = 403, description = "Not an admin", body = ErrorBody),
    (status = 404, description = "No such user", body = ErrorBody)))]
#[post("/api/users/{username}/handover")]
pub(crate) async fn hand_over(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: HandoverRequest = json_body(&req, payload, COMMAND_BODY_BYTES).await?;
    Ok(HttpResponse::Ok().json(Box::pin(state.engine.hand_over(&caller.0, &path, body)).await?))
}

/// The caller changes their own name or language.
#[utoipa::path(tag = "auth", request_body = answers::ProfileChange, responses(
    (status = 200, description = "The user", body = crate::wire::User),
    (status = 400, description = "A bad name or language", body = ErrorBody)))]
#[patch("/api/auth/me")]
pub(crate) async fn update_profile(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: ProfileChange = json_body(&req, payload, AUTH_BODY_BYTES).await?;
    Ok(HttpResponse::Ok().json(state.engine.update_profile(&caller.0, body).await?))
}

/// The department tree as a flat list; each names its parent.
#[utoipa::path(tag = "organisation", responses(
    (status = 200, description = "`{items: [{id, name, parent, manager, members}]}`", body = answers::Departments),
    (status = 401, description = "Not logged in", body = ErrorBody)))]
#[get("/api/departments")]
pub(crate) async fn departments(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let items = state.engine.departments(&caller.0).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"items": items})))
}

#[utoipa::path(tag = "organisation", request_body = answers::NewDepartment, responses(
    (status = 201, description = "The department", body = answers::Department),
    (status = 400, description = "A bad id, parent or manager", body = ErrorBody),
    (status = 403, description = "Not an admin", body = ErrorBody),
    (status = 409, description = "The id is taken", body = ErrorBody)))]
#[post("/api/departments")]
pub(crate) async fn create_department(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: NewDepartment = json_body(&req, payload, AUTH_BODY_BYTES).await?;
    Ok(HttpResponse::Created().json(state.engine.create_department(&caller.0, body).await?))
}

/// Renames a department, moves it under another parent (`null`: a root) or changes its
/// manager; scopes and manager chains follow at once.
#[utoipa::path(tag = "organisation", params(("department" = String, Path)), request_body = answers::DepartmentChange, responses(
    (status = 200, description = "The department", body = answers::Department),
    (status = 400, description = "A parent under the department itself, or no such parent or manager", body = ErrorBody),
    (status = 403, description = "Not an admin", body = ErrorBody),
    (status = 404, description = "No such department", body = ErrorBody)))]
#[patch("/api/departments/{department}")]
pub(crate) async fn update_department(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: DepartmentChange = json_body(&req, payload, AUTH_BODY_BYTES).await?;
    Ok(HttpResponse::Ok().json(state.engine.update_department(&caller.0, &path, body).await?))
}

#[utoipa::path(tag = "organisation", params(("department" = String, Path)), responses(
    (status = 204, description = "Deleted"),
    (status = 403, description = "Not an admin", body = ErrorBody),
    (status = 404, description = "No such department", body = ErrorBody),
    (status = 409, description = "It has members or sub-departments", body = ErrorBody)))]
#[delete("/api/departments/{department}")]
pub(crate) async fn delete_department(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.engine.delete_department(&caller.0, &path).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// API tokens: the caller's own, or every one for an admin. Never their secrets.
#[utoipa::path(tag = "organisation", responses(
    (status = 200, description = "`{items: [token]}`", body = answers::Tokens),
    (status = 401, description = "Not logged in", body = ErrorBody)))]
#[get("/api/tokens")]
pub(crate) async fn tokens(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let items = state.engine.tokens(&caller.0).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"items": items})))
}

/// Makes a token: the caller's own, or (admins) another user's, such as a service account's.
/// The secret is answered this once; send it as `Authorization: Bearer <token>`.
#[utoipa::path(tag = "organisation", request_body = answers::NewToken, responses(
    (status = 201, description = "`{token, item}`", body = answers::IssuedToken),
    (status = 400, description = "A bad expiry, app or user", body = ErrorBody),
    (status = 403, description = "Another user's token, and not an admin", body = ErrorBody)))]
#[post("/api/tokens")]
pub(crate) async fn create_token(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: NewToken = json_body(&req, payload, AUTH_BODY_BYTES).await?;
    Ok(HttpResponse::Created().json(state.engine.create_token(&caller.0, body).await?))
}

/// Revokes a token (the caller's own, or any for an admin); it fails at once.
#[utoipa::path(tag = "organisation", params(("token" = String, Path, description = "The token's `id`")), responses(
    (status = 204, description = "Revoked"),
    (status = 404, description = "No such token of the caller's", body = ErrorBody)))]
#[delete("/api/tokens/{token}")]
pub(crate) async fn revoke_token(caller: Caller, state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    state.engine.revoke_token(&caller.0, &path).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Mirrors of the engine's bodies and answers, for the document only.
#[allow(dead_code)]
mod answers {
    use std::collections::BTreeMap;

    use utoipa::ToSchema;

    /// A user as admins see them: everything but the password.
    #[derive(ToSchema)]
    pub(crate) struct UserView {
        username: String,
        display_name: String,
        department: Option<String>,
        /// `person` or `service`.
        kind: String,
        language: Option<String>,
        /// Platform roles: `admin` or none.
        roles: Vec<String>,
        /// Roles held per app.
        grants: BTreeMap<String, Vec<String>>,
        must_change_password: bool,
        active: bool,
        created_at: String,
    }

    /// Admins get [`UserView`]s; anyone else `{username, display_name, department}` of active people.
    #[derive(ToSchema)]
    pub(crate) struct Users {
        items: Vec<UserEntry>,
    }

    /// A user in the list: an admin sees all of [`UserView`], anyone else the directory's
    /// three fields.
    #[derive(ToSchema)]
    pub(crate) struct UserEntry {
        username: String,
        display_name: String,
        #[schema(required)]
        department: Option<String>,
        kind: Option<String>,
        language: Option<String>,
        roles: Option<Vec<String>>,
        grants: Option<BTreeMap<String, Vec<String>>>,
        must_change_password: Option<bool>,
        active: Option<bool>,
        created_at: Option<String>,
    }

    #[derive(ToSchema)]
    pub(crate) struct NewUser {
        /// 1–64 lowercase letters, digits, `_`, `-` or `.`.
        username: String,
        display_name: String,
        /// `person` (default) or `service` (no password; uses tokens).
        kind: Option<String>,
        department: Option<String>,
        /// None: generated and answered once.
        password: Option<String>,
        language: Option<String>,
        /// `["admin"]` or none.
        roles: Option<Vec<String>>,
        /// Roles per app, each declared by its app.
        grants: Option<BTreeMap<String, Vec<String>>>,
    }

    #[derive(ToSchema)]
    pub(crate) struct CreatedUser {
        user: UserView,
        /// The generated password, shown this once.
        password: Option<String>,
    }

    #[derive(ToSchema)]
    pub(crate) struct ResetPassword {
        password: Option<String>,
    }

    /// Absent members stay; `null` clears `department` or `language`.
    #[derive(ToSchema)]
    pub(crate) struct UserChange {
        display_name: Option<String>,
        department: Option<String>,
        language: Option<String>,
        roles: Option<Vec<String>>,
    }

    #[derive(ToSchema)]
    pub(crate) struct ProfileChange {
        display_name: Option<String>,
        language: Option<String>,
    }

    #[derive(ToSchema)]
    pub(crate) struct HandoverRequest {
        /// The successor.
        to: String,
        /// `app/form` of the forms whose records move; all when absent.
        forms: Option<Vec<String>>,
        /// Whether open approval tasks move too (default true).
        tasks: Option<bool>,
    }

    #[derive(ToSchema)]
    pub(crate) struct Department {
        id: String,
        name: String,
        parent: Option<String>,
        manager: Option<String>,
        /// Users in it, not counting sub-departments.
        members: u64,
    }

    #[derive(ToSchema)]
    pub(crate) struct Departments {
        items: Vec<Department>,
    }

    #[derive(ToSchema)]
    pub(crate) struct NewDepartment {
        id: String,
        name: String,
        parent: Option<String>,
        manager: Option<String>,
    }

    /// Absent members stay; `null` makes it a root (`parent`) or leaves it without a manager.
    #[derive(ToSchema)]
    pub(crate) struct DepartmentChange {
        name: Option<String>,
        parent: Option<String>,
        manager: Option<String>,
    }

    #[derive(ToSchema)]
    pub(crate) struct Token {
        id: String,
        name: String,
        /// Whose rights it carries.
        username: String,
        created_by: String,
        created_at: String,
        expires_at: Option<String>,
        /// The apps it is limited to; none: all its user may use.
        apps: Option<Vec<String>>,
        last_used_at: Option<String>,
        revoked_at: Option<String>,
    }

    #[derive(ToSchema)]
    pub(crate) struct Tokens {
        items: Vec<Token>,
    }

    #[derive(ToSchema)]
    pub(crate) struct NewToken {
        name: String,
        /// Default: the caller.
        username: Option<String>,
        /// RFC 3339.
        expires_at: Option<String>,
        apps: Option<Vec<String>>,
    }

    /// An import report (as a record import's) and the passwords the server chose.
    #[derive(ToSchema)]
    pub(crate) struct UsersImport {
        #[schema(inline)]
        #[serde(flatten)]
        report: crate::wire::ImportReport,
        passwords: Vec<GeneratedPassword>,
    }

    #[derive(ToSchema)]
    pub(crate) struct GeneratedPassword {
        username: String,
        password: String,
    }

    #[derive(ToSchema)]
    pub(crate) struct IssuedToken {
        /// The secret, shown this once.
        token: String,
        item: Token,
    }
}
