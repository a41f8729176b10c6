//! Agents through the real server: versioning, rollback, validation, archiving, version pinning.

mod support;

use serde_json::{Value, json};
use support::error_code;

const AGENT_FIELDS: &str = "id name activeVersion archivedAt config { systemPrompt firstMessage language llm { primary { provider model baseUrl } temperature } tools { kind name url } turnDetection { silenceDurationMs } }";

async fn create_agent(server: &support::TestServer, key: &str, name: &str, prompt: &str) -> Value {
    let (_, body) = server
        .gql(
            Some(key),
            &format!("mutation($input: CreateAgentInput!) {{ createAgent(input: $input) {{ {AGENT_FIELDS} }} }}"),
            json!({ "input": { "name": name, "config": { "systemPrompt": prompt, "firstMessage": "Hi!" } } }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["createAgent"].clone()
}

#[tokio::test]
async fn every_change_is_a_version_and_rollback_adds_one() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let agent = create_agent(&server, &acme.key, "Receptionist", "You answer the phone.").await;
    assert_eq!(agent["activeVersion"], 1);
    assert_eq!(agent["config"]["language"], "en", "defaults are applied");
    assert_eq!(agent["config"]["turnDetection"]["silenceDurationMs"], 500);
    let id = agent["id"].as_str().unwrap();

    let update = "mutation($id: ID!, $input: UpdateAgentInput!) { updateAgent(id: $id, input: $input) { activeVersion name config { systemPrompt } } }";
    let (_, body) = server
        .gql(Some(&acme.key), update, json!({ "id": id, "input": { "config": { "systemPrompt": "Be brief." }, "expectedVersion": 1 } }))
        .await;
    assert_eq!(body["data"]["updateAgent"]["activeVersion"], 2, "{body}");
    assert_eq!(
        body["data"]["updateAgent"]["config"]["systemPrompt"],
        "Be brief."
    );
    let (_, body) = server
        .gql(
            Some(&acme.key),
            update,
            json!({ "id": id, "input": { "name": "Front desk" } }),
        )
        .await;
    assert_eq!(body["data"]["updateAgent"]["activeVersion"], 3);
    assert_eq!(
        body["data"]["updateAgent"]["config"]["systemPrompt"], "Be brief.",
        "a rename keeps the config"
    );

    // A stale writer is refused instead of silently overwriting.
    let (_, body) = server
        .gql(Some(&acme.key), update, json!({ "id": id, "input": { "config": { "systemPrompt": "Lost update" }, "expectedVersion": 1 } }))
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");

    let (_, body) = server
        .gql(Some(&acme.key), "mutation($id: ID!) { rollbackAgent(id: $id, version: 1) { activeVersion name config { systemPrompt } } }", json!({ "id": id }))
        .await;
    let rolled = &body["data"]["rollbackAgent"];
    assert_eq!(rolled["activeVersion"], 4, "{body}");
    assert_eq!(rolled["name"], "Receptionist");
    assert_eq!(rolled["config"]["systemPrompt"], "You answer the phone.");

    let (_, body) = server
        .gql(Some(&acme.key), "query($id: ID!) { agent(id: $id) { versions { nodes { version name note config { systemPrompt } } } version(number: 2) { config { systemPrompt } } } }", json!({ "id": id }))
        .await;
    let versions: Vec<i64> = body["data"]["agent"]["versions"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [4, 3, 2, 1], "history is kept, newest first");
    assert_eq!(
        body["data"]["agent"]["versions"]["nodes"][0]["note"],
        "rollback to version 1"
    );
    assert_eq!(
        body["data"]["agent"]["version"]["config"]["systemPrompt"], "Be brief.",
        "old versions are immutable"
    );

    let (_, body) = server
        .gql(
            Some(&acme.key),
            "mutation($id: ID!) { rollbackAgent(id: $id, version: 99) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND");
}

#[tokio::test]
async fn invalid_configurations_report_every_field_and_store_nothing() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let config = json!({
        "systemPrompt": "",
        "language": "not a language!",
        "llm": { "primary": { "provider": "skynet", "model": "" }, "temperature": 9 },
        "tools": [
            { "kind": "WEBHOOK", "name": "check order", "url": "javascript:alert(1)", "parameters": { "type": 12 } },
            { "kind": "TRANSFER_CALL", "name": "transfer" },
            { "kind": "END_CALL", "name": "transfer" }
        ],
        "endCall": { "maxDurationSecs": 0, "silenceTimeoutSecs": 1 },
        "turnDetection": { "threshold": 1.5 }
    });
    let (_, body) = server
        .gql(
            Some(&acme.key),
            "mutation($input: CreateAgentInput!) { createAgent(input: $input) { id } }",
            json!({ "input": { "name": "Bad", "config": config } }),
        )
        .await;
    assert_eq!(error_code(&body), "INVALID_INPUT", "{body}");
    let fields: Vec<(String, String)> = body["errors"][0]["extensions"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap().to_string(),
                f["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (field, code) in [
        ("input.config.systemPrompt", "REQUIRED"),
        ("input.config.language", "INVALID_LANGUAGE"),
        ("input.config.llm.primary.provider", "UNKNOWN_PROVIDER"),
        ("input.config.llm.primary.model", "REQUIRED"),
        ("input.config.llm.temperature", "OUT_OF_RANGE"),
        ("input.config.tools[0].name", "INVALID_NAME"),
        ("input.config.tools[0].url", "INVALID_URL"),
        ("input.config.tools[0].parameters", "INVALID_JSON_SCHEMA"),
        ("input.config.tools[1].destinations", "REQUIRED"),
        ("input.config.tools[2].name", "DUPLICATE"),
        ("input.config.endCall.maxDurationSecs", "OUT_OF_RANGE"),
        ("input.config.endCall.silenceTimeoutSecs", "OUT_OF_RANGE"),
        ("input.config.turnDetection.threshold", "OUT_OF_RANGE"),
    ] {
        assert!(
            fields.contains(&(field.to_string(), code.to_string())),
            "{field} {code} missing in {fields:?}"
        );
    }
    let (_, body) = server
        .gql(
            Some(&acme.key),
            "{ agents(includeArchived: true) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["agents"]["nodes"],
        json!([]),
        "nothing was stored"
    );

    // A bad update leaves the stored version untouched.
    let agent = create_agent(&server, &acme.key, "Good", "Fine prompt").await;
    let (_, body) = server
        .gql(
            Some(&acme.key),
            "mutation($id: ID!) { updateAgent(id: $id, input: {config: {systemPrompt: \"x\", llm: {temperature: -1}}}) { id } }",
            json!({ "id": agent["id"] }),
        )
        .await;
    assert_eq!(error_code(&body), "INVALID_INPUT");
    let (_, body) = server
        .gql(
            Some(&acme.key),
            "query($id: ID!) { agent(id: $id) { activeVersion config { systemPrompt } } }",
            json!({ "id": agent["id"] }),
        )
        .await;
    assert_eq!(body["data"]["agent"]["activeVersion"], 1);
    assert_eq!(
        body["data"]["agent"]["config"]["systemPrompt"],
        "Fine prompt"
    );
}

#[tokio::test]
async fn archived_agents_are_hidden_and_take_no_calls_and_calls_pin_their_version() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let agent = create_agent(&server, &acme.key, "Sales", "Sell.").await;
    let id = agent["id"].as_str().unwrap();
    let create_call = "mutation($agent: ID!) { createCall(input: {agentId: $agent, direction: INBOUND, transport: WEB, from: \"browser\"}) { id agentVersion { version config { systemPrompt } } agent { activeVersion } } }";
    let (_, first_call) = server
        .gql(Some(&acme.key), create_call, json!({ "agent": id }))
        .await;
    server
        .gql(Some(&acme.key), "mutation($id: ID!) { updateAgent(id: $id, input: {config: {systemPrompt: \"Sell harder.\"}}) { id } }", json!({ "id": id }))
        .await;
    let (_, body) = server
        .gql(Some(&acme.key), "query($id: ID!) { call(id: $id) { agentVersion { version config { systemPrompt } } agent { activeVersion } } }", json!({ "id": first_call["data"]["createCall"]["id"] }))
        .await;
    assert_eq!(
        body["data"]["call"]["agentVersion"]["version"], 1,
        "the call keeps the version it ran with"
    );
    assert_eq!(
        body["data"]["call"]["agentVersion"]["config"]["systemPrompt"],
        "Sell."
    );
    assert_eq!(body["data"]["call"]["agent"]["activeVersion"], 2);

    // The active-config cache serves the new version after the change.
    let db = server.state.tenants.get(acme.id).await.unwrap();
    let active = server.state.agents.active(&db, acme.id, id).await.unwrap();
    assert_eq!(active.version.version, 2);
    server
        .gql(Some(&acme.key), "mutation($id: ID!) { updateAgent(id: $id, input: {config: {systemPrompt: \"v3\"}}) { id } }", json!({ "id": id }))
        .await;
    let active = server.state.agents.active(&db, acme.id, id).await.unwrap();
    assert_eq!(
        active.version.version, 3,
        "a change invalidates the cached configuration"
    );
    assert_eq!(active.version.config.system_prompt, "v3");

    let (_, body) = server
        .gql(
            Some(&acme.key),
            "mutation($id: ID!) { archiveAgent(id: $id) { archivedAt } }",
            json!({ "id": id }),
        )
        .await;
    assert!(body["data"]["archiveAgent"]["archivedAt"].is_string());
    let (_, body) = server
        .gql(Some(&acme.key), "{ agents { nodes { id } } }", json!({}))
        .await;
    assert_eq!(body["data"]["agents"]["nodes"], json!([]));
    let (_, body) = server
        .gql(
            Some(&acme.key),
            "{ agents(includeArchived: true) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["agents"]["nodes"][0]["id"], id);
    let (_, body) = server
        .gql(Some(&acme.key), create_call, json!({ "agent": id }))
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");
    let (_, body) = server
        .gql(
            Some(&acme.key),
            "mutation($id: ID!) { unarchiveAgent(id: $id) { archivedAt } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(body["data"]["unarchiveAgent"]["archivedAt"], Value::Null);
}

#[tokio::test]
async fn viewers_read_agents_but_cannot_change_them() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let agent = create_agent(&server, &acme.key, "Support", "Help.").await;
    let viewer = server.key(acme.id, voxedge::model::Role::Viewer).await;
    let billing = server.key(acme.id, voxedge::model::Role::Billing).await;
    let (_, body) = server
        .gql(Some(&viewer), "{ agents { nodes { name } } }", json!({}))
        .await;
    assert_eq!(body["data"]["agents"]["nodes"][0]["name"], "Support");
    let (_, body) = server
        .gql(
            Some(&viewer),
            "mutation($id: ID!) { archiveAgent(id: $id) { id } }",
            json!({ "id": agent["id"] }),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN");
    let (_, body) = server
        .gql(Some(&billing), "{ agents { nodes { name } } }", json!({}))
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN");
}
