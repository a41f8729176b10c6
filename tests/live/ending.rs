//! Every end-call rule: the `end_call` tool, end phrases, silence, maximum duration, and transfers through Twilio.

use crate::openai_server::{OpenAiServer, Scripted};
use crate::support::voice::{
    append_audio, ended_call, event_types, jfk_encoded, session_token, twilio, twilio_media,
    voice_config,
};
use crate::support::{TestServer, TestTenant};
use axum::Json;
use axum::routing::post;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use voxedge::audio::AudioFormat;

use crate::agent::*;

#[tokio::test]
async fn the_end_call_tool_hangs_up_after_the_goodbye_is_spoken() {
    let llm = OpenAiServer::with_script([Scripted::text("Goodbye, have a nice day.")
        .and_tool_call("end_call", json!({ "reason": "caller is done" }))])
    .await;
    let server = agent_server().await;
    let acme = server.tenant("Acme").await;
    let agent = create_agent(
        &server,
        &acme.key,
        &llm,
        json!({ "tools": [{ "kind": "END_CALL", "name": "end_call" }] }),
    )
    .await;
    let (mut client, call) = connect(&server, &acme, &agent).await;
    let bye = ask(&mut client, "That's all, thanks.").await;
    assert_eq!(bye.transcript, "Goodbye, have a nice day.");
    let (closed, _) = client.until_closed().await;
    assert!(
        matches!(
            closed,
            crate::support::voice::Closed::Frame { code: 1000, .. }
        ),
        "{closed:?}"
    );
    let ended = ended_call(&server, &acme.key, &call).await;
    assert_eq!(ended["endedReason"], "agent_hangup");
    assert_eq!(segments(&ended, "AGENT"), ["Goodbye, have a nice day."]);
}
#[tokio::test]
async fn an_end_phrase_from_the_caller_ends_the_call() {
    let llm = OpenAiServer::start().await;
    let server = agent_server().await;
    let acme = server.tenant("Acme").await;
    let agent = create_agent(
        &server,
        &acme.key,
        &llm,
        json!({ "endCall": { "endPhrases": ["Ask NOT what your country"] }, "turnDetection": { "silenceDurationMs": 2000 } }),
    )
    .await;
    let (mut client, call) = connect(&server, &acme, &agent).await;
    append_audio(&mut client, &jfk_encoded(AudioFormat::Pcm16, 2500), 4800).await;
    let (closed, _) = client.until_closed().await;
    assert!(
        matches!(
            closed,
            crate::support::voice::Closed::Frame { code: 1000, .. }
        ),
        "{closed:?}"
    );
    let ended = ended_call(&server, &acme.key, &call).await;
    assert_eq!(ended["endedReason"], "end_phrase");
    assert_eq!(llm.request_count(), 0, "no answer to a goodbye");
}
#[tokio::test]
async fn silence_gets_one_reprompt_then_the_call_ends() {
    let llm = OpenAiServer::start().await;
    let server = agent_server().await;
    let acme = server.tenant("Acme").await;
    let agent = create_agent(
        &server,
        &acme.key,
        &llm,
        json!({ "endCall": { "silenceTimeoutSecs": 5, "silenceReprompt": "Hello, are you there?" } }),
    )
    .await;
    let started = Instant::now();
    let (mut client, call) = connect(&server, &acme, &agent).await;
    let reprompt = response(&mut client).await;
    assert_eq!(reprompt.transcript, "Hello, are you there?");
    let asked_after = started.elapsed();
    assert!(asked_after >= Duration::from_secs(5), "{asked_after:?}");
    let (closed, _) = client.until_closed().await;
    assert!(
        matches!(
            closed,
            crate::support::voice::Closed::Frame { code: 1000, .. }
        ),
        "{closed:?}"
    );
    assert!(started.elapsed() >= Duration::from_secs(10));
    let ended = ended_call(&server, &acme.key, &call).await;
    assert_eq!(ended["endedReason"], "silence_timeout");
    assert_eq!(events_of(&ended, "silence_reprompt").len(), 1);
}
#[tokio::test]
async fn the_maximum_duration_ends_the_call() {
    let llm = OpenAiServer::start().await;
    let server = agent_server().await;
    let acme = server.tenant("Acme").await;
    let agent = create_agent(
        &server,
        &acme.key,
        &llm,
        json!({ "endCall": { "maxDurationSecs": 2 } }),
    )
    .await;
    let started = Instant::now();
    let (mut client, call) = connect(&server, &acme, &agent).await;
    let (closed, _) = client.until_closed().await;
    assert!(
        matches!(
            closed,
            crate::support::voice::Closed::Frame { code: 1000, .. }
        ),
        "{closed:?}"
    );
    let elapsed = started.elapsed();
    assert!(
        (Duration::from_secs(2)..Duration::from_secs(4)).contains(&elapsed),
        "{elapsed:?}"
    );
    let ended = ended_call(&server, &acme.key, &call).await;
    assert_eq!(ended["endedReason"], "max_duration");
    assert_eq!(ended["status"], "COMPLETED");
}
/// Twilio's REST API, as much as a transfer needs: `POST Calls/{sid}.json` with a `Twiml` form field.
/// Records each update; answers like Twilio — the call's JSON, or 404 (code 20404) once `gone` is set.
#[derive(Clone, Default)]
struct TwilioRest {
    updates: Arc<Mutex<Vec<(String, String)>>>,
    gone: Arc<std::sync::atomic::AtomicBool>,
}
impl TwilioRest {
    async fn start() -> (Self, String) {
        let fake = Self::default();
        let state = fake.clone();
        let app = axum::Router::new().route(
            "/2010-04-01/Accounts/{account}/Calls/{call}",
            post(
                move |axum::extract::Path((account, call)): axum::extract::Path<(String, String)>,
                      body: String| async move {
                    let form: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap();
                    let twiml = form
                        .into_iter()
                        .find(|(k, _)| k == "Twiml")
                        .map(|(_, v)| v)
                        .unwrap_or_default();
                    let sid = call.trim_end_matches(".json").to_string();
                    state.updates.lock().unwrap().push((sid.clone(), twiml));
                    if state.gone.load(std::sync::atomic::Ordering::SeqCst) {
                        let error = json!({ "code": 20404, "message": "The requested resource was not found", "status": 404 });
                        return (axum::http::StatusCode::NOT_FOUND, Json(error));
                    }
                    let call = json!({ "sid": sid, "account_sid": account, "status": "in-progress" });
                    (axum::http::StatusCode::OK, Json(call))
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (fake, base)
    }

    fn updates(&self) -> Vec<(String, String)> {
        self.updates.lock().unwrap().clone()
    }
}
/// One phone call in which the caller asks something and the agent answers; marks are echoed as Twilio
/// does once audio has played. Returns the call, after it ended.
async fn phone_call_until_closed(server: &TestServer, tenant: &TestTenant, agent: &str) -> Value {
    let token = session_token(server, &tenant.key, agent).await;
    let mut client = twilio(server, json!({ "token": token, "from": "+14155550100" })).await;
    twilio_media(&mut client, &jfk_encoded(AudioFormat::G711Ulaw, 1200)).await;
    loop {
        match client.next().await {
            Ok(message) if message["event"] == "mark" => {
                client
                    .send(json!({ "event": "mark", "streamSid": message["streamSid"], "mark": message["mark"] }))
                    .await
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let call = server.latest_call(&tenant.key).await;
    ended_call(server, &tenant.key, &call).await
}
#[tokio::test]
async fn transfer_call_hands_the_phone_call_to_the_destination_through_twilio() {
    let (twilio_rest, base) = TwilioRest::start().await;
    let say = "Let me put you through to billing.";
    let transfer = || {
        Scripted::text(say).and_tool_call(
            "transfer_call",
            json!({ "to": "billing", "reason": "a question about an invoice" }),
        )
    };
    let llm = OpenAiServer::with_script([transfer(), transfer()]).await;
    let server = crate::support::spawn_with(|config| {
        crate::support::allow_loopback(config);
        config.voice = voice_config();
        config.twilio_api_url = base;
    })
    .await;
    let acme = server.tenant("Acme").await;
    let (_, body) = server
        .gql(
            Some(&acme.key),
            "mutation($i: SetTwilioAccountInput!) { setTwilioAccount(input: $i) { accountSid } }",
            json!({ "i": { "accountSid": "AC0123456789abcdef0123456789abcdef", "authToken": "aaaa1111bbbb2222cccc3333dddd4444" } }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let agent = create_agent(
        &server,
        &acme.key,
        &llm,
        json!({
            "tools": [{
                "kind": "TRANSFER_CALL",
                "name": "transfer_call",
                "destinations": [
                    { "name": "billing", "phoneNumber": "+14155550199" },
                    { "name": "sales", "phoneNumber": "+14155550142" }
                ]
            }]
        }),
    )
    .await;

    // Twilio takes the call over: the redirect dials billing's number, and our part of the call ends.
    let ended = phone_call_until_closed(&server, &acme, &agent).await;
    assert_eq!(
        (&ended["status"], &ended["endedReason"]),
        (&json!("COMPLETED"), &json!("transferred"))
    );
    assert_eq!(
        twilio_rest.updates(),
        [(
            "CA00000000000000000000000000000001".to_string(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Dial>+14155550199</Dial></Response>"
                .to_string()
        )]
    );
    assert_eq!(segments(&ended, "AGENT"), [say], "the goodbye played first");
    let requested = events_of(&ended, "transfer_requested");
    assert_eq!(requested.len(), 1, "{:?}", event_types(&ended));
    assert_eq!(requested[0]["to"], "billing");
    // The model is told what it may transfer to, by name.
    let tools = &llm.requests()[0].body["tools"];
    let transfer_tool = tools
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["function"]["name"] == "transfer_call")
        .expect("transfer_call offered");
    assert_eq!(
        transfer_tool["function"]["parameters"]["properties"]["to"]["enum"],
        json!(["billing", "sales"])
    );

    // Twilio refuses (the call is gone): the call ends as a failed transfer, on the timeline with its code.
    twilio_rest
        .gone
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let ended = phone_call_until_closed(&server, &acme, &agent).await;
    assert_eq!(
        (&ended["status"], &ended["endedReason"]),
        (&json!("FAILED"), &json!("transfer_failed"))
    );
    let failed = events_of(&ended, "transfer_failed");
    assert_eq!(failed.len(), 1, "{:?}", event_types(&ended));
    assert!(failed[0]["code"].is_string(), "{failed:?}");
    assert_eq!(twilio_rest.updates().len(), 2);
}
