//! Fuzz harnesses for the code that reads what clients, carriers and files send: each takes arbitrary bytes,
//! turns them into input for one parser or decoder, and panics when an invariant breaks — never otherwise.
//!
//! Bad input must give a typed error with a stable code, never a panic; these harnesses check that and the
//! round trips the rest of the system relies on. Two runners share them:
//! - `tests/fuzz.rs` — part of `cargo test`: a seed corpus (`fuzz/seeds/<harness>/`), mutations of it and
//!   random inputs from a fixed seed, a bounded number per harness;
//! - `fuzz/` — coverage-guided `cargo fuzz` targets, one per harness, run by `scripts/fuzz`.
//!
//! Public (and hidden from the docs) only so those two can call it; nothing else should. The harnesses read
//! their input through [`Input`], so a random byte string is as often a plausible event or file as a broken
//! one.

mod agent_config;
mod audio;
mod cursors;
mod input;
mod realtime;
mod twilio;

pub use agent_config::{Outcome, agent_config, agent_config_outcome};
pub use audio::{g711, resampler, wav};
pub use cursors::cursors;
pub use input::Input;
pub use realtime::realtime;
pub use twilio::twilio;

/// A harness: arbitrary bytes in, a panic when an invariant breaks.
pub type Harness = fn(&[u8]);

/// Every harness by name (the name of its `cargo fuzz` target and seed directory).
pub const HARNESSES: &[(&str, Harness)] = &[
    ("g711", g711),
    ("wav", wav),
    ("resampler", resampler),
    ("realtime", realtime),
    ("twilio", twilio),
    ("agent_config", agent_config),
    ("cursors", cursors),
];
