//! The SQLite store: the only module that speaks SQL (DESIGN.md section 5).
//!
//! Everything else gets typed Rust values. One file holds records, links with
//! their base snapshots, the webhook inbox, jobs and their attempts,
//! conflicts, quota samples, mapping versions, the audit log, engine events and
//! meta values. WAL mode lets the console and the CLI read while the daemon
//! writes; every console query is keyset-paginated so a window of rows costs
//! the same at row 10 and at row 1,000,000.

mod audit;
mod bulk;
mod changelog;
mod conflicts;
mod console_queries;
mod events;
mod guards;
mod inbox;
mod integrity;
mod jobs;
mod lifecycle;
mod links;
mod location;
mod mappings;
mod meta;
pub mod migrations;
mod ops;
pub mod pg;
mod quota;
mod records;
mod routes;
mod search;
pub mod sql;
mod summary;
mod time;
mod webhook_watch;
mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use sql::{Conn, PgSession};

pub use audit::{AuditEntry, NewAudit};
pub use bulk::{SeedConflict, SeedJob, SeedLink};
pub use changelog::{ChangelogGroupRow, ChangelogPost, ChangelogState};
pub use conflicts::{Conflict, ConflictFilter, ConflictStatus, NewConflict, Resolution};
pub use console_queries::{ActivityStats, NaiveBaseline, WriteMinutes};
pub use events::{EventEntry, Level};
pub use guards::{LinkBreaker, WriteReceipt, WriteRefusal};
pub use inbox::{InboxItem, NewDelivery};
pub use integrity::{IntegrityCheck, LockProbe, probe_write_lock, recovery_command};
pub use jobs::{Attempt, INTERRUPTED, Job, JobFilter, Lane, NewAttempt, NewJob};
pub use links::{CommentLink, Link, LinkState, short_post_id};
pub use location::{StoreLocation, is_postgres_url};
pub use mappings::{MappingVersion, RefusedMapping};
pub use meta::keys as meta_keys;
pub use ops::LinkMirror;
pub use records::{RecordVersion, StoredRecord, UpsertOutcome, content_hash};
pub use routes::UnroutedPost;
pub use search::{LinkOrder, LinkQuery, MIN_PREFIX, PREFIX_SCAN, url_key};
pub use summary::{Counts, Summary, jobs_in};
pub use time::{from_ms, now_ms, to_ms};
pub use webhook_watch::{Missed, WatchSettings, WebhookSilence, WebhookState};
pub use writer::{MAX_BATCH, Writer, WriterThread};

/// How long a connection waits for another process's write lock before
/// giving up with "database is locked".
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Failures of the store, each with enough context for one clear sentence.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The directory that should hold the database does not exist.
    #[error("cannot open the store at {path}: directory {dir} does not exist")]
    MissingDirectory {
        /// The database path asked for.
        path: PathBuf,
        /// Its parent directory.
        dir: PathBuf,
    },
    /// The database file does not exist and the mode does not create it.
    #[error("no store at {0} (start `roundtrip run` or `roundtrip demo --db {0}` to create one)")]
    Missing(PathBuf),
    /// The file exists but is not a SQLite database.
    #[error("{0} is not a roundtrip store (not a SQLite database)")]
    NotADatabase(PathBuf),
    /// The database was written by a newer roundtrip.
    #[error(
        "the store at {path} has schema version {found}, newer than this roundtrip understands ({known}); upgrade roundtrip"
    )]
    TooNew {
        /// The database path.
        path: PathBuf,
        /// The schema version found in the file.
        found: i64,
        /// The newest version this binary knows.
        known: i64,
    },
    /// Another process holds the write lock for longer than the busy timeout.
    #[error("the store is locked by another process (waited {}s)", BUSY_TIMEOUT.as_secs())]
    Locked,
    /// The store is opened read-only and a write was attempted.
    #[error("the store is open read-only")]
    ReadOnly,
    /// A stored JSON column did not parse.
    #[error("stored {what} is not valid JSON: {source}")]
    Json {
        /// Which column.
        what: &'static str,
        /// The parse error.
        source: serde_json::Error,
    },
    /// A row referred to by id does not exist.
    #[error("{what} {id} does not exist")]
    NotFound {
        /// What kind of row.
        what: &'static str,
        /// The id asked for.
        id: i64,
    },
    /// The writer thread has stopped (shutdown), so the write did not run.
    #[error("the store writer has stopped")]
    WriterClosed,
    /// The store failed its integrity check; it must be recovered before
    /// roundtrip uses it again.
    #[error(
        "the store at {path} failed its integrity check ({detail}); {}",
        integrity::recovery_command(path)
    )]
    FailedIntegrity {
        /// The database path.
        path: PathBuf,
        /// SQLite's complaints.
        detail: String,
    },
    /// SQLite found damaged pages while running a statement.
    #[error("the store is damaged ({0}); run `roundtrip status` for the command that recovers it")]
    Corrupt(String),
    /// The group commit holding this write failed as a whole.
    #[error("group commit failed: {0}")]
    BatchFailed(String),
    /// Any other SQLite error.
    #[error("store error: {0}")]
    Sqlite(rusqlite::Error),
    /// Any other PostgreSQL error (the server's message, never the URL's
    /// password: the driver does not repeat it).
    #[error("store error (PostgreSQL): {0}")]
    Postgres(String),
    /// The PostgreSQL store could not be opened.
    #[error(transparent)]
    Open(Box<pg::PgError>),
    /// A SQLite-only operation was asked of a PostgreSQL store.
    #[error("{0} is a PostgreSQL store; this needs a SQLite store file")]
    NotSqlite(PathBuf),
    /// A query that must return a row returned none.
    #[error("store error: the query returned no row")]
    NoRow,
    /// A result column did not have the type the query reads.
    #[error("store error: column {index}: {reason}")]
    Column {
        /// The column's position in the result.
        index: usize,
        /// What was expected and found.
        reason: String,
    },
    /// A statement was given the wrong parameters (a bug in the store).
    #[error("store error: {0}")]
    Parameters(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StoreError::Locked
            }
            Some(rusqlite::ErrorCode::ReadOnly) => StoreError::ReadOnly,
            Some(rusqlite::ErrorCode::DatabaseCorrupt) => StoreError::Corrupt(e.to_string()),
            _ if matches!(e, rusqlite::Error::QueryReturnedNoRows) => StoreError::NoRow,
            _ => StoreError::Sqlite(e),
        }
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        sql::pg_error(e)
    }
}

impl StoreError {
    /// The same failure for another caller of a failed group commit: the
    /// kinds a caller acts on (locked, damaged, read-only, closed) are kept,
    /// anything else becomes [`StoreError::BatchFailed`] with its message.
    pub fn for_batch(&self) -> StoreError {
        match self {
            StoreError::Locked => StoreError::Locked,
            StoreError::ReadOnly => StoreError::ReadOnly,
            StoreError::WriterClosed => StoreError::WriterClosed,
            StoreError::Corrupt(m) => StoreError::Corrupt(m.clone()),
            other => StoreError::BatchFailed(other.to_string()),
        }
    }
}

/// Shorthand for store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How to open the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Create the file if missing and migrate it (daemon, demo).
    Create,
    /// Open an existing store for reading and writing operator intents
    /// (console, CLI); migrations still run so an old store is usable.
    Existing,
    /// Open an existing store without any write (console `--read-only`,
    /// `status`).
    ReadOnly,
}

/// A window of rows for keyset pagination: rows strictly after (or before)
/// a key, at most `limit` of them. Keys are row ids, so every page is an
/// index range scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Start after this id (ascending) or before it (descending); `None`
    /// starts at the first (or last) row.
    pub from: Option<i64>,
    /// Most rows to return.
    pub limit: usize,
    /// Newest first when true.
    pub descending: bool,
}

impl Window {
    /// The first `limit` rows, oldest first.
    pub fn first(limit: usize) -> Self {
        Window {
            from: None,
            limit,
            descending: false,
        }
    }

    /// The newest `limit` rows.
    pub fn last(limit: usize) -> Self {
        Window {
            from: None,
            limit,
            descending: true,
        }
    }

    /// The next window after the row with id `key` in the same direction.
    pub fn after(self, key: i64) -> Self {
        Window {
            from: Some(key),
            ..self
        }
    }

    /// SQL fragment comparing `col` with the key, and the ORDER BY clause.
    fn clauses(&self, col: &str) -> (String, String) {
        let (op, dir) = if self.descending {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        (
            format!("{col} {op} :from"),
            format!("ORDER BY {col} {dir} LIMIT :limit"),
        )
    }

    /// The key bound: the given id, or the far end when starting fresh.
    fn key_bound(&self) -> i64 {
        match (self.from, self.descending) {
            (Some(k), _) => k,
            (None, false) => i64::MIN,
            (None, true) => i64::MAX,
        }
    }

    fn limit_i64(&self) -> i64 {
        i64::try_from(self.limit).unwrap_or(i64::MAX)
    }
}

/// An open store. Cheap methods on `&self` read or write with autocommit;
/// [`Store::write`] groups several writes in one transaction.
pub struct Store {
    backend: Backend,
    path: PathBuf,
    read_only: bool,
}

/// The connection a store holds.
enum Backend {
    Sqlite(Connection),
    Postgres(Box<PgSession>),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("read_only", &self.read_only)
            .finish()
    }
}

/// A borrowed connection (plain or inside a transaction) carrying every typed
/// query. Store methods and transactions both hand one of these out.
#[derive(Clone, Copy)]
pub struct Db<'c> {
    conn: Conn<'c>,
}

impl Db<'_> {
    /// Which SQL the connection speaks, for the few queries that differ.
    pub fn dialect(&self) -> sql::Dialect {
        self.conn.dialect()
    }

    /// The PostgreSQL session under this connection (`None` on SQLite):
    /// the replica coordination functions of [`pg`] (leased claims, the
    /// shared budget, singleton leases, heartbeats) run on it, inside the
    /// same transaction when there is one.
    pub fn postgres(&self) -> Option<&PgSession> {
        match self.conn {
            Conn::Sqlite(_) => None,
            Conn::Postgres(s) => Some(s),
        }
    }

    /// The statement for this connection's dialect, where the two differ
    /// (JSON functions, full-text search, case-insensitive matching).
    fn dialect_sql(&self, sqlite: &'static str, postgres: &'static str) -> &'static str {
        match self.dialect() {
            sql::Dialect::Sqlite => sqlite,
            sql::Dialect::Postgres => postgres,
        }
    }

    /// The schema version of the connected store.
    pub fn schema_version(&self) -> Result<i64> {
        match self.conn {
            Conn::Sqlite(c) => Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?),
            Conn::Postgres(s) => s.schema_version(),
        }
    }
}

impl Store {
    /// Open (and, unless read-only, migrate) the store at `path`.
    pub fn open(path: &Path, mode: OpenMode) -> Result<Store> {
        if let Some(dir) = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty() && !d.is_dir())
        {
            return Err(StoreError::MissingDirectory {
                path: path.to_path_buf(),
                dir: dir.to_path_buf(),
            });
        }
        if mode != OpenMode::Create && !path.exists() {
            return Err(StoreError::Missing(path.to_path_buf()));
        }
        if mode == OpenMode::Create {
            private_files(path);
        }
        let flags = match mode {
            OpenMode::Create => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
            OpenMode::Existing => OpenFlags::SQLITE_OPEN_READ_WRITE,
            OpenMode::ReadOnly => OpenFlags::SQLITE_OPEN_READ_ONLY,
        } | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(path, flags)?;
        let store = Store {
            backend: Backend::Sqlite(conn),
            path: path.to_path_buf(),
            read_only: mode == OpenMode::ReadOnly,
        };
        store
            .configure()
            .map_err(|e| store.classify_open_error(e))?;
        if !store.read_only {
            store.migrate().map_err(|e| store.classify_open_error(e))?;
        } else {
            store.check_version()?;
        }
        Ok(store)
    }

    /// Open a private in-memory store (tests, previews).
    pub fn open_in_memory() -> Result<Store> {
        let conn = Connection::open_in_memory()?;
        let store = Store {
            backend: Backend::Sqlite(conn),
            path: PathBuf::from(":memory:"),
            read_only: false,
        };
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    /// Open (and, unless read-only, migrate) the PostgreSQL store at
    /// `target`. `Create` makes the schema in an empty database; `Existing`
    /// and `ReadOnly` want one roundtrip already made. The store's
    /// [`Store::path`] is the redacted URL, for messages.
    pub fn open_postgres(target: &pg::PgTarget, mode: OpenMode) -> Result<Store> {
        let opened = |e: pg::PgError| StoreError::Open(Box::new(e));
        let session = sql::off_runtime(|| target.connect().map(PgSession::new)).map_err(opened)?;
        let found = session.with_client(pg::schema_version).map_err(opened)?;
        let url = PathBuf::from(target.url());
        if found == 0 && mode != OpenMode::Create {
            return Err(StoreError::Missing(url));
        }
        if found > migrations::LATEST {
            return Err(StoreError::TooNew {
                path: url,
                found,
                known: migrations::LATEST,
            });
        }
        if mode == OpenMode::ReadOnly {
            session.batch("SET default_transaction_read_only = on")?;
        } else {
            session.with_client(|c| {
                let mut tx = c.transaction().map_err(StoreError::from)?;
                pg::migrate_schema(&mut tx, target.url()).map_err(opened)?;
                tx.commit().map_err(StoreError::from)
            })?;
        }
        Ok(Store {
            backend: Backend::Postgres(Box::new(session)),
            path: url,
            read_only: mode == OpenMode::ReadOnly,
        })
    }

    fn classify_open_error(&self, e: StoreError) -> StoreError {
        match e {
            StoreError::Sqlite(ref inner)
                if inner.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) =>
            {
                StoreError::NotADatabase(self.path.clone())
            }
            other => other,
        }
    }

    fn configure(&self) -> Result<()> {
        let Some(conn) = self.sqlite() else {
            return Ok(());
        };
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Hot paths use `prepare_cached`; the default 16 slots are fewer
        // than the distinct statements one writer transaction cycles
        // through, and an evicted statement is parsed again.
        conn.set_prepared_statement_cache_capacity(128);
        conn.pragma_update(None, "foreign_keys", true)?;
        if !self.read_only {
            let mode: String =
                conn.pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0))?;
            // In-memory databases report "memory"; any file store must be WAL.
            debug_assert!(mode == "wal" || mode == "memory");
            conn.pragma_update(None, "synchronous", "NORMAL")?;
        }
        // Touch the schema so a non-database file fails here, not later.
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })?;
        Ok(())
    }

    fn schema_version(&self) -> Result<i64> {
        self.db().schema_version()
    }

    fn check_version(&self) -> Result<i64> {
        let found = self.schema_version()?;
        if found > migrations::LATEST {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found,
                known: migrations::LATEST,
            });
        }
        Ok(found)
    }

    fn migrate(&self) -> Result<()> {
        let Some(conn) = self.sqlite() else {
            return Ok(());
        };
        let found = self.check_version()?;
        for (i, sql) in migrations::MIGRATIONS
            .iter()
            .enumerate()
            .skip(found.max(0) as usize)
        {
            let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
            // Another process may have migrated while we waited for the lock.
            let now: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
            if now > i as i64 {
                continue;
            }
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// The schema version of the open file.
    pub fn version(&self) -> Result<i64> {
        self.schema_version()
    }

    /// Where the store lives on disk.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The database file of a SQLite store (`None` for PostgreSQL): the
    /// write-lock probe and file checks apply only to a file.
    pub fn file(&self) -> Option<&Path> {
        self.sqlite().map(|_| self.path.as_path())
    }

    /// True when opened with [`OpenMode::ReadOnly`].
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Typed queries in autocommit mode.
    pub fn db(&self) -> Db<'_> {
        Db {
            conn: match &self.backend {
                Backend::Sqlite(c) => Conn::Sqlite(c),
                Backend::Postgres(s) => Conn::Postgres(s),
            },
        }
    }

    /// The SQLite connection, when this is a SQLite store (schema
    /// introspection and the copy into PostgreSQL read it directly).
    pub(crate) fn sqlite(&self) -> Option<&Connection> {
        match &self.backend {
            Backend::Sqlite(c) => Some(c),
            Backend::Postgres(_) => None,
        }
    }

    /// The SQLite connection, or an error naming this store as a
    /// PostgreSQL one (schema introspection and `store migrate` read a
    /// SQLite file).
    pub(crate) fn sqlite_conn(&self) -> Result<&Connection> {
        self.sqlite()
            .ok_or_else(|| StoreError::NotSqlite(self.path.clone()))
    }

    /// The PostgreSQL session, when this is a PostgreSQL store (job
    /// claims, the shared budget and leases run on it).
    pub fn postgres(&self) -> Option<&PgSession> {
        match &self.backend {
            Backend::Sqlite(_) => None,
            Backend::Postgres(s) => Some(s),
        }
    }

    /// Which backend holds this store.
    pub fn dialect(&self) -> sql::Dialect {
        self.db().dialect()
    }

    /// Run `f` in one IMMEDIATE transaction: all its writes commit together
    /// or not at all.
    pub fn write<T, E>(&mut self, f: impl FnOnce(Db<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        self.transact(false, f)
    }

    /// One transaction; `durable` waits for the commit to reach the disk.
    fn transact<T, E>(
        &mut self,
        durable: bool,
        f: impl FnOnce(Db<'_>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        if self.read_only {
            return Err(StoreError::ReadOnly.into());
        }
        match &mut self.backend {
            Backend::Sqlite(conn) => {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(StoreError::from)?;
                let out = f(Db {
                    conn: Conn::Sqlite(&tx),
                })?;
                tx.commit().map_err(StoreError::from)?;
                Ok(out)
            }
            Backend::Postgres(session) => {
                session.begin(durable)?;
                match f(Db {
                    conn: Conn::Postgres(session),
                }) {
                    Ok(out) => match session.end(true) {
                        Ok(()) => Ok(out),
                        Err(e) => {
                            let _ = session.end(false);
                            Err(e.into())
                        }
                    },
                    Err(e) => {
                        session.end(false)?;
                        Err(e)
                    }
                }
            }
        }
    }

    /// Like [`Store::write`], but the commit is fsync'd (SQLite's
    /// synchronous=FULL, PostgreSQL's synchronous_commit=on): used for
    /// webhook acknowledgements, which promise durability. A plain
    /// [`Store::write`] is SQLite's synchronous=NORMAL and PostgreSQL's
    /// synchronous_commit=off: never torn, but the last commits before a
    /// power loss may be lost (the engine redoes them from the inbox and
    /// reconcile).
    pub fn write_durable<T, E>(&mut self, f: impl FnOnce(Db<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let Some(conn) = self.sqlite() else {
            return self.transact(true, f);
        };
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(StoreError::from)?;
        let out = self.transact(false, f);
        let restore = self
            .sqlite()
            .map_or(Ok(()), |c| c.pragma_update(None, "synchronous", "NORMAL"))
            .map_err(StoreError::from);
        let out = out?;
        restore?;
        Ok(out)
    }

    /// A number that changes whenever another connection commits a change:
    /// SQLite's `data_version`, PostgreSQL's change counter (kept by the
    /// change triggers). The console polls this instead of re-querying
    /// while idle.
    pub fn data_version(&self) -> Result<i64> {
        match &self.backend {
            Backend::Sqlite(c) => Ok(c.pragma_query_value(None, "data_version", |r| r.get(0))?),
            Backend::Postgres(s) => s
                .with_client(pg::change_version)
                .map_err(|e| StoreError::Open(Box::new(e))),
        }
    }

    /// Fold the WAL back into the main file (graceful shutdown).
    pub fn checkpoint(&self) -> Result<()> {
        if let Some(conn) = self.sqlite().filter(|_| !self.read_only) {
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        }
        Ok(())
    }
}

/// Create the database file 0600 before SQLite does (SQLite gives its WAL
/// and shared-memory files the database file's mode), and tighten an
/// existing store and its companions that others could read.
fn private_files(path: &Path) {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if path.as_os_str() == ":memory:" {
        return;
    }
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    let mut names = vec![path.to_path_buf()];
    for suffix in ["-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        names.push(PathBuf::from(p));
    }
    for p in names {
        if let Ok(meta) = std::fs::metadata(&p)
            && meta.permissions().mode() & 0o077 != 0
        {
            let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600));
        }
    }
}

fn json<T: serde::Serialize>(value: &T) -> String {
    // Serializing our own plain data types cannot fail; fall back to null.
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_string())
}

fn parse_json<T: serde::de::DeserializeOwned>(what: &'static str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|source| StoreError::Json { what, source })
}

/// Turn a stored enum name back into its type; an unknown name in the
/// database is reported as a conversion error on that column.
fn parse_name<T: std::str::FromStr>(col: usize, text: String) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e: T::Err| StoreError::Column {
        index: col,
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod test_backends;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod upkeep_tests;
