//! The configured team's workflow states and labels, cached so writes can turn
//! a state name ("Todo") or type ("unstarted") and label names into the ids
//! Linear's inputs take, and so listings can read cheap `labelIds` and still
//! report labels by name.

use serde::Deserialize;

/// A team as Linear lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LinearTeam {
    /// Team UUID.
    pub id: String,
    /// Short key used in identifiers ("ENG").
    pub key: String,
    /// Display name.
    pub name: String,
}

/// One workflow state of the team.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WorkflowState {
    /// State UUID (`IssueUpdateInput.stateId`).
    pub id: String,
    /// Display name ("In Progress").
    pub name: String,
    /// Linear's category: triage, backlog, unstarted, started, completed,
    /// canceled (and duplicate).
    #[serde(rename = "type")]
    pub kind: String,
    /// Order in the team's board; the first state of a type is its default.
    #[serde(default)]
    pub position: f64,
}

/// One label usable on the team's issues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Label UUID (`labelIds`).
    pub id: String,
    /// Display name, compared case-insensitively.
    pub name: String,
    /// Owning team; `None` for a workspace label.
    pub team_id: Option<String>,
    /// Group labels only organise others and cannot be put on an issue.
    pub is_group: bool,
}

/// Everything about the configured team that writes and listings resolve.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamCatalog {
    /// The team itself.
    pub team: LinearTeam,
    /// Its workflow states, by position.
    pub states: Vec<WorkflowState>,
    /// Its own labels and the workspace's.
    pub labels: Vec<Label>,
}

impl TeamCatalog {
    /// Build a catalog, sorting states by board position.
    pub fn new(team: LinearTeam, mut states: Vec<WorkflowState>, labels: Vec<Label>) -> Self {
        states.sort_by(|a, b| a.position.total_cmp(&b.position));
        TeamCatalog {
            team,
            states,
            labels,
        }
    }

    /// Resolve a mapping's state value: an exact state name first
    /// (case-insensitive), else the first state (by position) of that type,
    /// so a mapping may say "unstarted" as DESIGN.md section 6 allows.
    pub fn state(&self, name_or_type: &str) -> Option<&WorkflowState> {
        let wanted = name_or_type.trim();
        self.states
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(wanted))
            .or_else(|| {
                self.states
                    .iter()
                    .find(|s| s.kind.eq_ignore_ascii_case(wanted))
            })
    }

    /// The id of the label with this name; the team's own label wins over a
    /// workspace label of the same name. Group labels are skipped.
    pub fn label_id(&self, name: &str) -> Option<&str> {
        let wanted = name.trim();
        let matching = || {
            self.labels
                .iter()
                .filter(move |l| !l.is_group && l.name.eq_ignore_ascii_case(wanted))
        };
        matching()
            .find(|l| l.team_id.as_deref() == Some(self.team.id.as_str()))
            .or_else(|| matching().next())
            .map(|l| l.id.as_str())
    }

    /// The name of a label id, if the catalog knows it.
    pub fn label_name(&self, id: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|l| l.id == id)
            .map(|l| l.name.as_str())
    }

    /// Names among `names` that have no label yet.
    pub fn missing_labels<'a>(&self, names: impl IntoIterator<Item = &'a String>) -> Vec<String> {
        names
            .into_iter()
            .filter(|n| self.label_id(n).is_none())
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> TeamCatalog {
        let state = |id: &str, name: &str, kind: &str, position: f64| WorkflowState {
            id: id.into(),
            name: name.into(),
            kind: kind.into(),
            position,
        };
        let label = |id: &str, name: &str, team: Option<&str>, is_group| Label {
            id: id.into(),
            name: name.into(),
            team_id: team.map(str::to_string),
            is_group,
        };
        TeamCatalog::new(
            LinearTeam {
                id: "t1".into(),
                key: "ENG".into(),
                name: "Engineering".into(),
            },
            vec![
                state("s3", "In Progress", "started", 3.0),
                state("s2", "Todo", "unstarted", 2.0),
                state("s1", "Backlog", "backlog", 1.0),
                state("s4", "Next", "unstarted", 2.5),
            ],
            vec![
                label("l1", "Bug", None, false),
                label("l2", "bug", Some("t1"), false),
                label("l3", "Area", Some("t1"), true),
            ],
        )
    }

    #[test]
    fn state_by_name_then_type() {
        let c = catalog();
        assert_eq!(c.state("in progress").unwrap().id, "s3");
        assert_eq!(c.state("unstarted").unwrap().id, "s2");
        assert!(c.state("nope").is_none());
    }

    #[test]
    fn team_label_wins_and_groups_are_skipped() {
        let c = catalog();
        assert_eq!(c.label_id("BUG"), Some("l2"));
        assert_eq!(c.label_id("Area"), None);
        assert_eq!(c.label_name("l1"), Some("Bug"));
        let names = ["Bug".to_string(), "Feature".to_string()];
        assert_eq!(c.missing_labels(&names), vec!["Feature".to_string()]);
    }
}
