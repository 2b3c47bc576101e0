//! The records the simulator keeps, shaped after Linear's entities.
//!
//! Only the fields roundtrip reads or writes are stored; everything else the
//! schema offers is answered with type-correct defaults by the executor. The
//! records are public so tests and the demo can inspect snapshots.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

/// A point in time as Linear reports it (millisecond precision, UTC).
pub type Time = DateTime<Utc>;

/// Render a time the way Linear does: `2026-11-20T10:00:00.000Z`.
pub fn fmt_time(t: &Time) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The workspace every record belongs to.
#[derive(Debug, Clone)]
pub struct Organization {
    /// Fixed id, also sent as `organizationId` in webhooks.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Slug used in issue URLs (`https://linear.app/<url_key>/issue/ENG-1`).
    pub url_key: String,
}

/// A workspace member.
#[derive(Debug, Clone)]
pub struct User {
    /// UUID.
    pub id: String,
    /// Full name.
    pub name: String,
    /// Short handle.
    pub display_name: String,
    /// Email address.
    pub email: String,
    /// Workspace admin.
    pub admin: bool,
    /// When the account was created.
    pub created_at: Time,
}

/// A team: owns workflow states, labels and the issue number sequence.
#[derive(Debug, Clone)]
pub struct Team {
    /// UUID.
    pub id: String,
    /// Identifier prefix such as `ENG`.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Creation time.
    pub created_at: Time,
    /// Last change.
    pub updated_at: Time,
    /// Members (user ids): who issues of the team can be assigned to.
    pub member_ids: Vec<String>,
    /// Number the next issue gets (`ENG-<n>`).
    pub next_number: u32,
    /// How long a completed or canceled issue stays before Linear archives
    /// it by itself (`Team.autoArchivePeriod`, months in the API; zero
    /// disables it). Tests shorten it to seconds.
    pub auto_archive_after: chrono::Duration,
}

/// A workflow state of one team.
#[derive(Debug, Clone)]
pub struct WorkflowState {
    /// UUID.
    pub id: String,
    /// Owning team.
    pub team_id: String,
    /// Name such as "In Progress".
    pub name: String,
    /// Linear's category: triage, backlog, unstarted, started, completed, canceled.
    pub kind: String,
    /// Ordering within the team's board.
    pub position: f64,
    /// Hex colour.
    pub color: String,
    /// Creation time.
    pub created_at: Time,
}

/// An issue label (team-scoped or workspace-wide).
#[derive(Debug, Clone)]
pub struct Label {
    /// UUID.
    pub id: String,
    /// Owning team; `None` for a workspace label.
    pub team_id: Option<String>,
    /// Name.
    pub name: String,
    /// Hex colour.
    pub color: String,
    /// Creation time.
    pub created_at: Time,
    /// Last change.
    pub updated_at: Time,
}

/// An issue.
#[derive(Debug, Clone)]
pub struct Issue {
    /// UUID (client-provided on create, or generated).
    pub id: String,
    /// Owning team.
    pub team_id: String,
    /// Number within the team.
    pub number: u32,
    /// `KEY-number`, e.g. `ENG-42`.
    pub identifier: String,
    /// Title.
    pub title: String,
    /// Markdown description.
    pub description: Option<String>,
    /// 0 none, 1 urgent, 2 high, 3 medium, 4 low.
    pub priority: i64,
    /// Current workflow state.
    pub state_id: String,
    /// Applied labels.
    pub label_ids: Vec<String>,
    /// Assignee, if any.
    pub assignee_id: Option<String>,
    /// Creator.
    pub creator_id: Option<String>,
    /// Creation time.
    pub created_at: Time,
    /// Bumped on every change.
    pub updated_at: Time,
    /// Set when archived or trashed.
    pub archived_at: Option<Time>,
    /// Set when the team's auto-archive archived it.
    pub auto_archived_at: Option<Time>,
    /// True when deleted into the trash.
    pub trashed: bool,
    /// When it entered a completed state (cleared on leaving it).
    pub completed_at: Option<Time>,
    /// When it entered a canceled state (cleared on leaving it).
    pub canceled_at: Option<Time>,
    /// The project it belongs to, if any.
    pub project_id: Option<String>,
    /// The cycle it is in, if any.
    pub cycle_id: Option<String>,
    /// Identifiers it had in teams it was moved out of; they still find
    /// it ("old issue IDs … bring up the current issue").
    pub previous_identifiers: Vec<String>,
}

/// A relation between two issues (`IssueRelation`): marking an issue a
/// duplicate is a `duplicate` relation from it to the canonical issue.
#[derive(Debug, Clone)]
pub struct Relation {
    /// UUID.
    pub id: String,
    /// The issue the relation belongs to (the duplicate).
    pub issue_id: String,
    /// The other issue (the canonical one).
    pub related_issue_id: String,
    /// `duplicate`, `blocks`, `related` or `similar`.
    pub kind: String,
    /// Creation time.
    pub created_at: Time,
}

/// A comment on an issue.
#[derive(Debug, Clone)]
pub struct Comment {
    /// UUID.
    pub id: String,
    /// Issue commented on.
    pub issue_id: String,
    /// Author.
    pub user_id: Option<String>,
    /// Markdown body.
    pub body: String,
    /// Creation time.
    pub created_at: Time,
    /// Last change.
    pub updated_at: Time,
}

/// A link attached to an issue; the URL is unique per issue.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// UUID.
    pub id: String,
    /// Issue it is attached to.
    pub issue_id: String,
    /// Linked URL.
    pub url: String,
    /// Title shown in Linear.
    pub title: String,
    /// Optional subtitle.
    pub subtitle: Option<String>,
    /// Creator.
    pub creator_id: Option<String>,
    /// Creation time.
    pub created_at: Time,
    /// Last change.
    pub updated_at: Time,
}

/// Priority label as Linear names it.
pub fn priority_label(p: i64) -> &'static str {
    match p {
        1 => "Urgent",
        2 => "High",
        3 => "Medium",
        4 => "Low",
        _ => "No priority",
    }
}

impl Issue {
    /// The issue's web URL under the organization's slug.
    pub fn url(&self, org: &Organization) -> String {
        format!(
            "https://linear.app/{}/issue/{}",
            org.url_key,
            self.identifier.to_lowercase()
        )
    }
}

/// Webhook `data` for a comment.
pub fn comment_json(c: &Comment, org: &Organization, issue: Option<&Issue>) -> Value {
    let url = issue
        .map(|i| format!("{}#comment-{}", i.url(org), &c.id[..8.min(c.id.len())]))
        .unwrap_or_default();
    json!({
        "id": c.id,
        "createdAt": fmt_time(&c.created_at),
        "updatedAt": fmt_time(&c.updated_at),
        "body": c.body,
        "issueId": c.issue_id,
        "userId": c.user_id,
        "url": url,
        "issue": issue.map(|i| json!({"id": i.id, "title": i.title, "identifier": i.identifier, "url": i.url(org)})),
    })
}

/// Webhook `data` for a label.
pub fn label_json(l: &Label) -> Value {
    json!({
        "id": l.id,
        "createdAt": fmt_time(&l.created_at),
        "updatedAt": fmt_time(&l.updated_at),
        "name": l.name,
        "color": l.color,
        "teamId": l.team_id,
    })
}

/// One entry of an issue's history: what one change did and who made it
/// (Linear's `IssueHistory`, read through `Issue.history`). Linear keeps it
/// for every change to an issue, including those made through the API, so a
/// client whose answer was lost can find out afterwards whether its write
/// landed (docs/vendors/linear.md, "Issue history").
#[derive(Debug, Clone, Default)]
pub struct IssueHistory {
    /// UUID.
    pub id: String,
    /// The issue changed.
    pub issue_id: String,
    /// Who made the change (`None`: an automation such as auto-archive).
    pub actor_id: Option<String>,
    /// When.
    pub created_at: Time,
    /// Title before and after, when it changed.
    pub title: Option<(String, String)>,
    /// Whether the description changed (Linear records no values for it).
    pub updated_description: bool,
    /// Workflow state ids before and after, when it changed.
    pub state: Option<(String, String)>,
    /// Priority before and after, when it changed.
    pub priority: Option<(i64, i64)>,
    /// Labels added by the change.
    pub added_label_ids: Vec<String>,
    /// Labels removed by the change.
    pub removed_label_ids: Vec<String>,
    /// Team before and after, when the issue moved.
    pub team: Option<(String, String)>,
}
