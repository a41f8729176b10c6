//! The portal: the built single-page app in `--ui-dir` (default `ui/dist`), served at `/`.
//!
//! Every request no route matched ends up here:
//! - API paths (`/graphql/...`, `/export/...`, `/v1/...`, ...) and methods other than GET/HEAD keep the
//!   JSON `NOT_FOUND` every API client expects;
//! - a file of the portal (`/`, `/assets/index-3f2a.js`, `/favicon.svg`) is served as it is;
//! - any other path asked for by a browser navigation (`Accept: text/html`) gets `index.html`, so deep
//!   links like `/calls/01J...` load the app, which routes on the client;
//! - anything else is the JSON `NOT_FOUND`.
//!
//! When the portal is not built, pages say how to build it; the API works regardless. The directory
//! is read on every request, so a rebuild shows without a restart.
//!
//! Every portal response carries a Content-Security-Policy that allows only the portal's own files
//! (scripts, styles, the microphone worklet) and connections to this origin (the API and its
//! WebSockets), refuses framing (`frame-ancestors 'none'`, and `X-Frame-Options: DENY` for older
//! browsers), sends no referrer, and lets only this origin ask for the microphone.

use std::path::Path;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt as _;
use tower_http::services::{ServeDir, ServeFile};

use super::HttpState;
use crate::error::{ApiError, ErrorCode};

/// Path prefixes that belong to the API: never answered with the portal.
const API_PREFIXES: [&str; 6] = [
    "/graphql", "/export", "/healthz", "/readyz", "/metrics", "/v1",
];

/// Vite puts content-hashed files here: they never change, so browsers may keep them for good.
const HASHED_ASSETS: &str = "/assets/";

/// The portal's Content-Security-Policy: its own files only; the API and live calls on this origin
/// (`'self'` covers same-origin `ws:`/`wss:`); SVG icons may be data URLs; no plugins, no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; font-src 'self'; connect-src 'self'; media-src 'self' blob:; worker-src 'self'; \
object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const NOT_BUILT: &str = "The voxedge portal is not built.\n\n\
Build it with `npm ci && npm run build` in ui/ (scripts/start does this), or point --ui-dir\n\
(VOXEDGE_UI_DIR) at a built copy. The API works meanwhile: /graphql, /healthz, /readyz, /metrics.\n";

/// The router's fallback: portal files, the SPA's `index.html`, or the API's `NOT_FOUND`.
pub async fn fallback(State(state): State<HttpState>, request: Request) -> Response {
    let path = request.uri().path();
    let readable = matches!(*request.method(), Method::GET | Method::HEAD);
    if !readable || is_api_path(path) {
        return no_such_route();
    }
    let hashed = path.starts_with(HASHED_ASSETS);
    let root = path == "/";
    let navigation = accepts_html(&request);
    let dir = state.app.config.ui_dir.as_path();
    let response = if navigation {
        serve(
            ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html"))),
            request,
        )
        .await
    } else {
        serve(ServeDir::new(dir), request).await
    };
    let response = match response.status() {
        StatusCode::NOT_FOUND if navigation || root => not_built(dir),
        StatusCode::NOT_FOUND => return no_such_route(),
        _ => with_cache_control(response, hashed),
    };
    with_security_headers(response)
}

fn with_security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        "permissions-policy",
        HeaderValue::from_static("microphone=(self), camera=(), geolocation=(), payment=()"),
    );
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// Runs a `tower-http` file service (they never fail: I/O errors become 404/500 responses).
async fn serve<S>(service: S, request: Request) -> Response
where
    S: tower::Service<Request, Error = std::convert::Infallible>,
    S::Response: IntoResponse,
{
    match service.oneshot(request).await {
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    }
}

fn is_api_path(path: &str) -> bool {
    API_PREFIXES.iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// A browser navigating to a page asks for HTML; `fetch`, `<script>` and API clients do not.
fn accepts_html(request: &Request) -> bool {
    request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// Hashed assets are immutable; everything else (above all `index.html`, which names the current
/// assets) is revalidated so a new build shows at once.
fn with_cache_control(mut response: Response, hashed: bool) -> Response {
    let value = if hashed && response.status() == StatusCode::OK {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    response
}

fn not_built(dir: &Path) -> Response {
    tracing::debug!(ui_dir = %dir.display(), "portal not built");
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from(NOT_BUILT),
    )
        .into_response()
}

fn no_such_route() -> Response {
    ApiError::new(ErrorCode::NotFound, "no such route").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_are_whole_segments() {
        for api in [
            "/graphql",
            "/graphql/x",
            "/v1",
            "/v1/realtime",
            "/export/calls.csv",
            "/metrics",
        ] {
            assert!(is_api_path(api), "{api}");
        }
        for page in [
            "/",
            "/agents",
            "/v1x",
            "/graphqlish",
            "/calls/01J",
            "/metricsboard",
        ] {
            assert!(!is_api_path(page), "{page}");
        }
    }
}
