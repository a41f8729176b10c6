//! Live calls end to end: `cargo bench --bench live_calls`.
//!
//! Starts the real server (release build, real models) and streams jfk.wav (11 s, 4 utterances, then 1.5 s of
//! silence) over the Realtime WebSocket **paced in real time** (100 ms of pcm16 every 100 ms), from 1, 2, 4, ...
//! concurrent calls. For every utterance it measures the *transcript lag*: from `speech_stopped` to
//! `conversation.item.input_audio_transcription.completed`, as the client sees it. Two cores sustain N calls while
//! the p95 lag stays under 1.5 s and every transcript arrives; the run stops at the first N that fails.
//!
//! It also prints the pipeline overhead: with one call, the summed lag of the utterances divided by bare
//! whisper-rs (`WhisperState::full`, same settings, calling thread) on exactly the same audio.

#[path = "voice_common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use voxedge::app::Application;
use voxedge::audio::{AudioFormat, FormatEncoder};
use voxedge::config::Config;
use voxedge::voice::stt::{SttOptions, transcribe_blocking};
use voxedge::voice::{SpeechToText, VoiceConfig};

/// p95 transcript lag above which calls count as falling behind.
const MAX_P95_LAG: Duration = Duration::from_millis(1500);

/// What one call observed.
struct CallResult {
    /// Per utterance: (audio_start_ms, audio_end_ms, lag).
    utterances: Vec<(u64, u64, Duration)>,
    transcript: String,
}

fn main() {
    let models = common::models_dir();
    let ort = common::ort_dylib();
    let jfk = common::jfk(&models);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let data = tempfile::tempdir().expect("temp dir");
    let mut config = Config::for_data_dir(data.path());
    config.voice = VoiceConfig {
        ort_dylib: Some(ort),
        ..VoiceConfig::in_dir(&models)
    };
    config.rate_limits.ws_connects.free = 0;
    let (addr, key, agent) = rt.block_on(async {
        let app = Application::build(config).await.expect("server builds");
        let addr = app.local_addr();
        let state = app.state().clone();
        tokio::spawn(app.run_until_stopped(std::future::pending()));
        let key = common::owner_key(&state).await;
        let agent = create_agent(addr, &key).await;
        (addr, key, agent)
    });

    let mut encoder = FormatEncoder::new(AudioFormat::Pcm16, 16_000).expect("encoder");
    let mut samples = jfk.clone();
    samples.extend(std::iter::repeat_n(0.0, 24_000));
    let mut audio = encoder.encode(&samples);
    audio.extend(encoder.flush());

    println!(
        "Live calls: jfk.wav over /v1/realtime, paced in real time, whisper tiny.en on {} cores",
        num_cpus()
    );
    println!();
    println!(
        "{:>5} | {:>10} {:>10} {:>10} | {:>8}",
        "calls", "lag p50", "lag p95", "lag max", "status"
    );
    println!("{}", "-".repeat(56));
    let mut sustained = 0;
    let mut single: Option<CallResult> = None;
    for calls in [1usize, 2, 4, 6, 8, 12, 16] {
        let results = rt.block_on(async {
            let runs = (0..calls).map(|i| {
                let audio = audio.clone();
                let key = key.clone();
                let agent = agent.clone();
                tokio::spawn(async move {
                    // Stagger starts like real calls.
                    tokio::time::sleep(Duration::from_millis(37 * i as u64)).await;
                    one_call(addr, &key, &agent, &audio).await
                })
            });
            futures::future::join_all(runs).await
        });
        let results: Vec<CallResult> = results.into_iter().map(|r| r.expect("call task")).collect();
        let lags: Vec<Duration> = results
            .iter()
            .flat_map(|r| r.utterances.iter().map(|u| u.2))
            .collect();
        if lags.is_empty() {
            println!("{calls:>5} | no transcripts arrived");
            break;
        }
        let complete = results.iter().all(|r| {
            common_words(&r.transcript).contains("ask not what your country can do for you")
        });
        let p95 = common::percentile(&lags, 95.0);
        let ok = complete && p95 <= MAX_P95_LAG;
        println!(
            "{calls:>5} | {:>10} {:>10} {:>10} | {:>8}",
            ms(common::percentile(&lags, 50.0)),
            ms(p95),
            ms(*lags.iter().max().unwrap_or(&Duration::ZERO)),
            if ok {
                "ok"
            } else if complete {
                "behind"
            } else {
                "lost"
            }
        );
        if calls == 1 {
            single = results.into_iter().next();
        }
        if !ok {
            break;
        }
        sustained = calls;
    }
    println!();
    println!(
        "Sustained: {sustained} concurrent real-time calls (p95 transcript lag ≤ {} ms).",
        MAX_P95_LAG.as_millis()
    );

    // Overhead: the same utterances through bare whisper-rs.
    let single = single.expect("the one-call run");
    let stt = SpeechToText::load(&models.join("ggml-tiny.en.bin"), SttOptions::for_machine())
        .expect("whisper");
    let settings = stt.settings();
    let mut state = stt.context().create_state().expect("state");
    let eot = stt.context().token_eot();
    let mut bare = Duration::ZERO;
    let mut ours = Duration::ZERO;
    for (start_ms, end_ms, lag) in &single.utterances {
        let from = (*start_ms as usize * 16).min(jfk.len());
        let to = (*end_ms as usize * 16).min(samples.len());
        let piece = samples[from..to].to_vec();
        let begun = Instant::now();
        transcribe_blocking(&mut state, eot, &settings, piece).expect("bare whisper");
        bare += begun.elapsed();
        ours += *lag;
    }
    println!(
        "Pipeline overhead (1 call, {} utterances): speech_stopped → transcript {} ms vs bare whisper-rs {} ms = {:.2}x",
        single.utterances.len(),
        ours.as_millis(),
        bare.as_millis(),
        ours.as_secs_f64() / bare.as_secs_f64().max(1e-9)
    );
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

fn common_words(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                ' '
            }
        })
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn create_agent(addr: std::net::SocketAddr, key: &str) -> String {
    let body: Value = reqwest::Client::new()
        .post(format!("http://{addr}/graphql"))
        .bearer_auth(key)
        .json(&json!({ "query": "mutation { createAgent(input: {name: \"Bench\", config: {systemPrompt: \"Listen.\"}}) { id } }" }))
        .send()
        .await
        .expect("graphql")
        .json()
        .await
        .expect("json");
    body["data"]["createAgent"]["id"]
        .as_str()
        .expect("agent id")
        .to_string()
}

/// Streams `audio` (pcm16 24 kHz) in real time and records each utterance's transcript lag.
async fn one_call(addr: std::net::SocketAddr, key: &str, agent: &str, audio: &[u8]) -> CallResult {
    let socket = common::realtime_socket(addr, key, agent).await;
    let (mut sink, mut stream) = socket.split();
    // Transcription only: the agent does not answer (benches/voice_to_voice.rs measures answers).
    let listen_only = json!({
        "type": "session.update",
        "session": { "turn_detection": { "type": "server_vad", "create_response": false } }
    });
    sink.send(Message::Text(listen_only.to_string().into()))
        .await
        .expect("session.update");
    let chunks: Vec<String> = audio
        .chunks(4800) // 100 ms of 24 kHz pcm16
        .map(|c| {
            json!({ "type": "input_audio_buffer.append", "audio": base64::engine::general_purpose::STANDARD.encode(c) })
                .to_string()
        })
        .collect();
    let sender = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        for chunk in chunks {
            tick.tick().await;
            if sink.send(Message::Text(chunk.into())).await.is_err() {
                break;
            }
        }
        // Keep the line open (silence) until the transcripts are in.
        sink
    });
    let mut utterances = Vec::new();
    let mut transcript = String::new();
    let mut stopped: Vec<(String, u64, Instant)> = Vec::new();
    let mut started_at = std::collections::HashMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while utterances.len() < 4 {
        let text = match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => text,
            Ok(Some(Ok(_))) => continue, // pings
            _ => break,
        };
        let event: Value = serde_json::from_str(text.as_str()).expect("json");
        match event["type"].as_str() {
            Some("input_audio_buffer.speech_started") => {
                started_at.insert(
                    event["item_id"].as_str().unwrap_or_default().to_string(),
                    event["audio_start_ms"].as_u64().unwrap_or(0),
                );
            }
            Some("input_audio_buffer.speech_stopped") => stopped.push((
                event["item_id"].as_str().unwrap_or_default().to_string(),
                event["audio_end_ms"].as_u64().unwrap_or(0),
                Instant::now(),
            )),
            Some("conversation.item.input_audio_transcription.completed") => {
                let item = event["item_id"].as_str().unwrap_or_default();
                if let Some((_, end_ms, at)) = stopped.iter().find(|(id, ..)| id == item) {
                    let start_ms = started_at.get(item).copied().unwrap_or(0);
                    utterances.push((start_ms, *end_ms, at.elapsed()));
                }
                transcript.push(' ');
                transcript.push_str(event["transcript"].as_str().unwrap_or_default());
            }
            _ => {}
        }
    }
    let mut sink = sender.await.expect("sender");
    let _ = sink.send(Message::Close(None)).await;
    CallResult {
        utterances,
        transcript,
    }
}
