//! Regions for real: voxedge servers as regions (`iad` the primary, `fra`, ...) on 127.0.0.1, each with its own
//! data directory and a real Litestream replicating it to a `file://` replica, behind a small proxy that replays
//! requests as Fly's does with `fly-replay`. Sign-up, agents, live calls (real voice models) and Twilio streams
//! served by the tenant's home region whatever the entry; the catalog replica's lag; point-in-time restores of a
//! tenant and of whole data directories from the replica; moving a tenant between regions while it is written to.

#[path = "../support/mod.rs"]
mod support;

#[path = "../support/openai_server.rs"]
mod openai_server;

mod cluster;
mod moves;
mod proxy;
mod regions;
mod restore;
