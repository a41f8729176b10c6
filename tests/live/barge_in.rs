//! The caller talking over the agent (Twilio `clear`), and Realtime clients truncating what was played.

use crate::openai_server::{OpenAiServer, Scripted};
use crate::support::voice::{
    ended_call, event_types, jfk_encoded, session_token, twilio, twilio_media,
};
use base64::Engine as _;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use voxedge::audio::AudioFormat;

use crate::agent::*;

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

    let call = server.latest_call(&acme.key).await;
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
