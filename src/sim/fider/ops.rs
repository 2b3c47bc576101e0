//! What each API route does to the site, with Fider's checks in Fider's
//! order (`app/handlers/apiv1`, `app/actions`, `app/services/sqlstore`):
//! who may call it, what is validated, what changes, which webhook fires.
//! Errors are the four kinds the HTTP layer renders.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::model::{
    PostStatus, Role, SimComment, SimPost, SimResponse, SimTag, SimUser, State, WebhookType, slug,
};
use super::render::{self, Prop, Props};

/// A refused request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 400 `{"errors": [{"field"?, "message"}]}` (field "" = general).
    Validation(Vec<(String, String)>),
    /// 401.
    Unauthorized,
    /// 403.
    Forbidden,
    /// 404.
    NotFound,
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::Validation(vec![(field.to_string(), message.to_string())])
}

/// A webhook to fire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Its type.
    pub kind: WebhookType,
    /// What its templates see.
    pub props: Props,
}

/// A request's effect.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The JSON answer.
    pub reply: Value,
    /// Webhooks to fire.
    pub events: Vec<Event>,
}

type Res = Result<Outcome, ApiError>;

fn ok(reply: Value) -> Res {
    Ok(Outcome {
        reply,
        events: Vec::new(),
    })
}

fn signed_in(caller: Option<&SimUser>) -> Result<&SimUser, ApiError> {
    caller.ok_or(ApiError::Unauthorized)
}

fn staff(caller: Option<&SimUser>) -> Result<&SimUser, ApiError> {
    let u = signed_in(caller)?;
    if u.role.is_staff() {
        Ok(u)
    } else {
        Err(ApiError::Forbidden)
    }
}

fn admin(caller: Option<&SimUser>) -> Result<&SimUser, ApiError> {
    let u = signed_in(caller)?;
    if u.role == Role::Administrator {
        Ok(u)
    } else {
        Err(ApiError::Forbidden)
    }
}

fn post_id(s: &State, number: i64) -> Result<i64, ApiError> {
    s.post_by_number(number)
        .map(|p| p.id)
        .ok_or(ApiError::NotFound)
}

fn text_arg(body: &Value, key: &str) -> String {
    body.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The query string of `GET /api/v1/posts`.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// Full-text query.
    pub query: String,
    /// View (default `all`).
    pub view: String,
    /// `all` or a number (default 30).
    pub limit: String,
    /// Tag slugs, any of them.
    pub tags: Vec<String>,
    /// Status names (unknown ones read as open, as Fider parses them).
    pub statuses: Vec<String>,
    /// Only posts the caller voted for.
    pub my_votes: bool,
    /// Only the caller's posts.
    pub my_posts: bool,
    /// Only untagged posts.
    pub no_tags: bool,
    /// `pending`, `approved` or anything else (all), for staff.
    pub moderation: String,
}

fn matches_query(p: &SimPost, query: &str) -> bool {
    let words: Vec<String> = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    if words.is_empty() {
        return false;
    }
    let text = format!("{} {}", p.title, p.description).to_lowercase();
    let have: Vec<&str> = text.split(|c: char| !c.is_alphanumeric()).collect();
    words
        .iter()
        .any(|w| have.iter().any(|h| h.starts_with(w.as_str())))
}

/// `GET /api/v1/posts` (`searchPosts`, `getViewData`, `buildPostQuery`).
pub fn search(s: &State, caller: Option<&SimUser>, q: &Search) -> Res {
    let is_staff = caller.is_some_and(|c| c.role.is_staff());
    let view = if q.view.is_empty() {
        "all"
    } else {
        q.view.as_str()
    };
    let mut statuses: Vec<PostStatus> = q
        .statuses
        .iter()
        .map(|n| PostStatus::parse_lenient(n))
        .collect();
    if statuses.is_empty() {
        statuses = vec![PostStatus::Open, PostStatus::Started, PostStatus::Planned];
    }
    let mut my_votes = q.my_votes;
    match view {
        "my-votes" => my_votes = true,
        "planned" => statuses = vec![PostStatus::Planned],
        "started" => statuses = vec![PostStatus::Started],
        "completed" => statuses = vec![PostStatus::Completed],
        "declined" => statuses = vec![PostStatus::Declined],
        "all" => {
            statuses = vec![
                PostStatus::Open,
                PostStatus::Started,
                PostStatus::Planned,
                PostStatus::Completed,
                PostStatus::Declined,
            ]
        }
        _ => {}
    }
    let approval = |p: &SimPost| match (caller, is_staff && !q.moderation.is_empty()) {
        (Some(_), true) => match q.moderation.as_str() {
            "pending" => !p.approved,
            "approved" => p.approved,
            _ => true,
        },
        (Some(c), false) => p.approved || p.user_id == c.id,
        (None, _) => p.approved,
    };
    let mut found: Vec<&SimPost> = s
        .posts
        .values()
        .filter(|p| p.status != PostStatus::Deleted && statuses.contains(&p.status))
        .filter(|p| approval(p))
        .filter(|p| !my_votes || caller.is_some_and(|c| s.votes.contains_key(&(p.id, c.id))))
        .filter(|p| !q.my_posts || caller.is_none_or(|c| p.user_id == c.id))
        .filter(|p| {
            let tags = s.tag_slugs(p.id, is_staff);
            if q.no_tags {
                tags.is_empty()
            } else {
                q.tags.is_empty() || tags.iter().any(|t| q.tags.contains(t))
            }
        })
        .filter(|p| q.query.is_empty() || matches_query(p, &q.query))
        .collect();
    match view {
        "most-wanted" => found.sort_by_key(|p| std::cmp::Reverse((s.votes_of(p.id), p.id))),
        "most-discussed" => found.sort_by_key(|p| std::cmp::Reverse((s.comment_count(p.id), p.id))),
        "all" | "recent" | "my-votes" => found.sort_by_key(|p| std::cmp::Reverse(p.id)),
        "planned" | "started" | "completed" | "declined" => {
            found.sort_by_key(|p| std::cmp::Reverse(p.response.as_ref().map(|r| r.responded_at)))
        }
        _ => found.sort_by_key(|p| {
            std::cmp::Reverse((s.votes_of(p.id) * 5 + s.comment_count(p.id) * 3, p.id))
        }),
    }
    let limit = match q.limit.as_str() {
        "all" => usize::MAX,
        other => other.parse::<usize>().unwrap_or(30),
    };
    ok(Value::Array(
        found
            .into_iter()
            .take(limit)
            .map(|p| render::post(s, p, caller))
            .collect(),
    ))
}

/// `GET /api/v1/posts/:number`: staff see unapproved posts too.
pub fn get_post(s: &State, caller: Option<&SimUser>, number: i64) -> Res {
    let p = s.post_by_number(number).ok_or(ApiError::NotFound)?;
    let visible = p.approved || caller.is_some_and(|c| c.role.is_staff() || c.id == p.user_id);
    if !visible {
        return Err(ApiError::NotFound);
    }
    ok(render::post(s, p, caller))
}

/// The title rule of `CreateNewPost.Validate`: length on the whitespace
/// collapsed title, then the slug of the title as sent.
fn check_title(
    s: &State,
    title: &str,
    normalise: bool,
    except: Option<i64>,
) -> Result<(), ApiError> {
    let measured = if normalise {
        title.split_whitespace().collect::<Vec<_>>().join(" ")
    } else {
        title.to_string()
    };
    if measured.is_empty() {
        return Err(invalid("title", "Title is required."));
    }
    if measured.len() < 10 {
        return Err(invalid("title", "Title needs to be more descriptive."));
    }
    if measured.len() > 100 {
        return Err(invalid(
            "title",
            "Title must have less than 100 characters.",
        ));
    }
    if let Some(other) = s.post_by_slug(&slug(title))
        && Some(other.id) != except
    {
        return Err(invalid("title", "This has already been posted before."));
    }
    Ok(())
}

fn add_vote(s: &mut State, post_id: i64, user_id: i64, now: DateTime<Utc>) {
    let votable = s.posts.get(&post_id).is_some_and(|p| p.status.votable());
    if votable {
        s.votes.entry((post_id, user_id)).or_insert(now);
    }
}

/// `POST /api/v1/posts`: the author votes for it at once; `new_post`.
pub fn create_post(
    s: &mut State,
    caller: Option<&SimUser>,
    body: &Value,
    now: DateTime<Utc>,
) -> Res {
    let user = signed_in(caller)?.clone();
    let title = text_arg(body, "title");
    let description = text_arg(body, "description");
    check_title(s, &title, true, None)?;
    let id = s.new_id();
    let number = s.next_number();
    let post = SimPost {
        id,
        number,
        slug: slug(&title),
        title,
        description,
        created: now,
        user_id: user.id,
        status: PostStatus::Open,
        response: None,
        original_id: None,
        approved: !s.moderation || user.role.is_staff(),
    };
    let reply = json!({
        "id": id,
        "number": number,
        "title": post.title,
        "slug": post.slug,
        "isApproved": post.approved,
    });
    s.posts.insert(id, post);
    add_vote(s, id, user.id, now);
    let props = s
        .posts
        .get(&id)
        .map(|p| render::props(s, p, Some(&user), false))
        .unwrap_or_default();
    Ok(Outcome {
        reply,
        events: vec![Event {
            kind: WebhookType::NewPost,
            props,
        }],
    })
}

/// `PUT /api/v1/posts/:number`: staff, or the author within an hour;
/// title and description both replaced. No webhook.
pub fn update_post(
    s: &mut State,
    caller: Option<&SimUser>,
    number: i64,
    body: &Value,
    now: DateTime<Utc>,
) -> Res {
    let user = signed_in(caller)?;
    let id = post_id(s, number)?;
    let p = s.posts.get(&id).ok_or(ApiError::NotFound)?;
    if !(user.role.is_staff() || (p.user_id == user.id && now - p.created <= Duration::hours(1))) {
        return Err(ApiError::Forbidden);
    }
    let title = text_arg(body, "title");
    let description = text_arg(body, "description");
    check_title(s, &title, false, Some(id))?;
    if let Some(p) = s.posts.get_mut(&id) {
        p.slug = slug(&title);
        p.title = title;
        p.description = description;
    }
    ok(json!({}))
}

fn status_event(s: &State, id: i64, caller: &SimUser, old: PostStatus) -> Option<Event> {
    let p = s.posts.get(&id)?;
    let mut props = render::props(s, p, Some(caller), true);
    props.insert("post_old_status".into(), Prop::Str(old.name().into()));
    Some(Event {
        kind: WebhookType::ChangeStatus,
        props,
    })
}

/// `PUT /api/v1/posts/:number/status` (staff): a status with its response
/// text, or `duplicate` with the original, which takes the voters.
/// Subscribers are notified and `change_status` fires only when the status
/// actually changed.
pub fn set_response(
    s: &mut State,
    caller: Option<&SimUser>,
    number: i64,
    body: &Value,
    now: DateTime<Utc>,
) -> Res {
    let user = staff(caller)?.clone();
    let status =
        PostStatus::parse_lenient(body.get("status").and_then(Value::as_str).unwrap_or(""));
    let text = text_arg(body, "text");
    let original_number = body
        .get("originalNumber")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if status == PostStatus::Deleted {
        return Err(invalid("status", "Status is invalid."));
    }
    let mut original = None;
    if status == PostStatus::Duplicate {
        let mut errors = Vec::new();
        if original_number == number {
            errors.push((
                "originalNumber".to_string(),
                "Cannot be a duplicate of itself.".to_string(),
            ));
        }
        match s.post_by_number(original_number) {
            Some(o) => original = Some(o.id),
            None => errors.push((
                "originalNumber".to_string(),
                "Original post not found.".to_string(),
            )),
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
    }
    let id = post_id(s, number)?;
    let previous = s
        .posts
        .get(&id)
        .map(|p| p.status)
        .ok_or(ApiError::NotFound)?;
    if let Some(original) = original {
        let voters: Vec<i64> = s
            .votes
            .keys()
            .filter(|(p, _)| *p == id)
            .map(|(_, u)| *u)
            .collect();
        for v in voters {
            add_vote(s, original, v, now);
        }
    }
    if let Some(p) = s.posts.get_mut(&id) {
        let responded_at = match &p.response {
            Some(r) if p.status == status => r.responded_at,
            _ => now,
        };
        p.response = Some(SimResponse {
            text: if original.is_some() {
                String::new()
            } else {
                text
            },
            responded_at,
            user_id: user.id,
        });
        p.original_id = original;
        p.status = status;
    }
    let mut events = Vec::new();
    if previous != status {
        s.notifications += 1;
        events.extend(status_event(s, id, &user, previous));
    }
    Ok(Outcome {
        reply: json!({}),
        events,
    })
}

/// `DELETE /api/v1/posts/:number` (administrators): status `deleted` with
/// the text as response; refused while a duplicate points at the post.
pub fn delete_post(
    s: &mut State,
    caller: Option<&SimUser>,
    number: i64,
    body: &Value,
    now: DateTime<Utc>,
) -> Res {
    let user = admin(caller)?.clone();
    let id = post_id(s, number)?;
    if s.posts.values().any(|p| p.original_id == Some(id)) {
        return Err(invalid(
            "",
            "This post cannot be deleted because it's being referenced by a duplicated post.",
        ));
    }
    if let Some(p) = s.posts.get_mut(&id) {
        p.status = PostStatus::Deleted;
        p.response = Some(SimResponse {
            text: text_arg(body, "text"),
            responded_at: now,
            user_id: user.id,
        });
    }
    let props = s
        .posts
        .get(&id)
        .map(|p| render::props(s, p, Some(&user), true))
        .unwrap_or_default();
    Ok(Outcome {
        reply: json!({}),
        events: vec![Event {
            kind: WebhookType::DeletePost,
            props,
        }],
    })
}

/// `GET /api/v1/posts/:number/comments`: newest first, no pagination.
pub fn list_comments(s: &State, number: i64) -> Res {
    let id = post_id(s, number)?;
    let mut list: Vec<&SimComment> = s
        .comments
        .values()
        .filter(|c| c.post_id == id && c.deleted_at.is_none())
        .collect();
    list.sort_by_key(|c| std::cmp::Reverse((c.created, c.id)));
    ok(Value::Array(
        list.into_iter().map(|c| render::comment(s, c)).collect(),
    ))
}

fn check_content(content: &str) -> Result<(), ApiError> {
    if content.is_empty() {
        return Err(invalid("content", "Comment is required."));
    }
    if content.len() > 4000 {
        return Err(invalid(
            "content",
            "Comment must have less than 4000 characters.",
        ));
    }
    Ok(())
}

/// `POST /api/v1/posts/:number/comments`; `new_comment`.
pub fn add_comment(
    s: &mut State,
    caller: Option<&SimUser>,
    number: i64,
    body: &Value,
    now: DateTime<Utc>,
) -> Res {
    let user = signed_in(caller)?.clone();
    let content = text_arg(body, "content");
    check_content(&content)?;
    let post = post_id(s, number)?;
    let id = s.new_id();
    s.comments.insert(
        id,
        SimComment {
            id,
            post_id: post,
            user_id: user.id,
            content: content.clone(),
            created: now,
            edited_at: None,
            deleted_at: None,
        },
    );
    let mut props = s
        .posts
        .get(&post)
        .map(|p| render::props(s, p, Some(&user), true))
        .unwrap_or_default();
    props.insert("comment".into(), Prop::Str(content));
    props.insert("comment_id".into(), Prop::Int(id));
    Ok(Outcome {
        reply: json!({"id": id}),
        events: vec![Event {
            kind: WebhookType::NewComment,
            props,
        }],
    })
}

/// Edit or soft-delete a comment: its author or staff; no webhook.
pub fn change_comment(
    s: &mut State,
    caller: Option<&SimUser>,
    number: i64,
    comment: i64,
    body: Option<&Value>,
    now: DateTime<Utc>,
) -> Res {
    let user = signed_in(caller)?;
    let found = s.post_by_number(number).is_some()
        && s.comments
            .get(&comment)
            .is_some_and(|c| c.deleted_at.is_none());
    let author = s.comments.get(&comment).map(|c| c.user_id);
    if !found || !(author == Some(user.id) || user.role.is_staff()) {
        return Err(ApiError::Forbidden);
    }
    if let Some(body) = body {
        let content = text_arg(body, "content");
        check_content(&content)?;
        if let Some(c) = s.comments.get_mut(&comment) {
            c.content = content;
            c.edited_at = Some(now);
        }
    } else if let Some(c) = s.comments.get_mut(&comment) {
        c.deleted_at = Some(now);
    }
    ok(json!({}))
}

/// `POST`/`DELETE /api/v1/posts/:number/votes`: the caller's own vote; a
/// no-op on completed, declined and duplicate posts.
pub fn vote(
    s: &mut State,
    caller: Option<&SimUser>,
    number: i64,
    on: bool,
    now: DateTime<Utc>,
) -> Res {
    let user = signed_in(caller)?.id;
    let id = post_id(s, number)?;
    if on {
        add_vote(s, id, user, now);
    } else if s.posts.get(&id).is_some_and(|p| p.status.votable()) {
        s.votes.remove(&(id, user));
    }
    ok(json!({}))
}

/// `GET /api/v1/posts/:number/votes`: every vote, oldest first; emails only
/// for staff.
pub fn list_votes(s: &State, caller: Option<&SimUser>, number: i64) -> Res {
    let id = post_id(s, number)?;
    let staff = caller.is_some_and(|c| c.role.is_staff());
    let mut votes: Vec<(&DateTime<Utc>, i64)> = s
        .votes
        .iter()
        .filter(|((p, _), _)| *p == id)
        .map(|((_, u), t)| (t, *u))
        .collect();
    votes.sort();
    ok(Value::Array(
        votes
            .into_iter()
            .filter_map(|(t, u)| s.users.get(&u).map(|u| (t, u)))
            .map(|(t, u)| {
                let mut user = json!({"id": u.id, "name": u.name});
                if staff {
                    user["email"] = json!(u.email);
                }
                json!({"user": user, "createdAt": super::model::json_time(*t)})
            })
            .collect(),
    ))
}

/// `GET /api/v1/tags`: private tags only for staff.
pub fn list_tags(s: &State, caller: Option<&SimUser>) -> Res {
    let is_staff = caller.is_some_and(|c| c.role.is_staff());
    ok(Value::Array(
        s.tags
            .values()
            .filter(|t| is_staff || t.public)
            .map(render::tag)
            .collect(),
    ))
}

/// `POST /api/v1/tags` (administrators).
pub fn create_tag(s: &mut State, caller: Option<&SimUser>, body: &Value) -> Res {
    admin(caller)?;
    let name = text_arg(body, "name");
    let color = text_arg(body, "color").to_uppercase();
    let mut errors = Vec::new();
    if name.is_empty() {
        errors.push(("name", "Name is required."));
    } else if name.len() > 30 {
        errors.push(("name", "Name must have less than 30 characters."));
    } else if s.tag_by_slug(&slug(&name)).is_some() {
        errors.push(("name", "This tag name is already in use."));
    }
    if color.is_empty() {
        errors.push(("color", "Color is required."));
    } else if color.len() != 6 {
        errors.push(("color", "Color must be exactly 6 characters."));
    } else if !color.chars().all(|c| c.is_ascii_hexdigit()) {
        errors.push(("color", "Color is invalid."));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(
            errors
                .into_iter()
                .map(|(f, m)| (f.to_string(), m.to_string()))
                .collect(),
        ));
    }
    let id = s.new_id();
    let tag = SimTag {
        id,
        slug: slug(&name),
        name,
        color,
        public: body
            .get("isPublic")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    let reply = render::tag(&tag);
    s.tags.insert(id, tag);
    ok(reply)
}

/// `POST`/`DELETE /api/v1/posts/:number/tags/:slug` (staff); assigning
/// twice or removing an absent tag is a no-op.
pub fn assign_tag(
    s: &mut State,
    caller: Option<&SimUser>,
    number: i64,
    tag: &str,
    on: bool,
) -> Res {
    staff(caller)?;
    let post = post_id(s, number)?;
    let tag = s.tag_by_slug(tag).map(|t| t.id).ok_or(ApiError::NotFound)?;
    if on {
        s.post_tags.insert((post, tag));
    } else {
        s.post_tags.remove(&(post, tag));
    }
    ok(json!({}))
}

/// `GET /api/v1/users` (staff): a page of users with their emails.
pub fn list_users(s: &State, caller: Option<&SimUser>, page: usize, limit: usize) -> Res {
    staff(caller)?;
    let limit = limit.clamp(1, 100);
    let all: Vec<&SimUser> = s.users.values().collect();
    let pages = all.len().div_ceil(limit).max(1);
    let users: Vec<Value> = all
        .iter()
        .skip(page.saturating_sub(1) * limit)
        .take(limit)
        .map(|u| {
            let mut v = render::user(Some(u));
            v["email"] = json!(u.email);
            v
        })
        .collect();
    ok(
        json!({"users": users, "totalCount": all.len(), "totalPages": pages, "page": page, "limit": limit}),
    )
}
