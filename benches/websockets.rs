//! Many open WebSockets at once: `cargo bench --bench websockets`.
//!
//! Starts the real server as its own process (release build, the real voice models from
//! `VOXEDGE_TEST_MODELS_DIR`, ONNX Runtime from `VOXEDGE_ORT_DYLIB`), so its memory is measured alone, then
//! holds open, from this process:
//! - GraphQL WebSockets (graphql-transport-ws), spread over several tenants, each running a `heartbeat`
//!   subscription, and one in ten also `activeCalls` of the tenant taking the calls;
//! - idle live calls over `/v1/realtime` (admitted, VAD and recorder running, answering pings; nobody
//!   speaks).
//!
//! It prints the server's resident memory (RSS) before, while holding and after closing, the file
//! descriptors it holds, and the latency (p50/p99/max) of an authenticated GraphQL query from a few
//! clients, first with nothing open and then while every socket is held; and the machine's load average,
//! since other work on the machine shows in the figures. The load generator runs on the same two cores.
//!
//! Settings: BENCH_GRAPHQL_SOCKETS (750), BENCH_LIVE_CALLS (250), BENCH_TENANTS (10), BENCH_QUERIES (2000),
//! BENCH_QUERY_CONCURRENCY (4), BENCH_HOLD_SECS (30).

#[path = "voice_common/mod.rs"]
mod common;

#[path = "../tests/support/process.rs"]
#[allow(dead_code)]
mod process;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::{SinkExt as _, StreamExt as _};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

const QUERY: &str = "{ viewer { role tenant { id name } } }";

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // A thousand client sockets, plus this process's own files.
    let limit = rlimit::increase_nofile_limit(u64::MAX)?;
    let models = common::models_dir();
    let ort = common::ort_dylib();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(&models, &ort, limit))
}

/// What the socket tasks report while they run.
#[derive(Default)]
struct Held {
    /// Sockets acknowledged (GraphQL) or with a session (live calls) and still open.
    open: AtomicUsize,
    /// Sockets that ended before we closed them.
    lost: AtomicUsize,
    /// Subscription results received.
    results: AtomicUsize,
}

async fn run(models: &Path, ort: &Path, fd_limit: u64) -> anyhow::Result<()> {
    let graphql_sockets = env_or("BENCH_GRAPHQL_SOCKETS", 750) as usize;
    let live_calls = env_or("BENCH_LIVE_CALLS", 250) as usize;
    let tenants = env_or("BENCH_TENANTS", 10).max(1) as usize;
    let queries = env_or("BENCH_QUERIES", 2000) as usize;
    let query_concurrency = env_or("BENCH_QUERY_CONCURRENCY", 4).max(1) as usize;
    let hold = Duration::from_secs(env_or("BENCH_HOLD_SECS", 30));

    let data = tempfile::tempdir()?;
    let models_arg = models.display().to_string();
    let ort_arg = ort.display().to_string();
    let mut server = process::ServerProcess::start(
        data.path(),
        &[
            "--models-dir",
            &models_arg,
            "--ort-dylib",
            &ort_arg,
            "--rate-limit-free",
            "0",
            "--ws-connect-limit-free",
            "0",
            "--graphql-ws-max-tenant-subscriptions",
            "0",
        ],
    );
    let addr = server.addr;
    let pid = server.child.id();

    let mut keys = Vec::new();
    for i in 0..tenants {
        let output = process::run_ok(
            data.path(),
            &["tenant", "create", "--name", &format!("Bench {i}")],
        );
        keys.push(
            process::stdout_json(&output)["api_key"]
                .as_str()
                .expect("api key")
                .to_string(),
        );
    }
    let agent = create_agent(addr, &keys[0]).await;
    let client = reqwest::Client::new();
    warm_up(&client, addr, &keys).await;

    println!(
        "voxedge WebSockets benchmark: {graphql_sockets} GraphQL subscription sockets over {tenants} tenants + {live_calls} idle live calls (release build, {} cores, fd limit {fd_limit})",
        std::thread::available_parallelism()?.get()
    );
    println!("load average at start: {}", load_average());
    let idle_rss = rss_kib(pid);
    println!(
        "server RSS with nothing open: {} MiB (voice models loaded), fds {}",
        idle_rss / 1024,
        fds(pid)
    );
    let baseline = query_latency(&client, addr, &keys, queries, query_concurrency).await;
    println!("query {QUERY}, {query_concurrency} clients, nothing open: {baseline}");
    println!();

    let held = Arc::new(Held::default());
    let mut sockets = JoinSet::new();
    let started = Instant::now();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    // Open in waves, as clients arriving over a few seconds would.
    for wave in (0..graphql_sockets.max(live_calls)).step_by(50) {
        for i in wave..(wave + 50) {
            if i < graphql_sockets {
                let key = keys[i % tenants].clone();
                let watch_calls = i % 10 == 0;
                let call_key = keys[0].clone();
                sockets.spawn(graphql_socket(
                    addr,
                    key,
                    watch_calls,
                    call_key,
                    held.clone(),
                    stop.clone(),
                ));
            }
            if i < live_calls {
                sockets.spawn(live_call(
                    addr,
                    keys[0].clone(),
                    agent.clone(),
                    held.clone(),
                    stop.clone(),
                ));
            }
        }
        let target = (wave + 50).min(graphql_sockets) + (wave + 50).min(live_calls);
        let deadline = Instant::now() + Duration::from_secs(60);
        while held.open.load(Ordering::Relaxed) + held.lost.load(Ordering::Relaxed) < target {
            anyhow::ensure!(Instant::now() < deadline, "sockets did not open in time");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let opened = held.open.load(Ordering::Relaxed);
    println!(
        "opened {opened} sockets in {:.1} s ({} refused or lost)",
        started.elapsed().as_secs_f64(),
        held.lost.load(Ordering::Relaxed)
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let holding_rss = rss_kib(pid);
    println!(
        "server RSS holding them: {} MiB (+{:.1} KiB per socket), fds {}, load average {}",
        holding_rss / 1024,
        holding_rss.saturating_sub(idle_rss) as f64 / opened.max(1) as f64,
        fds(pid),
        load_average()
    );
    let (ws_gauge, calls_gauge) = gauges(&client, addr).await;
    println!("server counts: {ws_gauge} GraphQL WebSockets, {calls_gauge} live calls");
    let loaded = query_latency(&client, addr, &keys, queries, query_concurrency).await;
    println!("query {QUERY}, {query_concurrency} clients, while holding: {loaded}");
    // Hold the rest of the time: live calls must outlast the idle timeout by answering pings.
    let held_for = started.elapsed();
    if hold > held_for {
        tokio::time::sleep(hold - held_for).await;
    }
    let still_open = held.open.load(Ordering::Relaxed);
    println!(
        "after {:.0} s: {still_open} sockets still open, {} lost, {} subscription results received; server RSS {} MiB (peak {} MiB), load average {}",
        started.elapsed().as_secs_f64(),
        held.lost.load(Ordering::Relaxed),
        held.results.load(Ordering::Relaxed),
        rss_kib(pid) / 1024,
        status_kib(pid, "VmHWM:") / 1024,
        load_average()
    );
    let _ = stop_tx.send(true);
    while sockets.join_next().await.is_some() {}
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (ws_gauge, calls_gauge) = gauges(&client, addr).await;
    println!(
        "closed: server RSS {} MiB, fds {}, {ws_gauge} GraphQL WebSockets and {calls_gauge} live calls left",
        rss_kib(pid) / 1024,
        fds(pid)
    );
    server.terminate();
    server.wait(Duration::from_secs(10));
    Ok(())
}

/// One GraphQL WebSocket running a heartbeat (and, for some, `activeCalls`) until told to stop.
async fn graphql_socket(
    addr: SocketAddr,
    key: String,
    watch_calls: bool,
    call_key: String,
    held: Arc<Held>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut request = format!("ws://{addr}/graphql")
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let Ok((mut socket, _)) = tokio_tungstenite::connect_async(request).await else {
        held.lost.fetch_add(1, Ordering::Relaxed);
        return;
    };
    // The watchers of calls sign in to the calls' tenant.
    let credential = if watch_calls { &call_key } else { &key };
    let init = json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {credential}") } });
    let _ = socket.send(Message::text(init.to_string())).await;
    match socket.next().await {
        Some(Ok(Message::Text(text))) if text.contains("connection_ack") => {}
        _ => {
            held.lost.fetch_add(1, Ordering::Relaxed);
            return;
        }
    }
    let subscribe = |id: &str, query: &str| {
        Message::text(
            json!({ "id": id, "type": "subscribe", "payload": { "query": query } }).to_string(),
        )
    };
    let _ = socket
        .send(subscribe(
            "beat",
            "subscription { heartbeat(intervalMs: 15000) { sequence } }",
        ))
        .await;
    if watch_calls {
        let _ = socket
            .send(subscribe(
                "calls",
                "subscription { activeCalls { id status } }",
            ))
            .await;
    }
    held.open.fetch_add(1, Ordering::Relaxed);
    hold_open(&mut socket, &held, &mut stop).await;
}

/// One idle live call over `/v1/realtime`, answering pings until told to stop.
async fn live_call(
    addr: SocketAddr,
    key: String,
    agent: String,
    held: Arc<Held>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut socket = common::realtime_socket(addr, &key, &agent).await;
    match tokio::time::timeout(Duration::from_secs(30), socket.next()).await {
        Ok(Some(Ok(Message::Text(text)))) if text.contains("session.created") => {}
        _ => {
            held.lost.fetch_add(1, Ordering::Relaxed);
            return;
        }
    }
    held.open.fetch_add(1, Ordering::Relaxed);
    hold_open(&mut socket, &held, &mut stop).await;
}

/// Reads (which answers pings) until the server closes or we are told to stop, then closes.
async fn hold_open<S>(socket: &mut S, held: &Held, stop: &mut tokio::sync::watch::Receiver<bool>)
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
        + futures::Sink<Message>
        + Unpin,
{
    loop {
        tokio::select! {
            _ = stop.changed() => {
                let _ = socket.send(Message::Close(None)).await;
                held.open.fetch_sub(1, Ordering::Relaxed);
                return;
            }
            frame = socket.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    if text.contains("\"next\"") {
                        held.results.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Some(Ok(_)) => {}
                _ => {
                    held.open.fetch_sub(1, Ordering::Relaxed);
                    held.lost.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
        }
    }
}

/// Latency of `n` queries from `concurrency` keep-alive clients, spread over the tenants' keys.
async fn query_latency(
    client: &reqwest::Client,
    addr: SocketAddr,
    keys: &[String],
    n: usize,
    concurrency: usize,
) -> String {
    let url = format!("http://{addr}/graphql");
    let body = json!({ "query": QUERY }).to_string();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = JoinSet::new();
    for _ in 0..concurrency {
        let (client, url, body, next, keys) = (
            client.clone(),
            url.clone(),
            body.clone(),
            next.clone(),
            keys.to_vec(),
        );
        workers.spawn(async move {
            let mut histogram = Histogram::<u64>::new(3).expect("histogram");
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return histogram;
                }
                let sent = Instant::now();
                let response = client
                    .post(&url)
                    .bearer_auth(&keys[i % keys.len()])
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .expect("request");
                assert!(response.status().is_success(), "{}", response.status());
                response.bytes().await.expect("body");
                histogram
                    .record(sent.elapsed().as_micros() as u64)
                    .expect("record");
            }
        });
    }
    let mut all = Histogram::<u64>::new(3).expect("histogram");
    while let Some(histogram) = workers.join_next().await {
        all.add(histogram.expect("worker")).expect("merge");
    }
    let ms = |us: u64| us as f64 / 1000.0;
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {:.0} queries/s",
        ms(all.value_at_quantile(0.5)),
        ms(all.value_at_quantile(0.99)),
        ms(all.max()),
        n as f64 / started.elapsed().as_secs_f64()
    )
}

/// Each tenant's key verified once (argon2id), so the latency runs measure serving, not first use.
async fn warm_up(client: &reqwest::Client, addr: SocketAddr, keys: &[String]) {
    for key in keys {
        let response = client
            .post(format!("http://{addr}/graphql"))
            .bearer_auth(key)
            .json(&json!({ "query": QUERY }))
            .send()
            .await
            .expect("request");
        assert!(response.status().is_success());
    }
}

async fn create_agent(addr: SocketAddr, key: &str) -> String {
    let body: Value = reqwest::Client::new()
        .post(format!("http://{addr}/graphql"))
        .bearer_auth(key)
        .json(&json!({ "query": "mutation { createAgent(input: {name: \"Idle\", config: {systemPrompt: \"Listen.\"}}) { id } }" }))
        .send()
        .await
        .expect("graphql")
        .json()
        .await
        .expect("json");
    body["data"]["createAgent"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("agent created: {body}"))
        .to_string()
}

/// The server's own counts: open GraphQL WebSockets and live calls (from /metrics).
async fn gauges(client: &reqwest::Client, addr: SocketAddr) -> (f64, f64) {
    let text = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let gauge = |name: &str| {
        text.lines()
            .find(|line| line.starts_with(name) && line[name.len()..].starts_with(' '))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    (
        gauge("voxedge_graphql_ws_connections"),
        gauge("voxedge_live_calls"),
    )
}

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|line| line.starts_with(field))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
