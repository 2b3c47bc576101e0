//! Fider posts in roundtrip's canonical form. The remote id is the post's
//! number (what every route takes); the URL is `<site>/posts/<number>`,
//! which Fider redirects to the slugged address and which, unlike that
//! one, survives a title edit. Tags are read by name, as Canny's are, so
//! they can serve as the product area; votes leave out the API key owner's
//! own vote (Fider adds one to every post created through the API).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::config::FIDER_STATUSES;
use super::wire::{FiderComment, FiderPost};
use crate::domain::{Comment, ErrorClass, Record, RemoteError};

fn shape(post: i64, field: &str, what: &str) -> RemoteError {
    RemoteError::new(
        ErrorClass::Schema,
        format!("API response shape changed: Fider post {post} field `{field}` {what}"),
    )
}

pub(crate) fn time(s: Option<&str>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// The stable URL of post `number` on `site`.
pub fn post_url(site: &str, number: i64) -> String {
    format!("{site}/posts/{number}")
}

/// A post as a canonical record (no comments). A post without its title,
/// status or vote count, or with a status Fider does not have, is a change
/// of Fider's shape, refused rather than read as empty. `tag_names` maps
/// slugs to names; a slug it lacks is kept as it is.
pub fn post_to_record(
    p: &FiderPost,
    site: &str,
    tag_names: &HashMap<String, String>,
) -> Result<Record, RemoteError> {
    let title = p
        .title
        .clone()
        .ok_or_else(|| shape(p.number, "title", "is null or missing"))?;
    let status = p
        .status
        .clone()
        .ok_or_else(|| shape(p.number, "status", "is null or missing"))?;
    if !FIDER_STATUSES.contains(&status.as_str()) {
        return Err(shape(
            p.number,
            "status",
            &format!("holds '{status}', which is not a Fider status"),
        ));
    }
    let votes = p
        .votes_count
        .ok_or_else(|| shape(p.number, "votesCount", "is null or missing"))?;
    let own = i64::from(p.has_voted);
    let duplicate_of = (status == "duplicate")
        .then(|| {
            p.response
                .as_ref()
                .and_then(|r| r.original.as_ref())
                .map(|o| o.number.to_string())
        })
        .flatten();
    Ok(Record {
        remote_id: p.number.to_string(),
        identifier: Some(format!("#{}", p.number)),
        title,
        description: p.description.clone().unwrap_or_default(),
        status,
        status_type: None,
        labels: p
            .tags
            .iter()
            .map(|slug| tag_names.get(slug).cloned().unwrap_or_else(|| slug.clone()))
            .collect(),
        votes: Some((votes - own).max(0)),
        priority: None,
        comments: Vec::new(),
        url: Some(post_url(site, p.number)),
        created_at: time(p.created_at.as_deref()),
        updated_at: None,
        deleted: false,
        archived: false,
        duplicate_of,
        merged_ids: Vec::new(),
        linked_ids: Vec::new(),
        // A post waiting in Fider's moderation queue: staff read it by
        // number, but it is not public, so nothing of it is synced.
        held: p.is_approved == Some(false),
        // A Fider site is one board without categories: routes on tags,
        // status and votes apply.
        ..Record::default()
    })
}

/// A comment in the canonical form.
pub(crate) fn comment_to_domain(c: &FiderComment) -> Comment {
    Comment {
        remote_id: c.id.to_string(),
        author: c.user.as_ref().map(|u| u.name.clone()),
        body: c.content.clone(),
        created_at: time(c.created_at.as_deref()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn post(v: serde_json::Value) -> FiderPost {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn posts_map_with_the_own_vote_left_out_and_tags_by_name() {
        let names = HashMap::from([("bug".to_string(), "Bug".to_string())]);
        let p = post(json!({
            "id": 40, "number": 7, "title": "Dark mode everywhere", "slug": "dark-mode-everywhere",
            "description": "Please", "createdAt": "2026-01-02T03:04:05Z", "hasVoted": true,
            "votesCount": 3, "commentsCount": 0, "status": "planned", "tags": ["bug", "ux"]
        }));
        let r = post_to_record(&p, "https://f.example", &names).unwrap();
        assert_eq!(r.remote_id, "7");
        assert_eq!(r.identifier.as_deref(), Some("#7"));
        assert_eq!(r.votes, Some(2));
        assert_eq!(r.url.as_deref(), Some("https://f.example/posts/7"));
        assert_eq!(
            r.labels.into_iter().collect::<Vec<_>>(),
            ["Bug".to_string(), "ux".to_string()]
        );
        let dup = post(json!({
            "number": 8, "title": "Dark theme please", "votesCount": 0, "status": "duplicate",
            "response": {"text": "", "original": {"number": 7, "title": "Dark mode everywhere"}}
        }));
        assert_eq!(
            post_to_record(&dup, "s", &names)
                .unwrap()
                .duplicate_of
                .as_deref(),
            Some("7")
        );
        assert!(!post_to_record(&dup, "s", &names).unwrap().held);
    }

    #[test]
    fn a_post_in_moderation_is_held() {
        let names = HashMap::new();
        let waiting = post(json!({
            "number": 9, "title": "Leaked token in logs", "votesCount": 1, "status": "open",
            "isApproved": false
        }));
        assert!(post_to_record(&waiting, "s", &names).unwrap().held);
        let approved = post(json!({
            "number": 9, "title": "Leaked token in logs", "votesCount": 1, "status": "open",
            "isApproved": true
        }));
        assert!(!post_to_record(&approved, "s", &names).unwrap().held);
    }

    #[test]
    fn missing_or_unknown_values_are_shape_changes() {
        let names = HashMap::new();
        let unknown = post(json!({"number": 1, "title": "x", "votesCount": 0, "status": "paused"}));
        let e = post_to_record(&unknown, "s", &names).unwrap_err();
        assert_eq!(e.class, ErrorClass::Schema);
        assert!(e.message.contains("paused"), "{}", e.message);
        let no_votes = post(json!({"number": 1, "title": "x", "status": "open"}));
        assert!(
            post_to_record(&no_votes, "s", &names)
                .unwrap_err()
                .message
                .contains("votesCount")
        );
    }
}
