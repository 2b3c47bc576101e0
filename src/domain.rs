//! Domain types shared by every layer: the canonical record both sides are
//! mapped into, field values the merge compares, and the error classes every
//! remote failure is sorted into. Kept in one place so the store, the pure
//! sync logic, the connectors and the console all speak the same language.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

mod kinds;

pub use kinds::{Actor, AuditAction, ChangeKind, GroupKind, JobKind, PortalKind, QuotaKind};

/// Which remote system a record, delivery or job belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The customer feedback portal (Canny or Fider).
    Portal,
    /// Linear, the issue tracker.
    Linear,
}

impl Side {
    /// The stable lowercase name used in the store, JSON output and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Portal => "portal",
            Side::Linear => "linear",
        }
    }

    /// The side a write planned from this side lands on.
    pub fn other(self) -> Side {
        match self {
            Side::Portal => Side::Linear,
            Side::Linear => Side::Portal,
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Side {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "portal" | "canny" | "fider" => Ok(Side::Portal),
            "linear" => Ok(Side::Linear),
            other => Err(UnknownName::new("side", other)),
        }
    }
}

/// A name that did not parse into one of our enums; carries what was expected
/// so the message can say which words are allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} '{value}'")]
pub struct UnknownName {
    /// What kind of name was being parsed (e.g. "error class").
    pub what: &'static str,
    /// The text that did not match.
    pub value: String,
}

impl UnknownName {
    fn new(what: &'static str, value: &str) -> Self {
        UnknownName {
            what,
            value: value.to_string(),
        }
    }
}

/// Every remote failure is sorted into one of these classes; the class, not
/// the message, decides whether a job is retried, parked or escalated
/// (DESIGN.md section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The remote asked us to slow down (HTTP 429, Linear RATELIMITED).
    RateLimited,
    /// The remote failed (5xx).
    Server,
    /// The connection could not be made or broke.
    Network,
    /// The remote did not answer in time.
    Timeout,
    /// Credentials were refused (401/403, AUTHENTICATION_ERROR).
    Auth,
    /// The remote rejected the request as invalid; retrying will not help.
    Validation,
    /// The record no longer exists remotely.
    NotFound,
    /// The write collided with a concurrent change.
    Conflict,
    /// The answer did not have the shape the connector expects (a missing,
    /// null or mistyped field, an unknown enum value, an HTML page, a
    /// truncated body): the vendor's API changed or something in between
    /// rewrote the answer. Retried with backoff, and raised as an alert.
    Schema,
}

impl ErrorClass {
    /// Whether a write that failed this way may still have been applied:
    /// no answer (a timeout or a broken connection), a server error, or an
    /// answer of the wrong shape. A retry of such a write first asks the
    /// target what it already holds or wrote.
    pub fn outcome_unknown(self) -> bool {
        matches!(
            self,
            ErrorClass::Server | ErrorClass::Network | ErrorClass::Timeout | ErrorClass::Schema
        )
    }

    /// All classes, in display order (used by filters and metrics).
    pub const ALL: [ErrorClass; 9] = [
        ErrorClass::RateLimited,
        ErrorClass::Server,
        ErrorClass::Network,
        ErrorClass::Timeout,
        ErrorClass::Auth,
        ErrorClass::Validation,
        ErrorClass::NotFound,
        ErrorClass::Conflict,
        ErrorClass::Schema,
    ];

    /// The stable snake_case name used in the store, CLI flags and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::RateLimited => "rate_limited",
            ErrorClass::Server => "server",
            ErrorClass::Network => "network",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Auth => "auth",
            ErrorClass::Validation => "validation",
            ErrorClass::NotFound => "not_found",
            ErrorClass::Conflict => "conflict",
            ErrorClass::Schema => "schema",
        }
    }

    /// Transient classes are retried with backoff; the others wait for a human
    /// or for delete handling.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ErrorClass::RateLimited
                | ErrorClass::Server
                | ErrorClass::Network
                | ErrorClass::Timeout
                | ErrorClass::Schema
        )
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ErrorClass {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ErrorClass::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownName::new("error class", s))
    }
}

/// A failed remote call, already classified. Connectors return this so the
/// engine can decide on retry/backoff without knowing the vendor.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{class}: {message}")]
pub struct RemoteError {
    /// How the failure is handled.
    pub class: ErrorClass,
    /// The remote's own message (never containing secrets).
    pub message: String,
    /// HTTP status, when a response arrived.
    pub http_status: Option<u16>,
    /// The remote's request id, for support tickets.
    pub request_id: Option<String>,
    /// How long the remote asked us to wait (Retry-After or time to reset).
    pub retry_after: Option<Duration>,
}

impl RemoteError {
    /// A bare error of a class with a message; other fields empty.
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        RemoteError {
            class,
            message: message.into(),
            http_status: None,
            request_id: None,
            retry_after: None,
        }
    }

    /// Attach the HTTP status the failure came with.
    pub fn with_status(mut self, status: u16) -> Self {
        self.http_status = Some(status);
        self
    }

    /// Attach a wait the remote asked for.
    pub fn with_retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }
}

/// Why a conflict waits for a human. Stored with the conflict, so the CLI
/// and the console can word the prompt, and the merge knows which conflicts
/// settle on their own (both sides agree) and which wait regardless.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictReason {
    /// Both sides changed and the policy is `ask`.
    BothChanged,
    /// Policy `merge`, but the edits overlap (or the values cannot be merged).
    MergeOverlap,
    /// Policy `newest`, but the change times are missing or equal.
    NewestUndecided,
    /// The field kept flipping between two values; frozen by the ping-pong guard.
    PingPong,
    /// The other side refused the value (a validation error): it is not
    /// written again until one side changes the field.
    Refused,
    /// A human edit landed between roundtrip's read and its write and was
    /// replaced; the conflict holds the overwritten value so it is not lost.
    Overwritten,
}

impl ConflictReason {
    /// Every reason, in display order.
    pub const ALL: [ConflictReason; 6] = [
        ConflictReason::BothChanged,
        ConflictReason::MergeOverlap,
        ConflictReason::NewestUndecided,
        ConflictReason::PingPong,
        ConflictReason::Refused,
        ConflictReason::Overwritten,
    ];

    /// The stable snake_case name stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictReason::BothChanged => "both_changed",
            ConflictReason::MergeOverlap => "merge_overlap",
            ConflictReason::NewestUndecided => "newest_undecided",
            ConflictReason::PingPong => "ping_pong",
            ConflictReason::Refused => "refused",
            ConflictReason::Overwritten => "overwritten",
        }
    }

    /// Short words for tables ("cannot write" for a refused value).
    pub fn label(self) -> &'static str {
        match self {
            ConflictReason::BothChanged => "both changed",
            ConflictReason::MergeOverlap => "edits overlap",
            ConflictReason::NewestUndecided => "no newer side",
            ConflictReason::PingPong => "ping-pong",
            ConflictReason::Refused => "cannot write",
            ConflictReason::Overwritten => "overwritten",
        }
    }
}

impl fmt::Display for ConflictReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ConflictReason {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ConflictReason::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownName::new("conflict reason", s))
    }
}

/// Additions and removals for a set-valued field (tags, labels). Written as
/// a delta, never as a replacement, so a tag someone adds on the target
/// while roundtrip writes is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetDelta {
    /// Names to add.
    pub added: BTreeSet<String>,
    /// Names to remove.
    pub removed: BTreeSet<String>,
}

impl SetDelta {
    /// Nothing to add or remove.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }

    /// The delta that turns `from` into `to`, comparing names without
    /// regard to case (vendors match tag and label names that way).
    pub fn between(from: &BTreeSet<String>, to: &BTreeSet<String>) -> SetDelta {
        let has =
            |set: &BTreeSet<String>, name: &str| set.iter().any(|n| n.eq_ignore_ascii_case(name));
        SetDelta {
            added: to.iter().filter(|n| !has(from, n)).cloned().collect(),
            removed: from.iter().filter(|n| !has(to, n)).cloned().collect(),
        }
    }

    /// `set` with this delta applied (case-insensitively).
    pub fn apply(&self, set: &BTreeSet<String>) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = set
            .iter()
            .filter(|n| !self.removed.iter().any(|r| r.eq_ignore_ascii_case(n)))
            .cloned()
            .collect();
        for a in &self.added {
            if !out.iter().any(|n| n.eq_ignore_ascii_case(a)) {
                out.insert(a.clone());
            }
        }
        out
    }

    /// This delta less the members of `done` (case-insensitively).
    pub fn without(&self, done: &SetDelta) -> SetDelta {
        let keep = |names: &BTreeSet<String>, drop: &BTreeSet<String>| {
            names
                .iter()
                .filter(|n| !drop.iter().any(|d| d.eq_ignore_ascii_case(n)))
                .cloned()
                .collect()
        };
        SetDelta {
            added: keep(&self.added, &done.added),
            removed: keep(&self.removed, &done.removed),
        }
    }

    /// The part of this delta `set` does not already reflect.
    pub fn pending_on(&self, set: &BTreeSet<String>) -> SetDelta {
        let has = |name: &str| set.iter().any(|n| n.eq_ignore_ascii_case(name));
        SetDelta {
            added: self.added.iter().filter(|a| !has(a)).cloned().collect(),
            removed: self.removed.iter().filter(|r| has(r)).cloned().collect(),
        }
    }
}

/// A comment on either side. Comments are append-only; `mirror_of` marks one
/// that roundtrip wrote as a copy, so it is never mirrored back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    /// The remote's id of this comment.
    pub remote_id: String,
    /// Display name of the author, when known.
    pub author: Option<String>,
    /// The comment text (markdown on Linear, as the portal keeps it there).
    pub body: String,
    /// When the remote says it was created.
    pub created_at: Option<DateTime<Utc>>,
}

/// The canonical form of a portal post or a Linear issue: the fields roundtrip
/// maps, compares and writes, whatever the vendor calls them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Record {
    /// The remote id (Canny post id, Fider post number, Linear issue UUID).
    pub remote_id: String,
    /// A human-friendly key when the remote has one (Linear `ENG-42`).
    pub identifier: Option<String>,
    /// Title of the post or issue.
    pub title: String,
    /// Body text: Canny `details`, Fider and Linear `description`.
    pub description: String,
    /// Portal status ("planned") or Linear workflow state name ("Todo").
    pub status: String,
    /// Linear workflow state type ("unstarted"); `None` on the portal side.
    pub status_type: Option<String>,
    /// Portal tags or Linear labels, by name.
    pub labels: BTreeSet<String>,
    /// The portal's vote count; `None` on Linear.
    pub votes: Option<i64>,
    /// Linear priority (0 none, 1 urgent … 4 low); `None` on the portal.
    pub priority: Option<i64>,
    /// Comments, oldest first.
    pub comments: Vec<Comment>,
    /// The record's public or admin URL.
    pub url: Option<String>,
    /// When the remote says it was created.
    pub created_at: Option<DateTime<Utc>>,
    /// The remote's last-update time; the portals have none, so `None` there.
    pub updated_at: Option<DateTime<Utc>>,
    /// Trashed or deleted remotely (Linear's trash, a deleted post).
    /// Archived is not deleted: see `archived`.
    pub deleted: bool,
    /// Archived remotely: Linear archives finished issues by itself after
    /// the team's auto-archive period. The record still exists and syncs.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub archived: bool,
    /// The canonical record this one was marked a duplicate of (Linear) or
    /// merged into, by remote id, when the remote says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<String>,
    /// Records merged into this one, by remote id (Canny `mergeHistory`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_ids: Vec<String>,
    /// Records on the other side the vendor's own integration already links
    /// to this one (Canny `linear.linkedIssueIDs`: issue ids or keys).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub linked_ids: Vec<String>,
    /// The portal board the post is on, by name (`None` on a portal
    /// without boards, and on Linear). Routes match on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub board: Option<String>,
    /// The post's category — its product area — by name, when the portal
    /// has categories. Routes match on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The portal holds the post for approval (a moderating board): it is
    /// not public yet, and roundtrip never syncs it until it is.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held: bool,
    /// The Linear team the issue is in, by key (`None` on the portal):
    /// where a routed issue is, so a re-route knows whether it must move.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
}

/// The value of one mapped field, in a form the three-way merge can compare.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum FieldValue {
    /// No value (unset priority, missing field).
    Null,
    /// Free text: title, description, status name.
    Text(String),
    /// A whole number: votes, priority.
    Number(i64),
    /// An unordered set of names: tags, labels.
    Set(BTreeSet<String>),
}

impl FieldValue {
    /// Short one-line rendering for tables, explanations and the console.
    pub fn display_short(&self, max: usize) -> String {
        let full = match self {
            FieldValue::Null => "∅".to_string(),
            FieldValue::Text(t) => t.replace('\n', "⏎"),
            FieldValue::Number(n) => n.to_string(),
            FieldValue::Set(s) => {
                let items: Vec<&str> = s.iter().map(String::as_str).collect();
                format!("{{{}}}", items.join(", "))
            }
        };
        if full.chars().count() <= max {
            full
        } else {
            let cut: String = full.chars().take(max.saturating_sub(1)).collect();
            format!("{cut}…")
        }
    }
}

impl Record {
    /// Read a field by the vendor's name or the canonical name. The mapping
    /// refers to fields this way ("details" on Canny, "description" on Linear).
    pub fn field(&self, name: &str) -> Option<FieldValue> {
        Some(match name {
            "title" => FieldValue::Text(self.title.clone()),
            "details" | "description" => FieldValue::Text(self.description.clone()),
            "status" | "state" => FieldValue::Text(self.status.clone()),
            "state_type" => self
                .status_type
                .clone()
                .map_or(FieldValue::Null, FieldValue::Text),
            "tags" | "labels" => FieldValue::Set(self.labels.clone()),
            "score" | "votes" => self.votes.map_or(FieldValue::Null, FieldValue::Number),
            "priority" => self.priority.map_or(FieldValue::Null, FieldValue::Number),
            _ => return None,
        })
    }

    /// Write a field by name; returns false when the name or value kind does
    /// not fit, so callers can report a mapping error instead of losing data.
    pub fn set_field(&mut self, name: &str, value: FieldValue) -> bool {
        match (name, value) {
            ("title", FieldValue::Text(t)) => self.title = t,
            ("details" | "description", FieldValue::Text(t)) => self.description = t,
            ("status" | "state", FieldValue::Text(t)) => self.status = t,
            ("tags" | "labels", FieldValue::Set(s)) => self.labels = s,
            ("score" | "votes", FieldValue::Number(n)) => self.votes = Some(n),
            ("score" | "votes", FieldValue::Null) => self.votes = None,
            ("priority", FieldValue::Number(n)) => self.priority = Some(n),
            ("priority", FieldValue::Null) => self.priority = None,
            _ => return false,
        }
        true
    }
}

/// Names of the record fields a mapping may refer to on each side.
/// Canny calls the body `details` and the vote count `score`, Fider
/// `description` and `votes`; either name works with either portal.
pub const PORTAL_FIELDS: &[&str] = &[
    "title",
    "details",
    "description",
    "status",
    "tags",
    "score",
    "votes",
];
/// Names of the record fields a mapping may refer to on the Linear side.
pub const LINEAR_FIELDS: &[&str] = &["title", "description", "state", "labels", "priority"];

/// Lifecycle of an outbound write (DESIGN.md section 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Waiting for its turn (or for `next_run_at`).
    Queued,
    /// Claimed by the engine and in flight.
    Running,
    /// Done.
    Succeeded,
    /// Stopped on a non-transient error; waits for an operator.
    Failed,
    /// Transient errors exhausted the retry budget.
    Dead,
    /// Cancelled by an operator.
    Cancelled,
}

impl JobStatus {
    /// Every status, in the order the console lists them.
    pub const ALL: [JobStatus; 6] = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Dead,
        JobStatus::Cancelled,
    ];

    /// Stable lowercase name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Dead => "dead",
            JobStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobStatus::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownName::new("job status", s))
    }
}

/// How a remote refills its quota, which decides what "reset" means: the
/// engine's budget and the budget replicas share in PostgreSQL both spend
/// by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaRefill {
    /// Everything comes back at the reset time (a fixed window).
    AtReset,
    /// A leaky bucket refilling continuously, "reset" being when it is full
    /// again (Linear, API-NOTES section 3). The refill rate follows from
    /// the headers: what is missing, over the time until reset. Waiting for
    /// the full reset would stall for up to the whole window (an hour on
    /// Linear) when one request's worth arrives within seconds.
    Continuous,
}

impl QuotaRefill {
    /// How each side's quota refills: Linear documents a leaky bucket with
    /// continuous refill; the portal's quota (when it reports one at all)
    /// is taken as a fixed window, the cautious reading.
    pub fn of(side: Side) -> QuotaRefill {
        match side {
            Side::Linear => QuotaRefill::Continuous,
            Side::Portal => QuotaRefill::AtReset,
        }
    }

    /// The name stored for it.
    pub fn as_str(self) -> &'static str {
        match self {
            QuotaRefill::AtReset => "at_reset",
            QuotaRefill::Continuous => "continuous",
        }
    }
}

/// One reading of a connector's rate-limit headers, kept as a time series for
/// the console's gauge and exhaustion forecast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaSample {
    /// Which connector ("linear", "portal").
    pub connector: Side,
    /// Which limit.
    pub kind: QuotaKind,
    /// The limit per window.
    pub limit: i64,
    /// What is left in the current window.
    pub remaining: i64,
    /// When the window resets, if the remote says.
    pub reset_at: Option<DateTime<Utc>>,
    /// When we read it.
    pub sampled_at: DateTime<Utc>,
}

/// A record roundtrip asks a connector to create on its side.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NewRecord {
    /// Client-generated id persisted before the first attempt; Linear takes it
    /// as `IssueCreateInput.id`, the portal keeps it in an admin-only note, so
    /// a retry never creates a second record.
    pub client_id: uuid::Uuid,
    /// Field values by this side's field names (after mapping).
    pub fields: BTreeMap<String, FieldValue>,
    /// URL of the record on the other side, attached/linked for recovery.
    pub source_url: Option<String>,
    /// Title of the record on the other side (for the attachment link).
    pub source_title: Option<String>,
    /// The id the remote gave an earlier attempt of this create before the
    /// attempt failed (a later step did), kept with the job so the retry
    /// finds the record by id: the portal can leave a new post out of its
    /// listings, so a lookup by content alone could miss it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_id: Option<String>,
    /// Where the new record goes on the target side (a route's Linear team,
    /// project and assignee); `None`: the connector's defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
}

/// Where a Linear issue is placed: what a route chooses besides field
/// values. Labels and priority travel as fields; these are the parts that
/// are not fields of the canonical record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Placement {
    /// Team key; `None` is the connector's configured team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Project name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Email of the assignee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
}

impl Placement {
    /// "PLAT / Reliability" for tables, conflicts and the timeline.
    pub fn describe(&self) -> String {
        let team = self.team.as_deref().unwrap_or("(configured team)");
        match &self.project {
            Some(p) => format!("{team} / {p}"),
            None => team.to_string(),
        }
    }
}

/// A cycle or project: what an issue shipped with, and what one changelog
/// entry covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReleaseGroup {
    /// Cycle or project.
    pub kind: GroupKind,
    /// Its Linear id.
    pub id: String,
    /// How people call it ("Cycle 12", "Reliability").
    pub name: String,
}

/// Where an issue shipped: what a ship comment's template and the
/// changelog grouping read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipInfo {
    /// "PLAT-12".
    pub identifier: String,
    /// The URL.
    pub url: String,
    /// Its team's key.
    pub team: String,
    /// The cycle it is in, if any.
    pub cycle: Option<ReleaseGroup>,
    /// The project it is in, if any.
    pub project: Option<ReleaseGroup>,
}

/// Whether a cycle or project is complete (its changelog entry may go out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupState {
    /// Still running.
    Open,
    /// Completed: everything shipped in it is known.
    Completed,
    /// Gone (deleted or archived without completing): no entry.
    Gone,
}

/// A changelog entry to publish on the portal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangelogDraft {
    /// Its title; also how a retry recognises an entry an earlier attempt
    /// made (the portal takes no client id).
    pub title: String,
    /// Markdown body.
    pub details: String,
    /// The posts shipped together, by portal id.
    pub post_ids: Vec<String>,
    /// Published at once, or a draft.
    pub publish: bool,
    /// The entry type (`new`, `improved`, `fixed`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// A field update roundtrip asks a connector to apply.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Update {
    /// New values by this side's field names (after mapping).
    pub fields: BTreeMap<String, FieldValue>,
    /// When the status changes, notify the record's voters (Canny
    /// `shouldNotifyVoters`).
    pub notify_voters: bool,
    /// A comment to post together with a status change, if any.
    pub status_comment: Option<String>,
    /// The record on the target side this one turned out to duplicate (its
    /// remote id): a portal that marks duplicates with their original
    /// (Fider, which moves the votes there) does so in place of writing the
    /// status; others write the status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<String>,
    /// Set-valued fields (by this side's name) to change by additions and
    /// removals; unlike a set in `fields`, which replaces the whole set.
    #[serde(default)]
    pub deltas: BTreeMap<String, SetDelta>,
    /// Move the record (a Linear issue to another team or project).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
}

impl Update {
    /// True when the update would change nothing.
    pub fn is_empty(&self) -> bool {
        self.placement.is_none()
            && self.fields.is_empty()
            && self.duplicate_of.is_none()
            && self.deltas.values().all(SetDelta::is_empty)
            && self
                .status_comment
                .as_deref()
                .is_none_or(|c| c.trim().is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in ErrorClass::ALL {
            assert_eq!(c.as_str().parse::<ErrorClass>(), Ok(c));
        }
        for s in JobStatus::ALL {
            assert_eq!(s.as_str().parse::<JobStatus>(), Ok(s));
        }
        assert!("bogus".parse::<ErrorClass>().is_err());
    }

    #[test]
    fn record_fields_by_vendor_name() {
        let mut r = Record {
            title: "A".into(),
            ..Record::default()
        };
        assert_eq!(r.field("title"), Some(FieldValue::Text("A".into())));
        assert!(r.set_field("details", FieldValue::Text("body".into())));
        assert_eq!(
            r.field("description"),
            Some(FieldValue::Text("body".into()))
        );
        assert!(!r.set_field("title", FieldValue::Number(3)));
        assert_eq!(r.field("nope"), None);
    }

    #[test]
    fn short_display_truncates() {
        let v = FieldValue::Text("abcdefghij".into());
        assert_eq!(v.display_short(5), "abcd…");
        assert_eq!(v.display_short(20), "abcdefghij");
    }
}
