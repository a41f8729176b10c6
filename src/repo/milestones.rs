//! Tenant database → `milestones`: when the tenant first did what onboarding asks for. Triggers in
//! `tenant-template/0014_milestones.sql` record the first agent, call and phone number; billing records the first
//! paid invoice with [`reach`].

use rusqlite::{Connection, named_params};

use super::Result;

/// Onboarding milestones, in checklist order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Milestone {
    FirstAgent,
    FirstCall,
    FirstPhoneNumber,
    FirstPaidInvoice,
}

impl Milestone {
    pub const ALL: [Milestone; 4] = [
        Self::FirstAgent,
        Self::FirstCall,
        Self::FirstPhoneNumber,
        Self::FirstPaidInvoice,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FirstAgent => "first_agent",
            Self::FirstCall => "first_call",
            Self::FirstPhoneNumber => "first_phone_number",
            Self::FirstPaidInvoice => "first_paid_invoice",
        }
    }
}

/// When each milestone was reached (`None`: not yet), in [`Milestone::ALL`] order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Milestones(pub [Option<i64>; 4]);

impl Milestones {
    pub fn at(&self, milestone: Milestone) -> Option<i64> {
        let index = Milestone::ALL
            .iter()
            .position(|m| *m == milestone)
            .expect("invariant: ALL lists every milestone");
        self.0[index]
    }
}

pub fn get(conn: &Connection) -> Result<Milestones> {
    let mut stmt = conn.prepare_cached("select name, reached_at from milestones")?;
    let rows = stmt
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut found = Milestones::default();
    for (name, at) in rows {
        if let Some(index) = Milestone::ALL.iter().position(|m| m.as_str() == name) {
            found.0[index] = Some(at);
        }
    }
    Ok(found)
}

/// Records `milestone` at `at` unless it was reached before; true if this reached it. Call it inside the
/// transaction that made it happen (billing: the one marking the tenant's first invoice paid).
pub fn reach(conn: &Connection, milestone: Milestone, at: i64) -> Result<bool> {
    let changed = conn.execute(
        "insert or ignore into milestones (name, reached_at) values (:name, :at)",
        named_params! { ":name": milestone.as_str(), ":at": at },
    )?;
    Ok(changed == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::migrations::TENANT;

    #[test]
    fn upgrading_backfills_what_a_tenant_had_already_done() {
        let mut conn = crate::pii::test_connection();
        TENANT.upgrade_to(&mut conn, 9).unwrap();
        conn.execute_batch(
            "insert into agents (id, name, active_version, created_at, updated_at) values ('a1', 'A', 1, 500, 500);
             insert into agents (id, name, active_version, created_at, updated_at) values ('a2', 'B', 1, 300, 300);
             insert into agent_versions (agent_id, version, name, config, created_by, created_at)
                 values ('a1', 1, 'A', '{}', 'cli', 500);
             insert into calls (id, agent_id, agent_version, direction, transport, status, created_at, updated_at)
                 values ('c1', 'a1', 1, 'inbound', 'web', 'queued', 600, 600);",
        )
        .unwrap();
        TENANT.upgrade(&mut conn).unwrap();
        let found = get(&conn).unwrap();
        assert_eq!(found.at(Milestone::FirstAgent), Some(300));
        assert_eq!(found.at(Milestone::FirstCall), None, "never connected");
        // From now on the triggers record them.
        conn.execute(
            "update calls set status = 'in_progress', answered_at = 700 where id = 'c1'",
            [],
        )
        .unwrap();
        conn.execute("update calls set answered_at = 800 where id = 'c1'", [])
            .unwrap();
        assert_eq!(get(&conn).unwrap().at(Milestone::FirstCall), Some(700));
        assert!(reach(&conn, Milestone::FirstPaidInvoice, 900).unwrap());
        assert!(!reach(&conn, Milestone::FirstPaidInvoice, 950).unwrap());
        assert_eq!(
            get(&conn).unwrap().at(Milestone::FirstPaidInvoice),
            Some(900)
        );
    }
}
