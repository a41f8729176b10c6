//! Sign-in sessions as a tree: a session switched from another ends with it, signing out ends the whole
//! sign-in, `logoutEverywhere` ends every session, and no session outlives its absolute lifetime.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::support::{self, AUTH_FIELDS, TestServer, error_code};
use super::{join, ok, text};

const VIEWER: &str = "{ viewer { role tenant { id } } }";

fn switch() -> String {
    format!("mutation($t: ID!) {{ switchTenant(tenantId: $t) {{ {AUTH_FIELDS} }} }}")
}

fn refresh() -> String {
    format!("mutation($t: String!) {{ refreshSession(refreshToken: $t) {{ {AUTH_FIELDS} }} }}")
}

const LOGOUT: &str = "mutation($t: String!) { logout(refreshToken: $t) { sessionId } }";

/// The access token's verdict: `"OK"` or the error code.
async fn verdict(server: &TestServer, access: &str) -> String {
    let (status, body) = server.gql(Some(access), VIEWER, json!({})).await;
    if status == StatusCode::OK && body["errors"].is_null() {
        "OK".into()
    } else {
        error_code(&body).to_string()
    }
}

async fn refreshed(server: &TestServer, refresh_token: &str) -> Result<Value, String> {
    let (_, body) = server
        .gql(None, &refresh(), json!({ "t": refresh_token }))
        .await;
    if body["errors"].is_null() {
        Ok(body["data"]["refreshSession"].clone())
    } else {
        Err(error_code(&body).to_string())
    }
}

#[tokio::test]
async fn switched_sessions_end_with_the_session_they_were_made_from() {
    let server = support::spawn().await;
    let ada = server.sign_up("ada@example.com", "Acme").await;
    let bob = server.sign_up("bob@example.com", "Bob Co").await;
    join(&server, &ada, &bob, "DEVELOPER").await;

    // Switching to the tenant one is already in is refused.
    let (_, body) = server
        .gql(Some(&bob.access), &switch(), json!({ "t": bob.tenant_id }))
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");

    // A session switched from Bob's sign-in, and one switched from that.
    let child = ok(
        &server,
        &bob.access,
        &switch(),
        json!({ "t": ada.tenant_id }),
    )
    .await;
    let child = child["switchTenant"].clone();
    let grandchild = ok(
        &server,
        &text(&child, "accessToken"),
        &switch(),
        json!({ "t": bob.tenant_id }),
    )
    .await["switchTenant"]
        .clone();
    assert_eq!(verdict(&server, &text(&child, "accessToken")).await, "OK");
    assert_eq!(
        verdict(&server, &text(&grandchild, "accessToken")).await,
        "OK"
    );

    // The parent's refresh token is replayed (a thief): the parent and everything switched from it end.
    let rotated = refreshed(&server, &bob.refresh).await.expect("first use");
    assert_eq!(
        refreshed(&server, &bob.refresh).await.unwrap_err(),
        "REFRESH_TOKEN_REUSED"
    );
    for access in [
        text(&rotated, "accessToken"),
        text(&child, "accessToken"),
        text(&grandchild, "accessToken"),
    ] {
        assert_eq!(verdict(&server, &access).await, "TOKEN_REVOKED");
    }
    assert_eq!(
        refreshed(&server, &text(&grandchild, "refreshToken"))
            .await
            .unwrap_err(),
        "TOKEN_REVOKED"
    );
}

#[tokio::test]
async fn signing_out_of_a_switched_session_ends_the_whole_sign_in_only() {
    let server = support::spawn().await;
    let ada = server.sign_up("ada@example.com", "Acme").await;
    let bob = server.sign_up("bob@example.com", "Bob Co").await;
    join(&server, &ada, &bob, "VIEWER").await;
    let other_sign_in = server.login_ok("bob@example.com").await;
    let child = ok(
        &server,
        &bob.access,
        &switch(),
        json!({ "t": ada.tenant_id }),
    )
    .await;
    let child = child["switchTenant"].clone();

    ok(
        &server,
        &text(&child, "accessToken"),
        LOGOUT,
        json!({ "t": text(&child, "refreshToken") }),
    )
    .await;
    assert_eq!(verdict(&server, &bob.access).await, "TOKEN_REVOKED");
    assert_eq!(
        verdict(&server, &text(&child, "accessToken")).await,
        "TOKEN_REVOKED"
    );
    assert_eq!(
        verdict(&server, &other_sign_in.access).await,
        "OK",
        "another sign-in of the same user is not affected"
    );
}

#[tokio::test]
async fn logout_everywhere_ends_every_session_of_the_user() {
    let server = support::spawn().await;
    let ada = server.sign_up("ada@example.com", "Acme").await;
    let bob = server.sign_up("bob@example.com", "Bob Co").await;
    join(&server, &ada, &bob, "VIEWER").await;
    let laptop = server.login_ok("bob@example.com").await;
    let phone = server.login_ok("bob@example.com").await;
    let switched = ok(
        &server,
        &phone.access,
        &switch(),
        json!({ "t": ada.tenant_id }),
    )
    .await;
    let switched = text(&switched["switchTenant"], "accessToken");

    let data = ok(
        &server,
        &laptop.access,
        "mutation { logoutEverywhere { sessionsEnded } }",
        json!({}),
    )
    .await;
    // Sign-up, the invitation's session, laptop, phone and the switched one.
    assert_eq!(data["logoutEverywhere"]["sessionsEnded"], 5, "{data}");
    for access in [&bob.access, &laptop.access, &phone.access, &switched] {
        assert_eq!(verdict(&server, access).await, "TOKEN_REVOKED");
    }
    assert_eq!(
        refreshed(&server, &phone.refresh).await.unwrap_err(),
        "TOKEN_REVOKED"
    );
    assert_eq!(
        verdict(&server, &ada.access).await,
        "OK",
        "other users keep theirs"
    );
    let acme = server.tenant("Acme Keys").await;
    let (_, body) = server
        .gql(
            Some(&acme.key),
            "mutation { logoutEverywhere { sessionsEnded } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "API keys have no sessions");
}

#[tokio::test]
async fn sessions_end_at_their_absolute_lifetime_however_often_refreshed() {
    let server = support::spawn_with(|c| {
        c.identity.session_lifetime = Duration::from_secs(3600);
        c.identity.access_ttl = Duration::from_secs(900);
    })
    .await;
    let ada = server.sign_up("ada@example.com", "Acme").await;
    let bob = server.sign_up("bob@example.com", "Bob Co").await;
    join(&server, &ada, &bob, "VIEWER").await;
    let clock = &server.state.clock;

    let mut refresh_token = bob.refresh.clone();
    // Refreshed every 20 minutes, the session still ends an hour after sign-in.
    for _ in 0..2 {
        clock.advance(Duration::from_secs(20 * 60));
        let rotated = refreshed(&server, &refresh_token).await.expect("refreshed");
        refresh_token = text(&rotated, "refreshToken");
    }
    // At 50 minutes: the access token lives 10 minutes, not 15, and a switched session inherits the end.
    clock.advance(Duration::from_secs(10 * 60));
    let rotated = refreshed(&server, &refresh_token).await.expect("refreshed");
    let expires: chrono::DateTime<chrono::Utc> =
        text(&rotated, "accessTokenExpiresAt").parse().unwrap();
    let left = expires.timestamp_millis() - clock.now_ms();
    assert!((500_000..=600_000).contains(&left), "{left} ms left");
    let child = ok(
        &server,
        &text(&rotated, "accessToken"),
        &switch(),
        json!({ "t": ada.tenant_id }),
    )
    .await["switchTenant"]
        .clone();

    clock.advance(Duration::from_secs(11 * 60));
    assert_eq!(
        refreshed(&server, &text(&rotated, "refreshToken"))
            .await
            .unwrap_err(),
        "TOKEN_EXPIRED"
    );
    assert_eq!(
        refreshed(&server, &text(&child, "refreshToken"))
            .await
            .unwrap_err(),
        "TOKEN_EXPIRED"
    );
    assert_eq!(
        verdict(&server, &text(&child, "accessToken")).await,
        "TOKEN_EXPIRED"
    );
    // Signing in again starts a new hour.
    let again = server.login_ok("bob@example.com").await;
    assert_eq!(verdict(&server, &again.access).await, "OK");
}
