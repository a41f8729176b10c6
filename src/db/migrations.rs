//! Schema migrations driven by `PRAGMA user_version`.
//!
//! A database's `user_version` is the number of migration steps applied to it. Upgrading runs every
//! missing step and sets the new version in one `BEGIN IMMEDIATE` transaction, so a crash or a concurrent
//! migrator (a CLI `voxedge migrate` next to a running server) can never leave a half-migrated file.
//! Pragmas are set outside the transaction by the caller, as SQLite requires.
//!
//! Foreign keys are off while the steps run and checked as a whole before the commit (`foreign_key_check`),
//! as SQLite's own procedure for changing a table's constraints asks: rebuilding a table that others
//! reference (new table, copy, drop, rename) would otherwise fail or cascade half-way.

use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior};

use super::StorageError;

/// One numbered migration, embedded in the binary.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// File name, e.g. `0002_api_keys.sql`; the number must equal the step's position.
    pub name: &'static str,
    /// The SQL script.
    pub sql: &'static str,
}

/// An ordered list of migrations for one kind of database.
#[derive(Debug, Clone, Copy)]
pub struct Migrations {
    /// What these migrate, for error messages ("tenant", "catalog").
    pub kind: &'static str,
    /// Step `i` brings `user_version` from `i` to `i + 1`.
    pub steps: &'static [Migration],
}

macro_rules! migration {
    ($dir:literal, $name:literal) => {
        Migration {
            name: $name,
            sql: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/", $name)),
        }
    };
}

/// Every tenant database is created and upgraded from `tenant-template/`.
pub const TENANT: Migrations = Migrations {
    kind: "tenant",
    steps: &[
        migration!("tenant-template", "0001_meta.sql"),
        migration!("tenant-template", "0002_api_keys.sql"),
        migration!("tenant-template", "0003_agents.sql"),
        migration!("tenant-template", "0004_calls.sql"),
        migration!("tenant-template", "0005_webhooks.sql"),
        migration!("tenant-template", "0006_audit_log.sql"),
        migration!("tenant-template", "0007_usage.sql"),
        migration!("tenant-template", "0008_telephony.sql"),
        migration!("tenant-template", "0009_llm_keys.sql"),
        migration!("tenant-template", "0010_billing.sql"),
        migration!("tenant-template", "0011_outbound_calls.sql"),
        migration!("tenant-template", "0012_campaigns.sql"),
        migration!("tenant-template", "0013_llm_key_base_url.sql"),
        migration!("tenant-template", "0014_milestones.sql"),
        migration!("tenant-template", "0015_call_analyses.sql"),
        migration!("tenant-template", "0016_call_recordings.sql"),
        migration!("tenant-template", "0017_pii_at_rest.sql"),
        migration!("tenant-template", "0018_call_deletion.sql"),
    ],
};

/// The catalog's own migrations.
pub const CATALOG: Migrations = Migrations {
    kind: "catalog",
    steps: &[
        migration!("src/db/catalog_migrations", "0001_tenants.sql"),
        migration!("src/db/catalog_migrations", "0002_identity.sql"),
        migration!("src/db/catalog_migrations", "0003_webhook_queue.sql"),
        migration!("src/db/catalog_migrations", "0004_billing.sql"),
        migration!("src/db/catalog_migrations", "0005_email.sql"),
        migration!("src/db/catalog_migrations", "0006_session_limits.sql"),
        migration!("src/db/catalog_migrations", "0007_heartbeat.sql"),
    ],
};

/// `region.db`: this machine's own state (webhook queue, tenants that moved away).
pub const REGION: Migrations = Migrations {
    kind: "region",
    steps: &[
        migration!("src/db/region_migrations", "0001_region.sql"),
        migration!("src/db/region_migrations", "0002_outbound_queue.sql"),
        migration!("src/db/region_migrations", "0003_analysis_queue.sql"),
    ],
};

impl Migrations {
    /// The schema version a fully migrated database has.
    pub fn latest(&self) -> u32 {
        u32::try_from(self.steps.len()).expect("invariant: fewer than 2^32 migrations")
    }

    /// Brings `conn` to the latest version. Returns the version found before upgrading.
    pub fn upgrade(&self, conn: &mut Connection) -> Result<u32, StorageError> {
        self.upgrade_to(conn, self.latest())
    }

    /// Brings `conn` to `target` (tests use this to build files of older versions).
    pub fn upgrade_to(&self, conn: &mut Connection, target: u32) -> Result<u32, StorageError> {
        let found = user_version(conn)?;
        self.refuse_if_newer(found)?;
        if found >= target {
            return Ok(found);
        }
        let foreign_keys: bool = conn.pragma_query_value(None, "foreign_keys", |row| row.get(0))?;
        conn.pragma_update(None, "foreign_keys", false)?;
        let result = self.apply(conn, target);
        conn.pragma_update(None, "foreign_keys", foreign_keys)?;
        result.map(|()| found)
    }

    /// Runs the missing steps up to `target` in one transaction; foreign keys are checked before it commits.
    fn apply(&self, conn: &mut Connection, target: u32) -> Result<(), StorageError> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Re-read under the write lock: another process may have migrated while we waited for it.
        let current = user_version(&tx)?;
        self.refuse_if_newer(current)?;
        for (index, step) in self
            .steps
            .iter()
            .enumerate()
            .skip(current as usize)
            .take((target.saturating_sub(current)) as usize)
        {
            tx.execute_batch(step.sql)
                .map_err(|source| StorageError::Migration {
                    kind: self.kind,
                    name: step.name,
                    source,
                })?;
            tracing::debug!(
                kind = self.kind,
                migration = step.name,
                version = index + 1,
                "applied migration"
            );
        }
        let broken: Option<String> = tx
            .query_row(
                "select \"table\" from pragma_foreign_key_check",
                [],
                |row| row.get(0),
            )
            .optional()?;
        if let Some(table) = broken {
            return Err(StorageError::Corrupt(format!(
                "{} migration left rows in {table} whose foreign keys point nowhere",
                self.kind
            )));
        }
        tx.pragma_update(None, "user_version", target.max(current))?;
        tx.commit()?;
        Ok(())
    }

    /// Refuses a database written by a newer binary, before anything touches it.
    pub fn refuse_if_newer(&self, found: u32) -> Result<(), StorageError> {
        if found > self.latest() {
            return Err(StorageError::SchemaTooNew {
                kind: self.kind,
                found,
                supported: self.latest(),
            });
        }
        Ok(())
    }
}

/// The database's `PRAGMA user_version`.
pub fn user_version(conn: &Connection) -> Result<u32, StorageError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    u32::try_from(version)
        .map_err(|_| StorageError::Corrupt(format!("user_version {version} is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_dir(migrations: &Migrations, dir: &str) {
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        on_disk.sort();
        let listed: Vec<&str> = migrations.steps.iter().map(|m| m.name).collect();
        assert_eq!(
            on_disk, listed,
            "every file in {dir} must be listed, in order"
        );
        for (i, m) in migrations.steps.iter().enumerate() {
            assert!(
                m.name.starts_with(&format!("{:04}_", i + 1)),
                "{} is out of sequence",
                m.name
            );
        }
    }

    #[test]
    fn lists_match_the_migration_directories() {
        let root = env!("CARGO_MANIFEST_DIR");
        check_dir(&TENANT, &format!("{root}/tenant-template"));
        check_dir(&CATALOG, &format!("{root}/src/db/catalog_migrations"));
        check_dir(&REGION, &format!("{root}/src/db/region_migrations"));
    }

    #[test]
    fn upgrades_step_by_step_and_is_idempotent() {
        let mut conn = crate::pii::test_connection();
        assert_eq!(TENANT.upgrade_to(&mut conn, 1).unwrap(), 0);
        assert_eq!(user_version(&conn).unwrap(), 1);
        assert_eq!(TENANT.upgrade(&mut conn).unwrap(), 1);
        assert_eq!(user_version(&conn).unwrap(), TENANT.latest());
        assert_eq!(TENANT.upgrade(&mut conn).unwrap(), TENANT.latest());
        let mut catalog = Connection::open_in_memory().unwrap();
        CATALOG.upgrade(&mut catalog).unwrap();
    }

    #[test]
    fn refuses_a_newer_schema_without_touching_it() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", TENANT.latest() + 1)
            .unwrap();
        let err = TENANT.upgrade(&mut conn).unwrap_err();
        assert!(
            matches!(err, StorageError::SchemaTooNew { found, .. } if found == TENANT.latest() + 1)
        );
        let tables: i64 = conn
            .query_row("select count(*) from sqlite_schema", [], |r| r.get(0))
            .unwrap();
        assert_eq!(tables, 0);
    }

    #[test]
    fn a_failing_step_rolls_back_the_whole_upgrade() {
        static BROKEN: Migrations = Migrations {
            kind: "test",
            steps: &[
                Migration {
                    name: "0001_ok.sql",
                    sql: "create table a (x integer);",
                },
                Migration {
                    name: "0002_bad.sql",
                    sql: "create table b (x integer); select * from missing;",
                },
            ],
        };
        let mut conn = Connection::open_in_memory().unwrap();
        assert!(matches!(
            BROKEN.upgrade(&mut conn),
            Err(StorageError::Migration {
                name: "0002_bad.sql",
                ..
            })
        ));
        assert_eq!(user_version(&conn).unwrap(), 0);
        let tables: i64 = conn
            .query_row("select count(*) from sqlite_schema", [], |r| r.get(0))
            .unwrap();
        assert_eq!(tables, 0, "step 1 must be rolled back with step 2");
    }
}
