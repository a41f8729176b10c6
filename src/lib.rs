//! voxedge — an edge-first platform for voice AI agents.
//!
//! One binary serves a GraphQL API (portal and tenant backends), live call audio over WebSocket, and the
//! portal, keeping each tenant in its own SQLite file so it can run in many regions close to callers.
//!
//! # Layout
//!
//! | module | role |
//! |---|---|
//! | [`cli`] | the `voxedge` command line: `serve`, `tenant`, `migrate`, `schema`, `backup`, `restore` |
//! | [`config`] | settings (flags with env fallbacks) and the data directory layout |
//! | [`app`] | assembly: opens storage, builds [`app::AppState`], serves until stopped |
//! | [`shutdown`] | graceful shutdown: drain, grace period, close live sessions |
//! | [`telemetry`] | JSON logs (tracing) and Prometheus metrics |
//! | [`error`] | the one client-facing error type and its stable codes |
//! | [`db`] | storage engine: catalog + one SQLite file per tenant, migrations, cache, backup |
//! | [`repo`] | SQL, as plain functions over a connection |
//! | [`auth`] | principals, roles and permissions, API keys, access and session tokens, credential checks |
//! | [`identity`] | users, sign-up/sign-in sessions with rotating refresh tokens, members, invitations |
//! | [`ratelimit`] | per-tenant and per-IP request limits, sign-in lock-outs |
//! | [`secrets`] | the server master key, derived subkeys, encryption of tenant secrets at rest |
//! | [`redact`] | keeping emails, phone numbers and credentials out of logs |
//! | [`clock`] | "now", movable in tests |
//! | [`audit`] | the tenant audit log |
//! | [`tenants`] | provisioning tenants |
//! | [`agents`] | voice agents and their versioned configuration |
//! | [`calls`] | calls, their state machine, timeline and transcripts |
//! | [`events`] | the per-tenant live event bus behind subscriptions |
//! | [`webhooks`] | signed outgoing webhooks: outbox, dispatcher, retries |
//! | [`telephony`] | the tenant's Twilio account, phone numbers → agents, signed voice webhooks answered with TwiML |
//! | [`audio`] | audio frames, G.711, PCM16, streaming resampling, WAV |
//! | [`voice`] | voice engines: Silero VAD and turn detection, Whisper STT, Piper TTS, model loading |
//! | [`live`] | live calls over WebSocket: Realtime and Twilio protocols, listening, transcribing, answering, barge-in, recording |
//! | [`usage`] | metered usage (call time, audio transcribed, tokens, characters) |
//! | [`brain`] | the agent's brain: streaming LLM replies over a provider chain, tools, circuit breakers |
//! | [`graphql`] | the GraphQL schema, one file per domain |
//! | [`http`] | routes: GraphQL over HTTP and WebSocket, Twilio voice webhook, health, metrics |
//!
//! Requests flow `http` → `auth` (principal) → `graphql` resolvers → domain functions → `repo` SQL on a
//! tenant [`db::Database`], whose SQLite work runs on the blocking pool.

pub mod agents;
pub mod app;
pub mod audio;
pub mod audit;
pub mod auth;
pub mod brain;
pub mod calls;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod events;
pub mod graphql;
pub mod http;
pub mod identity;
pub mod live;
pub mod ratelimit;
pub mod redact;
pub mod repo;
pub mod secrets;
pub mod shutdown;
pub mod telemetry;
pub mod telephony;
pub mod tenants;
pub mod usage;
pub mod voice;
pub mod webhooks;
