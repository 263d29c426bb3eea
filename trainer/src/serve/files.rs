//! Static hosting of the web app (`dist/`) and the bundle folder: files only from inside their
//! root (no `..`, encoded or not, and no symlinks leading out), ETags with 304 answers, and cache
//! headers: content-hashed app files and a bundle's fragments (named by their content address)
//! are immutable, everything else is revalidated; a file's Brotli copy beside it, where there is
//! one, is sent in its place to a browser that takes Brotli.

use std::path::{Component, Path, PathBuf};
use std::time::UNIX_EPOCH;

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use dowse_core::fragments::NAME_BYTES;
use tower_http::services::ServeDir;

/// A router serving the files under `root`.
pub fn folder(root: &Path) -> Router {
    let canonical = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    // A file's Brotli copy beside it (`NAME.br`: scripts/build-app.sh writes one for each small
    // wasm module, at quality 11) goes out where the browser takes Brotli, and is not compressed
    // again: the app's module in 206 kB, where Brotli on the fly (quality 4) makes 246 kB.
    let service = ServeDir::new(root).append_index_html_on_directories(true).precompressed_br();
    Router::new().fallback_service(service).layer(axum::middleware::from_fn(move |request: Request, next: Next| {
        let root = canonical.clone();
        async move { guard(&root, request, next).await }
    }))
}

async fn guard(root: &Path, request: Request, next: Next) -> Response {
    let Some(file) = resolve(root, request.uri().path()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = std::fs::metadata(&file).ok().filter(|m| m.is_file()).map(|m| {
        let modified = m.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
        format!("\"{:x}-{modified:x}\"", m.len())
    });
    let fresh =
        etag.as_deref().is_some_and(|tag| request.headers().get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == tag.as_bytes()));
    let mut response = if fresh { StatusCode::NOT_MODIFIED.into_response() } else { next.run(request).await };
    let headers = response.headers_mut();
    if let Some(tag) = etag.and_then(|t| HeaderValue::from_str(&t).ok()) {
        headers.insert(header::ETAG, tag);
    }
    let cache = if is_content_hashed(&file) { "public, max-age=31536000, immutable" } else { "no-cache" };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    let mut brotli_copy = file.clone().into_os_string();
    brotli_copy.push(".br");
    if Path::new(&brotli_copy).is_file() {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}

/// The file a request path names under `root`, if it stays inside: `..` in any spelling is
/// refused, and an existing path must still be inside the root once symlinks are resolved.
fn resolve(root: &Path, uri_path: &str) -> Option<PathBuf> {
    let decoded = percent_encoding::percent_decode_str(uri_path).decode_utf8().ok()?;
    let relative = Path::new(decoded.trim_start_matches('/'));
    if relative.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir)) || decoded.contains('\\') {
        return None;
    }
    let full = root.join(relative);
    match full.canonicalize() {
        Ok(real) => real.starts_with(root).then_some(real),
        Err(_) => Some(full),
    }
}

/// scripts/build-app.sh names the app's files `name-<16 hex>.ext` and a bundle its fragments `fragments/<12 hex>`:
/// their content never changes under that name.
fn is_content_hashed(file: &Path) -> bool {
    let is_hash = |text: &str, digits: usize| text.len() == digits && text.bytes().all(|b| b.is_ascii_hexdigit());
    let name = file.file_name().and_then(|s| s.to_str()).unwrap_or("");
    let in_fragments = file.parent().and_then(Path::file_name).is_some_and(|folder| folder == dowse_core::bundle::FRAGMENTS);
    if in_fragments && is_hash(name, 2 * NAME_BYTES) {
        return true;
    }
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-').is_some_and(|(_, hash)| is_hash(hash, 16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::write(root.join("a.txt"), "a").unwrap();
        assert_eq!(resolve(&root, "/a.txt"), Some(root.join("a.txt")));
        for bad in ["/../etc/passwd", "/%2e%2e/etc/passwd", "/a/%2E%2E/%2e%2e/x", "/..%2fetc", "/a\\..\\b", "//etc/passwd/.."] {
            assert_eq!(resolve(&root, bad), None, "{bad}");
        }
        std::os::unix::fs::symlink("/etc/hostname", root.join("out")).unwrap();
        assert_eq!(resolve(&root, "/out"), None);
        assert!(is_content_hashed(Path::new("dowse-web-0123456789abcdef_bg.wasm")));
        assert!(is_content_hashed(Path::new("dowse-web-0123456789abcdef.js")));
        assert!(is_content_hashed(Path::new("dowse-web-0123456789abcdef_bg.deflate")));
        assert!(!is_content_hashed(Path::new("dowse-static_bg.deflate")));
        assert!(is_content_hashed(Path::new("bundle/fragments/0123456789ab")));
        assert!(!is_content_hashed(Path::new("bundle/fragments/0123456789abcdef")));
        assert!(!is_content_hashed(Path::new("bundle/0123456789ab")));
        assert!(!is_content_hashed(Path::new("index.html")));
    }
}
