//! Tenant database → `usage_events`.

use super::Result;
use rusqlite::{Connection, named_params};

use crate::model::{Metric, NewUsage};

/// Records `usage` unless its idempotency key was recorded before. Returns whether it was new.
pub fn record(conn: &Connection, usage: &NewUsage, occurred_at: i64) -> Result<bool> {
    let inserted = conn.execute(
        "insert into usage_events (idempotency_key, call_id, metric, quantity, occurred_at)
         values (:key, :call_id, :metric, :quantity, :at)
         on conflict (idempotency_key) do nothing",
        named_params! {
            ":key": usage.idempotency_key,
            ":call_id": usage.call_id,
            ":metric": usage.metric.as_str(),
            ":quantity": usage.quantity,
            ":at": occurred_at,
        },
    )?;
    Ok(inserted == 1)
}

/// Totals per metric for events in `[since, until)` (unix ms), in [`Metric::ALL`] order; metrics without
/// events are reported as 0.
pub fn totals(conn: &Connection, since: i64, until: i64) -> Result<Vec<(Metric, i64)>> {
    let mut stmt = conn.prepare_cached(
        "select metric, sum(quantity) from usage_events
         where occurred_at >= :since and occurred_at < :until group by metric",
    )?;
    let rows = stmt
        .query_map(named_params! { ":since": since, ":until": until }, |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(every_metric(&rows))
}

/// Totals per metric for one call, in [`Metric::ALL`] order.
pub fn call_totals(conn: &Connection, call_id: &str) -> Result<Vec<(Metric, i64)>> {
    let mut stmt = conn.prepare_cached(
        "select metric, sum(quantity) from usage_events where call_id = :call_id group by metric",
    )?;
    let rows = stmt
        .query_map(named_params! { ":call_id": call_id }, |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(every_metric(&rows))
}

fn every_metric(sums: &[(String, i64)]) -> Vec<(Metric, i64)> {
    Metric::ALL
        .iter()
        .map(|&metric| {
            let sum = sums
                .iter()
                .find(|(name, _)| name == metric.as_str())
                .map_or(0, |(_, sum)| *sum);
            (metric, sum)
        })
        .collect()
}
