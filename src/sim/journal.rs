//! A record of what happened to each simulated record, in one order across
//! both simulators: every field change (who made it: the API, i.e.
//! roundtrip, or a scripted person), every comment, every API read of a
//! record. Not vendor behaviour — an instrument of the sandbox, so a test
//! can prove after the fact that no person's edit was replaced unseen and
//! that no write carried a value its source never had.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Entries kept per simulator (the oldest are dropped beyond this).
pub const JOURNAL_CAP: usize = 200_000;

static SEQ: AtomicU64 = AtomicU64::new(1);

/// The next position in the one order both simulators share.
pub fn next_seq() -> u64 {
    SEQ.fetch_add(1, Ordering::Relaxed)
}

/// A field's value as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalValue {
    /// Text (title, description, status or state name).
    Text(String),
    /// A set of names (tags, labels), lowercased.
    Set(BTreeSet<String>),
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalKind {
    /// The API read the record (Canny `posts/retrieve`, Linear `issue`).
    Read,
    /// A field changed.
    Field {
        /// The vendor's field name ("title", "details", "status", "tags";
        /// "title", "description", "state", "labels").
        field: &'static str,
        /// The value before.
        before: JournalValue,
        /// The value after.
        after: JournalValue,
    },
    /// A comment was created.
    Comment {
        /// Its id.
        id: String,
        /// Its text.
        body: String,
    },
}

/// One entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// Position in the shared order.
    pub seq: u64,
    /// The post or issue.
    pub record: String,
    /// What happened.
    pub kind: JournalKind,
    /// Made through the API (roundtrip) rather than by a scripted person.
    pub by_api: bool,
}

/// A bounded journal.
#[derive(Debug, Default)]
pub struct Journal(Mutex<VecDeque<JournalEntry>>);

impl Journal {
    /// Append an entry, numbered now.
    pub fn push(&self, record: &str, kind: JournalKind, by_api: bool) {
        let mut j = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if j.len() >= JOURNAL_CAP {
            j.pop_front();
        }
        j.push_back(JournalEntry {
            seq: next_seq(),
            record: record.to_string(),
            kind,
            by_api,
        });
    }

    /// Every entry kept, oldest first.
    pub fn entries(&self) -> Vec<JournalEntry> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }
}
