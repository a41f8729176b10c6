//! The check that counts is made when a request is sent. URLs saved while the operator allowed them (or
//! before this check existed) are refused once the policy no longer lets them through: a webhook delivery is
//! recorded as failed with the reason, a tool call gives the model an error and the timeline a code, an LLM
//! provider fails over like any failing provider. Redirects are never followed. Nothing reaches the refused
//! addresses.

use serde_json::json;

use crate::openai_server::{OpenAiServer, Scripted};
use crate::{Receiver, ask, call, eventually, hang_up, of_type, support, voice_settings};

#[tokio::test]
async fn urls_on_our_network_are_refused_when_requests_are_made() {
    // Stand-ins: `hook` and `local_llm` on 127.0.0.1 must never be reached; `bouncer` (127.0.0.2) redirects to
    // `secret` (127.0.0.1); `llm` (127.0.0.2) is the one provider the second server may reach.
    let hook = Receiver::start("127.0.0.1", None).await;
    let secret = Receiver::start("127.0.0.1", None).await;
    let bouncer = Receiver::start("127.0.0.2", Some(format!("{}/secret", secret.url))).await;
    let local_llm = OpenAiServer::start().await;
    let llm = OpenAiServer::start_on("127.0.0.2").await;
    llm.push(
        Scripted::tool_call("metadata", json!({}))
            .and_tool_call("local", json!({}))
            .and_tool_call("bounce", json!({})),
    );
    llm.push(Scripted::text("Done."));
    let named = |url: &str| url.replace("127.0.0.1", "localhost");

    // A first server, whose operator allowed these ranges, stores the URLs.
    let data = tempfile::tempdir().unwrap();
    let first = support::spawn_in(data.path().to_path_buf(), |config| {
        config.outbound =
            voxedge::outbound::OutboundPolicy::parse("127.0.0.0/8,169.254.169.254/32,10.0.0.5/32")
                .unwrap();
    })
    .await;
    let acme = first.tenant("Acme").await;
    let create = "mutation($url: String!) { createWebhookEndpoint(input: {url: $url, events: [CALL_ENDED]}) { endpoint { id } } }";
    for url in [
        format!("{}/hook", hook.url),
        named(&format!("{}/hook", hook.url)),
        format!("{}/redirect", bouncer.url),
    ] {
        let (_, body) = first
            .gql(Some(&acme.key), create, json!({ "url": url }))
            .await;
        assert!(body["errors"].is_null(), "{body}");
    }
    let target = |url: String| json!({ "provider": "custom", "model": "m", "baseUrl": url });
    let tool = |name: &str, url: String| json!({ "kind": "WEBHOOK", "name": name, "url": url, "parameters": { "type": "object" } });
    let agent = first
        .create_agent(
            &acme.key,
            "Probe",
            json!({
                "systemPrompt": "You fetch things.",
                "llm": {
                    "primary": target("http://10.0.0.5:8080/v1".into()),
                    "fallbacks": [
                        target(named(local_llm.base_url())),
                        target(format!("{}/redirect/v1", bouncer.url)),
                        target(llm.base_url().to_string()),
                    ],
                },
                "tools": [
                    tool("metadata", "http://169.254.169.254/latest/meta-data/".into()),
                    tool("local", named(&format!("{}/tool", hook.url))),
                    tool("bounce", format!("{}/tool/redirect", bouncer.url)),
                ],
            }),
        )
        .await;
    first.stop().await;

    // The same data on a server that lets tenants reach only 127.0.0.2 (where `llm` and `bouncer` run).
    let server = support::spawn_in(data.path().to_path_buf(), |config| {
        voice_settings(config, "127.0.0.2/32")
    })
    .await;
    let (mut client, call_id) = call(&server, &acme.key, &agent).await;
    assert_eq!(ask(&mut client, "Fetch it all.").await, "Done.");
    let events = hang_up(&server, &acme.key, client, &call_id).await;

    // LLM providers: refused (10.0.0.5, localhost) or redirected (not followed), then the allowed one, in both
    // rounds of the reply.
    let failures: Vec<&str> = of_type(&events, "llm_provider_failed")
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        failures,
        ["url_not_allowed", "url_not_allowed", "provider_status"].repeat(2),
        "{events:?}"
    );
    // Tools: each call failed with its reason on the timeline, and the model was told why.
    let results: Vec<(&str, &str)> = of_type(&events, "tool_result")
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap(),
                d["code"].as_str().unwrap_or("ok"),
            )
        })
        .collect();
    assert_eq!(
        results,
        [
            ("metadata", "url_not_allowed"),
            ("local", "url_not_allowed"),
            ("bounce", "tool_failed")
        ]
    );
    let told: Vec<String> = llm.requests()[1]
        .messages()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap().to_string())
        .collect();
    assert!(
        told[0].contains("169.254.169.254 is a link-local address"),
        "{told:?}"
    );
    assert!(
        told[1].contains("localhost resolves to 127.0.0.1, a loopback address"),
        "{told:?}"
    );
    assert!(
        told[2].contains("307") && told[2].contains("redirects are not followed"),
        "{told:?}"
    );

    // Webhooks: every attempt recorded as failed with the reason.
    let deliveries =
        "{ webhookEndpoints { nodes { url deliveries { nodes { status attempts lastError } } } } }";
    let endpoints = eventually(async || {
        let (_, body) = server.gql(Some(&acme.key), deliveries, json!({})).await;
        let endpoints = body["data"]["webhookEndpoints"]["nodes"]
            .as_array()?
            .clone();
        let attempted = endpoints.iter().all(|e| {
            let nodes = e["deliveries"]["nodes"].as_array().unwrap();
            nodes.len() == 1 && nodes.iter().all(|d| d["attempts"].as_i64() >= Some(1))
        });
        attempted.then_some(endpoints)
    })
    .await;
    for endpoint in endpoints {
        let url = endpoint["url"].as_str().unwrap();
        let expected = if url.contains("localhost") {
            "refused: localhost resolves to 127.0.0.1, a loopback address"
        } else if url.contains("redirect") {
            "HTTP 307 Temporary Redirect: redirects are not followed"
        } else {
            "refused: 127.0.0.1 is a loopback address"
        };
        for delivery in endpoint["deliveries"]["nodes"].as_array().unwrap() {
            assert_ne!(delivery["status"], "DELIVERED", "{url}: {delivery}");
            let error = delivery["lastError"].as_str().unwrap();
            assert!(error.starts_with(expected), "{url}: {error}");
        }
    }

    // Nothing on 127.0.0.1 was ever reached; the bouncer saw one LLM request per round, one tool call and
    // the redirecting endpoint's deliveries.
    assert!(hook.seen().is_empty(), "{:?}", hook.seen());
    assert!(secret.seen().is_empty(), "redirects are never followed");
    assert_eq!(local_llm.request_count(), 0);
    let metrics = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for purpose in ["llm", "tool", "webhook"] {
        assert!(
            metrics.contains(&format!(
                "voxedge_outbound_refused_total{{purpose=\"{purpose}\"}}"
            )),
            "{purpose}"
        );
    }
}

#[tokio::test]
async fn an_operator_allowed_local_llm_still_answers() {
    let llm = OpenAiServer::with_script([Scripted::text("Hello from the local model.")]).await;
    let server = crate::voice_server("127.0.0.1/32").await;
    let acme = server.tenant("Acme").await;
    let agent = server
        .create_agent(
            &acme.key,
            "Local",
            json!({ "systemPrompt": "Hi", "llm": { "primary": {
                "provider": "ollama", "model": "llama3.2", "baseUrl": llm.base_url() } } }),
        )
        .await;
    let (mut client, _) = call(&server, &acme.key, &agent).await;
    assert_eq!(
        ask(&mut client, "Hello?").await,
        "Hello from the local model."
    );
}
