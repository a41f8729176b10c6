//! GraphQL API benchmark: `cargo bench --bench graphql`.
//!
//! Prints
//! 1. one agent read with its configuration over one keep-alive connection (median), next to the same agent
//!    without its configuration and a trivial `{ __typename }`: what resolving costs beyond HTTP and auth;
//! 2. the same agent read over BENCH_CONNECTIONS (default 64) keep-alive connections: throughput and p99;
//! 3. `createCall` on one tenant over BENCH_CONNECTIONS connections: write throughput and p99;
//! 4. throughput and latency (p50/p99/p99.9) of an authenticated viewer query with BENCH_CONCURRENCY clients;
//! 5. the latency of the first request to a cold tenant (database closed, key not cached): open +
//!    migrate check + key verification + query, the open measured alone, and a warm request to the same
//!    tenant.
//!
//! The server runs in-process on 127.0.0.1:0 with a temporary data directory; the load generator shares
//! the machine's cores with it, so figures are a floor for what a dedicated server does.
//! Settings: BENCH_SECS (default 10), BENCH_CONNECTIONS (64), BENCH_CONCURRENCY (default 32),
//! BENCH_COLD_TENANTS (default 200).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::json;
use voxedge::app::Application;
use voxedge::auth::keys;
use voxedge::config::Config;
use voxedge::model::Role;

const QUERY: &str = "{ viewer { role tenant { id name createdAt } } }";
const AGENT_WITH_CONFIG: &str = "query($id: ID!) { agent(id: $id) { id name activeVersion config { \
    systemPrompt firstMessage language voice { voiceId speed } llm { primary { model } temperature } \
    turnDetection { silenceDurationMs } interruption { enabled minDurationMs } recordCalls } } }";
const AGENT_ALONE: &str = "query($id: ID!) { agent(id: $id) { id name activeVersion } }";
const TRIVIAL: &str = "{ __typename }";
const CREATE_CALL: &str = "mutation($agent: ID!) { createCall(input: {agentId: $agent, direction: INBOUND, \
    transport: PHONE, from: \"+14155550100\", to: \"+14155550199\"}) { id status } }";

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let secs = env_or("BENCH_SECS", 10);
    let concurrency = env_or("BENCH_CONCURRENCY", 32) as usize;
    let cold_tenants = env_or("BENCH_COLD_TENANTS", 200) as usize;
    let dir = tempfile::tempdir()?;
    let mut config = Config::for_data_dir(dir.path());
    config.tenant_cache.capacity = 64;
    // The benchmark measures serving, not the per-tenant rate limit it would otherwise hit at once.
    config.rate_limits.graphql = voxedge::ratelimit::PlanLimits {
        free: 0,
        pro: 0,
        enterprise: 0,
    };
    let app = Application::build(config).await?;
    let addr = app.local_addr();
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let url = format!("http://{addr}/graphql");

    let issue_key = |id| {
        let state = state.clone();
        async move {
            let db = state.tenants.get(id).await.expect("tenant opens");
            keys::create(
                &db,
                id,
                Role::Owner,
                "bench".into(),
                keys::NewApiKey {
                    name: "bench".into(),
                    role: Role::Owner,
                    expires_at: None,
                },
            )
            .await
            .expect("key")
            .key
        }
    };
    let hot =
        voxedge::tenants::provision(&state.catalog, &state.tenants, "Hot tenant", None).await?;
    let hot_key = Arc::new(issue_key(hot.id).await);

    let agent_id = create_agent(&url, &hot_key).await?;
    let connections = env_or("BENCH_CONNECTIONS", 64) as usize;

    println!(
        "voxedge GraphQL benchmark ({} cores, release build, {secs} s per row)",
        std::thread::available_parallelism()?.get()
    );
    println!();

    // 1. One agent read, one connection: what resolving adds to HTTP and auth.
    let agent =
        |query: &str| json!({ "query": query, "variables": { "id": agent_id } }).to_string();
    let trivial = hammer(
        &url,
        &hot_key,
        json!({ "query": TRIVIAL }).to_string(),
        1,
        secs,
    )
    .await;
    let alone = hammer(&url, &hot_key, agent(AGENT_ALONE), 1, secs).await;
    let with_config = hammer(&url, &hot_key, agent(AGENT_WITH_CONFIG), 1, secs).await;
    println!("one keep-alive connection, median latency:");
    println!(
        "  {{ __typename }}            {:>7.3} ms",
        median_ms(&trivial)
    );
    println!("  agent without config      {:>7.3} ms", median_ms(&alone));
    println!(
        "  agent with its config     {:>7.3} ms   ({:.1}x the trivial query)",
        median_ms(&with_config),
        median_ms(&with_config) / median_ms(&trivial)
    );
    println!();

    // 2. The same read under load.
    let loaded = hammer(&url, &hot_key, agent(AGENT_WITH_CONFIG), connections, secs).await;
    println!("agent with its config, {connections} keep-alive connections:");
    print_throughput(&loaded, secs);
    println!();

    // 3. Writes to one tenant: every request a transaction of its own, unless they commit together.
    let create_call = json!({
        "query": CREATE_CALL,
        "variables": { "agent": agent_id },
    })
    .to_string();
    let writes = hammer(&url, &hot_key, create_call, connections, secs).await;
    println!("createCall on one tenant, {connections} keep-alive connections:");
    print_throughput(&writes, secs);
    println!();

    // 4. Keep-alive throughput and latency of the viewer query.
    let total = hammer(
        &url,
        &hot_key,
        json!({ "query": QUERY }).to_string(),
        concurrency,
        secs,
    )
    .await;
    println!("query: {QUERY}");
    println!("keep-alive authenticated query, {concurrency} connections, {secs} s:");
    print_throughput(&total, secs);
    println!();

    // 5. First request to a cold tenant.
    let mut tenants = Vec::with_capacity(cold_tenants);
    for i in 0..cold_tenants {
        let record =
            voxedge::tenants::provision(&state.catalog, &state.tenants, &format!("Cold {i}"), None)
                .await?;
        tenants.push((record.id, issue_key(record.id).await));
    }
    for (id, _) in &tenants {
        state.tenants.close(*id).await;
    }
    state.tenants.run_pending_tasks().await;
    // What opening the file alone costs (the first request's share of it), before the files close again.
    let mut open = Histogram::<u64>::new(3)?;
    for (id, _) in &tenants {
        let started = Instant::now();
        state.tenants.get(*id).await?;
        open.record(started.elapsed().as_micros() as u64)?;
        state.tenants.close(*id).await;
    }
    state.tenants.run_pending_tasks().await;
    let client = reqwest::Client::new();
    let mut cold = Histogram::<u64>::new(3)?;
    let mut warm = Histogram::<u64>::new(3)?;
    for (_, key) in &tenants {
        for histogram in [&mut cold, &mut warm] {
            let started = Instant::now();
            let response = client
                .post(&url)
                .bearer_auth(key)
                .json(&json!({ "query": QUERY }))
                .send()
                .await?;
            assert!(response.status().is_success());
            response.bytes().await?;
            histogram.record(started.elapsed().as_micros() as u64)?;
        }
    }
    println!("first request to a cold tenant ({cold_tenants} tenants, sequential):");
    print_latency(&cold);
    println!("of which opening the tenant's file (measured alone):");
    print_latency(&open);
    println!("second request to the same tenant (warm):");
    print_latency(&warm);
    Ok(())
}

/// Sends `body` over `connections` keep-alive HTTP/1.1 connections for `secs`; the latency of every request.
async fn hammer(
    url: &str,
    key: &str,
    body: String,
    connections: usize,
    secs: u64,
) -> Histogram<u64> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let (url, key, body) = (url.to_string(), key.to_string(), body.clone());
        workers.spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .http1_only()
                .build()
                .expect("client");
            let mut histogram = Histogram::<u64>::new(3).expect("histogram");
            while Instant::now() < deadline {
                let started = Instant::now();
                let response = client
                    .post(&url)
                    .bearer_auth(&key)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .expect("request");
                assert!(response.status().is_success());
                let answer = response.bytes().await.expect("body");
                assert!(
                    !answer.windows(8).any(|w| w == b"\"errors\""),
                    "{}",
                    String::from_utf8_lossy(&answer)
                );
                histogram
                    .record(started.elapsed().as_micros() as u64)
                    .expect("record");
            }
            histogram
        });
    }
    let mut total = Histogram::<u64>::new(3).expect("histogram");
    while let Some(histogram) = workers.join_next().await {
        total.add(histogram.expect("worker")).expect("merge");
    }
    total
}

async fn create_agent(url: &str, key: &str) -> anyhow::Result<String> {
    let create = "mutation($config: AgentConfigInput!) { createAgent(input: {name: \"Front desk\", config: $config}) { id } }";
    let config = json!({
        "systemPrompt": "You are the front desk of a dental practice. Answer briefly and politely.",
        "firstMessage": "Hello, how can I help?",
    });
    let body: serde_json::Value = reqwest::Client::new()
        .post(url)
        .bearer_auth(key)
        .json(&json!({ "query": create, "variables": { "config": config } }))
        .send()
        .await?
        .json()
        .await?;
    body["data"]["createAgent"]["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("createAgent failed: {body}"))
}

fn median_ms(h: &Histogram<u64>) -> f64 {
    h.value_at_quantile(0.5) as f64 / 1000.0
}

fn print_throughput(h: &Histogram<u64>, secs: u64) {
    println!("  requests      {}", h.len());
    println!("  throughput    {:.0} req/s", h.len() as f64 / secs as f64);
    print_latency(h);
}

fn print_latency(h: &Histogram<u64>) {
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "  latency       p50 {:.3} ms   p99 {:.3} ms   p99.9 {:.3} ms   max {:.3} ms",
        ms(0.5),
        ms(0.99),
        ms(0.999),
        h.max() as f64 / 1000.0
    );
}
