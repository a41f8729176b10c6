//! Playing the agent's audio to the caller in real time, and knowing what the caller has heard.
//!
//! Audio is sent in frames paced to the playback clock, never more than [`LEAD`] ahead of it: a phone or browser
//! buffers what it is sent, and audio sitting in a client's buffer cannot be taken back quickly on barge-in
//! (Twilio's `clear` can, but marks and our clock would drift). Each sentence ends with a mark; Twilio echoes it
//! when the sentence has played. What the caller heard is then: every sentence whose mark came back, and of the
//! others the share of their words that the playback clock says has played.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// How far ahead of playback audio is sent.
pub const LEAD: Duration = Duration::from_millis(200);

/// Something to send now.
#[derive(Debug, PartialEq)]
pub enum Step {
    /// The first frame of sentence `index`: its text starts playing.
    SentenceStarted { index: usize, text: String },
    /// Audio bytes in the output format.
    Audio(Vec<u8>),
    /// The last frame of sentence `index` was sent.
    SentenceSent { index: usize },
}

struct Queued {
    index: usize,
    text: String,
    audio: Vec<u8>,
    sent: usize,
}

/// A sentence that started playing.
struct Played {
    index: usize,
    text: String,
    starts: Instant,
    ends: Instant,
    /// The client confirmed it played to the end.
    marked: bool,
}

/// One response's audio on its way to the caller.
pub struct Playout {
    bytes_per_ms: usize,
    frame_bytes: usize,
    queue: VecDeque<Queued>,
    played: Vec<Played>,
    /// When everything sent so far will have played.
    cursor: Option<Instant>,
    next_index: usize,
}

impl Playout {
    /// Audio at `bytes_per_ms` (e.g. 8 for µ-law 8 kHz, 48 for pcm16 24 kHz) sent in frames of `frame_ms`.
    pub fn new(bytes_per_ms: usize, frame_ms: u64) -> Self {
        let bytes_per_ms = bytes_per_ms.max(1);
        Self {
            bytes_per_ms,
            frame_bytes: bytes_per_ms * frame_ms.max(1) as usize,
            queue: VecDeque::new(),
            played: Vec::new(),
            cursor: None,
            next_index: 0,
        }
    }

    /// Queues a sentence; returns its index.
    pub fn push(&mut self, text: String, audio: Vec<u8>) -> usize {
        let index = self.next_index;
        self.next_index += 1;
        self.queue.push_back(Queued {
            index,
            text,
            audio,
            sent: 0,
        });
        index
    }

    /// Sentences queued or being sent.
    pub fn has_queued(&self) -> bool {
        !self.queue.is_empty()
    }

    /// When [`Playout::poll`] has something to send, if anything is queued.
    pub fn next_due(&self) -> Option<Instant> {
        self.queue.front()?;
        Some(self.cursor.map_or_else(Instant::now, |c| c - LEAD))
    }

    /// Whether everything sent has played by `now`.
    pub fn played_out(&self, now: Instant) -> bool {
        self.queue.is_empty() && self.cursor.is_none_or(|c| c <= now)
    }

    /// When everything sent will have played.
    pub fn ends(&self) -> Option<Instant> {
        self.cursor
    }

    /// The frames due at `now`, with sentence boundaries.
    pub fn poll(&mut self, now: Instant) -> Vec<Step> {
        let mut steps = Vec::new();
        while let Some(front) = self.queue.front_mut() {
            let cursor = self.cursor.filter(|c| *c > now).unwrap_or(now);
            if cursor > now + LEAD {
                break;
            }
            if front.sent == 0 {
                let duration = ms(front.audio.len(), self.bytes_per_ms);
                self.played.push(Played {
                    index: front.index,
                    text: front.text.clone(),
                    starts: cursor,
                    ends: cursor + duration,
                    marked: false,
                });
                steps.push(Step::SentenceStarted {
                    index: front.index,
                    text: front.text.clone(),
                });
            }
            let end = (front.sent + self.frame_bytes).min(front.audio.len());
            let frame = front.audio[front.sent..end].to_vec();
            front.sent = end;
            self.cursor = Some(cursor + ms(frame.len(), self.bytes_per_ms));
            if !frame.is_empty() {
                steps.push(Step::Audio(frame));
            }
            if front.sent >= front.audio.len() {
                steps.push(Step::SentenceSent { index: front.index });
                self.queue.pop_front();
            }
        }
        steps
    }

    /// The client confirmed sentence `index` played to its end.
    pub fn marked(&mut self, index: usize) {
        if let Some(played) = self.played.iter_mut().find(|p| p.index == index) {
            played.marked = true;
        }
    }

    /// Stops: drops what is queued. Returns how much audio had played by `now`.
    pub fn stop(&mut self, now: Instant) -> Duration {
        self.queue.clear();
        let played = self
            .played
            .iter()
            .map(|p| p.ends.min(now).saturating_duration_since(p.starts))
            .sum();
        self.cursor = self.cursor.map(|c| c.min(now));
        played
    }

    /// What the caller heard by `now`: whole sentences that played (or were confirmed), and the words of the one
    /// playing in proportion to the time it has played.
    pub fn heard(&self, now: Instant) -> String {
        // Marks come back in order: a confirmed sentence vouches for every one before it.
        let confirmed = self.played.iter().rposition(|p| p.marked);
        let mut heard: Vec<&str> = Vec::new();
        for (i, p) in self.played.iter().enumerate() {
            if confirmed.is_some_and(|last| i <= last) || p.ends <= now {
                heard.push(&p.text);
                continue;
            }
            if p.starts >= now {
                break;
            }
            let share = now.saturating_duration_since(p.starts).as_secs_f64()
                / p.duration().as_secs_f64().max(1e-3);
            heard.push(leading_words(&p.text, share));
            break;
        }
        join_heard(&heard)
    }

    /// How much audio the sentences sent so far hold (a sentence counts whole once its first frame went out).
    pub fn audio_sent(&self) -> Duration {
        self.played.iter().map(Played::duration).sum()
    }

    /// What the first `audio` of the sent audio says, as the client reports its playback position
    /// (Realtime `conversation.item.truncate`): whole sentences within it and the share of the words of the one
    /// it cuts.
    pub fn heard_within(&self, audio: Duration) -> String {
        let mut heard: Vec<&str> = Vec::new();
        let mut start = Duration::ZERO;
        for p in &self.played {
            let duration = p.duration();
            if start + duration <= audio {
                heard.push(&p.text);
                start += duration;
                continue;
            }
            let share =
                audio.saturating_sub(start).as_secs_f64() / duration.as_secs_f64().max(1e-3);
            heard.push(leading_words(&p.text, share));
            break;
        }
        join_heard(&heard)
    }
}

impl Played {
    fn duration(&self) -> Duration {
        self.ends.saturating_duration_since(self.starts)
    }
}

/// The first `share` (0–1) of `text`'s words, as a slice of it.
fn leading_words(text: &str, share: f64) -> &str {
    let words: Vec<&str> = text.split_whitespace().collect();
    let count = (words.len() as f64 * share).round() as usize;
    match count.checked_sub(1).and_then(|last| words.get(last)) {
        Some(last) => &text[..last.as_ptr() as usize - text.as_ptr() as usize + last.len()],
        None => "",
    }
}

fn join_heard(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|part| !part.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

fn ms(bytes: usize, bytes_per_ms: usize) -> Duration {
    Duration::from_millis((bytes / bytes_per_ms) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audio_steps(steps: &[Step]) -> usize {
        steps.iter().filter(|s| matches!(s, Step::Audio(_))).count()
    }

    #[tokio::test(start_paused = true)]
    async fn sends_no_more_than_the_lead_ahead_of_playback() {
        let mut playout = Playout::new(8, 20);
        playout.push("Hello there.".into(), vec![0; 8 * 1000]);
        let t0 = Instant::now();
        let first = playout.poll(t0);
        // 200 ms of lead plus the frame that crosses it: 11 frames of 20 ms.
        assert_eq!(audio_steps(&first), 11);
        assert!(matches!(first[0], Step::SentenceStarted { index: 0, .. }));
        assert!(playout.poll(t0).is_empty(), "nothing more is due yet");
        let due = playout.next_due().unwrap();
        assert_eq!(due - t0, Duration::from_millis(20));
        let mut later = Vec::new();
        for step in 1..=50 {
            later.extend(playout.poll(t0 + Duration::from_millis(step * 20)));
        }
        assert_eq!(audio_steps(&later), 39, "the rest, one frame per 20 ms");
        assert_eq!(later.last(), Some(&Step::SentenceSent { index: 0 }));
        assert!(!playout.played_out(t0 + Duration::from_millis(999)));
        assert!(playout.played_out(t0 + Duration::from_millis(1000)));
    }

    #[tokio::test(start_paused = true)]
    async fn heard_text_follows_the_playback_clock_and_marks() {
        let mut playout = Playout::new(8, 20);
        playout.push("One two three four.".into(), vec![0; 8 * 1000]);
        playout.push("Five six.".into(), vec![0; 8 * 1000]);
        let t0 = Instant::now();
        for step in 0..=40 {
            playout.poll(t0 + Duration::from_millis(step * 50));
        }
        assert_eq!(playout.heard(t0 + Duration::from_millis(500)), "One two");
        assert_eq!(
            playout.heard(t0 + Duration::from_millis(1500)),
            "One two three four. Five"
        );
        playout.marked(1);
        assert_eq!(
            playout.heard(t0 + Duration::from_millis(500)),
            "One two three four. Five six.",
            "a confirmed sentence counts whole, and so do those before it"
        );
        // The client's playback position (Realtime truncate) decides on its own, marks or not.
        assert_eq!(playout.audio_sent(), Duration::from_millis(2000));
        assert_eq!(playout.heard_within(Duration::ZERO), "");
        assert_eq!(playout.heard_within(Duration::from_millis(500)), "One two");
        assert_eq!(
            playout.heard_within(Duration::from_millis(1000)),
            "One two three four."
        );
        assert_eq!(
            playout.heard_within(Duration::from_millis(1499)),
            "One two three four. Five"
        );
        assert_eq!(
            playout.heard_within(Duration::from_millis(5000)),
            "One two three four. Five six."
        );
        let played = playout.stop(t0 + Duration::from_millis(1500));
        assert_eq!(played, Duration::from_millis(1500));
        assert!(!playout.has_queued());
    }
}
