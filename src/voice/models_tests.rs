use super::*;
use crate::error::Reportable as _;
use crate::voice::testing;
use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    voice: VoiceConfig,
}

#[test]
fn clap_defaults_match_default_and_flags_override() {
    let parsed = Cli::try_parse_from(["voxedge"])
        .expect("defaults parse")
        .voice;
    let defaults = VoiceConfig::default();
    // Environment variables may be set where tests run (CI sets VOXEDGE_ORT_DYLIB); compare what they do not touch.
    if std::env::var_os(MODELS_DIR_SETTING).is_none() {
        assert_eq!(parsed.models_dir, defaults.models_dir);
    }
    if std::env::var_os(STT_MODEL_SETTING).is_none() {
        assert_eq!(parsed.stt_model, defaults.stt_model);
    }
    let cli = Cli::try_parse_from(["voxedge", "--models-dir", "/m", "--tts-model", "v.onnx"])
        .expect("flags parse");
    assert_eq!(
        cli.voice.model_path(&cli.voice.tts_model),
        PathBuf::from("/m/v.onnx")
    );
}

#[test]
fn starts_without_models_and_refuses_calls_naming_the_setting() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = VoiceConfig {
        ort_dylib: Some(dir.path().join("libonnxruntime.so")),
        ..VoiceConfig::in_dir(dir.path())
    };
    let models = VoiceModels::load(&config, VoiceOptions::default());
    let status = models.status();
    assert!(!status.ready());
    assert_eq!(
        status.stt,
        ModelStatus::Missing {
            setting: STT_MODEL_SETTING,
            path: Some(dir.path().join("ggml-tiny.en.bin")),
        }
    );
    assert!(matches!(
        status.onnx_runtime,
        ModelStatus::Missing {
            setting: ORT_DYLIB_SETTING,
            ..
        }
    ));
    assert!(matches!(
        status.vad,
        ModelStatus::Missing {
            setting: ORT_DYLIB_SETTING,
            ..
        }
    ));

    let Err(err) = models.stt() else {
        panic!("no STT model")
    };
    assert_eq!(err.code().wire(), "voice_model_missing");
    assert!(err.to_string().contains(STT_MODEL_SETTING), "{err}");
    let Err(err) = models.tts() else {
        panic!("no runtime")
    };
    assert!(err.to_string().contains(ORT_DYLIB_SETTING), "{err}");

    let json = serde_json::to_value(status).expect("serialisable");
    assert_eq!(json["stt"]["status"], "missing");
    assert_eq!(json["stt"]["setting"], STT_MODEL_SETTING);
    assert_eq!(json["onnx_runtime"]["status"], "missing");
}

#[test]
fn broken_model_is_reported_as_failed() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("ggml-tiny.en.bin"), b"not a model").expect("write temp file");
    std::fs::write(dir.path().join("silero_vad.onnx"), b"not a model").expect("write temp file");
    let config = VoiceConfig {
        ort_dylib: Some(testing::ort_dylib()),
        ..VoiceConfig::in_dir(dir.path())
    };
    let models = VoiceModels::load(&config, VoiceOptions::default());
    assert!(models.status().onnx_runtime.is_loaded());
    assert!(
        matches!(models.status().stt, ModelStatus::Failed { .. }),
        "{:?}",
        models.status()
    );
    assert!(
        matches!(models.status().vad, ModelStatus::Failed { .. }),
        "{:?}",
        models.status()
    );
    assert!(matches!(
        models.status().tts,
        ModelStatus::Missing {
            setting: TTS_MODEL_SETTING,
            ..
        }
    ));
    let Err(err) = models.vad() else {
        panic!("VAD failed")
    };
    assert_eq!(err.code().wire(), "voice_model_failed");
    let json = serde_json::to_value(models.status()).expect("serialisable");
    assert_eq!(json["vad"]["status"], "failed");
    assert!(json["vad"]["error"].as_str().is_some_and(|e| !e.is_empty()));
}

#[test]
fn loads_everything_from_the_models_dir() {
    let config = VoiceConfig {
        ort_dylib: Some(testing::ort_dylib()),
        ..VoiceConfig::in_dir(testing::models_dir())
    };
    let models = VoiceModels::load(&config, VoiceOptions::default());
    assert!(models.status().ready(), "{:?}", models.status());
    assert!(models.stt().is_ok() && models.vad().is_ok() && models.tts().is_ok());
}
