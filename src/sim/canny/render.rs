//! Canny's JSON shapes for the simulator's objects (API-NOTES.md section 4):
//! the wire format is the contract the connector is tested against, so every
//! field Canny documents is present, and `updated` never is.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::model::{
    SimBoard, SimCategory, SimComment, SimEntry, SimPost, SimStatusChange, SimTag, SimUser, State,
};

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// ISO 8601 with milliseconds and `Z`, as Canny writes dates.
pub fn time(t: DateTime<Utc>) -> Value {
    Value::String(t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// "Month YYYY", the read-back form of an ETA written as `MM/YYYY`.
pub fn eta(e: Option<(u32, i32)>) -> Value {
    match e {
        Some((m, y)) if (1..=12).contains(&m) => {
            Value::String(format!("{} {y}", MONTHS[(m - 1) as usize]))
        }
        _ => Value::Null,
    }
}

/// A User object.
pub fn user(state: &State, u: &SimUser) -> Value {
    json!({
        "id": u.id,
        "userID": Value::Null,
        "name": u.name,
        "email": u.email,
        "isAdmin": u.is_admin,
        "created": time(u.created),
        "url": format!("{}/admin/users/{}", state.site_url, u.id),
        "avatarURL": Value::Null,
        "lastActivity": time(u.created),
        "alias": u.name,
        "customFields": {},
        "companies": [],
    })
}

fn user_by_id(state: &State, id: Option<&String>) -> Value {
    id.and_then(|id| state.users.get(id))
        .map_or(Value::Null, |u| user(state, u))
}

/// A Board object.
pub fn board(state: &State, b: &SimBoard) -> Value {
    let post_count = state.board_post_count(&b.id);
    json!({
        "id": b.id,
        "created": time(b.created),
        "isPrivate": false,
        "name": b.name,
        "postCount": post_count,
        "privateComments": false,
        "token": format!("tok-{}", b.id),
        "url": format!("{}/admin/board/{}", state.site_url, super::model::slug(&b.name)),
    })
}

fn board_by_id(state: &State, id: &str) -> Value {
    state
        .boards
        .get(id)
        .map_or(Value::Null, |b| board(state, b))
}

/// A Tag object.
pub fn tag(state: &State, t: &SimTag) -> Value {
    let post_count = state.tag_post_count(&t.id);
    json!({
        "id": t.id,
        "board": board_by_id(state, &t.board_id),
        "created": time(t.created),
        "name": t.name,
        "postCount": post_count,
        "url": format!("{}/admin/board?tags={}", state.site_url, t.name),
    })
}

/// A Category object.
pub fn category(state: &State, c: &SimCategory) -> Value {
    let board = state.boards.get(&c.board_id);
    let post_count = state
        .posts
        .values()
        .filter(|p| p.category_id.as_deref() == Some(c.id.as_str()))
        .count();
    json!({
        "id": c.id,
        "board": board.map_or(Value::Null, |b| self::board(state, b)),
        "created": time(c.created),
        "name": c.name,
        "parentID": c.parent_id,
        "postCount": post_count,
        "url": format!(
            "{}/admin/board/{}?category={}",
            state.site_url,
            board.map(|b| super::model::slug(&b.name)).unwrap_or_default(),
            super::model::slug(&c.name)
        ),
    })
}

/// A full Post object.
pub fn post(state: &State, p: &SimPost) -> Value {
    let tags: Vec<Value> = p
        .tag_ids
        .iter()
        .filter_map(|id| state.tags.get(id))
        .map(|t| tag(state, t))
        .collect();
    let custom: Vec<Value> = p
        .custom_fields
        .iter()
        .map(|(id, name, value)| json!({"id": id, "name": name, "value": value}))
        .collect();
    let jira: Vec<Value> = p
        .jira_issues
        .iter()
        .map(|j| json!({"id": j.id, "key": j.key, "url": format!("https://jira.example/browse/{}", j.key)}))
        .collect();
    let jira_ids: Vec<&String> = p.jira_issues.iter().map(|j| &j.id).collect();
    json!({
        "id": p.id,
        "author": user_by_id(state, p.author_id.as_ref()),
        "by": user_by_id(state, p.by_id.as_ref()),
        "board": board_by_id(state, &p.board_id),
        "category": p.category_id.as_ref().and_then(|c| state.categories.get(c)).map_or(Value::Null, |c| category(state, c)),
        "clickup": {"linkedTasks": []},
        "commentCount": state.comment_count(&p.id),
        "created": time(p.created),
        "customFields": custom,
        "details": p.details,
        "eta": eta(p.eta),
        "idea": Value::Null,
        "imageURLs": p.image_urls,
        "jira": {"linkedIssues": jira, "linkedIssueIDs": jira_ids},
        "linear": {"linkedIssueIDs": p.linear_issue_ids},
        "mergeHistory": p.merge_history.iter().map(|m| json!({
            "created": time(m.merged_at),
            "post": {
                "created": time(m.created),
                "details": m.details,
                "id": m.id,
                "imageURLs": m.image_urls,
                "title": m.title,
            },
        })).collect::<Vec<_>>(),
        "owner": Value::Null,
        "roadmaps": [],
        "score": p.voter_ids.len(),
        "status": p.status,
        "statusChangedAt": time(p.status_changed_at),
        "tags": tags,
        "title": p.title,
        "totalMRR": 0,
        "url": state.post_url(p),
    })
}

/// A changelog Entry object (the shape the published clients type).
pub fn entry(state: &State, e: &SimEntry) -> Value {
    let status = match (e.published_at, e.scheduled_for) {
        (Some(_), _) => "published",
        (None, Some(_)) => "scheduled",
        (None, None) => "draft",
    };
    let posts: Vec<Value> = e
        .post_ids
        .iter()
        .filter_map(|id| state.posts.get(id))
        .map(|p| post(state, p))
        .collect();
    let plain: String = e
        .details
        .chars()
        .filter(|c| !matches!(c, '#' | '*' | '_' | '`' | '[' | ']'))
        .collect();
    json!({
        "id": e.id,
        "created": time(e.created),
        "labels": [],
        "lastSaved": time(e.created),
        "markdownDetails": e.details,
        "plaintextDetails": plain,
        "posts": posts,
        "publishedAt": e.published_at.map_or(Value::Null, time),
        "reactions": {"like": 0},
        "scheduledFor": e.scheduled_for.map_or(Value::Null, time),
        "status": status,
        "title": e.title,
        "types": e.types,
        "url": format!("{}/changelog/{}", state.site_url, super::model::slug(&e.title)),
    })
}

/// The trimmed post embedded in comments and votes.
fn post_trimmed(state: &State, post_id: &str) -> Value {
    match state.posts.get(post_id) {
        Some(p) => json!({
            "id": p.id,
            "title": p.title,
            "details": p.details,
            "status": p.status,
            "score": p.voter_ids.len(),
            "commentCount": state.comment_count(&p.id),
            "url": state.post_url(p),
            "category": Value::Null,
            "eta": eta(p.eta),
            "imageURLs": p.image_urls,
            "tags": p.tag_ids.iter().filter_map(|id| state.tags.get(id)).map(|t| json!({"id": t.id, "name": t.name})).collect::<Vec<_>>(),
        }),
        None => json!({"id": post_id}),
    }
}

/// A Comment object.
pub fn comment(state: &State, c: &SimComment) -> Value {
    let board_id = state
        .posts
        .get(&c.post_id)
        .map(|p| p.board_id.clone())
        .unwrap_or_default();
    json!({
        "id": c.id,
        "author": user_by_id(state, Some(&c.author_id)),
        "board": board_by_id(state, &board_id),
        "created": time(c.created),
        "imageURLs": c.image_urls,
        "internal": c.internal,
        "likeCount": 0,
        "mentions": [],
        "parentID": c.parent_id,
        "post": post_trimmed(state, &c.post_id),
        "private": false,
        "reactions": {"like": 0},
        "value": c.value,
    })
}

/// A StatusChange object (v2 `status_changes/list`).
pub fn status_change(state: &State, c: &SimStatusChange) -> Value {
    json!({
        "id": c.id,
        "changer": user_by_id(state, Some(&c.changer_id)),
        "changeComment": Value::Null,
        "created": time(c.created),
        "post": post_trimmed(state, &c.post_id),
        "status": c.status,
    })
}

/// A Vote object (webhooks add the post's `score` beside it).
pub fn vote(
    state: &State,
    vote_id: &str,
    post_id: &str,
    voter_id: &str,
    created: DateTime<Utc>,
) -> Value {
    let board_id = state
        .posts
        .get(post_id)
        .map(|p| p.board_id.clone())
        .unwrap_or_default();
    let score = state.posts.get(post_id).map_or(0, |p| p.voter_ids.len());
    json!({
        "id": vote_id,
        "board": board_by_id(state, &board_id),
        "by": Value::Null,
        "created": time(created),
        "post": post_trimmed(state, post_id),
        "voter": user_by_id(state, Some(&voter_id.to_string())),
        "votePriority": "No priority",
        "zendeskTicket": Value::Null,
        "score": score,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_reads_back_as_month_name() {
        assert_eq!(eta(Some((6, 2026))), json!("June 2026"));
        assert_eq!(eta(Some((13, 2026))), Value::Null);
        assert_eq!(eta(None), Value::Null);
    }
}
