//! The rest of the list, over plain HTTP: the refresh token as an HttpOnly cookie with CSRF checks,
//! `/metrics` behind a token, security headers, GraphQL document limits, checked cursors, and key ids
//! that timing does not reveal.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use super::support::{self, AUTH_FIELDS, PASSWORD, TestServer, error_code};
use super::{ok, text};

const COOKIE: &str = "__Host-voxedge_refresh";

/// A GraphQL POST with extra headers: status, response headers, body.
async fn post(
    server: &TestServer,
    headers: &[(&str, &str)],
    query: &str,
    variables: Value,
) -> (StatusCode, HeaderMap, Value) {
    let mut request = server
        .client
        .post(server.url("/graphql"))
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": query, "variables": variables }));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.json().await.unwrap())
}

/// The session cookie a response sets: its value and attributes.
fn set_cookie(headers: &HeaderMap) -> Option<(String, String)> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let (pair, attributes) = v.split_once(';').unwrap_or((v, ""));
            let (name, value) = pair.split_once('=')?;
            (name == COOKIE).then(|| (value.to_string(), attributes.to_string()))
        })
}

#[tokio::test]
async fn the_portal_keeps_its_refresh_token_in_an_http_only_cookie_guarded_against_csrf() {
    let server = support::spawn().await;
    let host = server.addr.to_string();
    let portal = [("x-voxedge-csrf", "1")];
    let sign_up = format!("mutation($i: SignUpInput!) {{ signUp(input: $i) {{ {AUTH_FIELDS} }} }}");
    let (status, headers, body) = post(
        &server,
        &portal,
        &sign_up,
        json!({ "i": { "email": "ada@example.com", "password": PASSWORD, "tenantName": "Acme" } }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["data"]["signUp"]["refreshToken"].is_null(),
        "a cookie-mode client never sees the token: {body}"
    );
    let (cookie, attributes) = set_cookie(&headers).expect("the session cookie is set");
    assert!(cookie.starts_with("vxr_"));
    for attribute in [
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/",
        "Max-Age=",
    ] {
        assert!(attributes.contains(attribute), "{attributes}");
    }
    let jar = format!("{COOKIE}={cookie}");

    // Refresh from the cookie: the same-origin portal, with the CSRF header, gets a new cookie.
    let refresh = format!("mutation {{ refreshSession {{ {AUTH_FIELDS} }} }}");
    let (_, headers, body) = post(
        &server,
        &[
            ("x-voxedge-csrf", "1"),
            ("cookie", &jar),
            ("origin", &format!("http://{host}")),
            ("sec-fetch-site", "same-origin"),
        ],
        &refresh,
        json!({}),
    )
    .await;
    assert!(
        body["data"]["refreshSession"]["accessToken"].is_string(),
        "{body}"
    );
    let (rotated, _) = set_cookie(&headers).expect("a new cookie");
    assert_ne!(rotated, cookie);
    let jar = format!("{COOKIE}={rotated}");

    // A cross-site request carrying the cookie is refused, and the cookie is not spent.
    let cross_site = [
        vec![("cookie", jar.as_str())],
        vec![
            ("cookie", jar.as_str()),
            ("x-voxedge-csrf", "1"),
            ("origin", "https://evil.example"),
        ],
        vec![
            ("cookie", jar.as_str()),
            ("x-voxedge-csrf", "1"),
            ("sec-fetch-site", "cross-site"),
        ],
    ];
    for headers in &cross_site {
        let (_, _, body) = post(&server, headers, &refresh, json!({})).await;
        assert_eq!(
            error_code(&body),
            "CSRF_CHECK_FAILED",
            "{headers:?}: {body}"
        );
    }
    let (_, _, body) = post(
        &server,
        &[("cookie", &jar), ("x-voxedge-csrf", "1")],
        "mutation { logout { sessionId } }",
        json!({}),
    )
    .await;
    assert!(body["data"]["logout"]["sessionId"].is_string(), "{body}");
    // Signed out: the cookie is cleared and the token is dead.
    let (_, headers, body) = post(
        &server,
        &[("cookie", &jar), ("x-voxedge-csrf", "1")],
        &refresh,
        json!({}),
    )
    .await;
    assert_eq!(error_code(&body), "TOKEN_REVOKED", "{body}");
    let (value, attributes) = set_cookie(&headers).expect("cleared");
    assert!(value.is_empty() && attributes.contains("Max-Age=0"));

    // API clients (no CSRF header) keep the token in the body and get no cookie.
    let (_, headers, body) = post(
        &server,
        &[],
        "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { refreshToken } }",
        json!({ "e": "ada@example.com", "p": PASSWORD }),
    )
    .await;
    assert!(text(&body["data"]["login"], "refreshToken").starts_with("vxr_"));
    assert!(set_cookie(&headers).is_none());
}

#[tokio::test]
async fn metrics_can_require_a_bearer_token() {
    let server = support::spawn_with(|c| {
        c.metrics_token = Some(voxedge::redact::Secret::new("scrape-secret-123".into()));
    })
    .await;
    let get = |token: Option<&'static str>| {
        let mut request = server.client.get(server.url("/metrics"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let response = get(None).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    let response = get(Some("scrape-secret-12")).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), "INVALID_TOKEN");
    let response = get(Some("scrape-secret-123")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("voxedge_"));
    // Without a token configured it stays open (tests/ops.rs).
}

#[tokio::test]
async fn portal_responses_carry_security_headers() {
    let ui = tempfile::tempdir().unwrap();
    std::fs::write(
        ui.path().join("index.html"),
        "<!doctype html><title>voxedge</title>",
    )
    .unwrap();
    let ui_dir = ui.path().to_path_buf();
    let server = support::spawn_with(move |c| c.ui_dir = ui_dir).await;
    for path in ["/", "/calls/01J"] {
        let response = server
            .client
            .get(server.url(path))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{csp}");
        }
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "no-referrer");
    }
    let (_, headers, _) = post(&server, &[], "{ __typename }", json!({})).await;
    assert_eq!(
        headers["x-content-type-options"], "nosniff",
        "API responses too"
    );
}

#[tokio::test]
async fn graphiql_cannot_be_framed() {
    let server = support::spawn_with(|c| c.graphql.graphiql = true).await;
    let response = server
        .client
        .get(server.url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{headers:?}"
    );
    assert_eq!(headers["content-security-policy"], "frame-ancestors 'none'");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn documents_are_limited_in_aliases_and_directives() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let aliases: String = (0..31).map(|i| format!(" a{i}: __typename")).collect();
    let (status, body) = server
        .gql(Some(&acme.key), &format!("{{{aliases} }}"), json!({}))
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "TOO_MANY_ALIASES"),
        "{body}"
    );
    let (status, _) = server
        .gql(
            Some(&acme.key),
            "{ a: __typename b: __typename }",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let directives = " @include(if: true)".repeat(6);
    let (status, body) = server
        .gql(
            Some(&acme.key),
            &format!("{{ __typename{directives} }}"),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "TOO_MANY_DIRECTIVES"),
        "{body}"
    );
    // Fragments spread inside fragments cost what they expand to.
    let mut query = String::from("{ ...F0 }");
    for i in 0..20 {
        query.push_str(&format!(
            " fragment F{i} on Query {{ ...F{} ...F{} }}",
            i + 1,
            i + 1
        ));
    }
    query.push_str(" fragment F20 on Query { __typename }");
    let started = Instant::now();
    let (status, body) = server.gql(Some(&acme.key), &query, json!({})).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "QUERY_TOO_COMPLEX"),
        "{body}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_search_cursor_out_of_range_is_invalid_not_wrapped() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let search = "query($a: String) { searchTranscripts(query: \"hello\", after: $a) { nodes { snippet } } }";
    for cursor in [
        "o:18446744073709551615",
        "o:9223372036854775807",
        "o:-3",
        "nonsense",
    ] {
        let (_, body) = server
            .gql(Some(&acme.key), search, json!({ "a": cursor }))
            .await;
        assert_eq!(error_code(&body), "INVALID_INPUT", "{cursor}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["fields"][0]["code"], "INVALID_CURSOR",
            "{body}"
        );
    }
    let data = ok(&server, &acme.key, search, json!({ "a": "o:41" })).await;
    assert_eq!(data["searchTranscripts"]["nodes"], json!([]));
}

/// Time of one request authenticating with `key` (refused).
async fn auth_time(server: &TestServer, key: &str) -> Duration {
    let started = Instant::now();
    let (status, body) = server.gql(Some(key), "{ __typename }", json!({})).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "INVALID_API_KEY"),
        "{body}"
    );
    started.elapsed()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

#[tokio::test]
async fn unknown_key_ids_take_as_long_as_wrong_secrets() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    // The same shape as a real key: this tenant, another 12-character id, a 32-byte secret.
    let id = acme.key.split('_').nth(2).unwrap();
    // The secret is base64url: it may hold `_` itself.
    let secret = acme.key.splitn(4, '_').nth(3).unwrap();
    let wrong_secret = format!("vxk_{}_{id}_{}", acme.id, "A".repeat(secret.len()));
    let unknown_id = format!("vxk_{}_{}_{secret}", acme.id, "zzzzzzzzzzzz");
    let unknown_tenant = format!("vxk_{}_{id}_{secret}", voxedge::db::TenantId::generate());
    // Warm up (the dummy hash is made once).
    auth_time(&server, &unknown_id).await;
    // Interleaved, so the load of a shared machine weighs on every kind alike. Without the dummy
    // verification an unknown key would skip the hash a wrong secret costs.
    let kinds = [&wrong_secret, &unknown_id, &unknown_tenant];
    let mut times: [Vec<Duration>; 3] = Default::default();
    for _ in 0..25 {
        for (i, key) in kinds.iter().enumerate() {
            times[i].push(auth_time(&server, key).await);
        }
    }
    let [wrong, id, tenant] = times.map(median);
    for (what, unknown) in [("key id", id), ("tenant", tenant)] {
        assert!(
            unknown * 3 > wrong,
            "an unknown {what} answers in {unknown:?}, a wrong secret in {wrong:?}"
        );
    }
}

#[tokio::test]
async fn a_key_hashed_with_argon2id_still_works_and_is_rehashed_on_first_use() {
    use argon2::password_hash::PasswordHasher as _;
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let id = acme.key.split('_').nth(2).unwrap().to_string();
    let secret = acme.key.splitn(4, '_').nth(3).unwrap();
    // How keys were stored before SHA-256.
    let params = argon2::Params::new(4096, 1, 1, None).unwrap();
    let old = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password(secret.as_bytes())
        .unwrap()
        .to_string();
    let db = server.state.tenants.get(acme.id).await.unwrap();
    let stored_hash = |db: voxedge::db::Database, id: String| async move {
        db.read(move |c| {
            let hash = c.query_row(
                "select secret_hash from api_keys where id = ?1",
                [id],
                |r| r.get::<_, String>(0),
            )?;
            Ok::<_, voxedge::db::StorageError>(hash)
        })
        .await
        .unwrap()
    };
    let (key_id, hash) = (id.clone(), old.clone());
    db.write(move |tx| {
        tx.execute(
            "update api_keys set secret_hash = ?1 where id = ?2",
            [hash, key_id],
        )?;
        Ok::<_, voxedge::db::StorageError>(())
    })
    .await
    .unwrap();
    server.state.auth.forget_tenant_keys(acme.id);

    let data = ok(&server, &acme.key, "{ viewer { role } }", json!({})).await;
    assert_eq!(data["viewer"]["role"], "OWNER");
    let rehashed = stored_hash(db.clone(), id.clone()).await;
    assert!(rehashed.starts_with("$sha256$"), "{rehashed}");
    // The new hash verifies the same key (from the database, not the cache), and only that key.
    server.state.auth.forget_tenant_keys(acme.id);
    let data = ok(&server, &acme.key, "{ viewer { role } }", json!({})).await;
    assert_eq!(data["viewer"]["role"], "OWNER");
    let wrong = format!("vxk_{}_{id}_{}", acme.id, "A".repeat(secret.len()));
    let (status, body) = server.gql(Some(&wrong), "{ __typename }", json!({})).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "INVALID_API_KEY")
    );
    assert_eq!(stored_hash(db, id).await, rehashed);
}
