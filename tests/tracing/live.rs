//! A live phone call's trace.

use std::time::Duration;

use serde_json::json;
use voxedge::audio::AudioFormat;

use crate::openai_server::{OpenAiServer, Scripted};
use crate::receiver::{Receiver, all_attribute_text};
use crate::support::process::{run_ok, stdout_json};
use crate::support::voice::{jfk_encoded, twilio_at, twilio_media, voice_config};
use crate::{gql, support, traced_server};

const ANSWER: &str = "The library opens at nine in the morning.";

#[tokio::test]
async fn a_live_call_is_one_trace_with_a_span_per_turn_and_its_stages() {
    support::install_crypto();
    let llm = OpenAiServer::with_script([
        Scripted::text(ANSWER).first_token_delay(Duration::from_millis(120))
    ])
    .await;
    let receiver = Receiver::start().await;
    let data = tempfile::tempdir().unwrap();
    let created = stdout_json(&run_ok(
        data.path(),
        &["tenant", "create", "--name", "Acme"],
    ));
    let key = created["api_key"].as_str().unwrap().to_string();
    let voice = voice_config();
    let models = voice.models_dir.to_str().unwrap().to_string();
    let ort = voice
        .ort_dylib
        .as_ref()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let server = traced_server(
        data.path(),
        &receiver,
        "protobuf",
        &[
            "--models-dir",
            &models,
            "--ort-dylib",
            &ort,
            "--allow-outbound",
            "127.0.0.1/32",
        ],
    );
    let client = reqwest::Client::new();
    let body = gql(&client, &server, Some(&key), json!({
        "query": "mutation($c: AgentConfigInput!) { createAgent(input: {name: \"Desk\", config: $c}) { id } }",
        "variables": { "c": {
            "systemPrompt": "You are the front desk of the city library.",
            "llm": { "primary": { "provider": "custom", "model": "test-model", "baseUrl": llm.base_url() } } } }
    }), &[]).await;
    let agent = body["data"]["createAgent"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_string();
    let body = gql(&client, &server, Some(&key), json!({
        "query": "mutation($a: ID!) { createSessionToken(agentId: $a) { token } }", "variables": { "a": agent }
    }), &[]).await;
    let token = body["data"]["createSessionToken"]["token"]
        .as_str()
        .unwrap()
        .to_string();

    let url = format!("ws://{}/v1/twilio/stream", server.addr);
    let mut phone = twilio_at(
        &url,
        json!({ "token": token, "from": "+14155550123", "to": "+14155550199" }),
    )
    .await;
    twilio_media(&mut phone, &jfk_encoded(AudioFormat::G711Ulaw, 2000)).await;
    // The agent's first sentence has been sent once a mark comes back; then the caller hangs up.
    loop {
        let event = phone.next().await.expect("the agent answers");
        if event["event"] == "mark" {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    phone
        .send(json!({ "event": "stop", "streamSid": "MZ00000000000000000000000000000001" }))
        .await;

    let spans = receiver
        .wait_for("the call's trace", |spans| {
            spans.iter().any(|s| s.name == "call") && spans.iter().any(|s| s.name == "turn")
        })
        .await;
    let call = spans.iter().find(|s| s.name == "call").unwrap();
    let call_id = call.attr("voxedge.call_id").as_str().unwrap().to_string();
    assert_eq!(call.attr("voxedge.agent_id"), agent.as_str());
    assert_eq!(call.attr("voxedge.ended_reason"), "caller_hangup");
    assert!(call.parent_span_id.is_empty(), "a trace of its own");
    let in_call: Vec<_> = spans
        .iter()
        .filter(|s| s.trace_id == call.trace_id)
        .collect();
    let turns: Vec<_> = in_call.iter().filter(|s| s.name == "turn").collect();
    assert_eq!(turns.len(), 1, "one caller turn: {in_call:#?}");
    let turn = turns[0];
    assert_eq!(turn.parent_span_id, call.span_id);
    let child = |name: &str| {
        in_call
            .iter()
            .find(|s| s.name == name && s.parent_span_id == turn.span_id)
            .unwrap_or_else(|| panic!("no {name} under the turn: {in_call:#?}"))
    };
    let (vad, stt, llm_span, tts) = (
        child("vad.end_of_turn"),
        child("stt"),
        child("llm.first_token"),
        child("tts.first_audio"),
    );
    // In order: the VAD's silence, then STT, the LLM's first token, the first audio, each within the turn.
    for (a, b) in [(vad, stt), (stt, llm_span), (llm_span, tts)] {
        assert!(
            a.end_ns <= b.start_ns + 1_000_000,
            "{} ends before {} starts",
            a.name,
            b.name
        );
    }
    for s in [vad, stt, llm_span, tts] {
        assert!(
            s.start_ns >= turn.start_ns && s.end_ns <= turn.end_ns,
            "{} within the turn",
            s.name
        );
    }
    assert!(turn.start_ns >= call.start_ns && turn.end_ns <= call.end_ns);
    assert!(
        llm_span.duration_ms() >= 100.0,
        "the model's 120 ms to first token: {}",
        llm_span.duration_ms()
    );

    // The same figures as the timeline's `turn` event.
    let body = gql(&client, &server, Some(&key), json!({
        "query": "query($id: ID!) { call(id: $id) { from events(first: 100) { nodes { type data } } } }", "variables": { "id": call_id }
    }), &[]).await;
    let events = body["data"]["call"]["events"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"));
    let timeline = events
        .iter()
        .find(|e| e["type"] == "turn")
        .expect("a turn event")["data"]
        .clone();
    for (attribute, field) in [
        ("voxedge.end_of_turn_ms", "endOfTurnMs"),
        ("voxedge.stt_ms", "sttMs"),
        ("voxedge.llm_first_token_ms", "llmFirstTokenMs"),
        ("voxedge.tts_first_audio_ms", "ttsFirstAudioMs"),
        ("voxedge.voice_to_voice_ms", "voiceToVoiceMs"),
    ] {
        assert!(timeline[field].is_u64(), "{field} in {timeline}");
        assert_eq!(
            turn.attr(attribute).as_u64(),
            timeline[field].as_u64(),
            "{attribute}"
        );
    }
    assert_eq!(stt.attr("voxedge.ms").as_u64(), timeline["sttMs"].as_u64());
    assert_eq!(
        tts.attr("voxedge.ms").as_u64(),
        timeline["ttsFirstAudioMs"].as_u64()
    );
    let stt_ms = timeline["sttMs"].as_u64().unwrap() as f64;
    assert!(
        (stt.duration_ms() - stt_ms).abs() <= 2.0,
        "{} vs {stt_ms}",
        stt.duration_ms()
    );
    assert_eq!(
        body["data"]["call"]["from"], "+14155550123",
        "the call has the number; the trace must not"
    );

    let text = all_attribute_text(&spans);
    for needle in [
        "4155550123",
        "4155550199",
        "country",
        "library",
        "nine in the morning",
    ] {
        assert!(!text.contains(needle), "{needle:?} in an attribute");
    }
}
