//! Configuring telephony over GraphQL: the account, phone numbers, validation, roles, isolation.

use voxedge::model::Role;

use crate::support::{self, error_code};
use crate::*;

const ACCOUNT_FIELD: &str =
    "twilioAccount { accountSid authTokenLast4 voiceUrl createdAt updatedAt }";
const NUMBERS_FIELD: &str = "phoneNumbers(first: 100) { nodes { id number label agentId } }";
const ACCOUNT: &str =
    "{ twilioAccount { accountSid authTokenLast4 voiceUrl createdAt updatedAt } }";
const NUMBERS: &str = "{ phoneNumbers(first: 100) { nodes { id number label agentId } } }";

/// Every byte of the tenant's SQLite files (database and WAL).
fn tenant_file_bytes(server: &TestServer, tenant: voxedge::db::TenantId) -> Vec<u8> {
    let base = server.data_dir.join("tenants").join(format!("{tenant}.db"));
    let mut bytes = std::fs::read(&base).expect("tenant file");
    bytes.extend(std::fs::read(base.with_extension("db-wal")).unwrap_or_default());
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn account_round_trip_never_returns_or_stores_the_token_in_clear() {
    let server = support::spawn().await;
    let tenant = server.tenant("Acme").await;
    let (_, body) = server.gql(Some(&tenant.key), ACCOUNT, json!({})).await;
    assert_eq!(data(&body, "twilioAccount"), &Value::Null);

    let set = set_account(&server, &tenant.key, &format!(" {SID_A} "), TOKEN_A).await;
    assert_eq!(set["accountSid"], SID_A);
    assert_eq!(set["authTokenLast4"], &TOKEN_A[28..]);
    let voice_url = format!("http://{}/v1/twilio/{}/voice", server.addr, tenant.id);
    assert_eq!(set["voiceUrl"], voice_url.as_str(), "derived from Host");
    let (_, body) = server.gql(Some(&tenant.key), ACCOUNT, json!({})).await;
    assert_eq!(data(&body, "twilioAccount"), &set);
    assert!(!body.to_string().contains(TOKEN_A));

    // Stored sealed: the SID is in the file in clear, the token is not.
    let bytes = tenant_file_bytes(&server, tenant.id);
    assert!(
        contains(&bytes, SID_A),
        "the check looks in the right files"
    );
    assert!(!contains(&bytes, TOKEN_A), "auth token stored in clear");
    let db = server.state.tenants.get(tenant.id).await.unwrap();
    let sealed: String = db
        .read(|conn| {
            conn.query_row("select auth_token from twilio_accounts", [], |r| r.get(0))
                .map_err(voxedge::db::StorageError::from)
        })
        .await
        .unwrap();
    assert!(sealed.starts_with("v1.") && !sealed.contains(TOKEN_A));

    // Replacing keeps one account; the audit log names the SID, never the token.
    let replaced = set_account(&server, &tenant.key, SID_B, TOKEN_B).await;
    assert_eq!(replaced["accountSid"], SID_B);
    assert_eq!(replaced["authTokenLast4"], &TOKEN_B[28..]);
    assert_eq!(replaced["createdAt"], set["createdAt"]);
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "{ auditLog(first: 10) { nodes { action target outcome } } }",
            json!({}),
        )
        .await;
    let log = body.to_string();
    assert!(
        log.contains("setTwilioAccount") && log.contains(SID_B),
        "{log}"
    );
    assert!(!log.contains(TOKEN_A) && !log.contains(TOKEN_B));

    let delete = "mutation { deleteTwilioAccount }";
    let (_, body) = server.gql(Some(&tenant.key), delete, json!({})).await;
    assert_eq!(data(&body, "deleteTwilioAccount"), true);
    let (_, body) = server.gql(Some(&tenant.key), delete, json!({})).await;
    assert_eq!(data(&body, "deleteTwilioAccount"), false);
    let (_, body) = server.gql(Some(&tenant.key), ACCOUNT, json!({})).await;
    assert_eq!(data(&body, "twilioAccount"), &Value::Null);
}

#[tokio::test]
async fn voice_url_uses_the_configured_public_url() {
    let server =
        support::spawn_with(|c| c.public_url = Some("https://voxedge.example".into())).await;
    let tenant = server.tenant("Acme").await;
    let set = set_account(&server, &tenant.key, SID_A, TOKEN_A).await;
    assert_eq!(
        set["voiceUrl"],
        format!("https://voxedge.example/v1/twilio/{}/voice", tenant.id)
    );
}

fn field_codes(body: &Value) -> Vec<(String, String)> {
    assert_eq!(error_code(body), "INVALID_INPUT", "{body}");
    body["errors"][0]["extensions"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap().into(),
                f["code"].as_str().unwrap().into(),
            )
        })
        .collect()
}

fn pair(field: &str, code: &str) -> (String, String) {
    (field.to_string(), code.to_string())
}

#[tokio::test]
async fn invalid_input_is_refused_field_by_field() {
    let server = support::spawn().await;
    let tenant = server.tenant("Acme").await;
    let key = tenant.key.as_str();
    let set = "mutation($i: SetTwilioAccountInput!) { setTwilioAccount(input: $i) { accountSid } }";
    let (_, body) = server
        .gql(
            Some(key),
            set,
            json!({ "i": { "accountSid": "SK123", "authToken": "short" } }),
        )
        .await;
    assert_eq!(
        field_codes(&body),
        [
            pair("input.accountSid", "INVALID_ACCOUNT_SID"),
            pair("input.authToken", "INVALID_AUTH_TOKEN")
        ]
    );
    assert!(
        !body.to_string().contains("short"),
        "the token is not echoed"
    );

    let agent_id = agent(&server, key, "Front desk").await;
    let (_, body) = server
        .gql(
            Some(key),
            ADD_NUMBER,
            json!({ "i": { "number": "555-0100", "agentId": agent_id, "label": "x".repeat(101) } }),
        )
        .await;
    assert_eq!(
        field_codes(&body),
        [
            pair("input.number", "INVALID_PHONE_NUMBER"),
            pair("input.label", "TOO_LONG")
        ]
    );
    let (_, body) = server
        .gql(
            Some(key),
            ADD_NUMBER,
            json!({ "i": { "number": "+14155550100", "agentId": "no-such-agent" } }),
        )
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND", "{body}");

    // Friendly formats are normalised to E.164; the same number twice is a conflict.
    let (_, body) = server
        .gql(Some(key), ADD_NUMBER, json!({ "i": { "number": "+1 (415) 555-0100", "agentId": agent_id, "label": " Sales " } }))
        .await;
    let added = data(&body, "addPhoneNumber");
    assert_eq!(added["number"], "+14155550100");
    assert_eq!(added["label"], "Sales");
    assert_eq!(added["agent"]["name"], "Front desk");
    let number_id = added["id"].as_str().unwrap().to_string();
    let (_, body) = server
        .gql(
            Some(key),
            ADD_NUMBER,
            json!({ "i": { "number": "+14155550100", "agentId": agent_id } }),
        )
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");

    // Updates: label kept when left out, cleared by null; agents must exist and be live.
    let update = "mutation($id: ID!, $i: UpdatePhoneNumberInput!) { updatePhoneNumber(id: $id, input: $i) { agentId label } }";
    let other = agent(&server, key, "Support").await;
    let (_, body) = server
        .gql(
            Some(key),
            update,
            json!({ "id": number_id, "i": { "agentId": other } }),
        )
        .await;
    assert_eq!(
        data(&body, "updatePhoneNumber"),
        &json!({ "agentId": other, "label": "Sales" })
    );
    let (_, body) = server
        .gql(
            Some(key),
            update,
            json!({ "id": number_id, "i": { "label": null } }),
        )
        .await;
    assert_eq!(data(&body, "updatePhoneNumber")["label"], Value::Null);
    let (_, body) = server
        .gql(
            Some(key),
            update,
            json!({ "id": number_id, "i": { "agentId": "nope" } }),
        )
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND");
    let (_, body) = server
        .gql(
            Some(key),
            "mutation($id: ID!) { archiveAgent(id: $id) { id } }",
            json!({ "id": agent_id }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let (_, body) = server
        .gql(
            Some(key),
            update,
            json!({ "id": number_id, "i": { "agentId": agent_id } }),
        )
        .await;
    assert_eq!(
        field_codes(&body),
        [pair("input.agentId", "AGENT_ARCHIVED")]
    );

    let remove = "mutation($id: ID!) { removePhoneNumber(id: $id) }";
    let (_, body) = server
        .gql(Some(key), remove, json!({ "id": number_id }))
        .await;
    assert_eq!(data(&body, "removePhoneNumber"), number_id.as_str());
    let (_, body) = server
        .gql(Some(key), remove, json!({ "id": number_id }))
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND");
}

#[tokio::test]
async fn viewers_read_without_secrets_and_only_managers_change() {
    let server = support::spawn().await;
    let tenant = server.tenant("Acme").await;
    set_account(&server, &tenant.key, SID_A, TOKEN_A).await;
    let agent_id = agent(&server, &tenant.key, "Front desk").await;
    add_number(&server, &tenant.key, "+14155550100", &agent_id).await;

    for role in Role::ALL {
        let key = server.key(tenant.id, role).await;
        let reads = matches!(
            role,
            Role::Owner | Role::Admin | Role::Developer | Role::Viewer
        );
        let manages = matches!(role, Role::Owner | Role::Admin | Role::Developer);
        let both = format!("{{ {ACCOUNT_FIELD} {NUMBERS_FIELD} }}");
        let (_, body) = server.gql(Some(&key), &both, json!({})).await;
        if reads {
            assert_eq!(
                body["data"]["twilioAccount"]["accountSid"], SID_A,
                "{role}: {body}"
            );
            let numbers = body["data"]["phoneNumbers"]["nodes"].to_string();
            assert!(numbers.contains("+14155550100"), "{role}: {body}");
            assert!(!body.to_string().contains(TOKEN_A));
        } else {
            assert_eq!(error_code(&body), "FORBIDDEN", "{role}: {body}");
        }
        let (_, body) = server
            .gql(Some(&key), ADD_NUMBER, json!({ "i": { "number": format!("+1415555{:04}", role as u8), "agentId": agent_id } }))
            .await;
        assert_eq!(body.get("errors").is_none(), manages, "{role}: {body}");
        if !manages {
            assert_eq!(error_code(&body), "FORBIDDEN", "{role}: {body}");
        }
    }
}

#[tokio::test]
async fn tenants_never_see_or_touch_each_others_numbers() {
    let server = support::spawn().await;
    let a = server.tenant("Alpha").await;
    let b = server.tenant("Beta").await;
    set_account(&server, &a.key, SID_A, TOKEN_A).await;
    let a_agent = agent(&server, &a.key, "Alpha desk").await;
    let a_number = add_number(&server, &a.key, "+14155550100", &a_agent).await;

    let both = format!("{{ {ACCOUNT_FIELD} {NUMBERS_FIELD} }}");
    let (_, body) = server.gql(Some(&b.key), &both, json!({})).await;
    assert_eq!(body["data"]["twilioAccount"], Value::Null, "{body}");
    assert_eq!(body["data"]["phoneNumbers"]["nodes"], json!([]));
    let (_, body) = server
        .gql(
            Some(&b.key),
            "query($id: ID!) { phoneNumber(id: $id) { id } }",
            json!({ "id": a_number }),
        )
        .await;
    assert_eq!(data(&body, "phoneNumber"), &Value::Null);
    for mutation in [
        "mutation($id: ID!) { updatePhoneNumber(id: $id, input: {label: \"mine\"}) { id } }",
        "mutation($id: ID!) { removePhoneNumber(id: $id) }",
    ] {
        let (_, body) = server
            .gql(Some(&b.key), mutation, json!({ "id": a_number }))
            .await;
        assert_eq!(error_code(&body), "NOT_FOUND", "{body}");
    }
    let (_, body) = server
        .gql(
            Some(&b.key),
            ADD_NUMBER,
            json!({ "i": { "number": "+14155550199", "agentId": a_agent } }),
        )
        .await;
    assert_eq!(
        error_code(&body),
        "NOT_FOUND",
        "B cannot route to A's agent"
    );
    let (_, body) = server
        .gql(Some(&b.key), "mutation { deleteTwilioAccount }", json!({}))
        .await;
    assert_eq!(data(&body, "deleteTwilioAccount"), false);

    let (_, body) = server.gql(Some(&a.key), NUMBERS, json!({})).await;
    let nodes = &data(&body, "phoneNumbers")["nodes"];
    assert_eq!(nodes.as_array().unwrap().len(), 1);
    assert_eq!(nodes[0]["label"], Value::Null);
    let (_, body) = server.gql(Some(&a.key), ACCOUNT, json!({})).await;
    assert_eq!(data(&body, "twilioAccount")["accountSid"], SID_A);
}
