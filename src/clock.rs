//! Time: the server's notion of "now" (controllable in tests) and how times are written.
//!
//! Every table stores times as unix milliseconds; [`datetime`] turns them into what the API and webhooks show
//! (RFC 3339 via chrono).
//!
//! Everything time-dependent in identity and access (token expiry, rate limits, login lock-out) reads
//! this clock instead of the system's, so tests move time forward instead of sleeping. In production the
//! offset stays zero and the clock is the system clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};

/// The system's current time as unix milliseconds, the timestamp format of every table.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Unix milliseconds (the storage format) as a date-time (GraphQL `DateTime`, JSON in webhooks and exports).
pub fn datetime(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// The system clock plus an offset that only tests change. Cheap to clone; clones share the offset.
#[derive(Debug, Clone)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
    /// Told when the offset moves, so timers waiting for a wall-clock time re-check it at once.
    moved: Arc<tokio::sync::watch::Sender<()>>,
}

impl Default for Clock {
    fn default() -> Self {
        Self {
            offset_ms: Arc::default(),
            moved: Arc::new(tokio::sync::watch::Sender::new(())),
        }
    }
}

impl Clock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Resolves once this clock reads `at_ms` (unix ms) or later: a timer on the server's wall clock, which
    /// also fires when a test moves the clock past it.
    pub async fn sleep_until_ms(&self, at_ms: i64) {
        let mut moved = self.moved.subscribe();
        loop {
            let left = at_ms.saturating_sub(self.now_ms());
            if left <= 0 {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(left.unsigned_abs())) => {}
                changed = moved.changed() => {
                    if changed.is_err() {
                        // Unreachable while `self` holds the sender; sleep out the rest instead.
                        tokio::time::sleep(Duration::from_millis(left.unsigned_abs())).await;
                    }
                }
            }
        }
    }

    /// Wall-clock time as unix milliseconds (the storage format).
    pub fn now_ms(&self) -> i64 {
        now_ms() + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Wall-clock time as unix seconds (JWT claims).
    pub fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// A monotonic instant (rate limits, lock-outs).
    pub fn instant(&self) -> Instant {
        let offset = self.offset_ms.load(Ordering::Relaxed).max(0);
        Instant::now() + Duration::from_millis(offset.unsigned_abs())
    }

    /// Moves the clock forward (tests).
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
        self.moved.send_replace(());
    }
}

impl governor::clock::Clock for Clock {
    type Instant = Instant;

    fn now(&self) -> Instant {
        self.instant()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_both_clocks_for_every_clone() {
        let clock = Clock::new();
        let other = clock.clone();
        let (ms, instant) = (clock.now_ms(), clock.instant());
        other.advance(Duration::from_secs(3600));
        assert!(clock.now_ms() >= ms + 3_600_000);
        assert!(clock.instant() >= instant + Duration::from_secs(3600));
    }

    #[tokio::test]
    async fn timers_fire_when_the_clock_is_moved_past_them() {
        let clock = Clock::new();
        let at = clock.now_ms() + 3_600_000;
        let timer = tokio::spawn({
            let clock = clock.clone();
            async move { clock.sleep_until_ms(at).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!timer.is_finished());
        clock.advance(Duration::from_secs(3601));
        tokio::time::timeout(Duration::from_secs(1), timer)
            .await
            .expect("fired at once")
            .unwrap();
    }
}
