//! Live phone calls over Twilio Media Streams: jfk.wav as 20 ms mu-law frames, transcribed, stored and separate
//! per tenant; protocol violations closed with the documented codes.

use crate::support::voice::{
    Closed, JFK_PHRASE, RealtimeAuth, append_audio, create_agent, ended_call, event_types,
    jfk_encoded, normalise, realtime, session_token, transcript_text, twilio, twilio_media,
    twilio_start, voice_config,
};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use voxedge::audio::AudioFormat;

async fn voice_server() -> crate::support::TestServer {
    crate::support::spawn_with(|config| config.voice = voice_config()).await
}

/// Waits (up to two minutes: the machine may be busy) until the call's stored transcript holds jfk's phrase,
/// sending silence meanwhile as a phone line does.
async fn wait_for_phrase(
    server: &crate::support::TestServer,
    key: &str,
    call: &str,
    phone: &mut crate::support::voice::JsonSocket,
) {
    let query = "query($id: ID!) { call(id: $id) { transcript(first: 100) { edges { node { speaker text } } } } }";
    for _ in 0..1200 {
        twilio_media(phone, &[0xff; 800]).await;
        let (_, body) = server.gql(Some(key), query, json!({ "id": call })).await;
        if normalise(&transcript_text(&body["data"]["call"])).contains(JFK_PHRASE) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the phrase never reached call {call}'s transcript");
}

#[tokio::test]
async fn two_calls_at_once_on_two_tenants_are_heard_and_stay_separate() {
    let server = voice_server().await;
    let acme = server.tenant("Acme").await;
    let globex = server.tenant("Globex").await;
    let acme_agent = create_agent(&server, &acme.key).await;
    let globex_agent = create_agent(&server, &globex.key).await;

    // Acme: a phone call through Twilio.
    let token = session_token(&server, &acme.key, &acme_agent).await;
    let mut phone = twilio(
        &server,
        json!({ "token": token, "from": "+14155550100", "to": "+14155550199", "callSid": "CA123" }),
    )
    .await;
    let acme_call = server.latest_call(&acme.key).await;
    // Globex: a browser call at the same time, with the audio the other way round (first half silence).
    let mut web = realtime(
        &server,
        &format!("agent={globex_agent}"),
        RealtimeAuth::Header(&globex.key),
        false,
    )
    .await;
    let globex_call = web.until("session.created").await["session"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let phone_audio = jfk_encoded(AudioFormat::G711Ulaw, 1500);
    let web_audio = jfk_encoded(AudioFormat::Pcm16, 1500);
    let phone_side = async {
        twilio_media(&mut phone, &phone_audio).await;
        // Audio went faster than real time; a real line keeps carrying (silent) audio while it is transcribed.
        wait_for_phrase(&server, &acme.key, &acme_call, &mut phone).await;
        phone.send(json!({ "event": "dtmf", "streamSid": "MZ00000000000000000000000000000001", "dtmf": { "track": "inbound_track", "digit": "5" } })).await;
        phone.send(json!({ "event": "future_event", "streamSid": "MZ00000000000000000000000000000001" })).await;
        phone.send(json!({ "event": "stop", "streamSid": "MZ00000000000000000000000000000001", "stop": { "callSid": "CA123" } })).await;
        phone.until_closed().await
    };
    let web_side = async {
        append_audio(&mut web, &web_audio, 4800).await;
        web.until("conversation.item.input_audio_transcription.completed")
            .await;
    };
    let ((closed, _), ()) = tokio::join!(phone_side, web_side);
    assert!(
        matches!(closed, Closed::Frame { code: 1000, .. }),
        "{closed:?}"
    );

    let call = ended_call(&server, &acme.key, &acme_call).await;
    assert_eq!(call["status"], "COMPLETED", "{call}");
    assert_eq!(call["endedReason"], "caller_hangup");
    assert_eq!(call["transport"], "PHONE");
    assert_eq!(call["direction"], "INBOUND");
    assert_eq!(
        (call["from"].as_str(), call["to"].as_str()),
        (Some("+14155550100"), Some("+14155550199"))
    );
    assert!(
        normalise(&transcript_text(&call)).contains(JFK_PHRASE),
        "{call}"
    );
    let events = event_types(&call);
    assert!(
        events.contains(&"dtmf".to_string()) && events.contains(&"speech_stopped".to_string()),
        "{events:?}"
    );

    // Neither tenant can see the other's call.
    for (key, foreign) in [(&acme.key, &globex_call), (&globex.key, &acme_call)] {
        let (_, body) = server
            .gql(
                Some(key),
                "query($id: ID!) { call(id: $id) { id } }",
                json!({ "id": foreign }),
            )
            .await;
        assert!(body["data"]["call"].is_null(), "{body}");
        let (_, body) = server
            .gql(
                Some(key),
                "{ calls(first: 10) { edges { node { id } } } }",
                json!({}),
            )
            .await;
        assert_eq!(
            body["data"]["calls"]["edges"].as_array().unwrap().len(),
            1,
            "{body}"
        );
    }
    web.socket.close(None).await.unwrap();
    let call = ended_call(&server, &globex.key, &globex_call).await;
    assert!(
        normalise(&transcript_text(&call)).contains(JFK_PHRASE),
        "{call}"
    );
}

#[tokio::test]
async fn protocol_violations_close_the_stream_with_the_documented_codes() {
    let server = voice_server().await;
    let acme = server.tenant("Acme").await;
    let agent = create_agent(&server, &acme.key).await;

    // Before a call exists: bad token, wrong media format, binary frames, garbage.
    let token = session_token(&server, &acme.key, &agent).await;
    let refusals = [
        (twilio_start(json!({}), "audio/x-mulaw", 8000), 1008),
        (
            twilio_start(json!({ "token": "vxs_forged" }), "audio/x-mulaw", 8000),
            1008,
        ),
        (
            twilio_start(json!({ "token": token }), "audio/x-l16", 16000),
            1003,
        ),
    ];
    for (start, code) in refusals {
        let (socket, _) = tokio_tungstenite::connect_async(server.ws_url("/v1/twilio/stream"))
            .await
            .unwrap();
        let mut client = crate::support::voice::JsonSocket { socket };
        client.send(start).await;
        let (closed, _) = client.until_closed().await;
        assert!(
            matches!(closed, Closed::Frame { code: c, .. } if c == code),
            "{closed:?}"
        );
    }
    let (socket, _) = tokio_tungstenite::connect_async(server.ws_url("/v1/twilio/stream"))
        .await
        .unwrap();
    let mut client = crate::support::voice::JsonSocket { socket };
    client
        .send_raw(Message::Binary(vec![0xff; 160].into()))
        .await;
    let (closed, _) = client.until_closed().await;
    assert!(
        matches!(closed, Closed::Frame { code: 1003, .. }),
        "{closed:?}"
    );

    let (_, body) = server
        .gql(
            Some(&acme.key),
            "{ calls(first: 10) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["calls"]["edges"],
        json!([]),
        "refused streams create no call: {body}"
    );

    // During a call: a binary frame ends it as a protocol error, keeping what was said.
    let mut phone = twilio(&server, json!({ "token": token })).await;
    let call_id = server.latest_call(&acme.key).await;
    twilio_media(&mut phone, &jfk_encoded(AudioFormat::G711Ulaw, 800)).await;
    phone.send_raw(Message::Binary(vec![0; 10].into())).await;
    let (closed, _) = phone.until_closed().await;
    assert!(
        matches!(closed, Closed::Frame { code: 1003, .. }),
        "{closed:?}"
    );
    let call = ended_call(&server, &acme.key, &call_id).await;
    assert_eq!(call["status"], "FAILED", "{call}");
    assert_eq!(call["endedReason"], "protocol_error");
    assert!(
        normalise(&transcript_text(&call)).contains(JFK_PHRASE),
        "{call}"
    );

    // Malformed JSON mid-call: 1007.
    let token = session_token(&server, &acme.key, &agent).await;
    let mut phone = twilio(&server, json!({ "token": token })).await;
    phone
        .send_raw(Message::Text("{\"event\": \"media\", ".into()))
        .await;
    let (closed, _) = phone.until_closed().await;
    assert!(
        matches!(closed, Closed::Frame { code: 1007, .. }),
        "{closed:?}"
    );
}

#[tokio::test]
async fn an_outbound_stream_continues_its_call_record_and_only_its_agents() {
    let server = voice_server().await;
    let acme = server.tenant("Acme").await;
    // jfk's long speech is what an answering machine's greeting looks like; this test is not about voicemail.
    let config = json!({ "systemPrompt": "You listen.", "voicemail": { "detection": false } });
    let agent = server.create_agent(&acme.key, "Listener", config).await;
    let other_agent = create_agent(&server, &acme.key).await;
    let create = "mutation($agent: ID!) { createCall(input: {agentId: $agent, direction: OUTBOUND, transport: PHONE, to: \"+14155550199\"}) { id } }";
    let (_, body) = server
        .gql(Some(&acme.key), create, json!({ "agent": agent }))
        .await;
    let placed = body["data"]["createCall"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // A token for another agent cannot take this call over.
    let token = session_token(&server, &acme.key, &other_agent).await;
    let mut intruder = twilio(&server, json!({ "token": token, "callId": placed })).await;
    let (closed, _) = intruder.until_closed().await;
    assert!(
        matches!(closed, Closed::Frame { code: 1008, .. }),
        "{closed:?}"
    );

    // The stream for the call's own agent continues the record placeCall made.
    let token = session_token(&server, &acme.key, &agent).await;
    let mut phone = twilio(
        &server,
        json!({ "token": token, "callId": placed, "direction": "outbound" }),
    )
    .await;
    twilio_media(&mut phone, &jfk_encoded(AudioFormat::G711Ulaw, 1500)).await;
    wait_for_phrase(&server, &acme.key, &placed, &mut phone).await;
    phone
        .send(json!({ "event": "stop", "streamSid": "MZ00000000000000000000000000000001" }))
        .await;
    phone.until_closed().await;
    let call = ended_call(&server, &acme.key, &placed).await;
    assert_eq!(
        (call["status"].as_str(), call["direction"].as_str()),
        (Some("COMPLETED"), Some("OUTBOUND")),
        "{call}"
    );
    let (_, body) = server
        .gql(
            Some(&acme.key),
            "{ calls(first: 10) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["calls"]["edges"].as_array().unwrap().len(),
        1,
        "no second call record: {body}"
    );
}
