//! DTMF on phone calls: the agent presses keys with its built-in `send_dtmf` tool (tones in its audio, after what
//! it says first), and the keys a caller presses reach the agent's LLM as one text message.

use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use voxedge::audio::tones::{dtmf_frequencies, mean_power, tone_power};
use voxedge::audio::{AudioFormat, FormatDecoder};

use crate::agent::{agent_server, create_agent};
use crate::openai_server::{OpenAiServer, Scripted};
use crate::support::voice::{
    JsonSocket, ended_call, event_types, jfk_encoded, session_token, twilio, twilio_media,
};

const STREAM: &str = "MZ00000000000000000000000000000001";

/// Keeps a phone line open (silence every 20 ms) while collecting the agent's audio, until `done` says so
/// (asked every 100 ms with what was heard so far) or `within` has passed. A condition rather than a fixed
/// window: on a loaded CI machine transcription and synthesis take several times longer than here.
async fn listen_until(
    phone: &mut JsonSocket,
    within: Duration,
    mut done: impl FnMut(&[u8]) -> bool,
) -> Vec<u8> {
    let mut heard = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut ask = tokio::time::interval(Duration::from_millis(100));
    while tokio::time::Instant::now() < deadline {
        tokio::select! {
            _ = tick.tick() => twilio_media(phone, &[0xff; 160]).await,
            _ = ask.tick() => if done(&heard) { break },
            message = tokio::time::timeout(Duration::from_millis(20), phone.next()) => {
                if let Ok(Ok(event)) = message {
                    if event["event"] == "media" {
                        let payload = event["media"]["payload"].as_str().unwrap();
                        heard.extend(base64::engine::general_purpose::STANDARD.decode(payload).unwrap());
                    } else if event["event"] == "mark" {
                        phone.send(json!({ "event": "mark", "streamSid": STREAM, "mark": event["mark"] })).await;
                    }
                }
            }
        }
    }
    heard
}

/// The keys pressed in µ-law audio, in order: 40 ms windows where one key's two tones carry the sound.
fn keys_in(mulaw: &[u8]) -> String {
    let mut decoder = FormatDecoder::new(AudioFormat::G711Ulaw).unwrap();
    let samples = decoder.decode(mulaw).samples;
    let mut keys = String::new();
    let mut last = None;
    for window in samples.chunks(640) {
        let total = mean_power(window);
        let key = (total > 1e-3)
            .then(|| {
                "0123456789*#ABCD".chars().find(|&k| {
                    let (low, high) = dtmf_frequencies(k).unwrap();
                    let share = (tone_power(window, 16_000, low)
                        + tone_power(window, 16_000, high))
                        / total;
                    share > 0.8
                })
            })
            .flatten();
        if let Some(pressed) = key
            && key != last
        {
            keys.push(pressed);
        }
        last = key;
    }
    keys
}

async fn phone_call(
    server: &crate::support::TestServer,
    key: &str,
    agent: &str,
) -> (JsonSocket, String) {
    let token = session_token(server, key, agent).await;
    let phone = twilio(
        server,
        json!({ "token": token, "from": "+14155550100", "to": "+14155550199", "callSid": "CA1" }),
    )
    .await;
    let call = server.latest_call(key).await;
    (phone, call)
}

fn send_dtmf_tool() -> Value {
    json!([{ "kind": "SEND_DTMF", "name": "send_dtmf" }])
}

#[tokio::test]
async fn the_agent_presses_keys_after_what_it_says() {
    let llm = OpenAiServer::with_script([
        Scripted::text("One moment.").and_tool_call("send_dtmf", json!({ "digits": "1#" })),
        Scripted::text("Done."),
    ])
    .await;
    let server = agent_server().await;
    let acme = server.tenant("Acme").await;
    let agent = create_agent(
        &server,
        &acme.key,
        &llm,
        json!({ "tools": send_dtmf_tool() }),
    )
    .await;
    let (mut phone, call) = phone_call(&server, &acme.key, &agent).await;
    twilio_media(&mut phone, &jfk_encoded(AudioFormat::G711Ulaw, 1000)).await;
    // Done once both keys sounded and the model was asked again with the tool's result.
    let heard = listen_until(&mut phone, Duration::from_secs(90), |heard| {
        llm.request_count() >= 2 && keys_in(heard) == "1#"
    })
    .await;
    assert_eq!(keys_in(&heard), "1#", "{} bytes heard", heard.len());
    assert_eq!(
        llm.request_count(),
        2,
        "the tool's result went back to the model"
    );
    phone
        .send(json!({ "event": "stop", "streamSid": STREAM }))
        .await;
    let call = ended_call(&server, &acme.key, &call).await;
    let sent = call["events"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["node"]["type"] == "dtmf_sent")
        .expect("dtmf_sent on the timeline");
    assert_eq!(sent["node"]["data"]["digits"], "1#");
    // The model learnt the keys were pressed.
    let second = &llm.requests()[1];
    let told = second.messages().iter().any(|m| {
        m["role"] == "tool"
            && m["content"]
                .as_str()
                .unwrap_or_default()
                .contains("pressed")
    });
    assert!(told, "{:?}", second.messages());
}

#[tokio::test]
async fn keys_the_caller_presses_reach_the_llm_as_text() {
    let llm = OpenAiServer::with_script([Scripted::text("Thanks, account four two.")]).await;
    let server = agent_server().await;
    let acme = server.tenant("Acme").await;
    let agent = create_agent(&server, &acme.key, &llm, json!({})).await;
    let (mut phone, call) = phone_call(&server, &acme.key, &agent).await;
    for digit in ["4", "2"] {
        phone
            .send(json!({ "event": "dtmf", "streamSid": STREAM, "dtmf": { "track": "inbound_track", "digit": digit } }))
            .await;
    }
    listen_until(&mut phone, Duration::from_secs(60), |_| {
        llm.request_count() >= 1
    })
    .await;
    // Time for a second turn to show up, were the keys split over two.
    listen_until(&mut phone, Duration::from_secs(2), |_| false).await;
    assert_eq!(llm.request_count(), 1, "both keys in one turn");
    let messages = llm.requests()[0].messages().to_vec();
    let last = messages.last().unwrap();
    assert_eq!(last["role"], "user");
    assert_eq!(last["content"], "[The caller pressed on the keypad: 4 2]");
    phone
        .send(json!({ "event": "stop", "streamSid": STREAM }))
        .await;
    let call = ended_call(&server, &acme.key, &call).await;
    let types = event_types(&call);
    assert_eq!(
        types.iter().filter(|t| *t == "dtmf").count(),
        2,
        "{types:?}"
    );
}
