//! Live calls, the agent's side: the caller's turn goes to a local OpenAI-compatible server (real HTTP, streamed
//! tokens, tools, failures), the reply is spoken by the real Piper voice, and the audio that comes back over the
//! wire is transcribed again by the real Whisper model. Barge-in, failover, circuit breaking, webhook tools, TTS
//! failure and every end-call rule, from the outside.

mod support;

#[path = "support/openai_server.rs"]
mod openai_server;

use std::os::unix::fs::PermissionsExt as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::routing::post;
use base64::Engine as _;
use openai_server::{OpenAiServer, Scripted};
use serde_json::{Value, json};
use support::voice::{
    JsonSocket, RealtimeAuth, append_audio, ended_call, event_types, jfk_encoded, normalise,
    realtime, session_token, twilio, twilio_media, voice_config,
};
use support::{TestServer, TestTenant};
use voxedge::audio::{AudioFormat, FormatDecoder, StreamResampler};
use voxedge::voice::{SpeechToText, VoiceModels, VoiceOptions};

/// A server with the real voice models, short LLM timeouts and a circuit that opens after two failures.
async fn agent_server() -> TestServer {
    support::spawn_with(|config| {
        config.voice = voice_config();
        config.llm.first_token_timeout = Duration::from_millis(1500);
        config.llm.breaker.failure_threshold = 2;
    })
    .await
}

/// An LLM target on a local server.
fn target(llm: &OpenAiServer) -> Value {
    json!({ "provider": "custom", "model": "test-model", "baseUrl": llm.base_url() })
}

/// Creates an agent with `config` (merged over a prompt and the `llm` primary) and returns its id.
async fn create_agent(server: &TestServer, key: &str, llm: &OpenAiServer, config: Value) -> String {
    let mut full = json!({
        "systemPrompt": "You are the front desk of the city library. Be brief.",
        "llm": { "primary": target(llm) },
    });
    if let (Some(full), Some(extra)) = (full.as_object_mut(), config.as_object()) {
        for (k, v) in extra {
            full.insert(k.clone(), v.clone());
        }
    }
    let (_, body) = server
        .gql(
            Some(key),
            "mutation($config: AgentConfigInput!) { createAgent(input: {name: \"Desk\", config: $config}) { id } }",
            json!({ "config": full }),
        )
        .await;
    body["data"]["createAgent"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("agent created: {body}"))
        .to_string()
}

async fn connect(server: &TestServer, tenant: &TestTenant, agent: &str) -> (JsonSocket, String) {
    let mut client = realtime(
        server,
        &format!("agent={agent}"),
        RealtimeAuth::Header(&tenant.key),
        false,
    )
    .await;
    let created = client.until("session.created").await;
    let call = created["session"]["id"].as_str().unwrap().to_string();
    (client, call)
}

/// One agent response as a Realtime client saw it.
#[derive(Debug, Default)]
struct Heard {
    events: Vec<Value>,
    transcript: String,
    text: String,
    audio: Vec<u8>,
    done: Value,
}

impl Heard {
    fn types(&self) -> Vec<&str> {
        self.events
            .iter()
            .map(|e| e["type"].as_str().unwrap_or_default())
            .collect()
    }
}

/// Reads one whole response (from `response.created` to `response.done`).
async fn response(client: &mut JsonSocket) -> Heard {
    client.until("response.created").await;
    let mut heard = Heard::default();
    loop {
        let event = client
            .next()
            .await
            .unwrap_or_else(|c| panic!("closed ({c:?}) during a response"));
        match event["type"].as_str().unwrap_or_default() {
            "response.output_audio.delta" => heard.audio.extend(
                base64::engine::general_purpose::STANDARD
                    .decode(event["delta"].as_str().unwrap())
                    .unwrap(),
            ),
            "response.output_audio_transcript.delta" => {
                heard.transcript.push_str(event["delta"].as_str().unwrap())
            }
            "response.output_text.delta" => heard.text.push_str(event["delta"].as_str().unwrap()),
            "response.done" => {
                heard.done = event.clone();
                heard.events.push(event);
                return heard;
            }
            "error" => panic!("error during a response: {event}"),
            _ => {}
        }
        heard.events.push(event);
    }
}

/// Types `text` as the caller and asks for a response.
async fn ask(client: &mut JsonSocket, text: &str) -> Heard {
    client
        .send(json!({
            "type": "conversation.item.create",
            "item": { "type": "message", "role": "user", "content": [{ "type": "input_text", "text": text }] }
        }))
        .await;
    client.send(json!({ "type": "response.create" })).await;
    response(client).await
}

/// Whisper, loaded in the test to listen to what the agent said.
fn whisper() -> Arc<SpeechToText> {
    let models = VoiceModels::load(&voice_config(), VoiceOptions::default());
    models.stt().expect("whisper loads")
}

/// Transcribes agent audio in `format` with Whisper.
async fn listen(stt: &SpeechToText, format: AudioFormat, audio: &[u8]) -> String {
    let mut decoder = FormatDecoder::new(format).unwrap();
    let mut frame = decoder.decode(audio);
    frame.samples.extend(decoder.flush().samples);
    let samples = StreamResampler::process_all(frame.sample_rate, 16_000, &frame.samples).unwrap();
    stt.transcribe(samples).await.unwrap().text
}

/// Share of `expected`'s words found in `heard`.
fn overlap(expected: &str, heard: &str) -> f64 {
    let heard = normalise(heard);
    let heard: Vec<&str> = heard.split(' ').collect();
    let expected = normalise(expected);
    let words: Vec<&str> = expected.split(' ').collect();
    let found = words.iter().filter(|w| heard.contains(w)).count();
    found as f64 / words.len() as f64
}

fn events_of<'a>(call: &'a Value, kind: &str) -> Vec<&'a Value> {
    call["events"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .filter(|n| n["type"] == kind)
        .map(|n| &n["data"])
        .collect()
}

fn segments(call: &Value, speaker: &str) -> Vec<String> {
    call["transcript"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .filter(|n| n["speaker"] == speaker)
        .map(|n| n["text"].as_str().unwrap().to_string())
        .collect()
}

/// jfk.wav in one caller turn (its pauses do not end it).
static ONE_TURN: std::sync::LazyLock<Value> =
    std::sync::LazyLock::new(|| json!({ "turnDetection": { "silenceDurationMs": 2000 } }));

const ANSWER: &str = "The library opens early tomorrow morning. Bring your card to borrow books.";

#[tokio::test]
async fn caller_turn_is_answered_with_speech_whisper_hears_back() {
    let llm =
        OpenAiServer::with_script([Scripted::text(ANSWER).token_delay(Duration::from_millis(5))])
            .await;
    let server = agent_server().await;
    let acme = server.tenant("Acme").await;
    let agent = create_agent(&server, &acme.key, &llm, ONE_TURN.clone()).await;
    let (mut client, call) = connect(&server, &acme, &agent).await;

    append_audio(&mut client, &jfk_encoded(AudioFormat::Pcm16, 2500), 4800).await;
    let heard = response(&mut client).await;

    let types = heard.types();
    for expected in [
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
        "response.output_audio_transcript.delta",
        "response.output_audio.delta",
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
    ] {
        assert!(
            types.contains(&expected),
            "{expected} missing from {types:?}"
        );
    }
    assert_eq!(heard.done["response"]["status"], "completed");
    assert_eq!(heard.done["response"]["usage"]["input_tokens"], 42);
    assert_eq!(normalise(&heard.transcript), normalise(ANSWER));
    // About 5 s of pcm16 at 24 kHz.
    assert!(
        heard.audio.len() > 24_000 * 2 * 3,
        "{} bytes",
        heard.audio.len()
    );
    let said = listen(&whisper(), AudioFormat::Pcm16, &heard.audio).await;
    assert!(
        overlap(ANSWER, &said) >= 0.8,
        "Whisper heard {said:?} for {ANSWER:?}"
    );

    // The model was asked with the agent's prompt and what the caller said.
    let request = &llm.requests()[0];
    let messages = request.messages();
    assert_eq!(messages[0]["role"], "system");
    assert!(
        messages[0]["content"]
            .as_str()
            .unwrap()
            .contains("city library")
    );
    let asked = messages.last().unwrap();
    assert_eq!(asked["role"], "user");
    assert!(normalise(asked["content"].as_str().unwrap()).contains("ask not what your country"));
    assert_eq!(request.body["model"], "test-model");
    assert_eq!(request.body["stream"], true);

    // Hang up once the answer has played (it is sent a little ahead of playback).
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(client);
    let ended = ended_call(&server, &acme.key, &call).await;
    assert_eq!(segments(&ended, "AGENT"), [ANSWER]);
    let turns = events_of(&ended, "turn");
    assert_eq!(turns.len(), 1, "{:?}", event_types(&ended));
    for stage in [
        "sttMs",
        "llmFirstTokenMs",
        "ttsFirstAudioMs",
        "voiceToVoiceMs",
    ] {
        assert!(turns[0][stage].is_u64(), "{stage} in {}", turns[0]);
    }
    assert!(turns[0]["sttMs"].as_u64() <= turns[0]["voiceToVoiceMs"].as_u64());
    let (_, usage) = server
        .gql(
            Some(&acme.key),
            "{ usageSummary { metric quantity } }",
            json!({}),
        )
        .await;
    let quantity = |metric: &str| {
        usage["data"]["usageSummary"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["metric"] == metric)
            .and_then(|u| u["quantity"].as_i64())
            .unwrap_or_else(|| panic!("{metric} in {usage}"))
    };
    assert_eq!(quantity("LLM_INPUT_TOKENS"), 42);
    assert_eq!(
        quantity("TTS_CHARACTERS"),
        ANSWER.chars().count() as i64 - 1
    );
}

/// The id of the tenant's newest call (a Twilio stream does not say it).
async fn latest_call(server: &TestServer, key: &str) -> String {
    let (_, body) = server
        .gql(
            Some(key),
            "{ calls(first: 1) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    body["data"]["calls"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("a call: {body}"))
        .to_string()
}

/// The first sound of speech in jfk.wav, µ-law 8 kHz, `ms` long.
fn jfk_speech_mulaw(ms: usize) -> Vec<u8> {
    let audio = jfk_encoded(AudioFormat::G711Ulaw, 0);
    let start = audio
        .chunks(160)
        .position(|frame| {
            frame
                .iter()
                .map(|b| voxedge::audio::g711::ulaw_to_linear(*b).unsigned_abs())
                .max()
                .unwrap_or(0)
                > 3000
        })
        .expect("speech in jfk.wav")
        * 160;
    audio[start..(start + ms * 8).min(audio.len())].to_vec()
}

#[tokio::test]
async fn caller_talking_over_the_agent_stops_it_and_twilio_is_told_to_clear() {
    let long = "Our opening hours change during the holidays. On weekdays we open in the morning and close in \
                the evening. On weekends we open later and close earlier. The reading room has its own hours. \
                The children's section opens at ten.";
    let llm = OpenAiServer::with_script([
        Scripted::text(long).token_delay(Duration::from_millis(10)),
        Scripted::text("Of course, go ahead.").first_token_delay(Duration::from_millis(1500)),
    ])
    .await;
    let server = agent_server().await;
    let acme = server.tenant("Acme").await;
    let agent = create_agent(
        &server,
        &acme.key,
        &llm,
        json!({ "interruption": { "enabled": true, "minWords": 0, "minDurationMs": 200 } }),
    )
    .await;
    let token = session_token(&server, &acme.key, &agent).await;
    let mut client = twilio(&server, json!({ "token": token, "from": "+14155550100" })).await;
    twilio_media(&mut client, &jfk_encoded(AudioFormat::G711Ulaw, 1200)).await;

    // The agent speaks: paced media, a mark after each sentence (echoed back as Twilio does once played).
    let mut media_ms = 0;
    let started = Instant::now();
    while media_ms < 2500 {
        let message = client.next().await.expect("agent audio");
        match message["event"].as_str().unwrap() {
            "media" => {
                let payload = message["media"]["payload"].as_str().unwrap();
                media_ms += base64::engine::general_purpose::STANDARD.decode(payload).unwrap().len() / 8;
            }
            "mark" => client.send(json!({ "event": "mark", "streamSid": message["streamSid"], "mark": message["mark"] })).await,
            other => panic!("unexpected {other}: {message}"),
        }
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1800),
        "2.5 s of agent audio is paced for playback, not dumped ({elapsed:?})"
    );

    // The caller talks over it, in real time.
    let speech = jfk_speech_mulaw(1500);
    let speech_started = Instant::now();
    let mut cleared = None;
    let mut frames = speech.chunks(160);
    let mut next_frame = tokio::time::Instant::now();
    while cleared.is_none() {
        if let Ok(message) = tokio::time::timeout_at(next_frame, client.next()).await {
            if message.expect("socket open")["event"] == "clear" {
                cleared = Some(speech_started.elapsed());
            }
            continue;
        }
        match frames.next() {
            Some(frame) => twilio_media(&mut client, frame).await,
            None => panic!("the agent never stopped"),
        }
        next_frame += Duration::from_millis(20);
    }
    let reaction = cleared.unwrap();
    // 200 ms of speech to decide, plus VAD windows and the trip: well under a second.
    assert!(
        reaction < Duration::from_millis(1000),
        "barge-in took {reaction:?}"
    );
    // Nothing more of the interrupted answer (the next one starts 1.5 s after the caller's turn ends).
    let quiet = tokio::time::timeout(Duration::from_millis(600), async {
        loop {
            let message = client.next().await.expect("socket open");
            if message["event"] == "media" {
                return message;
            }
        }
    })
    .await;
    assert!(quiet.is_err(), "agent audio after clear: {quiet:?}");
    // Let the caller's turn end, then hang up.
    twilio_media(&mut client, &vec![0xFF; 8 * 1200]).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while llm.request_count() < 2 {
        assert!(
            Instant::now() < deadline,
            "the caller's new turn was never answered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    client
        .send(json!({ "event": "stop", "streamSid": "MZ00000000000000000000000000000001" }))
        .await;

    let call = latest_call(&server, &acme.key).await;
    let ended = ended_call(&server, &acme.key, &call).await;
    let agent_said = segments(&ended, "AGENT");
    let first = &agent_said[0];
    assert!(
        !first.is_empty() && long.starts_with(first.as_str()),
        "{first:?}"
    );
    assert!(
        first.len() < long.len(),
        "only what was heard is kept: {first:?}"
    );
    let interruption = events_of(&ended, "interruption");
    assert_eq!(interruption.len(), 1, "{:?}", event_types(&ended));
    assert_eq!(interruption[0]["reason"], "turn_detected");
    let played = interruption[0]["playedMs"].as_u64().unwrap();
    assert!((2000..6000).contains(&played), "played {played} ms");
    // The model's memory holds the cut answer, not the whole one.
    let requests = llm.requests();
    assert_eq!(requests.len(), 2);
    let remembered: Vec<&Value> = requests[1]
        .messages()
        .iter()
        .filter(|m| m["role"] == "assistant")
        .collect();
    assert_eq!(remembered[0]["content"], first.as_str());
    eprintln!("barge-in: clear {reaction:?} after the caller started talking; heard {first:?}");
}

#[tokio::test]
async fn a_failing_provider_fails_over_then_its_circuit_opens_and_all_failing_gets_the_apology() {
    let primary = OpenAiServer::with_script([Scripted::status(500), Scripted::status(503)]).await;
    let fallback = OpenAiServer::with_script([
        Scripted::text("Fallback one."),
        Scripted::text("Fallback two."),
        Scripted::text("Fallback three."),
    ])
    .await;
    let server = agent_server().await;
    let acme = server.tenant("Acme").await;
    let apology = "Sorry, our system is down. Please call back later.";
    let agent = create_agent(
        &server,
        &acme.key,
        &primary,
        json!({ "llm": { "primary": target(&primary), "fallbacks": [target(&fallback)], "apologyMessage": apology } }),
    )
    .await;
    let (mut client, call) = connect(&server, &acme, &agent).await;

    assert_eq!(ask(&mut client, "Hello?").await.transcript, "Fallback one.");
    assert_eq!(
        ask(&mut client, "Are you open?").await.transcript,
        "Fallback two."
    );
    assert_eq!(primary.request_count(), 2);
    // Two failures in a row opened the primary's circuit: it is skipped, not tried.
    assert_eq!(
        ask(&mut client, "Today?").await.transcript,
        "Fallback three."
    );
    assert_eq!(primary.request_count(), 2, "an open circuit sends nothing");
    // The fallback fails too (its script is spent: HTTP 500): the caller hears the apology, not silence.
    let sorry = ask(&mut client, "Hello again?").await;
    assert_eq!(sorry.transcript, apology);
    assert!(!sorry.audio.is_empty(), "the apology is spoken");
    drop(client);

    let ended = ended_call(&server, &acme.key, &call).await;
    let failures = events_of(&ended, "llm_provider_failed");
    let codes: Vec<&str> = failures
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "provider_status",
            "provider_status",
            "circuit_open",
            "circuit_open",
            "provider_status"
        ],
        "{failures:?}"
    );
    assert_eq!(events_of(&ended, "llm_unavailable").len(), 1);
    assert_eq!(ended["status"], "COMPLETED");
}

#[tokio::test]
async fn a_webhook_tool_gets_only_valid_arguments_and_its_result_goes_back_to_the_model() {
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let hook = {
        let received = Arc::clone(&received);
        axum::Router::new().route(
            "/book",
            post(move |Json(body): Json<Value>| {
                let received = Arc::clone(&received);
                async move {
                    received.lock().unwrap().push(body);
                    Json(json!({ "confirmed": true, "table": 12 }))
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/book", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, hook).await });

    let llm = OpenAiServer::with_script([
        Scripted::tool_call("book_room", json!({ "people": "many" })),
        Scripted::tool_call("book_room", json!({ "people": 4 })),
        Scripted::text("Room twelve is yours."),
    ])
    .await;
    let server = agent_server().await;
    let acme = server.tenant("Acme").await;
    let agent = create_agent(
        &server,
        &acme.key,
        &llm,
        json!({ "tools": [{
            "kind": "WEBHOOK", "name": "book_room", "description": "Books a study room.",
            "url": hook_url, "method": "POST", "timeoutMs": 2000,
            "parameters": { "type": "object", "properties": { "people": { "type": "integer", "minimum": 1 } },
                            "required": ["people"], "additionalProperties": false }
        }] }),
    )
    .await;
    let (mut client, call) = connect(&server, &acme, &agent).await;
    let heard = ask(&mut client, "Book a room for four.").await;
    assert_eq!(heard.transcript, "Room twelve is yours.");
    let calls: Vec<&Value> = heard
        .events
        .iter()
        .filter(|e| e["type"] == "response.function_call_arguments.done")
        .collect();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1]["name"], "book_room");
    assert_eq!(calls[1]["arguments"], r#"{"people":4}"#);

    // Only the valid call reached the webhook.
    assert_eq!(*received.lock().unwrap(), [json!({ "people": 4 })]);
    let requests = llm.requests();
    let tool_message = |i: usize| {
        requests[i]
            .messages()
            .iter()
            .rfind(|m| m["role"] == "tool")
            .map(|m| m["content"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert!(
        tool_message(1).contains("people"),
        "the model is told why: {}",
        tool_message(1)
    );
    assert!(tool_message(2).contains("confirmed"), "{}", tool_message(2));
    drop(client);
    let ended = ended_call(&server, &acme.key, &call).await;
    let results = events_of(&ended, "tool_result");
    let ok: Vec<bool> = results.iter().map(|r| r["ok"].as_bool().unwrap()).collect();
    assert_eq!(ok, [false, true]);
}

#[tokio::test]
async fn when_speech_synthesis_fails_the_reply_arrives_as_text_and_the_call_goes_on() {
    // An espeak-ng that passes the start-up check and then fails every synthesis.
    let dir = tempfile::tempdir().unwrap();
    let espeak = dir.path().join("espeak-ng");
    std::fs::write(
        &espeak,
        "#!/bin/sh\nif [ \"$1\" = \"--version\" ]; then echo 'eSpeak NG 1.51'; exit 0; fi\nexit 3\n",
    )
    .unwrap();
    std::fs::set_permissions(&espeak, std::fs::Permissions::from_mode(0o755)).unwrap();
    let llm = OpenAiServer::with_script([
        Scripted::text("We are open until eight."),
        Scripted::text("Yes, on Sundays too."),
    ])
    .await;
    let server = support::spawn_with(|config| {
        config.voice = voice_config();
        config.voice.espeak_ng = espeak.display().to_string();
    })
    .await;
    let acme = server.tenant("Acme").await;
    let agent = create_agent(&server, &acme.key, &llm, json!({})).await;
    let (mut client, call) = connect(&server, &acme, &agent).await;

    let first = ask(&mut client, "When do you close?").await;
    assert_eq!(first.transcript, "We are open until eight.");
    assert!(first.audio.is_empty());
    assert_eq!(first.done["response"]["status"], "completed");
    let second = ask(&mut client, "On Sundays?").await;
    assert_eq!(second.transcript, "Yes, on Sundays too.");
    drop(client);
    let ended = ended_call(&server, &acme.key, &call).await;
    assert_eq!(ended["status"], "COMPLETED");
    assert!(!events_of(&ended, "tts_failed").is_empty());
    assert_eq!(segments(&ended, "AGENT").len(), 2);
}

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
        matches!(closed, support::voice::Closed::Frame { code: 1000, .. }),
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
        matches!(closed, support::voice::Closed::Frame { code: 1000, .. }),
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
        matches!(closed, support::voice::Closed::Frame { code: 1000, .. }),
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
        matches!(closed, support::voice::Closed::Frame { code: 1000, .. }),
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

#[tokio::test]
async fn the_first_message_is_spoken_when_the_call_connects() {
    let llm = OpenAiServer::start().await;
    let server = agent_server().await;
    let acme = server.tenant("Acme").await;
    let agent = create_agent(
        &server,
        &acme.key,
        &llm,
        json!({ "firstMessage": "City library, how can I help?" }),
    )
    .await;
    let (mut client, call) = connect(&server, &acme, &agent).await;
    let greeting = response(&mut client).await;
    assert_eq!(greeting.transcript, "City library, how can I help?");
    assert!(!greeting.audio.is_empty());
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(client);
    let ended = ended_call(&server, &acme.key, &call).await;
    assert_eq!(segments(&ended, "AGENT"), ["City library, how can I help?"]);

    // The agent's voice speed is how it speaks.
    let brisk = create_agent(
        &server,
        &acme.key,
        &llm,
        json!({ "firstMessage": "City library, how can I help?", "voice": { "speed": 1.6 } }),
    )
    .await;
    let (mut client, _) = connect(&server, &acme, &brisk).await;
    let brisk_greeting = response(&mut client).await;
    let ratio = brisk_greeting.audio.len() as f64 / greeting.audio.len() as f64;
    assert!(
        (0.5..0.8).contains(&ratio),
        "at 1.6x the greeting takes {ratio:.2} of the time"
    );
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
    let call = latest_call(server, &tenant.key).await;
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
    let server = support::spawn_with(|config| {
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

/// The id of a response's message item.
fn message_item(heard: &Heard) -> String {
    heard
        .events
        .iter()
        .find(|e| e["type"] == "response.output_item.added" && e["item"]["type"] == "message")
        .and_then(|e| e["item"]["id"].as_str())
        .expect("a message item")
        .to_string()
}

/// Milliseconds of pcm16 24 kHz audio the response sent before its second sentence's transcript started.
fn first_sentence_ms(heard: &Heard) -> u64 {
    let mut bytes = 0;
    let mut sentences = 0;
    for event in &heard.events {
        match event["type"].as_str().unwrap_or_default() {
            "response.output_audio_transcript.delta" => {
                sentences += 1;
                if sentences == 2 {
                    return bytes as u64 / 48;
                }
            }
            "response.output_audio.delta" => {
                bytes += base64::engine::general_purpose::STANDARD
                    .decode(event["delta"].as_str().unwrap())
                    .unwrap()
                    .len()
            }
            _ => {}
        }
    }
    panic!("one sentence only: {:?}", heard.types());
}

#[tokio::test]
async fn a_client_truncating_the_last_message_cuts_it_in_memory_and_transcript() {
    let llm =
        OpenAiServer::with_script([Scripted::text(ANSWER), Scripted::text("You are welcome.")])
            .await;
    let server = agent_server().await;
    let acme = server.tenant("Acme").await;
    let agent = create_agent(&server, &acme.key, &llm, json!({})).await;
    let (mut client, call) = connect(&server, &acme, &agent).await;
    let answer = ask(&mut client, "When do you open?").await;
    let item = message_item(&answer);
    let total_ms = answer.audio.len() as u64 / 48;
    let first_ms = first_sentence_ms(&answer);
    tokio::time::sleep(Duration::from_millis(500)).await; // played out and settled

    // Bad truncations are refused with stable codes and change nothing.
    for (event, code) in [
        (
            json!({ "item_id": "item_nope", "audio_end_ms": 100 }),
            "item_truncate_invalid_item_id",
        ),
        (
            json!({ "item_id": item, "audio_end_ms": total_ms + 1000 }),
            "invalid_value",
        ),
        (json!({ "item_id": item }), "invalid_value"),
        (
            json!({ "item_id": item, "audio_end_ms": -5 }),
            "invalid_value",
        ),
        (
            json!({ "item_id": item, "content_index": 1, "audio_end_ms": 5 }),
            "invalid_value",
        ),
    ] {
        let mut event = event;
        event["type"] = json!("conversation.item.truncate");
        client.send(event.clone()).await;
        let error = client.until("error").await;
        assert_eq!(error["error"]["code"], code, "{event} → {error}");
    }

    // The client's player stopped at the end of the first sentence: the caller heard that much.
    client
        .send(json!({ "type": "conversation.item.truncate", "item_id": item, "content_index": 0, "audio_end_ms": first_ms }))
        .await;
    let truncated = client.until("conversation.item.truncated").await;
    assert_eq!(
        (
            &truncated["item_id"],
            &truncated["content_index"],
            &truncated["audio_end_ms"]
        ),
        (&json!(item), &json!(0), &json!(first_ms))
    );
    let first_sentence = "The library opens early tomorrow morning.";
    let thanks = ask(&mut client, "Thanks.").await;
    assert_eq!(thanks.transcript, "You are welcome.");
    let requests = llm.requests();
    let remembered: Vec<&Value> = requests[1]
        .messages()
        .iter()
        .filter(|m| m["role"] == "assistant")
        .collect();
    assert_eq!(remembered.len(), 1);
    assert_eq!(remembered[0]["content"], first_sentence);
    tokio::time::sleep(Duration::from_millis(500)).await; // "You are welcome." plays to the end
    drop(client);
    let ended = ended_call(&server, &acme.key, &call).await;
    assert_eq!(
        segments(&ended, "AGENT"),
        [first_sentence, "You are welcome."]
    );
    let events = events_of(&ended, "playback_truncated");
    assert_eq!(events.len(), 1, "{:?}", event_types(&ended));
    assert_eq!(events[0]["audioEndMs"], first_ms);
}

#[tokio::test]
async fn a_client_truncating_the_message_playing_stops_the_agent_there() {
    let long = "Our opening hours change during the holidays. On weekdays we open in the morning and close in \
                the evening. On weekends we open later and close earlier.";
    let llm = OpenAiServer::with_script([Scripted::text(long)]).await;
    let server = agent_server().await;
    let acme = server.tenant("Acme").await;
    let agent = create_agent(&server, &acme.key, &llm, json!({})).await;
    let (mut client, call) = connect(&server, &acme, &agent).await;
    client
        .send(json!({
            "type": "conversation.item.create",
            "item": { "type": "message", "role": "user", "content": [{ "type": "input_text", "text": "Hours?" }] }
        }))
        .await;
    client.send(json!({ "type": "response.create" })).await;

    // A second of audio has arrived; the client's own turn detection stops its player 600 ms in.
    let mut item = None;
    let mut audio = 0;
    while audio < 48_000 {
        let event = client.next().await.expect("open");
        match event["type"].as_str().unwrap_or_default() {
            "response.output_item.added" => item = event["item"]["id"].as_str().map(str::to_string),
            "response.output_audio.delta" => {
                audio += event["delta"].as_str().unwrap().len() * 3 / 4
            }
            _ => {}
        }
    }
    let item = item.expect("message item");
    client
        .send(json!({ "type": "conversation.item.truncate", "item_id": item, "content_index": 0, "audio_end_ms": 600 }))
        .await;
    let done = client.until("response.done").await;
    assert_eq!(done["response"]["status"], "cancelled");
    assert_eq!(
        done["response"]["status_details"]["reason"],
        "client_cancelled"
    );
    let truncated = client.until("conversation.item.truncated").await;
    assert_eq!(truncated["audio_end_ms"], 600);
    let quiet = tokio::time::timeout(
        Duration::from_millis(500),
        client.until("response.output_audio.delta"),
    )
    .await;
    assert!(quiet.is_err(), "audio after the truncation");
    drop(client);

    let ended = ended_call(&server, &acme.key, &call).await;
    let agent_said = segments(&ended, "AGENT");
    let words = agent_said[0].split_whitespace().count();
    assert!(
        (1..=4).contains(&words) && long.starts_with(agent_said[0].as_str()),
        "600 ms of speech is a few words: {agent_said:?}"
    );
    let interruption = events_of(&ended, "interruption");
    assert_eq!(interruption.len(), 1, "{:?}", event_types(&ended));
    assert_eq!(
        (&interruption[0]["reason"], &interruption[0]["playedMs"]),
        (&json!("client_truncated"), &json!(600))
    );
}
