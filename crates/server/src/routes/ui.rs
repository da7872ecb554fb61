//! The browser UI, built and embedded by the `web` crate: `/` and `/assets/{path}`. Not part of
//! the API document: these are files, not operations.

use std::borrow::Cow;

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::web::{Bytes, Path};
use actix_web::{HttpResponse, get};

use crate::ApiError;
use engine::Code;

#[get("/")]
pub(crate) async fn index() -> HttpResponse {
    respond(ui::index_html())
}

#[get("/assets/{path:.*}")]
pub(crate) async fn asset(path: Path<String>) -> Result<HttpResponse, ApiError> {
    ui::asset(&format!("assets/{path}")).map(respond).ok_or_else(|| ApiError::new(Code::NotFound, "no such file"))
}

fn respond(file: ui::Asset) -> HttpResponse {
    let body = match file.bytes {
        Cow::Borrowed(b) => Bytes::from_static(b),
        Cow::Owned(v) => Bytes::from(v),
    };
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, file.content_type))
        .insert_header((CACHE_CONTROL, file.cache_control))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
        ))
        .body(body)
}
