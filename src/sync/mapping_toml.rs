//! The default portal ↔ Linear mappings (Canny's and Fider's) and rendering
//! any mapping back to a commented TOML document. The console's editor and `mapping show` print
//! this text, so it explains itself; `Mapping::parse(m.to_toml())` gives `m`
//! back.

use std::fmt::Write as _;

use crate::domain::PortalKind;

use super::mapping::{Direction, FieldMapping, Mapping, Policy, StatusTable, Transform, VoteRule};

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| ((*a).to_string(), (*b).to_string()))
        .collect()
}

impl Mapping {
    /// The built-in default mapping for a portal product.
    pub fn default_for(kind: PortalKind) -> Mapping {
        match kind {
            PortalKind::Canny => Mapping::default_canny_linear(),
            PortalKind::Fider => Mapping::default_fider_linear(),
        }
    }

    /// The mapping roundtrip uses with Fider until an operator applies
    /// another one: like Canny's (title and description both ways with a
    /// human deciding conflicts, status owned by Linear, tags ↔ labels as a
    /// merged set, votes → priority), with Fider's own field and status
    /// names. Fider's `duplicate` pairs with Linear's Duplicate state; a
    /// post is marked a duplicate only together with its original, which
    /// the engine knows when Linear marks the issue a duplicate of another
    /// post's issue (an issue merely moved to Duplicate is refused with the
    /// reason). Cancellations read as `declined`. Fider always tells a
    /// post's subscribers about status changes, so no status lists voters
    /// to notify.
    pub fn default_fider_linear() -> Mapping {
        let status = StatusTable {
            values: pairs(&[
                ("open", "Triage"),
                ("planned", "Todo"),
                ("started", "In Progress"),
                ("completed", "Done"),
                ("declined", "Canceled"),
                ("duplicate", "Duplicate"),
            ]),
            from_linear: pairs(&[
                ("triage", "open"),
                ("backlog", "open"),
                ("unstarted", "planned"),
                ("started", "started"),
                ("completed", "completed"),
                ("canceled", "declined"),
                ("duplicate", "declined"),
            ]),
            notify_voters: Vec::new(),
        };
        Mapping::standard(status, "description", "votes")
    }

    /// The mapping roundtrip uses until an operator applies another one
    /// (DESIGN.md §6 "Default mapping"): title and description both ways with
    /// a human deciding conflicts, status owned by Linear through a status
    /// table, tags ↔ labels as a merged set, votes → priority one way.
    pub fn default_canny_linear() -> Mapping {
        let status = StatusTable {
            values: pairs(&[
                ("open", "Triage"),
                ("under review", "Backlog"),
                ("planned", "Todo"),
                ("in progress", "In Progress"),
                ("complete", "Done"),
                ("closed", "Canceled"),
            ]),
            from_linear: pairs(&[
                ("triage", "open"),
                ("backlog", "under review"),
                ("unstarted", "planned"),
                ("started", "in progress"),
                ("completed", "complete"),
                ("canceled", "closed"),
                ("duplicate", "closed"),
            ]),
            notify_voters: vec!["complete".to_string()],
        };
        Mapping::standard(status, "details", "score")
    }

    /// The default mappings' common shape, with the portal's status table
    /// and its names for the body text and the vote count.
    fn standard(status: StatusTable, body: &str, votes: &str) -> Mapping {
        let field = |name: &str, portal: &str, linear: &str, direction, on_conflict, transform| {
            FieldMapping {
                name: name.into(),
                portal: portal.into(),
                linear: linear.into(),
                direction,
                on_conflict,
                transform,
            }
        };
        Mapping::new(
            1,
            vec![
                field(
                    "title",
                    "title",
                    "title",
                    Direction::Both,
                    Policy::Ask,
                    Transform::Text,
                ),
                field(
                    "description",
                    body,
                    "description",
                    Direction::Both,
                    Policy::Ask,
                    Transform::Text,
                ),
                field(
                    "status",
                    "status",
                    "state",
                    Direction::Both,
                    Policy::LinearWins,
                    Transform::Status(status),
                ),
                field(
                    "labels",
                    "tags",
                    "labels",
                    Direction::Both,
                    Policy::Merge,
                    Transform::Labels { names: Vec::new() },
                ),
                field(
                    "votes",
                    votes,
                    "priority",
                    Direction::PortalToLinear,
                    Policy::LinearWins,
                    Transform::VotesToPriority {
                        rule: vec![
                            VoteRule {
                                at_least: 50,
                                value: 2,
                            },
                            VoteRule {
                                at_least: 10,
                                value: 3,
                            },
                        ],
                    },
                ),
            ],
        )
    }

    /// Render as a commented TOML document that parses back to this mapping.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# roundtrip field mapping: which fields sync between the portal and Linear,\n\
             # which way changes flow, and who wins when both sides change a field.\n\
             #\n\
             #   direction   = both | portal-to-linear | linear-to-portal | none\n\
             #   on_conflict = ask | linear-wins | portal-wins | newest | merge\n\
             #\n\
             # The store sets `version` to the number it stores the document as.\n",
        );
        let _ = writeln!(out, "version = {}", self.version);
        for f in &self.fields {
            out.push('\n');
            render_field(&mut out, f);
        }
        super::routing_toml::render_routes(&mut out, &self.routes);
        out
    }
}

fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn comment_for(f: &FieldMapping) -> String {
    let flow = match f.direction {
        Direction::Both => "synced both ways".to_string(),
        Direction::PortalToLinear => "copied from the portal to Linear only".to_string(),
        Direction::LinearToPortal => "copied from Linear to the portal only".to_string(),
        Direction::None => "not synced".to_string(),
    };
    let policy = match (f.direction, f.on_conflict) {
        (Direction::PortalToLinear, Policy::LinearWins)
        | (Direction::LinearToPortal, Policy::PortalWins) => {
            "a value changed by hand on the receiving side is kept"
        }
        (Direction::PortalToLinear, Policy::PortalWins)
        | (Direction::LinearToPortal, Policy::LinearWins) => {
            "it overwrites values changed by hand on the receiving side"
        }
        (_, Policy::Ask) => "an operator decides when both sides change it",
        (_, Policy::LinearWins) => "Linear's value wins when both sides change it",
        (_, Policy::PortalWins) => "the portal's value wins when both sides change it",
        (_, Policy::Newest) => "the most recent change wins when both sides change it",
        (_, Policy::Merge) => match f.transform {
            Transform::Labels { .. } => "additions and removals from both sides are merged",
            _ => "edits to different lines are merged; overlapping edits go to an operator",
        },
    };
    format!("# {}: {flow}; {policy}.", f.name)
}

fn render_field(out: &mut String, f: &FieldMapping) {
    let _ = writeln!(out, "{}", comment_for(f));
    let key = if f
        .name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        f.name.clone()
    } else {
        q(&f.name)
    };
    let _ = writeln!(out, "[fields.{key}]");
    let _ = writeln!(out, "portal = {}", q(&f.portal));
    let _ = writeln!(out, "linear = {}", q(&f.linear));
    let _ = writeln!(out, "direction = {}", q(f.direction.as_str()));
    let _ = writeln!(out, "on_conflict = {}", q(f.on_conflict.as_str()));
    match &f.transform {
        Transform::Text => {}
        Transform::Status(t) => {
            if !t.notify_voters.is_empty() {
                let list: Vec<String> = t.notify_voters.iter().map(|s| q(s)).collect();
                let _ = writeln!(
                    out,
                    "notify_voters = [{}]   # portal statuses that notify the post's voters",
                    list.join(", ")
                );
            }
            if !t.values.is_empty() {
                let _ = writeln!(
                    out,
                    "[fields.{key}.values]   # portal status -> Linear state (name or type)"
                );
                for (p, l) in &t.values {
                    let _ = writeln!(out, "{} = {}", q(p), q(l));
                }
            }
            if !t.from_linear.is_empty() {
                let _ = writeln!(
                    out,
                    "[fields.{key}.from_linear]   # Linear state type -> portal status, for states not listed above"
                );
                for (l, p) in &t.from_linear {
                    let _ = writeln!(out, "{} = {}", q(l), q(p));
                }
            }
        }
        Transform::Labels { names } => {
            if !names.is_empty() {
                let _ = writeln!(
                    out,
                    "[fields.{key}.names]   # portal tag -> Linear label; others keep their name"
                );
                for (p, l) in names {
                    let _ = writeln!(out, "{} = {}", q(p), q(l));
                }
            }
        }
        Transform::VotesToPriority { rule } => {
            let items: Vec<String> = rule
                .iter()
                .map(|r| format!("{{ at_least = {}, value = {} }}", r.at_least, r.value))
                .collect();
            let _ = writeln!(
                out,
                "# Linear priority by vote count: 1 urgent, 2 high, 3 medium, 4 low; below every threshold: none."
            );
            let _ = writeln!(out, "rule = [ {} ]", items.join(", "));
        }
        Transform::VotesLine { prefix } => {
            let _ = writeln!(
                out,
                "line_prefix = {}   # the vote count is kept as the last line of the Linear description",
                q(prefix)
            );
        }
    }
}
