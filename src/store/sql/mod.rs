//! The one place the store touches a database driver: a connection that is
//! either SQLite or PostgreSQL, with the few operations the typed queries
//! need (execute, query one row, query many, cached statements). Queries
//! are written once in the SQL both understand, with SQLite's placeholders;
//! [`translate`] rewrites them for PostgreSQL, and the rare statement that
//! must differ asks [`Conn::dialect`].

mod pg_session;
pub mod translate;
mod value;

use std::sync::Arc;

pub use pg_session::{PgSession, off_runtime, pg_error};
pub use value::{Cell, FromValue, ToValue, Value};

use super::{Result, StoreError};

thread_local! {
    static SENT: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many statements this thread has run against a store so far; on
/// PostgreSQL, how many round trips (a first-use prepare counts). Each
/// round trip goes to another process, so on PostgreSQL their number,
/// more than the rows read, is what a console frame costs: the benchmark
/// reports it per key and tests bound it.
pub fn statements_sent() -> u64 {
    SENT.with(std::cell::Cell::get)
}

fn sent() {
    SENT.with(|c| c.set(c.get() + 1));
}

/// Which SQL a statement is written for, where the two differ (full-text
/// search, JSON functions, case-insensitive matching).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite, the embedded default.
    Sqlite,
    /// PostgreSQL, for several replicas.
    Postgres,
}

/// Bound parameters: by position (`?1`) or by name (`:from`).
#[derive(Debug, Clone)]
pub enum Args<'a> {
    /// `?1`, `?2`, … in order.
    Positional(Vec<Value<'a>>),
    /// `:name` → value.
    Named(Vec<(&'a str, Value<'a>)>),
}

/// What a query accepts as its parameters.
pub trait Params {
    /// The parameters as bound values.
    fn args(&self) -> Args<'_>;
}

impl Params for () {
    fn args(&self) -> Args<'_> {
        Args::Positional(Vec::new())
    }
}

impl<T: ToValue, const N: usize> Params for [T; N] {
    fn args(&self) -> Args<'_> {
        Args::Positional(self.iter().map(ToValue::to_value).collect())
    }
}

impl Params for &[Value<'_>] {
    fn args(&self) -> Args<'_> {
        Args::Positional(self.to_vec())
    }
}

impl Params for Vec<Value<'_>> {
    fn args(&self) -> Args<'_> {
        Args::Positional(self.clone())
    }
}

impl Params for &[(&str, Value<'_>)] {
    fn args(&self) -> Args<'_> {
        Args::Named(self.to_vec())
    }
}

/// Positional parameters of mixed types: `params![id, title, now]`.
macro_rules! params {
    () => {
        &[] as &[$crate::store::sql::Value<'_>]
    };
    ($($p:expr),+ $(,)?) => {
        &[$($crate::store::sql::ToValue::to_value(&$p)),+] as &[$crate::store::sql::Value<'_>]
    };
}
pub(crate) use params;

/// Named parameters: `named_params! {":from": key, ":limit": n}`.
macro_rules! named_params {
    ($($k:literal : $v:expr),+ $(,)?) => {
        &[$(($k, $crate::store::sql::ToValue::to_value(&$v))),+] as &[(&str, $crate::store::sql::Value<'_>)]
    };
}
pub(crate) use named_params;

/// `Ok(None)` for a query that found no row, as `rusqlite`'s extension of
/// the same name does.
pub trait OptionalExtension<T> {
    /// The row, or `None` when there was none.
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(StoreError::NoRow) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// One result row of either backend.
pub enum Row<'r> {
    /// A SQLite row.
    Sqlite(&'r rusqlite::Row<'r>),
    /// A PostgreSQL row.
    Postgres(&'r postgres::Row),
}

impl Row<'_> {
    /// Column `idx` as `T`; a mismatch names the column.
    pub fn get<T: FromValue>(&self, idx: usize) -> Result<T> {
        let cell = match self {
            Row::Sqlite(r) => r
                .get_ref(idx)
                .map_err(StoreError::from)
                .and_then(|v| value::sqlite_cell(v).map_err(|e| column(idx, e)))?,
            Row::Postgres(r) => value::pg_cell(r, idx).map_err(|e| column(idx, e))?,
        };
        T::from_cell(cell).map_err(|e| column(idx, e))
    }
}

fn column(idx: usize, reason: String) -> StoreError {
    StoreError::Column { index: idx, reason }
}

/// A borrowed connection, plain or inside a transaction.
#[derive(Clone, Copy)]
pub enum Conn<'c> {
    /// SQLite.
    Sqlite(&'c rusqlite::Connection),
    /// PostgreSQL.
    Postgres(&'c PgSession),
}

impl<'c> Conn<'c> {
    /// Which SQL this connection speaks.
    pub fn dialect(&self) -> Dialect {
        match self {
            Conn::Sqlite(_) => Dialect::Sqlite,
            Conn::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Run one statement; the number of rows it changed.
    pub fn execute(&self, sql: &str, params: impl Params) -> Result<usize> {
        self.prepare(sql)?.execute(params)
    }

    /// Run several statements without parameters.
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        match self {
            Conn::Sqlite(c) => {
                sent();
                Ok(c.execute_batch(sql)?)
            }
            Conn::Postgres(s) => s.batch(sql),
        }
    }

    /// The first row of a query; [`StoreError::NoRow`] when there is none.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        self.prepare(sql)?.query_row(params, f)
    }

    /// A statement kept prepared for the next call with the same text.
    pub fn prepare_cached(&self, sql: &str) -> Result<Stmt<'c>> {
        Ok(Stmt(match *self {
            Conn::Sqlite(c) => Inner::Sqlite(c.prepare_cached(sql)?),
            Conn::Postgres(s) => Inner::Postgres(s, s.prepare(sql)?),
        }))
    }

    /// A statement for one use (both backends keep it prepared: the text of
    /// a query is a constant or built from a few known shapes).
    pub fn prepare(&self, sql: &str) -> Result<Stmt<'c>> {
        self.prepare_cached(sql)
    }
}

/// A prepared statement.
pub struct Stmt<'c>(Inner<'c>);

enum Inner<'c> {
    Sqlite(rusqlite::CachedStatement<'c>),
    Postgres(&'c PgSession, Arc<pg_session::Prepared>),
}

impl Stmt<'_> {
    /// Run it; the number of rows changed.
    pub fn execute(&mut self, params: impl Params) -> Result<usize> {
        match &mut self.0 {
            Inner::Sqlite(st) => {
                sent();
                bind_sqlite(st, &params.args())?;
                Ok(st.raw_execute()?)
            }
            Inner::Postgres(s, p) => s.execute(p, &params.args()),
        }
    }

    /// The first row; [`StoreError::NoRow`] when there is none.
    pub fn query_row<T>(
        &mut self,
        params: impl Params,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        match &mut self.0 {
            Inner::Sqlite(st) => {
                sent();
                bind_sqlite(st, &params.args())?;
                let mut rows = st.raw_query();
                match rows.next()? {
                    Some(r) => f(&Row::Sqlite(r)),
                    None => Err(StoreError::NoRow),
                }
            }
            Inner::Postgres(s, p) => {
                let rows = s.query(p, &params.args())?;
                match rows.first() {
                    Some(r) => f(&Row::Postgres(r)),
                    None => Err(StoreError::NoRow),
                }
            }
        }
    }

    /// Every row, each through `f`.
    pub fn query_map<T>(
        &mut self,
        params: impl Params,
        mut f: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<std::vec::IntoIter<Result<T>>> {
        let mut out = Vec::new();
        match &mut self.0 {
            Inner::Sqlite(st) => {
                sent();
                bind_sqlite(st, &params.args())?;
                let mut rows = st.raw_query();
                while let Some(r) = rows.next()? {
                    out.push(f(&Row::Sqlite(r)));
                }
            }
            Inner::Postgres(s, p) => {
                for r in s.query(p, &params.args())? {
                    out.push(f(&Row::Postgres(&r)));
                }
            }
        }
        Ok(out.into_iter())
    }

    /// Whether the query returns any row.
    pub fn exists(&mut self, params: impl Params) -> Result<bool> {
        Ok(self.query_row(params, |_| Ok(())).optional()?.is_some())
    }
}

/// Bind `args` to a SQLite statement by index (names looked up), after
/// checking that every parameter gets a value: a cached statement keeps
/// its previous bindings otherwise.
fn bind_sqlite(st: &mut rusqlite::Statement<'_>, args: &Args<'_>) -> rusqlite::Result<()> {
    let expected = st.parameter_count();
    match args {
        Args::Positional(values) => {
            if values.len() != expected {
                return Err(rusqlite::Error::InvalidParameterCount(
                    values.len(),
                    expected,
                ));
            }
            for (i, v) in values.iter().enumerate() {
                st.raw_bind_parameter(i + 1, v)?;
            }
        }
        Args::Named(pairs) => {
            if pairs.len() != expected {
                return Err(rusqlite::Error::InvalidParameterCount(
                    pairs.len(),
                    expected,
                ));
            }
            for (name, v) in pairs {
                let idx = st
                    .parameter_index(name)?
                    .ok_or_else(|| rusqlite::Error::InvalidParameterName((*name).to_string()))?;
                st.raw_bind_parameter(idx, v)?;
            }
        }
    }
    Ok(())
}
