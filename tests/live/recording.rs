//! Call recordings: a real live call (jfk.wav in over Realtime, paced like a caller; the agent's answer out through
//! the LLM stand-in and real Piper) is recorded caller left, agent right; the file decodes with the reference
//! decoder (libFLAC, through sox), lasts as long as the call, and Whisper hears jfk's words on the left and the
//! agent's on the right. Its signed URL works without credentials, then expires; it is copied to the replica root
//! (a folder, and S3 on a local moto server) and served from there when the local file is gone; retention and
//! deleting the call delete it everywhere; an agent can opt out.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use voxedge::audio::AudioFormat;
use voxedge::audio::pcm::i16_to_f32;

use crate::agent::*;
use crate::openai_server::{OpenAiServer, Scripted};
use crate::support::TestServer;
use crate::support::s3::S3Server;
use crate::support::voice::{ended_call, jfk_encoded, normalise};
use voxedge::edge::ReplicaRoot;

const RECORDING: &str = "query($id: ID!) { call(id: $id) { durationMs recording { url expiresAt durationMs sizeBytes } } }";

/// Sends `audio` (pcm16 24 kHz) as a caller would: 100 ms every 100 ms.
async fn speak_in_real_time(client: &mut crate::support::voice::JsonSocket, audio: &[u8]) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    for piece in audio.chunks(4800) {
        tick.tick().await;
        let audio = base64::engine::general_purpose::STANDARD.encode(piece);
        client
            .send(json!({ "type": "input_audio_buffer.append", "audio": audio }))
            .await;
    }
}

fn channel(stereo: &[i32], index: usize) -> Vec<f32> {
    stereo
        .iter()
        .skip(index)
        .step_by(2)
        .map(|&s| i16_to_f32(s as i16))
        .collect()
}

fn rms(samples: &[f32]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    (samples
        .iter()
        .map(|&s| f64::from(s) * f64::from(s))
        .sum::<f64>()
        / samples.len() as f64)
        .sqrt()
}

async fn recording_of(server: &TestServer, key: &str, call: &str) -> Value {
    let (_, body) = server
        .gql(Some(key), RECORDING, json!({ "id": call }))
        .await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["call"].clone()
}

/// A server whose replica root is `url`.
async fn server_with_replica(url: &str) -> TestServer {
    let root = ReplicaRoot::parse(url).unwrap();
    agent_server_with(move |config| {
        config.edge.replica = Some(root);
        config.edge.replica_credentials = Some(S3Server::credentials());
    })
    .await
}

/// Waits (up to 10 s) until `found` says the copy exists.
async fn until_copied<F: std::future::Future<Output = bool>>(mut found: impl FnMut() -> F) {
    for _ in 0..200 {
        if found().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the recording was not copied to the replica");
}

fn local_file(server: &TestServer, tenant: &crate::support::TestTenant, call: &str) -> PathBuf {
    server
        .data_dir
        .join("recordings")
        .join(tenant.id.to_string())
        .join(format!("{call}.flac"))
}

#[tokio::test]
async fn a_live_call_is_recorded_caller_left_agent_right_and_served_by_a_url_that_expires() {
    let llm = OpenAiServer::with_script([Scripted::text(ANSWER)]).await;
    let replica = tempfile::tempdir().unwrap();
    let server = server_with_replica(&format!("file://{}", replica.path().display())).await;
    let acme = server.tenant("Acme").await;
    let agent = create_agent(&server, &acme.key, &llm, ONE_TURN.clone()).await;
    let (mut client, call) = connect(&server, &acme, &agent).await;

    speak_in_real_time(&mut client, &jfk_encoded(AudioFormat::Pcm16, 2500)).await;
    let heard = response(&mut client).await;
    assert!(!heard.audio.is_empty(), "the agent spoke");
    // Let the answer play out (it is sent a little ahead of playback), then hang up.
    tokio::time::sleep(Duration::from_millis(800)).await;
    drop(client);
    ended_call(&server, &acme.key, &call).await;

    let found = recording_of(&server, &acme.key, &call).await;
    let recording = &found["recording"];
    assert!(recording.is_object(), "the call has a recording: {found}");
    let call_ms = found["durationMs"].as_i64().unwrap();
    let recorded_ms = recording["durationMs"].as_i64().unwrap();
    assert!(
        (call_ms - recorded_ms).abs() <= 1000,
        "recording {recorded_ms} ms, call {call_ms} ms"
    );

    // Downloadable without credentials.
    let url = server.url(recording["url"].as_str().unwrap());
    let response = server.client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "audio/flac");
    let bytes = response.bytes().await.unwrap();
    assert_eq!(bytes.len() as i64, recording["sizeBytes"].as_i64().unwrap());

    // It decodes with the reference decoder (libFLAC, through sox): two channels at 16 kHz, as long as it says.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("call.flac");
    std::fs::write(&file, &bytes).unwrap();
    let info = |flag: &str| {
        let out = std::process::Command::new("soxi")
            .arg(flag)
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "soxi {flag}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    assert_eq!(
        (info("-c"), info("-r"), info("-b")),
        ("2".into(), "16000".into(), "16".into())
    );
    let raw = dir.path().join("call.raw");
    let status = std::process::Command::new("sox")
        .arg(&file)
        .args(["-t", "raw", "-e", "signed-integer", "-b", "16", "-L"])
        .arg(&raw)
        .status()
        .unwrap();
    assert!(status.success());
    let stereo: Vec<i32> = std::fs::read(&raw)
        .unwrap()
        .chunks_exact(2)
        .map(|b| i32::from(i16::from_le_bytes([b[0], b[1]])))
        .collect();
    let frames = stereo.len() as i64 / 2;
    assert_eq!(info("-s"), frames.to_string());
    assert!(
        (frames * 1000 / 16_000 - recorded_ms).abs() <= 1,
        "{frames} frames for {recorded_ms} ms"
    );
    println!(
        "recording: {recorded_ms} ms for a {call_ms} ms call, {} bytes ({:.0}% of 16-bit PCM)",
        bytes.len(),
        bytes.len() as f64 * 100.0 / (frames as f64 * 4.0)
    );
    let (caller, agent) = (channel(&stereo, 0), channel(&stereo, 1));

    // Aligned on the call's timeline: the agent is silent while jfk speaks (the first 10 s), then answers.
    assert!(
        rms(&agent[..16_000 * 10]) < 1e-4,
        "agent channel during the caller's turn"
    );
    assert!(
        rms(&agent[16_000 * 12..]) > 0.01,
        "agent channel after the caller's turn"
    );
    assert!(
        rms(&caller[..16_000 * 10]) > 0.01,
        "caller channel during the caller's turn"
    );

    let whisper = whisper();
    let caller_said = whisper.transcribe(caller).await.unwrap().text;
    assert!(
        normalise(&caller_said).contains("ask not what your country can do for you"),
        "Whisper heard {caller_said:?} on the caller's channel"
    );
    let agent_said = whisper
        .transcribe(agent[16_000 * 10..].to_vec())
        .await
        .unwrap()
        .text;
    assert!(
        overlap(ANSWER, &agent_said) >= 0.8,
        "Whisper heard {agent_said:?} on the agent's channel"
    );

    // Copied to the replica root, beside the tenant files.
    let copy = replica
        .path()
        .join(format!("recordings/{}/{call}.flac", acme.id));
    until_copied(|| {
        let copy = copy.clone();
        async move { copy.exists() }
    })
    .await;
    assert_eq!(std::fs::read(&copy).unwrap(), bytes.to_vec());
    // Served from the replica when the file is not here (a restored or moved tenant), and kept here again.
    let local = local_file(&server, &acme, &call);
    std::fs::remove_file(&local).unwrap();
    let response = server.client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap(), bytes);
    assert!(local.exists());

    // A wrong signature is refused; the URL expires.
    let tampered = url.replace("signature=", "signature=0");
    let response = server.client.get(&tampered).send().await.unwrap();
    assert_eq!(response.status(), 403);
    server.state.clock.advance(Duration::from_secs(301));
    let response = server.client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "URL_EXPIRED",
        "{body}"
    );
    // A fresh URL works again.
    let fresh = recording_of(&server, &acme.key, &call).await;
    let url = server.url(fresh["recording"]["url"].as_str().unwrap());
    assert_eq!(server.client.get(&url).send().await.unwrap().status(), 200);

    // Retention: a day's retention, two days later, deletes the file and its listing.
    server.state.clock.advance(Duration::from_secs(2 * 86_400));
    let (_, body) = server
        .gql(
            Some(&acme.key),
            "mutation { setRecordingRetention(days: 1) }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["setRecordingRetention"], 1, "{body}");
    assert_eq!(
        recording_of(&server, &acme.key, &call).await["recording"],
        Value::Null
    );
    let folder = server.data_dir.join("recordings").join(acme.id.to_string());
    assert_eq!(
        std::fs::read_dir(folder).unwrap().count(),
        0,
        "the file is deleted"
    );
    assert!(!copy.exists(), "the replica's copy is deleted");
}

/// Whether `dir` holds no files (in any folder below it).
fn no_files_under(dir: &Path) -> bool {
    std::fs::read_dir(dir).map_or(true, |entries| {
        entries
            .filter_map(Result::ok)
            .all(|e| e.path().is_dir() && no_files_under(&e.path()))
    })
}

#[tokio::test]
async fn recordings_are_copied_to_s3_and_deleted_with_their_call() {
    let s3 = S3Server::start("voxedge-backups").await;
    let llm = OpenAiServer::with_script([Scripted::text(ANSWER)]).await;
    let server = server_with_replica(&s3.replica_url("voxedge/fra")).await;
    let acme = server.tenant("Acme").await;
    let agent = create_agent(&server, &acme.key, &llm, ONE_TURN.clone()).await;
    let (mut client, call) = connect(&server, &acme, &agent).await;
    speak_in_real_time(&mut client, &jfk_encoded(AudioFormat::Pcm16, 2500)).await;
    response(&mut client).await;
    drop(client);
    ended_call(&server, &acme.key, &call).await;

    let recording = recording_of(&server, &acme.key, &call).await["recording"].clone();
    let url = server.url(recording["url"].as_str().unwrap());
    let bytes = server
        .client
        .get(&url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let key = format!("voxedge/fra/recordings/{}/{call}.flac", acme.id);
    until_copied(|| async { s3.object(&key).await.is_some() }).await;
    assert_eq!(s3.object(&key).await.unwrap(), bytes.to_vec());
    let local = local_file(&server, &acme, &call);
    std::fs::remove_file(&local).unwrap();
    let response = server.client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200, "served from S3");
    assert_eq!(response.bytes().await.unwrap(), bytes);

    // Deleting the call deletes its recording: the URL, the file here and the copy in S3.
    let (_, body) = server
        .gql(
            Some(&acme.key),
            "mutation($id: ID!) { deleteCall(id: $id) }",
            json!({ "id": call }),
        )
        .await;
    assert_eq!(body["data"]["deleteCall"], json!(call), "{body}");
    assert_eq!(server.client.get(&url).send().await.unwrap().status(), 404);
    assert!(!local.exists(), "the file here is deleted");
    assert_eq!(s3.object(&key).await, None, "the copy in S3 is deleted");
    let (_, body) = server
        .gql(Some(&acme.key), RECORDING, json!({ "id": call }))
        .await;
    assert!(body["data"]["call"].is_null(), "{body}");
    let (_, body) = server
        .gql(
            Some(&acme.key),
            "mutation($id: ID!) { deleteCallRecording(callId: $id) }",
            json!({ "id": call }),
        )
        .await;
    assert_eq!(body["data"]["deleteCallRecording"], false, "{body}");
    assert!(no_files_under(&server.data_dir.join("recordings")));
}

#[tokio::test]
async fn an_agent_that_opts_out_is_not_recorded() {
    let llm = OpenAiServer::start().await;
    let server = agent_server().await;
    let acme = server.tenant("Acme").await;
    let agent = create_agent(&server, &acme.key, &llm, json!({ "recordCalls": false })).await;
    let (client, call) = connect(&server, &acme, &agent).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(client);
    ended_call(&server, &acme.key, &call).await;
    assert_eq!(
        recording_of(&server, &acme.key, &call).await["recording"],
        Value::Null
    );
    assert!(
        !server
            .data_dir
            .join("recordings")
            .join(acme.id.to_string())
            .exists()
    );
}
