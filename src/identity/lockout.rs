//! Brute-force protection for sign-in: failed attempts are counted per account and per client IP, and
//! too many within a window lock that account (or IP) out for a while.
//!
//! Pure logic: time comes in as `now`, so tests move it instead of sleeping. State is in memory, per
//! instance (a tenant's users are served by its home region); a restart forgets it, which at worst gives
//! an attacker one more window of attempts.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::ratelimit::RateLimited;

/// When failures lock out.
#[derive(Debug, Clone, Copy)]
pub struct LockoutPolicy {
    /// Failures within `window` that trigger a lock-out; 0 disables it.
    pub max_failures: u32,
    pub window: Duration,
    /// How long a lock-out lasts.
    pub lockout: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    window_start: Instant,
    locked_until: Option<Instant>,
}

/// Failure counters for one kind of key (accounts, or IPs).
#[derive(Debug)]
pub struct Lockouts {
    policy: LockoutPolicy,
    entries: Mutex<HashMap<String, Entry>>,
}

/// Entries kept before stale ones are pruned.
const PRUNE_ABOVE: usize = 100_000;

impl Lockouts {
    pub fn new(policy: LockoutPolicy) -> Self {
        Self {
            policy,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Refused, saying how long to wait, while `key` is locked out.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), RateLimited> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(key).and_then(|e| e.locked_until) {
            Some(until) if until > now => Err(RateLimited::after(until - now)),
            _ => Ok(()),
        }
    }

    /// Counts a failure; refused, saying how long to wait, if it locked `key` out.
    pub fn record_failure(&self, key: &str, now: Instant) -> Result<(), RateLimited> {
        if self.policy.max_failures == 0 {
            return Ok(());
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() > PRUNE_ABOVE {
            self.retain_live(&mut entries, now);
        }
        let entry = entries.entry(key.to_string()).or_insert(Entry {
            failures: 0,
            window_start: now,
            locked_until: None,
        });
        let lock_over = entry.locked_until.is_some_and(|u| u <= now);
        if lock_over || now.duration_since(entry.window_start) >= self.policy.window {
            *entry = Entry {
                failures: 0,
                window_start: now,
                locked_until: None,
            };
        }
        entry.failures += 1;
        if entry.failures >= self.policy.max_failures {
            let until = now + self.policy.lockout;
            entry.locked_until = Some(until);
            return Err(RateLimited::after(until - now));
        }
        Ok(())
    }

    /// Forgets entries whose window and lock-out are both over; returns how many are left. The server runs
    /// it on a timer, so memory follows recent failures rather than every key that ever failed.
    pub fn prune(&self, now: Instant) -> usize {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        self.retain_live(&mut entries, now);
        entries.shrink_to_fit();
        entries.len()
    }

    fn retain_live(&self, entries: &mut HashMap<String, Entry>, now: Instant) {
        let horizon = self.policy.window.max(self.policy.lockout);
        entries.retain(|_, e| {
            e.locked_until.is_some_and(|u| u > now)
                || now.saturating_duration_since(e.window_start) < horizon
        });
    }

    /// Forgets `key`'s failures (after a successful sign-in).
    pub fn reset(&self, key: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: LockoutPolicy = LockoutPolicy {
        max_failures: 3,
        window: Duration::from_secs(60),
        lockout: Duration::from_secs(300),
    };

    #[test]
    fn locks_after_max_failures_and_unlocks_after_the_lockout() {
        let lockouts = Lockouts::new(POLICY);
        let t0 = Instant::now();
        assert!(lockouts.record_failure("a", t0).is_ok());
        assert!(
            lockouts
                .record_failure("a", t0 + Duration::from_secs(1))
                .is_ok()
        );
        assert_eq!(
            lockouts.record_failure("a", t0 + Duration::from_secs(2)),
            Err(RateLimited::after(Duration::from_secs(300)))
        );
        assert_eq!(
            lockouts.check("a", t0 + Duration::from_secs(102)),
            Err(RateLimited::after(Duration::from_secs(200)))
        );
        assert!(lockouts.check("b", t0).is_ok(), "other keys are unaffected");
        assert!(lockouts.check("a", t0 + Duration::from_secs(302)).is_ok());
        assert!(
            lockouts
                .record_failure("a", t0 + Duration::from_secs(303))
                .is_ok()
        );
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up_and_success_resets() {
        let lockouts = Lockouts::new(POLICY);
        let t0 = Instant::now();
        for minute in 0..10 {
            let at = t0 + Duration::from_secs(61 * minute);
            assert!(lockouts.record_failure("a", at).is_ok());
            assert!(lockouts.record_failure("a", at).is_ok());
            lockouts.reset("a");
        }
        let disabled = Lockouts::new(LockoutPolicy {
            max_failures: 0,
            ..POLICY
        });
        for _ in 0..100 {
            assert!(disabled.record_failure("a", t0).is_ok());
        }
    }
}
