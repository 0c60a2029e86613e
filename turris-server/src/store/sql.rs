//! Connecting, migrating, and how SQLite and PostgreSQL share one implementation.
//!
//! sqlx's generic `Database` bounds make fully generic query code painful (every bind and
//! decode needs its own `where` clause, and executors over transactions need higher-ranked
//! bounds). Instead:
//!
//! - **one query text for both backends**: `$1, $2, ...` placeholders (SQLite accepts `$N`),
//!   `RETURNING`, `ON CONFLICT ... DO NOTHING/UPDATE`, and only types both sides decode the
//!   same way (`i64`, `i32`, `String`, `Vec<u8>`, `bool`, `Uuid`). Instants are stored as
//!   `BIGINT` nanoseconds since the Unix epoch on both, so they round-trip exactly (activity
//!   cursors carry nanoseconds) and compare as integers (SQLite's text timestamps do not sort
//!   reliably). JSON documents are `TEXT`;
//! - **one body, expanded per backend**: the `with_pool!` macro matches the pool enum and
//!   expands the same block once with a `SqlitePool` and once with a `PgPool`, so the
//!   compiler type-checks each expansion concretely. Row structs derive `sqlx::FromRow`,
//!   whose generated impl is generic over the row type, so one struct decodes both;
//! - **the few real differences** live in the `Dialect` trait: how a write transaction begins
//!   (`BEGIN IMMEDIATE` on SQLite, so concurrent writers queue instead of failing to upgrade
//!   a read lock: a process's own writers in an in-process queue (`write_turn`), other
//!   processes' on the busy timeout) and `FOR UPDATE SKIP LOCKED` (PostgreSQL only; SQLite
//!   serialises writers, which gives the same lease semantics within one process);
//! - the schemas differ only in column types and identity columns
//!   (`migrations/sqlite`, `migrations/postgres`); index and constraint names match, which
//!   [`super::error`] relies on.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use uuid::Uuid;

use super::error::{DbError, DbResult};
use crate::crypto::{Cipher, EncryptionKey, KeyRing};

/// Which database a [`Database`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// A SQLite file (WAL).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// A connection pool to either backend.
#[derive(Debug, Clone)]
pub enum Pools {
    /// SQLite.
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
}

/// Expands `$body` once per backend with `$pool` bound to the concrete pool.
macro_rules! with_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db.pools() {
            $crate::store::sql::Pools::Sqlite($pool) => $body,
            $crate::store::sql::Pools::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// What differs between the backends, besides the schema.
pub(crate) trait Dialect {
    /// The sqlx database.
    type Db: sqlx::Database;
    /// `FOR UPDATE SKIP LOCKED` where row locks exist, else empty.
    const SKIP_LOCKED: &'static str;
    /// `FOR UPDATE` where row locks exist, else empty.
    const FOR_UPDATE: &'static str;
    /// A statement that waits for the transaction-scoped lock `$1` (an `i64` key) and holds
    /// it until the transaction ends, serializing the transactions that take it across
    /// processes; `None` on SQLite, whose write transactions (`BEGIN IMMEDIATE`) are serial.
    const XACT_LOCK: Option<&'static str>;
    /// Begins a transaction that will write.
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<WriteTx<Self::Db>, sqlx::Error>> + Send;
    /// This process's turn at the write lock, for one writing statement outside a
    /// transaction: hold it while the statement runs ([`write_turn`] on SQLite; nothing to
    /// wait for on PostgreSQL).
    fn turn(&self) -> impl std::future::Future<Output = Option<Turn>> + Send;
}

/// A turn at a SQLite file's write lock ([`write_turn`]); the next writer goes when dropped.
pub(crate) type Turn = tokio::sync::OwnedMutexGuard<()>;

impl Dialect for SqlitePool {
    type Db = sqlx::Sqlite;
    const SKIP_LOCKED: &'static str = "";
    const FOR_UPDATE: &'static str = "";
    const XACT_LOCK: Option<&'static str> = None;
    async fn begin_write(&self) -> Result<WriteTx<Self::Db>, sqlx::Error> {
        let turn = write_turn(self).await;
        let tx = self.begin_with("BEGIN IMMEDIATE").await?;
        Ok(WriteTx { tx, _turn: turn })
    }
    async fn turn(&self) -> Option<Turn> {
        write_turn(self).await
    }
}

impl Dialect for PgPool {
    type Db = sqlx::Postgres;
    const SKIP_LOCKED: &'static str = "FOR UPDATE SKIP LOCKED";
    const FOR_UPDATE: &'static str = "FOR UPDATE";
    const XACT_LOCK: Option<&'static str> = Some("SELECT pg_advisory_xact_lock($1)");
    async fn begin_write(&self) -> Result<WriteTx<Self::Db>, sqlx::Error> {
        Ok(WriteTx {
            tx: self.begin().await?,
            _turn: None,
        })
    }
    async fn turn(&self) -> Option<Turn> {
        None
    }
}

/// A write transaction. On SQLite it also holds this process's turn at the file's one write
/// lock ([`write_turn`]).
pub(crate) struct WriteTx<DB: sqlx::Database> {
    tx: sqlx::Transaction<'static, DB>,
    _turn: Option<Turn>,
}

impl<DB: sqlx::Database> WriteTx<DB> {
    /// Commits, then gives the turn to the next writer.
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    /// Rolls back, then gives the turn to the next writer.
    pub(crate) async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl<DB: sqlx::Database> std::ops::Deref for WriteTx<DB> {
    type Target = DB::Connection;
    fn deref(&self) -> &DB::Connection {
        &self.tx
    }
}

impl<DB: sqlx::Database> std::ops::DerefMut for WriteTx<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        &mut self.tx
    }
}

/// This process's writers of one SQLite file take turns in a queue before `BEGIN IMMEDIATE`.
///
/// SQLite lets one writer in at a time; the others wait in its busy handler, which sleeps and
/// polls (1, 2, 5, 10 ... up to 100 ms between tries). Under a steady stream of writes (the
/// API's group commit, the delivery worker's recorder and leases) a waiting writer kept
/// missing its moment: recording an attempt or giving a lease back took a second or more. A
/// queue in the process hands the lock over as soon as the last writer commits. Writers of
/// other processes still meet in the busy handler. A writer that waited 5 s for its turn goes
/// on without it (the busy handler then applies, as before).
async fn write_turn(pool: &SqlitePool) -> Option<Turn> {
    type Queues =
        std::collections::HashMap<std::path::PathBuf, std::sync::Weak<tokio::sync::Mutex<()>>>;
    static QUEUES: std::sync::LazyLock<std::sync::Mutex<Queues>> =
        std::sync::LazyLock::new(Default::default);
    let options = pool.connect_options();
    let file = options.get_filename();
    let name = file.as_os_str().to_string_lossy();
    if name.is_empty() || name.contains(":memory:") {
        // One connection per in-memory database: its writers queue in the pool already.
        return None;
    }
    let queue = {
        let mut queues = QUEUES.lock().unwrap_or_else(|e| e.into_inner());
        match queues.get(file).and_then(std::sync::Weak::upgrade) {
            Some(queue) => queue,
            None => {
                queues.retain(|_, q| q.strong_count() > 0);
                let queue = std::sync::Arc::new(tokio::sync::Mutex::new(()));
                queues.insert(file.to_path_buf(), std::sync::Arc::downgrade(&queue));
                queue
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), queue.lock_owned())
        .await
        .ok()
}

/// The `SKIP_LOCKED` clause of a pool's dialect (for use inside [`with_pool!`]).
pub(crate) fn skip_locked<P: Dialect>(_pool: &P) -> &'static str {
    P::SKIP_LOCKED
}

/// The `XACT_LOCK` statement of a pool's dialect (for use inside [`with_pool!`]).
pub(crate) fn xact_lock<P: Dialect>(_pool: &P) -> Option<&'static str> {
    P::XACT_LOCK
}

/// The `FOR_UPDATE` clause of a pool's dialect (for use inside [`with_pool!`]).
pub(crate) fn for_update<P: Dialect>(_pool: &P) -> &'static str {
    P::FOR_UPDATE
}

/// A database: SQLite or PostgreSQL, by URL.
#[derive(Debug, Clone)]
pub struct Database {
    pools: Pools,
}

impl Database {
    /// Connects.
    ///
    /// - `postgres://...` or `postgresql://...`: a PostgreSQL pool;
    /// - `sqlite://path?mode=rwc`, `sqlite::memory:` or a plain file path: SQLite with WAL,
    ///   foreign keys on, a 5 s busy timeout and `synchronous = NORMAL`: a commit survives a
    ///   crash of the process; an operating-system crash or power loss may lose the last
    ///   commits (PostgreSQL is the choice when that matters). The file and its folder are
    ///   created unless the URL says `mode=ro` or `mode=rw`.
    pub async fn connect(url: &str) -> DbResult<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            return Ok(Self {
                pools: Pools::Postgres(pool),
            });
        }
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let options = if url.starts_with("sqlite:") {
            let explicit_mode =
                url.contains("mode=ro") || url.contains("mode=rw&") || url.ends_with("mode=rw");
            SqliteConnectOptions::from_str(url)?.create_if_missing(!explicit_mode)
        } else {
            SqliteConnectOptions::new()
                .filename(url)
                .create_if_missing(true)
        };
        if !in_memory {
            let file = options.get_filename();
            if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| DbError::Backend(e.into()))?;
            }
        }
        let options = options
            .journal_mode(if in_memory {
                SqliteJournalMode::Memory
            } else {
                SqliteJournalMode::Wal
            })
            .foreign_keys(true)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            // An in-memory database exists per connection: keep exactly one.
            .max_connections(if in_memory { 1 } else { 8 })
            .min_connections(if in_memory { 1 } else { 0 })
            .idle_timeout(if in_memory {
                None
            } else {
                Some(Duration::from_secs(600))
            })
            .max_lifetime(if in_memory {
                None
            } else {
                Some(Duration::from_secs(1800))
            })
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(Self {
            pools: Pools::Sqlite(pool),
        })
    }

    /// Runs the embedded migrations of this backend.
    pub async fn migrate(&self) -> DbResult<()> {
        match &self.pools {
            Pools::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite").run(pool).await,
            Pools::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await,
        }
        .map_err(DbError::Migrate)
    }

    /// Which backend.
    pub fn backend(&self) -> Backend {
        match &self.pools {
            Pools::Sqlite(_) => Backend::Sqlite,
            Pools::Postgres(_) => Backend::Postgres,
        }
    }

    /// The pool, for code that needs a backend-specific query (tests, `/readyz`).
    pub fn pools(&self) -> &Pools {
        &self.pools
    }

    /// Waits for this process's turn at the write lock and holds it until the answer is
    /// dropped (SQLite; `None` on PostgreSQL, where writers do not take turns): every writer
    /// of this process waits meanwhile. For tests of that queue.
    #[doc(hidden)]
    pub async fn hold_write_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        with_pool!(self, |pool| pool.turn().await)
    }

    /// Whether the database answers (`/readyz`).
    pub async fn ping(&self) -> DbResult<()> {
        with_pool!(self, |pool| {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// Closes every connection (graceful shutdown).
    pub async fn close(&self) {
        with_pool!(self, |pool| pool.close().await)
    }
}

/// Every storage trait on one [`Database`], with secrets sealed by one [`Cipher`].
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use turris_server::crypto::EncryptionKey;
/// use turris_server::store::{Database, ServerStore, SqlStore};
///
/// let db = Database::connect("sqlite://data/turris.db?mode=rwc").await?;
/// db.migrate().await?;
/// let key = EncryptionKey::parse(&std::env::var("TURRIS_ENCRYPTION_KEY")?)?;
/// let store: Arc<dyn ServerStore> = Arc::new(SqlStore::new(db, &key));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SqlStore {
    db: Database,
    cipher: Cipher,
    enqueued: std::sync::Arc<tokio::sync::Notify>,
    pub(super) handoff: std::sync::Arc<super::handoff::Handoff>,
    group: std::sync::Arc<super::inputs::GroupCommit>,
    principals: std::sync::Arc<super::tenants::PrincipalCache>,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &self.db.backend())
            .finish_non_exhaustive()
    }
}

impl SqlStore {
    /// A store on `db`, sealing secrets under `key`.
    pub fn new(db: Database, key: &EncryptionKey) -> Self {
        Self::with_keys(db, &KeyRing::new(key.clone()))
    }

    /// A store on `db`, sealing secrets under the ring's current key and opening them with
    /// any of its keys.
    pub fn with_keys(db: Database, keys: &KeyRing) -> Self {
        Self {
            db,
            cipher: Cipher::with_keys(keys),
            enqueued: std::sync::Arc::default(),
            handoff: std::sync::Arc::default(),
            group: std::sync::Arc::default(),
            principals: std::sync::Arc::default(),
        }
    }

    /// The same store remembering who a token is for `ttl` (one second by default; zero reads
    /// every request's token from the database). A revocation made through this store takes
    /// effect at once; one made by another replica, within `ttl`.
    pub fn with_token_cache(self, ttl: std::time::Duration) -> Self {
        Self {
            principals: std::sync::Arc::new(super::tenants::PrincipalCache::with_ttl(ttl)),
            ..self
        }
    }

    pub(crate) fn principals(&self) -> &super::tenants::PrincipalCache {
        &self.principals
    }

    /// The database.
    pub fn database(&self) -> &Database {
        &self.db
    }

    pub(crate) fn pools(&self) -> &Pools {
        &self.db.pools
    }

    pub(crate) fn cipher(&self) -> &Cipher {
        &self.cipher
    }

    /// Wakes this process's delivery worker after a commit that queued deliveries.
    pub(crate) fn signal_enqueued(&self, queued: usize) {
        if queued > 0 {
            self.enqueued.notify_one();
        }
    }

    /// The way to this store's group-commit writer (`inputs::group`).
    pub(crate) fn group_commit(&self) -> &super::inputs::GroupCommit {
        &self.group
    }

    /// The same store with a group-commit writer of its own (never started): what the writer
    /// task itself holds, so that it keeps no sender to itself alive.
    pub(crate) fn without_group_commit(&self) -> Self {
        Self {
            group: std::sync::Arc::default(),
            ..self.clone()
        }
    }

    pub(crate) fn enqueued_notify(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.enqueued.clone()
    }
}

/// An instant as stored: nanoseconds since the Unix epoch.
pub(crate) fn ns(at: DateTime<Utc>) -> DbResult<i64> {
    at.timestamp_nanos_opt().ok_or(DbError::OutOfRange(
        "timestamps must fall between 1677 and 2262",
    ))
}

/// `Ok` when a statement wrote at least one row, else `otherwise` (the row is missing, or the
/// lease that guards it was lost).
pub(crate) fn wrote(rows: u64, otherwise: DbError) -> DbResult<()> {
    if rows == 0 { Err(otherwise) } else { Ok(()) }
}

/// Like [`ns`], saturating: for bounds of comparisons (cursors), never stored.
pub(crate) fn ns_saturating(at: DateTime<Utc>) -> i64 {
    at.timestamp_nanos_opt().unwrap_or(if at.timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// A stored instant.
pub(crate) fn from_ns(nanos: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(nanos)
}

/// A `std` duration added to an instant, saturating far in the future.
pub(crate) fn plus(at: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(duration)
        .ok()
        .and_then(|d| at.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A page size clamped to `1..=100`, as SQL `LIMIT`.
pub(crate) fn limit(requested: usize) -> i64 {
    requested.clamp(1, 100) as i64
}

/// The keyset bound of a newest-first page: strictly before the previous page's last
/// `(time, id)`, or before everything for the first page.
pub(crate) fn before(after: Option<(DateTime<Utc>, Uuid)>) -> DbResult<(i64, Uuid)> {
    Ok(match after {
        Some((at, id)) => (ns(at)?, id),
        None => (i64::MAX, Uuid::max()),
    })
}
