//! Members through the real server: invitations accepted by existing and new users, tenant switching,
//! role changes, removal, ownership transfer, and the audit log those leave behind.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{AUTH_FIELDS, PASSWORD, error_code};

const INVITE: &str = "mutation($e: String!, $r: Role!) { inviteMember(input: {email: $e, role: $r}) { token invite { id email role } } }";
const MEMBERS: &str = "{ members { nodes { id email role } } }";

fn accept_query() -> String {
    format!("mutation($i: AcceptInviteInput!) {{ acceptInvite(input: $i) {{ {AUTH_FIELDS} }} }}")
}

fn role_of(members: &Value, user_id: &str) -> Option<String> {
    members["data"]["members"]["nodes"]
        .as_array()?
        .iter()
        .find(|m| m["id"] == user_id)
        .and_then(|m| m["role"].as_str().map(String::from))
}

#[tokio::test]
async fn invitations_roles_removal_and_ownership_transfer() {
    let server = support::spawn().await;
    let ada = server.sign_up("ada@example.com", "Acme").await;
    let bob = server.sign_up("bob@example.com", "Bob Co").await;

    // An existing user, signed in, accepts an invitation to a second tenant.
    let (_, body) = server
        .gql(
            Some(&ada.access),
            INVITE,
            json!({ "e": "Bob@Example.com", "r": "DEVELOPER" }),
        )
        .await;
    let token = body["data"]["inviteMember"]["token"]
        .as_str()
        .expect("invite token")
        .to_string();
    assert!(token.starts_with("vxi_"));
    let (_, body) = server
        .gql(
            Some(&ada.access),
            "{ invites { nodes { email role } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["invites"]["nodes"][0]["role"], "DEVELOPER",
        "{body}"
    );
    let (_, body) = server
        .gql(
            Some(&bob.access),
            &accept_query(),
            json!({ "i": { "token": token } }),
        )
        .await;
    let bob_in_acme = body["data"]["acceptInvite"].clone();
    assert_eq!(bob_in_acme["tenant"]["id"], ada.tenant_id, "{body}");
    assert_eq!(bob_in_acme["role"], "DEVELOPER");
    let (_, body) = server
        .gql(
            Some(&bob.access),
            &accept_query(),
            json!({ "i": { "token": token } }),
        )
        .await;
    assert_eq!(
        error_code(&body),
        "LINK_ALREADY_USED",
        "an invitation works once: {body}"
    );

    // Tokens are scoped to one tenant; switching issues new ones.
    let bob_acme_access = bob_in_acme["accessToken"].as_str().unwrap().to_string();
    let (_, body) = server
        .gql(
            Some(&bob_acme_access),
            "{ viewer { role tenant { id } memberships { tenantId } } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["viewer"]["tenant"]["id"], ada.tenant_id);
    assert_eq!(
        body["data"]["viewer"]["memberships"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let (_, body) = server
        .gql(
            Some(&bob_acme_access),
            &format!("mutation($t: ID!) {{ switchTenant(tenantId: $t) {{ {AUTH_FIELDS} }} }}"),
            json!({ "t": bob.tenant_id }),
        )
        .await;
    assert_eq!(body["data"]["switchTenant"]["role"], "OWNER", "{body}");

    // A new person accepts without an account: one is created with the invited email.
    let (_, body) = server
        .gql(
            Some(&ada.access),
            INVITE,
            json!({ "e": "carol@example.com", "r": "VIEWER" }),
        )
        .await;
    let token = body["data"]["inviteMember"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, body) = server
        .gql(None, &accept_query(), json!({ "i": { "token": token } }))
        .await;
    assert_eq!(
        error_code(&body),
        "INVALID_INPUT",
        "a password is needed: {body}"
    );
    let (_, body) = server
        .gql(
            None,
            &accept_query(),
            json!({ "i": { "token": token, "password": PASSWORD } }),
        )
        .await;
    let carol = body["data"]["acceptInvite"].clone();
    assert_eq!(carol["user"]["email"], "carol@example.com", "{body}");
    let carol_id = carol["user"]["id"].as_str().unwrap().to_string();
    let carol_access = carol["accessToken"].as_str().unwrap().to_string();
    server.login_ok("carol@example.com").await;

    // Roles: admins manage, nobody grants owner except by transfer, a tenant keeps its owner.
    let change = "mutation($u: ID!, $r: Role!) { changeMemberRole(input: {userId: $u, role: $r}) { id role } }";
    let (_, body) = server
        .gql(
            Some(&ada.access),
            change,
            json!({ "u": carol_id, "r": "BILLING" }),
        )
        .await;
    assert_eq!(
        body["data"]["changeMemberRole"]["role"], "BILLING",
        "{body}"
    );
    let (_, body) = server
        .gql(
            Some(&ada.access),
            change,
            json!({ "u": carol_id, "r": "OWNER" }),
        )
        .await;
    assert_eq!(error_code(&body), "CONFLICT");
    let (_, body) = server
        .gql(
            Some(&ada.access),
            change,
            json!({ "u": ada.user_id, "r": "ADMIN" }),
        )
        .await;
    assert_eq!(
        error_code(&body),
        "CONFLICT",
        "the owner cannot demote themselves: {body}"
    );
    let (_, body) = server
        .gql(
            Some(&bob_acme_access),
            change,
            json!({ "u": carol_id, "r": "VIEWER" }),
        )
        .await;
    assert_eq!(
        error_code(&body),
        "FORBIDDEN",
        "developers do not manage members"
    );
    let (_, body) = server.gql(Some(&carol_access), MEMBERS, json!({})).await;
    assert_eq!(
        role_of(&body, &carol_id).as_deref(),
        Some("BILLING"),
        "a role change applies at once: {body}"
    );

    // Ownership moves by transfer only, from the signed-in owner; the old owner becomes an admin.
    let transfer = "mutation($u: ID!) { transferOwnership(userId: $u) { id role } }";
    let (_, body) = server
        .gql(
            Some(&bob_acme_access),
            transfer,
            json!({ "u": bob.user_id }),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN");
    let (_, body) = server
        .gql(Some(&ada.access), transfer, json!({ "u": bob.user_id }))
        .await;
    assert_eq!(body["data"]["transferOwnership"]["role"], "OWNER", "{body}");
    let (_, body) = server.gql(Some(&ada.access), MEMBERS, json!({})).await;
    assert_eq!(role_of(&body, &ada.user_id).as_deref(), Some("ADMIN"));
    let owners = body["data"]["members"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "OWNER")
        .count();
    assert_eq!(owners, 1);
    let remove = "mutation($u: ID!) { removeMember(userId: $u) { id } }";
    let (_, body) = server
        .gql(Some(&ada.access), remove, json!({ "u": bob.user_id }))
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "the owner cannot be removed");

    // Removing a member ends their sessions in the tenant immediately.
    let (_, body) = server
        .gql(Some(&ada.access), remove, json!({ "u": carol_id }))
        .await;
    assert_eq!(body["data"]["removeMember"]["id"], carol_id, "{body}");
    let (status, body) = server.gql(Some(&carol_access), MEMBERS, json!({})).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "TOKEN_REVOKED")
    );
    let (_, body) = server.login("carol@example.com", PASSWORD).await;
    assert_eq!(
        error_code(&body),
        "FORBIDDEN",
        "no tenant left to sign in to: {body}"
    );
}

#[tokio::test]
async fn the_audit_log_records_mutations_and_sign_ins() {
    let server = support::spawn().await;
    let ada = server.sign_up("ada@example.com", "Acme").await;
    let (_, body) = server.login("ada@example.com", "wrong horse battery").await;
    assert_eq!(error_code(&body), "INVALID_CREDENTIALS");
    let login = server.login_ok("ada@example.com").await;
    let (_, body) = server
        .gql(
            Some(&login.access),
            "mutation { createApiKey(input: {name: \"ci\", role: VIEWER}) { apiKey { id } } }",
            json!({}),
        )
        .await;
    let key_id = body["data"]["createApiKey"]["apiKey"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, body) = server
        .gql(
            Some(&login.access),
            "mutation { revokeApiKey(id: \"nope\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND");
    server
        .gql(
            None,
            "mutation($t: String!) { logout(refreshToken: $t) { sessionId } }",
            json!({ "t": login.refresh }),
        )
        .await;

    let (_, body) = server
        .gql(Some(&ada.access), "{ auditLog(first: 50) { nodes { action actor target outcome errorCode ip userAgent at } } }", json!({}))
        .await;
    let entries = body["data"]["auditLog"]["nodes"]
        .as_array()
        .expect("entries")
        .clone();
    let find = |action: &str| {
        entries
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("no {action} entry in {entries:?}"))
            .clone()
    };
    let actor = format!("user:{}", ada.user_id);
    assert_eq!(find("signUp")["actor"], actor);
    assert_eq!(find("signIn")["actor"], actor);
    let failed = find("signInFailed");
    assert_eq!(
        (failed["outcome"].as_str(), failed["errorCode"].as_str()),
        (Some("failure"), Some("INVALID_CREDENTIALS"))
    );
    let created = find("createApiKey");
    assert_eq!(
        created["target"], key_id,
        "the target comes from the result"
    );
    assert_eq!(created["ip"], "127.0.0.1");
    let revoked = find("revokeApiKey");
    assert_eq!(
        (revoked["target"].as_str(), revoked["errorCode"].as_str()),
        (Some("nope"), Some("NOT_FOUND"))
    );
    assert_eq!(find("signOut")["outcome"], "success");
    assert_eq!(entries[0]["action"], "signOut", "newest first");

    // Owners and admins only.
    let viewer = server
        .key(ada.tenant_id.parse().unwrap(), voxedge::model::Role::Viewer)
        .await;
    let (_, body) = server
        .gql(Some(&viewer), "{ auditLog { nodes { id } } }", json!({}))
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN");
}
