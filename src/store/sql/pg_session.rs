//! A PostgreSQL connection as the store uses it: one client (the store is
//! used from one thread at a time, like a SQLite connection), statements
//! translated and prepared once per text, transactions begun and ended
//! with plain statements so a borrowed [`super::Conn`] can run inside one.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use postgres::Client;
use postgres::error::SqlState;
use postgres::types::{Kind, ToSql, Type};

use super::translate::to_postgres;
use super::{Args, Value};
use crate::store::{Result, StoreError};

/// The write lock every write transaction takes first (see
/// [`PgSession::begin`]); the key spells "roundtrp".
macro_rules! write_lock {
    () => {
        "SELECT pg_advisory_xact_lock(8245938559730872944)"
    };
}

/// A statement of this session: translated once per text, prepared on
/// first use with its parameters' types taken from that use's values
/// (integers as `BIGINT`, text as `TEXT`, NULL left for the server to
/// infer), so `?1 IS NULL` and `COALESCE(?1, ?2)` need no casts.
pub struct Prepared {
    sql: String,
    translated: String,
    names: Vec<String>,
    statement: OnceLock<postgres::Statement>,
}

/// The store's PostgreSQL connection.
pub struct PgSession {
    /// `None` only while the session is dropped.
    client: RefCell<Option<Client>>,
    /// Inside BEGIN … COMMIT (see [`PgSession::begin`]).
    in_transaction: Cell<bool>,
    prepared: RefCell<HashMap<String, Arc<Prepared>>>,
    /// The schema version, once read (see [`PgSession::schema_version`]).
    schema_version: Cell<Option<i64>>,
}

impl std::fmt::Debug for PgSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSession").finish_non_exhaustive()
    }
}

impl PgSession {
    /// Wrap a connected client.
    pub fn new(client: Client) -> PgSession {
        PgSession {
            client: RefCell::new(Some(client)),
            in_transaction: Cell::new(false),
            prepared: RefCell::new(HashMap::new()),
            schema_version: Cell::new(None),
        }
    }

    /// The schema version, read from the server once per session: reads
    /// ask it to choose their columns (a store opened read-only may be
    /// older than this binary), several times per console frame, and on
    /// PostgreSQL each ask was round trips to the catalogue. The store
    /// migrates when it opens, before the first ask; a newer process
    /// migrating later only adds columns, so the version read stays usable.
    pub fn schema_version(&self) -> Result<i64> {
        if let Some(v) = self.schema_version.get() {
            return Ok(v);
        }
        let v = self
            .with_client(crate::store::pg::schema_version)
            .map_err(|e| StoreError::Open(Box::new(e)))?;
        self.schema_version.set(Some(v));
        Ok(v)
    }

    /// The client itself, for the PostgreSQL-only functions (claims,
    /// budget, leases, change counter) that take one; run off any tokio
    /// runtime (see [`off_runtime`]).
    pub fn with_client<T: Send, E: From<StoreError> + Send>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, E> + Send,
    ) -> Result<T, E> {
        let mut slot = self.client.borrow_mut();
        let Some(client) = slot.as_mut() else {
            return Err(StoreError::WriterClosed.into());
        };
        super::sent();
        off_runtime(|| f(client))
    }

    /// Start a write transaction, in one round trip; one that is not
    /// `durable` returns from its commit before the commit record reaches
    /// the disk. It first takes the write lock: SQLite's IMMEDIATE, one
    /// writing transaction at a time across every replica and command
    /// sharing the database. Merges read a link and plan its writes in one
    /// transaction; two replicas doing that at once under READ COMMITTED
    /// would both plan the same comment or issue.
    pub fn begin(&self, durable: bool) -> Result<()> {
        let started = self.batch(if durable {
            concat!("BEGIN; ", write_lock!())
        } else {
            concat!(
                "BEGIN; SET LOCAL synchronous_commit TO OFF; ",
                write_lock!()
            )
        });
        if let Err(e) = started {
            // The transaction may have begun before the lock failed.
            let _ = self.batch("ROLLBACK");
            return Err(e);
        }
        self.in_transaction.set(true);
        Ok(())
    }

    /// Commit (or, with `false`, roll back) the open transaction.
    pub fn end(&self, commit: bool) -> Result<()> {
        let out = self.batch(if commit { "COMMIT" } else { "ROLLBACK" });
        self.in_transaction.set(false);
        out
    }

    /// Statements without parameters, in one round trip.
    pub fn batch(&self, sql: &str) -> Result<()> {
        self.with_client(|c| c.batch_execute(sql).map_err(pg_error))
    }

    pub(super) fn prepare(&self, sql: &str) -> Result<Arc<Prepared>> {
        if let Some(p) = self.prepared.borrow().get(sql) {
            return Ok(Arc::clone(p));
        }
        let translated = to_postgres(sql);
        let prepared = Arc::new(Prepared {
            sql: sql.to_string(),
            translated: translated.sql,
            names: translated.names,
            statement: OnceLock::new(),
        });
        self.prepared
            .borrow_mut()
            .insert(sql.to_string(), Arc::clone(&prepared));
        Ok(prepared)
    }

    fn statement(&self, p: &Prepared, values: &[Value<'_>]) -> Result<postgres::Statement> {
        if let Some(st) = p.statement.get() {
            return Ok(st.clone());
        }
        let types: Vec<Type> = values.iter().map(param_type).collect();
        // A failed prepare aborts the transaction it runs in; when the
        // fallback below may be needed, a savepoint keeps it usable.
        let guard = values.contains(&Value::Null) && self.in_transaction.get();
        let st = self.with_client(|c| {
            if guard {
                c.batch_execute("SAVEPOINT rt_prepare").map_err(pg_error)?;
            }
            let mut types = types;
            let prepared = loop {
                match c.prepare_typed(&p.translated, &types) {
                    Ok(st) => break Ok(st),
                    Err(e) => {
                        // A parameter NULL on first use and found only where
                        // nothing implies its type (`?4 IS NULL`): declare
                        // that one text and try again.
                        match untyped_param(&e)
                            .filter(|n| types.get(*n).is_some_and(|t| t.oid() == 0))
                        {
                            Some(n) => {
                                if guard {
                                    c.batch_execute("ROLLBACK TO SAVEPOINT rt_prepare")?;
                                }
                                types[n] = Type::TEXT;
                            }
                            None => break Err(e),
                        }
                    }
                }
            };
            if guard {
                c.batch_execute(if prepared.is_ok() {
                    "RELEASE SAVEPOINT rt_prepare"
                } else {
                    "ROLLBACK TO SAVEPOINT rt_prepare; RELEASE SAVEPOINT rt_prepare"
                })
                .map_err(pg_error)?;
            }
            prepared.map_err(|e| match pg_error(e) {
                StoreError::Postgres(reason) => {
                    StoreError::Postgres(format!("{reason}, in: {}", one_line(&p.sql)))
                }
                other => other,
            })
        })?;
        Ok(p.statement.get_or_init(|| st).clone())
    }

    pub(super) fn execute(&self, p: &Prepared, args: &Args<'_>) -> Result<usize> {
        let values = ordered(p, args)?;
        let st = self.statement(p, &values)?;
        let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v as _).collect();
        let n = self.with_client(|c| c.execute(&st, &refs).map_err(pg_error))?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    pub(super) fn query(&self, p: &Prepared, args: &Args<'_>) -> Result<Vec<postgres::Row>> {
        let values = ordered(p, args)?;
        let st = self.statement(p, &values)?;
        let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v as _).collect();
        self.with_client(|c| c.query(&st, &refs).map_err(pg_error))
    }
}

impl Drop for PgSession {
    fn drop(&mut self) {
        // Closing the connection blocks on the driver's runtime too.
        if let Some(client) = self.client.get_mut().take() {
            off_runtime(move || drop(client));
        }
    }
}

/// Run `f`, which blocks on the driver's own runtime, off any tokio
/// runtime this thread drives (nested runtimes panic): directly on a plain
/// thread (the daemon's writer, the console, the CLI), else on a scoped
/// thread of its own (async callers such as tests reading the store).
pub fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|s| {
        s.spawn(f)
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// The 0-based index of the parameter PostgreSQL could not type, from
/// its "could not determine data type of parameter $N".
fn untyped_param(e: &postgres::Error) -> Option<usize> {
    let db = e.as_db_error()?;
    if ![
        SqlState::INDETERMINATE_DATATYPE,
        SqlState::AMBIGUOUS_PARAMETER,
    ]
    .contains(db.code())
    {
        return None;
    }
    let digits: String = db
        .message()
        .rsplit('$')
        .next()?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse::<usize>().ok()?.checked_sub(1)
}

/// The type a parameter is declared with; NULL is left to the server
/// (type oid 0).
fn param_type(value: &Value<'_>) -> Type {
    match value {
        Value::Int(_) => Type::INT8,
        Value::Real(_) => Type::FLOAT8,
        Value::Text(_) => Type::TEXT,
        Value::Blob(_) => Type::BYTEA,
        Value::Null => Type::new(String::new(), 0, Kind::Pseudo, String::new()),
    }
}

/// A statement's text on one line, for an error message.
fn one_line(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The values in `$n` order, checked against what the statement expects.
fn ordered<'a>(p: &Prepared, args: &Args<'a>) -> Result<Vec<Value<'a>>> {
    let values = match args {
        Args::Positional(values) => values.clone(),
        Args::Named(pairs) => p
            .names
            .iter()
            .map(|name| {
                pairs
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| *v)
                    .ok_or_else(|| StoreError::Parameters(format!("no value for {name}")))
            })
            .collect::<Result<Vec<_>>>()?,
    };
    Ok(values)
}

/// A driver error as a store error: a read-only session's write is
/// [`StoreError::ReadOnly`], losing a lock race is [`StoreError::Locked`]
/// (the caller retries), anything else keeps the server's message.
pub fn pg_error(e: postgres::Error) -> StoreError {
    match e.code() {
        Some(&SqlState::READ_ONLY_SQL_TRANSACTION) => StoreError::ReadOnly,
        Some(
            &SqlState::T_R_SERIALIZATION_FAILURE
            | &SqlState::T_R_DEADLOCK_DETECTED
            | &SqlState::LOCK_NOT_AVAILABLE,
        ) => StoreError::Locked,
        Some(code) => StoreError::Postgres(format!(
            "{} (SQLSTATE {})",
            crate::store::pg::reason(&e),
            code.code()
        )),
        None => StoreError::Postgres(crate::store::pg::reason(&e)),
    }
}
