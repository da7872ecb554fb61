//! The index advisor, for admins: the indexes it proposes for an app's slow lists and reports
//! and those it made, with how those queries ran before and since; applying and dropping one.

use actix_web::{HttpResponse, delete, get, post, web};
use engine::AppId;

use crate::auth::Caller;
use crate::wire::ErrorBody;
use crate::{ApiError, AppState};

/// The proposals and advised indexes of an app, with the figures measured.
#[utoipa::path(tag = "apps", params(("app" = String, Path)), responses(
    (status = 200, description = "`{proposals, applied, automatic}`", body = answers::IndexAdvice),
    (status = 403, description = "Not an admin", body = ErrorBody),
    (status = 404, description = "No such app", body = ErrorBody)))]
#[get("/api/apps/{app}/index-advice")]
pub(crate) async fn index_advice(caller: Caller, state: web::Data<AppState>, path: web::Path<AppId>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.engine.index_advice(&caller.0, &path.into_inner()).await?))
}

/// Creates the proposed index `id` (concurrently on PostgreSQL: writes go on meanwhile).
#[utoipa::path(tag = "apps", params(("app" = String, Path), ("id" = String, Path, description = "A proposal's `id`")), responses(
    (status = 201, description = "Created; `{id}` names the index", body = answers::CreatedIndex),
    (status = 403, description = "Not an admin", body = ErrorBody),
    (status = 404, description = "No such app or proposal", body = ErrorBody)))]
#[post("/api/apps/{app}/index-advice/{id}")]
pub(crate) async fn apply_index(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(AppId, String)>,
) -> Result<HttpResponse, ApiError> {
    let (app, id) = path.into_inner();
    Ok(HttpResponse::Created().json(state.engine.apply_index_advice(&caller.0, &app, &id).await?))
}

/// Drops the advised index `id`; its queries may be proposed again.
#[utoipa::path(tag = "apps", params(("app" = String, Path), ("id" = String, Path, description = "An applied index's `id`")), responses(
    (status = 204, description = "Dropped"),
    (status = 403, description = "Not an admin", body = ErrorBody),
    (status = 404, description = "No such app or advised index", body = ErrorBody)))]
#[delete("/api/apps/{app}/index-advice/{id}")]
pub(crate) async fn drop_index(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(AppId, String)>,
) -> Result<HttpResponse, ApiError> {
    let (app, id) = path.into_inner();
    state.engine.drop_index_advice(&caller.0, &app, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Mirrors of the engine's answers (`engine::IndexAdvice` …), for the document only.
#[allow(dead_code)]
mod answers {
    use utoipa::ToSchema;

    /// Where a query came from.
    #[derive(ToSchema)]
    #[schema(rename_all = "snake_case")]
    pub(crate) enum ShapeKind {
        List,
        Report,
    }

    /// What a query reads of a form, by field id — never the values.
    #[derive(ToSchema)]
    pub(crate) struct Shape {
        form: String,
        kind: ShapeKind,
        /// Fields compared for equality.
        equal: Vec<String>,
        /// Fields read in order after those: a list's range or sort field, a report's groupings.
        ordered: Vec<String>,
        /// Fields a report only sums or averages.
        covered: Vec<String>,
    }

    /// How queries ran.
    #[derive(ToSchema)]
    pub(crate) struct Observed {
        count: u64,
        average_ms: f64,
        max_ms: f64,
        last_seen: Option<String>,
    }

    /// An index the advisor proposes.
    #[derive(ToSchema)]
    pub(crate) struct IndexProposal {
        /// The index's name: what `POST …/index-advice/{id}` takes.
        id: String,
        form: String,
        /// Leading field first.
        fields: Vec<String>,
        shapes: Vec<Shape>,
        /// Slow runs of those shapes.
        observed: Observed,
    }

    /// An index the advisor made.
    #[derive(ToSchema)]
    pub(crate) struct AppliedIndex {
        id: String,
        form: String,
        fields: Vec<String>,
        shapes: Vec<Shape>,
        /// The admin who applied it, or `index_advisor`.
        created_by: String,
        created_at: String,
        /// Slow runs until it was made.
        before: Observed,
        /// Every run since (counted by this server since it started).
        since: Observed,
    }

    /// The advisor's page of an app.
    #[derive(ToSchema)]
    pub(crate) struct IndexAdvice {
        proposals: Vec<IndexProposal>,
        applied: Vec<AppliedIndex>,
        /// Whether the advisor creates indexes by itself (`indexes.automatic` in app.json).
        automatic: bool,
    }

    /// The index made.
    #[derive(ToSchema)]
    pub(crate) struct CreatedIndex {
        id: String,
    }
}
