//! Fixtures shared by the voice benchmarks: model paths (same variables as the tests) and small statistics.

// Each benchmark uses a subset of these helpers.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use voxedge::audio::wav;
use voxedge::model::Role;
use voxedge::state::AppState;

/// `VOXEDGE_TEST_MODELS_DIR` (relative to the project root), else `../shared/models`; exits when missing.
pub fn models_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = match std::env::var_os("VOXEDGE_TEST_MODELS_DIR").filter(|v| !v.is_empty()) {
        Some(v) => root.join(PathBuf::from(v)),
        None => root.join("../shared/models"),
    };
    if !dir.join("ggml-tiny.en.bin").is_file() || !dir.join("jfk.wav").is_file() {
        eprintln!(
            "models not found in {}: set VOXEDGE_TEST_MODELS_DIR",
            dir.display()
        );
        std::process::exit(2);
    }
    dir
}

/// `VOXEDGE_ORT_DYLIB` (relative to the project root), else `.cache/onnxruntime/libonnxruntime.so`; exits when
/// missing.
pub fn ort_dylib() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = match std::env::var_os("VOXEDGE_ORT_DYLIB").filter(|v| !v.is_empty()) {
        Some(v) => root.join(PathBuf::from(v)),
        None => root.join(".cache/onnxruntime/libonnxruntime.so"),
    };
    if !path.is_file() {
        eprintln!(
            "{} not found: run scripts/fetch-voice-runtime or set VOXEDGE_ORT_DYLIB",
            path.display()
        );
        std::process::exit(2);
    }
    path
}

/// jfk.wav as 16 kHz samples.
pub fn jfk(dir: &Path) -> Vec<f32> {
    let frame = wav::read_wav(dir.join("jfk.wav")).expect("jfk.wav is a valid wav");
    assert_eq!(frame.sample_rate, 16_000);
    frame.samples
}

/// Nearest-rank percentile (`p` in 0..=100) of unsorted durations.
pub fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Lower-case words without punctuation.
pub fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric())
                .collect::<String>()
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// Word error rate of `hypothesis` against `reference` (word-level Levenshtein / reference length).
pub fn wer(reference: &str, hypothesis: &str) -> f64 {
    let (r, h) = (words(reference), words(hypothesis));
    if r.is_empty() {
        return if h.is_empty() { 0.0 } else { 1.0 };
    }
    let mut prev: Vec<usize> = (0..=h.len()).collect();
    for (i, rw) in r.iter().enumerate() {
        let mut cur = vec![i + 1; h.len() + 1];
        for (j, hw) in h.iter().enumerate() {
            let sub = prev[j] + usize::from(rw != hw);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[h.len()] as f64 / r.len() as f64
}

/// Milliseconds with one decimal.
pub fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// A new tenant on the running server, on the Enterprise plan (the free plan's two calls at once and its
/// minutes would cap the concurrency sweeps), and an owner API key for it.
pub async fn owner_key(state: &AppState) -> String {
    let tenant = voxedge::tenants::provision(&state.catalog, &state.tenants, "Bench", None)
        .await
        .expect("tenant");
    voxedge::billing::plans::change(
        &state.billing,
        tenant.id,
        voxedge::billing::plans::PlanChange::by_operator("enterprise"),
    )
    .await
    .expect("plan assigned");
    let db = state.tenants.get(tenant.id).await.expect("tenant db");
    voxedge::auth::keys::create(
        &db,
        tenant.id,
        Role::Owner,
        "bench".into(),
        voxedge::auth::keys::NewApiKey {
            name: "bench".into(),
            role: Role::Owner,
            expires_at: None,
        },
    )
    .await
    .expect("key")
    .key
}

/// Opens a Realtime call to `agent` on the server at `addr`, authenticated with the API key `key`.
pub async fn realtime_socket(
    addr: SocketAddr,
    key: &str,
    agent: &str,
) -> WebSocketStream<MaybeTlsStream<TcpStream>> {
    let mut request = format!("ws://{addr}/v1/realtime?agent={agent}")
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {key}")).expect("header"),
    );
    let (socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connects");
    socket
}
