use super::*;

const RATE: u32 = 16_000;
const WIN: usize = 512; // 32 ms

/// Drives a detector with one probability per 32 ms window; each window's samples carry its index so tests can
/// check exactly which audio an utterance holds.
fn drive(det: &mut TurnDetector, probs: &[f32]) -> Vec<(usize, TurnEvent)> {
    let mut out = Vec::new();
    for (i, &p) in probs.iter().enumerate() {
        let samples = vec![i as f32; WIN];
        for e in det.push((i * WIN) as u64, &samples, p) {
            out.push((i, e));
        }
    }
    out
}

fn pattern(parts: &[(f32, usize)]) -> Vec<f32> {
    parts
        .iter()
        .flat_map(|&(p, n)| std::iter::repeat_n(p, n))
        .collect()
}

fn ms(window: usize) -> u64 {
    (window * WIN) as u64 * 1000 / u64::from(RATE)
}

#[test]
fn one_utterance_with_padding_and_silence() {
    let mut det = TurnDetector::new(TurnConfig::default(), RATE);
    // 1 s silence (~31 windows), 1 s speech, 1 s silence.
    let probs = pattern(&[(0.01, 31), (0.9, 31), (0.01, 31)]);
    let events = drive(&mut det, &probs);
    assert_eq!(events.len(), 2, "{events:?}");

    let (i, TurnEvent::SpeechStarted { audio_start_ms }) = &events[0] else {
        panic!("first event is SpeechStarted: {events:?}");
    };
    assert_eq!(*i, 31, "reported on the first voiced window");
    assert_eq!(
        *audio_start_ms,
        ms(31) - 300,
        "includes 300 ms prefix padding"
    );

    let (
        j,
        TurnEvent::SpeechStopped {
            audio_end_ms,
            utterance,
        },
    ) = &events[1]
    else {
        panic!("second event is SpeechStopped: {events:?}");
    };
    assert_eq!(utterance.speech_start_ms, ms(31));
    assert_eq!(utterance.speech_end_ms, ms(62));
    assert_eq!(*audio_end_ms, ms(62) + 500, "includes the silence duration");
    assert_eq!(utterance.audio_end_ms, *audio_end_ms);
    // Reported on the window during which 500 ms of silence completed (16 windows = 512 ms).
    assert_eq!(*j, 62 + 15);
    assert_eq!(utterance.reason, StopReason::Silence);
    // Audio spans exactly audio_start..audio_end.
    let expected_len = (utterance.audio_end_ms - utterance.audio_start_ms) * u64::from(RATE) / 1000;
    assert_eq!(utterance.samples.len() as u64, expected_len);
    // First sample is 300 ms before window 31, i.e. inside window 21.
    assert_eq!(utterance.samples[0], 21.0);
    assert!(!det.is_speaking());
}

#[test]
fn short_dips_do_not_end_the_turn() {
    let mut det = TurnDetector::new(TurnConfig::default(), RATE);
    // Speech with 0.4 dips (between the negative threshold 0.35 and 0.5) and a 300 ms pause (< 500 ms).
    let probs = pattern(&[
        (0.9, 20),
        (0.4, 10),
        (0.9, 10),
        (0.05, 9),
        (0.9, 10),
        (0.0, 30),
    ]);
    let events = drive(&mut det, &probs);
    let starts = events
        .iter()
        .filter(|(_, e)| matches!(e, TurnEvent::SpeechStarted { .. }))
        .count();
    assert_eq!(starts, 1, "{events:?}");
    let Some((_, TurnEvent::SpeechStopped { utterance, .. })) = events.last() else {
        panic!("turn ends: {events:?}");
    };
    assert_eq!(utterance.speech_start_ms, 0);
    assert_eq!(
        utterance.audio_start_ms, 0,
        "no audio before the stream start"
    );
    assert_eq!(utterance.speech_end_ms, ms(59));
}

#[test]
fn dip_after_silence_started_does_not_extend_speech() {
    let mut det = TurnDetector::new(TurnConfig::default(), RATE);
    let probs = pattern(&[(0.9, 10), (0.1, 5), (0.4, 5), (0.1, 20)]);
    let events = drive(&mut det, &probs);
    let Some((_, TurnEvent::SpeechStopped { utterance, .. })) = events.last() else {
        panic!("turn ends: {events:?}");
    };
    assert_eq!(utterance.speech_end_ms, ms(10));
}

#[test]
fn max_length_forces_a_cut_and_speech_resumes_without_overlap() {
    let config = TurnConfig {
        max_utterance_ms: 1_000,
        ..TurnConfig::default()
    };
    let mut det = TurnDetector::new(config, RATE);
    let probs = pattern(&[(0.9, 70), (0.0, 20)]);
    let events = drive(&mut det, &probs);
    let stops: Vec<&Utterance> = events
        .iter()
        .filter_map(|(_, e)| match e {
            TurnEvent::SpeechStopped { utterance, .. } => Some(utterance),
            _ => None,
        })
        .collect();
    assert_eq!(stops.len(), 3, "{events:?}");
    assert_eq!(stops[0].reason, StopReason::MaxLength);
    assert_eq!(stops[1].reason, StopReason::MaxLength);
    assert_eq!(stops[2].reason, StopReason::Silence);
    // Consecutive forced cuts are contiguous: the next starts where the previous ended.
    assert_eq!(stops[1].audio_start_ms, stops[0].audio_end_ms);
    assert_eq!(stops[2].audio_start_ms, stops[1].audio_end_ms);
    for u in &stops[..2] {
        assert!(u.audio_end_ms - u.audio_start_ms <= 1_024, "{u:?}");
    }
}

#[test]
fn finish_closes_an_open_turn_and_clear_drops_it() {
    let mut det = TurnDetector::new(TurnConfig::default(), RATE);
    drive(&mut det, &pattern(&[(0.9, 10)]));
    let Some(TurnEvent::SpeechStopped { utterance, .. }) = det.finish() else {
        panic!("open turn is closed");
    };
    assert_eq!(utterance.reason, StopReason::EndOfStream);
    assert_eq!(utterance.audio_end_ms, ms(10));
    assert!(det.finish().is_none());

    drive(&mut det, &pattern(&[(0.9, 10)]));
    det.clear();
    assert!(!det.is_speaking());
    assert!(det.finish().is_none());
}

#[test]
fn padding_after_a_turn_comes_from_the_silence_that_followed_it() {
    let mut det = TurnDetector::new(TurnConfig::default(), RATE);
    // Second turn starts right after the first one's silence ended: its padding is the silence tail.
    let probs = pattern(&[(0.9, 10), (0.0, 17), (0.9, 5), (0.0, 20)]);
    let events = drive(&mut det, &probs);
    let utterances: Vec<&Utterance> = events
        .iter()
        .filter_map(|(_, e)| match e {
            TurnEvent::SpeechStopped { utterance, .. } => Some(utterance),
            _ => None,
        })
        .collect();
    assert_eq!(utterances.len(), 2);
    assert!(
        utterances[1].audio_start_ms >= utterances[0].audio_end_ms,
        "no overlap: {utterances:?}"
    );
    assert_eq!(utterances[1].speech_start_ms, ms(27));
}

#[test]
fn config_deserialises_with_defaults() {
    let c: TurnConfig = serde_json::from_str(r#"{"threshold":0.6}"#).expect("valid json");
    assert_eq!(c.threshold, 0.6);
    assert_eq!(c.silence_duration_ms, 500);
}
