//! Live calls through the real server, from the outside: Realtime and Twilio Media Streams clients on real
//! WebSockets, the real voice models (Whisper, Silero VAD, Piper), a local OpenAI-compatible server for the agent's
//! brain, and GraphQL subscriptions following the calls.

#[path = "../support/mod.rs"]
mod support;

#[path = "../support/openai_server.rs"]
mod openai_server;

mod admission;
mod agent;
mod answering;
mod barge_in;
mod dtmf;
mod ending;
mod limits;
mod realtime;
mod recording;
mod subscriptions;
mod twilio;
