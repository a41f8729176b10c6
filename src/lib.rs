//! voxedge — an edge-first platform for voice AI agents.
//!
//! One binary serves a GraphQL API (portal and tenant backends), live call audio over WebSocket, and the
//! portal, keeping each tenant in its own SQLite file so it can run in many regions close to callers.
//!
//! # Layout
//!
//! | layer | module | role |
//! |---|---|---|
//! | edge | [`cli`] | the `voxedge` command line: `serve`, `tenant`, `plan`, `usage`, `invoice`, `migrate`, `schema`, `backup`, `restore` |
//! | | [`app`] | assembly: loads the voice models, opens the [`state`], binds, serves until stopped |
//! | | [`state`] | [`state::AppState`], the one value the edges share; domain code never takes it |
//! | | [`http`] | routes: GraphQL over HTTP and WebSocket, live-call WebSockets, Twilio voice webhook, ops |
//! | | [`graphql`] | the GraphQL schema, one file per domain; resolvers stay thin |
//! | | [`error`] | the one table of error codes, and [`error::ApiError`], every layer's error as clients see it |
//! | | [`edge`] | regions: where a tenant lives, the catalog replica, signed internal requests, moves, restores (Litestream) |
//! | live calls | [`live`] | Realtime and Twilio protocols, admission, the call plan, listening, answering, recording |
//! | | [`voice`] | voice engines: Silero VAD and turn detection, Whisper STT, Piper TTS, model loading |
//! | | [`brain`] | the agent's brain: streaming LLM replies over a provider chain, tools, circuit breakers |
//! | | [`audio`] | audio frames, G.711, PCM16, streaming resampling, WAV |
//! | domain | [`tenants`] | [`tenants::Tenant`], the handle domain functions work through; provisioning |
//! | | [`agents`] | voice agents and their versioned configuration, LLM keys |
//! | | [`calls`] | calls, their state machine, timeline and transcripts |
//! | | [`campaigns`] | outbound campaigns: CSV contacts, calling windows, retries, the outbound scheduler |
//! | | [`recordings`] | call recordings: stereo FLAC files per tenant, streamed while the call runs, copied to the replica, signed URLs, retention, deletion |
//! | | [`analysis`] | post-call analysis: summary, success, sentiment, extraction by the agent's LLM, in the background |
//! | | [`identity`] | users, sign-up/sign-in sessions with rotating refresh tokens, members, invitations |
//! | | [`auth`] | principals, roles and permissions, API keys, access and session tokens, credential checks |
//! | | [`webhooks`] | signed outgoing webhooks: outbox, dispatcher, retries |
//! | | [`billing`] | price book and plans, cost of usage, admission limits, invoices, dunning, Stripe |
//! | | [`email`] | email templates, the outbox in the catalog and its SMTP sender |
//! | | [`telephony`] | the tenant's Twilio account, phone numbers → agents, TwiML, outbound calls, status callbacks, reconciling |
//! | | [`audit`] | the tenant audit log |
//! | | [`events`] | the per-tenant live event bus behind subscriptions |
//! | | [`ratelimit`] | per-tenant and per-IP request limits, sign-in lock-outs |
//! | values | [`model`] | value types shared by domain, storage and API: roles, call states, metrics, agent config |
//! | storage | [`repo`] | SQL, as plain functions over a connection, returning [`db::StorageError`] |
//! | | [`db`] | storage engine: catalog + one SQLite file per tenant, migrations, cache, backup |
//! | support | [`config`] | settings (flags with env fallbacks) and the data directory layout |
//! | | [`clock`] | "now" (movable in tests) and how stored times are shown |
//! | | [`secrets`] | the server master key, derived subkeys, encryption of tenant secrets at rest |
//! | | [`pii`] | personal data at rest: phone numbers sealed per tenant in SQL, blind indexes, masks for viewers |
//! | | [`redact`] | keeping emails, phone numbers and credentials out of logs |
//! | | [`outbound`] | requests to tenants' URLs (webhooks, tools, LLMs): public addresses only, no redirects |
//! | | [`shutdown`] | graceful shutdown: drain, grace period, close live sessions |
//! | | [`telemetry`] | JSON logs (tracing), Prometheus metrics, OpenTelemetry traces over OTLP |
//! | | `fuzzing` | fuzz harnesses for parsers and decoders of untrusted input (hidden: for `tests/fuzz.rs` and `fuzz/`) |
//!
//! Requests flow `http` → `auth` (principal) → `graphql` resolvers → domain functions (given a
//! [`tenants::Tenant`] or the service they need) → `repo` SQL on a [`db::Database`], whose SQLite work runs on
//! the blocking pool. Each layer has its own error enum; the edge turns any of them into an
//! [`error::ApiError`] with one generic conversion, its code taken from the one table in [`error`].
//!
//! A live call flows `http` → [`live::admit`] (credential, limits, agent → [`live::plan::CallPlan`], call
//! record) → [`live::session`], which never sees the app state: VAD runs as its own stage, transcripts and the
//! timeline are written by a recorder task, and the agent answers through [`brain`] and [`voice`].

pub mod agents;
pub mod analysis;
pub mod app;
pub mod audio;
pub mod audit;
pub mod auth;
pub mod billing;
pub mod brain;
pub mod calls;
pub mod campaigns;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod edge;
pub mod email;
pub mod error;
pub mod events;
#[doc(hidden)]
pub mod fuzzing;
pub mod graphql;
pub mod http;
pub mod identity;
pub mod live;
pub mod model;
pub mod outbound;
pub mod pii;
pub mod ratelimit;
pub mod recordings;
pub mod redact;
pub mod repo;
pub mod secrets;
pub mod shutdown;
pub mod state;
pub mod telemetry;
pub mod telephony;
pub mod tenants;
pub mod voice;
pub mod webhooks;
