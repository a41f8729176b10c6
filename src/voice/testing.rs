//! Test fixtures: where the real models and the ONNX Runtime library are.
//!
//! Model-backed tests fail loudly when a file is missing instead of skipping: CI must never pass without having
//! exercised the models.

use std::path::{Path, PathBuf};

use crate::audio::{AudioFrame, wav};

fn from_env_or(var: &str, default: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    match std::env::var_os(var).filter(|v| !v.is_empty()) {
        Some(v) => root.join(PathBuf::from(v)),
        None => root.join(default),
    }
}

/// `VOXEDGE_TEST_MODELS_DIR`, else `../shared/models` from the project root.
pub fn models_dir() -> PathBuf {
    let dir = from_env_or("VOXEDGE_TEST_MODELS_DIR", "../shared/models");
    assert!(
        dir.is_dir(),
        "voice model directory {} not found: set VOXEDGE_TEST_MODELS_DIR",
        dir.display()
    );
    dir
}

/// A file in the models directory; panics when it is missing.
pub fn model(name: &str) -> PathBuf {
    let path = models_dir().join(name);
    assert!(
        path.is_file(),
        "model file {} not found (VOXEDGE_TEST_MODELS_DIR)",
        path.display()
    );
    path
}

/// `VOXEDGE_ORT_DYLIB`, else `.cache/onnxruntime/libonnxruntime.so`; panics when it is missing.
pub fn ort_dylib() -> PathBuf {
    let path = from_env_or("VOXEDGE_ORT_DYLIB", ".cache/onnxruntime/libonnxruntime.so");
    assert!(
        path.is_file(),
        "ONNX Runtime library {} not found: run scripts/fetch-voice-runtime or set VOXEDGE_ORT_DYLIB",
        path.display()
    );
    path
}

/// The ONNX Runtime environment for tests.
pub fn ort_env() -> ort::environment::Environment {
    super::runtime::ort_environment(&ort_dylib()).expect("ONNX Runtime loads")
}

/// jfk.wav: 11 s of speech, 16 kHz mono.
pub fn jfk() -> AudioFrame {
    let frame = wav::read_wav(model("jfk.wav")).expect("jfk.wav is a valid wav");
    assert_eq!(frame.sample_rate, 16_000);
    frame
}

/// Lower-case letters, digits and single spaces only: for comparing transcripts.
pub fn normalise(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                ' '
            }
        })
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}
