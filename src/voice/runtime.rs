//! ONNX Runtime, loaded dynamically once per process.
//!
//! `ort` is built with `load-dynamic`: nothing is linked at build time, and the shared library
//! (`libonnxruntime.so`, ≥ 1.31; `scripts/fetch-voice-runtime` fetches it) is opened at start-up from the path in
//! [`ORT_DYLIB_SETTING`], falling back to `ORT_DYLIB_PATH`. Loading is explicit so a missing library is a clear
//! status on `/readyz` instead of `ort`'s implicit loader panicking on first use.
//!
//! The dylib can only be loaded once per process, so the first successful load wins; asking for a different path
//! later is an error rather than a silent mismatch.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::environment::Environment;
use ort::session::Session;

use super::{ModelKind, VoiceError};

/// Configuration setting (environment variable) naming the ONNX Runtime shared library.
pub const ORT_DYLIB_SETTING: &str = "VOXEDGE_ORT_DYLIB";
/// The variable `ort` itself reads; honoured when [`ORT_DYLIB_SETTING`] is unset.
pub const ORT_DYLIB_FALLBACK: &str = "ORT_DYLIB_PATH";

/// The process-wide runtime: the path it was loaded from and its environment.
static RUNTIME: Mutex<Option<(PathBuf, Environment)>> = Mutex::new(None);

/// The library path to use: `configured` (from [`ORT_DYLIB_SETTING`]) if given, else `ORT_DYLIB_PATH` from the
/// process environment.
pub fn resolve_dylib_path(configured: Option<&Path>) -> Option<PathBuf> {
    configured.map(Path::to_path_buf).or_else(|| {
        std::env::var_os(ORT_DYLIB_FALLBACK)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
}

/// Loads ONNX Runtime from `path` (once per process) and returns the shared environment sessions are built in.
/// Blocking (dlopen); call it at start-up.
pub fn ort_environment(path: &Path) -> Result<Environment, VoiceError> {
    let mut slot = RUNTIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let wanted = std::fs::canonicalize(path).map_err(|_| VoiceError::ModelMissing {
        model: ModelKind::OnnxRuntime,
        setting: ORT_DYLIB_SETTING,
        path: Some(path.to_path_buf()),
    })?;
    if let Some((loaded, env)) = slot.as_ref() {
        if *loaded == wanted {
            return Ok(env.clone());
        }
        return Err(VoiceError::ModelFailed {
            model: ModelKind::OnnxRuntime,
            path: path.to_path_buf(),
            reason: format!(
                "ONNX Runtime is already loaded from {} in this process; restart to change {ORT_DYLIB_SETTING}",
                loaded.display()
            ),
        });
    }
    // Loading the library and building the environment fail with different `ort` error types; both are the
    // runtime failing to load.
    let env = || -> Result<Environment, Box<dyn std::error::Error>> {
        Ok(ort::init_from(&wanted)?.with_name("voxedge").build()?)
    };
    let env = env().map_err(|e| VoiceError::ModelFailed {
        model: ModelKind::OnnxRuntime,
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    tracing::info!(path = %wanted.display(), "ONNX Runtime loaded");
    *slot = Some((wanted, env.clone()));
    Ok(env)
}

/// The environment if ONNX Runtime has been loaded in this process.
pub fn loaded_environment() -> Option<Environment> {
    let slot = RUNTIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    slot.as_ref().map(|(_, env)| env.clone())
}

/// Builds a CPU session for the model at `path` with `intra_threads` threads inside operators.
///
/// Intra-op spinning is off: idle ONNX threads would otherwise busy-wait after every run and steal CPU from
/// whisper and the HTTP server on small machines.
///
/// Blocking. `ort`'s builder errors carry the builder (not `Send`), so they are flattened to text here.
pub(crate) fn build_session(
    env: &Environment,
    model: ModelKind,
    path: &Path,
    intra_threads: usize,
) -> Result<Session, VoiceError> {
    let failed = |reason: String| VoiceError::ModelFailed {
        model,
        path: path.to_path_buf(),
        reason,
    };
    let session = || -> ort::Result<Session> {
        Session::builder(env)?
            .with_intra_threads(intra_threads.max(1))?
            .with_inter_threads(1)?
            .with_intra_op_spinning(false)?
            .commit_from_file(path)
    };
    session().map_err(|e| failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::testing;

    #[test]
    fn missing_library_names_the_setting() {
        let err =
            ort_environment(Path::new("/nonexistent/libonnxruntime.so")).expect_err("no such file");
        assert!(matches!(
            err,
            VoiceError::ModelMissing {
                setting: ORT_DYLIB_SETTING,
                ..
            }
        ));
        assert!(err.to_string().contains(ORT_DYLIB_SETTING));
    }

    #[test]
    fn loads_once_and_refuses_a_second_library() {
        let path = testing::ort_dylib();
        let env = ort_environment(&path).expect("ONNX Runtime loads");
        drop(env);
        // Same path (even spelled differently): same runtime.
        ort_environment(&path).expect("same path is fine");
        assert!(loaded_environment().is_some());
        // A different, existing library file is refused.
        let other = testing::models_dir().join("silero_vad.onnx");
        let err = ort_environment(&other).expect_err("different path refused");
        assert!(err.to_string().contains("already loaded"), "{err}");
    }

    #[test]
    fn configured_path_wins_over_fallback() {
        let p = resolve_dylib_path(Some(Path::new("/opt/ort.so")));
        assert_eq!(p, Some(PathBuf::from("/opt/ort.so")));
    }
}
