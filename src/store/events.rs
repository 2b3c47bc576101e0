//! Engine events for the console's Log view. The console never reads the
//! daemon's log file (it may be on another disk or rotated); notable events
//! are also kept here, bounded by pruning.

use super::sql::params;
use serde::Serialize;

use super::{Db, Result, Window, now_ms, parse_name};

/// Severity of an event, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Something failed and needs attention.
    Error,
    /// Something is degraded.
    Warn,
    /// Normal progress.
    Info,
    /// Detail.
    Debug,
}

impl Level {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }

    /// This level and every more severe one (for "at least warn" filters).
    fn at_least(self) -> &'static str {
        match self {
            Level::Error => "'error'",
            Level::Warn => "'error','warn'",
            Level::Info => "'error','warn','info'",
            Level::Debug => "'error','warn','info','debug'",
        }
    }
}

impl std::str::FromStr for Level {
    type Err = crate::domain::UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "error" => Ok(Level::Error),
            "warn" | "warning" => Ok(Level::Warn),
            "info" => Ok(Level::Info),
            "debug" => Ok(Level::Debug),
            other => Err(crate::domain::UnknownName {
                what: "level",
                value: other.to_string(),
            }),
        }
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventEntry {
    /// Row id.
    pub id: i64,
    /// When (ms).
    pub at: i64,
    /// Severity.
    pub level: Level,
    /// Which part of roundtrip ("engine", "webhook", "reconcile", …).
    pub target: String,
    /// What happened, one line.
    pub message: String,
}

impl Db<'_> {
    /// Append an event.
    pub fn log_event(&self, level: Level, target: &str, message: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO events (at, level, target, message) VALUES (?1, ?2, ?3, ?4)",
            params![now_ms(), level.as_str(), target, message],
        )?;
        Ok(())
    }

    /// Events at `min_level` or more severe, in a keyset window.
    pub fn events(&self, min_level: Level, window: Window) -> Result<Vec<EventEntry>> {
        let (cond, order) = window.clauses("id");
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT id, at, level, target, message FROM events
             WHERE level IN ({}) AND {cond} {order}",
            min_level.at_least()
        ))?;
        let rows = stmt
            .query_map(
                super::sql::named_params! {":from": window.key_bound(), ":limit": window.limit_i64()},
                |r| {
                    Ok(EventEntry {
                        id: r.get(0)?,
                        at: r.get(1)?,
                        level: parse_name(2, r.get(2)?)?,
                        target: r.get(3)?,
                        message: r.get(4)?,
                    })
                },
            )?
            .collect::<Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Keep only the newest `keep` events.
    pub fn prune_events(&self, keep: i64) -> Result<usize> {
        self.conn.execute(
            "DELETE FROM events WHERE id <= (SELECT max(id) FROM events) - ?1",
            [keep],
        )
    }
}
