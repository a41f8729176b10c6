//! A circuit breaker per provider, with time as an input.
//!
//! A provider that keeps failing is skipped for a while instead of costing every caller a connect or
//! first-token timeout. The breaker never reads a clock: callers pass `now`, so its behaviour is
//! unit-tested without sleeping and the driver can use tokio's (pausable) clock.

use std::time::Duration;

use tokio::time::Instant;

/// When a breaker opens and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker.
    pub failure_threshold: u32,
    /// How long an open breaker refuses requests before letting one probe through.
    pub open_for: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            open_for: Duration::from_secs(30),
        }
    }
}

/// What a breaker currently does with requests, for metrics and the call timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests flow; failures are being counted.
    Closed {
        /// Failures in a row so far.
        consecutive_failures: u32,
    },
    /// Requests are refused until `until`.
    Open {
        /// When a probe will be allowed.
        until: Instant,
    },
    /// One probe request decides whether the breaker closes or opens again.
    HalfOpen {
        /// Whether the probe has been handed out already.
        probe_in_flight: bool,
    },
}

/// The state machine: closed → (N failures) → open → (time) → half-open → (probe) → closed or open.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    state: BreakerState,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            state: BreakerState::Closed {
                consecutive_failures: 0,
            },
        }
    }

    /// Whether a request may go to the provider at `now`.
    ///
    /// An open breaker whose time is up becomes half-open and hands out exactly one probe; everyone
    /// else is refused until that probe is recorded (or released).
    pub fn allow(&mut self, now: Instant) -> bool {
        match self.state {
            BreakerState::Closed { .. } => true,
            BreakerState::Open { until } if now >= until => {
                self.state = BreakerState::HalfOpen {
                    probe_in_flight: true,
                };
                true
            }
            BreakerState::Open { .. } => false,
            BreakerState::HalfOpen {
                probe_in_flight: true,
            } => false,
            BreakerState::HalfOpen {
                probe_in_flight: false,
            } => {
                self.state = BreakerState::HalfOpen {
                    probe_in_flight: true,
                };
                true
            }
        }
    }

    /// The provider answered completely: close the breaker and forget earlier failures.
    pub fn record_success(&mut self, _now: Instant) {
        self.state = BreakerState::Closed {
            consecutive_failures: 0,
        };
    }

    /// The provider failed: count it, and open the breaker at the threshold or after a failed probe.
    pub fn record_failure(&mut self, now: Instant) {
        let reopen = BreakerState::Open {
            until: now + self.config.open_for,
        };
        self.state = match self.state {
            BreakerState::Closed {
                consecutive_failures,
            } => {
                let failures = consecutive_failures.saturating_add(1);
                if failures >= self.config.failure_threshold {
                    reopen
                } else {
                    BreakerState::Closed {
                        consecutive_failures: failures,
                    }
                }
            }
            // A request let through before the breaker opened failed late: restart the open period.
            BreakerState::Open { .. } | BreakerState::HalfOpen { .. } => reopen,
        };
    }

    /// A probe was abandoned (the caller cancelled) without telling anything about the provider:
    /// hand the probe to the next request instead of staying half-open with nobody probing.
    pub fn release_probe(&mut self) {
        if let BreakerState::HalfOpen {
            probe_in_flight: true,
        } = self.state
        {
            self.state = BreakerState::HalfOpen {
                probe_in_flight: false,
            };
        }
    }

    /// The current state; an open breaker whose time is up is reported half-open.
    pub fn state(&self, now: Instant) -> BreakerState {
        match self.state {
            BreakerState::Open { until } if now >= until => BreakerState::HalfOpen {
                probe_in_flight: false,
            },
            state => state,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(threshold: u32) -> CircuitBreaker {
        CircuitBreaker::new(BreakerConfig {
            failure_threshold: threshold,
            open_for: Duration::from_secs(30),
        })
    }

    #[test]
    fn opens_after_threshold_consecutive_failures() {
        let t0 = Instant::now();
        let mut b = breaker(3);
        for _ in 0..2 {
            assert!(b.allow(t0));
            b.record_failure(t0);
        }
        assert!(
            b.allow(t0),
            "two failures stay below the threshold of three"
        );
        b.record_failure(t0);
        assert!(!b.allow(t0));
        assert!(!b.allow(t0 + Duration::from_secs(29)));
        assert_eq!(
            b.state(t0),
            BreakerState::Open {
                until: t0 + Duration::from_secs(30)
            }
        );
    }

    #[test]
    fn success_resets_the_failure_count() {
        let t0 = Instant::now();
        let mut b = breaker(2);
        b.record_failure(t0);
        b.record_success(t0);
        b.record_failure(t0);
        assert!(b.allow(t0), "failures were not consecutive");
    }

    #[test]
    fn half_open_lets_exactly_one_probe_through() {
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(30);
        let mut b = breaker(1);
        b.record_failure(t0);
        assert!(b.allow(later), "open period is over: probe");
        assert!(!b.allow(later), "second caller waits for the probe");
        b.record_success(later);
        assert!(b.allow(later));
        assert_eq!(
            b.state(later),
            BreakerState::Closed {
                consecutive_failures: 0
            }
        );
    }

    #[test]
    fn failed_probe_reopens_for_a_full_period() {
        let t0 = Instant::now();
        let probe_at = t0 + Duration::from_secs(31);
        let mut b = breaker(1);
        b.record_failure(t0);
        assert!(b.allow(probe_at));
        b.record_failure(probe_at);
        assert!(!b.allow(probe_at + Duration::from_secs(29)));
        assert!(b.allow(probe_at + Duration::from_secs(30)));
    }

    #[test]
    fn released_probe_goes_to_the_next_caller() {
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(30);
        let mut b = breaker(1);
        b.record_failure(t0);
        assert!(b.allow(later));
        b.release_probe();
        assert!(b.allow(later));
        assert!(!b.allow(later));
    }
}
