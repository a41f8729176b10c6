//! The call driver: one task per live call, wiring socket, listener, STT, the agent and storage.
//!
//! It creates the call, moves it to `in_progress`, and then reacts to whichever comes first: a client message,
//! a finished transcription, the agent's response (text, audio due for playback), an end-call rule, a ping
//! tick, or server shutdown. However the call ends — the client hangs up, closes, vanishes, stops reading,
//! breaks the protocol, an end-call rule fires, or the server shuts down — the last words are transcribed, the
//! call reaches a terminal state with an `endedReason`, and its usage is recorded.
//!
//! This file is the caller's side (listening, transcribing); [`agent`] is the agent's (responses, playback), with
//! [`barge_in`] (the caller talking over it), [`ending`] (end-call rules) and [`turn_timer`] (per-turn latency).

mod agent;
mod barge_in;
mod ending;
mod turn_timer;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket, close_code};
use futures::StreamExt as _;
use futures::stream::{FuturesOrdered, SplitStream};
use serde_json::json;

use super::listen::Listener;
use super::protocol::{ClientError, Command, Event, Protocol};
use super::socket::{self, Gone, Incoming, Outbox};
use crate::agents::ActiveAgent;
use crate::app::AppState;
use crate::audio::AudioFormat;
use crate::brain::{AgentSpec, Conversation};
use crate::calls::{self, CallStatus, NewCall, Speaker};
use crate::db::TenantId;
use crate::error::ApiError;
use crate::repo::calls::NewSegment;
use crate::usage::{Metric, NewUsage};
use crate::voice::{
    SpeechToText, TextToSpeech, Transcription, TurnConfig, TurnEvent, Utterance, VoiceError,
};
use agent::Speaking;
use barge_in::LastMessage;
use turn_timer::TurnTimer;

/// Everything a transport learned before the call starts.
pub struct CallSetup {
    pub tenant: TenantId,
    pub agent: Arc<ActiveAgent>,
    pub call: NewCall,
    /// A call record made before the connection (an outbound call placed through Twilio) to continue instead of
    /// creating one.
    pub existing_call: Option<String>,
    pub input_format: AudioFormat,
    /// `None`: the client commits turns itself.
    pub turn_detection: Option<TurnConfig>,
    /// Answer each caller turn as it ends (else only when the client asks).
    pub create_response: bool,
}

/// The agent's turn-detection settings, as the turn detector takes them.
pub fn agent_turn_config(agent: &ActiveAgent) -> TurnConfig {
    let settings = &agent.version.config.turn_detection;
    TurnConfig {
        threshold: settings.threshold as f32,
        prefix_padding_ms: settings.prefix_padding_ms.max(0) as u32,
        silence_duration_ms: settings.silence_duration_ms.max(0) as u32,
        ..TurnConfig::default()
    }
}

/// How a call ended: its final state, `endedReason`, and the close frame sent to the client.
#[derive(Debug, Clone, PartialEq)]
struct Ending {
    status: CallStatus,
    reason: &'static str,
    close_code: u16,
    close_reason: String,
}

impl Ending {
    /// The call ended by a rule or the agent (not the connection): a normal close.
    fn rule(reason: &'static str) -> Self {
        Self::completed(reason, close_code::NORMAL)
    }

    fn completed(reason: &'static str, close_code: u16) -> Self {
        Self {
            status: CallStatus::Completed,
            reason,
            close_code,
            close_reason: reason.to_string(),
        }
    }

    fn failed(reason: &'static str, close_code: u16, close_reason: impl Into<String>) -> Self {
        Self {
            status: CallStatus::Failed,
            reason,
            close_code,
            close_reason: close_reason.into(),
        }
    }

    fn gone(gone: Gone) -> Self {
        match gone {
            Gone::TooSlow => Self::failed(
                "client_too_slow",
                close_code::POLICY,
                "client stopped reading",
            ),
            Gone::Disconnected => Self::completed("connection_lost", close_code::AWAY),
        }
    }

    fn protocol(error: &ClientError, close: u16) -> Self {
        let reason = if close == close_code::SIZE {
            "message_too_large"
        } else {
            "protocol_error"
        };
        Self::failed(reason, close, format!("{}: {}", error.code, error.message))
    }
}

/// Bounds on waiting for the last transcriptions once the connection is over.
const FINAL_TRANSCRIPTS: Duration = Duration::from_secs(30);
const FINAL_TRANSCRIPTS_AT_SHUTDOWN: Duration = Duration::from_millis(1500);

/// An utterance being transcribed on the STT pool.
type Pending = tokio::task::JoinHandle<Transcribed>;

struct Transcribed {
    item_id: String,
    /// When the caller's turn ended (the start of this turn's latency).
    turn_ended: tokio::time::Instant,
    speech_start_ms: u64,
    speech_end_ms: u64,
    audio_ms: u64,
    result: Result<Transcription, VoiceError>,
}

/// Runs a call on `socket` until it ends. Refuses (with an error and a close frame) when the voice models it
/// needs are missing or the call cannot be created.
pub async fn run<P: Protocol>(app: AppState, setup: CallSetup, socket: WebSocket, protocol: P) {
    let (vad, stt) = match (app.voice.vad(), app.voice.stt()) {
        (Ok(vad), Ok(stt)) => (vad, stt),
        (Err(e), _) | (_, Err(e)) => {
            let error = ClientError::new(e.code(), e.to_string()).closing(close_code::ERROR);
            return refuse(&app, socket, protocol, error).await;
        }
    };
    let listener = match Listener::new(vad, setup.input_format, setup.turn_detection) {
        Ok(listener) => listener,
        Err(e) => {
            let error = ClientError::new("unsupported_audio_format", e.to_string())
                .closing(close_code::ERROR);
            return refuse(&app, socket, protocol, error).await;
        }
    };
    let tenant = setup.tenant;
    let call_sid = setup.call.metadata["twilio"]["callSid"]
        .as_str()
        .map(str::to_string);
    let call_id = match start_call(&app, tenant, setup.call, setup.existing_call).await {
        Ok(id) => id,
        Err(e) => {
            let error = ClientError::new(e.code.as_str().to_ascii_lowercase(), e.message)
                .closing(close_code::POLICY);
            return refuse(&app, socket, protocol, error).await;
        }
    };
    let span = tracing::info_span!("call", tenant = %tenant, call = %call_id);
    let spec = agent::spec_for(&app, tenant, &setup.agent).await;
    let tts = app.voice.tts().ok();
    let config = &setup.agent.version.config;
    let conversation = Conversation::new(config.system_prompt.clone());
    let max_duration = Duration::from_secs(config.end_call.max_duration_secs.max(1) as u64);
    let output = protocol.output_audio();
    let (sink, stream) = socket.split();
    let now = tokio::time::Instant::now();
    let session = Session {
        out: Outbox::start(sink, app.config.live.write_timeout),
        app,
        tenant,
        call_id,
        protocol,
        listener,
        stt,
        pending: FuturesOrdered::new(),
        speech_item: None,
        last_item: None,
        next_seq: 1,
        agent: setup.agent,
        spec,
        tts,
        conversation,
        create_response: setup.create_response,
        output,
        speaking: None,
        last_message: None,
        waiting: Vec::new(),
        unanswered: None,
        speech_started_ms: None,
        last_activity: now,
        reprompted: false,
        ends_at: now + max_duration,
        call_sid,
        closing: false,
    };
    tracing::Instrument::instrument(session.serve(stream), span).await;
}

/// Turns a connection away before a call starts: reports `error` (if the protocol can) and closes with its
/// close code (default `1008 policy violation`).
pub async fn refuse<P: Protocol>(
    app: &AppState,
    socket: WebSocket,
    mut protocol: P,
    error: ClientError,
) {
    tracing::info!(code = %error.code, message = %error.message, "live connection refused");
    let (sink, _stream) = socket.split();
    let out = Outbox::start(sink, app.config.live.write_timeout);
    for text in protocol.render(&Event::Error(error.clone())) {
        let _ = out.send(Message::Text(text.into())).await;
    }
    let code = error.close.unwrap_or(close_code::POLICY);
    out.close(code, &format!("{}: {}", error.code, error.message))
        .await;
}

async fn start_call(
    app: &AppState,
    tenant: TenantId,
    new: NewCall,
    existing: Option<String>,
) -> Result<String, crate::error::ApiError> {
    let id = match existing {
        Some(id) => {
            let db = app.tenant_db(tenant).await?;
            let lookup = id.clone();
            let call = db
                .read(move |conn| {
                    crate::repo::calls::get_call(conn, &lookup).map_err(ApiError::from)
                })
                .await?;
            // The stream's token names the agent; it may only continue that agent's call.
            match call {
                Some(call) if call.agent_id == new.agent_id => id,
                _ => return Err(ApiError::not_found("call")),
            }
        }
        None => calls::create(app, tenant, new).await?.id,
    };
    calls::transition(app, tenant, id.clone(), CallStatus::InProgress, None).await?;
    Ok(id)
}

struct Session<P> {
    app: AppState,
    tenant: TenantId,
    call_id: String,
    protocol: P,
    out: Outbox,
    listener: Listener,
    stt: Arc<SpeechToText>,
    /// Transcriptions in flight, in utterance order.
    pending: FuturesOrdered<Pending>,
    /// The item of the utterance the caller is speaking now.
    speech_item: Option<String>,
    /// The last item added to the conversation.
    last_item: Option<String>,
    /// Next transcript segment number.
    next_seq: i64,
    agent: Arc<ActiveAgent>,
    /// How the agent thinks; `Err` (why) when its LLM settings cannot work, and the caller hears the apology.
    spec: Result<Arc<AgentSpec>, String>,
    /// `None`: no voice on this server; replies are text only.
    tts: Option<Arc<TextToSpeech>>,
    conversation: Conversation,
    /// Answer each caller turn as it ends.
    create_response: bool,
    /// The agent's audio format and milliseconds per message.
    output: (AudioFormat, u64),
    /// The agent's response in progress.
    speaking: Option<Speaking>,
    /// The agent's last finished message, which a client may still truncate to where its playback stopped.
    last_message: Option<LastMessage>,
    /// Caller turns heard while the agent spoke with interruptions off, answered once it has finished.
    waiting: Vec<(String, Option<TurnTimer>)>,
    /// The caller's latest turn not answered yet (it waits while the caller goes on speaking).
    unanswered: Option<TurnTimer>,
    /// Where (call audio position) the caller's current speech started.
    speech_started_ms: Option<u64>,
    /// Last time the caller or the agent spoke: silence is measured from here.
    last_activity: tokio::time::Instant,
    /// The silence reprompt was said and the caller has not spoken since.
    reprompted: bool,
    /// The agent's maximum call duration ends the call here.
    ends_at: tokio::time::Instant,
    /// Twilio's id of a phone call, for transfers.
    call_sid: Option<String>,
    /// The call is ending: what is still transcribed is recorded, not answered.
    closing: bool,
}

impl<P: Protocol> Session<P> {
    async fn serve(mut self, mut stream: SplitStream<WebSocket>) {
        metrics::gauge!("voxedge_live_calls").increment(1.0);
        tracing::info!("live call started");
        let created = Event::SessionCreated {
            call_id: self.call_id.clone(),
        };
        let ending = match self.emit(created).await {
            Ok(()) => match self.greet().await {
                Ok(()) => self.converse(&mut stream).await,
                Err(ending) => ending,
            },
            Err(ending) => ending,
        };
        self.finish(ending).await;
        metrics::gauge!("voxedge_live_calls").decrement(1.0);
    }

    /// The conversation loop; returns how it ended.
    async fn converse(&mut self, stream: &mut SplitStream<WebSocket>) -> Ending {
        let settings = self.app.config.live.clone();
        let closing = self.app.shutdown.closing();
        tokio::pin!(closing);
        let mut ping = tokio::time::interval(settings.ping_interval);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_heard = Instant::now();
        loop {
            let silence = self.silence_deadline();
            let step = tokio::select! {
                biased;
                () = &mut closing => Err(Ending::completed("server_shutdown", close_code::AWAY)),
                gone = self.out.gone() => Err(Ending::gone(gone)),
                () = tokio::time::sleep_until(self.ends_at) => Err(Ending::rule("max_duration")),
                // The agent's audio is due before anything else: playback must not stutter.
                step = agent::next_step(&mut self.speaking) => self.speech(step).await,
                // Finished transcripts first: a client streaming faster than real time must not hold them back.
                Some(done) = self.pending.next(), if !self.pending.is_empty() => {
                    self.transcribed(done).await
                }
                incoming = socket::next(stream) => {
                    last_heard = Instant::now();
                    self.incoming(incoming).await
                }
                () = agent::sleep_until(silence) => self.silence().await,
                _ = ping.tick() => {
                    if last_heard.elapsed() > settings.idle_timeout {
                        Err(Ending::completed("connection_lost", close_code::AWAY))
                    } else {
                        self.send(Message::Ping(Vec::new().into())).await
                    }
                }
            };
            if let Err(ending) = step {
                return ending;
            }
        }
    }

    async fn incoming(&mut self, incoming: Incoming) -> Result<(), Ending> {
        let commands = match incoming {
            Incoming::Message(Message::Text(text)) => self.protocol.text(text.as_str()),
            Incoming::Message(Message::Binary(bytes)) => self.protocol.binary(&bytes),
            Incoming::Message(Message::Close(_)) => {
                return Err(Ending::completed("client_closed", close_code::NORMAL));
            }
            Incoming::Message(Message::Ping(_) | Message::Pong(_)) => return Ok(()),
            Incoming::TooLarge => {
                let limit = self.app.config.live.max_message_bytes;
                let error = ClientError::new(
                    "message_too_large",
                    format!("messages are limited to {limit} bytes"),
                )
                .closing(close_code::SIZE);
                Err(error)
            }
            Incoming::Lost => return Err(Ending::completed("connection_lost", close_code::AWAY)),
        };
        match commands {
            Ok(commands) => {
                for command in commands {
                    self.command(command).await?;
                }
                Ok(())
            }
            Err(error) => self.client_error(error).await,
        }
    }

    /// Reports a client's mistake; ends the call when the error is fatal.
    async fn client_error(&mut self, error: ClientError) -> Result<(), Ending> {
        metrics::counter!("voxedge_live_client_errors_total", "code" => error.code.clone())
            .increment(1);
        tracing::info!(code = %error.code, message = %error.message, "live client error");
        let close = error.close;
        self.emit(Event::Error(error.clone())).await?;
        match close {
            Some(code) => Err(Ending::protocol(&error, code)),
            None => Ok(()),
        }
    }

    async fn command(&mut self, command: Command) -> Result<(), Ending> {
        match command {
            Command::Audio(bytes) => {
                let events = self.listener.push(&bytes).await.map_err(|e| {
                    tracing::error!(error = %e, "voice activity detection failed");
                    Ending::failed("internal_error", close_code::ERROR, e.code())
                })?;
                for event in events {
                    self.turn(event).await?;
                }
                self.check_barge_in_by_duration().await?;
            }
            Command::Commit => match self.listener.commit() {
                Some(utterance) => self.utterance_done(utterance).await?,
                None => {
                    let error = ClientError::new(
                        "input_audio_buffer_commit_empty",
                        "there is no buffered audio to commit",
                    );
                    self.client_error(error).await?;
                }
            },
            Command::ClearInput => {
                self.listener.clear();
                self.speech_item = None;
                self.emit(Event::InputCleared).await?;
            }
            Command::Configure {
                input_format,
                output_format,
                create_response,
                turn_detection,
            } => {
                if let Some(format) = output_format {
                    self.output.0 = format;
                }
                if let Some(create) = create_response {
                    self.create_response = create;
                }
                if let Some(format) = input_format
                    && let Err(e) = self.listener.set_format(format)
                {
                    let error = ClientError::new("unsupported_audio_format", e.to_string());
                    return self.client_error(error).await;
                }
                if let Some(turns) = turn_detection {
                    self.listener.set_turn_detection(turns);
                    self.speech_item = None;
                }
                self.emit(Event::SessionUpdated).await?;
            }
            Command::UserText { item_id, text } => {
                let item_id = item_id.unwrap_or_else(new_item_id);
                let at = self.listener.position_ms();
                self.store_caller_segment(&text, at, at, None, None).await;
                self.conversation.push_user(text.clone());
                let previous_item_id = self.last_item.replace(item_id.clone());
                self.emit(Event::UserItemAdded {
                    item_id,
                    previous_item_id,
                    text: Some(text),
                })
                .await?;
            }
            Command::CreateResponse => {
                if self.answering() {
                    let error = ClientError::new(
                        "conversation_already_has_active_response",
                        "the agent is already answering; cancel that response first",
                    );
                    return self.client_error(error).await;
                }
                self.settle().await?;
                self.think(None).await?;
            }
            Command::CancelResponse => {
                if !self.answering() {
                    let error = ClientError::new(
                        "response_cancel_not_active",
                        "there is no response in progress to cancel",
                    );
                    return self.client_error(error).await;
                }
                self.interrupt("client_cancelled").await?;
            }
            Command::Truncate {
                item_id,
                audio_end_ms,
            } => self.truncate(item_id, audio_end_ms).await?,
            Command::Dtmf(digit) => self.timeline("dtmf", json!({ "digit": digit })).await,
            Command::PlaybackMark(name) => self.played(&name),
            Command::Hangup => return Err(Ending::completed("caller_hangup", close_code::NORMAL)),
        }
        Ok(())
    }

    async fn turn(&mut self, event: TurnEvent) -> Result<(), Ending> {
        match event {
            TurnEvent::SpeechStarted { audio_start_ms } => {
                let item_id = new_item_id();
                self.speech_item = Some(item_id.clone());
                self.speech_started_ms = Some(self.listener.position_ms());
                self.last_activity = tokio::time::Instant::now();
                self.timeline(
                    "speech_started",
                    json!({ "itemId": item_id, "audioStartMs": audio_start_ms }),
                )
                .await;
                self.emit(Event::SpeechStarted {
                    item_id,
                    audio_start_ms,
                })
                .await
            }
            TurnEvent::SpeechStopped { utterance, .. } => self.utterance_done(utterance).await,
        }
    }

    /// The caller finished an utterance (by silence, commit, or the end of the call): tell the client and
    /// transcribe it on the STT pool.
    async fn utterance_done(&mut self, utterance: Utterance) -> Result<(), Ending> {
        let item_id = self.speech_item.take().unwrap_or_else(new_item_id);
        self.speech_started_ms = None;
        if self.listener.detects_turns() {
            self.timeline(
                "speech_stopped",
                json!({ "itemId": item_id, "audioEndMs": utterance.audio_end_ms }),
            )
            .await;
            self.emit(Event::SpeechStopped {
                item_id: item_id.clone(),
                audio_end_ms: utterance.audio_end_ms,
            })
            .await?;
        }
        let previous_item_id = self.last_item.replace(item_id.clone());
        self.emit(Event::Committed {
            item_id: item_id.clone(),
            previous_item_id: previous_item_id.clone(),
        })
        .await?;
        self.emit(Event::UserItemAdded {
            item_id: item_id.clone(),
            previous_item_id,
            text: None,
        })
        .await?;
        self.transcribe(item_id, utterance);
        Ok(())
    }

    /// Queues `utterance` on the STT pool; its caller turn ended now.
    fn transcribe(&mut self, item_id: String, utterance: Utterance) {
        let turn_ended = tokio::time::Instant::now();
        let stt = Arc::clone(&self.stt);
        let audio_ms = utterance.audio_end_ms - utterance.audio_start_ms;
        let (speech_start_ms, speech_end_ms) = (utterance.speech_start_ms, utterance.speech_end_ms);
        // Spawned so the work is queued on the pool now, not when the session next polls it.
        self.pending.push_back(tokio::spawn(async move {
            Transcribed {
                result: stt.transcribe(utterance.samples).await,
                item_id,
                turn_ended,
                speech_start_ms,
                speech_end_ms,
                audio_ms,
            }
        }));
    }

    async fn transcribed(
        &mut self,
        done: Result<Transcribed, tokio::task::JoinError>,
    ) -> Result<(), Ending> {
        let done = match done {
            Ok(done) => done,
            Err(e) => {
                tracing::error!(error = %e, "transcription task failed");
                return Ok(());
            }
        };
        let usage = NewUsage::for_call(
            &self.call_id,
            &format!("stt:{}", done.item_id),
            Metric::SttAudioMs,
            done.audio_ms as i64,
        );
        match done.result {
            Ok(transcription) => {
                metrics::histogram!("voxedge_stt_seconds")
                    .record(transcription.processing_time.as_secs_f64());
                let text = transcription.text.trim().to_string();
                let confidence = Some(f64::from(transcription.confidence));
                self.store_caller_segment(
                    &text,
                    done.speech_start_ms,
                    done.speech_end_ms,
                    confidence,
                    Some(usage),
                )
                .await;
                self.emit(Event::Transcribed {
                    item_id: done.item_id,
                    text: text.clone(),
                })
                .await?;
                let timer = TurnTimer::new(done.turn_ended);
                self.caller_said(text, timer).await
            }
            Err(e) => {
                tracing::error!(error = %e, "transcription failed");
                self.timeline(
                    "transcription_failed",
                    json!({ "itemId": done.item_id, "code": e.code() }),
                )
                .await;
                let error = ClientError::new(e.code(), e.to_string());
                self.emit(Event::TranscriptionFailed {
                    item_id: done.item_id,
                    error,
                })
                .await
            }
        }
    }

    /// Stores what the caller said (nothing for an empty transcript, but its usage still counts).
    async fn store_caller_segment(
        &mut self,
        text: &str,
        start_ms: u64,
        end_ms: u64,
        confidence: Option<f64>,
        usage: Option<NewUsage>,
    ) {
        let mut segments = Vec::new();
        if !text.is_empty() {
            segments.push(NewSegment {
                seq: self.next_seq,
                speaker: Speaker::Caller,
                text: text.to_string(),
                start_ms: start_ms as i64,
                end_ms: end_ms as i64,
                confidence,
                is_final: true,
            });
            self.next_seq += 1;
        }
        self.store(segments, usage.into_iter().collect()).await;
    }

    /// Stores transcript segments (a known seq replaces its segment) and usage. Storage trouble is logged, not
    /// fatal: the call goes on.
    async fn store(&self, segments: Vec<NewSegment>, usage: Vec<NewUsage>) {
        if segments.is_empty() && usage.is_empty() {
            return;
        }
        let stored = calls::add_segments(
            &self.app,
            self.tenant,
            self.call_id.clone(),
            segments,
            usage,
        )
        .await;
        if let Err(e) = stored {
            tracing::error!(code = e.code.as_str(), error = %e.message, "cannot store transcript segments");
        }
    }

    /// Adds an event to the call's timeline. Storage trouble is logged, not fatal: the call goes on.
    async fn timeline(&self, kind: &'static str, data: serde_json::Value) {
        let recorded =
            calls::record_event(&self.app, self.tenant, self.call_id.clone(), kind, data).await;
        if let Err(e) = recorded {
            tracing::error!(kind, code = e.code.as_str(), error = %e.message, "cannot record call event");
        }
    }

    async fn emit(&mut self, event: Event) -> Result<(), Ending> {
        for text in self.protocol.render(&event) {
            self.send(Message::Text(text.into())).await?;
        }
        Ok(())
    }

    async fn send(&self, message: Message) -> Result<(), Ending> {
        self.out.send(message).await.map_err(Ending::gone)
    }

    /// The connection is over: transcribe the last words, end the call, say goodbye.
    async fn finish(mut self, ending: Ending) {
        let shutting_down = ending.reason == "server_shutdown";
        self.closing = true;
        self.stop_speaking("call_ended").await;
        match self.listener.finish().await {
            Ok(Some(utterance)) => {
                let item_id = self.speech_item.take().unwrap_or_else(new_item_id);
                self.transcribe(item_id, utterance);
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "cannot flush the last utterance"),
        }
        let bound = if shutting_down {
            FINAL_TRANSCRIPTS_AT_SHUTDOWN
        } else {
            FINAL_TRANSCRIPTS
        };
        let deadline = tokio::time::Instant::now() + bound;
        while let Ok(Some(done)) = tokio::time::timeout_at(deadline, self.pending.next()).await {
            // The client may be gone; what matters now is storing the transcript.
            let _ = self.transcribed(done).await;
        }
        if !self.pending.is_empty() {
            tracing::warn!(
                left = self.pending.len(),
                "call ended before its last utterances were transcribed"
            );
        }
        let ended = calls::transition(
            &self.app,
            self.tenant,
            self.call_id.clone(),
            ending.status,
            Some(ending.reason.to_string()),
        )
        .await;
        if let Err(e) = ended {
            tracing::error!(code = e.code.as_str(), error = %e.message, "cannot end the call");
        }
        tracing::info!(
            status = ending.status.as_str(),
            reason = ending.reason,
            "live call ended"
        );
        self.out
            .close(ending.close_code, &ending.close_reason)
            .await;
    }
}

fn new_item_id() -> String {
    format!("item_{}", crate::db::new_ulid())
}
