//! Calls and transcripts at scale: `cargo bench --bench calls`.
//!
//! Seeds one tenant with 100,000 calls and 1,000,000 transcript segments (FTS5-indexed), then prints,
//! through the real HTTP GraphQL API on 127.0.0.1:
//! - p50/p99 of the calls list: first page and a deep page (keyset cursor ~90,000 calls back), plain
//!   and with a status filter;
//! - p50/p99 of transcript search for a common and a rare word;
//! - segment insert throughput: storage-level (batched transactions, FTS triggers included) and through
//!   the `addTranscriptSegments` mutation (batches of 100).
//!
//! Settings: BENCH_CALLS (100000), BENCH_SEGMENTS_PER_CALL (10), BENCH_ITERATIONS (200).

use std::time::Instant;

use async_graphql::connection::CursorType;
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use voxedge::agents::{self, AgentConfigInput};
use voxedge::app::Application;
use voxedge::auth::keys;
use voxedge::config::Config;
use voxedge::db::StorageError;
use voxedge::graphql::pagination::KeysetCursor;
use voxedge::model::{CallStatus, Direction, Role, Speaker, Transport};
use voxedge::repo::calls::{CallRow, NewSegment};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A deterministic vocabulary with a Zipf-like spread: a few very common words, many rare ones.
struct Words {
    vocabulary: Vec<String>,
    state: u64,
}

impl Words {
    fn new() -> Self {
        let syllables = [
            "ka", "lo", "mi", "ne", "su", "ta", "ri", "vo", "pe", "da", "zu", "ho",
        ];
        let mut vocabulary = vec![
            "the".to_string(),
            "order".into(),
            "refund".into(),
            "delivery".into(),
            "account".into(),
        ];
        for a in syllables {
            for b in syllables {
                for c in syllables {
                    vocabulary.push(format!("{a}{b}{c}"));
                }
            }
        }
        Self {
            vocabulary,
            state: 0x2545_f491_4f6c_dd1d,
        }
    }

    fn next(&mut self) -> &str {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        let r = (self.state % 10_000) as f64 / 10_000.0;
        let index =
            ((self.vocabulary.len() as f64).powf(r * r) as usize).min(self.vocabulary.len() - 1);
        &self.vocabulary[index]
    }

    fn sentence(&mut self, words: usize) -> String {
        (0..words)
            .map(|_| self.next().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let calls = env_or("BENCH_CALLS", 100_000) as usize;
    let per_call = env_or("BENCH_SEGMENTS_PER_CALL", 10) as usize;
    let iterations = env_or("BENCH_ITERATIONS", 200) as usize;
    let dir = tempfile::tempdir()?;
    let app = Application::build(Config::for_data_dir(dir.path())).await?;
    let url = format!("http://{}/graphql", app.local_addr());
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped(std::future::pending()));

    let tenant = voxedge::tenants::provision(&state.catalog, &state.tenants, "Bench", None).await?;
    let db = state.tenants.get(tenant.id).await?;
    let key = keys::create(
        &db,
        tenant.id,
        Role::Owner,
        "bench".into(),
        keys::NewApiKey {
            name: "bench".into(),
            role: Role::Owner,
            expires_at: None,
        },
    )
    .await?
    .key;
    let saving = agents::Saving {
        tenant: tenant.id,
        outbound: &state.config.outbound,
        secrets: &state.secrets,
    };
    let (agent, _) = agents::create(
        &db,
        saving,
        "bench".into(),
        "Agent",
        AgentConfigInput {
            system_prompt: "Hi".into(),
            ..Default::default()
        },
    )
    .await?;

    println!(
        "voxedge calls & transcripts benchmark ({} cores, release build)",
        std::thread::available_parallelism()?.get()
    );
    println!(
        "seeding {calls} calls and {} segments ...",
        calls * per_call
    );
    let started = Instant::now();
    let base_ms = chrono::Utc::now().timestamp_millis() - calls as i64 * 1000;
    let mut words = Words::new();
    let chunk = 2_000;
    for start in (0..calls).step_by(chunk) {
        let rows: Vec<(CallRow, Vec<NewSegment>)> = (start..(start + chunk).min(calls))
            .map(|i| {
                let created = base_ms + i as i64 * 1000;
                let status = [
                    CallStatus::Completed,
                    CallStatus::Completed,
                    CallStatus::Failed,
                    CallStatus::NoAnswer,
                ][i % 4];
                let call = CallRow {
                    id: ulid::Ulid::from_parts(created as u64, i as u128).to_string(),
                    agent_id: agent.id.clone(),
                    agent_version: 1,
                    direction: if i % 3 == 0 {
                        Direction::Outbound
                    } else {
                        Direction::Inbound
                    },
                    transport: Transport::Phone,
                    from_address: Some("+14155550100".into()),
                    to_address: Some("+14155550199".into()),
                    status,
                    ended_reason: Some(status.as_str().into()),
                    created_at: created,
                    answered_at: Some(created + 2000),
                    ended_at: Some(created + 62_000),
                    duration_ms: Some(60_000),
                    updated_at: created + 62_000,
                    metadata: json!({}),
                };
                let segments = (0..per_call)
                    .map(|s| NewSegment {
                        seq: s as i64 + 1,
                        speaker: if s % 2 == 0 {
                            Speaker::Caller
                        } else {
                            Speaker::Agent
                        },
                        text: words.sentence(12),
                        start_ms: s as i64 * 3000,
                        end_ms: s as i64 * 3000 + 2500,
                        confidence: Some(0.9),
                        is_final: true,
                    })
                    .collect();
                (call, segments)
            })
            .collect();
        db.write(move |tx| {
            for (call, segments) in &rows {
                voxedge::repo::calls::insert_call(tx, call)?;
                for segment in segments {
                    voxedge::repo::calls::upsert_segment(
                        tx,
                        &call.id,
                        segment,
                        call.ended_at.unwrap_or_default(),
                    )?;
                }
            }
            Ok::<_, StorageError>(())
        })
        .await?;
    }
    let seeded = started.elapsed();
    println!(
        "  seeded in {:.1} s: {:.0} segments/s storage-level (batched transactions, FTS5 triggers included)",
        seeded.as_secs_f64(),
        (calls * per_call) as f64 / seeded.as_secs_f64()
    );
    let bytes = std::fs::metadata(state.tenants.path_of(tenant.id))?.len();
    println!("  tenant database: {:.0} MiB", bytes as f64 / 1048576.0);
    println!();

    let client = reqwest::Client::new();
    let gql = |query: String, variables: Value| {
        let (client, url, key) = (client.clone(), url.clone(), key.clone());
        async move {
            let response = client
                .post(&url)
                .bearer_auth(&key)
                .json(&json!({ "query": query, "variables": variables }))
                .send()
                .await
                .expect("request");
            let body: Value = response.json().await.expect("json");
            assert!(body.get("errors").is_none(), "{body}");
            body
        }
    };
    let deep_index = (calls * 9 / 10).min(calls - 1);
    let deep_created = base_ms + (calls - 1 - deep_index) as i64 * 1000;
    let deep_cursor = KeysetCursor {
        at: deep_created,
        id: ulid::Ulid::from_parts(deep_created as u64, (calls - 1 - deep_index) as u128)
            .to_string(),
    }
    .encode_cursor();
    let page = "query($after: String, $f: CallFilterInput) { calls(first: 50, after: $after, filter: $f) { nodes { id status createdAt durationMs agent { name } } } }";
    let search = "query($q: String!) { searchTranscripts(query: $q, first: 20) { nodes { snippet rank call { id } } } }";
    let search_newest = "query($q: String!) { searchTranscripts(query: $q, first: 20, order: NEWEST) { nodes { snippet rank call { id } } } }";
    let cases: Vec<(&str, String, Value)> = vec![
        ("calls list, first page (50)", page.into(), json!({})),
        (
            "calls list, deep page (~90% back)",
            page.into(),
            json!({ "after": deep_cursor }),
        ),
        (
            "calls list, status filter, first page",
            page.into(),
            json!({ "f": { "status": ["FAILED"] } }),
        ),
        (
            "calls list, status filter, deep page",
            page.into(),
            json!({ "after": deep_cursor, "f": { "status": ["FAILED"] } }),
        ),
        (
            "search, typical word (~0.3% of segments)",
            search.into(),
            json!({ "q": "mikavo" }),
        ),
        ("search, rare word", search.into(), json!({ "q": "zuhoho" })),
        (
            "search, word in ~60% of segments",
            search.into(),
            json!({ "q": "refund" }),
        ),
        (
            "search, same word, order: NEWEST",
            search_newest.into(),
            json!({ "q": "refund" }),
        ),
        (
            "search, two common words",
            search.into(),
            json!({ "q": "refund delivery" }),
        ),
        (
            "calls filtered by a typical word",
            page.into(),
            json!({ "f": { "text": "mikavo" } }),
        ),
        (
            "calls filtered by two common words",
            page.into(),
            json!({ "f": { "text": "refund delivery" } }),
        ),
    ];
    println!(
        "{:<46} {:>10} {:>10}",
        "query (through HTTP GraphQL)", "p50 ms", "p99 ms"
    );
    for (name, query, variables) in cases {
        gql(query.clone(), variables.clone()).await; // warm
        let mut histogram = Histogram::<u64>::new(3)?;
        for _ in 0..iterations {
            let started = Instant::now();
            gql(query.clone(), variables.clone()).await;
            histogram.record(started.elapsed().as_micros() as u64)?;
        }
        println!(
            "{name:<46} {:>10.2} {:>10.2}",
            histogram.value_at_quantile(0.5) as f64 / 1000.0,
            histogram.value_at_quantile(0.99) as f64 / 1000.0
        );
    }
    println!();

    // Segment inserts through the API: a live call streaming its transcript.
    let body = gql(
        "mutation($a: ID!) { createCall(input: {agentId: $a, direction: INBOUND, transport: WEB}) { id } }".into(),
        json!({ "a": agent.id }),
    )
    .await;
    let call = body["data"]["createCall"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let total = 20_000;
    let started = Instant::now();
    for start in (1..=total).step_by(100) {
        let segments: Vec<Value> = (start..start + 100)
            .map(|seq| json!({ "seq": seq, "speaker": "CALLER", "text": words.sentence(12), "startMs": seq * 100, "endMs": seq * 100 + 90 }))
            .collect();
        gql(
            "mutation($c: ID!, $s: [TranscriptSegmentInput!]!) { addTranscriptSegments(callId: $c, segments: $s) { seq } }".into(),
            json!({ "c": call, "s": segments }),
        )
        .await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "segment inserts through GraphQL (batches of 100, into a 1M-segment tenant): {:.0} segments/s",
        total as f64 / elapsed
    );
    Ok(())
}
