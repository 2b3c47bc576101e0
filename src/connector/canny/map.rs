//! Canny posts in roundtrip's canonical form, the admin-only notes roundtrip
//! keeps on a post (never in its public details), and the content hash
//! reconcile compares (Canny posts carry no update time, so a changed hash
//! is the only change signal).

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::wire::{CannyComment, CannyPost};
use crate::domain::{Comment, ErrorClass, Record, RemoteError};

/// Start of every internal (admin-only) comment roundtrip writes: notes such
/// as "the linked issue was deleted" and the creation claim. Such comments are
/// roundtrip's bookkeeping, never mirrored as customer comments.
pub const NOTE_PREFIX: &str = "roundtrip: ";

/// The tag inside the creation claim that names the create's client id.
pub const REF_TAG: &str = "roundtrip-ref: ";

/// The internal comment that claims a post for the create with `client_id`,
/// so a retried create finds it (and nobody else adopts it).
pub fn claim_text(client_id: &uuid::Uuid) -> String {
    format!("{NOTE_PREFIX}this post was created by roundtrip from Linear ({REF_TAG}{client_id})")
}

/// The client id a claim comment names, if the comment is one.
pub fn claimed_id(c: &CannyComment) -> Option<uuid::Uuid> {
    let text = c.value.as_deref()?;
    if !c.internal || !text.starts_with(NOTE_PREFIX) {
        return None;
    }
    let rest = &text[text.find(REF_TAG)? + REF_TAG.len()..];
    let id: String = rest
        .chars()
        .take_while(|ch| ch.is_ascii_hexdigit() || *ch == '-')
        .collect();
    uuid::Uuid::parse_str(&id).ok()
}

/// Whether a comment is one of roundtrip's own admin-only notes.
pub fn is_roundtrip_note(c: &CannyComment) -> bool {
    c.internal
        && c.value
            .as_deref()
            .is_some_and(|v| v.starts_with(NOTE_PREFIX))
}

fn shape(post: &str, field: &str) -> RemoteError {
    RemoteError::new(
        ErrorClass::Schema,
        format!("API response shape changed: Canny post {post} field `{field}` is null or missing"),
    )
}

fn time(s: Option<&str>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// A post as a canonical record (no comments; `get` adds them). A post
/// without its title, status or score is a change of Canny's shape, refused
/// rather than read as empty.
pub fn post_to_record(p: &CannyPost) -> Result<Record, RemoteError> {
    let title = p.title.clone().ok_or_else(|| shape(&p.id, "title"))?;
    let status = p
        .status
        .clone()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| shape(&p.id, "status"))?;
    let score = p.score.ok_or_else(|| shape(&p.id, "score"))?;
    Ok(Record {
        remote_id: p.id.clone(),
        identifier: None,
        title,
        description: p.details.clone().unwrap_or_default(),
        status,
        status_type: None,
        labels: p.tags.iter().map(|t| t.name.clone()).collect(),
        votes: Some(score),
        priority: None,
        comments: Vec::new(),
        url: p.url.clone(),
        created_at: time(p.created.as_deref()),
        updated_at: None,
        deleted: false,
        archived: false,
        duplicate_of: None,
        merged_ids: p
            .merge_history
            .iter()
            .filter_map(|m| m.post.as_ref().map(|p| p.id.clone()))
            .collect(),
        linked_ids: p
            .linear
            .as_ref()
            .map(|l| l.linked_issue_ids.clone())
            .unwrap_or_default(),
        board: p
            .board
            .as_ref()
            .map(|b| b.name.clone())
            .filter(|n| !n.is_empty()),
        category: p
            .category
            .as_ref()
            .map(|c| c.name.clone())
            .filter(|n| !n.is_empty()),
        held: false,
        team: None,
    })
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
    // Where the post is routes it: a move to another board or category
    // must be seen by reconcile (Canny sends no webhook for either).
    put(&mut h, "board", r.board.as_deref().unwrap_or_default());
    put(
        &mut h,
        "category",
        r.category.as_deref().unwrap_or_default(),
    );
    hex::encode(h.finalize())
}

/// The addresses of the post at `url`: Canny reports the admin URL
/// (`https://x.canny.io/admin/board/b/p/slug`), customers and other tools
/// use the public one (`https://x.canny.io/b/p/slug`); a link may carry
/// either. Compared bare (no trailing slash, query or fragment).
pub fn admin_and_public_urls(url: &str) -> Vec<String> {
    let base = crate::sync::adopt::bare_url(url);
    let mut out = vec![base.clone()];
    if let Some(i) = base.find("/admin/board/") {
        out.push(format!(
            "{}/{}",
            &base[..i],
            &base[i + "/admin/board/".len()..]
        ));
    } else if let Some(scheme_end) = base.find("://") {
        let host_end = base[scheme_end + 3..].find('/').map(|p| p + scheme_end + 3);
        if let Some(h) = host_end {
            out.push(format!("{}/admin/board{}", &base[..h], &base[h..]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_post_url_has_an_admin_and_a_public_form() {
        assert_eq!(
            admin_and_public_urls("https://x.canny.io/admin/board/f/p/s/"),
            vec![
                "https://x.canny.io/admin/board/f/p/s",
                "https://x.canny.io/f/p/s"
            ]
        );
        assert_eq!(
            admin_and_public_urls("https://x.canny.io/f/p/s?x=1"),
            vec![
                "https://x.canny.io/f/p/s",
                "https://x.canny.io/admin/board/f/p/s"
            ]
        );
    }

    #[test]
    fn claims_are_read_only_from_internal_roundtrip_notes() {
        let id = uuid::Uuid::new_v4();
        let c = |value: &str, internal| CannyComment {
            id: "c".into(),
            value: Some(value.into()),
            created: None,
            author: None,
            internal,
        };
        assert_eq!(claimed_id(&c(&claim_text(&id), true)), Some(id));
        assert_eq!(
            claimed_id(&c(&claim_text(&id), false)),
            None,
            "public text is never a claim"
        );
        assert_eq!(claimed_id(&c("roundtrip-ref: x", true)), None);
        assert!(is_roundtrip_note(&c(&claim_text(&id), true)));
        assert!(!is_roundtrip_note(&c("roundtrip: but public", false)));
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
