//! Projects and cycles, as small as Linear's schema and help let them be:
//! what an issue belongs to besides its team, and the archive rules that
//! come with them (docs/vendors/linear.md, "Projects and cycles").
//!
//! * A project has a status (Linear's `ProjectStatus`, typed backlog,
//!   planned, started, paused, completed or canceled). Issues in a project
//!   are not auto-archived until the project is completed or canceled, and
//!   then one month after it (whatever the team's period); the project
//!   archives itself once all its issues are archived. `projectArchive`
//!   (deprecated) and `projectDelete` (trash) archive the project with its
//!   issues; `projectUnarchive` brings both back.
//! * A cycle belongs to one team and runs from `startsAt` to `endsAt`. When
//!   it ends it completes and its unfinished issues roll over to the team's
//!   next cycle. Its issues auto-archive the team's period after it
//!   completes, and it archives itself once all of them are. `cycleArchive`
//!   unlinks its issues first (schema: "All issues currently assigned to
//!   the cycle are unlinked from it before archiving").
//!
//! The records live here; the changes to them are in `planning_store.rs`,
//! the GraphQL side in `planning_gql.rs`.

use chrono::Duration as ChronoDuration;

use super::model::Time;

/// A project status of the workspace (`ProjectStatus`).
#[derive(Debug, Clone)]
pub struct ProjectStatus {
    /// UUID.
    pub id: String,
    /// Name such as "In Progress".
    pub name: String,
    /// `ProjectStatusType`: backlog, planned, started, paused, completed, canceled.
    pub kind: String,
    /// Order in the workspace's list.
    pub position: f64,
    /// Hex colour.
    pub color: String,
    /// Creation time.
    pub created_at: Time,
}

/// A project: a set of issues with a status, across one or more teams.
#[derive(Debug, Clone)]
pub struct Project {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description (non-null in the schema; empty when unset).
    pub description: String,
    /// Teams the project belongs to.
    pub team_ids: Vec<String>,
    /// Current status.
    pub status_id: String,
    /// Creation time.
    pub created_at: Time,
    /// Bumped on every change.
    pub updated_at: Time,
    /// When its status became a started one.
    pub started_at: Option<Time>,
    /// When its status became a completed one (cleared on leaving it).
    pub completed_at: Option<Time>,
    /// When its status became a canceled one (cleared on leaving it).
    pub canceled_at: Option<Time>,
    /// Set when archived or trashed.
    pub archived_at: Option<Time>,
    /// Set when it archived itself (all its issues were archived).
    pub auto_archived_at: Option<Time>,
    /// True when deleted into the trash (`projectDelete`).
    pub trashed: bool,
    /// Issues archived together with it, restored with it.
    pub archived_with: Vec<String>,
}

/// A cycle: a team's time box of issues.
#[derive(Debug, Clone)]
pub struct Cycle {
    /// UUID.
    pub id: String,
    /// Owning team.
    pub team_id: String,
    /// Number within the team.
    pub number: u32,
    /// Optional name.
    pub name: Option<String>,
    /// Start.
    pub starts_at: Time,
    /// End; the cycle completes when it passes.
    pub ends_at: Time,
    /// When it completed.
    pub completed_at: Option<Time>,
    /// Set when archived.
    pub archived_at: Option<Time>,
    /// Set when it archived itself (all its issues were archived).
    pub auto_archived_at: Option<Time>,
    /// Creation time.
    pub created_at: Time,
    /// Bumped on every change.
    pub updated_at: Time,
    /// Issues that were not finished when it completed (and rolled over).
    pub uncompleted_upon_close: Vec<String>,
}

/// What `projectUpdate` may change; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct ProjectPatch {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New status.
    pub status_id: Option<String>,
}

/// Linear's project statuses for a new workspace: (name, type, colour).
pub const DEFAULT_PROJECT_STATUSES: [(&str, &str, &str); 6] = [
    ("Backlog", "backlog", "#bec2c8"),
    ("Planned", "planned", "#e2e2e2"),
    ("In Progress", "started", "#f2c94c"),
    ("Paused", "paused", "#95a2b3"),
    ("Completed", "completed", "#5e6ad2"),
    ("Canceled", "canceled", "#95a2b3"),
];

/// How long after a project completes its closed issues are archived:
/// "always … one month, regardless of the team settings".
pub fn default_project_archive_window() -> ChronoDuration {
    ChronoDuration::days(30)
}

impl Project {
    /// The short id in the project's URL.
    pub fn slug_id(&self) -> String {
        self.id
            .chars()
            .filter(char::is_ascii_hexdigit)
            .take(12)
            .collect()
    }

    /// When it was completed or canceled, if it is.
    pub fn closed_at(&self) -> Option<Time> {
        self.completed_at.or(self.canceled_at)
    }
}

impl Cycle {
    /// `isActive`: started, not ended, not completed.
    pub fn is_active(&self, now: &Time) -> bool {
        self.completed_at.is_none() && self.starts_at <= *now && *now < self.ends_at
    }
}
