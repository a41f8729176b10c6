//! `catalog.db` → `token_families` and `refresh_tokens`: sign-in sessions and their rotating tokens.

use super::Result;
use rusqlite::{Connection, OptionalExtension, Row, named_params};

use crate::db::TenantId;

/// One sign-in session, scoped to one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyRow {
    pub id: String,
    pub user_id: String,
    pub tenant_id: TenantId,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    /// The session this one was switched from; it ends with it.
    pub parent_id: Option<String>,
    /// The absolute end (unix ms); `None` for sessions from before there was one.
    pub expires_at: Option<i64>,
}

/// A stored refresh token (the secret itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRow {
    pub id: String,
    pub family_id: String,
    /// Hex SHA-256 of the secret.
    pub secret_hash: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

fn family_from_row(row: &Row<'_>) -> rusqlite::Result<FamilyRow> {
    Ok(FamilyRow {
        id: row.get(0)?,
        user_id: row.get(1)?,
        tenant_id: row.get(2)?,
        created_at: row.get(3)?,
        revoked_at: row.get(4)?,
        parent_id: row.get(5)?,
        expires_at: row.get(6)?,
    })
}

pub fn insert_family(conn: &Connection, family: &FamilyRow) -> Result<()> {
    conn.execute(
        "insert into token_families (id, user_id, tenant_id, created_at, revoked_at, parent_id, expires_at)
         values (:id, :user_id, :tenant_id, :created_at, :revoked_at, :parent_id, :expires_at)",
        named_params! {
            ":id": family.id,
            ":user_id": family.user_id,
            ":tenant_id": family.tenant_id.to_string(),
            ":created_at": family.created_at,
            ":revoked_at": family.revoked_at,
            ":parent_id": family.parent_id,
            ":expires_at": family.expires_at,
        },
    )?;
    Ok(())
}

pub fn get_family(conn: &Connection, id: &str) -> Result<Option<FamilyRow>> {
    Ok(conn
        .query_row(
            "select id, user_id, tenant_id, created_at, revoked_at, parent_id, expires_at
         from token_families where id = :id",
            named_params! { ":id": id },
            family_from_row,
        )
        .optional()?)
}

/// The sign-in a session descends from: the session itself unless it was made by switching tenant.
pub fn root_of(conn: &Connection, id: &str) -> Result<String> {
    Ok(conn.query_row(
        "with recursive up(id, parent_id) as (
             select id, parent_id from token_families where id = :id
             union
             select f.id, f.parent_id from token_families f join up on f.id = up.parent_id
         )
         select coalesce((select id from up where parent_id is null), :id)",
        named_params! { ":id": id },
        |row| row.get(0),
    )?)
}

/// Revokes a family and every session switched from it, at any depth (idempotent: first revocations are
/// kept). The family gets `reason`, its descendants `parent_ended`. Returns the ids revoked now.
pub fn revoke_family(conn: &Connection, id: &str, reason: &str, now: i64) -> Result<Vec<String>> {
    revoke_trees(
        conn,
        "select :id",
        named_params! { ":id": id, ":reason": reason, ":now": now },
    )
}

/// Revokes every family of a user in a tenant, and the sessions switched from them. Returns the ids
/// revoked now.
pub fn revoke_member_families(
    conn: &Connection,
    user_id: &str,
    tenant_id: TenantId,
    reason: &str,
    now: i64,
) -> Result<Vec<String>> {
    revoke_trees(
        conn,
        "select id from token_families where user_id = :user_id and tenant_id = :tenant_id",
        named_params! {
            ":user_id": user_id, ":tenant_id": tenant_id.to_string(), ":reason": reason, ":now": now,
        },
    )
}

/// Revokes every session of a user, in every tenant. Returns the ids revoked now.
pub fn revoke_user_families(
    conn: &Connection,
    user_id: &str,
    reason: &str,
    now: i64,
) -> Result<Vec<String>> {
    revoke_trees(
        conn,
        "select id from token_families where user_id = :user_id",
        named_params! { ":user_id": user_id, ":reason": reason, ":now": now },
    )
}

/// Revokes the families `roots` selects (a fixed fragment binding `:id`, `:user_id`, `:tenant_id`) and
/// their descendants.
fn revoke_trees(
    conn: &Connection,
    roots: &str,
    params: &[(&str, &dyn rusqlite::ToSql)],
) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(&format!(
        "with recursive roots(id) as ({roots}),
         tree(id) as (
             select id from roots
             union
             select f.id from token_families f join tree on f.parent_id = tree.id
         )
         update token_families
         set revoked_at = :now,
             revoked_reason = case when id in (select id from roots) then :reason else 'parent_ended' end
         where id in (select id from tree) and revoked_at is null
         returning id"
    ))?;
    Ok(stmt
        .query_map(params, |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?)
}

pub fn insert_refresh_token(conn: &Connection, token: &RefreshTokenRow) -> Result<()> {
    conn.execute(
        "insert into refresh_tokens (id, family_id, secret_hash, created_at, expires_at, used_at)
         values (:id, :family_id, :secret_hash, :created_at, :expires_at, :used_at)",
        named_params! {
            ":id": token.id,
            ":family_id": token.family_id,
            ":secret_hash": token.secret_hash,
            ":created_at": token.created_at,
            ":expires_at": token.expires_at,
            ":used_at": token.used_at,
        },
    )?;
    Ok(())
}

pub fn get_refresh_token(conn: &Connection, id: &str) -> Result<Option<RefreshTokenRow>> {
    Ok(conn
        .query_row(
            "select id, family_id, secret_hash, created_at, expires_at, used_at
         from refresh_tokens where id = :id",
            named_params! { ":id": id },
            |row| {
                Ok(RefreshTokenRow {
                    id: row.get(0)?,
                    family_id: row.get(1)?,
                    secret_hash: row.get(2)?,
                    created_at: row.get(3)?,
                    expires_at: row.get(4)?,
                    used_at: row.get(5)?,
                })
            },
        )
        .optional()?)
}

/// Marks a token spent. False if it already was (a concurrent refresh won the race).
pub fn mark_used(conn: &Connection, id: &str, now: i64) -> Result<bool> {
    let changed = conn.execute(
        "update refresh_tokens set used_at = :now where id = :id and used_at is null",
        named_params! { ":id": id, ":now": now },
    )?;
    Ok(changed == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::migrations::CATALOG;

    fn family(conn: &Connection, tenant: TenantId, parent: Option<&str>) -> String {
        let id = crate::db::new_id();
        insert_family(
            conn,
            &FamilyRow {
                id: id.clone(),
                user_id: "u1".into(),
                tenant_id: tenant,
                created_at: 1,
                revoked_at: None,
                parent_id: parent.map(String::from),
                expires_at: Some(10),
            },
        )
        .unwrap();
        id
    }

    #[test]
    fn revoking_a_session_revokes_the_sessions_switched_from_it() {
        let mut conn = Connection::open_in_memory().unwrap();
        CATALOG.upgrade(&mut conn).unwrap();
        conn.execute_batch("pragma foreign_keys = off").unwrap();
        let (a, b) = (TenantId::generate(), TenantId::generate());
        let root = family(&conn, a, None);
        let child = family(&conn, b, Some(&root));
        let grandchild = family(&conn, a, Some(&child));
        let other = family(&conn, a, None);
        assert_eq!(root_of(&conn, &grandchild).unwrap(), root);
        assert_eq!(root_of(&conn, &other).unwrap(), other);

        let mut revoked = revoke_family(&conn, &child, "reuse", 5).unwrap();
        revoked.sort();
        let mut expected = vec![child.clone(), grandchild.clone()];
        expected.sort();
        assert_eq!(revoked, expected);
        assert!(
            get_family(&conn, &root)
                .unwrap()
                .unwrap()
                .revoked_at
                .is_none()
        );
        assert!(revoke_family(&conn, &child, "reuse", 6).unwrap().is_empty());

        let revoked = revoke_member_families(&conn, "u1", a, "membership_ended", 7).unwrap();
        assert_eq!(
            revoked.len(),
            2,
            "root and other: the rest was already revoked"
        );
        let reason: String = conn
            .query_row(
                "select revoked_reason from token_families where id = ?1",
                [&grandchild],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(reason, "parent_ended");
        let fresh = family(&conn, b, None);
        assert_eq!(
            revoke_user_families(&conn, "u1", "everywhere", 8).unwrap(),
            vec![fresh]
        );
    }
}
