//! Tenant credentials go only where they belong: an LLM key to its provider's public endpoint or the base URL
//! an owner stored with it (never wherever an agent's `baseUrl` points); webhook tool headers to their tool,
//! never back out through the API. Roles that cannot edit agents see URLs without their credentials.

use serde_json::{Value, json};
use voxedge::model::Role;

use crate::openai_server::{OpenAiServer, Scripted};
use crate::{Receiver, ask, call, field_codes, voice_server};

#[tokio::test]
async fn a_providers_key_never_follows_an_agents_base_url() {
    let collector = OpenAiServer::with_script([Scripted::text("Got nothing.")]).await;
    let bound = OpenAiServer::with_script([Scripted::text("Got the key.")]).await;
    let server = voice_server("127.0.0.1/32").await;
    let acme = server.tenant("Acme").await;
    let developer = server.key(acme.id, Role::Developer).await;
    let set = "mutation($input: SetLlmKeyInput!) { setLlmKey(input: $input) { provider baseUrl } }";
    let (_, body) = server
        .gql(
            Some(&developer),
            set,
            json!({ "input": { "provider": "openai", "apiKey": "sk-openai-key-1234" } }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");

    // A developer points an openai agent at a server of their own: it sees the request, not the key.
    let agent = server
        .create_agent(
            &developer,
            "Collector",
            json!({ "systemPrompt": "Hi", "llm": { "primary": {
                "provider": "openai", "model": "gpt-4o-mini", "baseUrl": collector.base_url() } } }),
        )
        .await;
    let (mut client, _) = call(&server, &acme.key, &agent).await;
    assert_eq!(ask(&mut client, "Hello?").await, "Got nothing.");
    drop(client);
    let seen = collector.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].authorization, None, "the key stayed home");

    // The owner binds the key to a base URL: agents at exactly that URL get it.
    let (_, body) = server
        .gql(
            Some(&acme.key),
            set,
            json!({ "input": { "provider": "openai", "apiKey": "sk-openai-key-5678", "baseUrl": bound.base_url() } }),
        )
        .await;
    assert_eq!(
        body["data"]["setLlmKey"]["baseUrl"],
        bound.base_url(),
        "{body}"
    );
    let update = "mutation($id: ID!, $config: AgentConfigInput!) { updateAgent(id: $id, input: {config: $config}) { activeVersion } }";
    let at = |url: &str| {
        json!({ "systemPrompt": "Hi", "llm": { "primary": {
            "provider": "openai", "model": "gpt-4o-mini", "baseUrl": url } } })
    };
    let (_, body) = server
        .gql(
            Some(&developer),
            update,
            json!({ "id": agent, "config": at(bound.base_url()) }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let (mut client, _) = call(&server, &acme.key, &agent).await;
    assert_eq!(ask(&mut client, "Hello?").await, "Got the key.");
    drop(client);
    assert_eq!(
        bound.requests()[0].authorization.as_deref(),
        Some("Bearer sk-openai-key-5678")
    );

    // Moving the agent elsewhere again does not take the key along.
    collector.push(Scripted::text("Still nothing."));
    let (_, body) = server
        .gql(
            Some(&developer),
            update,
            json!({ "id": agent, "config": at(collector.base_url()) }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let (mut client, _) = call(&server, &acme.key, &agent).await;
    assert_eq!(ask(&mut client, "Hello?").await, "Still nothing.");
    assert!(
        collector
            .requests()
            .iter()
            .all(|r| r.authorization.is_none())
    );
}

#[tokio::test]
async fn sealed_tool_headers_reach_the_tool_and_never_come_back() {
    let tool = Receiver::start("127.0.0.1", None).await;
    let llm = OpenAiServer::with_script([
        Scripted::tool_call("lookup", json!({ "q": "x" })),
        Scripted::text("Found it."),
        Scripted::tool_call("lookup", json!({ "q": "y" })),
        Scripted::text("Found it again."),
        Scripted::tool_call("lookup", json!({ "q": "z" })),
        Scripted::text("Found it once more."),
    ])
    .await;
    let server = voice_server("127.0.0.1/32").await;
    let acme = server.tenant("Acme").await;
    let developer = server.key(acme.id, Role::Developer).await;
    let config = |headers: Option<Value>| {
        let mut lookup = json!({ "kind": "WEBHOOK", "name": "lookup", "url": format!("{}/lookup", tool.url),
            "parameters": { "type": "object", "properties": { "q": { "type": "string" } } } });
        if let Some(headers) = headers {
            lookup["headers"] = headers;
        }
        json!({ "systemPrompt": "Hi", "llm": { "primary": {
            "provider": "custom", "model": "m", "baseUrl": llm.base_url() } }, "tools": [lookup] })
    };
    let secrets = json!([
        { "name": "Authorization", "value": "Bearer tool-secret-42" },
        { "name": "X-Api-Key", "value": "k-secret-99" }
    ]);
    // A header the server owns is refused, and nothing is stored.
    let create = "mutation($config: AgentConfigInput!) { createAgent(input: {name: \"Lookup\", config: $config}) { id } }";
    let (_, body) = server
        .gql(
            Some(&developer),
            create,
            json!({ "config": config(Some(json!([{ "name": "Host", "value": "internal" }]))) }),
        )
        .await;
    assert_eq!(
        field_codes(&body),
        [(
            "input.config.tools[0].headers[0].name".to_string(),
            "INVALID_NAME".to_string()
        )]
    );
    let agent = server
        .create_agent(&developer, "Lookup", config(Some(secrets)))
        .await;

    let read = "query($id: ID!) { agent(id: $id) { config { tools { name url headers { name } } }
        versions { nodes { config { tools { headers { name } } } } } } auditLog { nodes { action target } } }";
    let (_, body) = server
        .gql(Some(&acme.key), read, json!({ "id": agent }))
        .await;
    assert_eq!(
        body["data"]["agent"]["config"]["tools"][0]["headers"],
        json!([{ "name": "Authorization" }, { "name": "X-Api-Key" }])
    );
    let everything = body.to_string();
    assert!(
        !everything.contains("tool-secret-42") && !everything.contains("k-secret-99"),
        "{everything}"
    );
    // The tenant's file and its write-ahead log hold the value sealed only.
    for suffix in ["db", "db-wal"] {
        let path = server
            .data_dir
            .join("tenants")
            .join(format!("{}.{suffix}", acme.id));
        let bytes = std::fs::read(&path).unwrap_or_default();
        let needle = b"tool-secret-42";
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "{} holds the header in clear",
            path.display()
        );
    }

    let headers_seen = |n: usize| {
        let seen = tool.seen();
        let headers = &seen[n].1;
        (
            headers
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_string()),
            headers
                .get("x-api-key")
                .map(|v| v.to_str().unwrap().to_string()),
        )
    };
    let (mut client, _) = call(&server, &acme.key, &agent).await;
    assert_eq!(ask(&mut client, "Look it up.").await, "Found it.");
    drop(client);
    assert_eq!(
        headers_seen(0),
        (
            Some("Bearer tool-secret-42".into()),
            Some("k-secret-99".into())
        )
    );

    // Saving the configuration without `headers` (as the portal does) keeps them; `[]` removes them.
    let update = "mutation($id: ID!, $config: AgentConfigInput!) { updateAgent(id: $id, input: {config: $config}) { config { tools { headers { name } } } } }";
    let (_, body) = server
        .gql(
            Some(&developer),
            update,
            json!({ "id": agent, "config": config(None) }),
        )
        .await;
    assert_eq!(
        body["data"]["updateAgent"]["config"]["tools"][0]["headers"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "{body}"
    );
    let (mut client, _) = call(&server, &acme.key, &agent).await;
    assert_eq!(ask(&mut client, "Again.").await, "Found it again.");
    drop(client);
    assert_eq!(headers_seen(1).0.as_deref(), Some("Bearer tool-secret-42"));

    let (_, body) = server
        .gql(
            Some(&developer),
            update,
            json!({ "id": agent, "config": config(Some(json!([]))) }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let (mut client, _) = call(&server, &acme.key, &agent).await;
    assert_eq!(ask(&mut client, "Once more.").await, "Found it once more.");
    assert_eq!(headers_seen(2), (None, None));
}

#[tokio::test]
async fn viewers_see_urls_without_their_credentials() {
    let server = voice_server("").await;
    let acme = server.tenant("Acme").await;
    let viewer = server.key(acme.id, Role::Viewer).await;
    let developer = server.key(acme.id, Role::Developer).await;
    let tool_url = "https://user:pa55@tools.example.com/lookup?token=abc123#frag";
    let llm_url = "https://llm.example.com/v1?key=zzz999";
    let agent = server
        .create_agent(
            &developer,
            "Secretive",
            json!({ "systemPrompt": "Hi",
                "llm": { "primary": { "provider": "custom", "model": "m", "baseUrl": llm_url } },
                "tools": [{ "kind": "WEBHOOK", "name": "lookup", "url": tool_url, "parameters": { "type": "object" } }] }),
        )
        .await;
    let read = "query($id: ID!) { agent(id: $id) { config { llm { primary { baseUrl } } tools { url } } } }";
    let seen = |body: Value| {
        let config = &body["data"]["agent"]["config"];
        (
            config["llm"]["primary"]["baseUrl"]
                .as_str()
                .unwrap()
                .to_string(),
            config["tools"][0]["url"].as_str().unwrap().to_string(),
        )
    };
    let (_, body) = server
        .gql(Some(&viewer), read, json!({ "id": agent }))
        .await;
    assert_eq!(
        seen(body),
        (
            "https://llm.example.com/v1".to_string(),
            "https://tools.example.com/lookup".to_string()
        )
    );
    let (_, body) = server
        .gql(Some(&developer), read, json!({ "id": agent }))
        .await;
    assert_eq!(seen(body), (llm_url.to_string(), tool_url.to_string()));

    let set = "mutation($input: SetLlmKeyInput!) { setLlmKey(input: $input) { baseUrl } }";
    let (_, body) = server
        .gql(
            Some(&acme.key),
            set,
            json!({ "input": { "provider": "custom", "apiKey": "sk-custom-0001", "baseUrl": llm_url } }),
        )
        .await;
    assert_eq!(body["data"]["setLlmKey"]["baseUrl"], llm_url, "{body}");
    let (_, body) = server
        .gql(Some(&viewer), "{ llmKeys { baseUrl } }", json!({}))
        .await;
    assert_eq!(
        body["data"]["llmKeys"][0]["baseUrl"],
        "https://llm.example.com/v1"
    );
}
