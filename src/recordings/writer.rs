//! Recording one live call: the session hands both sides' audio, as sent and received, to a task on the blocking
//! pool that decodes it, lays it on the call's [`Timeline`] and streams it into a FLAC file as it goes. The session
//! never waits: a piece that finds the queue full is dropped (and counted) rather than slow the call.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::time::Duration;

use flac_codec::encode::{FlacSampleWriter, Options};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::timeline::Timeline;
use crate::audio::pcm::f32_to_i16;
use crate::audio::{AudioError, AudioFormat, FormatDecoder, PIPELINE_SAMPLE_RATE};
use crate::repo::recordings::RecordingRow;

/// Pieces waiting for the writer (a few seconds of a call's messages).
const QUEUE: usize = 1024;
/// Audio this recent may still change (agent audio is sent up to 200 ms ahead of playback and may be cut).
const SETTLE: Duration = Duration::from_secs(1);
/// Samples written to the encoder at once, at least (a FLAC block is 4096).
const WRITE_AT_LEAST: u64 = 4096;

enum Piece {
    Caller {
        bytes: Vec<u8>,
        at: Duration,
    },
    InputFormat(AudioFormat),
    Agent {
        bytes: Vec<u8>,
        format: AudioFormat,
        at: Duration,
    },
    Cut {
        at: Duration,
    },
    End {
        at: Duration,
    },
}

/// Why a call's recording could not be written (logged; the call goes on without it).
#[derive(Debug, thiserror::Error)]
enum WriteError {
    #[error("cannot create the file: {0}")]
    Create(std::io::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Flac(#[from] flac_codec::Error),
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error("the call ended without finishing its recording")]
    Unfinished,
}

/// A finished recording.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Finished {
    duration_ms: i64,
    size_bytes: i64,
}

/// The session's handle on its call's recording.
pub struct CallRecording {
    call_id: String,
    file_name: String,
    tx: mpsc::Sender<Piece>,
    started: Instant,
    done: oneshot::Receiver<Option<Finished>>,
}

fn samples(at: Duration) -> u64 {
    (at.as_micros() * u128::from(PIPELINE_SAMPLE_RATE) / 1_000_000) as u64
}

impl CallRecording {
    /// Starts recording call `call_id` into `path` (named `file_name` in its folder); the caller's audio comes in
    /// `input` format. Time 0 is now.
    pub(super) fn start(
        call_id: &str,
        path: PathBuf,
        file_name: String,
        input: AudioFormat,
    ) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let (done_tx, done) = oneshot::channel();
        tokio::task::spawn_blocking(move || {
            let finished = match record(&path, input, rx) {
                Ok(finished) => Some(finished),
                Err(why) => {
                    tracing::error!(path = %path.display(), error = %why, "cannot record the call");
                    let _ = std::fs::remove_file(&path);
                    None
                }
            };
            let _ = done_tx.send(finished);
        });
        Self {
            call_id: call_id.to_string(),
            file_name,
            tx,
            started: Instant::now(),
            done,
        }
    }

    fn at(&self, when: Instant) -> Duration {
        when.saturating_duration_since(self.started)
    }

    fn offer(&self, piece: Piece) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(piece) {
            metrics::counter!("voxedge_recording_dropped_total").increment(1);
        }
    }

    /// Caller audio as received, in the input format.
    pub fn caller(&self, bytes: &[u8]) {
        let at = self.at(Instant::now());
        self.offer(Piece::Caller {
            bytes: bytes.to_vec(),
            at,
        });
    }

    /// The caller's audio format changed.
    pub fn input_format(&self, format: AudioFormat) {
        self.offer(Piece::InputFormat(format));
    }

    /// Agent audio as sent to play now (or right after what was sent before), in `format`.
    pub fn agent(&self, bytes: &[u8], format: AudioFormat) {
        let at = self.at(Instant::now());
        self.offer(Piece::Agent {
            bytes: bytes.to_vec(),
            format,
            at,
        });
    }

    /// The agent's playback stopped at `when` (barge-in, cancel, hang-up).
    pub fn cut(&self, when: Instant) {
        self.offer(Piece::Cut { at: self.at(when) });
    }

    /// Ends the recording now and waits for the file to be complete; returns its listing. `None`: it could not
    /// be written.
    pub async fn finish(self) -> Option<RecordingRow> {
        let at = self.at(Instant::now());
        // The call is over: waiting for room here delays nobody.
        if self.tx.send(Piece::End { at }).await.is_err() {
            return None;
        }
        drop(self.tx);
        let done = self.done.await.ok().flatten()?;
        Some(RecordingRow {
            call_id: self.call_id,
            file_name: self.file_name,
            duration_ms: done.duration_ms,
            size_bytes: done.size_bytes,
            created_at: crate::clock::now_ms(),
        })
    }
}

/// Decodes a side's wire audio to 16-bit samples at the recording rate.
struct Side {
    decoder: Option<FormatDecoder>,
}

impl Side {
    fn decode(&mut self, format: AudioFormat, bytes: &[u8]) -> Result<Vec<i16>, AudioError> {
        if self.decoder.as_ref().is_none_or(|d| d.format() != format) {
            self.decoder = Some(FormatDecoder::new(format)?);
        }
        let decoder = self.decoder.as_mut().expect("invariant: set just above");
        Ok(decoder
            .decode(bytes)
            .samples
            .iter()
            .map(|&s| f32_to_i16(s))
            .collect())
    }
}

fn record(
    path: &PathBuf,
    input: AudioFormat,
    mut rx: mpsc::Receiver<Piece>,
) -> Result<Finished, WriteError> {
    let file = File::create(path).map_err(WriteError::Create)?;
    let mut flac = FlacSampleWriter::new(
        BufWriter::new(file),
        // The fastest settings: a call's two 16 kHz channels cost little CPU, on the blocking pool.
        Options::fast(),
        PIPELINE_SAMPLE_RATE,
        16,
        2,
        None,
    )?;
    let mut timeline = Timeline::default();
    let mut caller = Side { decoder: None };
    let mut agent = Side { decoder: None };
    let mut input = input;
    let mut end = None;
    while let Some(piece) = rx.blocking_recv() {
        let now = match piece {
            Piece::Caller { bytes, at } => {
                timeline.caller(&caller.decode(input, &bytes)?, samples(at));
                at
            }
            Piece::InputFormat(format) => {
                input = format;
                continue;
            }
            Piece::Agent { bytes, format, at } => {
                timeline.agent(&agent.decode(format, &bytes)?, samples(at));
                at
            }
            Piece::Cut { at } => {
                timeline.cut(samples(at));
                at
            }
            Piece::End { at } => {
                end = Some(at);
                break;
            }
        };
        let settled = samples(now.saturating_sub(SETTLE));
        if settled >= timeline.flushed() + WRITE_AT_LEAST {
            flac.write(&timeline.drain(settled))?;
        }
    }
    let end = end.ok_or(WriteError::Unfinished)?;
    // Audio queued for after the hang-up never played.
    timeline.cut(samples(end));
    let last = timeline.end().max(samples(end));
    flac.write(&timeline.drain(last))?;
    flac.finalize()?;
    let size = std::fs::metadata(path)?.len();
    Ok(Finished {
        duration_ms: i64::try_from(last * 1000 / u64::from(PIPELINE_SAMPLE_RATE))
            .unwrap_or(i64::MAX),
        size_bytes: i64::try_from(size).unwrap_or(i64::MAX),
    })
}
