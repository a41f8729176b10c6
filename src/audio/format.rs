//! Wire formats of call audio and streaming conversion between them and the pipeline's f32.

use serde::{Deserialize, Serialize};

use super::g711::{alaw_to_linear, linear_to_alaw, linear_to_ulaw, ulaw_to_linear};
use super::pcm::{f32_to_i16, f32_to_pcm16le, i16_to_f32, pcm16le_to_f32};
use super::{AudioError, AudioFrame, PIPELINE_SAMPLE_RATE, StreamResampler};

/// Audio encodings the transports carry. Serialises with the OpenAI Realtime names
/// (`input_audio_format` / `output_audio_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AudioFormat {
    /// PCM16 little-endian, 24 kHz mono (OpenAI Realtime default).
    #[serde(rename = "pcm16")]
    Pcm16,
    /// G.711 mu-law, 8 kHz (Twilio Media Streams, Realtime `g711_ulaw`).
    #[serde(rename = "g711_ulaw")]
    G711Ulaw,
    /// G.711 A-law, 8 kHz (Realtime `g711_alaw`).
    #[serde(rename = "g711_alaw")]
    G711Alaw,
}

impl AudioFormat {
    /// Sample rate of the encoded audio.
    pub fn sample_rate(self) -> u32 {
        match self {
            Self::Pcm16 => 24_000,
            Self::G711Ulaw | Self::G711Alaw => 8_000,
        }
    }

    /// Bytes per encoded sample.
    pub fn bytes_per_sample(self) -> usize {
        match self {
            Self::Pcm16 => 2,
            Self::G711Ulaw | Self::G711Alaw => 1,
        }
    }

    /// The OpenAI Realtime name (`pcm16`, `g711_ulaw`, `g711_alaw`).
    pub fn realtime_name(self) -> &'static str {
        match self {
            Self::Pcm16 => "pcm16",
            Self::G711Ulaw => "g711_ulaw",
            Self::G711Alaw => "g711_alaw",
        }
    }

    /// Parses an OpenAI Realtime format name.
    pub fn from_realtime_name(name: &str) -> Option<Self> {
        match name {
            "pcm16" => Some(Self::Pcm16),
            "g711_ulaw" => Some(Self::G711Ulaw),
            "g711_alaw" => Some(Self::G711Alaw),
            _ => None,
        }
    }
}

/// Streaming decoder: bytes in `format` → f32 mono at [`PIPELINE_SAMPLE_RATE`], with stream positions.
///
/// Keeps an odd PCM16 byte and the resampler state across calls, so transport messages may be split anywhere.
pub struct FormatDecoder {
    format: AudioFormat,
    /// A PCM16 byte whose partner has not arrived yet.
    carry: Option<u8>,
    scratch: Vec<f32>,
    resampler: StreamResampler,
    /// Output samples emitted so far; the next frame's `start_sample`.
    position: u64,
}

impl FormatDecoder {
    /// A decoder for `format`.
    pub fn new(format: AudioFormat) -> Result<Self, AudioError> {
        Ok(Self {
            format,
            carry: None,
            scratch: Vec::new(),
            resampler: StreamResampler::new(format.sample_rate(), PIPELINE_SAMPLE_RATE)?,
            position: 0,
        })
    }

    /// The wire format this decoder reads.
    pub fn format(&self) -> AudioFormat {
        self.format
    }

    /// Decodes `bytes`; returns the 16 kHz audio that is ready (possibly empty while the resampler fills).
    pub fn decode(&mut self, bytes: &[u8]) -> AudioFrame {
        self.scratch.clear();
        match self.format {
            AudioFormat::G711Ulaw => self
                .scratch
                .extend(bytes.iter().map(|&b| i16_to_f32(ulaw_to_linear(b)))),
            AudioFormat::G711Alaw => self
                .scratch
                .extend(bytes.iter().map(|&b| i16_to_f32(alaw_to_linear(b)))),
            AudioFormat::Pcm16 => {
                let mut rest = bytes;
                if let (Some(lo), Some((&hi, tail))) = (self.carry, rest.split_first()) {
                    self.scratch.push(i16_to_f32(i16::from_le_bytes([lo, hi])));
                    self.carry = None;
                    rest = tail;
                }
                pcm16le_to_f32(rest, &mut self.scratch);
                if rest.len() % 2 == 1 {
                    self.carry = rest.last().copied();
                }
            }
        }
        let mut out = Vec::with_capacity(self.scratch.len() * 2 + 64);
        self.resampler.push(&self.scratch, &mut out);
        self.emit(out)
    }

    /// Ends the stream: returns the resampler's tail. A dangling odd PCM16 byte is dropped.
    pub fn flush(&mut self) -> AudioFrame {
        self.carry = None;
        let mut out = Vec::new();
        self.resampler.flush(&mut out);
        self.emit(out)
    }

    fn emit(&mut self, samples: Vec<f32>) -> AudioFrame {
        let frame = AudioFrame::new(samples, PIPELINE_SAMPLE_RATE, self.position);
        self.position = frame.end_sample();
        frame
    }
}

/// Streaming encoder: f32 mono at a fixed input rate → bytes in `format`.
pub struct FormatEncoder {
    format: AudioFormat,
    resampler: StreamResampler,
    scratch: Vec<f32>,
}

impl FormatEncoder {
    /// An encoder taking audio at `input_rate` (e.g. Piper's 22,050 Hz) and producing `format`.
    pub fn new(format: AudioFormat, input_rate: u32) -> Result<Self, AudioError> {
        Ok(Self {
            format,
            resampler: StreamResampler::new(input_rate, format.sample_rate())?,
            scratch: Vec::new(),
        })
    }

    /// The wire format this encoder writes.
    pub fn format(&self) -> AudioFormat {
        self.format
    }

    /// Sample rate the encoder expects as input.
    pub fn input_rate(&self) -> u32 {
        self.resampler.from_rate()
    }

    /// Encodes `samples`, returning the bytes that are ready.
    pub fn encode(&mut self, samples: &[f32]) -> Vec<u8> {
        self.scratch.clear();
        self.resampler.push(samples, &mut self.scratch);
        self.pack()
    }

    /// Ends a stretch of audio (e.g. the end of an agent reply): returns the remaining bytes.
    pub fn flush(&mut self) -> Vec<u8> {
        self.scratch.clear();
        self.resampler.flush(&mut self.scratch);
        self.pack()
    }

    /// Drops buffered audio without emitting it (barge-in: the caller interrupted the agent).
    pub fn reset(&mut self) {
        self.resampler.reset();
    }

    fn pack(&self) -> Vec<u8> {
        match self.format {
            AudioFormat::Pcm16 => {
                let mut out = Vec::with_capacity(self.scratch.len() * 2);
                f32_to_pcm16le(&self.scratch, &mut out);
                out
            }
            AudioFormat::G711Ulaw => self
                .scratch
                .iter()
                .map(|&s| linear_to_ulaw(f32_to_i16(s)))
                .collect(),
            AudioFormat::G711Alaw => self
                .scratch
                .iter()
                .map(|&s| linear_to_alaw(f32_to_i16(s)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::PI;

    fn tone(rate: u32, len: usize) -> Vec<f32> {
        (0..len)
            .map(|i| 0.3 * (2.0 * PI * 500.0 * i as f32 / rate as f32).sin())
            .collect()
    }

    fn snr_db(reference: &[f32], test: &[f32]) -> f32 {
        let n = reference.len().min(test.len());
        let (lo, hi) = (n / 10, n * 9 / 10);
        let signal: f32 = reference[lo..hi].iter().map(|x| x * x).sum();
        let noise: f32 = reference[lo..hi]
            .iter()
            .zip(&test[lo..hi])
            .map(|(a, b)| (a - b) * (a - b))
            .sum();
        10.0 * (signal / noise.max(1e-12)).log10()
    }

    #[test]
    fn realtime_names_round_trip_and_serde_agrees() {
        for f in [
            AudioFormat::Pcm16,
            AudioFormat::G711Ulaw,
            AudioFormat::G711Alaw,
        ] {
            assert_eq!(AudioFormat::from_realtime_name(f.realtime_name()), Some(f));
            let json = serde_json::to_string(&f).expect("serialisable");
            assert_eq!(json, format!("\"{}\"", f.realtime_name()));
        }
        assert_eq!(AudioFormat::from_realtime_name("opus"), None);
    }

    #[test]
    fn encode_then_decode_preserves_a_tone_in_every_format() {
        let input = tone(16_000, 16_000);
        for format in [
            AudioFormat::Pcm16,
            AudioFormat::G711Ulaw,
            AudioFormat::G711Alaw,
        ] {
            let mut enc = FormatEncoder::new(format, 16_000).expect("supported");
            let mut bytes = enc.encode(&input);
            bytes.extend(enc.flush());
            assert_eq!(
                bytes.len(),
                format.sample_rate() as usize * format.bytes_per_sample()
            );
            let mut dec = FormatDecoder::new(format).expect("supported");
            let mut out = dec.decode(&bytes).samples;
            out.extend(dec.flush().samples);
            assert_eq!(out.len(), input.len(), "{format:?}");
            let snr = snr_db(&input, &out);
            // G.711 gives ~35-38 dB on speech-level tones; PCM16 is far better.
            assert!(snr > 30.0, "{format:?}: SNR {snr:.1} dB");
        }
    }

    #[test]
    fn decoder_takes_pcm16_split_at_odd_byte_boundaries() {
        let input = tone(24_000, 2_400);
        let mut bytes = Vec::new();
        f32_to_pcm16le(&input, &mut bytes);
        let mut whole = FormatDecoder::new(AudioFormat::Pcm16).expect("supported");
        let mut expected = whole.decode(&bytes).samples;
        expected.extend(whole.flush().samples);

        let mut split = FormatDecoder::new(AudioFormat::Pcm16).expect("supported");
        let mut got = Vec::new();
        let mut next_start = 0;
        for piece in bytes.chunks(333) {
            let frame = split.decode(piece);
            assert_eq!(frame.start_sample, next_start, "frames are contiguous");
            next_start = frame.end_sample();
            got.extend(frame.samples);
        }
        got.extend(split.flush().samples);
        assert_eq!(got.len(), expected.len());
        assert!(got.iter().zip(&expected).all(|(a, b)| (a - b).abs() < 1e-5));
    }

    #[test]
    fn twilio_frames_decode_to_20ms_of_pipeline_audio_on_average() {
        let mut dec = FormatDecoder::new(AudioFormat::G711Ulaw).expect("supported");
        let silence = [0xFFu8; 160];
        let mut total = 0;
        for _ in 0..50 {
            total += dec.decode(&silence).samples.len();
        }
        total += dec.flush().samples.len();
        assert_eq!(total, 16_000);
    }
}
