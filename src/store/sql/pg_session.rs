//! A PostgreSQL connection as the store uses it: one client (the store is
//! used from one thread at a time, like a SQLite connection), statements
//! translated and prepared once per text, transactions begun and ended
//! with plain statements so a borrowed [`super::Conn`] can run inside one.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use postgres::Client;
use postgres::types::ToSql;

use super::translate::to_postgres;
use super::{Args, Value};
use crate::store::{Result, StoreError};

/// A statement prepared on this session, with the `:name` order it binds.
pub struct Prepared {
    statement: postgres::Statement,
    names: Vec<String>,
}

/// The store's PostgreSQL connection.
pub struct PgSession {
    client: RefCell<Client>,
    prepared: RefCell<HashMap<String, Arc<Prepared>>>,
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
            client: RefCell::new(client),
            prepared: RefCell::new(HashMap::new()),
        }
    }

    /// The client itself, for the PostgreSQL-only functions (claims,
    /// budget, leases, change counter) that take one.
    pub fn with_client<T>(&self, f: impl FnOnce(&mut Client) -> T) -> T {
        f(&mut self.client.borrow_mut())
    }

    /// Statements without parameters, in one round trip.
    pub fn batch(&self, sql: &str) -> Result<()> {
        self.client
            .borrow_mut()
            .batch_execute(sql)
            .map_err(pg_error)
    }

    pub(super) fn prepare(&self, sql: &str) -> Result<Arc<Prepared>> {
        if let Some(p) = self.prepared.borrow().get(sql) {
            return Ok(Arc::clone(p));
        }
        let translated = to_postgres(sql);
        let statement = self
            .client
            .borrow_mut()
            .prepare(&translated.sql)
            .map_err(pg_error)?;
        let prepared = Arc::new(Prepared {
            statement,
            names: translated.names,
        });
        self.prepared
            .borrow_mut()
            .insert(sql.to_string(), Arc::clone(&prepared));
        Ok(prepared)
    }

    pub(super) fn execute(&self, p: &Prepared, args: &Args<'_>) -> Result<usize> {
        let values = ordered(p, args)?;
        let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v as _).collect();
        let n = self
            .client
            .borrow_mut()
            .execute(&p.statement, &refs)
            .map_err(pg_error)?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    pub(super) fn query(&self, p: &Prepared, args: &Args<'_>) -> Result<Vec<postgres::Row>> {
        let values = ordered(p, args)?;
        let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v as _).collect();
        self.client
            .borrow_mut()
            .query(&p.statement, &refs)
            .map_err(pg_error)
    }
}

/// The values in `$n` order, checked against what the statement expects.
fn ordered<'a>(p: &Prepared, args: &Args<'a>) -> Result<Vec<Value<'a>>> {
    let expected = p.statement.params().len();
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
    if values.len() != expected {
        return Err(StoreError::Parameters(format!(
            "the statement takes {expected} parameters, {} given",
            values.len()
        )));
    }
    Ok(values)
}

// SQLSTATEs the store reports as its own kinds.
const READ_ONLY_TRANSACTION: &str = "25006";
const SERIALIZATION_FAILURE: &str = "40001";
const DEADLOCK_DETECTED: &str = "40P01";
const LOCK_NOT_AVAILABLE: &str = "55P03";

/// A driver error as a store error: a read-only session's write is
/// [`StoreError::ReadOnly`], losing a lock race is [`StoreError::Locked`]
/// (the caller retries), anything else keeps the server's message.
pub fn pg_error(e: postgres::Error) -> StoreError {
    match e.code().map(|c| c.code()) {
        Some(READ_ONLY_TRANSACTION) => StoreError::ReadOnly,
        Some(SERIALIZATION_FAILURE | DEADLOCK_DETECTED | LOCK_NOT_AVAILABLE) => StoreError::Locked,
        _ => StoreError::Postgres(crate::store::pg::reason(&e)),
    }
}
