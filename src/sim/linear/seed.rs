//! The default starting state (DESIGN.md section 9).
//!
//! Ids are fixed, well-formed UUIDs so scripts, tests and the demo can rely
//! on them across runs: team `ENG` with Linear's default workflow states, a
//! few labels and users, the workspace's project statuses, no issues,
//! projects or cycles.

use chrono::Utc;

use super::model::*;
use super::store::Store;

/// A fixed, valid UUID v4-shaped id for seed record number `n`.
pub fn seed_id(n: u64) -> String {
    format!("5eed0000-0000-4000-8000-{n:012x}")
}

/// The organization id sent in every webhook.
pub const ORG_ID: &str = "5eed0000-0000-4000-8000-000000000001";
/// The viewer (owner of the default API key).
pub const VIEWER_ID: &str = "5eed0000-0000-4000-8000-000000000010";
/// The `ENG` team.
pub const TEAM_ID: &str = "5eed0000-0000-4000-8000-000000000100";

/// Linear's default workflow: (name, type, colour).
const STATES: [(&str, &str, &str); 8] = [
    ("Triage", "triage", "#FC7840"),
    ("Backlog", "backlog", "#bec2c8"),
    ("Todo", "unstarted", "#e2e2e2"),
    ("In Progress", "started", "#f2c94c"),
    ("In Review", "started", "#0f783c"),
    ("Done", "completed", "#5e6ad2"),
    ("Canceled", "canceled", "#95a2b3"),
    ("Duplicate", "canceled", "#95a2b3"),
];

const LABELS: [(&str, &str); 3] = [
    ("Bug", "#eb5757"),
    ("Feature", "#bb87fc"),
    ("Improvement", "#4ea7fc"),
];

/// Linear's default workflow states, for a team created later (the
/// simulator's `create_team`): (name, type, colour).
pub const DEFAULT_STATES: [(&str, &str, &str); 8] = STATES;

/// The default store: one team, its states, three labels, three users.
pub fn default_store() -> Store {
    let t0 = Utc::now() - chrono::Duration::days(30);
    let org = Organization {
        id: ORG_ID.into(),
        name: "Simulated Workspace".into(),
        url_key: "sim".into(),
    };
    let viewer = User {
        id: VIEWER_ID.into(),
        name: "Sim Viewer".into(),
        display_name: "viewer".into(),
        email: "viewer@example.com".into(),
        admin: true,
        created_at: t0,
    };
    let mut s = Store::new(org, viewer);
    for (n, (name, handle)) in [
        (11u64, ("Ada Lovelace", "ada")),
        (12, ("Grace Hopper", "grace")),
    ] {
        s.users.push(User {
            id: seed_id(n),
            name: name.into(),
            display_name: handle.into(),
            email: format!("{handle}@example.com"),
            admin: false,
            created_at: t0,
        });
    }
    s.teams.push(Team {
        id: TEAM_ID.into(),
        key: "ENG".into(),
        name: "Engineering".into(),
        created_at: t0,
        updated_at: t0,
        member_ids: s.users.iter().map(|u| u.id.clone()).collect(),
        next_number: 1,
        auto_archive_after: chrono::Duration::days(6 * 30),
    });
    for (i, (name, kind, color)) in STATES.iter().enumerate() {
        s.states.push(WorkflowState {
            id: seed_id(0x200 + i as u64),
            team_id: TEAM_ID.into(),
            name: (*name).into(),
            kind: (*kind).into(),
            position: i as f64,
            color: (*color).into(),
            created_at: t0,
        });
    }
    for (i, (name, kind, color)) in super::planning::DEFAULT_PROJECT_STATUSES.iter().enumerate() {
        s.project_statuses.push(super::planning::ProjectStatus {
            id: seed_id(0x400 + i as u64),
            name: (*name).into(),
            kind: (*kind).into(),
            position: i as f64,
            color: (*color).into(),
            created_at: t0,
        });
    }
    for (i, (name, color)) in LABELS.iter().enumerate() {
        s.labels.push(Label {
            id: seed_id(0x300 + i as u64),
            team_id: Some(TEAM_ID.into()),
            name: (*name).into(),
            color: (*color).into(),
            created_at: t0,
            updated_at: t0,
        });
    }
    s
}
