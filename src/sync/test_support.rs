//! Fixtures shared by the sync tests: records in a synced state, a fixed
//! clock, and applying a plan's writes the way the connectors would.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeZone, Utc};

use crate::domain::{Comment, FieldValue, Record, Side};

use super::catalog::Catalog;
use super::comments::{CommentMap, CommentPair};
use super::merge::agreed_snapshot;
use super::{Mapping, Plan, Snapshot};

pub fn t(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, minute, 0)
        .single()
        .unwrap()
}

pub fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

pub fn text(s: &str) -> FieldValue {
    FieldValue::Text(s.to_string())
}

pub fn post() -> Record {
    Record {
        remote_id: "p1".into(),
        title: "Dark mode".into(),
        description: "Please add a dark theme.".into(),
        status: "planned".into(),
        labels: set(&["ui"]),
        votes: Some(12),
        url: Some("https://feedback.example.com/p/dark-mode".into()),
        ..Record::default()
    }
}

pub fn issue() -> Record {
    Record {
        remote_id: "l1".into(),
        identifier: Some("ENG-42".into()),
        title: "Dark mode".into(),
        description: "Please add a dark theme.".into(),
        status: "Todo".into(),
        status_type: Some("unstarted".into()),
        labels: set(&["ui"]),
        priority: Some(3),
        url: Some("https://linear.app/acme/issue/ENG-42".into()),
        ..Record::default()
    }
}

/// A link where both sides agree, with its base.
pub fn synced(m: &Mapping) -> (Snapshot, Record, Record) {
    let (p, l) = (post(), issue());
    (agreed_snapshot(m, &p, &l), p, l)
}

/// Apply writes to a record as a connector would (a Linear state write also
/// sets the state type the team's catalog gives it).
pub fn apply_writes(plan: &Plan, portal: &mut Record, linear: &mut Record) {
    let catalog = Catalog::canny_linear_default();
    if let Some(w) = &plan.portal_writes {
        for (k, v) in &w.fields {
            assert!(portal.set_field(k, v.clone()), "portal rejects {k} = {v:?}");
        }
    }
    if let Some(w) = &plan.linear_writes {
        for (k, v) in &w.fields {
            assert!(linear.set_field(k, v.clone()), "linear rejects {k} = {v:?}");
            if k == "state"
                && let FieldValue::Text(s) = v
            {
                linear.status_type = catalog
                    .resolve_linear_state(s)
                    .map(|st| st.state_type.clone());
            }
        }
    }
}

/// Post the plan's mirrored comments and record their pairs, as the engine
/// would.
pub fn apply_comments(plan: &Plan, portal: &mut Record, linear: &mut Record, map: &mut CommentMap) {
    for (i, m) in plan.comments_to_mirror.iter().enumerate() {
        let target = match m.to {
            Side::Portal => &mut *portal,
            Side::Linear => &mut *linear,
        };
        let id = format!("{}-copy-{}-{i}", m.to, target.comments.len());
        target.comments.push(Comment {
            remote_id: id.clone(),
            author: Some("roundtrip".into()),
            body: m.body.clone(),
            created_at: None,
        });
        let (portal_id, linear_id) = match m.to {
            Side::Linear => (m.source_id.clone(), id),
            Side::Portal => (id, m.source_id.clone()),
        };
        map.pairs.push(CommentPair {
            portal_id,
            linear_id,
            origin: m.from,
        });
    }
    map.pairs
        .extend(plan.recovered_comment_pairs.iter().cloned());
}

pub fn comment(id: &str, author: &str, body: &str) -> Comment {
    Comment {
        remote_id: id.into(),
        author: Some(author.into()),
        body: body.into(),
        created_at: None,
    }
}
