//! Both sides of a call on one timeline: caller left, agent right, at 16 kHz, in sample positions counted from
//! the start of the call. Pure: the writer feeds it and drains what can no longer change.
//!
//! The caller's audio arrives as a stream: each piece goes where the last one ended, unless the stream fell more
//! than [`JITTER`] behind the call's clock (the client sent nothing for a while), in which case it goes where the
//! clock says it ends. Pieces that merely arrive late (network, a busy server) stay contiguous. The agent's audio goes
//! where playback put it: where the last piece ended, or now, after a pause. A barge-in cuts the agent's channel
//! where playback stopped, so audio sent ahead of the playback clock but never heard is not kept.

use std::collections::VecDeque;

/// How far (in samples, 16 kHz) the caller's stream may lag the call's clock before the gap counts as silence.
pub const JITTER: u64 = 16_000;

/// Two channels not yet written out, from sample `flushed` on.
#[derive(Debug, Default)]
pub struct Timeline {
    flushed: u64,
    caller: VecDeque<i16>,
    agent: VecDeque<i16>,
    caller_end: u64,
    agent_end: u64,
}

fn put(buffer: &mut VecDeque<i16>, offset: usize, samples: &[i16]) {
    if buffer.len() < offset + samples.len() {
        buffer.resize(offset + samples.len(), 0);
    }
    for (slot, &sample) in buffer.iter_mut().skip(offset).zip(samples) {
        *slot = sample;
    }
}

impl Timeline {
    /// The caller's next audio, received when the call's clock was at sample `now`.
    pub fn caller(&mut self, samples: &[i16], now: u64) {
        let len = samples.len() as u64;
        let due = now.saturating_sub(len);
        let start = if due > self.caller_end + JITTER {
            due
        } else {
            self.caller_end
        }
        .max(self.flushed);
        put(&mut self.caller, (start - self.flushed) as usize, samples);
        self.caller_end = start + len;
    }

    /// The agent's next audio, sent to play at sample `at` or right after what was sent before.
    pub fn agent(&mut self, samples: &[i16], at: u64) {
        let start = self.agent_end.max(at).max(self.flushed);
        put(&mut self.agent, (start - self.flushed) as usize, samples);
        self.agent_end = start + samples.len() as u64;
    }

    /// The agent's playback stopped at sample `at`: what was sent for later never played.
    pub fn cut(&mut self, at: u64) {
        if at >= self.agent_end {
            return;
        }
        let keep = at.saturating_sub(self.flushed) as usize;
        self.agent.truncate(keep);
        self.agent_end = at.max(self.flushed);
    }

    /// Samples of either channel placed so far (the end of the later one).
    pub fn end(&self) -> u64 {
        self.caller_end.max(self.agent_end)
    }

    /// Takes everything before sample `until` as interleaved stereo (left caller, right agent), silence where a
    /// side had nothing.
    pub fn drain(&mut self, until: u64) -> Vec<i32> {
        let count = until.saturating_sub(self.flushed) as usize;
        let mut out = Vec::with_capacity(count * 2);
        for _ in 0..count {
            out.push(i32::from(self.caller.pop_front().unwrap_or(0)));
            out.push(i32::from(self.agent.pop_front().unwrap_or(0)));
        }
        self.flushed += count as u64;
        self.caller_end = self.caller_end.max(self.flushed);
        self.agent_end = self.agent_end.max(self.flushed);
        out
    }

    /// Samples written out so far.
    pub fn flushed(&self) -> u64 {
        self.flushed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn left(stereo: &[i32]) -> Vec<i32> {
        stereo.iter().step_by(2).copied().collect()
    }

    fn right(stereo: &[i32]) -> Vec<i32> {
        stereo.iter().skip(1).step_by(2).copied().collect()
    }

    #[test]
    fn each_side_goes_on_its_own_channel_at_its_time() {
        let mut t = Timeline::default();
        t.caller(&[1, 1], 2);
        t.caller(&[2, 2], 4);
        // The agent answers at sample 5, after a pause.
        t.agent(&[7, 7, 7], 5);
        let out = t.drain(8);
        assert_eq!(left(&out), [1, 1, 2, 2, 0, 0, 0, 0]);
        assert_eq!(right(&out), [0, 0, 0, 0, 0, 7, 7, 7]);
        assert_eq!(t.flushed(), 8);
    }

    #[test]
    fn a_silent_wire_leaves_a_gap_and_late_or_fast_audio_stays_contiguous() {
        let mut t = Timeline::default();
        t.caller(&[1, 1], 2);
        // Late by less than the jitter allowance: it follows on.
        t.caller(&[2, 2], 4 + JITTER / 2);
        // Nothing sent for longer: the next piece ends where the clock is.
        let now = 6 + 2 * JITTER;
        t.caller(&[3, 3], now);
        // Sent faster than real time: it follows on, never overlaps.
        t.caller(&[4], now - 10);
        let out = left(&t.drain(now + 1));
        assert_eq!(out[..4], [1, 1, 2, 2]);
        assert!(out[4..now as usize - 2].iter().all(|&s| s == 0));
        assert_eq!(out[now as usize - 2..], [3, 3, 4]);
    }

    #[test]
    fn a_barge_in_cuts_the_agent_where_playback_stopped() {
        let mut t = Timeline::default();
        t.agent(&[5, 5, 5, 5, 5, 5], 0);
        t.cut(2);
        // The next answer starts where playback is, not after the unheard audio.
        t.agent(&[6], 4);
        assert_eq!(right(&t.drain(6)), [5, 5, 0, 0, 6, 0]);
        // A cut after everything played changes nothing.
        t.agent(&[8, 8], 6);
        t.cut(10);
        assert_eq!(right(&t.drain(8)), [8, 8]);
    }
}
