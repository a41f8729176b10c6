//! Tones: DTMF keys the agent presses (`send_dtmf`), and the single-frequency measure the voicemail beep detector
//! ([`crate::voice::beep`]) and tests use.
//!
//! DTMF is in-band: each key is the sum of one low and one high frequency (ITU-T Q.23), played into the call's
//! audio like speech. Twilio's Media Streams have no message for sending keys, and replacing the call's TwiML
//! would end the stream; a phone menu hears the tones just as it hears a handset's.

use std::f32::consts::TAU;

/// How long each key sounds.
pub const KEY_MS: u32 = 150;
/// Silence after each key, so repeated keys count twice.
pub const GAP_MS: u32 = 100;
/// What `w` waits.
pub const PAUSE_MS: u32 = 500;

/// The (low, high) frequencies of a key, or `None` for anything not on a keypad.
pub fn dtmf_frequencies(key: char) -> Option<(f32, f32)> {
    let (row, col) = match key {
        '1' => (0, 0),
        '2' => (0, 1),
        '3' => (0, 2),
        'A' => (0, 3),
        '4' => (1, 0),
        '5' => (1, 1),
        '6' => (1, 2),
        'B' => (1, 3),
        '7' => (2, 0),
        '8' => (2, 1),
        '9' => (2, 2),
        'C' => (2, 3),
        '*' => (3, 0),
        '0' => (3, 1),
        '#' => (3, 2),
        'D' => (3, 3),
        _ => return None,
    };
    const LOW: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
    const HIGH: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
    Some((LOW[row], HIGH[col]))
}

fn samples(ms: u32, rate: u32) -> usize {
    (u64::from(ms) * u64::from(rate) / 1000) as usize
}

/// `keys` as DTMF audio at `rate` (`w` is a half-second pause; other characters are skipped).
pub fn dtmf(keys: &str, rate: u32) -> Vec<f32> {
    let mut out = Vec::new();
    for key in keys.chars() {
        if key == 'w' {
            out.extend(std::iter::repeat_n(0.0, samples(PAUSE_MS, rate)));
            continue;
        }
        let Some((low, high)) = dtmf_frequencies(key) else {
            continue;
        };
        let n = samples(KEY_MS, rate);
        out.extend((0..n).map(|i| {
            let t = i as f32 / rate as f32;
            0.35 * (TAU * low * t).sin() + 0.35 * (TAU * high * t).sin()
        }));
        out.extend(std::iter::repeat_n(0.0, samples(GAP_MS, rate)));
    }
    out
}

/// The power of `frequency` in `samples` (Goertzel), scaled so that a sine of amplitude `a` spanning the window
/// gives about `a² / 2` — the same scale as [`mean_power`], so their ratio is the tone's share of the energy.
pub fn tone_power(samples: &[f32], rate: u32, frequency: f32) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    let coefficient = 2.0 * (TAU * frequency / rate as f32).cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &x in samples {
        let s0 = x + coefficient * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coefficient * s1 * s2;
    let n = samples.len() as f32;
    2.0 * power / (n * n)
}

/// Mean power (mean square) of `samples`.
pub fn mean_power(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.iter().map(|x| x * x).sum::<f32>() / samples.len() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_carries_its_two_frequencies() {
        let audio = dtmf("5", 8000);
        assert_eq!(audio.len(), samples(KEY_MS + GAP_MS, 8000));
        let tone = &audio[..samples(KEY_MS, 8000)];
        let total = mean_power(tone);
        let (low, high) = dtmf_frequencies('5').unwrap();
        let share = (tone_power(tone, 8000, low) + tone_power(tone, 8000, high)) / total;
        assert!(share > 0.9, "{share}");
        assert!(tone_power(tone, 8000, 697.0) / total < 0.05);
        assert_eq!(dtmf("w", 8000).len(), samples(PAUSE_MS, 8000));
        assert!(dtmf("x", 8000).is_empty());
    }
}
