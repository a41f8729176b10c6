//! The call driver: one task per live call, wiring socket, listening stage, STT, the agent and the recorder.
//!
//! Admission ([`crate::live::admit`]) hands it a started call and a [`CallContext`]. It then reacts to
//! whichever comes first: server shutdown, the client going away, the call's maximum duration, the agent's
//! response (text, audio due for playback), a finished transcription, what the listening stage heard, a client
//! message, the caller's silence, a ping tick. However the call ends — the client hangs up, closes, vanishes,
//! stops reading, breaks the protocol, an end-call rule fires, or the server shuts down — the last words are
//! transcribed, the call reaches a terminal state with an `endedReason`, and its usage is recorded.
//!
//! Nothing in the loop waits on SQLite (the [`Recorder`] writes) or on voice activity detection (the
//! [`ListenerStage`] runs it); it waits only on the client's socket having room.
//!
//! This file is the loop; [`caller`] is the caller's side (listening, transcribing, what the caller said),
//! [`agent`] the agent's (responses), [`playback`] playing them and recording what was heard, [`barge_in`] the
//! caller talking over the agent, [`ending`] end-call rules and the end of the call, [`keys`] keys the caller presses, [`screening`]
//! answering machines on outbound calls, [`turn_timer`] per-turn latency.

mod agent;
mod barge_in;
mod caller;
mod ending;
mod keys;
mod playback;
mod screening;
mod turn_timer;

use std::collections::VecDeque;
use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, close_code};
use futures::StreamExt as _;
use futures::stream::{FuturesOrdered, SplitStream};
use tokio::time::Instant;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::LiveSettings;
use super::limits::CallLimits;
use super::listen::{Listen, Listener, ListenerStage};
use super::plan::CallPlan;
use super::protocol::{ClientError, Command, Event, Protocol};
use super::recorder::Recorder;
use super::registry::{LiveCalls, Registration, Signal};
use super::socket::{self, Incoming, Outbox};
use super::voicemail::Screener;
use crate::audio::AudioFormat;
use crate::brain::{Brain, Conversation};
use crate::error::ErrorCode;
use crate::recordings::{CallRecording, Recordings};
use crate::shutdown::Shutdown;
use crate::telephony::Telephony;
use crate::tenants::Tenant;
use crate::voice::{SileroVad, SpeechToText, TextToSpeech, TurnConfig};
use agent::Speaking;
use barge_in::LastMessage;
use caller::Pending;
use ending::Ending;
use keys::Keys;
use screening::Voicemail;
use tokio::sync::mpsc;
use turn_timer::TurnTimer;

/// The parts of the server a call runs on, handed over by admission.
pub struct CallContext {
    pub tenant: Tenant,
    pub plan: Arc<CallPlan>,
    pub vad: Arc<SileroVad>,
    pub stt: Arc<SpeechToText>,
    /// `None`: no voice on this server; replies are text only.
    pub tts: Option<Arc<TextToSpeech>>,
    /// LLM clients and circuit breakers.
    pub brain: Brain,
    /// For transferring phone calls.
    pub telephony: Telephony,
    pub settings: LiveSettings,
    pub shutdown: Shutdown,
    /// Where Twilio's callbacks find the call's session.
    pub live_calls: LiveCalls,
    /// Where the call's recording goes.
    pub recordings: Recordings,
}

/// What the transport says about how the call starts.
pub struct CallStart {
    pub input_format: AudioFormat,
    /// `None`: the client commits turns itself.
    pub turn_detection: Option<TurnConfig>,
    /// Answer each caller turn as it ends (else only when the client asks).
    pub create_response: bool,
    /// Twilio's id of a phone call, for transfers.
    pub call_sid: Option<String>,
}

/// Runs call `call_id` (already `in_progress`) on `socket` until it ends.
pub async fn run<P: Protocol>(
    context: CallContext,
    call_id: String,
    start: CallStart,
    socket: WebSocket,
    protocol: P,
) {
    let CallContext {
        tenant,
        plan,
        vad,
        stt,
        tts,
        brain,
        telephony,
        settings,
        shutdown,
        live_calls,
        recordings,
    } = context;
    let recording = plan
        .record
        .then(|| recordings.start(tenant.id, &call_id, start.input_format))
        .flatten();
    let screening = plan
        .voicemail
        .as_ref()
        .map(|voicemail| Voicemail::Screening(Screener::new(voicemail.screening)));
    let listener = match Listener::new(vad, start.input_format, start.turn_detection) {
        Ok(listener) if screening.is_some() => ListenerStage::start(listener.with_beep_detection()),
        Ok(listener) => ListenerStage::start(listener),
        Err(e) => {
            // Admission checked the format; should it still fail, the call ends rather than start deaf.
            tracing::error!(error = %e, "cannot listen to the call");
            return;
        }
    };
    // A trace of its own per call (whatever the connection's request was part of), named by ids only.
    let span = tracing::info_span!(
        parent: None,
        "call",
        otel.name = "call",
        tenant = %tenant.id,
        call = %call_id,
        trace_id = tracing::field::Empty,
    );
    span.set_attribute("voxedge.tenant_id", tenant.id.to_string());
    span.set_attribute("voxedge.call_id", call_id.clone());
    span.set_attribute("voxedge.agent_id", plan.agent_id.clone());
    crate::telemetry::trace::record_trace_id(&span);
    let output = protocol.output_audio();
    let (sink, stream) = socket.split();
    let now = Instant::now();
    let (registration, signals) = live_calls.register(tenant.id, &call_id);
    let session = Session {
        out: Outbox::start(sink, settings.write_timeout),
        recorder: Recorder::start(tenant.clone(), call_id.clone()),
        recording,
        recordings,
        conversation: Conversation::new(plan.system_prompt.clone()),
        ends_at: now + plan.ending.max_duration,
        limits: CallLimits::new(now),
        input_format: start.input_format,
        tenant,
        plan,
        stt,
        tts,
        brain,
        telephony,
        settings,
        shutdown,
        call_id,
        protocol,
        listener,
        detects_turns: start.turn_detection.is_some(),
        configuring: VecDeque::new(),
        position_ms: 0,
        caller_speaking: false,
        pending: FuturesOrdered::new(),
        speech_item: None,
        last_item: None,
        next_seq: 1,
        create_response: start.create_response,
        output,
        speaking: None,
        last_message: None,
        waiting: Vec::new(),
        unanswered: None,
        speech_started_ms: None,
        last_activity: now,
        started: now,
        reprompted: false,
        call_sid: start.call_sid,
        closing: false,
        voicemail: screening,
        keys: Keys::default(),
        signals,
        _registration: registration,
    };
    tracing::Instrument::instrument(session.serve(stream), span).await;
}

struct Session<P> {
    tenant: Tenant,
    plan: Arc<CallPlan>,
    stt: Arc<SpeechToText>,
    tts: Option<Arc<TextToSpeech>>,
    brain: Brain,
    telephony: Telephony,
    settings: LiveSettings,
    shutdown: Shutdown,
    call_id: String,
    protocol: P,
    out: Outbox,
    /// Writes the call's timeline, transcript, usage and final state.
    recorder: Recorder,
    /// Both sides' audio, into the call's recording file; `None`: not recorded.
    recording: Option<CallRecording>,
    /// Told when the recording is listed, to copy it to the replica.
    recordings: Recordings,
    /// Decodes, detects speech and cuts turns, beside the loop.
    listener: ListenerStage,
    /// The server detects turns (else the client commits).
    detects_turns: bool,
    /// Configurations handed to the listening stage and not applied yet: the turn detection each switches to
    /// (`Some(on)`), if it changes it.
    configuring: VecDeque<Option<bool>>,
    /// Milliseconds of caller audio heard so far.
    position_ms: u64,
    /// The caller is speaking (server turn detection only).
    caller_speaking: bool,
    /// Transcriptions in flight, in utterance order.
    pending: FuturesOrdered<Pending>,
    /// The item of the utterance the caller is speaking now.
    speech_item: Option<String>,
    /// The last item added to the conversation.
    last_item: Option<String>,
    /// Next transcript segment number.
    next_seq: i64,
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
    last_activity: Instant,
    /// When the call started.
    started: Instant,
    /// The silence reprompt was said and the caller has not spoken since.
    reprompted: bool,
    /// The agent's maximum call duration ends the call here.
    ends_at: Instant,
    /// Twilio's id of a phone call, for transfers.
    call_sid: Option<String>,
    /// The call is ending: what is still transcribed is recorded, not answered.
    closing: bool,
    /// Answering-machine screening, or a voicemail message being left (`None`: a conversation).
    voicemail: Option<Voicemail>,
    /// Keys pressed and not yet told to the agent.
    keys: Keys,
    /// Twilio's callbacks for this call.
    signals: mpsc::UnboundedReceiver<Signal>,
    /// Keeps the call in the registry while the session runs.
    _registration: Registration,
    /// What the caller has used of the call's limits (audio pace, typed messages).
    limits: CallLimits,
    /// The caller's audio format, as last configured (to measure audio against the clock).
    input_format: AudioFormat,
}

impl<P: Protocol> Session<P> {
    async fn serve(mut self, mut stream: SplitStream<WebSocket>) {
        metrics::gauge!("voxedge_live_calls").increment(1.0);
        tracing::info!("live call started");
        let created = Event::SessionCreated {
            call_id: self.call_id.clone(),
        };
        let ending = match self.emit(created).await {
            // A call being screened for an answering machine waits to hear who answered.
            Ok(()) if self.screening() => self.converse(&mut stream).await,
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
        let closing = self.shutdown.closing();
        tokio::pin!(closing);
        let mut ping = tokio::time::interval(self.settings.ping_interval);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_heard = Instant::now();
        loop {
            let silence = self.silence_deadline();
            let step = tokio::select! {
                biased;
                () = &mut closing => Err(Ending::completed("server_shutdown", close_code::AWAY)),
                gone = self.out.gone() => Err(Ending::from(gone)),
                () = tokio::time::sleep_until(self.ends_at) => Err(Ending::rule("max_duration")),
                // The agent's audio is due before anything else: playback must not stutter.
                step = agent::next_step(&mut self.speaking) => self.speech(step).await,
                // Finished transcripts first: a client streaming faster than real time must not hold them back.
                Some(done) = self.pending.next(), if !self.pending.is_empty() => {
                    self.transcribed(done).await
                }
                Some(heard) = self.listener.next() => self.heard(heard).await,
                incoming = socket::next(stream) => {
                    last_heard = Instant::now();
                    self.incoming(incoming).await
                }
                () = agent::sleep_until(silence) => self.silence().await,
                () = agent::sleep_until(self.keys.due) => self.keys_done().await,
                Some(signal) = self.signals.recv() => self.signal(signal).await,
                _ = ping.tick() => {
                    if last_heard.elapsed() > self.settings.idle_timeout {
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
                let limit = self.settings.max_message_bytes;
                let error = ClientError::new(
                    ErrorCode::MessageTooLarge,
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
        metrics::counter!("voxedge_live_client_errors_total", "code" => error.code.wire())
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
            Command::Audio(bytes) => self.caller_audio(bytes).await?,
            Command::Commit => self.listener.send(Listen::Commit).await,
            Command::ClearInput => self.listener.send(Listen::Clear).await,
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
                if let Some(format) = input_format {
                    if let Err(e) = Listener::check_format(format) {
                        let error =
                            ClientError::new(ErrorCode::UnsupportedAudioFormat, e.to_string());
                        return self.client_error(error).await;
                    }
                    self.input_format = format;
                }
                if let (Some(format), Some(recording)) = (input_format, &self.recording) {
                    recording.input_format(format);
                }
                // Applied (and confirmed to the client) once the stage has heard the audio sent before it.
                self.configuring
                    .push_back(turn_detection.as_ref().map(Option::is_some));
                let configure = Listen::Configure {
                    format: input_format,
                    turns: turn_detection,
                };
                self.listener.send(configure).await;
            }
            Command::UserText { item_id, text } => self.user_text(item_id, text).await?,
            Command::CreateResponse => {
                if self.answering() {
                    let error = ClientError::new(
                        ErrorCode::ConversationAlreadyHasActiveResponse,
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
                        ErrorCode::ResponseCancelNotActive,
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
            Command::Dtmf(digit) => self.key_pressed(digit).await?,
            Command::PlaybackMark(name) => self.played(&name),
            Command::Hangup => return Err(Ending::completed("caller_hangup", close_code::NORMAL)),
        }
        Ok(())
    }

    /// Appends an event to the call's timeline (written by the recorder; the call never waits for it).
    async fn timeline(&self, kind: &'static str, data: serde_json::Value) {
        self.recorder.event(kind, data).await;
    }

    async fn emit(&mut self, event: Event) -> Result<(), Ending> {
        for text in self.protocol.render(&event) {
            self.send(Message::Text(text.into())).await?;
        }
        Ok(())
    }

    async fn send(&self, message: Message) -> Result<(), Ending> {
        Ok(self.out.send(message).await?)
    }
}

fn new_item_id() -> String {
    format!("item_{}", crate::db::new_ulid())
}
