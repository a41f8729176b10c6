//! Streaming mono resampler on rubato's synchronous FFT resampler.
//!
//! Call audio arrives in chunks of whatever size the transport sends (Twilio: 160 bytes; browsers: anything), while
//! rubato wants fixed input blocks. [`StreamResampler`] buffers input, feeds rubato whole blocks of ~20 ms, trims the
//! resampler's start-up delay so output sample 0 lines up with input sample 0, and on [`flush`](StreamResampler::flush)
//! pushes the tail through and cuts the output to exactly `ceil(input_len * to / from)` samples. Because rubato's
//! FFT resampler is a fixed linear filter applied block by block, the output does not depend on how the input was
//! chunked: any chunking gives the same samples as one call with the whole signal.
//!
//! Why FFT rather than the sinc `Async` resampler: our rates are fixed per stream, and for fixed ratios rubato's
//! FFT resampler gives the same quality as its best sinc mode at a fraction of the CPU. Latency is one block plus
//! half an FFT (~30 ms), small next to VAD windows (32 ms) and TTS sentence chunks.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler};

use super::AudioError;

/// Input block length: 20 ms, rounded up to the smallest block the rate pair allows.
const BLOCK_MS: usize = 20;
/// Largest input magnitude taken; samples are in [-1, 1], louder ones are clipped to this.
const MAX_INPUT: f32 = 16.0;
/// Refuse rate pairs whose smallest exact block (`rate / gcd`) is larger than this: such an FFT would be
/// huge and slow. 8/16/22.05/24/44.1/48 kHz pairs need at most 441.
const MAX_MIN_BLOCK: usize = 4800;

/// A stateful mono resampler from one fixed rate to another; see the module docs.
pub struct StreamResampler {
    from: u32,
    to: u32,
    /// `None` when the rates are equal: samples pass through unchanged.
    inner: Option<Inner>,
    /// Input samples received since the last flush.
    input_total: u64,
    /// Output samples returned since the last flush (after delay trimming).
    output_total: u64,
}

struct Inner {
    fft: Fft<f32>,
    /// Input not yet processed (always shorter than one block after `push` returns).
    pending: Vec<f32>,
    /// Output samples still to drop at the start of the stream (rubato's algorithmic delay).
    to_trim: usize,
    scratch: Vec<f32>,
}

impl StreamResampler {
    /// A resampler from `from` Hz to `to` Hz.
    pub fn new(from: u32, to: u32) -> Result<Self, AudioError> {
        if from == 0 || to == 0 || from > 384_000 || to > 384_000 {
            return Err(AudioError::UnsupportedRate { from, to });
        }
        let inner = if from == to {
            None
        } else {
            let (f, t) = (from as usize, to as usize);
            let g = gcd(f, t);
            let min_block = f / g;
            if min_block > MAX_MIN_BLOCK || t / g > MAX_MIN_BLOCK {
                return Err(AudioError::UnsupportedRate { from, to });
            }
            let block = (f * BLOCK_MS / 1000).div_ceil(min_block) * min_block;
            // One FFT per block (sub_chunks = 1): lowest latency for 20 ms blocks.
            let fft = Fft::new_custom(
                f,
                t,
                block,
                1,
                1,
                rubato::WindowFunction::BlackmanHarris2,
                FixedSync::Input,
            )
            .map_err(|_| AudioError::UnsupportedRate { from, to })?;
            let to_trim = fft.output_delay();
            let scratch = vec![0.0; fft.output_frames_max()];
            Some(Inner {
                fft,
                pending: Vec::with_capacity(block * 2),
                to_trim,
                scratch,
            })
        };
        Ok(Self {
            from,
            to,
            inner,
            input_total: 0,
            output_total: 0,
        })
    }

    /// Input sample rate.
    pub fn from_rate(&self) -> u32 {
        self.from
    }

    /// Output sample rate.
    pub fn to_rate(&self) -> u32 {
        self.to
    }

    /// Resamples `input`, appending whatever output is ready to `out`. Some input stays buffered until a whole
    /// block has arrived or [`flush`](Self::flush) is called.
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) {
        self.input_total += input.len() as u64;
        let Some(inner) = self.inner.as_mut() else {
            out.extend_from_slice(input);
            self.output_total += input.len() as u64;
            return;
        };
        // A broken sample (NaN, infinite, absurdly loud — a model can emit those) becomes silence or is clipped:
        // rubato's FFT panics on non-finite values.
        inner.pending.extend(input.iter().map(|&s| {
            if s.is_finite() {
                s.clamp(-MAX_INPUT, MAX_INPUT)
            } else {
                0.0
            }
        }));
        let block = inner.fft.input_frames_next();
        let mut offset = 0;
        while inner.pending.len() - offset >= block {
            let written = inner.run(offset, None, out);
            self.output_total += written as u64;
            offset += block;
        }
        inner.pending.drain(..offset);
    }

    /// Ends the stream: pushes the buffered tail through, appends the remaining output to `out` so that the total
    /// output is exactly `ceil(input * to / from)` samples, and resets for a new stream.
    pub fn flush(&mut self, out: &mut Vec<f32>) {
        let expected = (self.input_total * u64::from(self.to)).div_ceil(u64::from(self.from));
        if let Some(inner) = self.inner.as_mut() {
            let start = out.len();
            let mut produced = self.output_total;
            // The tail as a zero-padded partial block, then pure zeros until the filter has drained.
            let tail = inner.pending.len();
            produced += inner.run(0, Some(tail), out) as u64;
            while produced < expected {
                produced += inner.run(0, Some(0), out) as u64;
            }
            let keep = start + expected.saturating_sub(self.output_total) as usize;
            out.truncate(keep);
        }
        self.reset();
    }

    /// Drops buffered audio and filter state (e.g. when queued agent audio is cancelled).
    pub fn reset(&mut self) {
        if let Some(inner) = self.inner.as_mut() {
            inner.fft.reset();
            inner.pending.clear();
            inner.to_trim = inner.fft.output_delay();
        }
        self.input_total = 0;
        self.output_total = 0;
    }

    /// Convenience for whole clips: resamples `input` in one go.
    pub fn process_all(from: u32, to: u32, input: &[f32]) -> Result<Vec<f32>, AudioError> {
        let mut r = Self::new(from, to)?;
        let mut out = Vec::with_capacity(input.len() * to as usize / from as usize + 1);
        r.push(input, &mut out);
        r.flush(&mut out);
        Ok(out)
    }
}

impl Inner {
    /// Runs one block from `pending[offset..]` (`partial` = number of real samples when fewer than a block),
    /// appends the delay-trimmed output to `out` and returns how many samples were appended.
    fn run(&mut self, offset: usize, partial: Option<usize>, out: &mut Vec<f32>) -> usize {
        let block = self.fft.input_frames_next();
        // With `partial_len` rubato reads only that many frames and zero-fills the rest, so the view may be short.
        let avail = (self.pending.len() - offset).min(block);
        let input = InterleavedSlice::new(&self.pending[offset..offset + avail], 1, avail)
            .expect("invariant: a mono view of `avail` samples has exactly `avail` frames");
        let frames = self.scratch.len();
        let mut output = InterleavedSlice::new_mut(&mut self.scratch, 1, frames)
            .expect("invariant: scratch is sized to output_frames_max for one channel");
        let indexing = partial.map(|p| Indexing::new().partial_len(p.min(avail)));
        let (_, written) = self
            .fft
            .process_into_buffer(&input, &mut output, indexing.as_ref())
            .expect("invariant: buffers are sized from the resampler's own frame counts");
        let skip = self.to_trim.min(written);
        self.to_trim -= skip;
        out.extend_from_slice(&self.scratch[skip..written]);
        written - skip
    }
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::PI;

    fn sine(freq: f32, rate: u32, len: usize) -> Vec<f32> {
        (0..len)
            .map(|i| 0.5 * (2.0 * PI * freq * i as f32 / rate as f32).sin())
            .collect()
    }

    /// Frequency estimate from zero crossings over the middle of the signal (edges have filter ramps).
    fn frequency(samples: &[f32], rate: u32) -> f32 {
        let mid = &samples[samples.len() / 4..samples.len() * 3 / 4];
        let crossings = mid
            .windows(2)
            .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
            .count();
        crossings as f32 / 2.0 / (mid.len() as f32 / rate as f32)
    }

    const RATES: [u32; 4] = [8_000, 16_000, 22_050, 24_000];

    #[test]
    fn sine_keeps_its_frequency_and_length_between_all_rates() {
        for from in RATES {
            for to in RATES {
                let input = sine(440.0, from, from as usize);
                let out = StreamResampler::process_all(from, to, &input).expect("supported rates");
                assert_eq!(
                    out.len(),
                    to as usize,
                    "{from} -> {to}: one second in, one second out"
                );
                let f = frequency(&out, to);
                assert!((f - 440.0).abs() < 2.0, "{from} -> {to}: {f} Hz");
                // Amplitude survives (passband is flat).
                let peak = out[out.len() / 4..out.len() * 3 / 4]
                    .iter()
                    .fold(0.0f32, |m, s| m.max(s.abs()));
                assert!((peak - 0.5).abs() < 0.02, "{from} -> {to}: peak {peak}");
            }
        }
    }

    #[test]
    fn output_is_aligned_with_input() {
        // A click at 100 ms must come out at 100 ms: the start-up delay is trimmed.
        let mut input = vec![0.0f32; 8_000];
        input[800] = 1.0;
        let out = StreamResampler::process_all(8_000, 16_000, &input).expect("supported rates");
        let peak = out
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .map(|(i, _)| i);
        assert_eq!(peak, Some(1_600));
    }

    #[test]
    fn chunked_output_matches_one_shot() {
        let input = sine(1_000.0, 22_050, 22_050 * 2 / 3);
        let one_shot =
            StreamResampler::process_all(22_050, 8_000, &input).expect("supported rates");
        for chunk in [1usize, 7, 160, 441, 1_000, 5_000] {
            let mut r = StreamResampler::new(22_050, 8_000).expect("supported rates");
            let mut out = Vec::new();
            for piece in input.chunks(chunk) {
                r.push(piece, &mut out);
            }
            r.flush(&mut out);
            assert_eq!(out.len(), one_shot.len(), "chunk {chunk}");
            let max_diff = out
                .iter()
                .zip(&one_shot)
                .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(max_diff < 1e-5, "chunk {chunk}: max diff {max_diff}");
        }
    }

    #[test]
    fn flush_resets_for_the_next_stream() {
        let input = sine(300.0, 8_000, 1_234);
        let mut r = StreamResampler::new(8_000, 24_000).expect("supported rates");
        let mut first = Vec::new();
        r.push(&input, &mut first);
        r.flush(&mut first);
        let mut second = Vec::new();
        r.push(&input, &mut second);
        r.flush(&mut second);
        assert_eq!(first, second);
        assert_eq!(first.len(), 1_234 * 3);
    }

    #[test]
    fn broken_samples_do_not_break_the_filter() {
        let mut input = sine(300.0, 8_000, 800);
        input[10] = f32::NAN;
        input[20] = f32::INFINITY;
        input[30] = 1e30;
        let out = StreamResampler::process_all(8_000, 16_000, &input).expect("supported rates");
        assert_eq!(out.len(), 1_600);
        assert!(
            out.iter()
                .all(|s| s.is_finite() && s.abs() <= MAX_INPUT * 2.0)
        );
    }

    #[test]
    fn odd_rates_are_refused() {
        assert!(StreamResampler::new(0, 16_000).is_err());
        assert!(StreamResampler::new(16_000, 9_973).is_err());
        assert!(StreamResampler::new(44_100, 16_000).is_ok());
    }
}
