//! Dry run of a candidate mapping over the links the store holds: what
//! would change, per link and field, without applying anything. Used by
//! `mapping preview` and the console's mapping editor before `apply`.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{FieldValue, Record, Side};

use super::mapping::Mapping;
use super::merge::{MergeInput, plan_link};
use super::plan::{Plan, Snapshot, show};

/// What a preview row says would happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PreviewAction {
    /// The value would be written on this side.
    Write(Side),
    /// A conflict would be opened.
    Conflict,
}

/// One line of the preview: (link, field, from → to, side).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewRow {
    /// The link, as "portal-id ↔ ENG-42".
    pub link: String,
    /// The field: the target side's field name for writes, the mapping field
    /// name for conflicts.
    pub field: String,
    /// What happens.
    pub action: PreviewAction,
    /// The current value (the target's current value for writes; the portal's
    /// value for conflicts).
    pub from: FieldValue,
    /// The new value (Linear's value for conflicts).
    pub to: FieldValue,
}

impl fmt::Display for PreviewRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.action {
            PreviewAction::Write(side) => write!(
                f,
                "{} · {} on {side}: {} → {}",
                self.link,
                self.field,
                show(&self.from),
                show(&self.to)
            ),
            PreviewAction::Conflict => write!(
                f,
                "{} · {}: conflict (portal {} vs Linear {})",
                self.link,
                self.field,
                show(&self.from),
                show(&self.to)
            ),
        }
    }
}

/// The preview of one link: its label, the full plan and its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkPreview {
    /// "portal-id ↔ ENG-42".
    pub link: String,
    /// Everything the merge would do.
    pub plan: Plan,
    /// The plan as rows.
    pub rows: Vec<PreviewRow>,
}

/// How a link is named in previews.
pub fn link_label(portal: &Record, linear: &Record) -> String {
    let l = linear.identifier.as_deref().unwrap_or(&linear.remote_id);
    format!("{} ↔ {l}", portal.remote_id)
}

/// Plan every link under `mapping` without applying anything. Links whose
/// plan changes nothing are left out. Open conflicts, history and comment
/// maps are ignored: the preview is about field values.
pub fn preview(
    mapping: &Mapping,
    links: &[(Snapshot, Record, Record)],
    now: DateTime<Utc>,
) -> Vec<LinkPreview> {
    let mut out = Vec::new();
    for (base, portal, linear) in links {
        let input = MergeInput::new(base, portal, linear, now);
        let mut plan = plan_link(mapping, &input);
        plan.comments_to_mirror.clear();
        plan.recovered_comment_pairs.clear();
        plan.decisions.retain(|d| d.field != "comments");
        if plan.is_noop() {
            continue;
        }
        let link = link_label(portal, linear);
        let mut rows = Vec::new();
        for (side, record) in [(Side::Portal, portal), (Side::Linear, linear)] {
            if let Some(w) = plan.writes(side) {
                for (field, to) in &w.fields {
                    rows.push(PreviewRow {
                        link: link.clone(),
                        field: field.clone(),
                        action: PreviewAction::Write(side),
                        from: record.field(field).unwrap_or(FieldValue::Null),
                        to: to.clone(),
                    });
                }
            }
        }
        for c in &plan.conflicts {
            rows.push(PreviewRow {
                link: link.clone(),
                field: c.field.clone(),
                action: PreviewAction::Conflict,
                from: c.portal.clone(),
                to: c.linear.clone(),
            });
        }
        out.push(LinkPreview { link, plan, rows });
    }
    out
}
