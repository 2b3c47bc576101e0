//! Change notification on PostgreSQL, the twin of SQLite's
//! `PRAGMA data_version` (DESIGN.md section 13): the console and the CLI
//! redraw when another connection committed, without polling the tables.
//!
//! Every watched table (all but the derived `counters` and `link_keys`) has
//! a deferred `<table>_changed` trigger, queued once per transaction, that
//! runs at commit: it adds one to the single row of [`CHANGE_TABLE`] and
//! notifies [`CHANNEL`] with the new value. PostgreSQL delivers a
//! notification only when its transaction commits, so a rolled-back write
//! wakes nobody, and a transaction of many writes notifies once.
//!
//! Two ways to see changes:
//! * [`ChangeListener`] holds a connection that LISTENs and wakes as soon as
//!   a commit is delivered;
//! * [`change_version`] reads the counter in one query, for a client that
//!   cannot keep a listening connection: it compares values as the console
//!   compares `data_version`.
//!
//! The counter is a row rather than a value derived from
//! `pg_current_xact_id()`: transaction ids are also spent by transactions
//! that change only unwatched tables or roll back, and reading "the newest
//! committed writer" needs `track_commit_timestamp`, which is off by
//! default. The row changes in the same commit as the data, so a reader
//! that sees a new value also sees the data it stands for; and because the
//! trigger runs at commit, concurrent writers hold the row's lock only
//! while committing.

use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, GenericClient};

use super::{PgTarget, Result, doing};

/// The channel the change triggers notify; the payload is the new
/// [`change_version`].
pub const CHANNEL: &str = "roundtrip_changes";

/// The one-row table counting commits that changed a watched table. Only
/// PostgreSQL has it, so the schema comparison with SQLite leaves it out.
pub const CHANGE_TABLE: &str = "roundtrip_changes";

/// The number of commits so far that changed a watched table: it grows by
/// one with each such commit and never with a read or a rolled-back write.
pub fn change_version(client: &mut impl GenericClient) -> Result<i64> {
    let row = client
        .query_one(&format!("SELECT version FROM {CHANGE_TABLE}"), &[])
        .map_err(doing("reading the change counter"))?;
    Ok(row.get(0))
}

/// A connection that LISTENs on [`CHANNEL`] and nothing else, so every
/// notification it receives comes from another connection's commit.
pub struct ChangeListener {
    client: Client,
}

impl std::fmt::Debug for ChangeListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeListener").finish_non_exhaustive()
    }
}

impl ChangeListener {
    /// Connect to `url` (the password as [`PgTarget::parse`] takes it) and
    /// start listening. Commits from this moment on are seen by
    /// [`ChangeListener::wait`].
    pub fn connect(url: &str, password: Option<String>) -> Result<ChangeListener> {
        let target = PgTarget::parse(url, password)?;
        let mut client = target.connect()?;
        client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .map_err(doing(format!("listening for changes at {}", target.url())))?;
        Ok(ChangeListener { client })
    }

    /// Wait up to `timeout` for a change: true as soon as another
    /// connection has committed a change since the last call (at once when
    /// one arrived meanwhile), false when none came within `timeout`. All
    /// notifications already received are consumed, so commits that
    /// arrived together are one wake-up; one arriving later is another.
    pub fn wait(&mut self, timeout: Duration) -> Result<bool> {
        let mut notes = self.client.notifications();
        let first = notes
            .timeout_iter(timeout)
            .next()
            .map_err(doing("waiting for change notifications"))?;
        if first.is_none() {
            return Ok(false);
        }
        while notes
            .iter()
            .next()
            .map_err(doing("reading change notifications"))?
            .is_some()
        {}
        Ok(true)
    }
}
