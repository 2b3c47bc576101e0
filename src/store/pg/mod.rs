//! PostgreSQL, the second store backend (DESIGN.md section 13): its
//! versioned schema, the connection rules every command shares (password
//! from the environment, the URL never printed with its password), the
//! one-transaction copy of a SQLite store into it, the twins of SQLite's
//! triggers, and change notification for the console and the CLI; and the
//! coordination of several replicas through it: leased job claims, a shared
//! rate-limit budget, heartbeats and singleton leases (the engine's
//! `cluster` module calls them).
//!
//! The `postgres` driver is synchronous like the rest of the store; it runs
//! its own small runtime, so it is called from plain threads, never from
//! inside a tokio runtime.

mod budget;
mod claims;
mod copy;
mod keys;
pub mod migrations;
mod notify;
mod replicas;
mod schema;
mod shape;
mod target;
mod triggers;

pub use budget::{BudgetPolicy, HOLD_MS, Take, pause, refill, settle, take};
pub use claims::{Renewal, claim_due_jobs, defer, renew_leases};
pub use copy::{CopyReport, TableCount, copy_store};
pub use keys::{ForeignKey, Keys, NamedIndex, UniqueKey, key_differences, pg_keys, sqlite_keys};
pub use notify::{CHANGE_TABLE, CHANNEL, ChangeListener, change_version};
pub use replicas::{
    FORGET_AFTER_MS, Lead, LeaseState, ReplicaInfo, ReplicaState, Singleton, beat, leases, leave,
    replicas, resign, try_lead,
};
pub use schema::{migrate_schema, schema_version};
pub use shape::{Column, ColumnKind, TableShape, differences, pg_tables, sqlite_tables};
pub use target::{PgTarget, Transport, redact_url};
pub use triggers::{
    DERIVED_TABLES, PG_ONLY_TRIGGERS, SQLITE_ONLY_TRIGGERS, Trigger, pg_triggers, sqlite_triggers,
    trigger_differences,
};

/// Failures of the PostgreSQL backend, each one sentence that names the
/// database by its redacted URL.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The URL is not a `postgres://` URL the driver accepts.
    #[error("{0}")]
    BadUrl(String),
    /// The server could not be reached or refused the login.
    #[error("cannot connect to PostgreSQL at {url}: {reason}")]
    Connect {
        /// The redacted URL.
        url: String,
        /// Why, without the password.
        reason: String,
    },
    /// The database was migrated by a newer roundtrip.
    #[error(
        "the PostgreSQL store at {url} has schema version {found}, newer than this roundtrip understands ({known}); upgrade roundtrip"
    )]
    TooNew {
        /// The redacted URL.
        url: String,
        /// The version found.
        found: i64,
        /// The newest version this binary knows.
        known: i64,
    },
    /// `store migrate` only fills an empty database.
    #[error(
        "the PostgreSQL database at {url} already holds roundtrip data (table {table} has rows); migrate into an empty database"
    )]
    NotEmpty {
        /// The redacted URL.
        url: String,
        /// The first table found with rows.
        table: String,
    },
    /// The two schemas disagree (a SQLite migration without its twin).
    #[error("the PostgreSQL schema does not match the SQLite store: {0}")]
    Drift(String),
    /// A replica reported on a job it no longer holds: its lease expired and
    /// another replica claimed the job again (or it was never claimed).
    #[error(
        "job {job} is no longer held by replica {replica} (held by {}); its result is dropped and the current holder's run counts",
        holder.as_deref().unwrap_or("no replica")
    )]
    LeaseLost {
        /// The job.
        job: i64,
        /// The replica that reported.
        replica: String,
        /// Who holds it now, if anyone.
        holder: Option<String>,
    },
    /// A stored value has a type the PostgreSQL column cannot take.
    #[error("{table}.{column} holds {found} where PostgreSQL expects {expected}")]
    Value {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// What the SQLite row holds.
        found: &'static str,
        /// The PostgreSQL column's kind.
        expected: &'static str,
    },
    /// Copied and stored row counts differ after the copy.
    #[error("{table}: {copied} rows copied but {stored} stored; nothing was committed")]
    CountMismatch {
        /// The table.
        table: String,
        /// Rows read from SQLite.
        copied: u64,
        /// Rows PostgreSQL reports.
        stored: u64,
    },
    /// The SQLite side failed.
    #[error(transparent)]
    Source(#[from] crate::store::StoreError),
    /// A statement failed on the server.
    #[error("PostgreSQL error while {doing}: {reason}")]
    Statement {
        /// What was being done.
        doing: String,
        /// The server's message.
        reason: String,
    },
}

/// Shorthand for results of this module.
pub type Result<T, E = PgError> = std::result::Result<T, E>;

/// The message of a driver error: the server's own sentence when there is
/// one, else the driver's chain of causes.
pub(crate) fn reason(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return db.message().to_string();
    }
    let mut parts = vec![e.to_string()];
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let text = c.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cause = c.source();
    }
    parts.join(": ")
}

/// Attach what was being done to a driver error.
fn doing(what: impl Into<String>) -> impl FnOnce(postgres::Error) -> PgError {
    let doing = what.into();
    move |e| PgError::Statement {
        doing,
        reason: reason(&e),
    }
}
