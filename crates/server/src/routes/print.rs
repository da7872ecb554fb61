//! Printing a record as an HTML document ready to print, or as PDF through headless Chromium.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use actix_web::web::{Data, Path, Query};
use actix_web::{HttpResponse, get};
use engine::{AppId, Code, RecordId};
use serde::Deserialize;

use crate::auth::Caller;
use crate::wire::ErrorBody;
use crate::{ApiError, AppState};

/// Printed documents carry no scripts; a strict policy keeps it that way if a template errs.
const DOCUMENT_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data: https:";
/// Longest a PDF rendering may take.
const PDF_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct PrintQuery {
    /// `html` (default) or `pdf`.
    format: Option<String>,
    /// `zh-CN` (default) or `en`.
    locale: Option<String>,
}

/// The record printed with the template: HTML with A4 print CSS, or PDF.
#[utoipa::path(tag = "print", params(("app" = String, Path), ("template" = String, Path), ("id" = String, Path, format = "uuid", description = "A record id: a UUID"), PrintQuery), responses(
    (status = 200, description = "The document as HTML, or as a PDF", content((String = "text/html"), (Vec<u8> = "application/pdf"))),
    (status = 403, description = "No print right", body = ErrorBody),
    (status = 404, description = "No such template or record (or not yours to see)", body = ErrorBody),
    (status = 501, description = "PDF asked for but Chromium is not installed", body = ErrorBody)))]
#[get("/api/apps/{app}/print/{template}/{id}")]
pub(crate) async fn print(
    caller: Caller,
    state: Data<AppState>,
    path: Path<(AppId, String, RecordId)>,
    query: Query<PrintQuery>,
) -> Result<HttpResponse, ApiError> {
    let (app, template, id) = path.into_inner();
    let locale = match query.locale.as_deref() {
        None => "zh-CN",
        Some(l @ ("zh-CN" | "en")) => l,
        Some(other) => return Err(ApiError::bad_request(format!("unknown locale `{other}` (zh-CN or en)"))),
    };
    let html = state.engine.print(&caller.0, &app, &template, &id, locale).await?;
    match query.format.as_deref().unwrap_or("html") {
        "html" => Ok(HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header(("Content-Security-Policy", DOCUMENT_CSP))
            .body(html)),
        "pdf" => {
            let chromium = chromium().ok_or_else(|| {
                ApiError::new(
                    Code::PdfUnavailable,
                    "PDF needs Chromium on the server (apt-get install chromium); the HTML version prints from any browser",
                )
            })?;
            let pdf = actix_web::web::block(move || render_pdf(&chromium, &html))
                .await
                .map_err(|e| ApiError::new(Code::Internal, e.to_string()))?
                .map_err(|e| {
                    tracing::error!(error = %e, "PDF rendering failed");
                    ApiError::new(Code::Internal, "PDF rendering failed; the server log has the cause")
                })?;
            Ok(HttpResponse::Ok()
                .content_type("application/pdf")
                .insert_header(("Content-Disposition", format!("inline; filename=\"{template}-{id}.pdf\"")))
                .body(pdf))
        }
        other => Err(ApiError::bad_request(format!("unknown format `{other}` (html or pdf)"))),
    }
}

/// The Chromium binary, if the machine has one.
fn chromium() -> Option<PathBuf> {
    let candidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];
    candidates.iter().map(PathBuf::from).find(|p| p.is_file())
}

/// Prints `html` to PDF with headless Chromium in a throwaway profile; no network is touched.
fn render_pdf(chromium: &std::path::Path, html: &str) -> Result<Vec<u8>, String> {
    let dir = std::env::temp_dir().join(format!("tessera-pdf-{}", uuid_like()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let page = dir.join("page.html");
    let pdf = dir.join("page.pdf");
    std::fs::write(&page, html).map_err(|e| e.to_string())?;
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-pdf-header-footer",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", page.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if started.elapsed() > PDF_TIMEOUT {
            let _ = child.kill();
            let _ = std::fs::remove_dir_all(&dir);
            return Err("chromium took too long".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let result =
        if status.success() { std::fs::read(&pdf).map_err(|e| e.to_string()) } else { Err(format!("chromium exited with {status}")) };
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// A name no other rendering in this process uses.
fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}
