//! The admin dashboard at `/_/`: the built single-page app, embedded in the
//! binary (read from `dashboard-dist/` on disk in debug builds).
//!
//! Deep links answer `index.html` (never cached, strict CSP) so the app's
//! own router takes over; hashed files under `assets/` are immutable for a
//! year and served precompressed (brotli or gzip) when the client takes it.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use basalt_core::Error;
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "dashboard-dist/"]
struct Assets;

/// No inline script, nothing from another origin. Styles may be inline
/// because Svelte sets style attributes for transitions and layout.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data: blob:; connect-src 'self'; frame-src 'self' blob:; font-src 'self'; \
object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/_", get(|| async { Redirect::permanent("/_/") }))
        .route(
            "/_/",
            get(|headers: HeaderMap| async move { serve("", &headers) }),
        )
        .route(
            "/_/{*path}",
            get(|Path(path): Path<String>, headers: HeaderMap| async move { serve(&path, &headers) }),
        )
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    if path.starts_with("assets/") {
        return match asset(path, headers) {
            Some(response) => response,
            None => Error::not_found("no such dashboard asset").into_response(),
        };
    }
    // Top-level files (favicon, robots.txt) are served as they are;
    // everything else is a route of the app.
    if !path.is_empty()
        && !path.contains('/')
        && path != "index.html"
        && let Some(file) = Assets::get(path)
    {
        {
            return file_response(
                path,
                file.data.into_owned(),
                None,
                "no-cache",
                headers,
                &file.metadata,
            );
        }
    }
    index(headers)
}

fn index(headers: &HeaderMap) -> Response {
    let Some(file) = Assets::get("index.html") else {
        return Error::not_found("this server was built without the dashboard").into_response();
    };
    let mut response = file_response(
        "index.html",
        file.data.into_owned(),
        None,
        "no-cache",
        headers,
        &file.metadata,
    );
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

fn asset(path: &str, headers: &HeaderMap) -> Option<Response> {
    // The precompressed siblings are an implementation detail, not URLs.
    if path.ends_with(".gz") || path.ends_with(".br") {
        return None;
    }
    let plain = Assets::get(path)?;
    let accepts = |coding: &str| {
        headers
            .get_all(header::ACCEPT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|part| {
                let mut it = part.split(';');
                let name = it.next().unwrap_or("").trim();
                let refused = it.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
                name.eq_ignore_ascii_case(coding) && !refused
            })
    };
    for coding in ["br", "gzip"] {
        let suffix = if coding == "br" { "br" } else { "gz" };
        if accepts(coding)
            && let Some(encoded) = Assets::get(&format!("{path}.{suffix}"))
        {
            {
                return Some(file_response(
                    path,
                    encoded.data.into_owned(),
                    Some(coding),
                    IMMUTABLE,
                    headers,
                    &plain.metadata,
                ));
            }
        }
    }
    Some(file_response(
        path,
        plain.data.into_owned(),
        None,
        IMMUTABLE,
        headers,
        &plain.metadata,
    ))
}

fn file_response(
    path: &str,
    body: Vec<u8>,
    encoding: Option<&'static str>,
    cache: &'static str,
    request: &HeaderMap,
    metadata: &rust_embed::Metadata,
) -> Response {
    let hash = metadata.sha256_hash();
    let mut etag = String::with_capacity(40);
    etag.push('"');
    for b in &hash[..12] {
        etag.push_str(&format!("{b:02x}"));
    }
    if let Some(coding) = encoding {
        etag.push('-');
        etag.push_str(coding);
    }
    etag.push('"');
    let matches = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        body.into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(path)));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Some(coding) = encoding {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
    }
    response
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map_or("", |(_, ext)| ext) {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "wasm" => "application/wasm",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
