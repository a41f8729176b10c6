//! STT latency: `cargo bench --bench stt`.
//!
//! For 2 s, 5 s and 10 s utterances cut from jfk.wav: p50/p95 latency of `SpeechToText::transcribe` (through the
//! inference pool), the real-time factor, and the same audio through bare whisper-rs (`WhisperState::full` with the
//! same parameters on the calling thread, no pool) to show what the pool costs. Bare and pooled runs alternate so
//! that drift (thermal, other load) hits both alike.

#[path = "voice_common/mod.rs"]
mod common;

use std::time::Instant;

use voxedge::voice::stt::{SpeechToText, SttOptions};

const CASES: [(f32, usize); 3] = [(2.0, 20), (5.0, 12), (10.0, 8)];

fn main() {
    let dir = common::models_dir();
    let jfk = common::jfk(&dir);
    let options = SttOptions::for_machine();
    let stt =
        SpeechToText::load(&dir.join("ggml-tiny.en.bin"), options).expect("whisper model loads");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let settings = stt.settings();
    let mut bare_state = stt.context().create_state().expect("whisper state");

    println!(
        "STT benchmark: whisper tiny.en, {} worker(s) x {} thread(s), settings {settings:?}",
        options.workers, settings.threads
    );
    println!();
    println!(
        "{:>9} {:>5} | {:>9} {:>9} {:>6} | {:>9} {:>9} | {:>8}",
        "utterance", "runs", "p50 ms", "p95 ms", "RTF", "bare p50", "bare p95", "overhead"
    );
    println!("{}", "-".repeat(84));
    for (seconds, runs) in CASES {
        let clip = jfk[..(seconds * 16_000.0) as usize].to_vec();
        // Warm-up: first runs allocate buffers in both paths.
        rt.block_on(stt.transcribe(clip.clone()))
            .expect("transcription");
        bare_state
            .full(settings.full_params(clip.len()), &clip)
            .expect("bare whisper");

        let (mut pooled, mut bare) = (Vec::new(), Vec::new());
        let mut text = String::new();
        for _ in 0..runs {
            let t = Instant::now();
            bare_state
                .full(settings.full_params(clip.len()), &clip)
                .expect("bare whisper");
            bare.push(t.elapsed());

            let t = Instant::now();
            let out = rt
                .block_on(stt.transcribe(clip.clone()))
                .expect("transcription");
            pooled.push(t.elapsed());
            text = out.text;
        }
        let (p50, p95) = (
            common::percentile(&pooled, 50.0),
            common::percentile(&pooled, 95.0),
        );
        let (b50, b95) = (
            common::percentile(&bare, 50.0),
            common::percentile(&bare, 95.0),
        );
        println!(
            "{:>8.0}s {:>5} | {:>9} {:>9} {:>6.3} | {:>9} {:>9} | {:>7.3}x",
            seconds,
            runs,
            common::ms(p50),
            common::ms(p95),
            p50.as_secs_f64() / f64::from(seconds),
            common::ms(b50),
            common::ms(b95),
            p50.as_secs_f64() / b50.as_secs_f64().max(1e-9),
        );
        eprintln!("  {seconds} s -> {text:?}");
    }
    println!();
    println!("RTF = p50 latency / audio length; overhead = transcribe p50 / bare full() p50.");
}
