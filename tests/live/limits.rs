//! A caller or an LLM cannot make one call take more than its share: runaway LLM replies are cut off, tool calls
//! per response are capped and run a few at a time, and audio, typed messages and transcriptions keep within the
//! call's limits. Every cut-off leaves a trace on the call's timeline.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Json;
use base64::Engine as _;
use serde_json::{Value, json};
use voxedge::audio::AudioFormat;

use crate::agent::{ask, connect, create_agent, events_of};
use crate::openai_server::{OpenAiServer, Scripted};
use crate::support::voice::{
    JsonSocket, append_audio, ended_call, jfk_encoded, realtime_call, voice_config,
};
use crate::support::{TestServer, TestTenant};

/// Voice models without a TTS voice (replies come as text, so a runaway reply is not read aloud for
/// minutes), LLM stand-ins on 127.0.0.1.
async fn text_server() -> TestServer {
    crate::support::spawn_with(|config| {
        crate::support::allow_loopback(config);
        config.voice = voice_config();
        config.voice.tts_model = "no-voice-in-this-test.onnx".into();
    })
    .await
}

async fn hang_up(
    server: &TestServer,
    tenant: &TestTenant,
    client: JsonSocket,
    call: &str,
) -> Value {
    drop(client);
    ended_call(server, &tenant.key, call).await
}

#[tokio::test]
async fn an_llm_that_streams_forever_is_cut_off_with_a_timeline_event() {
    let server = text_server().await;
    let llm =
        OpenAiServer::with_script([Scripted::text("And there is more to say. ").forever()]).await;
    let acme = server.tenant("Acme").await;
    let agent = create_agent(&server, &acme.key, &llm, json!({})).await;
    let (mut client, call) = connect(&server, &acme, &agent).await;

    let heard = tokio::time::timeout(Duration::from_secs(60), ask(&mut client, "Go on."))
        .await
        .expect("the reply ends although the provider never stops");
    assert_eq!(
        heard.done["response"]["status"], "completed",
        "{}",
        heard.done
    );
    let limit = 32 * 1024;
    assert!(
        (limit..limit + 1024).contains(&heard.text.len()),
        "the text stops at the limit: {} bytes",
        heard.text.len()
    );
    // Cutting off closes the connection, so the provider stops generating.
    tokio::time::timeout(Duration::from_secs(10), llm.wait_for_dropped_streams(1))
        .await
        .expect("the stream was dropped");

    let call = hang_up(&server, &acme, client, &call).await;
    assert_eq!(
        events_of(&call, "llm_reply_cut"),
        [&json!({ "code": "llm_reply_too_large", "limit": limit })],
        "{call}"
    );
}

#[tokio::test]
async fn a_thousand_tool_calls_are_cut_to_eight_run_four_at_a_time() {
    // A tool that takes a moment and reports how many of its calls overlapped.
    let (calls, running, most) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let hook = {
        let (calls, running, most) = (calls.clone(), running.clone(), most.clone());
        axum::Router::new().route(
            "/lookup",
            axum::routing::post(move |Json(_): Json<Value>| async move {
                calls.fetch_add(1, Ordering::SeqCst);
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(200)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                Json(json!({ "found": true }))
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/lookup", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, hook).await });

    let flood = (0..1000).fold(Scripted::tokens(Vec::<String>::new()), |s, i| {
        s.and_tool_call("lookup", json!({ "q": format!("item {i}") }))
    });
    let llm = OpenAiServer::with_script([flood, Scripted::text("Found them.")]).await;
    let server = text_server().await;
    let acme = server.tenant("Acme").await;
    let tools = json!({ "tools": [{
        "kind": "WEBHOOK", "name": "lookup", "description": "Looks things up.", "url": hook_url,
        "parameters": { "type": "object", "properties": { "q": { "type": "string" } }, "required": ["q"] },
    }] });
    let agent = create_agent(&server, &acme.key, &llm, tools).await;
    let (mut client, call) = connect(&server, &acme, &agent).await;
    let heard = ask(&mut client, "Find everything.").await;
    assert_eq!(heard.text, "Found them.");

    assert_eq!(
        calls.load(Ordering::SeqCst),
        8,
        "only the first eight calls ran"
    );
    assert_eq!(most.load(Ordering::SeqCst), 4, "four at a time");
    let requests = llm.requests();
    let answered = requests[1]
        .messages()
        .iter()
        .filter(|m| m["role"] == "tool")
        .count();
    assert_eq!(answered, 8, "the model hears back about the calls that ran");

    let call = hang_up(&server, &acme, client, &call).await;
    assert_eq!(
        events_of(&call, "llm_reply_cut"),
        [&json!({ "code": "llm_too_many_tool_calls", "limit": 8 })],
        "{call}"
    );
    assert_eq!(events_of(&call, "tool_result").len(), 8);
}

#[tokio::test]
async fn audio_faster_than_twice_real_time_is_dropped_with_one_error() {
    let server = text_server().await;
    let (acme, mut client, call) = realtime_call(&server).await;
    // 40 s of silence at once: the 20 s burst passes, the rest is dropped.
    let silence = vec![0u8; 40 * 48_000];
    append_audio(&mut client, &silence, 4800).await;
    client
        .send(json!({ "type": "session.update", "session": {} }))
        .await;
    let mut errors = Vec::new();
    loop {
        let event = client.next().await.expect("the call goes on");
        match event["type"].as_str() {
            Some("error") => errors.push(event["error"]["code"].clone()),
            Some("session.updated") => break,
            _ => {}
        }
    }
    assert_eq!(errors, [json!("input_audio_too_fast")], "one error per run");

    let call = hang_up(&server, &acme, client, &call).await;
    let dropped = events_of(&call, "input_audio_dropped");
    assert_eq!(dropped.len(), 1, "{call}");
    assert_eq!(dropped[0]["code"], "input_audio_too_fast");
}

#[tokio::test]
async fn typed_messages_are_bounded_in_size_and_rate() {
    let server = text_server().await;
    let (acme, mut client, call) = realtime_call(&server).await;
    let item = |text: String| {
        json!({
            "type": "conversation.item.create",
            "item": { "type": "message", "role": "user", "content": [{ "type": "input_text", "text": text }] }
        })
    };
    client.send(item("x".repeat(5000))).await;
    let error = client.until("error").await;
    assert_eq!(error["error"]["code"], "input_text_too_long", "{error}");

    for i in 0..12 {
        client.send(item(format!("message {i}"))).await;
    }
    client
        .send(json!({ "type": "session.update", "session": {} }))
        .await;
    let (mut added, mut refused) = (0, 0);
    loop {
        let event = client.next().await.expect("the call goes on");
        match event["type"].as_str() {
            Some("conversation.item.added") => added += 1,
            Some("error") => {
                assert_eq!(event["error"]["code"], "item_rate_exceeded", "{event}");
                refused += 1;
            }
            Some("session.updated") => break,
            _ => {}
        }
    }
    assert_eq!((added, refused), (10, 2));

    let call = hang_up(&server, &acme, client, &call).await;
    let typed = call["transcript"]["edges"].as_array().unwrap().len();
    assert_eq!(typed, 10, "refused messages are not in the transcript");
}

#[tokio::test]
async fn utterances_beyond_the_transcription_backlog_are_dropped_and_reported() {
    let server = text_server().await;
    let (acme, mut client, call) = realtime_call(&server).await;
    client
        .send(
            json!({ "type": "session.update", "session": { "type": "realtime", "audio": { "input": {
            "turn_detection": null } } } }),
        )
        .await;
    client.until("session.updated").await;
    // Thirty committed utterances at once: far more than speech-to-text can take in at once.
    let speech = jfk_encoded(AudioFormat::Pcm16, 0);
    let piece = &speech[48_000..48_000 + 24_000];
    for _ in 0..30 {
        let audio = base64::engine::general_purpose::STANDARD.encode(piece);
        client
            .send(json!({ "type": "input_audio_buffer.append", "audio": audio }))
            .await;
        client
            .send(json!({ "type": "input_audio_buffer.commit" }))
            .await;
    }
    let (mut completed, mut dropped) = (0, 0);
    while completed + dropped < 30 {
        let event = client.next().await.expect("the call goes on");
        match event["type"].as_str() {
            Some("conversation.item.input_audio_transcription.completed") => completed += 1,
            Some("conversation.item.input_audio_transcription.failed") => {
                assert_eq!(event["error"]["code"], "transcription_backlog", "{event}");
                dropped += 1;
            }
            _ => {}
        }
    }
    assert!(
        dropped > 0 && completed >= 8,
        "{completed} transcribed, {dropped} dropped"
    );

    let call = hang_up(&server, &acme, client, &call).await;
    assert_eq!(events_of(&call, "transcription_dropped").len(), dropped);
}
