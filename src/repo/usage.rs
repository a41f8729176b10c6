//! Tenant database → `usage_events` (the append-only ledger) and `usage_daily` (its rollups).
//!
//! Every ledger row changes its rollup in the same statement sequence, inside the caller's transaction, so the
//! two never disagree; [`verify`] compares them anyway.

use super::Result;
use rusqlite::{Connection, OptionalExtension, named_params};

use crate::model::{Metric, NewUsage};

/// Milliseconds in a UTC day: rollups are keyed by `occurred_at / DAY_MS`.
pub const DAY_MS: i64 = 86_400_000;

/// A correction of the ledger: a new row, negative or positive, with a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjustment {
    /// Makes a retried adjustment count once.
    pub idempotency_key: String,
    pub call_id: Option<String>,
    /// The agent whose usage it corrects (`None`: usage without an agent).
    pub agent_id: Option<String>,
    pub metric: Metric,
    pub quantity: i64,
    pub reason: String,
}

/// Records `usage` unless its idempotency key was recorded before, and adds it to its day's rollup. The
/// agent is the call's. Returns whether it was new.
pub fn record(conn: &Connection, usage: &NewUsage, occurred_at: i64) -> Result<bool> {
    let mut insert = conn.prepare_cached(
        "insert into usage_events (idempotency_key, call_id, agent_id, metric, quantity, kind, occurred_at)
         values (:key, :call_id, (select agent_id from calls where id = :call_id), :metric, :quantity,
                 'usage', :at)
         on conflict (idempotency_key) do nothing
         returning agent_id",
    )?;
    let agent: Option<Option<String>> = insert
        .query_row(
            named_params! {
                ":key": usage.idempotency_key,
                ":call_id": usage.call_id,
                ":metric": usage.metric.as_str(),
                ":quantity": usage.quantity,
                ":at": occurred_at,
            },
            |row| row.get(0),
        )
        .optional()?;
    let Some(agent) = agent else {
        return Ok(false);
    };
    roll_up(
        conn,
        occurred_at,
        agent.as_deref(),
        usage.metric,
        usage.quantity,
    )?;
    Ok(true)
}

/// Records an adjustment at `occurred_at` unless its key was recorded before. Returns whether it was new.
pub fn record_adjustment(
    conn: &Connection,
    adjustment: &Adjustment,
    occurred_at: i64,
) -> Result<bool> {
    let inserted = conn.execute(
        "insert into usage_events
            (idempotency_key, call_id, agent_id, metric, quantity, kind, reason, occurred_at)
         values (:key, :call_id, :agent_id, :metric, :quantity, 'adjustment', :reason, :at)
         on conflict (idempotency_key) do nothing",
        named_params! {
            ":key": adjustment.idempotency_key,
            ":call_id": adjustment.call_id,
            ":agent_id": adjustment.agent_id,
            ":metric": adjustment.metric.as_str(),
            ":quantity": adjustment.quantity,
            ":reason": adjustment.reason,
            ":at": occurred_at,
        },
    )?;
    if inserted == 0 {
        return Ok(false);
    }
    roll_up(
        conn,
        occurred_at,
        adjustment.agent_id.as_deref(),
        adjustment.metric,
        adjustment.quantity,
    )?;
    Ok(true)
}

fn roll_up(
    conn: &Connection,
    occurred_at: i64,
    agent: Option<&str>,
    metric: Metric,
    quantity: i64,
) -> Result<()> {
    conn.prepare_cached(
        "insert into usage_daily (day, agent_id, metric, quantity, events)
         values (:day, :agent, :metric, :quantity, 1)
         on conflict (day, agent_id, metric)
         do update set quantity = quantity + excluded.quantity, events = events + 1",
    )?
    .execute(named_params! {
        ":day": occurred_at.div_euclid(DAY_MS),
        ":agent": agent.unwrap_or(""),
        ":metric": metric.as_str(),
        ":quantity": quantity,
    })?;
    Ok(())
}

/// One rollup row: a day, an agent (`""` for none), a metric, and its total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyUsage {
    /// UTC day number (unix ms / [`DAY_MS`]).
    pub day: i64,
    pub agent_id: String,
    pub metric: Metric,
    pub quantity: i64,
    pub events: i64,
}

/// Rollup rows for days in `[first_day, end_day)`, by day, agent and metric.
pub fn daily(conn: &Connection, first_day: i64, end_day: i64) -> Result<Vec<DailyUsage>> {
    let mut stmt = conn.prepare_cached(
        "select day, agent_id, metric, quantity, events from usage_daily
         where day >= :first and day < :end order by day, agent_id, metric",
    )?;
    let rows = stmt
        .query_map(
            named_params! { ":first": first_day, ":end": end_day },
            |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, i64>(4)?,
                ))
            },
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(day, agent_id, metric, quantity, events)| {
            Some(DailyUsage {
                day,
                agent_id,
                metric: Metric::parse(&metric)?,
                quantity,
                events,
            })
        })
        .collect())
}

/// Total of `metric` over days in `[first_day, end_day)`, from the rollups.
pub fn metric_total(
    conn: &Connection,
    metric: Metric,
    first_day: i64,
    end_day: i64,
) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "select coalesce(sum(quantity), 0) from usage_daily
             where metric = :metric and day >= :first and day < :end",
        )?
        .query_row(
            named_params! { ":metric": metric.as_str(), ":first": first_day, ":end": end_day },
            |row| row.get(0),
        )?)
}

/// Where the rollups disagree with the ledger: `(day, agent, metric, ledger total, rollup total)`.
pub type Mismatch = (i64, String, String, i64, i64);

/// Recomputes every rollup from the ledger and lists the rows that differ (empty when all agree).
pub fn verify(conn: &Connection) -> Result<Vec<Mismatch>> {
    let mut stmt = conn.prepare(
        "with ledger as (
             select occurred_at / 86400000 as day, coalesce(agent_id, '') as agent_id, metric,
                    sum(quantity) as quantity, count(*) as events
             from usage_events group by 1, 2, 3
         ),
         joined as (
             select l.day, l.agent_id, l.metric, l.quantity as ledger, d.quantity as rollup,
                    l.events as ledger_events, d.events as rollup_events
             from ledger l left join usage_daily d
                  on d.day = l.day and d.agent_id = l.agent_id and d.metric = l.metric
             union all
             select d.day, d.agent_id, d.metric, null, d.quantity, null, d.events
             from usage_daily d
             where not exists (select 1 from ledger l
                               where l.day = d.day and l.agent_id = d.agent_id and l.metric = d.metric)
         )
         select day, agent_id, metric, coalesce(ledger, 0), coalesce(rollup, 0) from joined
         where ledger is null or rollup is null or ledger != rollup or ledger_events != rollup_events
         order by day, agent_id, metric",
    )?;
    Ok(stmt
        .query_map([], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?)
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

/// Ledger rows after `after_id`, up to `limit`: `(id, metric, quantity)` — what is reported to Stripe.
pub fn events_after(
    conn: &Connection,
    after_id: i64,
    limit: i64,
) -> Result<Vec<(i64, Metric, i64)>> {
    let mut stmt = conn.prepare_cached(
        "select id, metric, quantity from usage_events where id > :after order by id limit :limit",
    )?;
    let rows = stmt
        .query_map(
            named_params! { ":after": after_id, ":limit": limit },
            |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                ))
            },
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, metric, quantity)| Some((id, Metric::parse(&metric)?, quantity)))
        .collect())
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
