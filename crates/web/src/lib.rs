//! Tessera's browser UI, built from `ui/` by this crate's build script and embedded in the
//! binary. The server serves [`index_html`] at `/` and [`asset`] at `/assets/{path}`; the UI
//! routes with the URL hash, so no other path is needed.

use std::borrow::Cow;

/// A file of the built UI.
#[derive(Debug, Clone)]
pub struct Asset {
    pub bytes: Cow<'static, [u8]>,
    /// `Content-Type` of the file, from its extension.
    pub content_type: &'static str,
    /// `Cache-Control` the file deserves: bundles under `assets/` carry a content hash in
    /// their name and never change; `index.html` names the current bundles and must be
    /// revalidated.
    pub cache_control: &'static str,
}

/// The built UI (`npm run build` output; see build.rs).
#[derive(rust_embed::Embed)]
#[folder = "$OUT_DIR/dist"]
struct Dist;

/// The UI's start page, to serve at `/`.
pub fn index_html() -> Asset {
    file("index.html").expect("build.rs fails unless the UI build wrote index.html")
}

/// A file of the UI by its path under the site root, e.g. `assets/index-3f2a.js` (a leading
/// `/` is ignored). `None` for anything the build did not produce.
pub fn asset(path: &str) -> Option<Asset> {
    file(path.trim_start_matches('/'))
}

fn file(path: &str) -> Option<Asset> {
    let embedded = Dist::get(path)?;
    Some(Asset { bytes: embedded.data, content_type: content_type(path), cache_control: cache_control(path) })
}

fn cache_control(path: &str) -> &'static str {
    if path.starts_with("assets/") { "public, max-age=31536000, immutable" } else { "no-cache" }
}

/// Types of the files a Vite build produces; anything else is served as bytes.
fn content_type(path: &str) -> &'static str {
    let extension = path.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).unwrap_or_default();
    match extension.as_str() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "txt" => "text/plain; charset=utf-8",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `src`/`href` values of `index.html` that point into `/assets/`.
    fn asset_links(html: &str) -> Vec<&str> {
        html.split(['"', '\'']).filter(|part| part.starts_with("/assets/")).collect()
    }

    #[test]
    fn index_html_references_embedded_bundles() {
        let index = index_html();
        assert_eq!(index.content_type, "text/html; charset=utf-8");
        assert_eq!(index.cache_control, "no-cache");
        let html = std::str::from_utf8(&index.bytes).expect("index.html is UTF-8");
        assert!(html.contains(r#"<div id="app">"#), "{html}");

        let links = asset_links(html);
        let script = links.iter().find(|l| l.ends_with(".js")).expect("index.html loads a script bundle");
        let js = asset(script).expect("the script index.html names is embedded");
        assert_eq!(js.content_type, "text/javascript; charset=utf-8");
        assert_eq!(js.cache_control, "public, max-age=31536000, immutable");
        assert!(js.bytes.len() > 10_000, "the bundle holds the app: {} bytes", js.bytes.len());
        let css = links.iter().find(|l| l.ends_with(".css")).expect("index.html loads a stylesheet");
        assert_eq!(asset(css).expect("the stylesheet is embedded").content_type, "text/css; charset=utf-8");
    }

    #[test]
    fn unknown_paths_are_none() {
        assert!(asset("assets/nope.js").is_none());
        assert!(asset("../Cargo.toml").is_none());
        assert!(asset("").is_none());
    }

    #[test]
    fn content_types_follow_extensions() {
        assert_eq!(content_type("assets/a.SVG"), "image/svg+xml");
        assert_eq!(content_type("assets/font.woff2"), "font/woff2");
        assert_eq!(content_type("LICENSE"), "application/octet-stream");
    }
}
