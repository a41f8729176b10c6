//! The catalog outside the primary: a replica Litestream restores and keeps following (`litestream restore
//! -f`), read through [`Database::replica`]. The primary writes a heartbeat into the catalog every second; every
//! region with a replica reads it back to know how far behind the primary it is
//! (`voxedge_replication_lag_seconds`, `/readyz`) and to let [`Freshness`] waiters through. The primary follows
//! its own replica too, so its lag is the whole path: its Litestream, object storage, and a restore.
//!
//! Litestream applies changes under SQLite's own file locks, but a WAL-mode reader holds its lock for as long as
//! it is connected, which would stall the follower forever; the restored file is therefore switched to a
//! rollback journal once, before anything reads it, so readers only hold a lock while they read.
//! If Litestream stops, the replica is restored afresh into a new file and the readers move to it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::process::Child;

use super::litestream::{Litestream, redact_url};
use super::{EdgeError, Freshness};
use crate::clock::now_ms;
use crate::db::{AtPath as _, Database, SqliteSettings, StorageError};
use crate::repo;

/// How often Litestream looks for new changes in the replica.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(500);
/// How often the replica's heartbeat is read.
const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How often the primary writes its heartbeat.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
/// How long the first restore of the replica may take before Litestream is stopped and started again.
const RESTORE_TIMEOUT: Duration = Duration::from_secs(300);
/// How long a region waits at start for the primary's first catalog replica.
const FIRST_REPLICA_WAIT: Duration = Duration::from_secs(600);

/// How far behind the primary this region's catalog replica is.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct LagReading {
    /// Seconds between now and the newest heartbeat the replica holds.
    pub lag_seconds: f64,
    /// That heartbeat (unix ms, the primary's clock).
    pub heartbeat_at: i64,
}

/// The latest [`LagReading`], shared with `/readyz`.
#[derive(Debug, Clone, Default)]
pub struct Lag {
    reading: Arc<std::sync::Mutex<Option<LagReading>>>,
}

impl Lag {
    pub fn get(&self) -> Option<LagReading> {
        *self
            .reading
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn set(&self, reading: LagReading) {
        *self
            .reading
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(reading);
        metrics::gauge!("voxedge_replication_lag_seconds", "database" => "catalog")
            .set(reading.lag_seconds);
    }
}

/// What following needs.
#[derive(Clone)]
pub struct FollowSettings {
    pub litestream: Litestream,
    /// The primary's catalog replica.
    pub url: String,
    /// Where restored copies go (`DATA_DIR/replica`).
    pub dir: PathBuf,
    pub sqlite: SqliteSettings,
}

/// Restores the catalog replica (retrying until the primary has replicated one), returns a read-only database over
/// it, and keeps it following in the background, heartbeat and lag included.
pub async fn open_replica(
    settings: FollowSettings,
    freshness: Freshness,
    lag: Lag,
) -> Result<Database, EdgeError> {
    std::fs::create_dir_all(&settings.dir).at(&settings.dir)?;
    remove_old_copies(&settings.dir, None);
    let mut attempt = 0u32;
    let waiting = std::time::Instant::now();
    let follow = loop {
        match start(&settings).await {
            Ok(follow) => break follow,
            Err(err) if waiting.elapsed() > FIRST_REPLICA_WAIT => return Err(err),
            Err(err) => {
                attempt += 1;
                if attempt == 1 || attempt.is_multiple_of(10) {
                    tracing::warn!(error = %err, attempt, "waiting for the primary's catalog replica");
                }
                tokio::time::sleep(backoff(attempt)).await;
            }
        }
    };
    let db = Database::replica(&follow.path, &settings.sqlite);
    tokio::spawn(supervise(settings, follow, db.clone()));
    tokio::spawn(poll_heartbeat(db.clone(), freshness, lag));
    Ok(db)
}

/// On the primary: follows its own catalog replica in the background, only to measure the lag.
pub fn measure_own_lag(settings: FollowSettings, lag: Lag) {
    tokio::spawn(async move {
        match open_replica(settings, Freshness::replica(), lag).await {
            Ok(_db) => {}
            Err(err) => tracing::error!(error = %err, "cannot follow the catalog replica"),
        }
    });
}

/// Writes the primary's heartbeat every second until the process ends.
pub fn beat(catalog: Database, region: String) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(HEARTBEAT_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let region = region.clone();
            let written = catalog
                .write(move |tx| repo::regions::beat(tx, &region, now_ms()))
                .await;
            if let Err(err) = written {
                tracing::warn!(error = %err, "cannot write the catalog heartbeat");
            }
        }
    });
}

struct Follow {
    child: Child,
    path: PathBuf,
}

/// Restores into a new file and waits until Litestream follows it, then switches it to a rollback journal.
async fn start(settings: &FollowSettings) -> Result<Follow, EdgeError> {
    let path = settings
        .dir
        .join(format!("catalog-{}.db", crate::db::new_ulid()));
    let (mut child, mut lines) =
        settings
            .litestream
            .follow(&settings.url, &path, FOLLOW_INTERVAL)?;
    let mut last = String::new();
    let restored = tokio::time::timeout(RESTORE_TIMEOUT, async {
        while let Some(line) = lines.recv().await {
            if line.contains("entering follow mode") {
                return true;
            }
            last = line;
        }
        false
    })
    .await;
    if restored != Ok(true) {
        let _ = child.kill().await;
        for leftover in [
            path.clone(),
            PathBuf::from(format!("{}-txid", path.display())),
        ] {
            let _ = std::fs::remove_file(leftover);
        }
        return Err(EdgeError::Replica(format!(
            "litestream did not restore {}: {}",
            redact_url(&settings.url),
            if last.is_empty() { "timed out" } else { &last }
        )));
    }
    tokio::spawn(async move {
        while let Some(line) = lines.recv().await {
            if line.contains("level=ERROR") || line.contains("level=WARN") {
                tracing::warn!(litestream = %line, "catalog follower");
            }
        }
    });
    let converted = path.clone();
    tokio::task::spawn_blocking(move || to_rollback_journal(&converted)).await??;
    tracing::info!(path = %path.display(), replica = redact_url(&settings.url), "following the catalog replica");
    Ok(Follow { child, path })
}

/// Restarts following from a fresh copy whenever Litestream stops.
async fn supervise(settings: FollowSettings, mut follow: Follow, db: Database) {
    loop {
        let status = follow.child.wait().await;
        tracing::warn!(status = ?status.ok(), "the catalog follower stopped; restoring the replica afresh");
        let mut attempt = 0u32;
        follow = loop {
            attempt += 1;
            tokio::time::sleep(backoff(attempt)).await;
            match start(&settings).await {
                Ok(next) => break next,
                Err(err) => {
                    tracing::warn!(error = %err, attempt, "cannot restore the catalog replica")
                }
            }
        };
        db.swap_replica(&follow.path, &settings.sqlite);
        remove_old_copies(&settings.dir, Some(&follow.path));
    }
}

/// Reads the heartbeat the replica holds, for waiters and the lag gauge.
async fn poll_heartbeat(db: Database, freshness: Freshness, lag: Lag) {
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match db.read(repo::regions::heartbeat).await {
            Ok(Some(at)) => {
                freshness.observe(at);
                let lag_seconds = (now_ms() - at).max(0) as f64 / 1000.0;
                lag.set(LagReading {
                    lag_seconds,
                    heartbeat_at: at,
                });
            }
            Ok(None) => {}
            Err(err) => {
                tracing::debug!(error = %err, "cannot read the catalog replica's heartbeat")
            }
        }
    }
}

/// Litestream writes the restored file with a WAL header; a rollback journal lets readers hold their lock only
/// while they read (see the module documentation).
fn to_rollback_journal(path: &Path) -> Result<(), StorageError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "delete", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(StorageError::Corrupt(format!(
            "{} kept journal mode {mode}",
            path.display()
        )));
    }
    Ok(())
}

/// Removes restored copies other than `keep` (and Litestream's position files beside them).
fn remove_old_copies(dir: &Path, keep: Option<&Path>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let kept = keep.is_some_and(|k| path.to_string_lossy().starts_with(&*k.to_string_lossy()));
        if name.starts_with("catalog-") && !kept {
            let _ = std::fs::remove_file(&path);
        }
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis((250 * u64::from(attempt)).min(5_000))
}
