//! Access hardening, tried from the outside as an attacker would, against a real server on port 0:
//! identity abuse (aliased sign-ups, invitation password guessing, session trees and lifetimes, key
//! revocation rules), GraphQL WebSockets that re-check who is on the other end, and the rest of the
//! list (the session cookie and its CSRF checks, `/metrics` behind a token, security headers, GraphQL
//! document limits, cursors, key-id timing).

#[path = "../support/mod.rs"]
mod support;

mod http;
mod identity;
mod sessions;
mod websockets;

use serde_json::{Value, json};
use support::{AUTH_FIELDS, TestServer, TestUser};

/// Runs `mutation` with an access token, expecting it to succeed; returns its `data`.
pub async fn ok(server: &TestServer, credential: &str, query: &str, variables: Value) -> Value {
    let (status, body) = server.gql(Some(credential), query, variables).await;
    assert!(
        status.is_success() && body["errors"].is_null(),
        "{query}: {status} {body}"
    );
    body["data"].clone()
}

/// Invites `email` into `owner`'s tenant with `role`; returns the invitation token.
pub async fn invite(server: &TestServer, owner: &TestUser, email: &str, role: &str) -> String {
    let data = ok(
        server,
        &owner.access,
        "mutation($e: String!, $r: Role!) { inviteMember(input: {email: $e, role: $r}) { token } }",
        json!({ "e": email, "r": role }),
    )
    .await;
    data["inviteMember"]["token"]
        .as_str()
        .expect("invite token")
        .to_string()
}

/// `user` (signed in) joins `owner`'s tenant as `role`; returns the session there.
pub async fn join(server: &TestServer, owner: &TestUser, user: &TestUser, role: &str) -> Value {
    let token = invite(server, owner, &user.email, role).await;
    let data = ok(
        server,
        &user.access,
        &format!(
            "mutation($i: AcceptInviteInput!) {{ acceptInvite(input: $i) {{ {AUTH_FIELDS} }} }}"
        ),
        json!({ "i": { "token": token } }),
    )
    .await;
    data["acceptInvite"].clone()
}

/// The string at `value[key]`.
pub fn text(value: &Value, key: &str) -> String {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("no `{key}` in {value}"))
        .to_string()
}
