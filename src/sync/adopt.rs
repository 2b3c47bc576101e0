//! Adopting links that exist before roundtrip does: a team switching from a
//! portal's own Linear integration has posts that already name their issue
//! (`Record::linked_ids`, by id or key), and Linear issues may carry
//! the post's URL as an attachment. Those pairs are linked, never re-created.
//! Pure: the engine and `roundtrip adopt` feed it the records and attachment
//! URLs they read, and apply (or, with `--dry-run`, only print) the plan.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::domain::{Record, Side};

/// Why a pair is linked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "via", rename_all = "snake_case")]
pub enum AdoptReason {
    /// The post names the issue in `linear.linkedIssueIDs`.
    NativeIntegration {
        /// The id or key the post names.
        key: String,
    },
    /// The issue carries the post's URL as an attachment.
    Attachment {
        /// The attached URL.
        url: String,
    },
}

impl AdoptReason {
    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            AdoptReason::NativeIntegration { key } => {
                format!("the portal's own Linear integration links the post to {key}")
            }
            AdoptReason::Attachment { url } => {
                format!("the issue carries the post's URL ({url}) as an attachment")
            }
        }
    }
}

/// One pair to link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdoptPair {
    /// The portal post.
    pub portal_id: String,
    /// The Linear issue.
    pub linear_id: String,
    /// The issue's key (`ENG-42`), when known.
    pub linear_key: Option<String>,
    /// The post's title.
    pub title: String,
    /// Every reason found (both may hold).
    pub reasons: Vec<AdoptReason>,
}

impl AdoptPair {
    /// Every reason, in words, for the audit log and the CLI.
    pub fn why(&self) -> String {
        let all: Vec<String> = self.reasons.iter().map(AdoptReason::describe).collect();
        all.join("; ")
    }
}

/// A record that looked linked but is left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdoptSkip {
    /// Which side the record is on.
    pub side: Side,
    /// Its remote id.
    pub remote_id: String,
    /// Why it is not linked.
    pub why: String,
}

/// What adoption would do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AdoptPlan {
    /// Pairs to link.
    pub pairs: Vec<AdoptPair>,
    /// Candidates left alone.
    pub skipped: Vec<AdoptSkip>,
}

/// A record URL as links are compared: without a query, fragment or
/// trailing slash. Portals that serve one record at several addresses add
/// the others through their connector's `url_forms`.
pub fn bare_url(url: &str) -> String {
    url.split(['?', '#'])
        .next()
        .unwrap_or(url)
        .trim_end_matches('/')
        .to_string()
}

/// The scheme and host of a URL (`https://feedback.example.com/`), the prefix every
/// post URL of a portal shares.
pub fn url_prefix(url: &str) -> Option<String> {
    let scheme_end = url.find("://")? + 3;
    let host_end = url[scheme_end..]
        .find('/')
        .map_or(url.len(), |p| p + scheme_end);
    Some(format!("{}/", &url[..host_end]))
}

/// Plan adoption. `posts` and `issues` are every live record of each side;
/// `attachments` are `(url, issue id)` pairs from Linear; `url_forms` gives
/// every address of the post at a URL (the portal connector's); `linked`
/// says whether a record already has a link.
pub fn plan_adoption(
    posts: &[Record],
    issues: &[Record],
    attachments: &[(String, String)],
    url_forms: impl Fn(&str) -> Vec<String>,
    linked: impl Fn(Side, &str) -> bool,
) -> AdoptPlan {
    let by_key: BTreeMap<String, &Record> = issues
        .iter()
        .filter(|i| !i.deleted)
        .flat_map(|i| {
            let mut keys = vec![i.remote_id.to_lowercase()];
            if let Some(k) = &i.identifier {
                keys.push(k.to_lowercase());
            }
            keys.into_iter().map(move |k| (k, i))
        })
        .collect();
    let mut by_url: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (url, issue) in attachments {
        for form in url_forms(url) {
            by_url.entry(form).or_default().insert(issue.clone());
        }
    }
    let mut plan = AdoptPlan::default();
    let mut wanted: BTreeMap<String, Vec<AdoptPair>> = BTreeMap::new();
    for post in posts.iter().filter(|p| !p.deleted) {
        if linked(Side::Portal, &post.remote_id) {
            continue;
        }
        let mut found: BTreeMap<String, Vec<AdoptReason>> = BTreeMap::new();
        let mut unknown = Vec::new();
        for key in &post.linked_ids {
            match by_key.get(&key.to_lowercase()) {
                Some(issue) => found
                    .entry(issue.remote_id.clone())
                    .or_default()
                    .push(AdoptReason::NativeIntegration { key: key.clone() }),
                None => unknown.push(key.clone()),
            }
        }
        if let Some(url) = &post.url {
            for form in url_forms(url) {
                for issue in by_url.get(&form).into_iter().flatten() {
                    let reasons = found.entry(issue.clone()).or_default();
                    if !reasons
                        .iter()
                        .any(|r| matches!(r, AdoptReason::Attachment { .. }))
                    {
                        reasons.push(AdoptReason::Attachment { url: form.clone() });
                    }
                }
            }
        }
        match found.len() {
            0 if !unknown.is_empty() => plan.skipped.push(AdoptSkip {
                side: Side::Portal,
                remote_id: post.remote_id.clone(),
                why: format!(
                    "the portal links it to {}, which is not an issue of the synced team",
                    unknown.join(", ")
                ),
            }),
            0 => {}
            1 => {
                let Some((issue_id, reasons)) = found.into_iter().next() else {
                    continue;
                };
                if linked(Side::Linear, &issue_id) {
                    plan.skipped.push(AdoptSkip {
                        side: Side::Portal,
                        remote_id: post.remote_id.clone(),
                        why: format!("its issue {issue_id} is already linked to another post"),
                    });
                    continue;
                }
                let key = by_key
                    .get(&issue_id.to_lowercase())
                    .and_then(|i| i.identifier.clone());
                wanted.entry(issue_id.clone()).or_default().push(AdoptPair {
                    portal_id: post.remote_id.clone(),
                    linear_id: issue_id,
                    linear_key: key,
                    title: post.title.clone(),
                    reasons,
                });
            }
            n => plan.skipped.push(AdoptSkip {
                side: Side::Portal,
                remote_id: post.remote_id.clone(),
                why: format!(
                    "it is linked to {n} issues ({}); roundtrip links a post to one",
                    found.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            }),
        }
    }
    for (issue, mut pairs) in wanted {
        if pairs.len() == 1 {
            plan.pairs.append(&mut pairs);
        } else {
            let posts: Vec<String> = pairs.iter().map(|p| p.portal_id.clone()).collect();
            plan.skipped.push(AdoptSkip {
                side: Side::Linear,
                remote_id: issue,
                why: format!(
                    "{} posts ({}) link to it; roundtrip links an issue to one post",
                    posts.len(),
                    posts.join(", ")
                ),
            });
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(id: &str, url: &str, linked: &[&str]) -> Record {
        Record {
            remote_id: id.into(),
            title: format!("post {id}"),
            url: Some(url.into()),
            linked_ids: linked.iter().map(|s| s.to_string()).collect(),
            ..Record::default()
        }
    }

    /// A portal that serves each post at a public and an admin address.
    fn admin_and_public(url: &str) -> Vec<String> {
        let bare = bare_url(url);
        let other = match bare.split_once("/admin/") {
            Some((host, path)) => format!("{host}/{path}"),
            None => bare.replacen("/posts/", "/admin/posts/", 1),
        };
        vec![bare, other]
    }

    fn issue(id: &str, key: &str) -> Record {
        Record {
            remote_id: id.into(),
            identifier: Some(key.into()),
            ..Record::default()
        }
    }

    #[test]
    fn native_links_and_attachments_become_pairs() {
        let posts = [
            post(
                "p1",
                "https://feedback.example.com/admin/posts/one",
                &["ENG-1"],
            ),
            post("p2", "https://feedback.example.com/admin/posts/two", &[]),
            post("p3", "https://feedback.example.com/admin/posts/three", &[]),
        ];
        let issues = [issue("i1", "ENG-1"), issue("i2", "ENG-2")];
        let attachments = [(
            "https://feedback.example.com/posts/two/".to_string(),
            "i2".to_string(),
        )];
        let plan = plan_adoption(&posts, &issues, &attachments, admin_and_public, |_, _| {
            false
        });
        assert_eq!(plan.pairs.len(), 2, "{plan:?}");
        assert_eq!(plan.pairs[0].linear_id, "i1");
        assert_eq!(
            plan.pairs[0].reasons,
            vec![AdoptReason::NativeIntegration {
                key: "ENG-1".into()
            }]
        );
        assert_eq!(plan.pairs[1].portal_id, "p2");
        assert!(plan.skipped.is_empty());
    }

    #[test]
    fn ambiguous_or_taken_or_unknown_are_skipped_with_a_reason() {
        let posts = [
            post(
                "p1",
                "https://feedback.example.com/admin/posts/one",
                &["ENG-1", "ENG-2"],
            ),
            post(
                "p2",
                "https://feedback.example.com/admin/posts/two",
                &["ENG-3"],
            ),
            post(
                "p3",
                "https://feedback.example.com/admin/posts/3",
                &["ENG-9"],
            ),
            post(
                "p4",
                "https://feedback.example.com/admin/posts/4",
                &["ENG-3"],
            ),
            post(
                "p5",
                "https://feedback.example.com/admin/posts/5",
                &["eng-4"],
            ),
        ];
        let issues = [
            issue("i1", "ENG-1"),
            issue("i2", "ENG-2"),
            issue("i3", "ENG-3"),
            issue("i4", "ENG-4"),
        ];
        let plan = plan_adoption(&posts, &issues, &[], admin_and_public, |side, id| {
            side == Side::Linear && id == "i4"
        });
        assert!(plan.pairs.is_empty(), "{plan:?}");
        let whys: Vec<&str> = plan.skipped.iter().map(|s| s.why.as_str()).collect();
        assert!(
            whys.iter().any(|w| w.contains("linked to 2 issues")),
            "{whys:?}"
        );
        assert!(
            whys.iter()
                .any(|w| w.contains("not an issue of the synced team")),
            "{whys:?}"
        );
        assert!(
            whys.iter().any(|w| w.contains("2 posts (p2, p4)")),
            "{whys:?}"
        );
        assert!(
            whys.iter().any(|w| w.contains("already linked")),
            "{whys:?}"
        );
    }

    #[test]
    fn urls_compare_bare_and_share_their_host_prefix() {
        assert_eq!(
            bare_url("https://feedback.example.com/posts/7/s/?x=1#c"),
            "https://feedback.example.com/posts/7/s"
        );
        assert_eq!(
            url_prefix("https://feedback.example.com/posts/7/s").as_deref(),
            Some("https://feedback.example.com/")
        );
    }
}
