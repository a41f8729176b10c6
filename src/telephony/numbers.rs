//! Phone numbers: which agent answers calls to which number.

use super::TelephonyError;
use super::values::{E164, parse_label};
use crate::clock::now_ms;
use crate::db::Database;
use crate::error::{ErrorCode, InvalidInput};
use crate::repo;
use crate::repo::telephony::PhoneNumberRow;

/// A number as clients add it.
#[derive(Debug, Clone)]
pub struct NumberInput {
    pub number: String,
    pub agent_id: String,
    pub label: Option<String>,
}

/// Changes to a number; `None` leaves a field as it is. `label: Some(None)` clears the label.
#[derive(Debug, Clone, Default)]
pub struct NumberChange {
    pub agent_id: Option<String>,
    pub label: Option<Option<String>>,
}

/// Refuses unknown agents (`NOT_FOUND`) and archived ones (they take no calls).
fn check_agent(conn: &rusqlite::Connection, agent_id: &str) -> Result<(), TelephonyError> {
    match repo::agents::get_agent(conn, agent_id)? {
        None => Err(TelephonyError::AgentNotFound),
        Some(agent) if agent.archived_at.is_some() => Err(InvalidInput::field(
            "input.agentId",
            ErrorCode::AgentArchived,
            "the agent is archived; unarchive it or pick another",
        )
        .into()),
        Some(_) => Ok(()),
    }
}

/// Routes a new number to an agent. A number can be routed only once per tenant (`CONFLICT`).
pub async fn add_number(
    db: &Database,
    input: NumberInput,
) -> Result<PhoneNumberRow, TelephonyError> {
    let number = E164::parse(&input.number, "input.number");
    let label = parse_label(input.label.as_deref(), "input.label");
    let (number, label) = match (number, label) {
        (Ok(number), Ok(label)) => (number, label),
        (number, label) => {
            let errors = [number.err(), label.err()].into_iter().flatten().collect();
            return Err(InvalidInput(errors).into());
        }
    };
    let now = now_ms();
    let row = PhoneNumberRow {
        id: crate::db::new_id(),
        number: number.as_str().to_string(),
        agent_id: input.agent_id,
        label,
        created_at: now,
        updated_at: now,
    };
    db.write(move |tx| {
        check_agent(tx, &row.agent_id)?;
        match repo::telephony::insert_number(tx, &row) {
            Err(err) if err.is_unique_violation() => Err(TelephonyError::NumberTaken),
            other => Ok(other.map(|()| row)?),
        }
    })
    .await
}

/// Points a number at another agent and/or changes its label.
pub async fn update_number(
    db: &Database,
    id: String,
    change: NumberChange,
) -> Result<PhoneNumberRow, TelephonyError> {
    let label = change
        .label
        .map(|label| parse_label(label.as_deref(), "input.label"))
        .transpose()?;
    db.write(move |tx| {
        let mut row =
            repo::telephony::get_number(tx, &id)?.ok_or(TelephonyError::NumberNotFound)?;
        if let Some(agent_id) = change.agent_id {
            check_agent(tx, &agent_id)?;
            row.agent_id = agent_id;
        }
        if let Some(label) = label {
            row.label = label;
        }
        row.updated_at = now_ms();
        repo::telephony::update_number(tx, &row)?;
        Ok(row)
    })
    .await
}

/// Stops routing a number; calls to it are then told so and hung up.
pub async fn remove_number(db: &Database, id: String) -> Result<(), TelephonyError> {
    let removed = db
        .write(move |tx| repo::telephony::delete_number(tx, &id))
        .await?;
    if removed {
        Ok(())
    } else {
        Err(TelephonyError::NumberNotFound)
    }
}
