//! What actually exists on each side: the portal's statuses and the Linear
//! team's workflow states. A mapping can be well-formed yet name a state the
//! team does not have; checking against the catalog catches that before the
//! first write fails.

use serde::{Deserialize, Serialize};

use crate::domain::{PortalKind, Side};

use super::errors::{MappingError, MappingErrors};
use super::mapping::Mapping;

/// One Linear workflow state of the team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinearState {
    /// Display name ("In Progress").
    pub name: String,
    /// Linear's state type: triage, backlog, unstarted, started, completed,
    /// canceled (some workspaces also report duplicate).
    pub state_type: String,
}

/// The statuses and states a mapping is checked against.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Catalog {
    /// Statuses the portal accepts ("open", "planned", …).
    pub portal_statuses: Vec<String>,
    /// The Linear team's workflow states.
    pub linear_states: Vec<LinearState>,
    /// Custom statuses the portal company defined (seen on its posts): a
    /// mapping may name them; it need not (a post in one without a row is a
    /// mapping gap the engine reports).
    #[serde(default)]
    pub custom_portal_statuses: Vec<String>,
    /// What else the portal has that routes may name.
    #[serde(default)]
    pub portal_features: PortalFeatures,
}

/// What a portal offers routes besides statuses and tags. A route on a
/// board or category the portal does not have would never match, and a
/// changelog it does not have would fail each time an issue ships, so the
/// check refuses both before the mapping is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortalFeatures {
    /// How messages name the portal ("Fider").
    pub name: String,
    /// Posts live on named boards.
    pub boards: bool,
    /// Posts carry a category (a product area).
    pub categories: bool,
    /// The portal publishes changelog entries.
    pub changelog: bool,
}

impl Default for PortalFeatures {
    fn default() -> Self {
        PortalFeatures {
            name: "the portal".into(),
            boards: true,
            categories: true,
            changelog: true,
        }
    }
}

impl Catalog {
    /// The portal's built-in statuses and Linear's default team workflow.
    pub fn default_for(kind: PortalKind) -> Catalog {
        match kind {
            PortalKind::Canny => Catalog::canny_linear_default(),
            PortalKind::Fider => Catalog::fider_linear_default(),
        }
    }

    /// Fider's statuses a post can be given (`deleted` is not one: deleted
    /// posts are gone) and Linear's default team workflow.
    pub fn fider_linear_default() -> Catalog {
        Catalog {
            portal_statuses: [
                "open",
                "planned",
                "started",
                "completed",
                "declined",
                "duplicate",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            // A Fider site is one board of posts with tags: no boards, no
            // categories, no changelog (docs/vendors/fider.md).
            portal_features: PortalFeatures {
                name: "Fider".into(),
                boards: false,
                categories: false,
                changelog: false,
            },
            ..Catalog::canny_linear_default()
        }
    }

    /// Canny's fixed statuses and Linear's default team workflow (with
    /// triage enabled): what the simulators and a fresh workspace offer.
    pub fn canny_linear_default() -> Catalog {
        let state = |name: &str, state_type: &str| LinearState {
            name: name.into(),
            state_type: state_type.into(),
        };
        Catalog {
            portal_statuses: [
                "open",
                "under review",
                "planned",
                "in progress",
                "complete",
                "closed",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            linear_states: vec![
                state("Triage", "triage"),
                state("Backlog", "backlog"),
                state("Todo", "unstarted"),
                state("In Progress", "started"),
                state("In Review", "started"),
                state("Done", "completed"),
                state("Canceled", "canceled"),
                state("Duplicate", "canceled"),
            ],
            custom_portal_statuses: Vec::new(),
            portal_features: PortalFeatures {
                name: "Canny".into(),
                ..PortalFeatures::default()
            },
        }
    }

    /// This catalog plus the portal statuses in `seen` that are not
    /// built-in (custom statuses found on the company's posts).
    pub fn with_custom_statuses(mut self, seen: &[String]) -> Catalog {
        for s in seen {
            let known = self
                .portal_statuses
                .iter()
                .chain(&self.custom_portal_statuses)
                .any(|k| k.eq_ignore_ascii_case(s));
            if !known && !s.trim().is_empty() {
                self.custom_portal_statuses.push(s.clone());
            }
        }
        self
    }

    /// The team state a mapping value ("Todo" or "unstarted") designates:
    /// a state with that name, else the first state of that type. This is how
    /// the connector turns a planned `state` write into a state id.
    pub fn resolve_linear_state(&self, value: &str) -> Option<&LinearState> {
        self.linear_states
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(value))
            .or_else(|| {
                self.linear_states
                    .iter()
                    .find(|s| s.state_type.eq_ignore_ascii_case(value))
            })
    }
}

impl Mapping {
    /// Check the mapping against the real statuses and states: every portal
    /// status needs a Linear state (when statuses flow to Linear), every
    /// Linear state needs a portal status (when they flow back), and every
    /// state the table names must exist in the team.
    pub fn validate_against(&self, catalog: &Catalog) -> Result<(), MappingErrors> {
        let mut errors = self.route_statuses_against(catalog);
        errors.extend(self.route_features_against(&catalog.portal_features));
        let Some((field, table)) = self.status_field() else {
            return if errors.is_empty() {
                Ok(())
            } else {
                Err(MappingErrors(errors))
            };
        };
        let path = format!("fields.{}", field.name);
        let header = self.line_of(&path);
        if field.direction.writes_to(Side::Linear) {
            for status in &catalog.portal_statuses {
                if table.to_linear(status).is_none() {
                    errors.push(MappingError::at(
                        header,
                        format!(
                            "{path}.values: portal status '{status}' has no mapping to a Linear state"
                        ),
                    ));
                }
            }
            for (p, l) in &table.values {
                if catalog.resolve_linear_state(l).is_none() {
                    let names: Vec<&str> = catalog
                        .linear_states
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect();
                    errors.push(MappingError::at(
                        self.line_of(&format!("{path}.values.{p}")).or(header),
                        format!(
                            "{path}.values: '{p}' maps to Linear '{l}', which is neither a state name nor a \
                             state type of the team (states: {})",
                            names.join(", ")
                        ),
                    ));
                }
            }
        }
        for (p, _) in &table.values {
            if !catalog
                .portal_statuses
                .iter()
                .chain(&catalog.custom_portal_statuses)
                .any(|s| s.eq_ignore_ascii_case(p))
            {
                let all: Vec<&str> = catalog
                    .portal_statuses
                    .iter()
                    .chain(&catalog.custom_portal_statuses)
                    .map(String::as_str)
                    .collect();
                errors.push(MappingError::at(
                    self.line_of(&format!("{path}.values.{p}")).or(header),
                    format!(
                        "{path}.values: '{p}' is not a portal status (statuses: {})",
                        all.join(", ")
                    ),
                ));
            }
        }
        if field.direction.writes_to(Side::Portal) {
            for state in &catalog.linear_states {
                if table
                    .to_portal(&state.name, Some(&state.state_type))
                    .is_none()
                {
                    errors.push(MappingError::at(
                        header,
                        format!(
                            "{path}: Linear state '{}' ({}) has no portal status; add it to \
                             [{path}.values] or its type to [{path}.from_linear]",
                            state.name, state.state_type
                        ),
                    ));
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            errors.sort_by_key(|e| e.line);
            Err(MappingErrors(errors))
        }
    }

    /// A route may name boards, categories and a changelog only on a
    /// portal that has them; on one without, tags are the product area.
    fn route_features_against(&self, features: &PortalFeatures) -> Vec<MappingError> {
        let portal = &features.name;
        let mut errors = Vec::new();
        for (i, r) in self.routes.iter().enumerate() {
            let at = |key: &str| {
                self.line_of(&format!("routes.{i}.{key}"))
                    .or(self.line_of(&format!("routes.{i}")))
            };
            for (key, has, list) in [
                ("board", features.boards, &r.when.board),
                ("category", features.categories, &r.when.category),
            ] {
                if !has && !list.is_empty() {
                    errors.push(MappingError::at(
                        at(&format!("when.{key}")),
                        format!(
                            "route '{}': when.{key}: {portal} has no {}; match its tags instead (when = {{ tags = [...] }})",
                            r.name,
                            if key == "board" { "boards" } else { "categories" }
                        ),
                    ));
                }
            }
            if !features.changelog && r.close.changelog.is_some() {
                errors.push(MappingError::at(
                    at("close.changelog"),
                    format!(
                        "route '{}': close.changelog: {portal} has no changelog; leave it out (close.comment can still post a ship comment)",
                        r.name
                    ),
                ));
            }
        }
        errors
    }

    /// Every status a route names (in `when` or `approve`) must be one the
    /// portal has: a misspelt status would silently approve nothing.
    fn route_statuses_against(&self, catalog: &Catalog) -> Vec<MappingError> {
        let known = |s: &str| {
            catalog
                .portal_statuses
                .iter()
                .chain(&catalog.custom_portal_statuses)
                .any(|k| k.eq_ignore_ascii_case(s.trim()))
        };
        let all: Vec<&str> = catalog
            .portal_statuses
            .iter()
            .chain(&catalog.custom_portal_statuses)
            .map(String::as_str)
            .collect();
        let mut errors = Vec::new();
        for (i, r) in self.routes.iter().enumerate() {
            for (key, list) in [
                ("when.status", &r.when.status),
                ("approve.status", &r.approve.status),
            ] {
                for s in list.iter().filter(|s| !known(s)) {
                    errors.push(MappingError::at(
                        self.line_of(&format!("routes.{i}.{key}"))
                            .or(self.line_of(&format!("routes.{i}"))),
                        format!(
                            "route '{}': {key} '{s}' is not a portal status (statuses: {})",
                            r.name,
                            all.join(", ")
                        ),
                    ));
                }
            }
        }
        errors
    }
}
