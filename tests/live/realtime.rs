//! Live calls over the OpenAI-Realtime-compatible WebSocket: jfk.wav heard, transcribed by the real models,
//! stored and published; beta and GA forms; manual commits; bad input; refusals; every way a connection ends.

use crate::support::voice::{
    Closed, JFK_PHRASE, RealtimeAuth, append_audio, create_agent, ended_call, event_types,
    jfk_encoded, normalise, realtime, realtime_call, session_token, transcript_text, voice_config,
};
use crate::support::ws::GqlWs;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use voxedge::audio::AudioFormat;
use voxedge::model::Role;

async fn voice_server() -> crate::support::TestServer {
    crate::support::spawn_with(|config| config.voice = voice_config()).await
}

/// Reads transcription events until the socket has been quiet for the phrase: returns all transcripts joined.
async fn transcripts_until_phrase(
    client: &mut crate::support::voice::JsonSocket,
    seen: &mut Vec<Value>,
) -> String {
    let mut text = String::new();
    while !normalise(&text).contains(JFK_PHRASE) {
        let event = client
            .next()
            .await
            .unwrap_or_else(|c| panic!("closed ({c:?}) before the phrase: {text}"));
        if event["type"] == "conversation.item.input_audio_transcription.completed" {
            text.push(' ');
            text.push_str(event["transcript"].as_str().unwrap());
        }
        assert_ne!(event["type"], "error", "{event}");
        seen.push(event);
    }
    text
}

#[tokio::test]
async fn jfk_over_realtime_is_transcribed_stored_published_and_metered() {
    let server = voice_server().await;
    let acme = server.tenant("Acme").await;
    let agent = create_agent(&server, &acme.key).await;

    let mut client = realtime(
        &server,
        &format!("agent={agent}"),
        RealtimeAuth::Header(&acme.key),
        false,
    )
    .await;
    let created = client.until("session.created").await;
    let session = &created["session"];
    assert_eq!(session["type"], "realtime", "GA session shape: {session}");
    assert_eq!(session["audio"]["input"]["format"]["type"], "audio/pcm");
    assert_eq!(
        session["audio"]["input"]["turn_detection"]["silence_duration_ms"],
        500
    );
    let call_id = session["id"].as_str().unwrap().to_string();

    // Watch the transcript live, as the portal would.
    let mut subscription = GqlWs::connect(
        &server.ws_url("/graphql"),
        json!({ "Authorization": format!("Bearer {}", acme.key) }),
    )
    .await
    .expect("subscription connects");
    subscription
        .subscribe(
            "1",
            "subscription($id: ID!) { transcriptSegments(callId: $id) { seq speaker text } }",
            json!({ "id": call_id }),
        )
        .await;

    append_audio(&mut client, &jfk_encoded(AudioFormat::Pcm16, 1500), 4800).await;
    let mut seen = Vec::new();
    let text = transcripts_until_phrase(&mut client, &mut seen).await;
    let types: Vec<&str> = seen.iter().map(|e| e["type"].as_str().unwrap()).collect();
    for expected in [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ] {
        assert!(
            types.contains(&expected),
            "{expected} missing from {types:?}"
        );
    }
    assert!(
        !types.contains(&"conversation.item.created"),
        "beta name on a GA session: {types:?}"
    );
    let started = seen
        .iter()
        .find(|e| e["type"] == "input_audio_buffer.speech_started")
        .unwrap();
    assert!(
        started["audio_start_ms"].as_u64().unwrap() < 1000,
        "{started}"
    );
    assert!(started["item_id"].as_str().unwrap().starts_with("item_"));

    let mut published = String::new();
    while !normalise(&published).contains(JFK_PHRASE) {
        let message = subscription
            .next_message()
            .await
            .expect("segment published");
        let segment = &message["payload"]["data"]["transcriptSegments"];
        // The agent answers each turn (with an apology: this agent's LLM is unreachable here).
        if segment["speaker"] == "AGENT" {
            continue;
        }
        assert_eq!(segment["speaker"], "CALLER", "{message}");
        published.push(' ');
        published.push_str(segment["text"].as_str().unwrap());
    }

    client.socket.close(None).await.unwrap();
    let call = ended_call(&server, &acme.key, &call_id).await;
    assert_eq!(call["status"], "COMPLETED", "{call}");
    assert_eq!(call["endedReason"], "client_closed");
    assert_eq!(call["transport"], "WEB");
    let stored = normalise(&transcript_text(&call));
    assert!(
        stored.contains(&normalise(&text)),
        "what the client was told is stored: {stored} / {text}"
    );
    let first = &call["transcript"]["edges"][0]["node"];
    assert!(
        first["isFinal"].as_bool().unwrap() && first["confidence"].as_f64().unwrap() > 0.3,
        "{first}"
    );
    assert!(first["endMs"].as_i64().unwrap() > first["startMs"].as_i64().unwrap());
    let events = event_types(&call);
    assert_eq!(events.first().map(String::as_str), Some("created"));
    assert!(
        events.contains(&"speech_started".to_string())
            && events.contains(&"speech_stopped".to_string()),
        "{events:?}"
    );
    assert_eq!(events.last().map(String::as_str), Some("status_changed"));

    let (_, body) = server
        .gql(
            Some(&acme.key),
            "{ usageSummary { metric quantity } }",
            json!({}),
        )
        .await;
    let quantity = |metric: &str| {
        body["data"]["usageSummary"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"))
            .iter()
            .find(|u| u["metric"] == metric)
            .unwrap()["quantity"]
            .as_i64()
            .unwrap()
    };
    assert!(
        quantity("STT_AUDIO_MS") >= 10_000,
        "jfk.wav is 11 s of speech: {body}"
    );
    assert!(quantity("CALL_MS") > 0, "{body}");
}

#[tokio::test]
async fn beta_clients_with_a_browser_token_and_g711_get_beta_events() {
    let server = voice_server().await;
    let acme = server.tenant("Acme").await;
    let agent = create_agent(&server, &acme.key).await;
    let token = session_token(&server, &acme.key, &agent).await;

    // A browser: no headers, the token in a subprotocol; the agent comes from the token (`model` is what SDKs send).
    let mut client = realtime(
        &server,
        &format!("model={agent}"),
        RealtimeAuth::Subprotocol(&token),
        true,
    )
    .await;
    let created = client.until("session.created").await;
    assert_eq!(
        created["session"]["input_audio_format"], "pcm16",
        "beta shape: {created}"
    );
    client
        .send(json!({ "type": "session.update", "session": { "input_audio_format": "g711_alaw" } }))
        .await;
    let updated = client.until("session.updated").await;
    assert_eq!(updated["session"]["input_audio_format"], "g711_alaw");

    append_audio(&mut client, &jfk_encoded(AudioFormat::G711Alaw, 1500), 1600).await;
    let mut seen = Vec::new();
    transcripts_until_phrase(&mut client, &mut seen).await;
    let types: Vec<&str> = seen.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(types.contains(&"conversation.item.created"), "{types:?}");
    assert!(!types.contains(&"conversation.item.added"), "{types:?}");
}

#[tokio::test]
async fn with_turn_detection_off_the_client_commits() {
    let server = voice_server().await;
    let acme = server.tenant("Acme").await;
    let agent = create_agent(&server, &acme.key).await;
    let mut client = realtime(
        &server,
        &format!("agent={agent}"),
        RealtimeAuth::Header(&acme.key),
        false,
    )
    .await;
    client.until("session.created").await;
    client
        .send(
            json!({ "type": "session.update", "session": { "type": "realtime", "audio": { "input": {
            "format": { "type": "audio/pcmu" }, "turn_detection": null } } } }),
        )
        .await;
    let updated = client.until("session.updated").await;
    assert_eq!(
        updated["session"]["audio"]["input"]["turn_detection"],
        Value::Null
    );

    client
        .send(json!({ "type": "input_audio_buffer.commit", "event_id": "c1" }))
        .await;
    let empty = client.until("error").await;
    assert_eq!(empty["error"]["code"], "input_audio_buffer_commit_empty");
    assert_eq!(empty["error"]["event_id"], "c1");

    append_audio(&mut client, &jfk_encoded(AudioFormat::G711Ulaw, 0), 8000).await;
    client
        .send(json!({ "type": "input_audio_buffer.commit" }))
        .await;
    let committed = client.until("input_audio_buffer.committed").await;
    let done = client
        .until("conversation.item.input_audio_transcription.completed")
        .await;
    assert_eq!(done["item_id"], committed["item_id"]);
    assert!(
        normalise(done["transcript"].as_str().unwrap()).contains(JFK_PHRASE),
        "{done}"
    );
}

#[tokio::test]
async fn bad_input_gets_error_events_and_the_call_goes_on_until_a_fatal_one() {
    let server = crate::support::spawn_with(|config| {
        config.voice = voice_config();
        config.live.max_message_bytes = 64 * 1024;
    })
    .await;
    let (acme, mut client, call_id) = realtime_call(&server).await;
    // Some speech first: it must survive everything below.
    let audio = jfk_encoded(AudioFormat::Pcm16, 0);
    append_audio(&mut client, &audio[..audio.len() / 2], 4800).await;

    let cases: Vec<(Message, &str, Option<&str>)> = vec![
        (Message::Text("{not json".into()), "invalid_json", None),
        (Message::Text(json!({ "no": "type" }).to_string().into()), "invalid_event", Some("type")),
        (Message::Text(json!({ "type": "response.dance" }).to_string().into()), "unknown_event", Some("type")),
        (Message::Text(json!({ "type": "conversation.item.delete", "item_id": "x" }).to_string().into()), "unsupported_event", Some("type")),
        (Message::Text(json!({ "type": "conversation.item.truncate" }).to_string().into()), "invalid_event", Some("item_id")),
        (Message::Text(json!({ "type": "input_audio_buffer.append", "audio": "***" }).to_string().into()), "invalid_audio", Some("audio")),
        (Message::Text(json!({ "type": "input_audio_buffer.append" }).to_string().into()), "invalid_event", Some("audio")),
        (Message::Text(json!({ "type": "session.update", "session": { "input_audio_format": "mp3" } }).to_string().into()), "unsupported_audio_format", Some("session.input_audio_format")),
        (Message::Text(json!({ "type": "session.update", "session": { "turn_detection": { "threshold": 7 } } }).to_string().into()), "invalid_value", Some("session.turn_detection")),
        (Message::Text(json!({ "type": "conversation.item.create", "item": { "type": "function_call" } }).to_string().into()), "unsupported_item", Some("item")),
        (Message::Binary(vec![1, 2, 3].into()), "invalid_event", None),
    ];
    for (message, code, param) in cases {
        client.send_raw(message).await;
        let error = client.until("error").await;
        assert_eq!(error["error"]["code"], code, "{error}");
        assert_eq!(error["error"]["type"], "invalid_request_error");
        assert_eq!(error["error"]["param"].as_str(), param, "{error}");
    }
    // The session is still alive and unchanged by the rejected updates.
    client
        .send(json!({ "type": "session.update", "session": {} }))
        .await;
    let session = client.until("session.updated").await;
    assert_eq!(
        session["session"]["audio"]["input"]["format"]["type"],
        "audio/pcm"
    );

    append_audio(&mut client, &audio[audio.len() / 2..], 4800).await;
    // An oversized message is fatal: close 1009, call failed, transcript so far kept.
    let huge = "A".repeat(100 * 1024);
    client
        .send(json!({ "type": "input_audio_buffer.append", "audio": huge }))
        .await;
    let (closed, _) = client.until_closed().await;
    match closed {
        Closed::Frame { code, .. } => assert_eq!(code, 1009),
        other => panic!("expected close 1009, got {other:?}"),
    }
    let call = ended_call(&server, &acme.key, &call_id).await;
    assert_eq!(call["status"], "FAILED");
    assert_eq!(call["endedReason"], "message_too_large");
    assert!(
        normalise(&transcript_text(&call)).contains(JFK_PHRASE),
        "speech before the error is kept: {call}"
    );
}

#[tokio::test]
async fn connections_without_the_right_credentials_are_refused_with_a_reason() {
    let server = voice_server().await;
    let acme = server.tenant("Acme").await;
    let globex = server.tenant("Globex").await;
    let acme_agent = create_agent(&server, &acme.key).await;
    let globex_agent = create_agent(&server, &globex.key).await;
    let acme_token = session_token(&server, &acme.key, &acme_agent).await;
    let viewer = server.key(acme.id, Role::Viewer).await;

    let cases: Vec<(String, RealtimeAuth, &str)> = vec![
        (
            format!("agent={acme_agent}"),
            RealtimeAuth::None,
            "unauthenticated",
        ),
        (
            format!("agent={acme_agent}"),
            RealtimeAuth::Header("vxk_nope"),
            "malformed_credentials",
        ),
        (
            format!("agent={acme_agent}"),
            RealtimeAuth::Header(&viewer),
            "forbidden",
        ),
        // Another tenant's agent with our key: it does not exist for us.
        (
            format!("agent={globex_agent}"),
            RealtimeAuth::Header(&acme.key),
            "not_found",
        ),
        // Our session token cannot reach another agent, in our tenant or theirs.
        (
            format!("agent={globex_agent}"),
            RealtimeAuth::Subprotocol(&acme_token),
            "forbidden",
        ),
        (
            "".to_string(),
            RealtimeAuth::Header(&acme.key),
            "invalid_input",
        ),
    ];
    for (query, auth, code) in cases {
        let mut client = realtime(&server, &query, auth, false).await;
        let error = client.until("error").await;
        assert_eq!(error["error"]["code"], code, "{query}: {error}");
        let (closed, _) = client.until_closed().await;
        assert!(
            matches!(closed, Closed::Frame { code: 1008, .. }),
            "{closed:?}"
        );
    }
    // Nothing was created in either tenant.
    for tenant in [&acme, &globex] {
        let (_, body) = server
            .gql(
                Some(&tenant.key),
                "{ calls(first: 10) { edges { node { id } } } }",
                json!({}),
            )
            .await;
        assert_eq!(body["data"]["calls"]["edges"], json!([]), "{body}");
    }
}

#[tokio::test]
async fn without_models_the_api_works_and_calls_are_refused_naming_the_setting() {
    let server = crate::support::spawn().await; // default models dir: nothing there
    let acme = server.tenant("Acme").await;
    let agent = create_agent(&server, &acme.key).await;

    let ready: Value = server
        .client
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["voice"]["ready"], false);
    assert_eq!(ready["voice"]["models"]["stt"]["status"], "missing");
    assert_eq!(
        ready["voice"]["models"]["stt"]["setting"],
        "VOXEDGE_STT_MODEL"
    );

    let mut client = realtime(
        &server,
        &format!("agent={agent}"),
        RealtimeAuth::Header(&acme.key),
        false,
    )
    .await;
    let error = client.until("error").await;
    assert!(
        error["error"]["code"]
            .as_str()
            .unwrap()
            .starts_with("voice_model"),
        "{error}"
    );
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("VOXEDGE_"),
        "names the setting: {error}"
    );
    assert_eq!(error["error"]["type"], "server_error");
    let (closed, _) = client.until_closed().await;
    assert!(
        matches!(closed, Closed::Frame { code: 1011, .. }),
        "{closed:?}"
    );

    let loaded = voice_server().await;
    let ready: Value = loaded
        .client
        .get(loaded.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["voice"]["ready"], true, "{ready}");
}

#[tokio::test]
async fn a_client_that_vanishes_mid_sentence_leaves_a_completed_call_with_its_words() {
    let server = voice_server().await;
    let (acme, mut client, call_id) = realtime_call(&server).await;
    // Seven of jfk.wav's eleven seconds: the caller is mid-sentence ("… what your country can do …").
    let audio = jfk_encoded(AudioFormat::Pcm16, 0);
    append_audio(&mut client, &audio[..7 * 48_000], 4800).await;
    for _ in 0..3 {
        client.until("input_audio_buffer.speech_started").await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    // Drop the TCP connection without a close frame, while the caller is still speaking.
    drop(client);
    let call = ended_call(&server, &acme.key, &call_id).await;
    assert_eq!(call["status"], "COMPLETED", "{call}");
    assert_eq!(call["endedReason"], "connection_lost");
    let heard = normalise(&transcript_text(&call));
    assert!(
        heard.contains("ask not") && heard.contains("your country"),
        "the unfinished sentence is kept: {call}"
    );
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_and_its_call_fails() {
    let server = crate::support::spawn_with(|config| {
        config.voice = voice_config();
        config.live.write_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let (acme, mut client, call_id) = realtime_call(&server).await;
    // Every update is answered with the whole session (~700 bytes); never read them.
    let update = Message::Text(
        json!({ "type": "session.update", "session": {} })
            .to_string()
            .into(),
    );
    for _ in 0..60_000 {
        if futures::SinkExt::send(&mut client.socket, update.clone())
            .await
            .is_err()
        {
            break;
        }
    }
    let call = ended_call(&server, &acme.key, &call_id).await;
    assert_eq!(call["status"], "FAILED", "{call}");
    assert_eq!(call["endedReason"], "client_too_slow");
}

#[tokio::test]
async fn server_shutdown_ends_live_calls_cleanly() {
    let data = tempfile::tempdir().unwrap();
    let server = crate::support::spawn_in(data.path().to_path_buf(), |config| {
        config.voice = voice_config();
        config.shutdown_grace = std::time::Duration::from_millis(300);
    })
    .await;
    let (acme, mut client, call_id) = realtime_call(&server).await;
    let audio = jfk_encoded(AudioFormat::Pcm16, 0);
    append_audio(&mut client, &audio[..audio.len() / 3], 4800).await;
    client.until("input_audio_buffer.speech_started").await;

    let data_dir = server.data_dir.clone();
    let tenant = acme.id;
    let reader = tokio::spawn(async move { client.until_closed().await });
    server.stop().await;
    let (closed, _) = reader.await.unwrap();
    assert!(
        matches!(closed, Closed::Frame { code: 1001, .. }),
        "{closed:?}"
    );

    // The stored call ended properly; read it straight from the tenant's file.
    let db =
        rusqlite::Connection::open(data_dir.join("tenants").join(format!("{tenant}.db"))).unwrap();
    let (status, reason): (String, String) = db
        .query_row(
            "select status, ended_reason from calls where id = ?1",
            [&call_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("completed", "server_shutdown")
    );
}
