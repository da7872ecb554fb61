//! Export of a list as CSV (streamed page by page) or XLSX.

use actix_web::web::{Bytes, Data, Path, Query};
use actix_web::{HttpResponse, get};
use engine::{Actor, AppId, Engine, Export, FormId, ListParams, csv_chunk};
use futures_util::stream;
use serde::Deserialize;

use crate::auth::Caller;
use crate::wire::ErrorBody;
use crate::{ApiError, AppState};

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ExportQuery {
    /// `csv` (default) or `xlsx`.
    format: Option<String>,
    /// The list API's filter JSON.
    filter: Option<String>,
    /// The list API's sort keys.
    sort: Option<String>,
    /// Language of the column headers: `zh-CN` or `en` (default).
    locale: Option<String>,
}

/// Exports the records the caller may read (filters applied), with the fields they may see.
#[utoipa::path(tag = "records", params(("app" = String, Path), ("form" = String, Path), ExportQuery), responses(
    (status = 200, description = "CSV (UTF-8 with BOM) or an XLSX workbook, as `format` asks", content(
        (Vec<u8> = "text/csv"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
    (status = 403, description = "No export right", body = ErrorBody)))]
#[get("/api/apps/{app}/forms/{form}/export")]
pub(crate) async fn export(
    caller: Caller,
    state: Data<AppState>,
    path: Path<(AppId, FormId)>,
    query: Query<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let (app, form) = path.into_inner();
    let q = query.into_inner();
    let params = ListParams { filter: q.filter, sort: q.sort, ..Default::default() };
    let plan = state.engine.export_start(&caller.0, &app, &form, params, q.locale.as_deref().unwrap_or("en"))?;
    let filename = |ext: &str| ("Content-Disposition", format!("attachment; filename=\"{form}.{ext}\""));
    match q.format.as_deref().unwrap_or("csv") {
        "xlsx" => {
            let bytes = state.engine.export_xlsx(&caller.0, &plan).await?;
            Ok(HttpResponse::Ok()
                .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
                .insert_header(filename("xlsx"))
                .body(bytes))
        }
        "csv" => {
            // The first page is read before answering, so a bad filter still gets a clean 400.
            let (rows, next) = state.engine.export_page(&caller.0, &plan, None).await?;
            let first = Bytes::from(csv_chunk(Some(&plan.headers), &rows));
            let rest = stream::unfold(Pages { engine: state.engine.clone(), actor: caller.0, plan, next }, next_chunk);
            let body = futures_util::StreamExt::chain(stream::once(async move { Ok::<_, actix_web::Error>(first) }), rest);
            Ok(HttpResponse::Ok().content_type("text/csv; charset=utf-8").insert_header(filename("csv")).streaming(body))
        }
        other => Err(ApiError::bad_request(format!("unknown export format `{other}` (csv or xlsx)"))),
    }
}

struct Pages {
    engine: Engine,
    actor: Actor,
    plan: Export,
    next: Option<String>,
}

async fn next_chunk(mut pages: Pages) -> Option<(Result<Bytes, actix_web::Error>, Pages)> {
    let cursor = pages.next.take()?;
    match pages.engine.export_page(&pages.actor, &pages.plan, Some(cursor)).await {
        Ok((rows, next)) => {
            pages.next = next;
            Some((Ok(Bytes::from(csv_chunk(None, &rows))), pages))
        }
        // Headers are sent: the best left to do is to cut the download short, loudly.
        Err(e) => Some((Err(actix_web::error::ErrorInternalServerError(e.to_string())), pages)),
    }
}
