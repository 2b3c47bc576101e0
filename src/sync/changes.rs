//! What kind of change separates two versions of a record. Reconcile uses it
//! to tell, for a remote whose webhooks announce only some changes, whether
//! a change it found should already have arrived by webhook.

use std::collections::BTreeSet;

use crate::domain::{ChangeKind, Record};

/// The kinds of change from `before` (`None`: not seen before) to `after`,
/// each at most once, in [`ChangeKind::ALL`] order. A comment counts only
/// when `after` carries comments (a listing without them says nothing).
pub fn change_kinds(before: Option<&Record>, after: &Record) -> Vec<ChangeKind> {
    let Some(before) = before else {
        return vec![ChangeKind::Created];
    };
    let mut kinds = BTreeSet::new();
    if after.deleted && !before.deleted {
        kinds.insert(ChangeKind::Deleted);
    }
    if after.status != before.status {
        kinds.insert(ChangeKind::StatusChanged);
    }
    let known: BTreeSet<&str> = before
        .comments
        .iter()
        .map(|c| c.remote_id.as_str())
        .collect();
    if after
        .comments
        .iter()
        .any(|c| !known.contains(c.remote_id.as_str()))
    {
        kinds.insert(ChangeKind::Commented);
    }
    if after.title != before.title
        || after.description != before.description
        || after.labels != before.labels
        || after.votes != before.votes
    {
        kinds.insert(ChangeKind::Edited);
    }
    kinds.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Comment;

    fn post(status: &str) -> Record {
        Record {
            remote_id: "7".into(),
            title: "Dark mode everywhere".into(),
            status: status.into(),
            ..Record::default()
        }
    }

    #[test]
    fn kinds_name_each_change_once() {
        assert_eq!(change_kinds(None, &post("open")), [ChangeKind::Created]);
        let a = post("open");
        assert!(change_kinds(Some(&a), &a).is_empty());
        let mut b = post("planned");
        b.title = "Dark mode".into();
        assert_eq!(
            change_kinds(Some(&a), &b),
            [ChangeKind::StatusChanged, ChangeKind::Edited]
        );
        let mut c = a.clone();
        c.comments.push(Comment {
            remote_id: "c1".into(),
            author: None,
            body: "+1".into(),
            created_at: None,
        });
        assert_eq!(change_kinds(Some(&a), &c), [ChangeKind::Commented]);
        assert!(
            change_kinds(Some(&c), &a).is_empty(),
            "a listing without comments removes none"
        );
        let mut d = a.clone();
        d.deleted = true;
        assert_eq!(change_kinds(Some(&a), &d), [ChangeKind::Deleted]);
    }
}
