//! Comment mirroring. Comments are append-only sets keyed by remote id: each
//! comment written by a person is copied to the other side exactly once, and
//! a copy roundtrip wrote is never copied back.
//!
//! Two safeguards decide "ours or theirs": the link's comment map (pairs of
//! remote ids the store keeps), and what the copy itself says, so a copy is
//! still recognised — and a lost map can be rebuilt — if the store is lost or
//! a write succeeded but its pair was never recorded:
//!
//! * On Linear, which only the team reads, a copy ends with a marker line,
//!   `(roundtrip mirror of portal comment <id>)`.
//! * On the portal, where customers read, a copy carries no reference of
//!   roundtrip's: it is recognised by its content, the exact text roundtrip
//!   writes for the Linear comment it copies (older copies that still end
//!   with a marker are recognised by it).
//!
//! Anyone can type a marker or a copy's text, so neither alone proves
//! anything: a comment counts as roundtrip's copy only when the original it
//! names (by marker, or by being exactly its copy text) exists on the other
//! side and the copy carries that original's text. A comment that merely
//! ends like a marker is a person's comment and is mirrored; a second copy
//! of an original that already has one is never paired or mirrored back.
//!
//! Copy format: on Linear (markdown) `**Jane on Canny:** <body>`, a blank
//! line and the marker; on the portal (plain text) `Jane on Linear: <body>`.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::domain::{Comment, Side};

/// A mirrored pair of comments on one link.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CommentPair {
    /// The comment's id on the portal.
    pub portal_id: String,
    /// The comment's id on Linear.
    pub linear_id: String,
    /// Where the original was written (the other id is roundtrip's copy).
    pub origin: Side,
}

/// The link's comment map as the store keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentMap {
    /// Every pair mirrored so far.
    pub pairs: Vec<CommentPair>,
}

impl CommentMap {
    /// True when a comment id on `side` is part of a mirrored pair (either
    /// as the original or as our copy).
    pub fn knows(&self, side: Side, remote_id: &str) -> bool {
        self.pairs.iter().any(|p| match side {
            Side::Portal => p.portal_id == remote_id,
            Side::Linear => p.linear_id == remote_id,
        })
    }
}

/// One comment to copy. After posting, the engine records a [`CommentPair`]
/// of `source_id` and the new comment's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentMirror {
    /// Where the original lives.
    pub from: Side,
    /// The original's remote id.
    pub source_id: String,
    /// Where the copy goes.
    pub to: Side,
    /// The full text to post (with the marker on Linear).
    pub body: String,
}

const MARKER_OPEN: &str = "(roundtrip mirror of ";
const MARKER_MID: &str = " comment ";

/// The marker line that ends every copy of a comment from `from`.
pub fn marker(from: Side, source_id: &str) -> String {
    format!("{MARKER_OPEN}{}{MARKER_MID}{source_id})", from.as_str())
}

/// If `body` is a copy roundtrip wrote, the side and id of its original.
pub fn parse_marker(body: &str) -> Option<(Side, String)> {
    let last = body.trim_end().lines().last()?.trim();
    let inner = last.strip_prefix(MARKER_OPEN)?.strip_suffix(')')?;
    let (side, id) = inner.split_once(MARKER_MID)?;
    let side = side.parse::<Side>().ok()?;
    (!id.is_empty()).then(|| (side, id.to_string()))
}

/// The text of the copy of `c` (from `from`) on the other side.
/// `portal_name` is how people know the portal ("Canny"). Only a copy on
/// Linear carries the marker: the portal is public.
pub fn mirror_body(from: Side, c: &Comment, portal_name: &str) -> String {
    let author = c.author.as_deref().unwrap_or("Someone");
    match from.other() {
        Side::Linear => format!(
            "**{author} on {portal_name}:** {}\n\n{}",
            c.body.trim_end(),
            marker(from, &c.remote_id)
        ),
        Side::Portal => format!("{author} on Linear: {}", c.body.trim_end()),
    }
}

/// The Linear comment a portal comment is roundtrip's copy of, by content:
/// its text is exactly what [`mirror_body`] writes for that comment.
fn portal_copy_of<'a>(
    c: &Comment,
    linear: &'a [Comment],
    portal_name: &str,
) -> Option<&'a Comment> {
    let text = c.body.trim_end();
    linear
        .iter()
        .find(|l| mirror_body(Side::Linear, l, portal_name).trim_end() == text)
}

/// For a copy of a portal comment as [`mirror_body`] writes it on Linear:
/// the author's name and the portal's, so a Linear app-actor connector can
/// attribute the comment ("Jane via Canny"). `None` for anything else.
pub fn portal_mirror_author(body: &str) -> Option<(String, String)> {
    let (from, _) = parse_marker(body)?;
    if from != Side::Portal {
        return None;
    }
    let header = body.strip_prefix("**")?.split_once(":**")?.0;
    let (author, origin) = header.rsplit_once(" on ")?;
    (!author.trim().is_empty() && !origin.trim().is_empty())
        .then(|| (author.trim().to_string(), origin.trim().to_string()))
}

/// Text with whitespace and markdown escapes removed, so a copy still
/// matches its original after a vendor re-renders it.
fn squashed(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && *c != '\\')
        .collect()
}

/// If `c` (on `side`) is a copy roundtrip wrote of a comment in `others`
/// (the other side's comments), the original's side and id: on the portal,
/// its exact copy text; else a marker naming an existing original on the
/// other side whose text the copy carries.
fn copy_of(
    c: &Comment,
    side: Side,
    others: &[Comment],
    portal_name: &str,
) -> Option<(Side, String)> {
    if side == Side::Portal
        && let Some(l) = portal_copy_of(c, others, portal_name)
    {
        return Some((Side::Linear, l.remote_id.clone()));
    }
    let (from, src) = parse_marker(&c.body)?;
    if from == side {
        return None; // a marker pointing at its own side is not one of ours
    }
    let original = others.iter().find(|o| o.remote_id == src)?;
    let text = c.body.trim_end();
    let before_marker = text.rsplit_once('\n').map_or("", |(head, _)| head);
    let wanted = squashed(original.body.trim_end());
    (!wanted.is_empty() && squashed(before_marker).contains(&wanted)).then_some((from, src))
}

/// The id recorded as the copy of `source` (an original on `from`), if any.
fn recorded_copy(map: &CommentMap, from: Side, source: &str) -> Option<String> {
    map.pairs
        .iter()
        .find_map(|p| match (from, p.origin == from) {
            (Side::Portal, true) if p.portal_id == source => Some(p.linear_id.clone()),
            (Side::Linear, true) if p.linear_id == source => Some(p.portal_id.clone()),
            _ => None,
        })
}

/// Decide which comments to copy and which pairs to re-record.
pub fn plan_comments(
    portal: &[Comment],
    linear: &[Comment],
    map: &CommentMap,
    portal_name: &str,
) -> (Vec<CommentMirror>, Vec<CommentPair>) {
    let others = |side: Side| match side {
        Side::Portal => linear,
        Side::Linear => portal,
    };
    let mut recovered = Vec::new();
    // Originals that already have a copy somewhere, and comments that are
    // copies (found by their verified marker or copy text).
    let mut copied: BTreeSet<(Side, String)> = BTreeSet::new();
    let mut copies: BTreeSet<(Side, String)> = BTreeSet::new();
    for (side, comments) in [(Side::Portal, portal), (Side::Linear, linear)] {
        for c in comments {
            if map.knows(side, &c.remote_id) {
                continue;
            }
            let Some((from, src)) = copy_of(c, side, others(side), portal_name) else {
                continue;
            };
            // A copy's text is already on the other side: never mirrored
            // back. Only the first copy of an original not yet recorded is
            // paired (a second one is a duplicate or someone pasting it).
            copies.insert((side, c.remote_id.clone()));
            if recorded_copy(map, from, &src).is_some() || !copied.insert((from, src.clone())) {
                continue;
            }
            let (portal_id, linear_id) = match side {
                Side::Linear => (src, c.remote_id.clone()),
                Side::Portal => (c.remote_id.clone(), src),
            };
            recovered.push(CommentPair {
                portal_id,
                linear_id,
                origin: from,
            });
        }
    }
    let mut mirrors = Vec::new();
    for (side, comments) in [(Side::Portal, portal), (Side::Linear, linear)] {
        for c in comments {
            if copies.contains(&(side, c.remote_id.clone()))
                || map.knows(side, &c.remote_id)
                || copied.contains(&(side, c.remote_id.clone()))
            {
                continue;
            }
            mirrors.push(CommentMirror {
                from: side,
                source_id: c.remote_id.clone(),
                to: side.other(),
                body: mirror_body(side, c, portal_name),
            });
        }
    }
    (mirrors, recovered)
}

#[cfg(test)]
mod attribution_tests {
    use super::*;

    #[test]
    fn the_author_of_a_portal_copy_is_read_back() {
        let c = Comment {
            remote_id: "c1".into(),
            author: Some("Jane Doe".into()),
            body: "Please ship: it matters on mobile".into(),
            created_at: None,
        };
        let body = mirror_body(Side::Portal, &c, "Canny");
        assert_eq!(
            portal_mirror_author(&body),
            Some(("Jane Doe".into(), "Canny".into()))
        );
        let back = mirror_body(Side::Linear, &c, "Canny");
        assert_eq!(portal_mirror_author(&back), None);
        assert_eq!(portal_mirror_author("**Eve on Canny:** forged"), None);
    }
}
