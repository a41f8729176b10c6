//! voxedge — an edge-first platform for voice AI agents.

pub mod audio;
pub mod voice;
