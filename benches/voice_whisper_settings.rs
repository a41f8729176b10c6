//! Which whisper.cpp settings suit short voice turns: `cargo bench --bench voice_whisper_settings`.
//!
//! Runs jfk.wav and slices of it through `transcribe_blocking` (whisper-rs on this thread, no pool, including the
//! token-cap guard) under several `DecodeSettings` and prints the median time of 3 runs, the word error rate and
//! how many of the runs hit the token cap and were redone with the full context. The full clip is scored against its known text; slices are scored
//! against what whisper.cpp's own defaults (30 s context, timestamps, temperature fallback) make of the same slice,
//! since a cut can fall inside a word. The figures are quoted in `src/voice/stt.rs`.

#[path = "voice_common/mod.rs"]
mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use voxedge::audio::StreamResampler;
use voxedge::voice::runtime::ort_environment;
use voxedge::voice::tts::{TextToSpeech, TtsOptions};

use voxedge::voice::stt::{DecodeSettings, transcribe_blocking};
use whisper_rs::{WhisperContext, WhisperContextParameters, WhisperState};

const REFERENCE: &str = "And so my fellow Americans ask not what your country can do for you ask what you can do for your country";
const RUNS: usize = 3;

/// Time, text, whether the guard retried.
fn transcribe(
    state: &mut WhisperState,
    eot: i32,
    settings: &DecodeSettings,
    clip: &[f32],
) -> (Duration, String, bool) {
    let t = Instant::now();
    let out = transcribe_blocking(state, eot, settings, clip.to_vec()).expect("whisper runs");
    (t.elapsed(), out.text, out.retried_full_context)
}

fn main() {
    // `-- turns` runs only the short-turn table.
    let only_turns = std::env::args().any(|a| a == "turns");
    let dir = common::models_dir();
    let jfk = common::jfk(&dir);
    let model = dir.join("ggml-tiny.en.bin");
    let ctx = WhisperContext::new_with_params(&model, WhisperContextParameters::default())
        .expect("model loads");
    let mut flash_params = WhisperContextParameters::default();
    flash_params.flash_attn(true);
    let flash_ctx = WhisperContext::new_with_params(&model, flash_params).expect("model loads");
    let mut state = ctx.create_state().expect("state");
    let mut flash_state = flash_ctx.create_state().expect("state");

    let eot = ctx.token_eot();
    let clips: [(&str, &[f32]); 5] = [
        ("0-1s", &jfk[..16_000]),
        ("0-2s", &jfk[..32_000]),
        ("0-5s", &jfk[..80_000]),
        ("3-8s", &jfk[48_000..128_000]),
        ("0-11s", &jfk[..]),
    ];
    let defaults = DecodeSettings::whisper_defaults(2);
    let tuned = DecodeSettings::tuned(2);
    // The chosen settings minus their guards, to show what each guard is for.
    let no_min = DecodeSettings {
        min_audio_ctx: 0,
        ..tuned
    };
    let unguarded = DecodeSettings {
        max_tokens_per_second: 0,
        ..no_min
    };
    let configs: Vec<(&str, DecodeSettings, bool)> = vec![
        ("whisper.cpp defaults", defaults, false),
        (
            "defaults + no ts, single segment",
            DecodeSettings {
                no_timestamps: true,
                single_segment: true,
                ..defaults
            },
            false,
        ),
        ("+ greedy, no fallback, ctx fit+64", unguarded, false),
        ("+ token cap / full-ctx retry", no_min, false),
        ("+ ctx at least 768 (chosen)", tuned, false),
        (
            "  chosen, 1 thread",
            DecodeSettings {
                threads: 1,
                ..tuned
            },
            false,
        ),
        ("  chosen + flash attention", tuned, true),
    ];

    if only_turns {
        short_turns(&dir, eot, &mut state, &mut flash_state);
        return;
    }
    // Slice references: what the defaults make of each slice.
    let references: Vec<String> = clips
        .iter()
        .map(|(name, clip)| {
            if *name == "0-11s" {
                REFERENCE.to_string()
            } else {
                transcribe(&mut state, eot, &defaults, clip).1
            }
        })
        .collect();

    println!("cell: median ms / WER % / runs redone with full context (of {RUNS})");
    print!("{:<34}", "settings");
    for (name, _) in &clips {
        print!(" | {name:>16}");
    }
    println!();
    println!("{}", "-".repeat(34 + clips.len() * 19));
    for (label, settings, flash) in &configs {
        print!("{label:<34}");
        for ((_, clip), reference) in clips.iter().zip(&references) {
            let st = if *flash { &mut flash_state } else { &mut state };
            transcribe(st, eot, settings, clip); // warm-up
            let mut times = Vec::new();
            let mut text = String::new();
            let mut retries = 0;
            for _ in 0..RUNS {
                let (t, out, retried) = transcribe(st, eot, settings, clip);
                times.push(t);
                text = out;
                retries += usize::from(retried);
            }
            let wer = common::wer(reference, &text);
            let cell = format!(
                "{}/{:.0}/{retries}",
                common::ms(common::percentile(&times, 50.0)),
                wer * 100.0
            );
            print!(" | {cell:>16}");
            eprintln!("  [{label}] {text:?}");
        }
        println!();
    }
    println!();
    for ((name, _), reference) in clips.iter().zip(&references) {
        println!("reference {name}: {reference:?}");
    }
    println!();
    short_turns(&dir, eot, &mut state, &mut flash_state);
}

/// Short conversational turns as the turn detector delivers them: Piper speaks each phrase, the audio is
/// resampled to 16 kHz and framed with 300 ms of silence before and 500 ms after.
fn short_turns(dir: &Path, eot: i32, state: &mut WhisperState, flash_state: &mut WhisperState) {
    let env = ort_environment(&common::ort_dylib()).expect("ONNX Runtime loads");
    let tts = TextToSpeech::load(
        &env,
        &dir.join("en_US-joe-medium.onnx"),
        TtsOptions::default(),
    )
    .expect("Piper voice loads");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let turns: Vec<(&str, Vec<f32>)> = PHRASES
        .iter()
        .map(|&text| {
            let spoken = rt.block_on(tts.synthesize(text, 1.0)).expect("synthesis");
            let audio = StreamResampler::process_all(spoken.sample_rate, 16_000, &spoken.samples)
                .expect("supported rates");
            let framed = [vec![0.0; 4_800], audio, vec![0.0; 8_000]].concat();
            (text, framed)
        })
        .collect();
    let seconds: Vec<f64> = turns
        .iter()
        .map(|(_, a)| a.len() as f64 / 16_000.0)
        .collect();
    println!(
        "{} short turns ({:.1}-{:.1} s with padding), one run each after a warm-up:",
        turns.len(),
        seconds.iter().cloned().fold(f64::MAX, f64::min),
        seconds.iter().cloned().fold(0.0, f64::max)
    );
    println!(
        "{:<34} | {:>7} {:>7} {:>7} | {:>6} | {:>7}",
        "settings", "p50 ms", "p95 ms", "max ms", "WER %", "retries"
    );
    println!("{}", "-".repeat(80));
    let defaults = DecodeSettings::whisper_defaults(2);
    let tuned = DecodeSettings::tuned(2);
    let with = |f: &dyn Fn(&mut DecodeSettings)| {
        let mut d = tuned;
        f(&mut d);
        d
    };
    let configs: Vec<(&str, DecodeSettings, bool)> = vec![
        ("whisper.cpp defaults", defaults, false),
        (
            "ctx fit+64, cap/retry, no minimum",
            with(&|d| d.min_audio_ctx = 0),
            false,
        ),
        (
            "  same, fit+128",
            with(&|d| {
                d.min_audio_ctx = 0;
                d.audio_ctx_margin = 128;
            }),
            false,
        ),
        (
            "  same, timestamps on",
            with(&|d| {
                d.min_audio_ctx = 0;
                d.no_timestamps = false;
            }),
            false,
        ),
        ("  at least 384", with(&|d| d.min_audio_ctx = 384), false),
        ("ctx at least 768 (chosen)", tuned, false),
        ("  chosen + flash attention", tuned, true),
    ];
    for (label, settings, flash) in configs {
        let st: &mut WhisperState = if flash {
            &mut *flash_state
        } else {
            &mut *state
        };
        transcribe(st, eot, &settings, &turns[0].1);
        let (mut times, mut errors, mut words, mut retries) = (Vec::new(), 0.0, 0usize, 0);
        for (text, audio) in &turns {
            let (t, heard, retried) = transcribe(st, eot, &settings, audio);
            times.push(t);
            let n = common::words(text).len();
            errors += common::wer(text, &heard) * n as f64;
            words += n;
            retries += usize::from(retried);
            eprintln!("  [{label}] {text:?} -> {heard:?}");
        }
        println!(
            "{label:<34} | {:>7} {:>7} {:>7} | {:>6.1} | {:>4}/{}",
            common::ms(common::percentile(&times, 50.0)),
            common::ms(common::percentile(&times, 95.0)),
            common::ms(common::percentile(&times, 100.0)),
            100.0 * errors / words as f64,
            retries,
            turns.len()
        );
    }
}

const PHRASES: [&str; 12] = [
    "Yes.",
    "No, thanks.",
    "Okay.",
    "Hello?",
    "Can you hear me?",
    "What time is it?",
    "I'd like to book a table for two.",
    "My account number is four five six.",
    "Please cancel my order.",
    "Thank you, goodbye.",
    "Sorry, could you repeat that?",
    "I need to change my delivery address to Main Street.",
];
