//! The simulator's boards, comments, tags, users and votes endpoints, with
//! Canny's list shapes: `boards/list` unpaginated, `comments/list` newest
//! first with `hasMore`, v1 `users/list` a bare array (API-NOTES.md section 5).

use serde_json::{Value, json};

use super::model::{SimComment, SimTag, State};
use super::ops::{ApiError, Call, Event, Outcome, bad, page, post_arg, slice, user_arg};
use super::render;

/// `boards/list`: `{boards}`, no `hasMore`.
pub fn boards_list(state: &State) -> Outcome {
    let boards: Vec<Value> = state
        .boards
        .values()
        .map(|b| render::board(state, b))
        .collect();
    Outcome::reply(json!({"boards": boards}))
}

/// `boards/retrieve` by `id`.
pub fn boards_retrieve(state: &State, call: &Call) -> Result<Outcome, ApiError> {
    let b = call
        .args
        .nonempty("id")
        .and_then(|id| state.boards.get(&id))
        .ok_or_else(|| bad("invalid board id"))?;
    Ok(Outcome::reply(render::board(state, b)))
}

/// `comments/list`: filters, newest first, `{comments, hasMore}`.
pub fn comments_list(state: &State, call: &Call) -> Result<Outcome, ApiError> {
    let args = call.args;
    let post = args.nonempty("postID");
    if let Some(p) = &post
        && !state.posts.contains_key(p)
    {
        return Err(bad("invalid post id"));
    }
    let board = args.nonempty("boardID");
    let author = args.nonempty("authorID");
    let mut rows: Vec<&SimComment> = state
        .comments
        .values()
        .filter(|c| post.as_ref().is_none_or(|p| &c.post_id == p))
        .filter(|c| author.as_ref().is_none_or(|a| &c.author_id == a))
        .filter(|c| {
            board.as_ref().is_none_or(|b| {
                state
                    .posts
                    .get(&c.post_id)
                    .is_some_and(|p| &p.board_id == b)
            })
        })
        .collect();
    rows.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
    let (limit, skip) = page(args, 10, 10_000)?;
    let (rows, more) = slice(&rows, limit, skip);
    let rendered: Vec<Value> = rows.iter().map(|c| render::comment(state, c)).collect();
    Ok(Outcome::reply(
        json!({"comments": rendered, "hasMore": more}),
    ))
}

/// `comments/retrieve` by `id`.
pub fn comments_retrieve(state: &State, call: &Call) -> Result<Outcome, ApiError> {
    let c = call
        .args
        .nonempty("id")
        .and_then(|id| state.comments.get(&id))
        .ok_or_else(|| bad("invalid comment id"))?;
    Ok(Outcome::reply(render::comment(state, c)))
}

/// `comments/create`: `{id}`, fires `comment.created`.
pub fn comments_create(state: &mut State, call: &Call) -> Result<Outcome, ApiError> {
    let args = call.args;
    let author = user_arg(state, args, "authorID", "author")?;
    let post_id = post_arg(state, args, "postID")?.id.clone();
    let value = args.str("value").unwrap_or_default();
    let images = args.list("imageURLs").unwrap_or_default();
    if (value.is_empty() && images.is_empty()) || value.chars().count() >= 2_500 {
        return Err(bad("invalid value"));
    }
    let parent = args.nonempty("parentID");
    if let Some(p) = &parent
        && state.comments.get(p).is_none_or(|c| c.post_id != post_id)
    {
        return Err(bad("invalid parent id"));
    }
    let internal = args.bool("internal").unwrap_or(false);
    if internal && !state.internal_comments {
        return Err(bad("plan does not support internal comments"));
    }
    let id = state.new_id();
    state.insert_comment(SimComment {
        id: id.clone(),
        post_id,
        author_id: author,
        value,
        internal,
        parent_id: parent,
        image_urls: images,
        created: call.now,
    });
    let events = comment_event(state, "comment.created", &id)
        .into_iter()
        .collect();
    Ok(Outcome {
        reply: json!({"id": id}),
        events,
    })
}

/// The webhook for a comment, rendered from current state.
pub fn comment_event(state: &State, kind: &'static str, id: &str) -> Option<Event> {
    state.comments.get(id).map(|c| Event {
        kind,
        object_type: "comment",
        object: render::comment(state, c),
    })
}

/// `comments/delete` by `commentID`: `"success"`, fires `comment.deleted`.
pub fn comments_delete(state: &mut State, call: &Call) -> Result<Outcome, ApiError> {
    let id = call
        .args
        .nonempty("commentID")
        .filter(|id| state.comments.contains_key(id))
        .ok_or_else(|| bad("invalid comment id"))?;
    let event = comment_event(state, "comment.deleted", &id);
    state.remove_comment(&id);
    Ok(Outcome::success(event.into_iter().collect()))
}

/// `tags/list`: `{tags, hasMore}`.
pub fn tags_list(state: &State, call: &Call) -> Result<Outcome, ApiError> {
    let board = call.args.nonempty("boardID");
    let rows: Vec<&SimTag> = state
        .tags
        .values()
        .filter(|t| board.as_ref().is_none_or(|b| &t.board_id == b))
        .collect();
    let (limit, skip) = page(call.args, 10, 10_000)?;
    let (rows, more) = slice(&rows, limit, skip);
    let rendered: Vec<Value> = rows.iter().map(|t| render::tag(state, t)).collect();
    Ok(Outcome::reply(json!({"tags": rendered, "hasMore": more})))
}

/// `tags/retrieve` by `id`.
pub fn tags_retrieve(state: &State, call: &Call) -> Result<Outcome, ApiError> {
    let t = call
        .args
        .nonempty("id")
        .and_then(|id| state.tags.get(&id))
        .ok_or_else(|| bad("invalid tag id"))?;
    Ok(Outcome::reply(render::tag(state, t)))
}

/// `tags/create`: `boardID`, `name` (1–30 chars); returns the Tag. A name
/// already on the board returns that tag rather than a twin.
pub fn tags_create(state: &mut State, call: &Call) -> Result<Outcome, ApiError> {
    let board_id = call
        .args
        .nonempty("boardID")
        .filter(|b| state.boards.contains_key(b))
        .ok_or_else(|| bad("invalid board id"))?;
    let name = call
        .args
        .nonempty("name")
        .filter(|n| n.chars().count() <= 30)
        .ok_or_else(|| bad("invalid name"))?;
    if let Some(t) = state
        .tags
        .values()
        .find(|t| t.board_id == board_id && t.name == name)
    {
        return Ok(Outcome::reply(render::tag(state, t)));
    }
    let id = state.new_id();
    let t = SimTag {
        id: id.clone(),
        board_id,
        name,
        created: call.now,
    };
    state.tags.insert(id, t.clone());
    Ok(Outcome::reply(render::tag(state, &t)))
}

/// v1 `users/list`: a bare array, `limit` at most 100, no `hasMore`.
pub fn users_list(state: &State, call: &Call) -> Result<Outcome, ApiError> {
    let (limit, skip) = page(call.args, 10, 100)?;
    let users: Vec<Value> = state
        .users
        .values()
        .skip(skip)
        .take(limit)
        .map(|u| render::user(state, u))
        .collect();
    Ok(Outcome::reply(Value::Array(users)))
}

/// `users/retrieve` by `id`, `userID` or `email`.
pub fn users_retrieve(state: &State, call: &Call) -> Result<Outcome, ApiError> {
    let args = call.args;
    let found = if let Some(id) = args.nonempty("id") {
        state.users.get(&id)
    } else if let Some(email) = args.nonempty("email") {
        state
            .users
            .values()
            .find(|u| u.email.as_deref() == Some(email.as_str()))
    } else {
        None
    };
    let u = found.ok_or_else(|| bad("invalid user"))?;
    Ok(Outcome::reply(render::user(state, u)))
}

/// `votes/create` (idempotent) and `votes/delete`: `"success"`; fire
/// `vote.created` / `vote.deleted` only when something changed.
pub fn vote(state: &mut State, call: &Call, create: bool) -> Result<Outcome, ApiError> {
    let post_id = post_arg(state, call.args, "postID")?.id.clone();
    let voter = user_arg(state, call.args, "voterID", "voter")?;
    let key = (post_id.clone(), voter.clone());
    let mut events = Vec::new();
    if create && !state.votes.contains_key(&key) {
        let id = state.new_id();
        state.votes.insert(key, (id.clone(), call.now));
        if let Some(p) = state.posts.get_mut(&post_id) {
            p.voter_ids.push(voter.clone());
        }
        events.push(Event {
            kind: "vote.created",
            object_type: "vote",
            object: render::vote(state, &id, &post_id, &voter, call.now),
        });
    } else if !create && let Some((id, created)) = state.votes.remove(&key) {
        if let Some(p) = state.posts.get_mut(&post_id) {
            p.voter_ids.retain(|v| v != &voter);
        }
        events.push(Event {
            kind: "vote.deleted",
            object_type: "vote",
            object: render::vote(state, &id, &post_id, &voter, created),
        });
    }
    Ok(Outcome::success(events))
}
