//! Opening a database file: refusing a damaged or too-new one before anything is written, WAL, migrations;
//! and creating a new file whole or not at all.

use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, OpenFlags, Transaction};
use scheduled_thread_pool::ScheduledThreadPool;

use super::database::{ConnectionInit, Database, SqliteSettings};
use super::migrations::{Migrations, user_version};
use super::{AtPath as _, StorageError};

/// Whether opening may create the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// The file must exist and already hold a schema (tenant databases).
    Existing,
    /// Create an empty database if there is no file (the catalog).
    CreateIfMissing,
}

/// Opens a database's writer connection (blocking): refuses a corrupt, empty or too-new file before
/// anything is written to it, then switches to WAL and migrates to the latest schema.
pub fn open_writer(
    path: &Path,
    migrations: &Migrations,
    settings: &SqliteSettings,
    mode: OpenMode,
) -> Result<Connection, StorageError> {
    open_writer_with(path, migrations, settings, mode, None)
}

/// [`open_writer`], running `init` on the connection first (migrations may need what it sets up).
pub fn open_writer_with(
    path: &Path,
    migrations: &Migrations,
    settings: &SqliteSettings,
    mode: OpenMode,
    init: Option<&ConnectionInit>,
) -> Result<Connection, StorageError> {
    let flags = match mode {
        OpenMode::Existing => OpenFlags::SQLITE_OPEN_READ_WRITE,
        OpenMode::CreateIfMissing => {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
        }
    };
    let mut writer = connect(path, flags, settings)?;
    if let Some(init) = init {
        init(&writer)?;
    }
    let version = inspect(&writer, migrations)?;
    if version == 0 && mode == OpenMode::Existing {
        return Err(StorageError::Corrupt(format!(
            "{} has no {} schema (empty or foreign file)",
            path.display(),
            migrations.kind
        )));
    }
    // WAL is set once, on the writer, before any reader exists: setting it per pooled connection
    // races ("database is locked") when several connections open at once.
    let journal: String =
        writer.pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0))?;
    if !journal.eq_ignore_ascii_case("wal") {
        return Err(StorageError::Corrupt(format!(
            "{} refused WAL mode (journal_mode is {journal})",
            path.display()
        )));
    }
    writer.execute_batch("pragma synchronous = normal; pragma foreign_keys = on;")?;
    writer.pragma_update(None, "wal_autocheckpoint", settings.wal_autocheckpoint)?;
    migrations.upgrade(&mut writer)?;
    Ok(writer)
}

impl Database {
    /// Opens a database (blocking): see [`open_writer`], plus a read pool.
    pub fn open(
        path: &Path,
        migrations: &Migrations,
        settings: &SqliteSettings,
        mode: OpenMode,
        threads: &Arc<ScheduledThreadPool>,
    ) -> Result<Self, StorageError> {
        let writer = open_writer(path, migrations, settings, mode)?;
        Ok(Self::from_writer(path, writer, settings, threads, None))
    }

    /// Creates a new, fully migrated database file at `path` (blocking) and runs `init` in the same
    /// transaction. The file is built under a temporary name and renamed into place, so `path` either
    /// does not exist or holds a complete database — never a half-made one.
    pub fn create_new(
        path: &Path,
        migrations: &Migrations,
        settings: &SqliteSettings,
        conn_init: Option<&ConnectionInit>,
        init: impl FnOnce(&Transaction<'_>) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        if path.exists() {
            return Err(StorageError::io(
                path,
                std::io::ErrorKind::AlreadyExists.into(),
            ));
        }
        let tmp = path.with_extension("db.creating");
        let _ = std::fs::remove_file(&tmp);
        let result = (|| {
            let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
            let mut conn = connect(&tmp, flags, settings)?;
            if let Some(conn_init) = conn_init {
                conn_init(&conn)?;
            }
            migrations.upgrade(&mut conn)?;
            let tx = conn.transaction()?;
            init(&tx)?;
            tx.commit()?;
            if let Err((_, err)) = conn.close() {
                return Err(err.into());
            }
            std::fs::rename(&tmp, path).at(path)?;
            sync_dir(path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

fn connect(
    path: &Path,
    flags: OpenFlags,
    settings: &SqliteSettings,
) -> Result<Connection, StorageError> {
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(settings.busy_timeout)?;
    Ok(conn)
}

/// Reads the header and schema without writing, so damage is found before we touch the file.
fn inspect(conn: &Connection, migrations: &Migrations) -> Result<u32, StorageError> {
    let version = user_version(conn)?;
    migrations.refuse_if_newer(version)?;
    conn.query_row("select count(*) from sqlite_schema", [], |row| {
        row.get::<_, i64>(0)
    })?;
    Ok(version)
}

/// Makes a rename durable: the directory entry itself must reach the disk.
fn sync_dir(path: &Path) -> Result<(), StorageError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::File::open(dir).and_then(|d| d.sync_all()).at(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::migrations::TENANT;

    #[test]
    fn refuses_garbage_and_empty_files_without_changing_them() {
        let dir = tempfile::tempdir().unwrap();
        let settings = SqliteSettings::default();
        let garbage = dir.path().join("garbage.db");
        std::fs::write(&garbage, vec![0x5a; 8192]).unwrap();
        let empty = dir.path().join("empty.db");
        std::fs::write(&empty, b"").unwrap();
        for path in [&garbage, &empty] {
            let before = std::fs::read(path).unwrap();
            let err = open_writer(path, &TENANT, &settings, OpenMode::Existing).unwrap_err();
            assert!(err.is_unusable_file(), "{err}");
            assert_eq!(
                std::fs::read(path).unwrap(),
                before,
                "{} was modified",
                path.display()
            );
        }
        let missing = open_writer(
            &dir.path().join("missing.db"),
            &TENANT,
            &settings,
            OpenMode::Existing,
        );
        assert!(missing.is_err());
        assert!(
            !dir.path().join("missing.db").exists(),
            "opening must never create a tenant file"
        );
    }

    #[test]
    fn create_new_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let settings = SqliteSettings::default();
        let init = crate::pii::connection_init(
            crate::db::TenantId::generate(),
            crate::secrets::Secrets::from_master(&[0; 32]),
        );
        Database::create_new(&path, &TENANT, &settings, Some(&init), |_| Ok(())).unwrap();
        assert!(Database::create_new(&path, &TENANT, &settings, Some(&init), |_| Ok(())).is_err());
        assert!(!path.with_extension("db.creating").exists());
    }
}
