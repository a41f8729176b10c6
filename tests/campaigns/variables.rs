//! Dynamic variables: `{{name}}` placeholders filled in the prompt the LLM receives (a browser call whose session
//! token carries them), checked where they are given (minting, placing a call, saving the agent), and a call whose
//! agent now needs one the call lacks refused with `missing_variables` instead of a blank.

use serde_json::{Value, json};

use crate::openai_server::{OpenAiServer, Scripted};
use crate::support::twilio::{Callee, FakeTwilio};
use crate::support::voice::{RealtimeAuth, realtime};
use crate::*;

const MINT: &str =
    "mutation($a: ID!, $v: JSON) { createSessionToken(agentId: $a, variables: $v) { token } }";

fn agent_config(llm: &OpenAiServer, prompt: &str) -> Value {
    json!({
        "systemPrompt": prompt,
        "llm": { "primary": { "provider": "custom", "model": "m", "baseUrl": llm.base_url() } },
    })
}

#[tokio::test]
async fn variables_fill_the_prompt_the_llm_receives() {
    let llm = OpenAiServer::with_script([Scripted::text("Of course, Ada.")]).await;
    let twilio = FakeTwilio::start(Callee::NoAnswer).await;
    let server = server(&twilio).await;
    let prompt = "You are calling {{first_name}} about {{ topic }}.";
    let (tenant, agent) = tenant_with_agent(&server, agent_config(&llm, prompt)).await;

    let (_, body) = server
        .gql(
            Some(&tenant.key),
            MINT,
            json!({ "a": agent, "v": { "first_name": "Ada" } }),
        )
        .await;
    assert_eq!(support::error_code(&body), "INVALID_INPUT", "{body}");
    let field = &body["errors"][0]["extensions"]["fields"][0];
    assert_eq!(field["code"], "MISSING_VARIABLES");
    assert!(
        field["message"].as_str().unwrap().contains("{{topic}}"),
        "{field}"
    );

    let (_, body) = server
        .gql(
            Some(&tenant.key),
            MINT,
            json!({ "a": agent, "v": { "first_name": "Ada", "topic": "the refund" } }),
        )
        .await;
    let token = data(&body, "createSessionToken")["token"]
        .as_str()
        .unwrap()
        .to_string();
    let mut client = realtime(&server, "", RealtimeAuth::Subprotocol(&token), false).await;
    let created = client.until("session.created").await;
    let call_id = created["session"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        created["session"]["instructions"],
        "You are calling Ada about the refund."
    );
    client
        .send(json!({
            "type": "conversation.item.create",
            "item": { "type": "message", "role": "user", "content": [{ "type": "input_text", "text": "Hello?" }] }
        }))
        .await;
    client.send(json!({ "type": "response.create" })).await;
    client.until("response.done").await;

    let requests = llm.requests();
    let system = &requests[0].messages()[0];
    assert_eq!(system["role"], "system");
    assert_eq!(system["content"], "You are calling Ada about the refund.");
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "query($id: ID!) { call(id: $id) { variables } }",
            json!({ "id": call_id }),
        )
        .await;
    assert_eq!(
        data(&body, "call")["variables"],
        json!({ "first_name": "Ada", "topic": "the refund" })
    );
}

#[tokio::test]
async fn a_call_lacking_a_variable_is_refused_not_blank() {
    let llm = OpenAiServer::start().await;
    let twilio = FakeTwilio::start(Callee::NoAnswer).await;
    let server = server(&twilio).await;
    let (tenant, agent) =
        tenant_with_agent(&server, agent_config(&llm, "Help {{first_name}}.")).await;
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            MINT,
            json!({ "a": agent, "v": { "first_name": "Ada" } }),
        )
        .await;
    let token = data(&body, "createSessionToken")["token"]
        .as_str()
        .unwrap()
        .to_string();

    // The agent now needs a variable the token does not carry.
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "mutation($id: ID!, $c: AgentConfigInput!) { updateAgent(id: $id, input: { config: $c }) { activeVersion } }",
            json!({ "id": agent, "c": agent_config(&llm, "Help {{first_name}} with plan {{plan}}.") }),
        )
        .await;
    data(&body, "updateAgent");
    let mut client = realtime(&server, "", RealtimeAuth::Subprotocol(&token), false).await;
    let error = client.until("error").await;
    assert_eq!(error["error"]["code"], "missing_variables", "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("{{plan}}")
    );
    let (closed, _) = client.until_closed().await;
    assert!(
        matches!(
            closed,
            crate::support::voice::Closed::Frame { code: 1008, .. }
        ),
        "{closed:?}"
    );
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "{ calls(first: 5) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data(&body, "calls")["nodes"],
        json!([]),
        "a refused connection creates no call"
    );

    // Placing a call checks before dialling; saving an agent checks its placeholders.
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "mutation($a: ID!, $v: JSON) { placeCall(agentId: $a, to: \"+14155550100\", from: \"+14155550999\", variables: $v) { id } }",
            json!({ "a": agent, "v": { "first_name": "Ada" } }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["fields"][0]["code"], "MISSING_VARIABLES",
        "{body}"
    );
    assert!(twilio.calls().is_empty(), "nobody was dialled");
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "mutation($c: AgentConfigInput!) { createAgent(input: {name: \"Broken\", config: $c}) { id } }",
            json!({ "c": agent_config(&llm, "Help {{first name}} and {{unclosed") }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["fields"][0]["code"], "INVALID_TEMPLATE",
        "{body}"
    );
}
