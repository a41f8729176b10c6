//! Tenant database → `campaigns`, `campaign_contacts`, `campaign_attempts`.

use rusqlite::{Connection, OptionalExtension, Row, named_params};

use super::Result;
use crate::model::campaign::{
    CallOutcome, CallingWindow, CampaignStatus, ContactStatus, RetryRules,
};
use crate::model::{CallStatus, Variables};

#[derive(Debug, Clone, PartialEq)]
pub struct CampaignRow {
    pub id: String,
    pub name: String,
    pub agent_id: String,
    pub from_number: String,
    pub status: CampaignStatus,
    pub timezone: String,
    pub windows: Vec<CallingWindow>,
    pub max_concurrent_calls: i64,
    pub retry: RetryRules,
    pub public_origin: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub started_at: Option<i64>,
    pub completed_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ContactRow {
    pub id: String,
    pub campaign_id: String,
    pub line: i64,
    pub phone_number: String,
    pub timezone: Option<String>,
    pub variables: Variables,
    pub status: ContactStatus,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub outcome: Option<CallOutcome>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRow {
    pub id: i64,
    pub campaign_id: String,
    pub contact_id: String,
    pub attempt: i64,
    pub call_id: String,
    pub outcome: Option<CallOutcome>,
    pub voided: bool,
    pub created_at: i64,
    pub ended_at: Option<i64>,
}

/// Contacts by status, and finished contacts by their final outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    pub total: i64,
    pub pending: i64,
    pub calling: i64,
    pub done: i64,
    pub canceled: i64,
    /// Finished contacts by outcome.
    pub outcomes: Vec<(CallOutcome, i64)>,
    /// Calls placed (attempts that reached Twilio).
    pub attempts: i64,
}

fn bad(index: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        index,
        rusqlite::types::Type::Text,
        format!("unknown {what}").into(),
    )
}

const CAMPAIGN_COLUMNS: &str = "id, name, agent_id, from_number, status, timezone, windows, max_concurrent_calls, \
    retry, public_origin, created_at, updated_at, started_at, completed_at";
/// The number is sealed in the file ([`crate::pii`]); unique per campaign through its blind index.
const CONTACT_COLUMNS: &str = "id, campaign_id, line, pii_open(phone_sealed, 'campaign_contacts.phone_number'), \
    timezone, variables, status, attempts, next_attempt_at, outcome, created_at, updated_at";

fn campaign_from_row(row: &Row<'_>) -> rusqlite::Result<CampaignRow> {
    Ok(CampaignRow {
        id: row.get(0)?,
        name: row.get(1)?,
        agent_id: row.get(2)?,
        from_number: row.get(3)?,
        status: CampaignStatus::parse(&row.get::<_, String>(4)?).ok_or_else(|| bad(4, "status"))?,
        timezone: row.get(5)?,
        windows: super::json_column(row, 6)?,
        max_concurrent_calls: row.get(7)?,
        retry: super::json_column(row, 8)?,
        public_origin: row.get(9)?,
        created_at: row.get(10)?,
        updated_at: row.get(11)?,
        started_at: row.get(12)?,
        completed_at: row.get(13)?,
    })
}

fn outcome_column(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<CallOutcome>> {
    row.get::<_, Option<String>>(index)?
        .map(|s| CallOutcome::parse(&s).ok_or_else(|| bad(index, "outcome")))
        .transpose()
}

fn contact_from_row(row: &Row<'_>) -> rusqlite::Result<ContactRow> {
    Ok(ContactRow {
        id: row.get(0)?,
        campaign_id: row.get(1)?,
        line: row.get(2)?,
        phone_number: row.get(3)?,
        timezone: row.get(4)?,
        variables: super::json_column(row, 5)?,
        status: ContactStatus::parse(&row.get::<_, String>(6)?).ok_or_else(|| bad(6, "status"))?,
        attempts: row.get(7)?,
        next_attempt_at: row.get(8)?,
        outcome: outcome_column(row, 9)?,
        created_at: row.get(10)?,
        updated_at: row.get(11)?,
    })
}

fn attempt_from_row(row: &Row<'_>) -> rusqlite::Result<AttemptRow> {
    Ok(AttemptRow {
        id: row.get(0)?,
        campaign_id: row.get(1)?,
        contact_id: row.get(2)?,
        attempt: row.get(3)?,
        call_id: row.get(4)?,
        outcome: outcome_column(row, 5)?,
        voided: row.get(6)?,
        created_at: row.get(7)?,
        ended_at: row.get(8)?,
    })
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("invariant: campaign values serialise")
}

pub fn insert_campaign(conn: &Connection, c: &CampaignRow) -> Result<()> {
    conn.prepare_cached(&format!(
        "insert into campaigns ({CAMPAIGN_COLUMNS}) values (:id, :name, :agent_id, :from_number, :status,
            :timezone, :windows, :max, :retry, :origin, :created_at, :updated_at, :started_at, :completed_at)"
    ))?
    .execute(named_params! {
        ":id": c.id, ":name": c.name, ":agent_id": c.agent_id, ":from_number": c.from_number,
        ":status": c.status.as_str(), ":timezone": c.timezone, ":windows": json(&c.windows),
        ":max": c.max_concurrent_calls, ":retry": json(&c.retry), ":origin": c.public_origin,
        ":created_at": c.created_at, ":updated_at": c.updated_at, ":started_at": c.started_at,
        ":completed_at": c.completed_at,
    })?;
    Ok(())
}

/// Writes every field of a campaign but its id and creation time.
pub fn update_campaign(conn: &Connection, c: &CampaignRow) -> Result<()> {
    conn.prepare_cached(
        "update campaigns set name = :name, from_number = :from_number, status = :status, timezone = :timezone,
            windows = :windows, max_concurrent_calls = :max, retry = :retry, public_origin = :origin,
            updated_at = :updated_at, started_at = :started_at, completed_at = :completed_at
         where id = :id",
    )?
    .execute(named_params! {
        ":id": c.id, ":name": c.name, ":from_number": c.from_number, ":status": c.status.as_str(),
        ":timezone": c.timezone, ":windows": json(&c.windows), ":max": c.max_concurrent_calls,
        ":retry": json(&c.retry), ":origin": c.public_origin, ":updated_at": c.updated_at,
        ":started_at": c.started_at, ":completed_at": c.completed_at,
    })?;
    Ok(())
}

pub fn get_campaign(conn: &Connection, id: &str) -> Result<Option<CampaignRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "select {CAMPAIGN_COLUMNS} from campaigns where id = :id"
        ))?
        .query_row(named_params! { ":id": id }, campaign_from_row)
        .optional()?)
}

/// Campaigns newest first, after the `(created_at, id)` cursor, optionally in one status.
pub fn list_campaigns(
    conn: &Connection,
    status: Option<CampaignStatus>,
    after: Option<(i64, String)>,
    limit: usize,
) -> Result<Vec<CampaignRow>> {
    let (at, id) = after.unwrap_or((i64::MAX, String::new()));
    Ok(conn
        .prepare_cached(&format!(
            "select {CAMPAIGN_COLUMNS} from campaigns
             where (created_at, id) < (:at, :id) and (:status is null or status = :status)
             order by created_at desc, id desc limit :limit"
        ))?
        .query_map(
            named_params! { ":at": at, ":id": id, ":status": status.map(|s| s.as_str()), ":limit": limit as i64 },
            campaign_from_row,
        )?
        .collect::<rusqlite::Result<_>>()?)
}

/// Campaigns the scheduler looks after: running or paused ones, and any with a call still on.
pub fn scheduled_campaigns(conn: &Connection) -> Result<Vec<CampaignRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "select {CAMPAIGN_COLUMNS} from campaigns
             where status in ('running', 'paused')
                or id in (select campaign_id from campaign_attempts where outcome is null and voided = 0)"
        ))?
        .query_map([], campaign_from_row)?
        .collect::<rusqlite::Result<_>>()?)
}

/// Adds a contact; a phone number already in the campaign is a unique violation.
pub fn insert_contact(conn: &Connection, c: &ContactRow) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "insert into campaign_contacts (id, campaign_id, line, phone_sealed, phone_index, timezone, variables, status,
            attempts, next_attempt_at, outcome, created_at, updated_at)
         values (:id, :campaign_id, :line, pii_seal(:phone, 'campaign_contacts.phone_number'), pii_index(:phone),
            :timezone, :variables, :status, :attempts, :next, :outcome, :created_at, :updated_at)",
    )?
    .execute(named_params! {
        ":id": c.id, ":campaign_id": c.campaign_id, ":line": c.line, ":phone": c.phone_number,
        ":timezone": c.timezone, ":variables": json(&c.variables), ":status": c.status.as_str(),
        ":attempts": c.attempts, ":next": c.next_attempt_at, ":outcome": c.outcome.map(|o| o.as_str()),
        ":created_at": c.created_at, ":updated_at": c.updated_at,
    })?;
    Ok(())
}

pub fn update_contact(conn: &Connection, c: &ContactRow) -> Result<()> {
    conn.prepare_cached(
        "update campaign_contacts set status = :status, attempts = :attempts, next_attempt_at = :next,
            outcome = :outcome, updated_at = :updated_at
         where id = :id",
    )?
    .execute(named_params! {
        ":id": c.id, ":status": c.status.as_str(), ":attempts": c.attempts, ":next": c.next_attempt_at,
        ":outcome": c.outcome.map(|o| o.as_str()), ":updated_at": c.updated_at,
    })?;
    Ok(())
}

pub fn get_contact(conn: &Connection, id: &str) -> Result<Option<ContactRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "select {CONTACT_COLUMNS} from campaign_contacts where id = :id"
        ))?
        .query_row(named_params! { ":id": id }, contact_from_row)
        .optional()?)
}

/// A campaign's contacts in CSV order, after the `(line, id)` cursor, optionally in one status.
pub fn list_contacts(
    conn: &Connection,
    campaign_id: &str,
    status: Option<ContactStatus>,
    after: Option<(i64, String)>,
    limit: usize,
) -> Result<Vec<ContactRow>> {
    let (line, id) = after.unwrap_or((i64::MIN, String::new()));
    Ok(conn
        .prepare_cached(&format!(
            "select {CONTACT_COLUMNS} from campaign_contacts
             where campaign_id = :campaign_id and (line, id) > (:line, :id)
               and (:status is null or status = :status)
             order by line, id limit :limit"
        ))?
        .query_map(
            named_params! {
                ":campaign_id": campaign_id, ":line": line, ":id": id,
                ":status": status.map(|s| s.as_str()), ":limit": limit as i64,
            },
            contact_from_row,
        )?
        .collect::<rusqlite::Result<_>>()?)
}

/// Pending contacts whose next attempt is due by `now`, soonest first.
pub fn due_contacts(
    conn: &Connection,
    campaign_id: &str,
    now: i64,
    limit: usize,
) -> Result<Vec<ContactRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "select {CONTACT_COLUMNS} from campaign_contacts
             where campaign_id = :campaign_id and status = 'pending'
               and coalesce(next_attempt_at, 0) <= :now
             order by coalesce(next_attempt_at, 0), line limit :limit"
        ))?
        .query_map(
            named_params! { ":campaign_id": campaign_id, ":now": now, ":limit": limit as i64 },
            contact_from_row,
        )?
        .collect::<rusqlite::Result<_>>()?)
}

/// Each time zone with pending contacts (null: the campaign's), and the earliest next attempt in it.
pub fn pending_zones(conn: &Connection, campaign_id: &str) -> Result<Vec<(Option<String>, i64)>> {
    Ok(conn
        .prepare_cached(
            "select timezone, min(coalesce(next_attempt_at, 0)) from campaign_contacts
             where campaign_id = :campaign_id and status = 'pending' group by timezone",
        )?
        .query_map(named_params! { ":campaign_id": campaign_id }, |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?
        .collect::<rusqlite::Result<_>>()?)
}

/// Cancels the contacts still waiting; returns how many.
pub fn cancel_pending(conn: &Connection, campaign_id: &str, now: i64) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "update campaign_contacts set status = 'canceled', updated_at = :now
             where campaign_id = :campaign_id and status = 'pending'",
        )?
        .execute(named_params! { ":campaign_id": campaign_id, ":now": now })?)
}

pub fn insert_attempt(
    conn: &Connection,
    campaign_id: &str,
    contact_id: &str,
    attempt: i64,
    call_id: &str,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "insert into campaign_attempts (campaign_id, contact_id, attempt, call_id, created_at)
         values (:campaign_id, :contact_id, :attempt, :call_id, :now)",
    )?
    .execute(named_params! {
        ":campaign_id": campaign_id, ":contact_id": contact_id, ":attempt": attempt, ":call_id": call_id, ":now": now,
    })?;
    Ok(())
}

/// Attempts still open whose calls have ended, with the call's final state.
pub fn ended_attempts(
    conn: &Connection,
    campaign_id: &str,
) -> Result<Vec<(AttemptRow, CallStatus, Option<String>)>> {
    Ok(conn
        .prepare_cached(
            "select a.id, a.campaign_id, a.contact_id, a.attempt, a.call_id, a.outcome, a.voided, a.created_at,
                    a.ended_at, c.status, c.ended_reason
             from campaign_attempts a join calls c on c.id = a.call_id
             where a.campaign_id = :campaign_id and a.outcome is null and a.voided = 0
               and c.status not in ('queued', 'ringing', 'in_progress')
             order by a.id",
        )?
        .query_map(named_params! { ":campaign_id": campaign_id }, |row| {
            let status: String = row.get(9)?;
            Ok((
                attempt_from_row(row)?,
                CallStatus::parse(&status).ok_or_else(|| bad(9, "call status"))?,
                row.get(10)?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?)
}

/// Records an attempt's outcome.
pub fn finish_attempt(conn: &Connection, id: i64, outcome: CallOutcome, now: i64) -> Result<()> {
    conn.prepare_cached(
        "update campaign_attempts set outcome = :outcome, ended_at = :now where id = :id",
    )?
    .execute(named_params! { ":id": id, ":outcome": outcome.as_str(), ":now": now })?;
    Ok(())
}

/// Marks an attempt whose call never reached Twilio as void (it is made again).
pub fn void_attempt(conn: &Connection, id: i64, now: i64) -> Result<()> {
    conn.prepare_cached("update campaign_attempts set voided = 1, ended_at = :now where id = :id")?
        .execute(named_params! { ":id": id, ":now": now })?;
    Ok(())
}

/// Attempts of a campaign whose calls are on.
pub fn open_attempts(conn: &Connection, campaign_id: &str) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "select count(*) from campaign_attempts where campaign_id = :campaign_id and outcome is null and voided = 0",
        )?
        .query_row(named_params! { ":campaign_id": campaign_id }, |row| row.get(0))?)
}

/// A contact's attempts, oldest first.
pub fn contact_attempts(conn: &Connection, contact_id: &str) -> Result<Vec<AttemptRow>> {
    Ok(conn
        .prepare_cached(
            "select id, campaign_id, contact_id, attempt, call_id, outcome, voided, created_at, ended_at
             from campaign_attempts where contact_id = :contact_id order by id",
        )?
        .query_map(named_params! { ":contact_id": contact_id }, attempt_from_row)?
        .collect::<rusqlite::Result<_>>()?)
}

/// Counts of a campaign's contacts by status and final outcome.
pub fn progress(conn: &Connection, campaign_id: &str) -> Result<Progress> {
    let mut progress = Progress::default();
    let rows: Vec<(String, Option<String>, i64)> = conn
        .prepare_cached(
            "select status, outcome, count(*) from campaign_contacts where campaign_id = :campaign_id
             group by status, outcome",
        )?
        .query_map(named_params! { ":campaign_id": campaign_id }, |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    for (status, outcome, n) in rows {
        progress.total += n;
        match ContactStatus::parse(&status) {
            Some(ContactStatus::Pending) => progress.pending += n,
            Some(ContactStatus::Calling) => progress.calling += n,
            Some(ContactStatus::Canceled) => progress.canceled += n,
            Some(ContactStatus::Done) => {
                progress.done += n;
                if let Some(outcome) = outcome.as_deref().and_then(CallOutcome::parse) {
                    match progress.outcomes.iter_mut().find(|(o, _)| *o == outcome) {
                        Some((_, count)) => *count += n,
                        None => progress.outcomes.push((outcome, n)),
                    }
                }
            }
            None => {}
        }
    }
    progress
        .outcomes
        .sort_by_key(|(o, _)| CallOutcome::ALL.iter().position(|x| x == o));
    progress.attempts = conn
        .prepare_cached(
            "select count(*) from campaign_attempts where campaign_id = :campaign_id and voided = 0",
        )?
        .query_row(named_params! { ":campaign_id": campaign_id }, |row| row.get(0))?;
    Ok(progress)
}
