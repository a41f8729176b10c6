//! The role matrix, table-driven: every role, as an API key and as a signed-in member, against every
//! guarded operation. Allowed means "not FORBIDDEN" (the operation may still fail for other reasons,
//! e.g. NOT_FOUND for a made-up id); denied means FORBIDDEN and nothing changed.

mod support;

use serde_json::json;
use support::{AUTH_FIELDS, PASSWORD, error_code};
use voxedge::model::Role;

/// (operation, GraphQL, roles allowed: O owner, A admin, D developer, V viewer, B billing, users only?)
const MATRIX: &[(&str, &str, &str, bool)] = &[
    ("viewer", "{ viewer { role } }", "OADVB", false),
    ("members", "{ members { nodes { id } } }", "OADVB", false),
    ("invites", "{ invites { nodes { id } } }", "OADVB", false),
    ("apiKeys", "{ apiKeys { nodes { id } } }", "OAD", false),
    (
        "createApiKey",
        "mutation { createApiKey(input: {name: \"k\", role: VIEWER}) { secret } }",
        "OAD",
        false,
    ),
    (
        "revokeApiKey",
        "mutation { revokeApiKey(id: \"nope\") { id } }",
        "OAD",
        false,
    ),
    (
        "createSessionToken",
        "mutation { createSessionToken(agentId: \"a1\", ttlSeconds: 60) { token } }",
        "OAD",
        false,
    ),
    ("auditLog", "{ auditLog { nodes { id } } }", "OA", false),
    (
        "updateTenant",
        "mutation { updateTenant(input: {name: \"Acme\"}) { name } }",
        "OA",
        false,
    ),
    (
        "inviteMember",
        "mutation { inviteMember(input: {email: \"x@example.com\", role: VIEWER}) { token } }",
        "OA",
        false,
    ),
    (
        "revokeInvite",
        "mutation { revokeInvite(id: \"nope\") }",
        "OA",
        false,
    ),
    (
        "changeMemberRole",
        "mutation { changeMemberRole(input: {userId: \"nope\", role: VIEWER}) { id } }",
        "OA",
        false,
    ),
    (
        "removeMember",
        "mutation { removeMember(userId: \"nope\") { id } }",
        "OA",
        false,
    ),
    (
        "twilioAccount",
        "{ twilioAccount { accountSid } phoneNumbers { nodes { id } } }",
        "OADV",
        false,
    ),
    (
        "setTwilioAccount",
        "mutation { setTwilioAccount(input: {accountSid: \"nope\", authToken: \"nope\"}) { accountSid } }",
        "OAD",
        false,
    ),
    (
        "deleteTwilioAccount",
        "mutation { deleteTwilioAccount }",
        "OAD",
        false,
    ),
    (
        "addPhoneNumber",
        "mutation { addPhoneNumber(input: {number: \"+14155550100\", agentId: \"nope\"}) { id } }",
        "OAD",
        false,
    ),
    (
        "updatePhoneNumber",
        "mutation { updatePhoneNumber(id: \"nope\", input: {label: \"x\"}) { id } }",
        "OAD",
        false,
    ),
    (
        "removePhoneNumber",
        "mutation { removePhoneNumber(id: \"nope\") }",
        "OAD",
        false,
    ),
    (
        "placeCall",
        "mutation { placeCall(agentId: \"nope\", to: \"nope\", from: \"nope\") { id } }",
        "OAD",
        false,
    ),
    (
        "transferOwnership",
        "mutation { transferOwnership(userId: \"nope\") { id } }",
        "O",
        true,
    ),
];

fn letter(role: Role) -> char {
    match role {
        Role::Owner => 'O',
        Role::Admin => 'A',
        Role::Developer => 'D',
        Role::Viewer => 'V',
        Role::Billing => 'B',
    }
}

#[tokio::test]
async fn every_role_against_every_guarded_operation() {
    let server = support::spawn().await;
    let owner = server.sign_up("owner@example.com", "Acme").await;
    let tenant: voxedge::db::TenantId = owner.tenant_id.parse().unwrap();

    // One member and one API key per role.
    let mut credentials = vec![(Role::Owner, "user", owner.access.clone())];
    for role in [Role::Admin, Role::Developer, Role::Viewer, Role::Billing] {
        let email = format!("{role}@example.com");
        let (_, body) = server
            .gql(Some(&owner.access), "mutation($e: String!, $r: Role!) { inviteMember(input: {email: $e, role: $r}) { token } }", json!({ "e": email, "r": role.as_str().to_uppercase() }))
            .await;
        let token = body["data"]["inviteMember"]["token"]
            .as_str()
            .expect("token")
            .to_string();
        let (_, body) = server
            .gql(None, &format!("mutation($t: String!, $p: String!) {{ acceptInvite(input: {{token: $t, password: $p}}) {{ {AUTH_FIELDS} }} }}"), json!({ "t": token, "p": PASSWORD }))
            .await;
        credentials.push((
            role,
            "user",
            body["data"]["acceptInvite"]["accessToken"]
                .as_str()
                .expect("access")
                .to_string(),
        ));
    }
    for role in Role::ALL {
        credentials.push((role, "key", server.key(tenant, role).await));
    }

    let mut checked = 0;
    for (operation, query, allowed, users_only) in MATRIX {
        for (role, kind, credential) in &credentials {
            let (status, body) = server.gql(Some(credential), query, json!({})).await;
            assert!(
                status.is_success(),
                "{operation} as {role} {kind}: {status} {body}"
            );
            let expect_allowed =
                allowed.contains(letter(*role)) && (*kind == "user" || !users_only);
            let forbidden = error_code(&body) == "FORBIDDEN";
            assert_eq!(
                !forbidden, expect_allowed,
                "{operation} as {role} {kind}: {body}"
            );
            checked += 1;
        }
    }
    eprintln!("role matrix: {checked} checks");

    // ReadPhoneNumbers: roles that read calls see numbers in full (O, A, D) or masked (V).
    let agent = server
        .create_agent(&owner.access, "Agent", json!({ "systemPrompt": "Hi" }))
        .await;
    let call = server
        .create_call(
            &owner.access,
            &agent,
            json!({ "direction": "INBOUND", "transport": "PHONE", "from": "+14155550199" }),
        )
        .await;
    for (role, kind, credential) in &credentials {
        let (_, body) = server
            .gql(
                Some(credential),
                "query($id: ID!) { call(id: $id) { from } }",
                json!({ "id": call }),
            )
            .await;
        let expected = match letter(*role) {
            'O' | 'A' | 'D' => json!("+14155550199"),
            'V' => json!("+1 415 ••• 0199"),
            _ => {
                assert_eq!(error_code(&body), "FORBIDDEN", "{role} {kind}: {body}");
                continue;
            }
        };
        assert_eq!(
            body["data"]["call"]["from"], expected,
            "{role} {kind}: {body}"
        );
    }
}
