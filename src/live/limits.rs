//! What one live call may ask of the server, so that no caller can starve the others: audio at most about
//! twice as fast as it plays, typed messages of bounded size and rate, and a bounded number of utterances
//! waiting for speech-to-text. Time is an input (sans I/O), so tests drive it faster than real time.
//!
//! Bursts are allowed (token buckets): a client may send its first 20 s of audio at once, or 10 typed messages,
//! and then keeps to the rate.

use std::time::Duration;

use tokio::time::Instant;

use crate::audio::AudioFormat;

/// Audio accepted per unit of wall-clock time, after the burst: 2 s of audio per second.
pub const AUDIO_SPEED: u32 = 2;
/// Audio a client may send ahead of that pace.
pub const AUDIO_BURST: Duration = Duration::from_secs(20);
/// Longest typed message (`conversation.item.create`), in characters.
pub const MAX_TEXT_CHARS: usize = 4096;
/// Typed messages a client may send at once; then one per [`TEXT_ITEM_EVERY`].
pub const TEXT_ITEM_BURST: u32 = 10;
pub const TEXT_ITEM_EVERY: Duration = Duration::from_secs(1);
/// While audio keeps coming too fast, its dropping is reported at most this often.
pub const AUDIO_REPORT_EVERY: Duration = Duration::from_secs(5);
/// Utterances of one call waiting for (or in) speech-to-text; another one is dropped.
pub const MAX_PENDING_TRANSCRIPTIONS: usize = 8;

/// A token bucket: `capacity` units, refilled at one unit per `every`, starting full.
#[derive(Debug, Clone)]
struct Bucket {
    capacity: Duration,
    /// Units are kept as durations of wall-clock refill time, so no rounding creeps in.
    level: Duration,
    /// Refill: wall-clock time × `speed` becomes units.
    speed: u32,
    at: Instant,
}

impl Bucket {
    fn new(capacity: Duration, speed: u32, now: Instant) -> Self {
        Self {
            capacity,
            level: capacity,
            speed,
            at: now,
        }
    }

    /// Takes `amount` if the bucket holds it at `now`.
    fn take(&mut self, amount: Duration, now: Instant) -> bool {
        let refill = now.saturating_duration_since(self.at) * self.speed;
        self.at = self.at.max(now);
        self.level = (self.level + refill).min(self.capacity);
        match self.level.checked_sub(amount) {
            Some(left) => {
                self.level = left;
                true
            }
            None => false,
        }
    }
}

/// What a call has used of its limits.
#[derive(Debug, Clone)]
pub struct CallLimits {
    audio: Bucket,
    items: Bucket,
    /// When dropped audio was last reported.
    audio_reported: Option<Instant>,
}

/// Whether audio is taken, and whether its refusal is to be reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioVerdict {
    Accepted,
    /// Refused; `report` for the first refusal in [`AUDIO_REPORT_EVERY`].
    Refused {
        report: bool,
    },
}

impl CallLimits {
    pub fn new(now: Instant) -> Self {
        Self {
            audio: Bucket::new(AUDIO_BURST, AUDIO_SPEED, now),
            items: Bucket::new(TEXT_ITEM_EVERY * TEXT_ITEM_BURST, 1, now),
            audio_reported: None,
        }
    }

    /// Takes `bytes` of caller audio in `format` arriving at `now`, unless it comes too fast.
    pub fn audio(&mut self, format: AudioFormat, bytes: usize, now: Instant) -> AudioVerdict {
        let per_second = format.sample_rate() as u64 * format.bytes_per_sample() as u64;
        let length = Duration::from_micros(bytes as u64 * 1_000_000 / per_second.max(1));
        if self.audio.take(length, now) {
            return AudioVerdict::Accepted;
        }
        let report = self
            .audio_reported
            .is_none_or(|at| now.saturating_duration_since(at) >= AUDIO_REPORT_EVERY);
        if report {
            self.audio_reported = Some(now);
        }
        AudioVerdict::Refused { report }
    }

    /// Takes one typed message arriving at `now`, unless they come too fast.
    pub fn text_item(&mut self, now: Instant) -> bool {
        self.items.take(TEXT_ITEM_EVERY, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 100 ms of PCM16 at 24 kHz.
    const CHUNK: usize = 4800;

    #[tokio::test]
    async fn audio_at_twice_real_time_passes_and_faster_is_refused_after_the_burst() {
        let start = Instant::now();
        let mut limits = CallLimits::new(start);
        // Real time and twice real time, for ten minutes: never refused.
        let mut now = start;
        for _ in 0..6000 {
            now += Duration::from_millis(50);
            assert_eq!(
                limits.audio(AudioFormat::Pcm16, CHUNK, now),
                AudioVerdict::Accepted
            );
        }
        // All at once: the 20 s burst passes, then refusals, the first one reported.
        let mut limits = CallLimits::new(start);
        let accepted = (0..1000)
            .map(|_| limits.audio(AudioFormat::Pcm16, CHUNK, start))
            .take_while(|v| *v == AudioVerdict::Accepted)
            .count();
        assert_eq!(accepted, 200, "20 s of 100 ms chunks");
        assert_eq!(
            limits.audio(AudioFormat::Pcm16, CHUNK, start),
            AudioVerdict::Refused { report: false }
        );
        // A second later, two more seconds of audio are welcome; refusals stay quiet for a while.
        let later = start + Duration::from_secs(1);
        for _ in 0..20 {
            assert_eq!(
                limits.audio(AudioFormat::Pcm16, CHUNK, later),
                AudioVerdict::Accepted
            );
        }
        assert_eq!(
            limits.audio(AudioFormat::Pcm16, CHUNK, later),
            AudioVerdict::Refused { report: false }
        );
        let much_later = start + AUDIO_REPORT_EVERY;
        let reported = (0..500)
            .map(|_| limits.audio(AudioFormat::Pcm16, CHUNK, much_later))
            .filter(|v| *v == AudioVerdict::Refused { report: true })
            .count();
        assert_eq!(reported, 1);
        // G.711 is 8000 bytes a second: 20 ms Twilio frames at six times real time are refused in time.
        let mut phone = CallLimits::new(start);
        let mut now = start;
        let refused = (0..3000)
            .filter(|_| {
                now += Duration::from_micros(3_333);
                phone.audio(AudioFormat::G711Ulaw, 160, now) != AudioVerdict::Accepted
            })
            .count();
        assert!(refused > 900, "{refused} of 3000 frames refused");
    }

    #[tokio::test]
    async fn typed_messages_come_in_bursts_of_ten_then_one_a_second() {
        let start = Instant::now();
        let mut limits = CallLimits::new(start);
        assert!((0..10).all(|_| limits.text_item(start)));
        assert!(!limits.text_item(start));
        assert!(limits.text_item(start + Duration::from_secs(1)));
        assert!(!limits.text_item(start + Duration::from_secs(1)));
    }
}
