//! GraphQL API benchmark: `cargo bench --bench graphql`.
//!
//! Prints
//! 1. throughput and latency (p50/p99/p99.9) of an authenticated GraphQL query over keep-alive HTTP/1.1
//!    connections, with N concurrent clients against one tenant;
//! 2. the latency of the first request to a cold tenant (database closed, key not cached): open +
//!    migrate check + argon2id key verification + query, compared with a warm request to the same tenant.
//!
//! The server runs in-process on 127.0.0.1:0 with a temporary data directory; the load generator shares
//! the machine's cores with it, so figures are a floor for what a dedicated server does.
//! Settings: BENCH_SECS (default 10), BENCH_CONCURRENCY (default 32), BENCH_COLD_TENANTS (default 200).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::json;
use voxedge::app::Application;
use voxedge::auth::keys;
use voxedge::config::Config;
use voxedge::model::Role;

const QUERY: &str = "{ viewer { role tenant { id name createdAt } } }";

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

    println!(
        "voxedge GraphQL benchmark ({} cores, release build)",
        std::thread::available_parallelism()?.get()
    );
    println!("query: {QUERY}");
    println!();

    // 1. Keep-alive throughput and latency.
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (url, key) = (url.clone(), hot_key.clone());
        workers.spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .http1_only()
                .build()
                .expect("client");
            let mut histogram = Histogram::<u64>::new(3).expect("histogram");
            let body = json!({ "query": QUERY }).to_string();
            while Instant::now() < deadline {
                let started = Instant::now();
                let response = client
                    .post(&url)
                    .bearer_auth(key.as_str())
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .expect("request");
                assert!(response.status().is_success());
                response.bytes().await.expect("body");
                histogram
                    .record(started.elapsed().as_micros() as u64)
                    .expect("record");
            }
            histogram
        });
    }
    let mut total = Histogram::<u64>::new(3)?;
    while let Some(histogram) = workers.join_next().await {
        total.add(histogram?)?;
    }
    println!("keep-alive authenticated query, {concurrency} connections, {secs} s:");
    println!("  requests      {}", total.len());
    println!(
        "  throughput    {:.0} req/s",
        total.len() as f64 / secs as f64
    );
    print_latency(&total);
    println!();

    // 2. First request to a cold tenant.
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
    println!("second request to the same tenant (warm):");
    print_latency(&warm);
    Ok(())
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
