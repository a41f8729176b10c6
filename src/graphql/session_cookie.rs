//! The portal's refresh token, kept in an HttpOnly cookie that scripts cannot read.
//!
//! A client that sends the `X-Voxedge-CSRF` header (any value; the portal sends it on every request)
//! manages its session with the cookie: `signUp`, `login`, `acceptInvite`, `switchTenant` and
//! `refreshSession` set `__Host-voxedge_refresh` (HttpOnly, Secure, SameSite=Strict, Path=/, expiring
//! with the refresh token) and leave `refreshToken` out of the response body; `logout` and
//! `logoutEverywhere` clear it. Clients without the header (API clients, scripts) get the token in the
//! body as before and no cookie.
//!
//! `refreshSession` and `logout` called without a token argument use the cookie, and then only for a
//! request that passes the CSRF checks: it carries the `X-Voxedge-CSRF` header (a cross-site page cannot
//! set a custom header without a CORS grant, which this server never gives), its `Sec-Fetch-Site` (when
//! the browser sends one) is `same-origin`, and its `Origin` (when sent) is this server's. Anything
//! else fails with `CSRF_CHECK_FAILED`.

use async_graphql::Context;
use axum::http::{HeaderMap, HeaderValue, header};

use crate::error::{ApiError, ErrorCode};
use crate::identity::sessions::SignedIn;
use crate::redact::Secret;

/// The cookie's name. `__Host-` makes browsers refuse it unless Secure, host-only and at `/`, so a
/// sibling subdomain cannot plant one.
pub const COOKIE: &str = "__Host-voxedge_refresh";

/// The header that marks a cookie-mode client and passes the CSRF check.
pub const CSRF_HEADER: &str = "x-voxedge-csrf";

/// What an HTTP request says about the refresh-token cookie (request data, attached by the HTTP edge).
#[derive(Debug, Clone, Default)]
pub struct CookieSession {
    /// The client keeps its refresh token in the cookie (it sent the CSRF header).
    pub cookie_mode: bool,
    /// The refresh token the cookie carried.
    refresh_token: Option<Secret<String>>,
    /// Why the cookie may not be used for this request, if it may not.
    csrf_refusal: Option<&'static str>,
}

impl CookieSession {
    /// Reads the cookie and runs the CSRF checks.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        Self {
            cookie_mode: headers.get(CSRF_HEADER).is_some_and(|v| !v.is_empty()),
            refresh_token: read_cookie(headers, COOKIE).map(Secret::new),
            csrf_refusal: csrf_refusal(headers),
        }
    }

    /// The refresh token to use: the argument when given, else the cookie's — for a request that
    /// passes the CSRF checks.
    pub fn refresh_token(&self, argument: Option<String>) -> Result<Secret<String>, ApiError> {
        if let Some(token) = argument {
            return Ok(Secret::new(token));
        }
        let Some(token) = &self.refresh_token else {
            return Err(ApiError::new(
                ErrorCode::Unauthenticated,
                "no refresh token: pass `refreshToken`, or send the session cookie",
            ));
        };
        if let Some(why) = self.csrf_refusal {
            return Err(ApiError::new(ErrorCode::CsrfCheckFailed, why));
        }
        Ok(token.clone())
    }
}

/// Whether the session cookie may not be used for this request, and why.
fn csrf_refusal(headers: &HeaderMap) -> Option<&'static str> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if text(CSRF_HEADER).is_none_or(str::is_empty) {
        return Some("a request using the session cookie must send the X-Voxedge-CSRF header");
    }
    if text("sec-fetch-site").is_some_and(|site| !matches!(site, "same-origin" | "none")) {
        return Some("the session cookie is not accepted from another site");
    }
    if let Some(origin) = text(header::ORIGIN.as_str()) {
        let own = text(header::HOST.as_str()).unwrap_or_default();
        let origin_host = origin
            .split_once("://")
            .map_or("", |(_, rest)| rest.trim_end_matches('/'));
        if !origin_host.eq_ignore_ascii_case(own) {
            return Some("the session cookie is not accepted from another origin");
        }
    }
    None
}

fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, value)| *key == name && !value.is_empty())
        .map(|(_, value)| value.to_string())
}

/// Sets the cookie to a new session's refresh token, for a cookie-mode client. Returns whether it did
/// (then the token stays out of the response body).
pub fn deliver(ctx: &Context<'_>, signed_in: &SignedIn, now_ms: i64) -> bool {
    if !cookie_mode(ctx) {
        return false;
    }
    let max_age = (signed_in.refresh_expires_at - now_ms).max(0) / 1000;
    let cookie = format!(
        "{COOKIE}={}; Max-Age={max_age}; Path=/; HttpOnly; Secure; SameSite=Strict",
        signed_in.refresh_token.expose()
    );
    ctx.append_http_header(header::SET_COOKIE, cookie);
    true
}

/// Clears the cookie, for a cookie-mode client.
pub fn clear(ctx: &Context<'_>) {
    if cookie_mode(ctx) {
        ctx.append_http_header(
            header::SET_COOKIE,
            format!("{COOKIE}=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Strict"),
        );
    }
}

fn cookie_mode(ctx: &Context<'_>) -> bool {
    ctx.data_opt::<CookieSession>()
        .is_some_and(|c| c.cookie_mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    axum::http::HeaderName::from_static(k),
                    HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn the_cookie_is_used_only_by_same_origin_requests_with_the_header() {
        let cookie = ("cookie", "a=b; __Host-voxedge_refresh=vxr_x; c=d");
        let ok = CookieSession::from_headers(&headers(&[
            cookie,
            ("x-voxedge-csrf", "1"),
            ("host", "app.example"),
            ("origin", "https://app.example"),
            ("sec-fetch-site", "same-origin"),
        ]));
        assert!(ok.cookie_mode);
        assert_eq!(ok.refresh_token(None).unwrap().expose(), "vxr_x");
        assert_eq!(ok.refresh_token(Some("t".into())).unwrap().expose(), "t");

        for refused in [
            headers(&[cookie, ("host", "app.example")]),
            headers(&[
                cookie,
                ("x-voxedge-csrf", "1"),
                ("host", "app.example"),
                ("sec-fetch-site", "cross-site"),
            ]),
            headers(&[
                cookie,
                ("x-voxedge-csrf", "1"),
                ("host", "app.example"),
                ("origin", "https://evil.example"),
            ]),
        ] {
            let session = CookieSession::from_headers(&refused);
            assert_eq!(
                session.refresh_token(None).unwrap_err().code,
                ErrorCode::CsrfCheckFailed,
                "{refused:?}"
            );
        }
        let none = CookieSession::from_headers(&headers(&[("x-voxedge-csrf", "1")]));
        assert_eq!(
            none.refresh_token(None).unwrap_err().code,
            ErrorCode::Unauthenticated
        );
    }
}
