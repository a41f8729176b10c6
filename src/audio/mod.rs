//! Audio plumbing shared by the transports and the voice engines: no models, no I/O.
//!
//! # Layout
//! - [`AudioFrame`] — the one internal chunk type: mono f32 samples, their rate, and where they sit in the stream.
//! - [`g711`] — table-based ITU G.711 mu-law / A-law.
//! - [`pcm`] — f32 ↔ i16 ↔ PCM16 little-endian bytes.
//! - [`resample`] — [`StreamResampler`], a chunk-size-independent streaming resampler on rubato.
//! - [`format`] — [`AudioFormat`] (what the wire carries) with streaming [`FormatDecoder`] (wire → 16 kHz f32 for
//!   the pipeline) and [`FormatEncoder`] (f32 at any rate → wire).
//! - [`wav`] — WAV files in and out (recordings, tests, benchmarks).
//! - [`tones`] — DTMF keys as audio, and the single-frequency power measure tone detection uses.

pub mod format;
pub mod g711;
pub mod pcm;
pub mod resample;
pub mod tones;
pub mod wav;

pub use format::{AudioFormat, FormatDecoder, FormatEncoder};
pub use resample::StreamResampler;

/// The sample rate the voice pipeline runs at: what Silero VAD and Whisper expect.
pub const PIPELINE_SAMPLE_RATE: u32 = 16_000;

/// Errors of the audio layer.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The resampler cannot convert between these rates (zero, absurd, or no small exact block ratio).
    #[error("unsupported sample rate conversion {from} Hz -> {to} Hz")]
    UnsupportedRate {
        /// Input rate in Hz.
        from: u32,
        /// Output rate in Hz.
        to: u32,
    },
    /// A WAV file could not be read or written, or has a layout we do not take.
    #[error("wav: {0}")]
    Wav(String),
}

/// A chunk of mono audio and its position in the stream it belongs to.
///
/// Positions are sample counts rather than wall-clock times so that pipeline stages can be driven faster than real
/// time in tests and stay exact over long calls (no drift from rounding milliseconds).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AudioFrame {
    /// Mono samples in [-1, 1].
    pub samples: Vec<f32>,
    /// Samples per second.
    pub sample_rate: u32,
    /// Index of `samples[0]` in the stream, counted at `sample_rate` from the stream's start.
    pub start_sample: u64,
}

impl AudioFrame {
    /// A frame of `samples` at `sample_rate` starting at `start_sample`.
    pub fn new(samples: Vec<f32>, sample_rate: u32, start_sample: u64) -> Self {
        Self {
            samples,
            sample_rate,
            start_sample,
        }
    }

    /// Index one past the last sample.
    pub fn end_sample(&self) -> u64 {
        self.start_sample + self.samples.len() as u64
    }

    /// Start position in milliseconds from the stream's start.
    pub fn start_ms(&self) -> u64 {
        samples_to_ms(self.start_sample, self.sample_rate)
    }

    /// End position in milliseconds from the stream's start.
    pub fn end_ms(&self) -> u64 {
        samples_to_ms(self.end_sample(), self.sample_rate)
    }

    /// Length in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        samples_to_ms(self.samples.len() as u64, self.sample_rate)
    }

    /// True when the frame carries no samples.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

/// Sample count → whole milliseconds (rounded down). A zero rate yields 0 rather than a panic.
pub fn samples_to_ms(samples: u64, sample_rate: u32) -> u64 {
    if sample_rate == 0 {
        return 0;
    }
    samples * 1000 / u64::from(sample_rate)
}

/// Milliseconds → sample count at `sample_rate` (rounded down).
pub fn ms_to_samples(ms: u64, sample_rate: u32) -> u64 {
    ms * u64::from(sample_rate) / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_positions() {
        let f = AudioFrame::new(vec![0.0; 320], 16_000, 16_000);
        assert_eq!(f.start_ms(), 1_000);
        assert_eq!(f.end_ms(), 1_020);
        assert_eq!(f.duration_ms(), 20);
        assert_eq!(f.end_sample(), 16_320);
        assert_eq!(ms_to_samples(300, 16_000), 4_800);
        assert_eq!(samples_to_ms(1, 0), 0);
    }
}
