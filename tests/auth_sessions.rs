//! Portal sign-in through the real server: sign-up, login, refresh rotation and reuse detection,
//! sign-out, bad access tokens, API key expiry and last use, and live-call session tokens.

mod support;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{AUTH_FIELDS, PASSWORD, error_code};

const VIEWER: &str =
    "{ viewer { role tenant { id name } user { id email } memberships { tenantId role } } }";

fn refresh_query() -> String {
    format!("mutation($t: String!) {{ refreshSession(refreshToken: $t) {{ {AUTH_FIELDS} }} }}")
}

#[tokio::test]
async fn sign_up_login_refresh_and_reuse_revokes_the_family() {
    let server = support::spawn().await;
    let ada = server
        .sign_up("Ada.Lovelace@Example.com", "Analytical Engines")
        .await;
    let (status, body) = server.gql(Some(&ada.access), VIEWER, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["viewer"]["role"], "OWNER");
    assert_eq!(
        body["data"]["viewer"]["tenant"]["name"],
        "Analytical Engines"
    );
    assert_eq!(
        body["data"]["viewer"]["user"]["email"],
        "Ada.Lovelace@example.com"
    );

    // Email matching ignores case and surrounding spaces; a wrong password says nothing more.
    let login = server.login_ok("  ada.lovelace@EXAMPLE.com ").await;
    assert_eq!(login.tenant_id, ada.tenant_id);
    let (_, body) = server
        .login("ada.lovelace@example.com", "wrong horse battery")
        .await;
    assert_eq!(error_code(&body), "INVALID_CREDENTIALS");
    let (_, body) = server.login("nobody@example.com", PASSWORD).await;
    assert_eq!(error_code(&body), "INVALID_CREDENTIALS");

    // Refresh rotates: a new pair, and the old refresh token is spent.
    let (_, body) = server
        .gql(None, &refresh_query(), json!({ "t": ada.refresh }))
        .await;
    let rotated = &body["data"]["refreshSession"];
    let (access2, refresh2) = (
        rotated["accessToken"]
            .as_str()
            .expect("access token")
            .to_string(),
        rotated["refreshToken"]
            .as_str()
            .expect("refresh token")
            .to_string(),
    );
    assert_ne!(refresh2, ada.refresh);
    let (status, _) = server.gql(Some(&access2), VIEWER, json!({})).await;
    assert_eq!(status, StatusCode::OK);

    // Reusing the spent token (a thief replaying it) revokes the whole family at once.
    let (_, body) = server
        .gql(None, &refresh_query(), json!({ "t": ada.refresh }))
        .await;
    assert_eq!(error_code(&body), "REFRESH_TOKEN_REUSED", "{body}");
    let (_, body) = server
        .gql(None, &refresh_query(), json!({ "t": refresh2 }))
        .await;
    assert_eq!(error_code(&body), "TOKEN_REVOKED", "{body}");
    for access in [&ada.access, &access2] {
        let (status, body) = server.gql(Some(access), VIEWER, json!({})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(error_code(&body), "TOKEN_REVOKED");
    }

    // The other sign-in is another family, untouched; signing it out ends its access token too.
    let (status, _) = server.gql(Some(&login.access), VIEWER, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = server
        .gql(
            None,
            "mutation($t: String!) { logout(refreshToken: $t) { sessionId } }",
            json!({ "t": login.refresh }),
        )
        .await;
    assert!(body["data"]["logout"]["sessionId"].is_string(), "{body}");
    let (status, body) = server.gql(Some(&login.access), VIEWER, json!({})).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "TOKEN_REVOKED")
    );
    let (_, body) = server
        .gql(None, &refresh_query(), json!({ "t": login.refresh }))
        .await;
    assert_eq!(error_code(&body), "TOKEN_REVOKED");
}

#[tokio::test]
async fn sign_up_enforces_password_and_email_rules() {
    let server = support::spawn().await;
    let sign_up = |email: &'static str, password: &'static str| {
        server.gql(
            None,
            "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }",
            json!({ "i": { "email": email, "password": password, "tenantName": "Acme" } }),
        )
    };
    let field_code = |body: &Value| body["errors"][0]["extensions"]["fields"][0]["code"].clone();
    let (_, body) = sign_up("ada@example.com", "short").await;
    assert_eq!(field_code(&body), "TOO_SHORT");
    let (_, body) = sign_up("ada@example.com", "password123").await;
    assert_eq!(field_code(&body), "WEAK_PASSWORD");
    let (_, body) = sign_up("not-an-email", PASSWORD).await;
    assert_eq!(field_code(&body), "INVALID_EMAIL");
    assert!(
        !body.to_string().contains("not-an-email"),
        "input is not echoed: {body}"
    );
    server.sign_up("ada@example.com", "Acme").await;
    let (_, body) = sign_up("ADA@example.COM", PASSWORD).await;
    assert_eq!(error_code(&body), "CONFLICT");
}

#[tokio::test]
async fn expired_tampered_and_wrongly_signed_tokens_are_401() {
    let server = support::spawn().await;
    let ada = server.sign_up("ada@example.com", "Acme").await;
    let bob = server.sign_up("bob@example.com", "Globex").await;
    let parts: Vec<&str> = ada.access.split('.').collect();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(
        claims["tid"], ada.tenant_id,
        "the tenant is bound into the claims"
    );

    // Tampered: Ada's token re-pointed at Bob's tenant, signature kept.
    let mut forged_claims = claims.clone();
    forged_claims["tid"] = json!(bob.tenant_id);
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(forged_claims.to_string()),
        parts[2]
    );
    // Wrongly signed: the same claims under another key, and unsigned (`alg: none`).
    let wrong_key = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &forged_claims,
        &jsonwebtoken::EncodingKey::from_secret(b"not the server's key, 32 bytes!!"),
    )
    .unwrap();
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(forged_claims.to_string())
    );
    for (token, code) in [
        (tampered.as_str(), "INVALID_TOKEN"),
        (&wrong_key, "INVALID_TOKEN"),
        (&unsigned, "INVALID_TOKEN"),
        ("a.b.c", "INVALID_TOKEN"),
    ] {
        let (status, body) = server.gql(Some(token), VIEWER, json!({})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token}");
        assert_eq!(error_code(&body), code, "{token}: {body}");
    }
    let (status, _) = server.gql(Some(&ada.access), VIEWER, json!({})).await;
    assert_eq!(status, StatusCode::OK);

    // Expired: move the server clock past the access token lifetime (15 minutes by default).
    server.state.clock.advance(Duration::from_secs(15 * 60 + 1));
    let (status, body) = server.gql(Some(&ada.access), VIEWER, json!({})).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "TOKEN_EXPIRED")
    );
    // The refresh token still works and yields a fresh access token.
    let (_, body) = server
        .gql(None, &refresh_query(), json!({ "t": ada.refresh }))
        .await;
    let fresh = body["data"]["refreshSession"]["accessToken"]
        .as_str()
        .expect("fresh");
    let (status, _) = server.gql(Some(fresh), VIEWER, json!({})).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn api_keys_expire_and_record_their_last_use() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let in_an_hour = chrono::Utc::now() + chrono::Duration::hours(1);
    let (_, body) = server
        .gql(
            Some(&acme.key),
            "mutation($at: DateTime) { createApiKey(input: {name: \"ci\", role: VIEWER, expiresAt: $at}) { secret apiKey { id expiresAt lastUsedAt } } }",
            json!({ "at": in_an_hour.to_rfc3339() }),
        )
        .await;
    let created = &body["data"]["createApiKey"];
    assert!(created["apiKey"]["lastUsedAt"].is_null(), "{body}");
    let secret = created["secret"].as_str().unwrap();
    let (status, _) = server.gql(Some(secret), VIEWER, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, listed) = server
        .gql(
            Some(&acme.key),
            "{ apiKeys { nodes { id lastUsedAt expiresAt } } }",
            json!({}),
        )
        .await;
    let key = listed["data"]["apiKeys"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == created["apiKey"]["id"])
        .cloned()
        .unwrap();
    assert!(key["lastUsedAt"].is_string(), "last use recorded: {key}");
    assert!(key["expiresAt"].is_string());

    // Two hours later the key has expired, cached verdict or not.
    server.state.clock.advance(Duration::from_secs(2 * 3600));
    let (status, body) = server.gql(Some(secret), VIEWER, json!({})).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "API_KEY_EXPIRED")
    );
    let (_, body) = server
        .gql(Some(&acme.key), "mutation($at: DateTime) { createApiKey(input: {name: \"old\", role: VIEWER, expiresAt: $at}) { secret } }", json!({ "at": in_an_hour.to_rfc3339() }))
        .await;
    assert_eq!(
        error_code(&body),
        "INVALID_INPUT",
        "expiry in the (server's) past: {body}"
    );
}

#[tokio::test]
async fn session_tokens_open_one_agents_live_call_and_nothing_else() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let mint = "mutation($a: ID!, $ttl: Int!) { createSessionToken(agentId: $a, ttlSeconds: $ttl) { token expiresAt agentId } }";
    let (_, body) = server
        .gql(
            Some(&acme.key),
            mint,
            json!({ "a": "agent_42", "ttl": 600 }),
        )
        .await;
    let token = body["data"]["createSessionToken"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    assert!(token.starts_with("vxs_"));

    // What the live-call WebSocket will call.
    let grant = server
        .state
        .auth
        .verify_session_token(&token)
        .await
        .expect("valid");
    assert_eq!(
        (grant.tenant_id, grant.agent_id.as_str()),
        (acme.id, "agent_42")
    );

    // GraphQL refuses it, over HTTP and WebSocket alike.
    let (status, body) = server.gql(Some(&token), VIEWER, json!({})).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "INVALID_TOKEN")
    );
    let ws = support::ws::GqlWs::connect(
        &server.ws_url("/graphql"),
        json!({ "Authorization": format!("Bearer {token}") }),
    )
    .await;
    assert!(matches!(
        ws,
        Err(support::ws::Ended::Closed { code: 4403, .. })
    ));

    // At most ten minutes, sane agent ids, and only roles that may start calls.
    for (agent, ttl) in [("agent_42", 601), ("agent_42", 0), ("../etc", 60), ("", 60)] {
        let (_, body) = server
            .gql(Some(&acme.key), mint, json!({ "a": agent, "ttl": ttl }))
            .await;
        assert_eq!(error_code(&body), "INVALID_INPUT", "{agent} {ttl}");
    }
    let viewer = server.key(acme.id, voxedge::model::Role::Viewer).await;
    let (_, body) = server
        .gql(Some(&viewer), mint, json!({ "a": "agent_42", "ttl": 60 }))
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN");
    server.state.clock.advance(Duration::from_secs(601));
    let expired = server
        .state
        .auth
        .verify_session_token(&token)
        .await
        .unwrap_err();
    assert!(
        matches!(expired, voxedge::auth::AuthError::TokenExpired),
        "{expired}"
    );
}
