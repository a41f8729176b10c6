//! One SQLite database file: a single writer connection and a small pool of readers.
//!
//! SQLite allows one writer per file. Writes commit in groups: each write joins a queue, and whoever holds the
//! writer runs everything queued by then in one `BEGIN IMMEDIATE` transaction on the blocking pool, each write in
//! a savepoint of its own — a write that fails rolls back to its savepoint and fails alone, its neighbours
//! commit. Under load, many writes share one commit (and one trip to the blocking pool) instead of paying one
//! each; alone, a write commits at once. Waiting for the writer costs no thread (an async mutex). Reads use an
//! `r2d2` pool of `query_only` connections that WAL mode lets run alongside the writer. Dropping the last clone
//! closes every file. Opening and creating the file itself is in `open`.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use scheduled_thread_pool::ScheduledThreadPool;
use tokio::sync::oneshot;

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
    /// Writes waiting for the writer, run in groups by whoever holds it next.
    queued: Arc<std::sync::Mutex<VecDeque<QueuedWrite>>>,
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
                queued: Arc::default(),
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
    ///
    /// The transaction `f` sees may hold other writes of the same group (see the module's documentation); `f`
    /// only sees their effects, in queue order, as it would had they committed just before.
    pub async fn write_then<T, E, F, G>(&self, f: F, after_commit: G) -> Result<T, E>
    where
        F: FnOnce(&Transaction<'_>) -> Result<T, E> + Send + 'static,
        G: FnOnce(&T) + Send + 'static,
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
    {
        let writer = self.inner.writer.clone().ok_or(StorageError::Replica)?;
        let (reply, mut answer) = oneshot::channel::<Result<T, E>>();
        let job: QueuedWrite = Box::new(move |tx: Result<&Transaction<'_>, &Arc<StorageError>>| {
            let tx = match tx {
                Ok(tx) if !reply.is_closed() => tx,
                // The caller stopped waiting before its turn: nothing to do.
                Ok(_) => return Ok(nothing_to_settle()),
                Err(e) => {
                    let _ = reply.send(Err(StorageError::Shared(Arc::clone(e)).into()));
                    return Ok(nothing_to_settle());
                }
            };
            match in_savepoint(tx, f) {
                Ok(Ok(out)) => Ok(Box::new(move |committed: Result<(), &Arc<StorageError>>| {
                    let result = match committed {
                        Ok(()) => {
                            after_commit(&out);
                            Ok(out)
                        }
                        Err(e) => Err(StorageError::Shared(Arc::clone(e)).into()),
                    };
                    let _ = reply.send(result);
                }) as Settle),
                Ok(Err(e)) => {
                    let _ = reply.send(Err(e));
                    Ok(nothing_to_settle())
                }
                Err(broken) => {
                    let broken = Arc::new(broken);
                    let _ = reply.send(Err(StorageError::Shared(Arc::clone(&broken)).into()));
                    Err(broken)
                }
            }
        });
        self.queue().push_back(job);
        let span = self.span("write");
        loop {
            // Whoever holds the writer now may run this write: then the answer comes without a turn of our own.
            let turn =
                tracing::Instrument::instrument(Arc::clone(&writer).lock_owned(), span.clone());
            let mut writer = tokio::select! {
                biased;
                result = &mut answer => {
                    return result.unwrap_or_else(|_| Err(StorageError::Interrupted.into()));
                }
                writer = turn => writer,
            };
            // The one who held the writer before may have run it as we got our turn.
            match answer.try_recv() {
                Ok(result) => return result,
                Err(oneshot::error::TryRecvError::Closed) => {
                    return Err(StorageError::Interrupted.into());
                }
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            let group: Vec<QueuedWrite> = {
                let mut queue = self.queue();
                let n = queue.len().min(MAX_GROUP);
                queue.drain(..n).collect()
            };
            let frozen = self.frozen().clone();
            let span = span.clone();
            tokio::task::spawn_blocking(move || {
                let _in = span.enter();
                run_group(&mut writer, group, frozen);
            })
            .await
            .map_err(StorageError::from)?;
            match answer.try_recv() {
                Ok(result) => return result,
                Err(oneshot::error::TryRecvError::Closed) => {
                    return Err(StorageError::Interrupted.into());
                }
                // Not in this group (more were queued than one group takes): take another turn.
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
        }
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<QueuedWrite>> {
        self.inner
            .queued
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Writes committed together at most: bounds how long one transaction holds the writer.
const MAX_GROUP: usize = 128;

/// A queued write, given the group's transaction (or the error that keeps the group from running): runs its work
/// in a savepoint and returns what to do once the group's fate is known — or the error that leaves the
/// transaction unusable for the rest of the group (a savepoint that could not be rolled back).
type QueuedWrite = Box<
    dyn FnOnce(Result<&Transaction<'_>, &Arc<StorageError>>) -> Result<Settle, Arc<StorageError>>
        + Send,
>;

/// Told whether the group committed (`Ok`), or the error that made it fail, which every write in it shares.
type Settle = Box<dyn FnOnce(Result<(), &Arc<StorageError>>) + Send>;

fn nothing_to_settle() -> Settle {
    Box::new(|_: Result<(), &Arc<StorageError>>| {})
}

const SAVEPOINT: &str = "SAVEPOINT queued_write";
const RELEASE: &str = "RELEASE queued_write";
const ROLLBACK: &str = "ROLLBACK TO queued_write; RELEASE queued_write";

/// Runs `f` in a savepoint of `tx`: kept when `f` succeeds, rolled back when it fails. The outer error means the
/// savepoint itself failed and the transaction cannot be trusted.
fn in_savepoint<T, E>(
    tx: &Transaction<'_>,
    f: impl FnOnce(&Transaction<'_>) -> Result<T, E>,
) -> Result<Result<T, E>, StorageError> {
    tx.execute_batch(SAVEPOINT)?;
    let out = f(tx);
    tx.execute_batch(if out.is_ok() { RELEASE } else { ROLLBACK })?;
    Ok(out)
}

/// Runs `group` in one transaction on the writer and settles each write. A write that panics fails alone (its
/// savepoint is rolled back; its caller sees [`StorageError::Interrupted`]).
fn run_group(writer: &mut Connection, group: Vec<QueuedWrite>, frozen: Option<String>) {
    let mut group = group.into_iter();
    let mut settles: Vec<Settle> = Vec::with_capacity(group.len());
    let failure = (|| -> Result<(), Arc<StorageError>> {
        if let Some(reason) = frozen {
            return Err(Arc::new(StorageError::Frozen(reason)));
        }
        let tx = writer
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| Arc::new(StorageError::from(e)))?;
        for job in group.by_ref() {
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(Ok(&tx)))) {
                Ok(settle) => settles.push(settle?),
                Err(_) => {
                    tracing::error!("a queued write panicked; its savepoint is rolled back");
                    tx.execute_batch(ROLLBACK)
                        .map_err(|e| Arc::new(StorageError::from(e)))?;
                }
            }
        }
        tx.commit().map_err(|e| Arc::new(StorageError::from(e)))
    })();
    // A panicking `after_commit` must not keep the other writes from hearing how theirs went.
    let settle = |settle: Settle, outcome: Result<(), &Arc<StorageError>>| {
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| settle(outcome))).is_err() {
            tracing::error!("a write's after-commit step panicked");
        }
    };
    match failure {
        Ok(()) => settles.into_iter().for_each(|s| settle(s, Ok(()))),
        // Nothing was committed (dropping the transaction rolled it back): every write is told why.
        Err(e) => {
            settles.into_iter().for_each(|s| settle(s, Err(&e)));
            for job in group {
                let _ = job(Err(&e));
            }
        }
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

    /// A new tenant database in a temporary directory (kept alive by the returned guard).
    fn new_database() -> (tempfile::TempDir, Database) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let settings = SqliteSettings::default();
        Database::create_new(&path, &TENANT, &settings, Some(&test_init()), |_| Ok(())).unwrap();
        let db = Database::open(&path, &TENANT, &settings, OpenMode::Existing, &threads()).unwrap();
        (dir, db)
    }

    #[tokio::test]
    async fn writes_are_visible_to_readers_and_readers_cannot_write() {
        let (_dir, db) = new_database();
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
        let (_dir, db) = new_database();
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

    async fn meta_keys(db: &Database) -> Vec<String> {
        db.read(|c| {
            let mut stmt = c.prepare("select key from tenant_meta order by key")?;
            let keys = stmt
                .query_map([], |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok::<_, StorageError>(keys)
        })
        .await
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_commit_in_groups_and_a_failing_one_fails_alone() {
        let (_dir, db) = new_database();
        db.write(|tx| {
            tx.execute(
                "insert into tenant_meta (key, value) values ('taken', 'v')",
                [],
            )?;
            Ok::<_, StorageError>(())
        })
        .await
        .unwrap();
        let published = Arc::new(std::sync::Mutex::new(Vec::new()));
        let writes = (0..200).map(|i| {
            let (db, published) = (db.clone(), Arc::clone(&published));
            tokio::spawn(async move {
                db.write_then(
                    move |tx| {
                        tx.execute(
                            "insert into tenant_meta (key, value) values (?1, 'v')",
                            [format!("k{i:03}")],
                        )?;
                        match i % 50 {
                            // Its insert is rolled back with it.
                            7 => Err(StorageError::Corrupt(format!("write {i} refused"))),
                            // A constraint violation inside a group fails only this write.
                            9 => {
                                tx.execute(
                                    "insert into tenant_meta (key, value) values ('taken', 'x')",
                                    [],
                                )?;
                                Ok(i)
                            }
                            _ => Ok(i),
                        }
                    },
                    move |i| published.lock().unwrap().push(*i),
                )
                .await
            })
        });
        let results = futures::future::join_all(writes).await;
        for (i, result) in results.into_iter().enumerate() {
            match (i % 50, result.unwrap()) {
                (7, Err(StorageError::Corrupt(message))) => {
                    assert_eq!(message, format!("write {i} refused"))
                }
                (9, Err(e)) => assert!(e.is_unique_violation(), "write {i}: {e}"),
                (7 | 9, other) => panic!("write {i} should fail: {other:?}"),
                (_, result) => assert_eq!(result.unwrap(), i),
            }
        }
        let expected: Vec<String> = (0..200)
            .filter(|i| !matches!(i % 50, 7 | 9))
            .map(|i| format!("k{i:03}"))
            .chain(["taken".to_string()])
            .collect();
        assert_eq!(meta_keys(&db).await, expected);
        // `after_commit` ran once for each committed write, and only for them.
        let mut published = published.lock().unwrap().clone();
        published.sort_unstable();
        let committed: Vec<usize> = (0..200).filter(|i| !matches!(i % 50, 7 | 9)).collect();
        assert_eq!(published, committed);
    }

    #[tokio::test]
    async fn a_panicking_write_fails_alone_and_the_writer_goes_on() {
        let (_dir, db) = new_database();
        let insert = |key: &'static str, panics: bool| {
            let db = db.clone();
            async move {
                db.write(move |tx| {
                    tx.execute(
                        "insert into tenant_meta (key, value) values (?1, 'v')",
                        [key],
                    )?;
                    assert!(!panics, "a bug in a write");
                    Ok::<_, StorageError>(())
                })
                .await
            }
        };
        let (a, b, c) = tokio::join!(insert("a", false), insert("b", true), insert("c", false));
        assert!(a.is_ok() && c.is_ok());
        assert!(matches!(b, Err(StorageError::Interrupted)), "{b:?}");
        assert_eq!(meta_keys(&db).await, ["a", "c"]);
    }

    #[tokio::test]
    async fn writes_queued_behind_a_freeze_are_refused_and_thaw_lets_them_through() {
        let (_dir, db) = new_database();
        db.freeze("moving", |_| Ok(())).await.unwrap();
        let refused = db
            .write(|tx| {
                tx.execute("insert into tenant_meta (key, value) values ('k', 'v')", [])?;
                Ok::<_, StorageError>(())
            })
            .await
            .unwrap_err();
        use crate::error::Reportable as _;
        assert_eq!(refused.code(), crate::error::ErrorCode::TenantReadOnly);
        assert_eq!(refused.retry_after_secs(), Some(2));
        assert!(meta_keys(&db).await.is_empty());
        db.thaw();
        db.write(|tx| {
            tx.execute("insert into tenant_meta (key, value) values ('k', 'v')", [])?;
            Ok::<_, StorageError>(())
        })
        .await
        .unwrap();
        assert_eq!(meta_keys(&db).await, ["k"]);
    }
}
