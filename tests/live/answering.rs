//! The agent answers: its words spoken and heard back by Whisper, provider failover and circuit breaking, webhook
//! tools, text when speech synthesis fails, and the first message.

use crate::openai_server::{OpenAiServer, Scripted};
use crate::support::voice::{
    append_audio, ended_call, event_types, jfk_encoded, normalise, voice_config,
};
use axum::Json;
use axum::routing::post;
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use voxedge::audio::AudioFormat;

use crate::agent::*;

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
    let server = crate::support::spawn_with(|config| {
        crate::support::allow_loopback(config);
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
