//! The agent's side of a turn: one task per response that asks the brain, cuts its streamed text into sentences,
//! synthesises each as soon as it is complete, and hands the session encoded audio, sentence by sentence.
//!
//! The session owns playback (pacing, marks, barge-in); this task only produces. It runs beside the session so
//! that the LLM stream, TTS and the caller's audio all progress at once. Dropping or aborting it (barge-in) stops
//! the LLM request at once; a synthesis already on the TTS pool finishes there and is thrown away.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::audio::{AudioFormat, FormatEncoder, samples_to_ms, tones};
use crate::brain::{AgentSpec, Brain, BrainEvent, Conversation, Finish, Turn};
use crate::error::{ErrorCode, Reportable as _};
use crate::voice::{SentenceChunker, TextToSpeech, VoiceError};

/// What the agent is asked to say.
pub enum Script {
    /// Whatever the LLM answers to the conversation.
    Think {
        spec: Arc<AgentSpec>,
        conversation: Conversation,
    },
    /// Exactly this text (the first message, the silence reprompt).
    Say(String),
}

/// One sentence, ready to play.
#[derive(Debug)]
pub struct Sentence {
    pub text: String,
    /// Encoded in the response's output format; `None` when TTS failed or is unavailable (text only).
    pub audio: Option<Vec<u8>>,
    /// The TTS error's code as the wire shows it, when there is no audio because synthesis failed.
    pub tts_error: Option<String>,
}

/// What a response task reports, in order.
#[derive(Debug)]
pub enum Output {
    /// The first text (or tool call) from the LLM.
    FirstToken(Instant),
    Sentence(Sentence),
    ToolCall {
        id: String,
        name: String,
        arguments: String,
    },
    ToolResult {
        name: String,
        ok: bool,
        /// Why it failed (`None` when it worked).
        code: Option<ErrorCode>,
        elapsed: Duration,
    },
    EndCall {
        reason: Option<String>,
    },
    Transfer {
        to: String,
        reason: Option<String>,
    },
    /// Keys pressed (`send_dtmf`); their tones follow as a sentence without text.
    KeysPressed {
        digits: String,
    },
    Usage {
        prompt_tokens: u32,
        completion_tokens: u32,
    },
    ProviderFailed {
        provider: String,
        code: ErrorCode,
        message: String,
        mid_stream: bool,
    },
    /// The LLM's response was cut off at a limit (`code` says which).
    ReplyCut {
        code: ErrorCode,
        limit: usize,
    },
    /// No provider answered: the sentences that follow are the agent's apology.
    Apologising,
    /// The response is complete; `turns` are what it adds to the conversation (tool rounds, then its text).
    Done {
        turns: Vec<Turn>,
        finish: Finish,
    },
}

/// A running response task.
pub struct Responder {
    pub outputs: mpsc::Receiver<Output>,
    task: JoinHandle<()>,
}

impl Responder {
    /// Starts producing `script` for a client listening in `format`, spoken at `speed` (`tts: None`: text
    /// only).
    pub fn start(
        brain: Brain,
        script: Script,
        tts: Option<Arc<TextToSpeech>>,
        format: AudioFormat,
        speed: f32,
    ) -> Self {
        let (tx, outputs) = mpsc::channel(16);
        let task = tokio::spawn(async move {
            let mut voice = Voice::new(tts, format, speed, tx.clone());
            match script {
                Script::Say(text) => {
                    let _ = voice.say_all(&text).await;
                    let turns = vec![Turn::Assistant(text)];
                    let _ = tx
                        .send(Output::Done {
                            turns,
                            finish: Finish::Stop,
                        })
                        .await;
                }
                Script::Think { spec, conversation } => {
                    let _ = think(&brain, spec, &conversation, &mut voice, &tx).await;
                }
            }
        });
        Self { outputs, task }
    }

    /// Stops the response now (barge-in, cancel, end of call).
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The session went away: nothing more to do.
struct Gone;

impl<T> From<mpsc::error::SendError<T>> for Gone {
    fn from(_: mpsc::error::SendError<T>) -> Self {
        Gone
    }
}

async fn think(
    brain: &Brain,
    spec: Arc<AgentSpec>,
    conversation: &Conversation,
    voice: &mut Voice,
    tx: &mpsc::Sender<Output>,
) -> Result<(), Gone> {
    let send = |output: Output| async move { Ok::<_, Gone>(tx.send(output).await?) };
    // Dropping the reply (when this task is aborted) aborts the LLM request.
    let mut reply = brain.reply(spec, conversation, CancellationToken::new());
    let mut first = true;
    while let Some(event) = reply.next().await {
        let starts_reply = matches!(
            event,
            BrainEvent::TextDelta(_) | BrainEvent::ToolCall { .. }
        );
        if first && starts_reply {
            first = false;
            send(Output::FirstToken(Instant::now())).await?;
        }
        match event {
            BrainEvent::TextDelta(text) => voice.push(&text).await?,
            BrainEvent::Apology(text) => {
                voice.flush().await?;
                send(Output::Apologising).await?;
                voice.say_all(&text).await?;
            }
            BrainEvent::ToolCall {
                id,
                name,
                arguments,
            } => {
                voice.flush().await?;
                send(Output::ToolCall {
                    id,
                    name,
                    arguments,
                })
                .await?;
            }
            BrainEvent::ToolResult {
                name,
                ok,
                code,
                elapsed,
                ..
            } => {
                send(Output::ToolResult {
                    name,
                    ok,
                    code,
                    elapsed,
                })
                .await?
            }
            BrainEvent::ReplyCut { code, limit, .. } => {
                send(Output::ReplyCut { code, limit }).await?
            }
            BrainEvent::EndCall { reason } => {
                voice.flush().await?;
                send(Output::EndCall { reason }).await?;
            }
            BrainEvent::TransferCall { to, reason } => {
                voice.flush().await?;
                send(Output::Transfer { to, reason }).await?;
            }
            BrainEvent::SendDtmf { digits } => {
                voice.flush().await?;
                send(Output::KeysPressed {
                    digits: digits.clone(),
                })
                .await?;
                voice.keys(&digits).await?;
            }
            BrainEvent::Usage {
                prompt_tokens,
                completion_tokens,
                ..
            } => {
                send(Output::Usage {
                    prompt_tokens,
                    completion_tokens,
                })
                .await?
            }
            BrainEvent::ProviderFailed {
                provider,
                error,
                mid_stream,
            } => {
                send(Output::ProviderFailed {
                    provider,
                    code: error.code(),
                    message: error.to_string(),
                    mid_stream,
                })
                .await?
            }
            BrainEvent::Done(summary) => {
                voice.flush().await?;
                send(Output::Done {
                    turns: summary.turns,
                    finish: summary.finish,
                })
                .await?;
            }
        }
    }
    Ok(())
}

/// The first chunk of an answer may end at a clause of this many words ("Tomorrow we open at nine, ...").
const FIRST_CLAUSE_WORDS: usize = 4;

/// Sentence chunking, synthesis and encoding of one response.
struct Voice {
    chunker: SentenceChunker,
    tts: Option<Arc<TextToSpeech>>,
    encoder: Option<FormatEncoder>,
    format: AudioFormat,
    speed: f32,
    tx: mpsc::Sender<Output>,
}

impl Voice {
    fn new(
        tts: Option<Arc<TextToSpeech>>,
        format: AudioFormat,
        speed: f32,
        tx: mpsc::Sender<Output>,
    ) -> Self {
        Self {
            chunker: SentenceChunker::default().with_first_clause(FIRST_CLAUSE_WORDS),
            tts,
            encoder: None,
            format,
            speed,
            tx,
        }
    }

    async fn push(&mut self, text: &str) -> Result<(), Gone> {
        for sentence in self.chunker.push(text) {
            self.speak(sentence).await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), Gone> {
        if let Some(rest) = self.chunker.finish() {
            self.speak(rest).await?;
        }
        Ok(())
    }

    async fn say_all(&mut self, text: &str) -> Result<(), Gone> {
        self.push(text).await?;
        self.flush().await
    }

    /// Plays `digits` as DTMF tones, in order with the sentences around them.
    async fn keys(&mut self, digits: &str) -> Result<(), Gone> {
        let rate = self.format.sample_rate();
        let samples = tones::dtmf(digits, rate);
        let audio = FormatEncoder::new(self.format, rate)
            .map(|mut encoder| {
                let mut bytes = encoder.encode(&samples);
                bytes.extend(encoder.flush());
                bytes
            })
            .inspect_err(|e| tracing::warn!(error = %e, "cannot encode DTMF tones"))
            .ok();
        let sentence = Sentence {
            text: String::new(),
            audio,
            tts_error: None,
        };
        Ok(self.tx.send(Output::Sentence(sentence)).await?)
    }

    async fn speak(&mut self, text: String) -> Result<(), Gone> {
        let (audio, tts_error) = match self.synthesize(&text).await {
            Ok(audio) => (audio, None),
            Err(error) => {
                tracing::warn!(error = %error, "speech synthesis failed; sending text only");
                (None, Some(error.code().wire()))
            }
        };
        let sentence = Sentence {
            text,
            audio,
            tts_error,
        };
        Ok(self.tx.send(Output::Sentence(sentence)).await?)
    }

    /// `Ok(None)`: no TTS on this server (not an error of this sentence).
    async fn synthesize(&mut self, text: &str) -> Result<Option<Vec<u8>>, VoiceError> {
        let Some(tts) = &self.tts else {
            return Ok(None);
        };
        let speech = tts.synthesize(text, self.speed).await?;
        metrics::histogram!("voxedge_tts_seconds").record(speech.processing_time.as_secs_f64());
        metrics::counter!("voxedge_tts_audio_ms_total").increment(samples_to_ms(
            speech.samples.len() as u64,
            speech.sample_rate,
        ));
        let encoder = match &mut self.encoder {
            Some(encoder) => encoder,
            None => self
                .encoder
                .insert(FormatEncoder::new(self.format, speech.sample_rate)?),
        };
        let mut bytes = encoder.encode(&speech.samples);
        bytes.extend(encoder.flush());
        encoder.reset();
        Ok(Some(bytes))
    }
}
