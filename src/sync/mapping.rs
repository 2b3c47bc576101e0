//! The field-mapping document as typed values: which field on the portal
//! corresponds to which field on Linear, which way changes flow, who wins when
//! both sides change, and how values are translated where the two sides model
//! a field differently (status table, label names, votes rule).
//!
//! Parsing and validation live in `mapping_parse`, rendering back to TOML in
//! `mapping_toml`; this file only holds the shapes every other part of the
//! sync logic reads.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::Side;

/// Which way changes to a field flow. A one-way field never writes to its
/// source side, so a human can own a field on one system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Changes on either side are written to the other.
    Both,
    /// The portal is the source; Linear follows.
    PortalToLinear,
    /// Linear is the source; the portal follows.
    LinearToPortal,
    /// The field is not synced at all (kept in the document to switch it off
    /// without losing its settings).
    None,
}

impl Direction {
    /// Every direction, in the order the documentation lists them.
    pub const ALL: [Direction; 4] = [
        Direction::Both,
        Direction::PortalToLinear,
        Direction::LinearToPortal,
        Direction::None,
    ];

    /// The word used in the TOML document.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Both => "both",
            Direction::PortalToLinear => "portal-to-linear",
            Direction::LinearToPortal => "linear-to-portal",
            Direction::None => "none",
        }
    }

    /// True when roundtrip may write this field on `side`.
    pub fn writes_to(self, side: Side) -> bool {
        match self {
            Direction::Both => true,
            Direction::PortalToLinear => side == Side::Linear,
            Direction::LinearToPortal => side == Side::Portal,
            Direction::None => false,
        }
    }

    /// For a one-way field, the side whose changes are propagated.
    pub fn source(self) -> Option<Side> {
        match self {
            Direction::PortalToLinear => Some(Side::Portal),
            Direction::LinearToPortal => Some(Side::Linear),
            Direction::Both | Direction::None => None,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to do when both sides changed a field to different values since the
/// base. Chosen per field because titles deserve a human, statuses usually
/// belong to engineering, and label sets can simply be merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// Open a conflict for an operator.
    Ask,
    /// Keep Linear's value.
    LinearWins,
    /// Keep the portal's value.
    PortalWins,
    /// Keep the value changed most recently; undecidable times fall back to ask.
    Newest,
    /// Merge: text line by line (overlap falls back to ask), sets by
    /// additions and removals.
    Merge,
}

impl Policy {
    /// Every policy, in the order the documentation lists them.
    pub const ALL: [Policy; 5] = [
        Policy::Ask,
        Policy::LinearWins,
        Policy::PortalWins,
        Policy::Newest,
        Policy::Merge,
    ];

    /// The word used in the TOML document.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Ask => "ask",
            Policy::LinearWins => "linear-wins",
            Policy::PortalWins => "portal-wins",
            Policy::Newest => "newest",
            Policy::Merge => "merge",
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One threshold of the votes → priority rule: at `at_least` votes the
/// Linear priority becomes `value` (1 urgent … 4 low).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoteRule {
    /// Minimum vote count for this priority.
    pub at_least: i64,
    /// Linear priority to set (0 none, 1 urgent, 2 high, 3 medium, 4 low).
    pub value: i64,
}

/// Portal status ↔ Linear workflow state translation. Kept as ordered pairs
/// (not maps) so the document round-trips in the order the operator wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusTable {
    /// Portal status → Linear state name (or state type such as "started").
    pub values: Vec<(String, String)>,
    /// Linear state type (or name) → portal status, for states `values` does
    /// not list.
    pub from_linear: Vec<(String, String)>,
    /// Portal statuses whose arrival notifies the post's voters.
    pub notify_voters: Vec<String>,
}

impl StatusTable {
    /// The Linear state (name or type) a portal status is written as.
    pub fn to_linear(&self, portal_status: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(p, _)| p == portal_status)
            .or_else(|| {
                self.values
                    .iter()
                    .find(|(p, _)| p.eq_ignore_ascii_case(portal_status))
            })
            .map(|(_, l)| l.as_str())
    }

    /// The portal status a Linear state reads as: first a `values` entry
    /// naming the state, then one naming its type, then `from_linear` by type
    /// and finally by name. `None` means the mapping does not cover the state.
    pub fn to_portal(&self, state_name: &str, state_type: Option<&str>) -> Option<&str> {
        let by_value = |needle: &str| {
            self.values
                .iter()
                .find(|(_, l)| l.eq_ignore_ascii_case(needle))
                .map(|(p, _)| p.as_str())
        };
        let by_from = |needle: &str| {
            self.from_linear
                .iter()
                .find(|(l, _)| l.eq_ignore_ascii_case(needle))
                .map(|(_, p)| p.as_str())
        };
        by_value(state_name)
            .or_else(|| state_type.and_then(by_value))
            .or_else(|| state_type.and_then(by_from))
            .or_else(|| by_from(state_name))
    }

    /// True when arriving at this portal status should notify voters.
    pub fn notifies(&self, portal_status: &str) -> bool {
        self.notify_voters
            .iter()
            .any(|s| s.eq_ignore_ascii_case(portal_status))
    }
}

/// How values are translated between the two sides of a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transform {
    /// Text copied as is (title, description).
    Text,
    /// Portal status ↔ Linear workflow state.
    Status(StatusTable),
    /// Tags ↔ labels as sets, with optional renames (portal name → Linear name).
    Labels {
        /// Portal tag → Linear label name; unlisted names pass through.
        names: Vec<(String, String)>,
    },
    /// Votes → Linear priority by thresholds (one way), highest threshold first.
    VotesToPriority {
        /// Thresholds, sorted by `at_least` descending.
        rule: Vec<VoteRule>,
    },
    /// Votes → a line at the end of the Linear description ("Votes: 12").
    VotesLine {
        /// Text before the number, e.g. "Votes: ".
        prefix: String,
    },
}

/// One `[fields.<name>]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMapping {
    /// The mapping's own name for the field; also the key in the base snapshot.
    pub name: String,
    /// Field name on the portal (one of `domain::PORTAL_FIELDS`).
    pub portal: String,
    /// Field name on Linear (one of `domain::LINEAR_FIELDS`).
    pub linear: String,
    /// Which way changes flow.
    pub direction: Direction,
    /// What happens when both sides changed.
    pub on_conflict: Policy,
    /// Value translation between the sides.
    pub transform: Transform,
}

impl FieldMapping {
    /// This field's name on `side`.
    pub fn side_field(&self, side: Side) -> &str {
        match side {
            Side::Portal => &self.portal,
            Side::Linear => &self.linear,
        }
    }
}

/// A whole mapping document: its version and the mapped fields in document
/// order.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// Version number the operator bumps on every change; stored with it.
    pub version: i64,
    /// Mapped fields, in document order.
    pub fields: Vec<FieldMapping>,
    /// Routes (`[[routes]]`), in document order: the first that takes a
    /// post decides its team. Empty: the implicit single route of
    /// `[sync] create_in_linear_when`.
    pub routes: Vec<super::routing::Route>,
    /// 1-based source line of each key path ("fields.status.values.open"),
    /// when parsed from text, so later validation can point at the line.
    pub(crate) lines: BTreeMap<String, usize>,
}

impl PartialEq for Mapping {
    /// Two mappings are equal when they sync the same way; where their text
    /// put each key does not matter.
    fn eq(&self, other: &Self) -> bool {
        self.version == other.version && self.fields == other.fields && self.routes == other.routes
    }
}

impl Eq for Mapping {}

impl Mapping {
    /// Build a mapping from fields (used by the default and by tests).
    pub fn new(version: i64, fields: Vec<FieldMapping>) -> Self {
        Mapping {
            version,
            fields,
            routes: Vec::new(),
            lines: BTreeMap::new(),
        }
    }

    /// This mapping with routes (tests and code-built mappings).
    pub fn with_routes(mut self, routes: Vec<super::routing::Route>) -> Self {
        self.routes = routes;
        self
    }

    /// Look a field up by its mapping name.
    pub fn field(&self, name: &str) -> Option<&FieldMapping> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The status field, if the mapping has one (used for close-on-delete and
    /// create rules).
    pub fn status_field(&self) -> Option<(&FieldMapping, &StatusTable)> {
        self.fields.iter().find_map(|f| match &f.transform {
            Transform::Status(t) => Some((f, t)),
            _ => None,
        })
    }

    /// The prefix of the votes line in the Linear description, when a field
    /// writes one; the description field must hide that line when comparing.
    pub fn votes_line_prefix(&self) -> Option<&str> {
        self.fields.iter().find_map(|f| match &f.transform {
            Transform::VotesLine { prefix } if f.direction != Direction::None => {
                Some(prefix.as_str())
            }
            _ => None,
        })
    }

    /// The source line a key path was found on, when parsed from text.
    pub fn line_of(&self, key_path: &str) -> Option<usize> {
        self.lines.get(key_path).copied()
    }
}
