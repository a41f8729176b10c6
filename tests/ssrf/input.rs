//! URLs that lead to our own network are refused when a tenant saves them, with `URL_NOT_ALLOWED` on the field,
//! and nothing already stored changes.

use serde_json::json;
use voxedge::model::Role;

use crate::field_codes;
use crate::support;

/// The forms an attacker tries: literal loopback, link-local (metadata), private, IPv6 loopback and its
/// IPv4-mapped form, Fly's private network, loopback spelled as a number, and names that resolve to loopback.
const PRIVATE: [&str; 10] = [
    "http://127.0.0.1:9/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.5:8080/v1",
    "http://[::1]:9/hook",
    "http://[::ffff:127.0.0.1]:9/hook",
    "http://[fdaa::3]:8080/hook",
    "http://2130706433/hook",
    "http://0x7f.1/hook",
    "http://localhost:9/hook",
    "http://100.100.100.200/latest/meta-data",
];

#[tokio::test]
async fn webhook_endpoints_on_our_network_are_refused_when_saved() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let create = "mutation($url: String!) { createWebhookEndpoint(input: {url: $url, events: [CALL_ENDED]}) { endpoint { id } } }";
    for url in PRIVATE {
        let (_, body) = server
            .gql(Some(&acme.key), create, json!({ "url": url }))
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "INVALID_INPUT",
            "{url}: {body}"
        );
        assert_eq!(
            field_codes(&body),
            [("input.url".to_string(), "URL_NOT_ALLOWED".to_string())],
            "{url}"
        );
    }
    let list = "{ webhookEndpoints { nodes { id url } } }";
    let (_, body) = server.gql(Some(&acme.key), list, json!({})).await;
    assert_eq!(
        body["data"]["webhookEndpoints"]["nodes"],
        json!([]),
        "nothing stored"
    );

    // A name that does not resolve here is accepted (the request-time check decides); moving it onto our
    // network is refused and leaves it as it was.
    let (_, body) = server
        .gql(
            Some(&acme.key),
            create,
            json!({ "url": "https://hooks.example.com/in" }),
        )
        .await;
    let id = body["data"]["createWebhookEndpoint"]["endpoint"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_string();
    let update = "mutation($id: ID!, $url: String!) { updateWebhookEndpoint(id: $id, input: {url: $url, events: [CALL_ENDED]}) { url } }";
    let (_, body) = server
        .gql(
            Some(&acme.key),
            update,
            json!({ "id": id, "url": "http://169.254.169.254/latest/meta-data/" }),
        )
        .await;
    assert_eq!(field_codes(&body)[0].1, "URL_NOT_ALLOWED", "{body}");
    let (_, body) = server.gql(Some(&acme.key), list, json!({})).await;
    assert_eq!(
        body["data"]["webhookEndpoints"]["nodes"][0]["url"],
        "https://hooks.example.com/in"
    );
}

#[tokio::test]
async fn agents_whose_tools_or_llms_point_at_our_network_are_refused_when_saved() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let create = "mutation($config: AgentConfigInput!) { createAgent(input: {name: \"Probe\", config: $config}) { id activeVersion } }";
    let tool = |url: &str| {
        json!({ "systemPrompt": "Hi", "tools": [{
            "kind": "WEBHOOK", "name": "fetch", "url": url, "parameters": { "type": "object" } }] })
    };
    let llm = |url: &str| {
        json!({ "systemPrompt": "Hi", "llm": {
            "primary": { "provider": "openai", "model": "gpt-4o-mini" },
            "fallbacks": [{ "provider": "custom", "model": "m", "baseUrl": url }] } })
    };
    for url in PRIVATE {
        for (config, field) in [
            (tool(url), "input.config.tools[0].url"),
            (llm(url), "input.config.llm.fallbacks[0].baseUrl"),
        ] {
            let (_, body) = server
                .gql(Some(&acme.key), create, json!({ "config": config }))
                .await;
            assert_eq!(
                field_codes(&body),
                [(field.to_string(), "URL_NOT_ALLOWED".to_string())],
                "{url}: {body}"
            );
        }
    }
    // Ollama's default endpoint is loopback: refused unless the operator allows it.
    let ollama = json!({ "systemPrompt": "Hi", "llm": { "primary": { "provider": "ollama", "model": "llama3.2" } } });
    let (_, body) = server
        .gql(Some(&acme.key), create, json!({ "config": ollama }))
        .await;
    assert_eq!(
        field_codes(&body),
        [(
            "input.config.llm.primary.baseUrl".to_string(),
            "URL_NOT_ALLOWED".to_string()
        )]
    );
    let list = "{ agents { nodes { id activeVersion } } }";
    let (_, body) = server.gql(Some(&acme.key), list, json!({})).await;
    assert_eq!(body["data"]["agents"]["nodes"], json!([]), "nothing stored");

    // An existing agent keeps its version when a change would point it at the metadata service.
    let (_, body) = server
        .gql(
            Some(&acme.key),
            create,
            json!({ "config": tool("https://tools.example.com/x") }),
        )
        .await;
    let id = body["data"]["createAgent"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let update = "mutation($id: ID!, $config: AgentConfigInput!) { updateAgent(id: $id, input: {config: $config}) { activeVersion } }";
    let (_, body) = server
        .gql(
            Some(&acme.key),
            update,
            json!({ "id": id, "config": tool("http://169.254.169.254/latest/meta-data/iam/") }),
        )
        .await;
    assert_eq!(field_codes(&body)[0].1, "URL_NOT_ALLOWED", "{body}");
    let (_, body) = server.gql(Some(&acme.key), list, json!({})).await;
    assert_eq!(body["data"]["agents"]["nodes"][0]["activeVersion"], 1);
}

#[tokio::test]
async fn llm_keys_cannot_be_bound_to_our_network_or_by_developers() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let developer = server.key(acme.id, Role::Developer).await;
    let set = "mutation($input: SetLlmKeyInput!) { setLlmKey(input: $input) { provider apiKeyLast4 baseUrl } }";
    let (_, body) = server
        .gql(
            Some(&acme.key),
            set,
            json!({ "input": { "provider": "custom", "apiKey": "sk-custom-0001", "baseUrl": "http://10.0.0.5:8080/v1" } }),
        )
        .await;
    assert_eq!(
        field_codes(&body),
        [("input.baseUrl".to_string(), "URL_NOT_ALLOWED".to_string())]
    );
    let (_, body) = server
        .gql(
            Some(&acme.key),
            set,
            json!({ "input": { "provider": "openai", "apiKey": "sk-openai-1111" } }),
        )
        .await;
    assert_eq!(body["data"]["setLlmKey"]["baseUrl"], json!(null), "{body}");
    // Developers set keys, but only owners and admins say where else a key may go.
    let (_, body) = server
        .gql(
            Some(&developer),
            set,
            json!({ "input": { "provider": "openai", "apiKey": "sk-openai-2222", "baseUrl": "https://llm.example.com/v1" } }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    let (_, body) = server
        .gql(
            Some(&acme.key),
            "{ llmKeys { provider apiKeyLast4 baseUrl } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["llmKeys"],
        json!([{ "provider": "openai", "apiKeyLast4": "1111", "baseUrl": null }]),
        "nothing stored changed"
    );
}
