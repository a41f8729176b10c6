//! One SQLite database file: a single writer connection and a small pool of readers.
//!
//! SQLite allows one writer per file, so writes queue on an async mutex (waiting costs no thread) and then
//! run in one `BEGIN IMMEDIATE` transaction on the blocking pool. Reads use an `r2d2` pool of `query_only`
//! connections that WAL mode lets run alongside the writer. Dropping the last clone closes every file.
//! Opening and creating the file itself is in `open`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use scheduled_thread_pool::ScheduledThreadPool;

use super::StorageError;

/// Connection settings shared by every database.
#[derive(Debug, Clone)]
pub struct SqliteSettings {
    /// How long a statement waits for a lock before failing with `SQLITE_BUSY`.
    pub busy_timeout: Duration,
    /// WAL pages after which SQLite checkpoints automatically. 0 disables automatic checkpoints so an
    /// external replicator (Litestream) can own them.
    pub wal_autocheckpoint: u32,
    /// Maximum read connections per database.
    pub read_pool_size: u32,
    /// Idle read connections are closed after this long.
    pub read_idle_timeout: Duration,
}

impl Default for SqliteSettings {
    fn default() -> Self {
        Self {
            busy_timeout: Duration::from_secs(5),
            wal_autocheckpoint: 1000,
            read_pool_size: 4,
            read_idle_timeout: Duration::from_secs(60),
        }
    }
}

/// Work every connection to a file runs before anything else (a tenant's SQL functions, [`crate::pii`]).
pub type ConnectionInit = Arc<dyn Fn(&Connection) -> rusqlite::Result<()> + Send + Sync>;

/// A shared handle to one open database file.
#[derive(Clone)]
pub struct Database {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// Reads run so far (tests use it to prove a page costs a constant number of queries).
    reads: std::sync::atomic::AtomicU64,
    /// `None` for a replica, which only Litestream writes.
    writer: Option<Arc<tokio::sync::Mutex<Connection>>>,
    /// Swapped when a replica is restored afresh into a new file.
    readers: std::sync::RwLock<Readers>,
    /// Why writes are refused for now (a tenant being moved or restored), if they are.
    frozen: std::sync::Mutex<Option<String>>,
}

/// Where reads get their connection.
#[derive(Clone)]
enum Readers {
    /// A pool of connections kept open (files this process writes: their page caches stay valid).
    Pool(r2d2::Pool<SqliteConnectionManager>),
    /// A new connection per read, for a replica Litestream writes underneath: a WAL-mode primary does not bump the
    /// header's change counter, so a connection kept open could serve pages from its cache that are out of date.
    Fresh {
        path: PathBuf,
        busy_timeout: Duration,
    },
}

impl Readers {
    fn connect(&self) -> Result<ReadConnection, StorageError> {
        match self {
            Self::Pool(pool) => Ok(ReadConnection::Pooled(pool.get()?)),
            Self::Fresh { path, busy_timeout } => {
                let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                let conn = Connection::open_with_flags(path, flags)?;
                conn.busy_timeout(*busy_timeout)?;
                conn.execute_batch("pragma query_only = on;")?;
                Ok(ReadConnection::Fresh(conn))
            }
        }
    }
}

enum ReadConnection {
    Pooled(r2d2::PooledConnection<SqliteConnectionManager>),
    Fresh(Connection),
}

impl std::ops::Deref for ReadConnection {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        match self {
            Self::Pooled(conn) => conn,
            Self::Fresh(conn) => conn,
        }
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("path", &self.inner.path)
            .finish()
    }
}

impl Database {
    /// Wraps an opened writer connection with a read pool whose connections run `init` when they open.
    pub fn from_writer(
        path: &Path,
        writer: Connection,
        settings: &SqliteSettings,
        threads: &Arc<ScheduledThreadPool>,
        init: Option<ConnectionInit>,
    ) -> Self {
        // Readers need write access to the WAL index (-shm); `query_only` keeps them from writing data.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let readers = Readers::Pool(read_pool(path, flags, settings, threads, init));
        Self::new(path, Some(writer), readers)
    }

    /// A read-only view of a replica that Litestream keeps up to date (`litestream restore -f`): no writer, and a
    /// fresh read-only connection per read. Writes fail with [`StorageError::Replica`].
    pub fn replica(path: &Path, settings: &SqliteSettings) -> Self {
        Self::new(path, None, fresh_readers(path, settings))
    }

    /// Points a replica's readers at a newly restored file; reads in flight finish on the old one.
    pub fn swap_replica(&self, path: &Path, settings: &SqliteSettings) {
        *self
            .inner
            .readers
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = fresh_readers(path, settings);
    }

    fn new(path: &Path, writer: Option<Connection>, readers: Readers) -> Self {
        Self {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                reads: std::sync::atomic::AtomicU64::new(0),
                writer: writer.map(|w| Arc::new(tokio::sync::Mutex::new(w))),
                readers: std::sync::RwLock::new(readers),
                frozen: std::sync::Mutex::new(None),
            }),
        }
    }

    /// Waits for the write in progress, runs `last` on the writer connection (e.g. a marker a replica must
    /// show), then refuses every later write with [`StorageError::Frozen`] until [`thaw`](Self::thaw). Reads go on.
    pub async fn freeze<T, F>(&self, reason: &str, last: F) -> Result<T, StorageError>
    where
        F: FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
        T: Send + 'static,
    {
        let writer = self.inner.writer.clone().ok_or(StorageError::Replica)?;
        let mut writer = writer.lock_owned().await;
        let out = tokio::task::spawn_blocking(move || last(&mut writer)).await??;
        *self.frozen() = Some(reason.to_string());
        Ok(out)
    }

    /// Accepts writes again after [`freeze`](Self::freeze).
    pub fn thaw(&self) {
        *self.frozen() = None;
    }

    fn frozen(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.inner
            .frozen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// How many reads ran on this handle.
    pub fn reads(&self) -> u64 {
        self.inner.reads.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs `f` on a read connection, on the blocking pool.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
    {
        self.inner
            .reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let readers = self
            .inner
            .readers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let span = self.span("read");
        let outcome = tokio::task::spawn_blocking(move || {
            let _in = span.enter();
            let conn = readers.connect()?;
            Ok(f(&conn))
        })
        .await;
        flatten(outcome)
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction on the writer connection, on the blocking pool.
    /// The transaction commits when `f` returns `Ok` and rolls back otherwise.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Transaction<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
    {
        self.write_then(f, |_| {}).await
    }

    /// Like [`write`](Self::write), then runs `after_commit` once the transaction has committed but
    /// before the writer is released. Publishing events there makes subscribers see them in commit order.
    pub async fn write_then<T, E, F, G>(&self, f: F, after_commit: G) -> Result<T, E>
    where
        F: FnOnce(&Transaction<'_>) -> Result<T, E> + Send + 'static,
        G: FnOnce(&T) + Send + 'static,
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
    {
        let writer = self.inner.writer.clone().ok_or(StorageError::Replica)?;
        let span = self.span("write");
        let mut writer = tracing::Instrument::instrument(writer.lock_owned(), span.clone()).await;
        if let Some(reason) = self.frozen().clone() {
            return Err(StorageError::Frozen(reason).into());
        }
        let outcome = tokio::task::spawn_blocking(move || {
            let _in = span.enter();
            let tx = writer.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // An error of `f` rolls the transaction back (dropping it does).
            let out = match f(&tx) {
                Ok(out) => out,
                Err(e) => return Ok(Err(e)),
            };
            tx.commit()?;
            after_commit(&out);
            Ok(Ok(out))
        })
        .await;
        flatten(outcome)
    }
}

impl Database {
    /// A span for SQLite work (`read`: a read connection; `write`: waiting for the writer, then one
    /// transaction) under the current span — none outside any (background tasks start no traces of their own).
    /// The database is named by its file: `catalog`, or the tenant id.
    fn span(&self, operation: &'static str) -> tracing::Span {
        if tracing::Span::current().is_none() {
            return tracing::Span::none();
        }
        let name = self
            .inner
            .path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("sqlite");
        tracing::info_span!(
            "sqlite",
            otel.name = %format!("sqlite {operation}"),
            otel.kind = "client",
            db.system.name = "sqlite",
            db.namespace = %name,
            db.operation.name = operation,
        )
    }
}

/// The result of work run on the blocking pool: the work's own result, or a storage failure around it (the
/// connection, the transaction, the worker thread), told to the caller in its error type.
fn flatten<T, E: From<StorageError>>(
    outcome: Result<Result<Result<T, E>, StorageError>, tokio::task::JoinError>,
) -> Result<T, E> {
    match outcome {
        Ok(Ok(result)) => result,
        Ok(Err(storage)) => Err(storage.into()),
        Err(panicked) => Err(StorageError::from(panicked).into()),
    }
}

fn fresh_readers(path: &Path, settings: &SqliteSettings) -> Readers {
    Readers::Fresh {
        path: path.to_path_buf(),
        busy_timeout: settings.busy_timeout,
    }
}

/// A pool of reader connections that open on demand and close when idle, so thousands of cached tenants
/// cost few files. `query_only` keeps them from writing even where the file would allow it.
fn read_pool(
    path: &Path,
    flags: OpenFlags,
    settings: &SqliteSettings,
    threads: &Arc<ScheduledThreadPool>,
    init: Option<ConnectionInit>,
) -> r2d2::Pool<SqliteConnectionManager> {
    let busy_timeout = settings.busy_timeout;
    let manager = SqliteConnectionManager::file(path)
        .with_flags(flags)
        .with_init(move |conn| {
            if let Some(init) = &init {
                init(conn)?;
            }
            conn.busy_timeout(busy_timeout)?;
            conn.execute_batch("pragma query_only = on; pragma foreign_keys = on;")
        });
    r2d2::Pool::builder()
        .max_size(settings.read_pool_size.max(1))
        .min_idle(Some(0))
        .idle_timeout(Some(settings.read_idle_timeout))
        .connection_timeout(settings.busy_timeout)
        .thread_pool(threads.clone())
        .build_unchecked(manager)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::OpenMode;
    use crate::db::migrations::TENANT;

    fn test_init() -> ConnectionInit {
        crate::pii::connection_init(
            crate::db::TenantId::generate(),
            crate::secrets::Secrets::from_master(&[0; 32]),
        )
    }

    fn threads() -> Arc<ScheduledThreadPool> {
        Arc::new(ScheduledThreadPool::new(1))
    }

    #[tokio::test]
    async fn writes_are_visible_to_readers_and_readers_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let settings = SqliteSettings::default();
        Database::create_new(&path, &TENANT, &settings, Some(&test_init()), |_| Ok(())).unwrap();
        let db = Database::open(&path, &TENANT, &settings, OpenMode::Existing, &threads()).unwrap();
        db.write(|tx| {
            tx.execute("insert into tenant_meta (key, value) values ('k', 'v')", [])?;
            Ok::<_, StorageError>(())
        })
        .await
        .unwrap();
        let value: String = db
            .read(|c| {
                let value =
                    c.query_row("select value from tenant_meta where key = 'k'", [], |r| {
                        r.get(0)
                    })?;
                Ok::<_, StorageError>(value)
            })
            .await
            .unwrap();
        assert_eq!(value, "v");
        let denied = db
            .read(|c| Ok::<_, StorageError>(c.execute("delete from tenant_meta", [])?))
            .await;
        assert!(denied.is_err(), "readers are query_only");
    }

    #[tokio::test]
    async fn a_failed_write_rolls_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let settings = SqliteSettings::default();
        Database::create_new(&path, &TENANT, &settings, Some(&test_init()), |_| Ok(())).unwrap();
        let db = Database::open(&path, &TENANT, &settings, OpenMode::Existing, &threads()).unwrap();
        let result: Result<(), StorageError> = db
            .write(|tx| {
                tx.execute("insert into tenant_meta (key, value) values ('k', 'v')", [])?;
                Err(StorageError::Busy)
            })
            .await;
        assert!(result.is_err());
        let count: i64 = db
            .read(|c| {
                let count = c.query_row("select count(*) from tenant_meta", [], |r| r.get(0))?;
                Ok::<_, StorageError>(count)
            })
            .await
            .unwrap();
        assert_eq!(count, 0);
    }
}
