//! The beep at the end of an answering machine's greeting: a single steady tone (commonly 400–2000 Hz,
//! a quarter of a second or more) that speech never is — one frequency carrying nearly all of the sound.
//!
//! [`BeepDetector`] is sans-I/O: it takes the pipeline's 16 kHz samples as they arrive and reports each beep
//! once it has ended, with its position in the call's audio, so it runs as fast as audio is fed.

use crate::audio::tones::{mean_power, tone_power};

/// Analysis window: 30 ms at 16 kHz.
const WINDOW: usize = 480;
/// Quieter windows are never a tone (about -40 dBFS).
const MIN_POWER: f32 = 1e-4;
/// Share of a window's energy one frequency must carry.
const MIN_SHARE: f32 = 0.6;
/// Frequencies searched, coarse step, then refined around the best.
const LOWEST_HZ: f32 = 300.0;
const HIGHEST_HZ: f32 = 2600.0;
const COARSE_HZ: f32 = 40.0;
const FINE_HZ: f32 = 5.0;
/// A beep's frequency wanders less than this.
const DRIFT_HZ: f32 = 40.0;
/// Shortest tone that counts: 6 windows (180 ms).
const MIN_WINDOWS: usize = 6;

/// A beep heard, positions in milliseconds of call audio.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Beep {
    pub start_ms: u64,
    pub end_ms: u64,
    pub frequency: f32,
}

/// Finds beeps in a stream of 16 kHz samples.
#[derive(Debug, Default)]
pub struct BeepDetector {
    /// Samples not yet analysed (less than a window).
    pending: Vec<f32>,
    /// Stream position of `pending[0]`.
    position: u64,
    /// The tone being heard: its first window's start, frequency, and windows so far.
    run: Option<(u64, f32, usize)>,
}

impl BeepDetector {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next samples; returns the beeps that ended in them.
    pub fn push(&mut self, samples: &[f32]) -> Vec<Beep> {
        self.pending.extend_from_slice(samples);
        let mut beeps = Vec::new();
        let mut offset = 0;
        while self.pending.len() - offset >= WINDOW {
            let window = &self.pending[offset..offset + WINDOW];
            let start = self.position + offset as u64;
            let tone = dominant_tone(window);
            match (tone, self.run) {
                (Some(f), Some((run_start, run_f, n))) if (f - run_f).abs() <= DRIFT_HZ => {
                    self.run = Some((run_start, run_f, n + 1));
                }
                (tone, _) => {
                    beeps.extend(self.end_run(start));
                    self.run = tone.map(|f| (start, f, 1));
                }
            }
            offset += WINDOW;
        }
        self.pending.drain(..offset);
        self.position += offset as u64;
        beeps
    }

    /// The stream is over: a tone still sounding ends here.
    pub fn finish(&mut self) -> Option<Beep> {
        self.end_run(self.position)
    }

    fn end_run(&mut self, at: u64) -> Option<Beep> {
        let (start, frequency, windows) = self.run.take()?;
        (windows >= MIN_WINDOWS).then(|| Beep {
            start_ms: start * 1000 / 16_000,
            end_ms: at * 1000 / 16_000,
            frequency,
        })
    }
}

/// The frequency carrying most of `window`'s energy, if it carries nearly all of it.
fn dominant_tone(window: &[f32]) -> Option<f32> {
    let total = mean_power(window);
    if total < MIN_POWER {
        return None;
    }
    let power = |f: f32| tone_power(window, 16_000, f);
    let steps = ((HIGHEST_HZ - LOWEST_HZ) / COARSE_HZ) as usize;
    let coarse = (0..=steps)
        .map(|i| LOWEST_HZ + i as f32 * COARSE_HZ)
        .map(|f| (f, power(f)))
        .fold(
            (0.0, 0.0),
            |best, (f, p)| if p > best.1 { (f, p) } else { best },
        );
    let fine = (-4..=4)
        .map(|i| coarse.0 + i as f32 * FINE_HZ)
        .map(|f| (f, power(f)))
        .fold(
            coarse,
            |best, (f, p)| if p > best.1 { (f, p) } else { best },
        );
    (fine.1 / total >= MIN_SHARE).then_some(fine.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::TAU;

    fn tone(hz: f32, ms: u32) -> Vec<f32> {
        (0..ms * 16)
            .map(|i| 0.3 * (TAU * hz * i as f32 / 16_000.0).sin())
            .collect()
    }

    fn noise(ms: u32) -> Vec<f32> {
        // A deterministic broadband signal: many unrelated frequencies at once.
        (0..ms * 16)
            .map(|i| {
                let t = i as f32 / 16_000.0;
                (1..12)
                    .map(|k| 0.04 * (TAU * (173.0 * k as f32 + 31.0) * t + k as f32).sin())
                    .sum()
            })
            .collect()
    }

    #[test]
    fn a_steady_tone_after_speechlike_sound_is_a_beep() {
        let mut audio = noise(2000);
        audio.extend(tone(1004.0, 500));
        audio.extend(vec![0.0; 16 * 300]);
        let mut detector = BeepDetector::new();
        // Fed in odd-sized chunks, as a stream arrives.
        let beeps: Vec<Beep> = audio
            .chunks(333)
            .flat_map(|chunk| detector.push(chunk))
            .collect();
        assert_eq!(beeps.len(), 1, "{beeps:?}");
        let beep = beeps[0];
        assert!((beep.frequency - 1004.0).abs() < 10.0, "{beep:?}");
        assert!((1960..=2040).contains(&beep.start_ms), "{beep:?}");
        assert!((2470..=2540).contains(&beep.end_ms), "{beep:?}");
    }

    #[test]
    fn short_tones_broadband_sound_and_silence_are_not() {
        let mut audio = noise(1000);
        audio.extend(tone(800.0, 90));
        audio.extend(vec![0.0; 16 * 500]);
        let mut detector = BeepDetector::new();
        assert!(detector.push(&audio).is_empty());
        assert_eq!(detector.finish(), None);
        let mut detector = BeepDetector::new();
        assert!(
            detector.push(&tone(440.0, 400)).is_empty(),
            "still sounding"
        );
        assert!(detector.finish().is_some(), "ends with the stream");
    }
}
