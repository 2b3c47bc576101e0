//! Canny posts in roundtrip's canonical form, the creation marker that makes
//! a retried create findable, and the content hash reconcile compares (Canny
//! posts carry no update time, so a changed hash is the only change signal).

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::wire::{CannyComment, CannyPost};
use crate::domain::{Comment, Record};

/// Start of the line appended to a created post's details. Canny details are
/// plain text, so the marker is a short trailing line rather than hidden
/// markup; it is stripped again when the post is read.
pub const MARKER_PREFIX: &str = "roundtrip-ref: ";

/// Details with the creation marker for `client_id` appended.
pub fn with_marker(details: &str, client_id: &uuid::Uuid) -> String {
    if details.is_empty() {
        format!("{MARKER_PREFIX}{client_id}")
    } else {
        format!("{details}\n\n{MARKER_PREFIX}{client_id}")
    }
}

/// Split details into the text and the creation marker's client id, if the
/// last line is a marker.
pub fn split_marker(details: &str) -> (String, Option<uuid::Uuid>) {
    let (head, last) = match details.rsplit_once('\n') {
        Some((h, l)) => (h, l),
        None => ("", details),
    };
    let Some(id) = last
        .trim()
        .strip_prefix(MARKER_PREFIX)
        .and_then(|s| uuid::Uuid::parse_str(s.trim()).ok())
    else {
        return (details.to_string(), None);
    };
    let text = head.strip_suffix('\n').unwrap_or(head);
    (text.to_string(), Some(id))
}

fn time(s: Option<&str>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// A post as a canonical record (no comments; `get` adds them).
pub fn post_to_record(p: &CannyPost) -> Record {
    let (description, _) = split_marker(p.details.as_deref().unwrap_or(""));
    Record {
        remote_id: p.id.clone(),
        identifier: None,
        title: p.title.clone(),
        description,
        status: p.status.clone(),
        status_type: None,
        labels: p.tags.iter().map(|t| t.name.clone()).collect(),
        votes: Some(p.score),
        priority: None,
        comments: Vec::new(),
        url: p.url.clone(),
        created_at: time(p.created.as_deref()),
        updated_at: None,
        deleted: false,
    }
}

/// A comment in the canonical form.
pub fn comment_to_domain(c: &CannyComment) -> Comment {
    Comment {
        remote_id: c.id.clone(),
        author: c.author.as_ref().map(|a| a.name.clone()),
        body: c.value.clone().unwrap_or_default(),
        created_at: time(c.created.as_deref()),
    }
}

fn put(h: &mut Sha256, name: &str, value: &str) {
    h.update(name.as_bytes());
    h.update(b"=");
    h.update((value.len() as u64).to_be_bytes());
    h.update(value.as_bytes());
}

/// Stable hex SHA-256 over the mapped, comparable fields (title,
/// description, status, labels, votes, deleted). Comments and URLs are left
/// out: listings carry no comments, and the hash must match between a
/// listed and a fetched post. Every value is length-prefixed, so no two
/// different records can serialize alike.
pub fn content_hash(r: &Record) -> String {
    let mut h = Sha256::new();
    h.update(b"canny-record-v1\n");
    put(&mut h, "title", &r.title);
    put(&mut h, "description", &r.description);
    put(&mut h, "status", &r.status);
    h.update((r.labels.len() as u64).to_be_bytes());
    for l in &r.labels {
        put(&mut h, "label", l);
    }
    put(
        &mut h,
        "votes",
        &r.votes.map(|v| v.to_string()).unwrap_or_default(),
    );
    put(&mut h, "deleted", if r.deleted { "1" } else { "0" });
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_round_trips() {
        let id = uuid::Uuid::new_v4();
        for d in ["", "one line", "two\nlines", "ends with blank\n"] {
            let marked = with_marker(d, &id);
            assert_eq!(split_marker(&marked), (d.to_string(), Some(id)), "{d:?}");
        }
        assert_eq!(split_marker("no marker"), ("no marker".into(), None));
        assert_eq!(
            split_marker("roundtrip-ref: not-a-uuid"),
            ("roundtrip-ref: not-a-uuid".into(), None)
        );
    }

    #[test]
    fn hash_is_stable_and_sensitive() {
        let mut r = Record {
            title: "a".into(),
            description: "b".into(),
            status: "open".into(),
            votes: Some(3),
            ..Record::default()
        };
        r.labels.insert("x".into());
        let h = content_hash(&r);
        assert_eq!(h.len(), 64);
        assert_eq!(h, content_hash(&r.clone()));
        let mut moved = r.clone();
        moved.title = "ab".into();
        moved.description = String::new();
        assert_ne!(content_hash(&moved), h);
        let mut c = r.clone();
        c.comments.push(Comment {
            remote_id: "1".into(),
            author: None,
            body: "hi".into(),
            created_at: None,
        });
        assert_eq!(content_hash(&c), h, "comments are not hashed");
        let mut v = r.clone();
        v.votes = Some(4);
        assert_ne!(content_hash(&v), h);
    }
}
