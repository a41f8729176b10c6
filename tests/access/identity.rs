//! Identity mutations as an attacker uses them: bundled with aliases, repeated from one address, and
//! invitation tokens used to guess an existing account's password; and who may revoke which key.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::support::{self, PASSWORD, TestServer, error_code};
use super::{invite, join, ok, text};
use voxedge::model::Role;

fn count(server: &TestServer, table: &str) -> i64 {
    let conn = rusqlite::Connection::open(server.data_dir.join("catalog.db")).unwrap();
    conn.query_row(&format!("select count(*) from {table}"), [], |r| r.get(0))
        .unwrap()
}

fn tenant_files(server: &TestServer) -> usize {
    std::fs::read_dir(server.data_dir.join("tenants"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "db"))
                .count()
        })
        .unwrap_or(0)
}

/// One request carrying `n` aliased `signUp` fields.
fn aliased_sign_ups(n: usize) -> String {
    let fields: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "s{i}: signUp(input: {{email: \"victim{i}@example.com\", password: \"{PASSWORD}\", tenantName: \"T{i}\"}}) {{ accessToken }}"
            )
        })
        .collect();
    format!("mutation {{ {} }}", fields.join(" "))
}

#[tokio::test]
async fn aliased_sign_ups_are_refused_before_anything_is_created() {
    let server = support::spawn().await;
    let (status, body) = server.gql(None, &aliased_sign_ups(20), json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(error_code(&body), "TOO_MANY_IDENTITY_MUTATIONS", "{body}");
    assert!(body["data"].is_null());
    // The same through a fragment spread twice, and mixed with a sign-in.
    for query in [
        format!(
            "mutation {{ ...F ...F }} fragment F on Mutation {{ signUp(input: {{email: \"x@example.com\", password: \"{PASSWORD}\", tenantName: \"X\"}}) {{ role }} }}"
        ),
        format!(
            "mutation {{ signUp(input: {{email: \"y@example.com\", password: \"{PASSWORD}\", tenantName: \"Y\"}}) {{ role }} login(input: {{email: \"y@example.com\", password: \"{PASSWORD}\"}}) {{ role }} }}"
        ),
    ] {
        let (status, body) = server.gql(None, &query, json!({})).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "TOO_MANY_IDENTITY_MUTATIONS"),
            "{body}"
        );
    }
    assert_eq!(count(&server, "users"), 0, "no account was created");
    assert_eq!(count(&server, "tenants"), 0, "no tenant was created");
    assert_eq!(tenant_files(&server), 0, "no tenant file was created");

    // One sign-up per request works, and creates exactly one of each.
    let (status, body) = server.gql(None, &aliased_sign_ups(1), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((count(&server, "users"), count(&server, "tenants")), (1, 1));
    assert_eq!(tenant_files(&server), 1);
}

#[tokio::test]
async fn each_identity_mutation_counts_against_the_client_ips_budgets() {
    let server = support::spawn_with(|c| {
        c.rate_limits.signups_per_ip_per_hour = 2;
        c.rate_limits.identity_per_ip = 4;
    })
    .await;
    server.sign_up("one@example.com", "One").await;
    server.sign_up("two@example.com", "Two").await;
    // A third sign-up within the hour is refused, whatever the email.
    let (status, body) = server.gql(None, &aliased_sign_ups(1), json!({})).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"),
        "{body}"
    );
    assert_eq!(count(&server, "users"), 2);
    // The identity budget (4 a minute) is spent: 2 sign-ups + the refused one + one sign-in.
    server.login_ok("one@example.com").await;
    let (status, body) = server.login("one@example.com", PASSWORD).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"),
        "{body}"
    );
    // An API key in the header does not buy another budget.
    let acme = server.tenant("Acme").await;
    let (status, body) = server
        .gql(
            Some(&acme.key),
            "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { role } }",
            json!({ "e": "one@example.com", "p": PASSWORD }),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED")
    );
    server.state.clock.advance(Duration::from_secs(61));
    server.login_ok("one@example.com").await;
    let (_, body) = server.gql(None, &aliased_sign_ups(1), json!({})).await;
    assert_eq!(
        error_code(&body),
        "RATE_LIMITED",
        "still two sign-ups an hour"
    );
    server.state.clock.advance(Duration::from_secs(3600));
    let (status, _) = server.gql(None, &aliased_sign_ups(1), json!({})).await;
    assert_eq!(status, StatusCode::OK);
}

const ACCEPT: &str =
    "mutation($t: String!, $p: String) { acceptInvite(input: {token: $t, password: $p}) { role } }";

async fn guess(server: &TestServer, token: &str, password: &str) -> (StatusCode, Value) {
    server
        .gql(None, ACCEPT, json!({ "t": token, "p": password }))
        .await
}

#[tokio::test]
async fn invitation_password_guesses_feed_the_lock_outs_and_lock_the_invitation() {
    let server = support::spawn_with(|c| {
        c.rate_limits.login_account.max_failures = 3;
        c.rate_limits.login_account.lockout = Duration::from_secs(600);
        c.rate_limits.login_ip.max_failures = 6;
        c.rate_limits.login_ip.lockout = Duration::from_secs(300);
    })
    .await;
    let ada = server.sign_up("ada@example.com", "Acme").await;
    // Bob has an account; an attacker holds an invitation for his email and guesses his password.
    server.sign_up("bob@example.com", "Bob Co").await;
    server.sign_up("carol@example.com", "Carol Co").await;
    let token = invite(&server, &ada, "bob@example.com", "VIEWER").await;

    // Twenty guesses in one request are refused outright.
    let aliased = (0..20)
        .map(|i| format!("g{i}: acceptInvite(input: {{token: \"{token}\", password: \"guess number {i}\"}}) {{ role }}"))
        .collect::<Vec<_>>()
        .join(" ");
    let (status, body) = server
        .gql(None, &format!("mutation {{ {aliased} }}"), json!({}))
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "TOO_MANY_IDENTITY_MUTATIONS")
    );

    // One by one, three wrong passwords lock Bob's account: the right one is refused meanwhile, for
    // the invitation and for signing in.
    for i in 0..3 {
        let (_, body) = guess(&server, &token, &format!("wrong password {i}")).await;
        assert_eq!(error_code(&body), "INVALID_CREDENTIALS", "{body}");
    }
    let (status, body) = guess(&server, &token, PASSWORD).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"),
        "{body}"
    );
    let (status, _) = server.login("bob@example.com", PASSWORD).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "the account lock-out"
    );

    // The same address failing elsewhere reaches the IP lock-out (3 invitation + 3 sign-in failures).
    for i in 0..3 {
        let (_, body) = server
            .login("carol@example.com", &format!("wrong password {i}"))
            .await;
        assert_eq!(error_code(&body), "INVALID_CREDENTIALS");
    }
    let (status, body) = server.login("ada@example.com", PASSWORD).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"),
        "the IP lock-out"
    );

    // After the lock-outs, two more wrong guesses (five in all) lock the invitation for good.
    server.state.clock.advance(Duration::from_secs(601));
    for (i, expected) in ["INVALID_CREDENTIALS", "INVITE_LOCKED"].iter().enumerate() {
        let (_, body) = guess(&server, &token, &format!("another wrong one {i}")).await;
        assert_eq!(error_code(&body), *expected, "{body}");
    }
    let (_, body) = guess(&server, &token, PASSWORD).await;
    assert_eq!(
        error_code(&body),
        "INVITE_LOCKED",
        "even the right password: {body}"
    );
    let members = ok(
        &server,
        &ada.access,
        "{ members { nodes { email } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        members["members"]["nodes"].as_array().unwrap().len(),
        1,
        "Bob never joined"
    );
    // A fresh invitation works with the right password.
    let token = invite(&server, &ada, "bob@example.com", "VIEWER").await;
    let (_, body) = guess(&server, &token, PASSWORD).await;
    assert_eq!(body["data"]["acceptInvite"]["role"], "VIEWER", "{body}");
}

const REVOKE: &str = "mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }";
const KEYS: &str = "{ apiKeys(first: 100) { nodes { id role createdBy revokedAt } } }";

/// The id part of `vxk_<tenant>_<id>_<secret>`.
fn key_id(key: &str) -> String {
    key.split('_').nth(2).expect("key id").to_string()
}

#[tokio::test]
async fn revoking_a_key_needs_a_role_that_could_have_granted_it() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let admin = server.key(acme.id, Role::Admin).await;
    let developer = server.key(acme.id, Role::Developer).await;
    let other_developer = server.key(acme.id, Role::Developer).await;

    let (_, body) = server
        .gql(Some(&developer), REVOKE, json!({ "id": key_id(&admin) }))
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    let (_, body) = server
        .gql(Some(&developer), REVOKE, json!({ "id": key_id(&acme.key) }))
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "not the owner's key either");
    let (status, _) = server
        .gql(Some(&admin), "{ viewer { role } }", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "the admin key still works");

    ok(
        &server,
        &developer,
        REVOKE,
        json!({ "id": key_id(&other_developer) }),
    )
    .await;
    ok(&server, &admin, REVOKE, json!({ "id": key_id(&developer) })).await;
    let (status, body) = server
        .gql(Some(&developer), "{ viewer { role } }", json!({}))
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "API_KEY_REVOKED")
    );
}

#[tokio::test]
async fn removing_a_member_revokes_the_keys_they_created_and_the_keys_those_created() {
    let server = support::spawn().await;
    let ada = server.sign_up("ada@example.com", "Acme").await;
    let bob = server.sign_up("bob@example.com", "Bob Co").await;
    let bob_in_acme = join(&server, &ada, &bob, "DEVELOPER").await;
    let bob_access = text(&bob_in_acme, "accessToken");

    let create =
        "mutation($n: String!) { createApiKey(input: {name: $n, role: DEVELOPER}) { secret } }";
    let bobs_key = ok(&server, &bob_access, create, json!({ "n": "bob's CI" })).await;
    let bobs_key = text(&bobs_key["createApiKey"], "secret");
    let grandchild = ok(
        &server,
        &bobs_key,
        create,
        json!({ "n": "made by bob's key" }),
    )
    .await;
    let grandchild = text(&grandchild["createApiKey"], "secret");
    let adas_key = ok(&server, &ada.access, create, json!({ "n": "ada's" })).await;
    let adas_key = text(&adas_key["createApiKey"], "secret");
    // A key Bob made in his own tenant is not Acme's business.
    let bobs_own = ok(&server, &bob.access, create, json!({ "n": "bob co" })).await;
    let bobs_own = text(&bobs_own["createApiKey"], "secret");

    ok(
        &server,
        &ada.access,
        "mutation($u: ID!) { removeMember(userId: $u) { id } }",
        json!({ "u": bob.user_id }),
    )
    .await;
    for key in [&bobs_key, &grandchild] {
        let (status, body) = server
            .gql(Some(key), "{ viewer { role } }", json!({}))
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::UNAUTHORIZED, "API_KEY_REVOKED"),
            "{body}"
        );
    }
    for key in [&adas_key, &bobs_own] {
        let (status, _) = server
            .gql(Some(key), "{ viewer { role } }", json!({}))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let keys = ok(&server, &ada.access, KEYS, json!({})).await;
    let revoked: Vec<&Value> = keys["apiKeys"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| !k["revokedAt"].is_null())
        .collect();
    assert_eq!(revoked.len(), 2, "{keys}");
    let (status, body) = server
        .gql(Some(&bob_access), "{ viewer { role } }", json!({}))
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "TOKEN_REVOKED")
    );
}
