use super::*;
use crate::audio::{AudioFormat, FormatDecoder, FormatEncoder};
use crate::voice::testing;

const KEY_PHRASE: &str = "ask not what your country can do for you";

fn stt() -> SpeechToText {
    SpeechToText::load(
        &testing::model("ggml-tiny.en.bin"),
        SttOptions::for_machine(),
    )
    .expect("whisper model loads")
}

#[tokio::test]
async fn jfk_is_transcribed() {
    let stt = stt();
    let t = stt
        .transcribe(testing::jfk().samples)
        .await
        .expect("transcription");
    let text = testing::normalise(&t.text);
    assert!(text.contains(KEY_PHRASE), "got {:?}", t.text);
    assert!(
        t.confidence > 0.5 && t.confidence <= 1.0,
        "confidence {}",
        t.confidence
    );
    assert!(t.tokens > 10);
    assert!((t.audio_duration.as_secs_f64() - 11.0).abs() < 0.1);
    assert!(t.processing_time > Duration::ZERO);
}

#[tokio::test]
async fn codecs_round_trip_keeps_speech_intelligible() {
    let stt = stt();
    let jfk = testing::jfk().samples;
    for format in [AudioFormat::G711Ulaw, AudioFormat::G711Alaw] {
        // Pipeline audio → 8 kHz G.711 bytes (as sent to a phone) → back to 16 kHz (as received from one).
        let mut enc = FormatEncoder::new(format, 16_000).expect("supported");
        let mut bytes = enc.encode(&jfk);
        bytes.extend(enc.flush());
        assert_eq!(
            bytes.len(),
            jfk.len() / 2,
            "{format:?}: 8 kHz, one byte per sample"
        );
        let mut dec = FormatDecoder::new(format).expect("supported");
        let mut audio = Vec::new();
        for packet in bytes.chunks(160) {
            audio.extend(dec.decode(packet).samples);
        }
        audio.extend(dec.flush().samples);
        assert_eq!(audio.len(), jfk.len());
        let t = stt.transcribe(audio).await.expect("transcription");
        assert!(
            testing::normalise(&t.text).contains(KEY_PHRASE),
            "{format:?}: got {:?}",
            t.text
        );
    }
}

#[tokio::test]
async fn short_and_concurrent_utterances() {
    let stt = std::sync::Arc::new(stt());
    let jfk = testing::jfk().samples;
    // 50 ms of audio is below whisper.cpp's minimum; it is padded rather than rejected.
    let tiny = stt
        .transcribe(jfk[..800].to_vec())
        .await
        .expect("short audio is fine");
    assert!(tiny.tokens < 5, "{tiny:?}");
    // Two calls at once: both complete (queued on the pool).
    let (a, b) = tokio::join!(
        stt.transcribe(jfk[..16_000 * 4].to_vec()),
        stt.transcribe(jfk[16_000 * 6..].to_vec())
    );
    let (a, b) = (a.expect("first"), b.expect("second"));
    assert!(
        testing::normalise(&a.text).contains("my fellow americans"),
        "{a:?}"
    );
    assert!(
        testing::normalise(&b.text).contains("your country"),
        "{b:?}"
    );
}

#[tokio::test]
async fn empty_audio_is_invalid_input() {
    let stt = stt();
    let err = stt.transcribe(Vec::new()).await.expect_err("nothing to do");
    assert!(matches!(err, VoiceError::InvalidInput(_)));
}

#[test]
fn audio_ctx_fits_the_utterance() {
    let s = DecodeSettings::tuned(2);
    assert_eq!(
        s.audio_ctx_for(16_000),
        768,
        "short audio gets the minimum context"
    );
    assert_eq!(s.audio_ctx_for(16_000 * 20), 1000 + 64);
    assert_eq!(s.audio_ctx_for(16_000 * 29), 0, "near 30 s: full context");
    assert_eq!(DecodeSettings::whisper_defaults(2).audio_ctx_for(16_000), 0);
    assert_eq!(s.token_cap(16_000 * 2), 2 * 8 + 16);
    assert_eq!(
        DecodeSettings::whisper_defaults(2).token_cap(16_000),
        0,
        "no cap"
    );
}

#[test]
fn missing_or_broken_model_fails_to_load() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bogus = dir.path().join("bogus.bin");
    std::fs::write(&bogus, b"not a ggml model").expect("write temp file");
    let Err(err) = SpeechToText::load(&bogus, SttOptions::for_machine()) else {
        panic!("garbage is not a model");
    };
    assert!(
        matches!(
            err,
            VoiceError::ModelFailed {
                model: ModelKind::Stt,
                ..
            }
        ),
        "{err}"
    );
}
