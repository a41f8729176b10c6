//! Admission limits: whether a tenant may start one more call, decided inside the transaction that creates
//! the call record.
//!
//! SQLite has one writer per tenant file, so counting the calls in progress and inserting the new one in the
//! same write transaction serialises concurrent starts: at a limit of N, N starts are admitted however many
//! arrive at once, and a refused start leaves nothing behind. The count is read from the tenant's own calls
//! (`carried` and queued, ringing or in progress), so it survives restarts and needs no reconciling: calls
//! a crashed process left open stop counting once crash recovery ends them.
//!
//! Calls already in progress are never cut by a quota; the monthly minutes are checked when a call starts,
//! from the call time metered so far this month.

use rusqlite::Connection;

use super::BillingError;
use super::pricing::Month;
use crate::model::{Metric, PlanTerms, TenantStatus};
use crate::repo;

/// What the admission of a new call is checked against: the tenant's standing and plan limits now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    pub status: TenantStatus,
    pub concurrent_calls: Option<u32>,
    pub monthly_minutes: Option<u64>,
    /// The calendar month the minutes count in.
    pub month: Month,
}

impl Admission {
    pub fn new(status: TenantStatus, terms: Option<&PlanTerms>, now: i64) -> Self {
        Self {
            status,
            concurrent_calls: terms.and_then(|t| t.concurrent_calls),
            monthly_minutes: terms.and_then(|t| t.monthly_minutes),
            month: Month::containing(now),
        }
    }

    /// No limits (tests, tools).
    pub fn unlimited(now: i64) -> Self {
        Self::new(TenantStatus::Active, None, now)
    }

    /// Refuses a suspended tenant; the cheap check made before anything else is set up for a call.
    pub fn check_status(&self) -> Result<(), BillingError> {
        if self.status.accepts_new_calls() {
            Ok(())
        } else {
            Err(BillingError::TenantSuspended)
        }
    }

    /// Refuses one more call when the tenant is suspended, at its concurrent-call limit, or past its monthly
    /// minutes. Call it inside the transaction that creates the call.
    pub fn check(&self, conn: &Connection) -> Result<(), BillingError> {
        self.check_status()?;
        if let Some(limit) = self.concurrent_calls {
            let open = repo::calls::count_carried_open(conn)?;
            if open >= i64::from(limit) {
                return Err(BillingError::ConcurrentCallLimit { limit });
            }
        }
        if let Some(limit) = self.monthly_minutes {
            let used_ms = repo::usage::metric_total(
                conn,
                Metric::CallMs,
                self.month.first_day(),
                self.month.end_day(),
            )?;
            let limit_ms = i64::try_from(limit)
                .unwrap_or(i64::MAX / 60_000)
                .saturating_mul(60_000);
            if used_ms >= limit_ms {
                return Err(BillingError::MonthlyMinutesExhausted { limit });
            }
        }
        Ok(())
    }

    /// How many more calls the tenant may start now (`None`: no limit), for those who plan calls ahead (the
    /// campaign dialer); each start is still checked with [`Admission::check`].
    pub fn free_slots(&self, conn: &Connection) -> Result<Option<usize>, BillingError> {
        if self.check_status().is_err() {
            return Ok(Some(0));
        }
        let Some(limit) = self.concurrent_calls else {
            return Ok(None);
        };
        let open = repo::calls::count_carried_open(conn)?;
        Ok(Some(usize::try_from(i64::from(limit) - open).unwrap_or(0)))
    }
}
