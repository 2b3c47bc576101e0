//! "Converged", precisely: every active link's two records, read fresh
//! through the connectors, agree on every mapped field (title, description,
//! status through the status table, tags ↔ labels, votes → priority) once
//! both are put in canonical form by the mapping, and carry the same number
//! of comments — except fields with an open conflict, which wait for the
//! operator on purpose. No link may be stuck half-created.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::domain::{JobStatus, Record};
use crate::engine::Connectors;
use crate::store::{ConflictFilter, ConflictStatus, LinkState, Window, Writer};
use crate::sync::{Direction, Mapping, codec};

use super::DemoError;

/// One difference between the two sides of a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// Link id.
    pub link: i64,
    /// The link's title.
    pub title: String,
    /// Mapping field (or "comments", "link").
    pub field: String,
    /// What the portal has.
    pub portal: String,
    /// What Linear has.
    pub linear: String,
}

/// The outcome of comparing every link.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Convergence {
    /// Active links compared.
    pub compared: usize,
    /// Links that differ only in fields with an open conflict.
    pub held_by_conflicts: usize,
    /// Links no longer synced (deleted on one side).
    pub unlinked: usize,
    /// Every difference not excused by an open conflict.
    pub differences: Vec<Difference>,
}

impl Convergence {
    /// Both sides agree except for the conflicts left to the operator.
    pub fn converged(&self) -> bool {
        self.differences.is_empty()
    }
}

/// Wait (at most `bound`) until nothing is queued, running or unprocessed,
/// so the comparison sees the settled state. Returns whether it settled.
pub async fn settle(writer: &Writer, bound: Duration) -> bool {
    let deadline = Instant::now() + bound;
    let mut quiet_rounds = 0;
    loop {
        let idle = writer
            .run(|db| db.summary())
            .await
            .map(|s| {
                s.jobs_in(JobStatus::Queued) + s.jobs_in(JobStatus::Running) == 0
                    && s.oldest_pending_ms.is_none()
            })
            .unwrap_or(false);
        quiet_rounds = if idle { quiet_rounds + 1 } else { 0 };
        // Idle twice in a row, half a second apart: echoes have landed too.
        if quiet_rounds >= 2 {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn show(v: &crate::domain::FieldValue) -> String {
    v.display_short(60)
}

/// Compare one linked pair field by field.
fn compare(
    mapping: &Mapping,
    link: i64,
    title: &str,
    portal: &Record,
    linear: &Record,
    excused: &BTreeSet<String>,
) -> (Vec<Difference>, bool) {
    let mut out = Vec::new();
    let mut held = false;
    let diff = |field: &str, p: String, l: String| Difference {
        link,
        title: title.to_string(),
        field: field.to_string(),
        portal: p,
        linear: l,
    };
    for f in &mapping.fields {
        if f.direction == Direction::None {
            continue;
        }
        let p = codec::read(mapping, f, crate::domain::Side::Portal, portal);
        let l = codec::read(mapping, f, crate::domain::Side::Linear, linear);
        let differs = match (&p, &l) {
            (Ok(a), Ok(b)) => a != b,
            _ => true,
        };
        if !differs {
            continue;
        }
        if excused.contains(&f.name) {
            held = true;
            continue;
        }
        let render = |r: &Result<crate::domain::FieldValue, String>| match r {
            Ok(v) => show(v),
            Err(e) => format!("({e})"),
        };
        out.push(diff(&f.name, render(&p), render(&l)));
    }
    if portal.comments.len() != linear.comments.len() {
        out.push(diff(
            "comments",
            format!("{} comments", portal.comments.len()),
            format!("{} comments", linear.comments.len()),
        ));
    }
    (out, held)
}

/// Compare every link of the store through the connectors.
pub async fn check(writer: &Writer, connectors: &Connectors) -> Result<Convergence, DemoError> {
    let (links, open, active) = writer
        .run(|db| {
            let links = db.links(Window::first(100_000))?;
            let open = db.conflicts(
                &ConflictFilter {
                    status: Some(ConflictStatus::Open),
                    field: None,
                },
                Window::first(100_000),
            )?;
            Ok((links, open, (db.active_mapping()?, db.portal_kind()?)))
        })
        .await?;
    let (active, kind) = active;
    let mapping = active
        .and_then(|m| Mapping::parse(&m.document).ok())
        .unwrap_or_else(|| Mapping::default_for(kind));
    let mut report = Convergence::default();
    for link in links {
        match link.state {
            LinkState::Unlinked => {
                report.unlinked += 1;
                continue;
            }
            LinkState::Pending => {
                report.differences.push(Difference {
                    link: link.id,
                    title: link.title.clone(),
                    field: "link".into(),
                    portal: link.portal_id.clone().unwrap_or_else(|| "-".into()),
                    linear: "create never completed".into(),
                });
                continue;
            }
            LinkState::Active => {}
        }
        let (Some(pid), Some(lid)) = (&link.portal_id, &link.linear_id) else {
            continue;
        };
        report.compared += 1;
        let portal = connectors.portal.get(pid).await?;
        let linear = connectors.linear.get(lid).await?;
        let (Some(portal), Some(linear)) = (portal, linear) else {
            report.differences.push(Difference {
                link: link.id,
                title: link.title.clone(),
                field: "link".into(),
                portal: pid.clone(),
                linear: "one side is gone but the link is still active".into(),
            });
            continue;
        };
        let excused: BTreeSet<String> = open
            .iter()
            .filter(|c| c.link_id == link.id)
            .map(|c| c.field.clone())
            .collect();
        let (diffs, held) = compare(&mapping, link.id, &link.title, &portal, &linear, &excused);
        if held && diffs.is_empty() {
            report.held_by_conflicts += 1;
        }
        report.differences.extend(diffs);
    }
    Ok(report)
}
