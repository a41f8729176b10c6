//! Tenant database → `agents`, `agent_versions`.

use super::Result;
use rusqlite::{Connection, OptionalExtension, Row, named_params};

use crate::model::AgentConfig;

#[derive(Debug, Clone, PartialEq)]
pub struct AgentRow {
    pub id: String,
    pub name: String,
    pub active_version: i64,
    pub archived_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VersionRow {
    pub agent_id: String,
    pub version: i64,
    pub name: String,
    pub config: AgentConfig,
    pub note: Option<String>,
    pub created_by: String,
    pub created_at: i64,
}

const AGENT_COLUMNS: &str = "id, name, active_version, archived_at, created_at, updated_at";
const VERSION_COLUMNS: &str = "agent_id, version, name, config, note, created_by, created_at";

fn agent_from_row(row: &Row<'_>) -> rusqlite::Result<AgentRow> {
    Ok(AgentRow {
        id: row.get(0)?,
        name: row.get(1)?,
        active_version: row.get(2)?,
        archived_at: row.get(3)?,
        created_at: row.get(4)?,
        updated_at: row.get(5)?,
    })
}

fn version_from_row(row: &Row<'_>) -> rusqlite::Result<VersionRow> {
    Ok(VersionRow {
        agent_id: row.get(0)?,
        version: row.get(1)?,
        name: row.get(2)?,
        config: super::json_column(row, 3)?,
        note: row.get(4)?,
        created_by: row.get(5)?,
        created_at: row.get(6)?,
    })
}

pub fn insert_agent(conn: &Connection, agent: &AgentRow) -> Result<()> {
    conn.execute(
        "insert into agents (id, name, active_version, archived_at, created_at, updated_at)
         values (:id, :name, :active_version, :archived_at, :created_at, :updated_at)",
        named_params! {
            ":id": agent.id, ":name": agent.name, ":active_version": agent.active_version,
            ":archived_at": agent.archived_at, ":created_at": agent.created_at, ":updated_at": agent.updated_at,
        },
    )?;
    Ok(())
}

pub fn insert_version(conn: &Connection, version: &VersionRow) -> Result<()> {
    let config =
        serde_json::to_string(&version.config).expect("invariant: an agent config serialises");
    conn.execute(
        "insert into agent_versions (agent_id, version, name, config, note, created_by, created_at)
         values (:agent_id, :version, :name, :config, :note, :created_by, :created_at)",
        named_params! {
            ":agent_id": version.agent_id, ":version": version.version, ":name": version.name, ":config": config,
            ":note": version.note, ":created_by": version.created_by, ":created_at": version.created_at,
        },
    )?;
    Ok(())
}

pub fn get_agent(conn: &Connection, id: &str) -> Result<Option<AgentRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "select {AGENT_COLUMNS} from agents where id = :id"
        ))?
        .query_row(named_params! { ":id": id }, agent_from_row)
        .optional()?)
}

/// Agents with these ids (any order; missing ids are skipped). One query for a whole page's worth.
pub fn get_agents(conn: &Connection, ids: &[String]) -> Result<Vec<AgentRow>> {
    let ids = serde_json::to_string(ids).expect("invariant: strings serialise");
    Ok(conn
        .prepare_cached(&format!(
            "select {AGENT_COLUMNS} from agents where id in (select value from json_each(:ids))"
        ))?
        .query_map(named_params! { ":ids": ids }, agent_from_row)?
        .collect::<rusqlite::Result<_>>()?)
}

pub fn get_version(conn: &Connection, agent_id: &str, version: i64) -> Result<Option<VersionRow>> {
    Ok(conn.prepare_cached(&format!(
        "select {VERSION_COLUMNS} from agent_versions where agent_id = :agent_id and version = :version"
    ))?
    .query_row(named_params! { ":agent_id": agent_id, ":version": version }, version_from_row)
    .optional()?)
}

/// The highest version number an agent has (rollbacks add versions, so this can exceed the active one).
pub fn latest_version(conn: &Connection, agent_id: &str) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "select coalesce(max(version), 0) from agent_versions where agent_id = :agent_id",
        )?
        .query_row(named_params! { ":agent_id": agent_id }, |row| row.get(0))?)
}

/// A page of agents, newest first, after the `(created_at, id)` cursor.
pub fn list_agents(
    conn: &Connection,
    include_archived: bool,
    after: Option<(i64, String)>,
    limit: usize,
) -> Result<Vec<AgentRow>> {
    let (at, id) = after.unwrap_or((i64::MAX, String::new()));
    Ok(conn.prepare_cached(&format!(
        "select {AGENT_COLUMNS} from agents
         where (created_at, id) < (:at, :id) and (:include_archived or archived_at is null)
         order by created_at desc, id desc limit :limit"
    ))?
    .query_map(
        named_params! { ":at": at, ":id": id, ":include_archived": include_archived, ":limit": limit as i64 },
        agent_from_row,
    )?
    .collect::<rusqlite::Result<_>>()?)
}

/// A page of an agent's versions, newest first, below `before_version`.
pub fn list_versions(
    conn: &Connection,
    agent_id: &str,
    before_version: Option<i64>,
    limit: usize,
) -> Result<Vec<VersionRow>> {
    Ok(conn.prepare_cached(&format!(
        "select {VERSION_COLUMNS} from agent_versions
         where agent_id = :agent_id and version < :before
         order by version desc limit :limit"
    ))?
    .query_map(
        named_params! { ":agent_id": agent_id, ":before": before_version.unwrap_or(i64::MAX), ":limit": limit as i64 },
        version_from_row,
    )?
    .collect::<rusqlite::Result<_>>()?)
}

pub fn set_active_version(
    conn: &Connection,
    id: &str,
    version: i64,
    name: &str,
    now: i64,
) -> Result<()> {
    conn.execute(
        "update agents set active_version = :version, name = :name, updated_at = :now where id = :id",
        named_params! { ":id": id, ":version": version, ":name": name, ":now": now },
    )?;
    Ok(())
}

pub fn set_archived(conn: &Connection, id: &str, archived_at: Option<i64>, now: i64) -> Result<()> {
    conn.execute(
        "update agents set archived_at = :archived_at, updated_at = :now where id = :id",
        named_params! { ":id": id, ":archived_at": archived_at, ":now": now },
    )?;
    Ok(())
}

/// The given `(agent_id, version)` pairs (missing ones are skipped), in one query.
pub fn get_versions(conn: &Connection, keys: &[(String, i64)]) -> Result<Vec<VersionRow>> {
    let keys = serde_json::to_string(keys).expect("invariant: pairs serialise");
    Ok(conn
        .prepare_cached(&format!(
            "select {VERSION_COLUMNS} from agent_versions
         where (agent_id, version) in (select value ->> 0, value ->> 1 from json_each(:keys))"
        ))?
        .query_map(named_params! { ":keys": keys }, version_from_row)?
        .collect::<rusqlite::Result<_>>()?)
}
