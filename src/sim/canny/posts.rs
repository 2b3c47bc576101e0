//! The simulator's `posts/*` endpoints, with Canny's defaults and quirks:
//! `posts/list` hides complete/closed posts unless asked, `change_status`
//! needs an admin changer and posts `commentValue` as a comment even when the
//! status does not change (why a blind retry duplicates it), writes answer
//! `"success"` (API-NOTES.md sections 5 and 7).

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::model::{
    DEFAULT_LIST_STATUSES, ListCache, SimComment, SimPost, SimStatusChange, State, slug,
};
use super::ops::{ApiError, Call, Event, Outcome, bad, page, post_arg, slice, user_arg};
use super::render;

fn post_event(state: &State, kind: &'static str, post_id: &str) -> Option<Event> {
    state.posts.get(post_id).map(|p| Event {
        kind,
        object_type: "post",
        object: render::post(state, p),
    })
}

/// `posts/list`: filters, sort, `limit`/`skip`, `{posts, hasMore}`.
///
/// The filtered, sorted id list is cached until the state changes (or the
/// query does), so paging through N posts sorts once, not once per page;
/// pages come out exactly as a fresh filter and sort would give them.
pub fn list(state: &mut State, call: &Call) -> Result<Outcome, ApiError> {
    let args = call.args;
    if let Some(b) = args.nonempty("boardID")
        && !state.boards.contains_key(&b)
    {
        return Err(bad("invalid board id"));
    }
    let statuses: Vec<String> = match args.list("status") {
        Some(list) if !list.is_empty() => list,
        _ => DEFAULT_LIST_STATUSES
            .iter()
            .map(|s| s.to_string())
            .collect(),
    };
    let board = args.nonempty("boardID");
    let author = args.nonempty("authorID");
    let tag_ids = args.list("tagIDs").unwrap_or_default();
    let search = args.nonempty("search").map(|s| s.to_lowercase());
    let sort = args.nonempty("sort").unwrap_or_else(|| "newest".into());
    if !matches!(
        sort.as_str(),
        "newest" | "relevance" | "oldest" | "score" | "trending" | "statusChanged"
    ) {
        return Err(bad("invalid sort"));
    }
    let (limit, skip) = page(args, 10, 10_000)?;
    // Debug formatting keeps the parts apart (no separator can collide).
    let key = format!("{board:?}|{author:?}|{statuses:?}|{tag_ids:?}|{search:?}|{sort}");
    let cached = state
        .list_cache
        .as_ref()
        .filter(|c| c.version == state.version && c.posts == state.posts.len() && c.key == key)
        .map(|c| c.ids.clone());
    let ids = match cached {
        Some(ids) => ids,
        None => {
            let ids = Arc::new(filter_and_sort(
                state,
                board.as_deref(),
                author.as_deref(),
                &statuses,
                &tag_ids,
                search.as_deref(),
                &sort,
            ));
            state.list_cache = Some(ListCache {
                version: state.version,
                posts: state.posts.len(),
                key,
                ids: ids.clone(),
            });
            ids
        }
    };
    let (rows, more) = slice(&ids, limit, skip);
    let state: &State = state;
    let rendered: Vec<Value> = rows
        .iter()
        .filter_map(|id| state.posts.get(id))
        .map(|p| render::post(state, p))
        .collect();
    Ok(Outcome::reply(json!({"posts": rendered, "hasMore": more})))
}

/// Ids of the posts matching the `posts/list` filters, in `sort` order
/// (already validated).
fn filter_and_sort(
    state: &State,
    board: Option<&str>,
    author: Option<&str>,
    statuses: &[String],
    tag_ids: &[String],
    search: Option<&str>,
    sort: &str,
) -> Vec<String> {
    let mut posts: Vec<&SimPost> = state
        .posts
        .values()
        .filter(|p| !p.unlisted && board.is_none_or(|b| p.board_id == b))
        .filter(|p| author.is_none_or(|a| p.author_id.as_deref() == Some(a)))
        .filter(|p| statuses.iter().any(|s| s == &p.status))
        .filter(|p| tag_ids.is_empty() || p.tag_ids.iter().any(|t| tag_ids.contains(t)))
        .filter(|p| {
            search.is_none_or(|q| {
                p.title.to_lowercase().contains(q) || p.details.to_lowercase().contains(q)
            })
        })
        .collect();
    let newest = |a: &&SimPost, b: &&SimPost| b.created.cmp(&a.created).then(b.id.cmp(&a.id));
    match sort {
        "oldest" => posts.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id))),
        "score" | "trending" => posts.sort_by(|a, b| {
            b.voter_ids
                .len()
                .cmp(&a.voter_ids.len())
                .then_with(|| newest(a, b))
        }),
        "statusChanged" => posts.sort_by(|a, b| {
            b.status_changed_at
                .cmp(&a.status_changed_at)
                .then_with(|| newest(a, b))
        }),
        _ => posts.sort_by(newest),
    }
    posts.into_iter().map(|p| p.id.clone()).collect()
}

/// `posts/retrieve` by `id`, or by `boardID` + `urlName`.
pub fn retrieve(state: &State, call: &Call) -> Result<Outcome, ApiError> {
    let args = call.args;
    let post = match (
        args.nonempty("id"),
        args.nonempty("boardID"),
        args.nonempty("urlName"),
    ) {
        (Some(id), _, _) => state.posts.get(&id),
        (None, Some(board), Some(url_name)) => state
            .posts
            .values()
            .find(|p| p.board_id == board && p.url_name == url_name),
        _ => None,
    }
    .ok_or_else(|| bad("invalid post id"))?;
    Ok(Outcome::reply(render::post(state, post)))
}

fn parse_eta(text: &str) -> Result<(u32, i32), ApiError> {
    let (m, y) = text.split_once('/').ok_or_else(|| bad("invalid eta"))?;
    let m: u32 = m.parse().map_err(|_| bad("invalid eta"))?;
    let y: i32 = y.parse().map_err(|_| bad("invalid eta"))?;
    if (1..=12).contains(&m) && (1000..=9999).contains(&y) {
        Ok((m, y))
    } else {
        Err(bad("invalid eta"))
    }
}

fn custom_fields(
    state: &mut State,
    map: Map<String, Value>,
) -> Result<Vec<(String, String, String)>, ApiError> {
    let mut out = Vec::new();
    for (name, value) in map {
        let value = match value {
            Value::String(s) => s,
            other => other.to_string(),
        };
        if name.chars().count() > 30 || value.chars().count() >= 200 {
            return Err(bad("invalid custom fields"));
        }
        out.push((state.new_id(), name, value));
    }
    Ok(out)
}

/// `posts/create`: returns `{id}` and fires `post.created`.
pub fn create(state: &mut State, call: &Call) -> Result<Outcome, ApiError> {
    let args = call.args;
    let author = user_arg(state, args, "authorID", "author")?;
    let board_id = args
        .nonempty("boardID")
        .filter(|b| state.boards.contains_key(b))
        .ok_or_else(|| bad("invalid board id"))?;
    let title = args.nonempty("title").ok_or_else(|| bad("invalid title"))?;
    let details = args.str("details").ok_or_else(|| bad("invalid details"))?;
    let by_id = match args.nonempty("byID") {
        Some(_) => Some(user_arg(state, args, "byID", "by")?),
        None => None,
    };
    let eta = match args.nonempty("eta") {
        Some(e) => Some(parse_eta(&e)?),
        None => None,
    };
    let fields = match args.object("customFields") {
        Some(m) => custom_fields(state, m)?,
        None => Vec::new(),
    };
    let category_id = category_arg(state, args, &board_id)?;
    let id = state.new_id();
    // A moderating board holds a non-admin's post until an admin approves
    // it (UNVERIFIED: docs/vendors/canny.md, "Moderation").
    let held = state.boards.get(&board_id).is_some_and(|b| b.moderated)
        && !state.users.get(&author).is_some_and(|u| u.is_admin);
    let unlisted = state.unlist_next_created > 0 || held;
    state.unlist_next_created = state.unlist_next_created.saturating_sub(1);
    let post = SimPost {
        id: id.clone(),
        board_id,
        author_id: Some(author),
        by_id,
        url_name: slug(&title),
        title,
        details,
        status: "open".into(),
        tag_ids: Vec::new(),
        voter_ids: Vec::new(),
        created: call.now,
        status_changed_at: call.now,
        eta,
        image_urls: args.list("imageURLs").unwrap_or_default(),
        custom_fields: fields,
        linear_issue_ids: Vec::new(),
        merge_history: Vec::new(),
        category_id,
        jira_issues: Vec::new(),
        unlisted,
        awaiting_approval: held,
    };
    state.insert_post(post);
    let events = if held {
        Vec::new()
    } else {
        post_event(state, "post.created", &id).into_iter().collect()
    };
    Ok(Outcome {
        reply: json!({"id": id}),
        events,
    })
}

/// `posts/update`: title, details, eta, imageURLs, customFields; `"success"`.
pub fn update(state: &mut State, call: &Call) -> Result<Outcome, ApiError> {
    let args = call.args;
    let id = post_arg(state, args, "postID")?.id.clone();
    let title = match args.str("title") {
        Some(t) if t.is_empty() => return Err(bad("invalid title")),
        t => t,
    };
    let eta = match args.nonempty("eta") {
        Some(e) => Some(parse_eta(&e)?),
        None => None,
    };
    let fields = match args.object("customFields") {
        Some(m) => Some(custom_fields(state, m)?),
        None => None,
    };
    let Some(post) = state.posts.get_mut(&id) else {
        return Err(bad("invalid post id"));
    };
    let before = post.clone();
    if let Some(t) = title {
        post.title = t;
    }
    if let Some(d) = args.str("details") {
        post.details = d;
    }
    if eta.is_some() {
        post.eta = eta;
    }
    if let Some(urls) = args.list("imageURLs") {
        post.image_urls = urls;
    }
    if let Some(f) = fields {
        post.custom_fields = f;
    }
    let changed = *post != before;
    let events = if changed {
        post_event(state, "post.edited", &id).into_iter().collect()
    } else {
        Vec::new()
    };
    Ok(Outcome::success(events))
}

/// `posts/change_status`: admin-only; same status records nothing, but a
/// `commentValue` is still posted; returns the Post with `changeComment`.
pub fn change_status(state: &mut State, call: &Call) -> Result<Outcome, ApiError> {
    let args = call.args;
    let id = post_arg(state, args, "postID")?.id.clone();
    let changer = user_arg(state, args, "changerID", "changer")?;
    if !state.users.get(&changer).is_some_and(|u| u.is_admin) {
        return Err(bad("changer must be an admin"));
    }
    let status = args
        .nonempty("status")
        .ok_or_else(|| bad("invalid status"))?;
    if !state.is_status(&status) {
        return Err(bad("invalid status"));
    }
    let notify = args
        .bool("shouldNotifyVoters")
        .ok_or_else(|| bad("shouldNotifyVoters is required"))?;
    let comment_value = args.nonempty("commentValue");
    let image_urls = args.list("commentImageURLs").unwrap_or_default();
    let mut events = Vec::new();
    let Some(post) = state.posts.get_mut(&id) else {
        return Err(bad("invalid post id"));
    };
    let changed = post.status != status;
    if changed {
        post.status = status.clone();
        post.status_changed_at = call.now;
    }
    if changed {
        let change_id = state.new_id();
        state.status_changes.push(SimStatusChange {
            id: change_id,
            post_id: id.clone(),
            changer_id: changer.clone(),
            status,
            notified: notify,
            created: call.now,
        });
    }
    let change_comment = comment_value.as_ref().map_or(
        Value::Null,
        |v| json!({"value": v, "imageURLs": image_urls}),
    );
    if changed && let Some(p) = state.posts.get(&id) {
        let mut object = render::post(state, p);
        if let Value::Object(m) = &mut object {
            let changer_json = state
                .users
                .get(&changer)
                .map_or(Value::Null, |u| render::user(state, u));
            m.insert("changer".into(), changer_json);
            m.insert("changedAt".into(), render::time(call.now));
            m.insert("changeComment".into(), change_comment.clone());
        }
        events.push(Event {
            kind: "post.status_changed",
            object_type: "post",
            object,
        });
    }
    if let Some(value) = comment_value {
        let cid = state.new_id();
        let c = SimComment {
            id: cid.clone(),
            post_id: id.clone(),
            author_id: changer,
            value,
            internal: false,
            parent_id: None,
            image_urls,
            created: call.now,
        };
        state.insert_comment(c);
        if let Some(c) = state.comments.get(&cid) {
            events.push(Event {
                kind: "comment.created",
                object_type: "comment",
                object: render::comment(state, c),
            });
        }
    }
    let mut reply = state
        .posts
        .get(&id)
        .map_or(Value::Null, |p| render::post(state, p));
    if let Value::Object(m) = &mut reply {
        m.insert("changeComment".into(), change_comment);
    }
    Ok(Outcome { reply, events })
}

/// `posts/delete`: removes the post with its comments and votes, fires
/// `post.deleted` (Post + `deletedBy`).
pub fn delete(state: &mut State, call: &Call) -> Result<Outcome, ApiError> {
    let id = post_arg(state, call.args, "postID")?.id.clone();
    let mut object = state
        .posts
        .get(&id)
        .map_or(Value::Null, |p| render::post(state, p));
    if let Value::Object(m) = &mut object {
        m.insert("deletedBy".into(), Value::Null);
    }
    state.remove_post(&id);
    Ok(Outcome::success(vec![Event {
        kind: "post.deleted",
        object_type: "post",
        object,
    }]))
}

/// `posts/add_tag` and `posts/remove_tag`: return the Post; fire an event
/// only when the tag set changed.
pub fn tag(state: &mut State, call: &Call, add: bool) -> Result<Outcome, ApiError> {
    let args = call.args;
    let post = post_arg(state, args, "postID")?;
    let id = post.id.clone();
    let board = post.board_id.clone();
    let tag_id = args
        .nonempty("tagID")
        .filter(|t| state.tags.get(t).is_some_and(|t| t.board_id == board))
        .ok_or_else(|| bad("invalid tag id"))?;
    if !state.posts.contains_key(&id) {
        return Err(bad("invalid post id"));
    }
    let kind = match (state.set_post_tag(&id, &tag_id, add), add) {
        (true, true) => Some("post.tag_added"),
        (true, false) => Some("post.tag_removed"),
        (false, _) => None,
    };
    let events = kind
        .and_then(|k| post_event(state, k, &id))
        .into_iter()
        .collect();
    let reply = state
        .posts
        .get(&id)
        .map_or(Value::Null, |p| render::post(state, p));
    Ok(Outcome { reply, events })
}

/// A `categoryID` argument: absent or null means none; otherwise it must
/// name a category of `board`.
fn category_arg(
    state: &State,
    args: &super::args::Args,
    board: &str,
) -> Result<Option<String>, ApiError> {
    match args.nonempty("categoryID") {
        Some(c)
            if state
                .categories
                .get(&c)
                .is_some_and(|cat| cat.board_id == board) =>
        {
            Ok(Some(c))
        }
        Some(_) => Err(bad("invalid category id")),
        None => Ok(None),
    }
}

/// `posts/change_category`: `categoryID` (null or absent clears it);
/// returns the Post.
pub fn change_category(state: &mut State, call: &Call) -> Result<Outcome, ApiError> {
    let args = call.args;
    let post = post_arg(state, args, "postID")?;
    let (id, board) = (post.id.clone(), post.board_id.clone());
    let category = category_arg(state, args, &board)?;
    if let Some(p) = state.posts.get_mut(&id) {
        p.category_id = category;
    }
    let reply = state
        .posts
        .get(&id)
        .map_or(Value::Null, |p| render::post(state, p));
    Ok(Outcome::reply(reply))
}
