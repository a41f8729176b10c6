//! Harnesses for the audio layer: G.711 and PCM16 decoding, WAV files, the streaming resampler.

use std::io::Cursor;

use super::Input;
use crate::audio::g711::{alaw_to_linear, linear_to_alaw, linear_to_ulaw, ulaw_to_linear};
use crate::audio::pcm::i16_to_f32;
use crate::audio::wav::read_wav_from;
use crate::audio::{
    AudioError, AudioFormat, FormatDecoder, FormatEncoder, PIPELINE_SAMPLE_RATE, StreamResampler,
};

const FORMATS: [AudioFormat; 3] = [
    AudioFormat::G711Ulaw,
    AudioFormat::G711Alaw,
    AudioFormat::Pcm16,
];

/// Rates the transports and voice engines use, and a few others the resampler should take.
const RATES: [u32; 9] = [
    8_000, 11_025, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000, 96_000,
];

/// Largest magnitude a resampler may give for input within [-1, 1]. Speech overshoots by a few percent (Gibbs),
/// but the worst input (full-scale signs matched to the filter's taps) reaches the filter's L1 norm: the fuzzer
/// found -2.03 from a full-scale square-ish wave. Playback clips anyway; beyond this the filter misbehaves.
const MAX_OVERSHOOT: f32 = 4.0;

/// G.711 both ways and the streaming wire decoder (G.711 or PCM16 → 16 kHz f32).
///
/// Invariants: every code survives decode → encode (but mu-law's "negative zero"); 16-bit samples survive
/// encode → decode within the segment's step; the streaming decoder's frames are contiguous, finite, within
/// range, total `ceil(samples × 16000 / rate)` after `flush`, and do not depend on where the bytes were split.
pub fn g711(data: &[u8]) {
    let mut input = Input::new(data);
    let format = input.pick(&FORMATS);
    let split_seed = input.u16();
    let bytes = input.rest();

    for &code in bytes {
        let u = ulaw_to_linear(code);
        let expected = if code == 0x7F { 0xFF } else { code };
        assert_eq!(linear_to_ulaw(u), expected, "mu-law code {code:#04x}");
        assert_eq!(
            linear_to_alaw(alaw_to_linear(code)),
            code,
            "A-law code {code:#04x}"
        );
    }
    for pair in bytes.chunks_exact(2) {
        let s = i16::from_le_bytes([pair[0], pair[1]]);
        let x = i32::from(s);
        // Mu-law clips above 32124; elsewhere the error is within half a segment step (~1/32 of the value).
        let tolerance = if x.abs() > 32_000 {
            700
        } else {
            x.abs() / 16 + 16
        };
        let u = i32::from(ulaw_to_linear(linear_to_ulaw(s)));
        let a = i32::from(alaw_to_linear(linear_to_alaw(s)));
        assert!((u - x).abs() <= tolerance, "mu-law {s} -> {u}");
        assert!((a - x).abs() <= tolerance, "A-law {s} -> {a}");
    }

    let one_shot = decode_in_pieces(format, bytes, &[bytes.len().max(1)]);
    let samples = (bytes.len() / format.bytes_per_sample()) as u64;
    let expected =
        (samples * u64::from(PIPELINE_SAMPLE_RATE)).div_ceil(u64::from(format.sample_rate()));
    assert_eq!(
        one_shot.len() as u64,
        expected,
        "{format:?}: {samples} samples in"
    );
    // Piece lengths from the seed: 1..=64 bytes, odd ones included so PCM16 samples straddle messages.
    let pieces: Vec<usize> = (0..8)
        .map(|i| 1 + usize::from((split_seed >> (2 * i)) as u8 & 0x3F))
        .collect();
    let split = decode_in_pieces(format, bytes, &pieces);
    assert_eq!(split.len(), one_shot.len(), "{format:?}: split decoding");
    for (i, (a, b)) in split.iter().zip(&one_shot).enumerate() {
        assert!((a - b).abs() < 1e-4, "{format:?}: sample {i}: {a} vs {b}");
    }
}

/// Decodes `bytes` in pieces of the given lengths (cycled), checking each frame; returns all samples.
fn decode_in_pieces(format: AudioFormat, bytes: &[u8], pieces: &[usize]) -> Vec<f32> {
    let mut decoder = FormatDecoder::new(format).expect("invariant: every wire format decodes");
    let mut out = Vec::new();
    let check = |frame: crate::audio::AudioFrame, out: &mut Vec<f32>| {
        assert_eq!(frame.sample_rate, PIPELINE_SAMPLE_RATE);
        assert_eq!(
            frame.start_sample,
            out.len() as u64,
            "frames are contiguous"
        );
        assert_samples_in_range(&frame.samples);
        out.extend(frame.samples);
    };
    let mut rest = bytes;
    for &n in pieces.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at(n.min(rest.len()));
        rest = tail;
        check(decoder.decode(piece), &mut out);
    }
    check(decoder.flush(), &mut out);
    out
}

fn assert_samples_in_range(samples: &[f32]) {
    for (i, s) in samples.iter().enumerate() {
        assert!(
            s.is_finite() && s.abs() <= MAX_OVERSHOOT,
            "sample {i} is {s}"
        );
    }
}

/// WAV decoding, of arbitrary bytes or of a header built from the input (format, channels, bit depth, sizes)
/// over an arbitrary body.
///
/// Invariants: `Ok` or [`AudioError::Wav`] with a message; integer samples within [-1, 1]; no more samples than
/// the body has bytes.
pub fn wav(data: &[u8]) {
    let mut input = Input::new(data);
    let bytes = if input.u8() < 64 {
        input.rest().to_vec()
    } else {
        wav_file(&mut input)
    };
    match read_wav_from(Cursor::new(&bytes)) {
        Ok(frame) => {
            assert!(
                frame.samples.len() <= bytes.len(),
                "more samples than bytes"
            );
            let integer = hound::WavReader::new(Cursor::new(&bytes))
                .is_ok_and(|r| r.spec().sample_format == hound::SampleFormat::Int);
            for (i, s) in frame.samples.iter().enumerate() {
                assert!(
                    s.is_finite(),
                    "sample {i} is {s}: non-finite samples are refused"
                );
                assert!(!integer || s.abs() <= 1.0, "integer sample {i} is {s}");
            }
        }
        Err(AudioError::Wav(message)) => assert!(!message.is_empty()),
        Err(other) => panic!("WAV decoding failed with a non-WAV error: {other:?}"),
    }
}

/// A RIFF/WAVE file whose `fmt ` fields and chunk sizes come from the input: usually consistent, sometimes
/// not.
fn wav_file(input: &mut Input<'_>) -> Vec<u8> {
    let format_tag: u16 = input.pick(&[1, 1, 3, 3, 0xFFFE, 0, 2, 7]);
    let channels: u16 = input.pick(&[1, 1, 2, 6, 0, 0xFFFF]);
    let rate: u32 = if input.bool() {
        input.pick(&RATES)
    } else {
        input.u32()
    };
    let bits: u16 = input.pick(&[8, 16, 24, 32, 64, 0, 1, 12, 33]);
    let consistent = input.u8() < 200;
    let block_align = if consistent {
        channels.wrapping_mul(bits.div_ceil(8))
    } else {
        input.u16()
    };
    let byte_rate = rate.wrapping_mul(u32::from(block_align));
    let extra_chunk = input.bool();
    let body = input.rest();
    let data_len = if consistent {
        body.len() as u32
    } else {
        (body.len() as u32).wrapping_add(u32::from(block_align))
    };

    let mut fmt = Vec::new();
    fmt.extend_from_slice(&format_tag.to_le_bytes());
    fmt.extend_from_slice(&channels.to_le_bytes());
    fmt.extend_from_slice(&rate.to_le_bytes());
    fmt.extend_from_slice(&byte_rate.to_le_bytes());
    fmt.extend_from_slice(&block_align.to_le_bytes());
    fmt.extend_from_slice(&bits.to_le_bytes());
    if format_tag == 0xFFFE {
        // WAVEFORMATEXTENSIBLE: valid bits, channel mask, sub-format GUID (PCM or IEEE float).
        fmt.extend_from_slice(&22u16.to_le_bytes());
        fmt.extend_from_slice(&bits.to_le_bytes());
        fmt.extend_from_slice(&0u32.to_le_bytes());
        let sub: u8 = if rate.is_multiple_of(2) { 1 } else { 3 };
        fmt.extend_from_slice(&[
            sub, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71,
        ]);
    }

    let mut file = Vec::with_capacity(64 + body.len());
    file.extend_from_slice(b"RIFF");
    let riff_len_at = file.len();
    file.extend_from_slice(&0u32.to_le_bytes());
    file.extend_from_slice(b"WAVE");
    file.extend_from_slice(b"fmt ");
    file.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
    file.extend_from_slice(&fmt);
    if extra_chunk {
        file.extend_from_slice(b"LIST");
        file.extend_from_slice(&3u32.to_le_bytes());
        file.extend_from_slice(b"abc\0");
    }
    file.extend_from_slice(b"data");
    file.extend_from_slice(&data_len.to_le_bytes());
    file.extend_from_slice(body);
    let riff_len = (file.len() as u32).saturating_sub(8);
    file[riff_len_at..riff_len_at + 4].copy_from_slice(&riff_len.to_le_bytes());
    file
}

/// The streaming resampler between any two rates, fed in pieces with resets and flushes between, and the
/// wire encoder on top of it.
///
/// Invariants: rates the voice engines use are accepted and others are `Ok` or [`AudioError::UnsupportedRate`];
/// output never runs ahead of `input × to / from`; each stream totals exactly `ceil(input × to / from)` after
/// `flush`; output is finite and within range for input within [-1, 1]; chunking does not change the output.
pub fn resampler(data: &[u8]) {
    let mut input = Input::new(data);
    let rate = |input: &mut Input<'_>| {
        if input.u8() < 224 {
            input.pick(&RATES)
        } else {
            // Any rate, mostly in the range the resampler claims to handle.
            input.u32() % 400_000
        }
    };
    let (from, to) = (rate(&mut input), rate(&mut input));
    let wild = input.u8() == 0xFF;
    let mut resampler = match StreamResampler::new(from, to) {
        Ok(r) => r,
        Err(AudioError::UnsupportedRate { from: f, to: t }) => {
            assert_eq!((f, t), (from, to));
            assert!(
                !(RATES.contains(&from) && RATES.contains(&to)),
                "{from} -> {to} must be supported"
            );
            return;
        }
        Err(other) => panic!("unexpected error {other:?}"),
    };
    let expected = |n: u64| (n * u64::from(to)).div_ceil(u64::from(from));

    let mut stream_in: Vec<f32> = Vec::new();
    let mut stream_out: Vec<f32> = Vec::new();
    while !input.is_empty() {
        match input.u8() {
            0..=3 => {
                resampler.reset();
                stream_in.clear();
                stream_out.clear();
            }
            4..=11 => {
                resampler.flush(&mut stream_out);
                check_stream(from, to, &stream_in, &stream_out, wild);
                stream_in.clear();
                stream_out.clear();
            }
            op => {
                let len = usize::from(op) * 4 + input.below(64);
                let piece = samples(&mut input, len, wild);
                resampler.push(&piece, &mut stream_out);
                stream_in.extend_from_slice(&piece);
                assert!(
                    (stream_out.len() as u64) <= expected(stream_in.len() as u64),
                    "{from} -> {to}: {} out for {} in",
                    stream_out.len(),
                    stream_in.len()
                );
            }
        }
    }
    resampler.flush(&mut stream_out);
    check_stream(from, to, &stream_in, &stream_out, wild);

    // The wire encoder (agent audio → Twilio / Realtime) on the same input: one byte per G.711 sample, two per
    // PCM16 sample, exactly as many samples as the resampler gives.
    if !wild && RATES.contains(&from) {
        for format in FORMATS {
            let mut encoder = FormatEncoder::new(format, from).expect("invariant: supported rates");
            let mut bytes = encoder.encode(&stream_in);
            bytes.extend(encoder.flush());
            let n = (stream_in.len() as u64 * u64::from(format.sample_rate()))
                .div_ceil(u64::from(from));
            assert_eq!(bytes.len() as u64, n * format.bytes_per_sample() as u64);
        }
    }
}

/// `len` samples: 16-bit values scaled to [-1, 1), or (`wild`) any f32 bit pattern, NaN and infinities too.
fn samples(input: &mut Input<'_>, len: usize, wild: bool) -> Vec<f32> {
    (0..len)
        .map(|_| {
            if wild {
                f32::from_bits(input.u32())
            } else {
                i16_to_f32(input.u16() as i16)
            }
        })
        .collect()
}

/// One stream's output after `flush`: its exact length, its range, and that resampling its input in one go
/// gives the same samples as the pieces did.
fn check_stream(from: u32, to: u32, input: &[f32], output: &[f32], wild: bool) {
    let expected = (input.len() as u64 * u64::from(to)).div_ceil(u64::from(from));
    assert_eq!(
        output.len() as u64,
        expected,
        "{from} -> {to}: {} in",
        input.len()
    );
    if wild {
        return;
    }
    assert_samples_in_range(output);
    let whole = StreamResampler::process_all(from, to, input).expect("invariant: accepted before");
    assert_eq!(whole.len(), output.len());
    for (i, (a, b)) in output.iter().zip(&whole).enumerate() {
        assert!(
            (a - b).abs() < 1e-4,
            "{from} -> {to}: sample {i}: {a} vs {b}"
        );
    }
}
