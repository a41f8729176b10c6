//! Tenant database → `twilio_accounts`, `phone_numbers`.

use super::Result;
use rusqlite::{Connection, OptionalExtension, Row, named_params};

/// The tenant's Twilio account. `auth_token` is the sealed (encrypted) token, never the token itself.
#[derive(Debug, Clone, PartialEq)]
pub struct TwilioAccountRow {
    pub account_sid: String,
    pub auth_token: String,
    pub auth_token_last4: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A phone number routed to an agent.
#[derive(Debug, Clone, PartialEq)]
pub struct PhoneNumberRow {
    pub id: String,
    /// E.164.
    pub number: String,
    pub agent_id: String,
    pub label: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const NUMBER_COLUMNS: &str = "id, number, agent_id, label, created_at, updated_at";

fn number_from_row(row: &Row<'_>) -> rusqlite::Result<PhoneNumberRow> {
    Ok(PhoneNumberRow {
        id: row.get(0)?,
        number: row.get(1)?,
        agent_id: row.get(2)?,
        label: row.get(3)?,
        created_at: row.get(4)?,
        updated_at: row.get(5)?,
    })
}

pub fn get_account(conn: &Connection) -> Result<Option<TwilioAccountRow>> {
    Ok(conn
        .query_row(
            "select account_sid, auth_token, auth_token_last4, created_at, updated_at
         from twilio_accounts where id = 1",
            [],
            |row| {
                Ok(TwilioAccountRow {
                    account_sid: row.get(0)?,
                    auth_token: row.get(1)?,
                    auth_token_last4: row.get(2)?,
                    created_at: row.get(3)?,
                    updated_at: row.get(4)?,
                })
            },
        )
        .optional()?)
}

/// Creates or replaces the account (keeping its original `created_at`).
pub fn put_account(conn: &Connection, a: &TwilioAccountRow) -> Result<()> {
    conn.execute(
        "insert into twilio_accounts (id, account_sid, auth_token, auth_token_last4, created_at, updated_at)
         values (1, :account_sid, :auth_token, :last4, :created_at, :updated_at)
         on conflict (id) do update set account_sid = excluded.account_sid, auth_token = excluded.auth_token,
            auth_token_last4 = excluded.auth_token_last4, updated_at = excluded.updated_at",
        named_params! {
            ":account_sid": a.account_sid, ":auth_token": a.auth_token, ":last4": a.auth_token_last4,
            ":created_at": a.created_at, ":updated_at": a.updated_at,
        },
    )?;
    Ok(())
}

pub fn delete_account(conn: &Connection) -> Result<bool> {
    Ok(conn.execute("delete from twilio_accounts where id = 1", [])? == 1)
}

pub fn insert_number(conn: &Connection, n: &PhoneNumberRow) -> Result<()> {
    conn.execute(
        "insert into phone_numbers (id, number, agent_id, label, created_at, updated_at)
         values (:id, :number, :agent_id, :label, :created_at, :updated_at)",
        named_params! {
            ":id": n.id, ":number": n.number, ":agent_id": n.agent_id, ":label": n.label,
            ":created_at": n.created_at, ":updated_at": n.updated_at,
        },
    )?;
    Ok(())
}

pub fn update_number(conn: &Connection, n: &PhoneNumberRow) -> Result<()> {
    conn.execute(
        "update phone_numbers set agent_id = :agent_id, label = :label, updated_at = :updated_at
         where id = :id",
        named_params! {
            ":id": n.id, ":agent_id": n.agent_id, ":label": n.label, ":updated_at": n.updated_at,
        },
    )?;
    Ok(())
}

pub fn delete_number(conn: &Connection, id: &str) -> Result<bool> {
    Ok(conn.execute(
        "delete from phone_numbers where id = :id",
        named_params! { ":id": id },
    )? == 1)
}

pub fn get_number(conn: &Connection, id: &str) -> Result<Option<PhoneNumberRow>> {
    Ok(conn
        .query_row(
            &format!("select {NUMBER_COLUMNS} from phone_numbers where id = :id"),
            named_params! { ":id": id },
            number_from_row,
        )
        .optional()?)
}

/// The row for an E.164 number, as an inbound call's `To` names it.
pub fn find_number(conn: &Connection, number: &str) -> Result<Option<PhoneNumberRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "select {NUMBER_COLUMNS} from phone_numbers where number = :number"
        ))?
        .query_row(named_params! { ":number": number }, number_from_row)
        .optional()?)
}

/// A page of numbers, newest first, optionally of one agent.
pub fn list_numbers(
    conn: &Connection,
    agent_id: Option<&str>,
    after: Option<(i64, String)>,
    limit: usize,
) -> Result<Vec<PhoneNumberRow>> {
    let (at, id) = after.unwrap_or((i64::MAX, String::new()));
    Ok(conn
        .prepare_cached(&format!(
            "select {NUMBER_COLUMNS} from phone_numbers
         where (created_at, id) < (:at, :id) and (:agent_id is null or agent_id = :agent_id)
         order by created_at desc, id desc limit :limit"
        ))?
        .query_map(
            named_params! { ":at": at, ":id": id, ":agent_id": agent_id, ":limit": limit as i64 },
            number_from_row,
        )?
        .collect::<rusqlite::Result<_>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::migrations::TENANT;

    fn db() -> Connection {
        let mut conn = crate::pii::test_connection();
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        TENANT.upgrade(&mut conn).unwrap();
        conn.execute(
            "insert into agents (id, name, active_version, created_at, updated_at) values ('a1', 'A', 1, 0, 0)",
            [],
        )
        .unwrap();
        conn
    }

    fn number(id: &str, number: &str, at: i64) -> PhoneNumberRow {
        PhoneNumberRow {
            id: id.into(),
            number: number.into(),
            agent_id: "a1".into(),
            label: None,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn one_account_per_tenant_replaced_in_place() {
        let conn = db();
        assert_eq!(get_account(&conn).unwrap(), None);
        let mut account = TwilioAccountRow {
            account_sid: "AC1".into(),
            auth_token: "v1.sealed".into(),
            auth_token_last4: "abcd".into(),
            created_at: 1,
            updated_at: 1,
        };
        put_account(&conn, &account).unwrap();
        account.account_sid = "AC2".into();
        account.created_at = 5;
        account.updated_at = 5;
        put_account(&conn, &account).unwrap();
        let stored = get_account(&conn).unwrap().unwrap();
        assert_eq!(
            (
                stored.account_sid.as_str(),
                stored.created_at,
                stored.updated_at
            ),
            ("AC2", 1, 5)
        );
        assert!(delete_account(&conn).unwrap());
        assert!(!delete_account(&conn).unwrap());
    }

    #[test]
    fn numbers_are_unique_and_page_newest_first() {
        let conn = db();
        insert_number(&conn, &number("n1", "+14155550001", 1)).unwrap();
        insert_number(&conn, &number("n2", "+14155550002", 2)).unwrap();
        let dup = insert_number(&conn, &number("n3", "+14155550001", 3)).unwrap_err();
        assert!(dup.is_unique_violation());
        let mut bad_agent = number("n4", "+14155550004", 4);
        bad_agent.agent_id = "nope".into();
        assert!(insert_number(&conn, &bad_agent).is_err(), "foreign key");

        let page = list_numbers(&conn, None, None, 1).unwrap();
        assert_eq!(page[0].id, "n2");
        let rest = list_numbers(&conn, Some("a1"), Some((2, "n2".into())), 10).unwrap();
        assert_eq!(
            rest.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
            ["n1"]
        );
        assert!(
            list_numbers(&conn, Some("other"), None, 10)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            find_number(&conn, "+14155550002").unwrap().unwrap().id,
            "n2"
        );
        assert!(delete_number(&conn, "n2").unwrap());
        assert_eq!(find_number(&conn, "+14155550002").unwrap(), None);
    }
}
