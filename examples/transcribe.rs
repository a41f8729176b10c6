//! Transcribes a WAV file with a Whisper GGML model through whisper-rs, the same whisper.cpp voxedge links:
//! a quick check that a model file (e.g. one `scripts/fetch-models` made) loads and recognises speech.
//!
//! ```sh
//! cargo run --release --example transcribe -- MODEL.bin AUDIO.wav [LANGUAGE|auto]
//! ```
//!
//! AUDIO must be 16 kHz mono PCM16 (`sox in.wav -r 16000 -c 1 -b 16 out.wav`). LANGUAGE defaults to `auto`
//! (detected by multilingual models; English-only ones always use `en`). Prints the language, the text and the
//! timings.

use std::process::ExitCode;
use std::time::Instant;

use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (model, wav, language) = match args.as_slice() {
        [model, wav] => (model, wav, "auto"),
        [model, wav, language] => (model, wav, language.as_str()),
        _ => {
            eprintln!("usage: transcribe MODEL.bin AUDIO.wav [LANGUAGE|auto]");
            return ExitCode::from(2);
        }
    };
    match run(model, wav, language) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("transcribe: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(model: &str, wav: &str, language: &str) -> Result<(), String> {
    let samples = read_wav(wav)?;
    whisper_rs::install_logging_hooks(); // whisper.cpp's own logging would flood stderr

    let started = Instant::now();
    let ctx = WhisperContext::new_with_params(model, WhisperContextParameters::default())
        .map_err(|e| format!("cannot load {model}: {e}"))?;
    let loaded = started.elapsed();
    let mut state = ctx.create_state().map_err(|e| e.to_string())?;

    // English-only models know no other language, and detection on them means nothing.
    let language = if ctx.is_multilingual() {
        language
    } else {
        "en"
    };
    let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
    params.set_language(Some(language));
    params.set_n_threads(std::thread::available_parallelism().map_or(1, |n| n.get() as i32));
    params.set_print_progress(false);
    params.set_print_realtime(false);
    params.set_print_special(false);
    params.set_print_timestamps(false);

    let started = Instant::now();
    state.full(params, &samples).map_err(|e| e.to_string())?;
    let took = started.elapsed();
    let mut text = String::new();
    for segment in state.as_iter() {
        text.push_str(&segment.to_str_lossy().map_err(|e| e.to_string())?);
    }
    let detected = match language {
        "auto" => whisper_rs::get_lang_str(state.full_lang_id_from_state()).unwrap_or("?"),
        given => given,
    };
    println!(
        "model:    {model} (multilingual: {})",
        ctx.is_multilingual()
    );
    println!("audio:    {wav} ({:.1} s)", samples.len() as f64 / 16_000.0);
    println!("language: {detected}");
    println!("text:     {}", text.trim());
    println!(
        "timing:   load {} ms, transcribe {} ms",
        loaded.as_millis(),
        took.as_millis()
    );
    Ok(())
}

fn read_wav(path: &str) -> Result<Vec<f32>, String> {
    let mut reader =
        hound::WavReader::open(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let spec = reader.spec();
    if spec.sample_rate != 16_000 || spec.channels != 1 || spec.bits_per_sample != 16 {
        return Err(format!(
            "{path} is {} Hz, {} channel(s), {} bit: convert it to 16 kHz mono PCM16 (sox)",
            spec.sample_rate, spec.channels, spec.bits_per_sample
        ));
    }
    reader
        .samples::<i16>()
        .map(|s| {
            s.map(|v| f32::from(v) / 32_768.0)
                .map_err(|e| e.to_string())
        })
        .collect()
}
