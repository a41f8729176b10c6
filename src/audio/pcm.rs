//! Sample conversions: f32 in [-1, 1] (what the pipeline and the models use) ↔ i16 ↔ PCM16 little-endian bytes
//! (what the OpenAI Realtime protocol carries, base64-encoded).

/// Full scale of a 16-bit sample; `i16::MIN` maps to exactly -1.0.
const SCALE: f32 = 32768.0;

/// f32 sample → i16, rounding and clipping (models can overshoot ±1.0 slightly).
#[inline]
pub fn f32_to_i16(sample: f32) -> i16 {
    // NaN saturates to 0 in `as`, which is the right silence for a broken sample.
    (sample * SCALE)
        .round()
        .clamp(i16::MIN as f32, i16::MAX as f32) as i16
}

/// i16 sample → f32 in [-1, 1).
#[inline]
pub fn i16_to_f32(sample: i16) -> f32 {
    f32::from(sample) / SCALE
}

/// PCM16 LE bytes → f32 samples, appended to `out`. A trailing odd byte is ignored; streaming callers keep it
/// themselves (see [`crate::audio::FormatDecoder`]).
pub fn pcm16le_to_f32(bytes: &[u8], out: &mut Vec<f32>) {
    out.reserve(bytes.len() / 2);
    out.extend(
        bytes
            .chunks_exact(2)
            .map(|pair| i16_to_f32(i16::from_le_bytes([pair[0], pair[1]]))),
    );
}

/// f32 samples → PCM16 LE bytes, appended to `out`.
pub fn f32_to_pcm16le(samples: &[f32], out: &mut Vec<u8>) {
    out.reserve(samples.len() * 2);
    for &s in samples {
        out.extend_from_slice(&f32_to_i16(s).to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i16_round_trips_exactly() {
        for s in i16::MIN..=i16::MAX {
            assert_eq!(f32_to_i16(i16_to_f32(s)), s);
        }
    }

    #[test]
    fn f32_clips_and_handles_nan() {
        assert_eq!(f32_to_i16(1.5), i16::MAX);
        assert_eq!(f32_to_i16(-1.5), i16::MIN);
        assert_eq!(f32_to_i16(f32::NAN), 0);
        assert_eq!(f32_to_i16(0.5), 16384);
    }

    #[test]
    fn bytes_are_little_endian() {
        let mut bytes = Vec::new();
        f32_to_pcm16le(&[i16_to_f32(0x0102), i16_to_f32(-2)], &mut bytes);
        assert_eq!(bytes, [0x02, 0x01, 0xFE, 0xFF]);
        let mut samples = Vec::new();
        pcm16le_to_f32(&[0x02, 0x01, 0xFE, 0xFF, 0x7F], &mut samples);
        assert_eq!(samples.len(), 2, "odd trailing byte is left out");
        assert_eq!(f32_to_i16(samples[0]), 0x0102);
        assert_eq!(f32_to_i16(samples[1]), -2);
    }
}
