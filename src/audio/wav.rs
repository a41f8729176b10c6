//! WAV in and out through `hound`: call recordings, fixtures for tests and benchmarks.

use std::io::{Read, Seek, Write};
use std::path::Path;

use super::pcm::f32_to_i16;
use super::{AudioError, AudioFrame};

impl From<hound::Error> for AudioError {
    fn from(e: hound::Error) -> Self {
        AudioError::Wav(e.to_string())
    }
}

/// Reads a WAV file as mono f32 (multi-channel audio is averaged). Accepts 8/16/24/32-bit integer and 32-bit
/// float samples.
pub fn read_wav(path: impl AsRef<Path>) -> Result<AudioFrame, AudioError> {
    let path = path.as_ref();
    let reader = hound::WavReader::open(path)
        .map_err(|e| AudioError::Wav(format!("{}: {e}", path.display())))?;
    decode(reader)
}

/// Reads WAV data from any seekable reader; see [`read_wav`].
pub fn read_wav_from<R: Read>(reader: R) -> Result<AudioFrame, AudioError> {
    decode(hound::WavReader::new(reader)?)
}

fn decode<R: Read>(mut reader: hound::WavReader<R>) -> Result<AudioFrame, AudioError> {
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => {
            let samples: Vec<f32> = reader.samples::<f32>().collect::<Result<_, _>>()?;
            if let Some(i) = samples.iter().position(|s| !s.is_finite()) {
                return Err(AudioError::Wav(format!("sample {i} is not a number")));
            }
            samples
        }
        hound::SampleFormat::Int => {
            if !(1..=32).contains(&spec.bits_per_sample) {
                return Err(AudioError::Wav(format!(
                    "unsupported bit depth {}",
                    spec.bits_per_sample
                )));
            }
            let scale = (1u64 << (spec.bits_per_sample - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| v as f32 / scale))
                .collect::<Result<_, _>>()?
        }
    };
    let samples = if channels == 1 {
        interleaved
    } else {
        interleaved
            .chunks_exact(channels)
            .map(|frame| frame.iter().sum::<f32>() / channels as f32)
            .collect()
    };
    Ok(AudioFrame::new(samples, spec.sample_rate, 0))
}

/// Writes mono PCM16 WAV.
pub fn write_wav(
    path: impl AsRef<Path>,
    samples: &[f32],
    sample_rate: u32,
) -> Result<(), AudioError> {
    let file = std::fs::File::create(path.as_ref())
        .map_err(|e| AudioError::Wav(format!("{}: {e}", path.as_ref().display())))?;
    write_wav_to(std::io::BufWriter::new(file), samples, sample_rate)
}

/// Writes mono PCM16 WAV to any seekable writer.
pub fn write_wav_to<W: Write + Seek>(
    writer: W,
    samples: &[f32],
    sample_rate: u32,
) -> Result<(), AudioError> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::new(writer, spec)?;
    for &s in samples {
        w.write_sample(f32_to_i16(s))?;
    }
    Ok(w.finalize()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn pcm16_wav_round_trips() {
        let samples: Vec<f32> = (0..1000).map(|i| (i as f32 / 1000.0) - 0.5).collect();
        let mut buf = Cursor::new(Vec::new());
        write_wav_to(&mut buf, &samples, 8_000).expect("in-memory write");
        buf.set_position(0);
        let frame = read_wav_from(buf).expect("valid wav");
        assert_eq!(frame.sample_rate, 8_000);
        assert_eq!(frame.samples.len(), samples.len());
        assert!(
            frame
                .samples
                .iter()
                .zip(&samples)
                .all(|(a, b)| (a - b).abs() < 1e-4)
        );
    }

    #[test]
    fn non_finite_float_samples_are_refused() {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16_000,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let mut buf = Cursor::new(Vec::new());
        let mut w = hound::WavWriter::new(&mut buf, spec).expect("in-memory writer");
        for s in [0.0, 0.5, f32::NAN] {
            w.write_sample(s).expect("in-memory write");
        }
        w.finalize().expect("in-memory write");
        buf.set_position(0);
        let err = read_wav_from(buf).unwrap_err();
        assert!(err.to_string().contains("sample 2"), "{err}");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(read_wav_from(Cursor::new(b"RIFF....not a wav".to_vec())).is_err());
    }
}
