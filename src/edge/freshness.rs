//! How fresh this region's catalog replica is: the newest primary heartbeat it holds.
//!
//! The primary rewrites its heartbeat every second, in the same catalog as sign-ins and memberships, and
//! Litestream ships changes in commit order. So a replica holding heartbeat `h` holds everything the primary
//! committed before `h`: a credential issued at `t` can be checked as soon as the replica shows `h > t`.

use std::time::Duration;

use tokio::sync::watch;

/// The replica's position; cheap to clone.
#[derive(Clone)]
pub struct Freshness {
    /// The primary (or a single-region server) reads the catalog itself: always fresh.
    primary: bool,
    /// Newest heartbeat seen in the replica (unix ms).
    seen: watch::Sender<Option<i64>>,
}

impl Freshness {
    /// Where the catalog is read directly.
    pub fn primary() -> Self {
        Self {
            primary: true,
            seen: watch::Sender::new(None),
        }
    }

    /// Where the catalog is a replica; [`observe`](Self::observe) moves it forward.
    pub fn replica() -> Self {
        Self {
            primary: false,
            seen: watch::Sender::new(None),
        }
    }

    /// True where the catalog is read directly.
    pub fn is_primary(&self) -> bool {
        self.primary
    }

    /// Records a heartbeat read from the replica.
    pub fn observe(&self, heartbeat_ms: i64) {
        self.seen.send_if_modified(|seen| {
            let newer = seen.is_none_or(|s| heartbeat_ms > s);
            if newer {
                *seen = Some(heartbeat_ms);
            }
            newer
        });
    }

    /// The newest heartbeat the replica holds, if any yet.
    pub fn heartbeat(&self) -> Option<i64> {
        *self.seen.borrow()
    }

    /// Waits (up to `timeout`) until the replica holds everything the primary committed before `at_ms`.
    /// True when it does (at once on the primary).
    pub async fn wait_past(&self, at_ms: i64, timeout: Duration) -> bool {
        if self.primary {
            return true;
        }
        let mut seen = self.seen.subscribe();
        let past = |s: &Option<i64>| s.is_some_and(|s| s > at_ms);
        tokio::time::timeout(timeout, seen.wait_for(past))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_until_a_newer_heartbeat_arrives() {
        let fresh = Freshness::replica();
        assert!(!fresh.wait_past(1_000, Duration::from_millis(10)).await);
        let waiter = {
            let fresh = fresh.clone();
            tokio::spawn(async move { fresh.wait_past(1_000, Duration::from_secs(5)).await })
        };
        fresh.observe(900);
        fresh.observe(1_000);
        fresh.observe(1_001);
        assert!(waiter.await.unwrap());
        fresh.observe(500);
        assert_eq!(fresh.heartbeat(), Some(1_001), "never goes back");
        assert!(
            Freshness::primary()
                .wait_past(i64::MAX - 1, Duration::ZERO)
                .await
        );
    }
}
