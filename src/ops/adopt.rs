//! Adopt: pairs linked before roundtrip — posts the portal's own Linear
//! integration links (`linear.linkedIssueIDs`), Linear issues carrying a
//! post's URL as an attachment — become links, so they are never
//! re-created (`roundtrip adopt`). Reading both sides is the caller's
//! (through the connectors: `engine::adopt::plan_live`); this stores what
//! was read and links each planned pair in one store transaction, merging
//! it once so each field's policy decides what the two disagree on. The
//! engine adopts the same way on its first start, as itself.

use chrono::{DateTime, Utc};

use super::{ACTOR, Changed, Refused, Report, Subject, Why, count};
use crate::domain::{AuditAction, Record, Side};
use crate::engine::adopt::link_pair;
use crate::engine::link_sync::MergeSettings;
use crate::store::{Db, StoreError};
use crate::sync::{AdoptPair, AdoptPlan};

/// Link every pair of `plan`; `posts` and `issues` are the records read
/// live (stored first, so the link's first merge sees them). A pair one of
/// whose records got a link meanwhile (the engine adopted it, or a webhook
/// created one) is refused with that link named.
pub fn adopt(
    db: Db<'_>,
    merge: &MergeSettings,
    plan: &AdoptPlan,
    posts: &[Record],
    issues: &[Record],
    now: DateTime<Utc>,
) -> Result<Report, StoreError> {
    let mut report = Report::new(AuditAction::Adopt);
    let mut jobs = 0;
    for pair in &plan.pairs {
        let issue = pair.linear_key.as_deref().unwrap_or(&pair.linear_id);
        let held = match db.link_by_remote(Side::Portal, &pair.portal_id)? {
            Some(l) => Some(l),
            None => db.link_by_remote(Side::Linear, &pair.linear_id)?,
        };
        if let Some(link) = held {
            report.refused.push(Refused::new(
                Subject::Link(link.id),
                Why::State,
                format!(
                    "already holds post {} or {issue}; '{}' was not adopted",
                    pair.portal_id, pair.title
                ),
            ));
            continue;
        }
        store_read(db, pair, posts, issues)?;
        match link_pair(db, merge, pair, ACTOR, now)? {
            Some((id, applied)) => {
                jobs += applied.jobs;
                report.changed.push(Changed {
                    subject: Subject::Link(id),
                    detail: format!(
                        "adopted: post {} ('{}') ↔ {issue}: {}",
                        pair.portal_id,
                        pair.title,
                        pair.why()
                    ),
                });
            }
            None => report.refused.push(Refused::new(
                Subject::Post(pair.portal_id.clone()),
                Why::NotFound,
                format!("or {issue} was not read from its side; not adopted"),
            )),
        }
    }
    report.headline = format!(
        "{} of {} pairs linked ({} queued by their first merge)",
        report.changed.len(),
        plan.pairs.len(),
        count(jobs, "job")
    );
    Ok(report)
}

fn store_read(
    db: Db<'_>,
    pair: &AdoptPair,
    posts: &[Record],
    issues: &[Record],
) -> Result<(), StoreError> {
    for r in posts.iter().filter(|p| p.remote_id == pair.portal_id) {
        db.upsert_record(Side::Portal, r)?;
    }
    for r in issues.iter().filter(|i| i.remote_id == pair.linear_id) {
        db.upsert_record(Side::Linear, r)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Actor;
    use crate::store::{LinkState, Store, Window};
    use crate::sync::{AdoptReason, Mapping, PingPongGuard};

    fn record(id: &str, title: &str) -> Record {
        Record {
            remote_id: id.into(),
            title: title.into(),
            ..Record::default()
        }
    }

    fn pair(post: &str, issue: &str) -> AdoptPair {
        AdoptPair {
            portal_id: post.into(),
            linear_id: issue.into(),
            linear_key: Some(format!("ENG-{issue}")),
            title: format!("post {post}"),
            reasons: vec![AdoptReason::NativeIntegration {
                key: format!("ENG-{issue}"),
            }],
        }
    }

    #[test]
    fn each_pair_is_linked_with_an_operator_entry_or_refused_naming_the_link() {
        let mut s = Store::open_in_memory().unwrap();
        let merge = MergeSettings {
            mapping: Mapping::default_canny_linear(),
            portal_name: "Canny".into(),
            guard: PingPongGuard::default(),
            max_attempts: 8,
        };
        // p2 was linked (by a webhook, say) after the plan was made.
        let held = s
            .write(|db| {
                db.insert_link(
                    Some("p2"),
                    Some("i9"),
                    None,
                    LinkState::Active,
                    "p2",
                    &Default::default(),
                )
            })
            .unwrap();
        let plan = AdoptPlan {
            pairs: vec![pair("p1", "1"), pair("p2", "2")],
            skipped: Vec::new(),
        };
        let posts = [record("p1", "Dark mode"), record("p2", "Export")];
        let issues = [record("1", "Dark mode"), record("2", "Export")];
        let now = chrono::Utc::now();
        let r = s
            .write(|db| adopt(db, &merge, &plan, &posts, &issues, now))
            .unwrap();
        assert_eq!(r.changed.len(), 1, "{r:?}");
        let link = s.db().link_by_remote(Side::Portal, "p1").unwrap().unwrap();
        assert_eq!(link.linear_id.as_deref(), Some("1"));
        assert_eq!(r.changed[0].subject, Subject::Link(link.id));
        assert_eq!(
            r.refused,
            [Refused::new(
                Subject::Link(held),
                Why::State,
                "already holds post p2 or ENG-2; 'post p2' was not adopted"
            )]
        );
        assert_eq!(r.exit_code(), 1);
        assert!(
            r.headline.starts_with("1 of 2 pairs linked"),
            "{}",
            r.headline
        );
        let audit = s.db().audit(Window::last(10)).unwrap();
        let adopted: Vec<_> = audit
            .iter()
            .filter(|a| a.action == AuditAction::Adopt)
            .collect();
        assert_eq!(adopted.len(), 1);
        assert_eq!(
            (adopted[0].actor, adopted[0].link_id),
            (Actor::Operator, Some(link.id))
        );
    }
}
