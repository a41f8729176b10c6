//! ONNX engines: `cargo bench --bench voice_onnx`.
//!
//! Silero VAD: time per 32 ms window through the VAD pool (what every call pays 31 times a second).
//! Piper TTS: time to synthesise a short and a long sentence, and the real-time factor, with 1 and 2 ONNX
//! Runtime threads per synthesis.

#[path = "voice_common/mod.rs"]
mod common;

use std::time::Instant;

use voxedge::voice::runtime::ort_environment;
use voxedge::voice::tts::{TextToSpeech, TtsOptions};
use voxedge::voice::vad::{SileroVad, VAD_WINDOW, VadOptions, VadStream};

const SHORT: &str = "Sure, I can help with that.";
const LONG: &str = "Your appointment with Doctor Smith is confirmed for Tuesday at three thirty in the afternoon, \
                    and you will get a reminder by text message the day before.";

fn main() {
    let dir = common::models_dir();
    let env = ort_environment(&common::ort_dylib()).expect("ONNX Runtime loads");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");

    let vad = SileroVad::load(&env, &dir.join("silero_vad.onnx"), VadOptions::default())
        .expect("VAD loads");
    let jfk = common::jfk(&dir);
    let mut stream = VadStream::new();
    let mut per_window = Vec::new();
    for _ in 0..3 {
        for window in jfk.chunks_exact(VAD_WINDOW) {
            let t = Instant::now();
            rt.block_on(vad.process(&mut stream, window))
                .expect("VAD runs");
            per_window.push(t.elapsed());
        }
    }
    println!(
        "Silero VAD, {} windows of 32 ms through the pool:",
        per_window.len()
    );
    println!(
        "  p50 {} ms, p95 {} ms, p99 {} ms per window",
        common::ms(common::percentile(&per_window, 50.0)),
        common::ms(common::percentile(&per_window, 95.0)),
        common::ms(common::percentile(&per_window, 99.0)),
    );
    println!();

    println!("Piper TTS (en_US-joe-medium, 22.05 kHz), median of 5 runs:");
    println!(
        "{:>8} {:>6} | {:>8} {:>9} {:>6}",
        "threads", "text", "audio s", "p50 ms", "RTF"
    );
    println!("{}", "-".repeat(46));
    for threads in [1, 2] {
        let options = TtsOptions {
            workers: 1,
            intra_threads: threads,
            ..TtsOptions::default()
        };
        let tts = TextToSpeech::load(&env, &dir.join("en_US-joe-medium.onnx"), options)
            .expect("voice loads");
        for (label, text) in [("short", SHORT), ("long", LONG)] {
            rt.block_on(tts.synthesize(text, 1.0)).expect("synthesis"); // warm-up
            let mut times = Vec::new();
            let mut seconds = 0.0;
            for _ in 0..5 {
                let t = Instant::now();
                let out = rt.block_on(tts.synthesize(text, 1.0)).expect("synthesis");
                times.push(t.elapsed());
                seconds = out.samples.len() as f64 / f64::from(out.sample_rate);
            }
            let p50 = common::percentile(&times, 50.0);
            println!(
                "{threads:>8} {label:>6} | {seconds:>8.2} {:>9} {:>6.3}",
                common::ms(p50),
                p50.as_secs_f64() / seconds
            );
        }
    }
}
