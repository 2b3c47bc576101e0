//! Two safety rules, as pure functions over short histories:
//!
//! * the ping-pong guard: a field whose agreed value keeps flipping between
//!   the same two values (two automations fighting, or a connector
//!   mis-mapping) is frozen and raised as a conflict instead of being
//!   written again;
//! * the mass-delete guard: more deletes than the limit within the window
//!   pause delete propagation, so a wiped board does not wipe Linear.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{FieldValue, Side};

use super::plan::Snapshot;

/// One recorded base value of a field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When the base took this value.
    pub at: DateTime<Utc>,
    /// The value.
    pub value: FieldValue,
    /// Which side's change it came from (`None`: unknown, or both sides
    /// agreed). Only changes that alternate between sides are flips: one
    /// person changing their mind on one side is not two systems fighting.
    #[serde(default)]
    pub from: Option<Side>,
}

/// Recent base values per mapping field, oldest first (kept by the engine
/// with [`record_history`]).
pub type FieldHistory = BTreeMap<String, Vec<HistoryEntry>>;

/// Settings of the ping-pong guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingPongGuard {
    /// More flips than this within `window` freeze the field.
    pub max_flips: usize,
    /// How far back flips count.
    pub window: Duration,
}

impl Default for PingPongGuard {
    /// Four flips in ten minutes: well above any human editing rhythm.
    fn default() -> Self {
        PingPongGuard {
            max_flips: 4,
            window: Duration::from_secs(600),
        }
    }
}

/// A frozen field: it flipped `flips` times between `a` and `b`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flapping {
    /// One of the two values.
    pub a: FieldValue,
    /// The other value.
    pub b: FieldValue,
    /// How many changes between them fall in the window (this one included).
    pub flips: usize,
}

impl PingPongGuard {
    /// Would moving the field to `next` now (a change from side
    /// `next_from`) continue a flip-flop between the same two values more
    /// than `max_flips` times inside the window? A change counts as a flip
    /// only when it came from the other side than the change before it
    /// (unknown origins always count).
    pub fn check(
        &self,
        history: &[HistoryEntry],
        next: &FieldValue,
        next_from: Option<Side>,
        now: DateTime<Utc>,
    ) -> Option<Flapping> {
        let since = chrono::Duration::from_std(self.window)
            .ok()
            .and_then(|w| now.checked_sub_signed(w));
        let mut seq: Vec<(&FieldValue, Option<Side>)> = history
            .iter()
            .filter(|e| since.is_none_or(|s| e.at >= s))
            .map(|e| (&e.value, e.from))
            .collect();
        seq.push((next, next_from));
        seq.dedup_by(|later, earlier| later.0 == earlier.0);
        let n = seq.len();
        if n < 2 {
            return None;
        }
        let (a, b) = (seq[n - 1].0, seq[n - 2].0);
        let run: Vec<Option<Side>> = seq
            .iter()
            .rev()
            .take_while(|(v, _)| *v == a || *v == b)
            .map(|(_, from)| *from)
            .collect();
        // `run` is newest first; each entry but the oldest is one change.
        let changes = &run[..run.len() - 1];
        let flips = changes
            .iter()
            .enumerate()
            .filter(|(i, from)| match (from, changes.get(i + 1)) {
                (Some(f), Some(Some(before))) => f != before,
                _ => true,
            })
            .count();
        (flips > self.max_flips).then(|| Flapping {
            a: a.clone(),
            b: b.clone(),
            flips,
        })
    }
}

/// Append the fields whose base changed to the history and drop entries
/// older than `window`; the engine calls this after storing a new base.
pub fn record_history(
    history: &mut FieldHistory,
    old_base: &Snapshot,
    new_base: &Snapshot,
    origin: &BTreeMap<String, Side>,
    now: DateTime<Utc>,
    window: Duration,
) {
    for (field, value) in new_base {
        if old_base.get(field) != Some(value) {
            let entries = history.entry(field.clone()).or_default();
            if entries.is_empty()
                && let Some(old) = old_base.get(field)
            {
                // Remember where the flip started from.
                entries.push(HistoryEntry {
                    at: now,
                    value: old.clone(),
                    from: None,
                });
            }
            entries.push(HistoryEntry {
                at: now,
                value: value.clone(),
                from: origin.get(field).copied(),
            });
        }
    }
    let since = chrono::Duration::from_std(window)
        .ok()
        .and_then(|w| now.checked_sub_signed(w));
    if let Some(since) = since {
        for entries in history.values_mut() {
            entries.retain(|e| e.at >= since);
        }
        history.retain(|_, e| !e.is_empty());
    }
}

/// Settings of the mass-delete guard (`[sync] mass_delete_guard`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MassDeleteGuard {
    /// More deletes than this within `window` pause delete propagation.
    pub max_deletes: usize,
    /// The window (10 minutes per DESIGN.md).
    pub window: Duration,
}

impl Default for MassDeleteGuard {
    /// 20 deletes in 10 minutes, the documented default.
    fn default() -> Self {
        MassDeleteGuard {
            max_deletes: 20,
            window: Duration::from_secs(600),
        }
    }
}

/// The guard's verdict on one more delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteVerdict {
    /// Propagate it.
    Allow,
    /// Hold it and alert: `count` deletes (this one included) in the window.
    Pause {
        /// Deletes seen in the window, this one included.
        count: usize,
    },
}

impl MassDeleteGuard {
    /// Judge a delete observed at `now`, given the times of the deletes seen
    /// before it (any order; older ones are ignored).
    pub fn check(&self, earlier: &[DateTime<Utc>], now: DateTime<Utc>) -> DeleteVerdict {
        let since = chrono::Duration::from_std(self.window)
            .ok()
            .and_then(|w| now.checked_sub_signed(w));
        let count = earlier
            .iter()
            .filter(|t| since.is_none_or(|s| **t > s) && **t <= now)
            .count()
            + 1;
        if count > self.max_deletes {
            DeleteVerdict::Pause { count }
        } else {
            DeleteVerdict::Allow
        }
    }
}
