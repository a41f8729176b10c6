//! Billing at scale: `cargo bench --bench billing`.
//!
//! One tenant, its agents and calls, then prints:
//! - usage events ingested per second with the daily rollup maintained in the same transaction — in batches
//!   (the live recorder and imports write several per transaction) and one event per transaction;
//! - for a tenant with 1,000,000 usage events in one month: the time to compute the month's invoice (from the
//!   rollups), to close it into a stored draft, and to check the rollups against the whole ledger
//!   (`voxedge usage verify`);
//! - the load average (`/proc/loadavg`) before and after, since other work on the machine moves the figures,
//!   and the CPU time the process used for ingestion (events per CPU-second moves less with that load).
//!
//! Events are written in time order, as they are measured; the invoice is computed from the daily rollups,
//! so its time does not grow with the number of events.
//!
//! Settings: BENCH_USAGE_EVENTS (1000000), BENCH_USAGE_BATCH (1000), BENCH_SINGLE_EVENTS (5000).

use std::time::Instant;

use voxedge::app::Application;
use voxedge::billing::pricing::Month;
use voxedge::billing::{invoices, usage};
use voxedge::calls::{self, NewCall};
use voxedge::config::Config;
use voxedge::model::{Direction, Metric, NewUsage, Transport};
use voxedge::repo::usage::DAY_MS;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// CPU time (user + system) this process has used, in seconds: a figure other load on the machine moves less
/// than wall time.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may contain spaces): utime is the 12th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let total = env_or("BENCH_USAGE_EVENTS", 1_000_000) as usize;
    let batch = env_or("BENCH_USAGE_BATCH", 1_000).max(1) as usize;
    let singles = env_or("BENCH_SINGLE_EVENTS", 5_000) as usize;
    println!("load average before: {}", load_average());

    let dir = tempfile::tempdir()?;
    let mut config = Config::for_data_dir(dir.path());
    // The job must not close months while the benchmark measures.
    config.billing.job_interval = std::time::Duration::from_secs(86_400);
    let app = Application::build(config).await?;
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let record = voxedge::tenants::provision(&state.catalog, &state.tenants, "Bench", None).await?;
    let tenant = state.tenant(record.id).await?;
    let mut calls = Vec::new();
    for a in 0..10 {
        let config = voxedge::agents::AgentConfigInput {
            system_prompt: "You help.".into(),
            ..Default::default()
        };
        let saving = voxedge::agents::Saving {
            tenant: tenant.id,
            outbound: &state.config.outbound,
            secrets: &state.secrets,
        };
        let (agent, _) = voxedge::agents::create(
            &tenant.db,
            saving,
            "bench".into(),
            &format!("Agent {a}"),
            config,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        for _ in 0..10 {
            let call = calls::create(
                &tenant,
                NewCall {
                    agent_id: agent.id.clone(),
                    direction: Direction::Inbound,
                    transport: Transport::Web,
                    from: None,
                    to: None,
                    metadata: serde_json::json!({}),
                    variables: Default::default(),
                },
            )
            .await?;
            calls.push(call.id);
        }
    }

    // The month after this one, written as it would happen: in time order (the ledger is written as things are
    // measured), over every day, 100 calls of 10 agents and every metric.
    let month = Month::containing(state.billing.now()).next();
    let span = month.end_ms - month.start_ms;
    let count = (total + singles) as i64;
    let event = |i: usize| {
        let metric = Metric::ALL[i % Metric::ALL.len()];
        let at = month.start_ms + (i as i64) * span / count;
        (
            NewUsage::for_call(
                &calls[i % calls.len()],
                &format!("bench:{i}"),
                metric,
                (i % 997) as i64 + 1,
            ),
            at,
        )
    };

    let (started, cpu) = (Instant::now(), cpu_seconds());
    let mut i = 0;
    while i < total {
        let events: Vec<_> = (i..(i + batch).min(total)).map(event).collect();
        i += events.len();
        usage::ingest(&tenant, events).await?;
    }
    let (elapsed, cpu) = (started.elapsed(), cpu_seconds() - cpu);
    println!(
        "ingest, {batch} events per transaction: {total} events in {:.2} s = {:.0} events/s (rollup maintained); {:.2} CPU-s used by this process = {:.0} events per CPU-second",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        cpu,
        total as f64 / cpu,
    );

    let started = Instant::now();
    for j in 0..singles {
        usage::ingest(&tenant, vec![event(total + j)]).await?;
    }
    let elapsed = started.elapsed();
    println!(
        "ingest, 1 event per transaction: {singles} events in {:.2} s = {:.0} events/s",
        elapsed.as_secs_f64(),
        singles as f64 / elapsed.as_secs_f64()
    );

    let rollups = tenant
        .db
        .read(|conn| {
            conn.query_row("select count(*) from usage_daily", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(voxedge::db::StorageError::from)
        })
        .await?;
    let mut times = Vec::new();
    let mut computed = None;
    for _ in 0..20 {
        let started = Instant::now();
        computed = Some(invoices::compute(&state.billing, &tenant, month, month.end_day()).await?);
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let computed = computed.expect("computed");
    println!(
        "invoice of a month with {} usage events ({rollups} rollup rows): computed in {:.2} ms (median of 20; min {:.2}, max {:.2}), {} lines, total {} {}",
        total + singles,
        times[10],
        times[0],
        times[19],
        computed.lines.len(),
        computed.total,
        computed.currency,
    );

    let advance = month.end_ms + DAY_MS - state.billing.now();
    state
        .clock
        .advance(std::time::Duration::from_millis(advance as u64));
    let started = Instant::now();
    let draft = invoices::close_month(&state.billing, &tenant, month).await?;
    println!(
        "closing the month into a stored draft: {:.2} ms (invoice {})",
        started.elapsed().as_secs_f64() * 1000.0,
        draft.map_or_else(|| "none".into(), |d| d.number)
    );

    let started = Instant::now();
    let mismatches = tenant.db.read(voxedge::repo::usage::verify).await?;
    println!(
        "rollups checked against the whole ledger: {:.2} s, {} differences",
        started.elapsed().as_secs_f64(),
        mismatches.len()
    );
    println!("load average after: {}", load_average());
    Ok(())
}
