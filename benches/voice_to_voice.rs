//! Voice to voice: `cargo bench --bench voice_to_voice`.
//!
//! Starts the real server (release build, real models) and a local OpenAI-compatible LLM (the test server, real
//! HTTP and SSE) whose first token comes after a set delay. A Realtime client streams a microphone in real time
//! (100 ms of pcm16 every 100 ms, silence between turns) and speaks a question synthesised by Piper. For each turn:
//!
//! - **voice to voice**, client side: from sending the audio chunk that ends the question to receiving the first
//!   agent audio delta. It includes the turn detector's end-of-turn silence (500 ms), because a caller waits for it;
//! - the **stage split**, server side, from the `turn` timeline events: end of turn (VAD) → transcript (STT), →
//!   LLM first token, → first TTS audio, → first audio byte sent;
//! - **barge-in reaction**: 600 ms into the agent's answer the caller asks the next question; from the first chunk
//!   of that speech to `response.done` (cancelled) — the agent's audio has stopped by then. The agent interrupts
//!   after 200 ms of caller speech (`interruption.minDurationMs`), so that much is by design.
//!
//! 50 turns with the first token at 0 ms, 50 at 300 ms; then N concurrent full-duplex calls (10 turns each, 0 ms)
//! for N = 1, 2, 3, 4 while the voice-to-voice p95 stays under 2 s (`VOXEDGE_BENCH_TURNS=0` runs only these).

#[path = "voice_common/mod.rs"]
mod common;

#[path = "../tests/support/openai_server.rs"]
mod openai_server;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures::{SinkExt as _, StreamExt as _};
use openai_server::{OpenAiServer, Scripted};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use voxedge::app::Application;
use voxedge::audio::{AudioFormat, FormatEncoder};
use voxedge::config::Config;
use voxedge::voice::{VoiceConfig, VoiceModels, VoiceOptions};

use common::ms;

/// Percentile (`p` in 0..=1) of `samples`; zero when there are none.
fn percentile(samples: &[Duration], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    common::percentile(samples, p * 100.0)
}

const QUESTION: &str = "What time does the library open tomorrow?";
const ANSWER: &str = "The library opens at nine in the morning on weekdays. On weekends it opens at ten. \
                      The reading room closes an hour earlier than the rest of the building.";
/// Agent audio heard before the caller talks over it.
const BARGE_AFTER_MS: usize = 600;
const CHUNK_BYTES: usize = 4800; // 100 ms of pcm16 at 24 kHz
/// Voice-to-voice p95 (from the caller's last word, so including the 500 ms end-of-turn silence) above which
/// concurrent calls count as falling behind.
const MAX_P95_VOICE_TO_VOICE: Duration = Duration::from_millis(2000);

#[derive(Default)]
struct Figures {
    voice_to_voice: Vec<Duration>,
    barge_in: Vec<Duration>,
    call_id: String,
}

fn main() {
    let models = common::models_dir();
    let voice = VoiceConfig {
        ort_dylib: Some(common::ort_dylib()),
        ..VoiceConfig::in_dir(&models)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let question = rt.block_on(async {
        let models = VoiceModels::load(&voice, VoiceOptions::default());
        let speech = models
            .tts()
            .expect("tts")
            .synthesize(QUESTION, 1.0)
            .await
            .expect("question");
        let mut encoder = FormatEncoder::new(AudioFormat::Pcm16, speech.sample_rate).unwrap();
        let mut audio = encoder.encode(&speech.samples);
        audio.extend(encoder.flush());
        audio
    });
    let data = tempfile::tempdir().expect("temp dir");
    let mut config = Config::for_data_dir(data.path());
    config.voice = voice;
    config.rate_limits.ws_connects.free = 0;
    // The LLM stand-in runs on 127.0.0.1, which tenants' URLs reach only with `--allow-outbound`.
    config.outbound = voxedge::outbound::OutboundPolicy::parse("127.0.0.1/32").expect("a range");
    let (addr, key, llm) = rt.block_on(async {
        let llm = OpenAiServer::start().await;
        let app = Application::build(config).await.expect("server builds");
        let addr = app.local_addr();
        let state = app.state().clone();
        tokio::spawn(app.run_until_stopped(std::future::pending()));
        let key = common::owner_key(&state).await;
        (addr, key, llm)
    });

    println!(
        "Voice to voice over /v1/realtime on {} cores: question {:.1} s of Piper speech, real-time microphone",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        question.len() as f64 / 48_000.0
    );
    println!();
    println!(
        "{:>11} {:>5} | {:>8} {:>8} | {:>9} {:>9} {:>9} {:>9} | {:>9} {:>9}",
        "first token",
        "turns",
        "v2v p50",
        "v2v p95",
        "stt p50",
        "llm p50",
        "tts p50",
        "sent p50",
        "barge p50",
        "barge p95"
    );
    println!("{}", "-".repeat(112));
    // `VOXEDGE_BENCH_TURNS=0` skips the latency table (only the concurrency sweep runs).
    let turns: usize = std::env::var("VOXEDGE_BENCH_TURNS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(50);
    for delay_ms in [0u64, 300].into_iter().filter(|_| turns > 0) {
        for _ in 0..turns + 2 {
            llm.push(reply(delay_ms));
        }
        let figures = rt.block_on(async {
            let agent = create_agent(addr, &key, llm.base_url()).await;
            one_call(addr, &key, &agent, &question, turns).await
        });
        let stages = rt.block_on(stage_split(&key, addr, &figures.call_id));
        let p50 = |stage: &str| {
            let values: Vec<Duration> = stages.iter().filter_map(|t| stage_ms(t, stage)).collect();
            ms(percentile(&values, 0.5))
        };
        println!(
            "{:>8} ms {:>5} | {:>8} {:>8} | {:>9} {:>9} {:>9} {:>9} | {:>9} {:>9}",
            delay_ms,
            figures.voice_to_voice.len(),
            ms(percentile(&figures.voice_to_voice, 0.5)),
            ms(percentile(&figures.voice_to_voice, 0.95)),
            p50("sttMs"),
            p50("llmFirstTokenMs"),
            p50("ttsFirstAudioMs"),
            p50("voiceToVoiceMs"),
            ms(percentile(&figures.barge_in, 0.5)),
            ms(percentile(&figures.barge_in, 0.95)),
        );
    }
    println!();
    println!(
        "Server stages are from the end of the caller's turn as the VAD declares it (500 ms of silence after"
    );
    println!(
        "the last word); client voice-to-voice is from the last word, so it includes that silence."
    );
    println!();
    println!("Concurrent full-duplex calls (10 turns each, first token at 0 ms):");
    println!(
        "{:>5} | {:>8} {:>8} {:>8} | {:>9} | {:>8}",
        "calls", "v2v p50", "v2v p95", "v2v max", "barge p95", "status"
    );
    println!("{}", "-".repeat(62));
    let mut sustained = 0;
    for calls in [1usize, 2, 3, 4] {
        let turns = 10;
        for _ in 0..calls * (turns + 2) {
            llm.push(reply(0));
        }
        let results = rt.block_on(async {
            let agent = create_agent(addr, &key, llm.base_url()).await;
            let runs = (0..calls).map(|i| {
                let (key, agent, question) = (key.clone(), agent.clone(), question.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(700 * i as u64)).await;
                    one_call(addr, &key, &agent, &question, turns).await
                })
            });
            futures::future::join_all(runs).await
        });
        let figures: Vec<Figures> = results.into_iter().map(|r| r.expect("call")).collect();
        let v2v: Vec<Duration> = figures
            .iter()
            .flat_map(|f| f.voice_to_voice.clone())
            .collect();
        let barge: Vec<Duration> = figures.iter().flat_map(|f| f.barge_in.clone()).collect();
        let complete = v2v.len() == calls * turns;
        let p95 = percentile(&v2v, 0.95);
        let ok = complete && p95 <= MAX_P95_VOICE_TO_VOICE;
        println!(
            "{:>5} | {:>8} {:>8} {:>8} | {:>9} | {:>8}",
            calls,
            ms(percentile(&v2v, 0.5)),
            ms(p95),
            ms(v2v.iter().max().copied().unwrap_or_default()),
            ms(percentile(&barge, 0.95)),
            if ok {
                "ok"
            } else if complete {
                "slow"
            } else {
                "lost turns"
            }
        );
        if !ok {
            break;
        }
        sustained = calls;
    }
    println!();
    println!(
        "Two cores sustain {sustained} concurrent full-duplex call(s) with voice-to-voice p95 <= {} ms (of 1, 2, 3, 4 tried).",
        MAX_P95_VOICE_TO_VOICE.as_millis()
    );
}

fn reply(first_token_ms: u64) -> Scripted {
    Scripted::text(ANSWER)
        .first_token_delay(Duration::from_millis(first_token_ms))
        .token_delay(Duration::from_millis(15))
}

fn stage_ms(turn: &Value, stage: &str) -> Option<Duration> {
    turn[stage].as_u64().map(Duration::from_millis)
}

async fn graphql(addr: SocketAddr, key: &str, query: &str, variables: Value) -> Value {
    reqwest::Client::new()
        .post(format!("http://{addr}/graphql"))
        .bearer_auth(key)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("graphql")
        .json()
        .await
        .expect("json")
}

async fn create_agent(addr: SocketAddr, key: &str, llm: &str) -> String {
    let config = json!({
        "systemPrompt": "You are the front desk of the city library.",
        "llm": { "primary": { "provider": "custom", "model": "bench", "baseUrl": llm } },
        "interruption": { "enabled": true, "minWords": 0, "minDurationMs": 200 },
        "endCall": { "silenceTimeoutSecs": 600, "maxDurationSecs": 3600 },
    });
    let body = graphql(
        addr,
        key,
        "mutation($config: AgentConfigInput!) { createAgent(input: {name: \"Bench\", config: $config}) { id } }",
        json!({ "config": config }),
    )
    .await;
    body["data"]["createAgent"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("agent: {body}"))
        .to_string()
}

/// The `turn` timeline events of a call.
async fn stage_split(key: &str, addr: SocketAddr, call: &str) -> Vec<Value> {
    let mut turns = Vec::new();
    let mut after: Option<String> = None;
    // The call's record is written as it ends; wait for it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    loop {
        let body = graphql(
            addr,
            key,
            "query($id: ID!, $after: String) { call(id: $id) { events(first: 100, after: $after) {
                edges { node { type data } } pageInfo { hasNextPage endCursor } } } }",
            json!({ "id": call, "after": after }),
        )
        .await;
        let events = &body["data"]["call"]["events"];
        for edge in events["edges"].as_array().expect("events") {
            if edge["node"]["type"] == "turn" {
                turns.push(edge["node"]["data"].clone());
            }
        }
        if events["pageInfo"]["hasNextPage"] != true {
            return turns;
        }
        after = events["pageInfo"]["endCursor"].as_str().map(str::to_string);
    }
}

/// One call of `turns` questions; each answer but the last is interrupted by the next question.
async fn one_call(
    addr: SocketAddr,
    key: &str,
    agent: &str,
    question: &[u8],
    turns: usize,
) -> Figures {
    let socket = common::realtime_socket(addr, key, agent).await;
    let (mut sink, mut stream) = socket.split();
    let append = |chunk: &[u8]| {
        Message::Text(
            json!({ "type": "input_audio_buffer.append", "audio": base64::engine::general_purpose::STANDARD.encode(chunk) })
                .to_string()
                .into(),
        )
    };
    let silence = append(&[0u8; CHUNK_BYTES]);
    let question: Vec<Vec<u8>> = question.chunks(CHUNK_BYTES).map(<[u8]>::to_vec).collect();

    let mut figures = Figures::default();
    let mut speech: VecDeque<Vec<u8>> = question.iter().cloned().collect();
    let mut asked = 1;
    let mut speech_started: Option<Instant> = None;
    let mut speech_ended: Option<Instant> = None;
    let mut awaiting_audio = false;
    let mut agent_audio = 0usize;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30 + 10 * turns as u64);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let message = match speech.pop_front() {
                    Some(chunk) => {
                        if speech_started.is_none() {
                            speech_started = Some(Instant::now());
                        }
                        if speech.is_empty() {
                            speech_ended = Some(Instant::now());
                            awaiting_audio = true;
                        }
                        append(&chunk)
                    }
                    None => silence.clone(),
                };
                if sink.send(message).await.is_err() {
                    break;
                }
            }
            message = tokio::time::timeout_at(deadline, stream.next()) => {
                let text = match message {
                    Ok(Some(Ok(Message::Text(text)))) => text,
                    Ok(Some(Ok(_))) => continue,
                    _ => break,
                };
                let event: Value = serde_json::from_str(text.as_str()).expect("json");
                match event["type"].as_str().unwrap_or_default() {
                    "session.created" => figures.call_id = event["session"]["id"].as_str().unwrap_or_default().to_string(),
                    "response.created" => agent_audio = 0,
                    "response.output_audio.delta" => {
                        if awaiting_audio && speech.is_empty() {
                            awaiting_audio = false;
                            if let Some(ended) = speech_ended {
                                figures.voice_to_voice.push(ended.elapsed());
                            }
                            if figures.voice_to_voice.len() == turns {
                                break;
                            }
                        }
                        agent_audio += event["delta"].as_str().map_or(0, |d| d.len() * 3 / 4) / 48;
                        if agent_audio >= BARGE_AFTER_MS && speech.is_empty() && asked < turns && !awaiting_audio {
                            // Talk over the agent with the next question.
                            speech.extend(question.iter().cloned());
                            speech_started = None;
                            asked += 1;
                        }
                    }
                    "response.done" => {
                        if event["response"]["status"] == "cancelled"
                            && let Some(started) = speech_started
                        {
                            figures.barge_in.push(started.elapsed());
                        }
                    }
                    "error" => eprintln!("error: {event}"),
                    _ => {}
                }
            }
        }
    }
    let _ = sink.send(Message::Close(None)).await;
    figures
}
