//! The simulator's cursor-paged v2 endpoints (`/api/v2/...`), beside v1:
//! `users/list` → `{users, hasNextPage, cursor}`, `companies/list` →
//! `{companies, ...}`, and `comments/list`, `votes/list`,
//! `status_changes/list` → `{items, hasNextPage, cursor}` (API-NOTES.md
//! section 6). Pass the previous page's `cursor` to get the next; the cursor
//! is opaque to clients.

use base64::Engine as _;
use serde_json::{Value, json};

use super::model::State;
use super::ops::{ApiError, Call, Outcome, bad};
use super::render;

/// Largest v2 page.
const MAX_LIMIT: usize = 100;

/// Every v2 endpoint the simulator serves.
pub const ENDPOINTS: &[&str] = &[
    "users/list",
    "companies/list",
    "comments/list",
    "votes/list",
    "status_changes/list",
];

fn offset(call: &Call) -> Result<usize, ApiError> {
    let Some(c) = call.args.nonempty("cursor") else {
        return Ok(0);
    };
    base64::engine::general_purpose::STANDARD
        .decode(c.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("offset:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| bad("invalid cursor"))
}

fn cursor(next: usize) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("offset:{next}"))
}

/// One page of `rows` under `key`.
fn page(call: &Call, key: &str, rows: Vec<Value>) -> Result<Outcome, ApiError> {
    let limit = call
        .args
        .count("limit")
        .map_err(|e| bad(e.0))?
        .filter(|l| *l > 0)
        .unwrap_or(MAX_LIMIT)
        .min(MAX_LIMIT);
    let start = offset(call)?;
    let end = (start + limit).min(rows.len());
    let items: Vec<Value> = rows.get(start..end).unwrap_or_default().to_vec();
    let more = end < rows.len();
    Ok(Outcome::reply(json!({
        key: items,
        "hasNextPage": more,
        "cursor": more.then(|| cursor(end)),
    })))
}

/// Run one v2 endpoint; `None` when it does not exist.
pub fn dispatch(state: &State, endpoint: &str, call: &Call) -> Option<Result<Outcome, ApiError>> {
    let args = call.args;
    let board = args.nonempty("boardID");
    let post = args.nonempty("postID");
    if let Some(b) = &board
        && !state.boards.contains_key(b)
    {
        return Some(Err(bad("invalid board id")));
    }
    if let Some(p) = &post
        && !state.posts.contains_key(p)
    {
        return Some(Err(bad("invalid post id")));
    }
    let on_board = |post_id: &str| {
        board
            .as_ref()
            .is_none_or(|b| state.posts.get(post_id).is_some_and(|p| &p.board_id == b))
    };
    let for_post = |post_id: &str| post.as_ref().is_none_or(|p| p == post_id);
    Some(match endpoint {
        "users/list" => page(
            call,
            "users",
            state
                .users
                .values()
                .map(|u| render::user(state, u))
                .collect(),
        ),
        "companies/list" => page(call, "companies", Vec::new()),
        "comments/list" => {
            let author = args.nonempty("authorID");
            let mut rows: Vec<_> = state
                .comments
                .values()
                .filter(|c| for_post(&c.post_id) && on_board(&c.post_id))
                .filter(|c| author.as_ref().is_none_or(|a| &c.author_id == a))
                .collect();
            rows.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
            let items = rows
                .into_iter()
                .map(|c| {
                    let mut v = render::comment(state, c);
                    v["status"] = Value::Null;
                    v
                })
                .collect();
            page(call, "items", items)
        }
        "votes/list" => {
            let user = args.nonempty("userID");
            let mut rows: Vec<_> = state
                .votes
                .iter()
                .filter(|((p, v), _)| {
                    for_post(p) && on_board(p) && user.as_ref().is_none_or(|u| u == v)
                })
                .collect();
            rows.sort_by(|a, b| b.1.1.cmp(&a.1.1).then(b.1.0.cmp(&a.1.0)));
            let items = rows
                .into_iter()
                .map(|((p, v), (id, at))| render::vote(state, id, p, v, *at))
                .collect();
            page(call, "items", items)
        }
        "status_changes/list" => {
            let mut rows: Vec<_> = state
                .status_changes
                .iter()
                .filter(|c| for_post(&c.post_id) && on_board(&c.post_id))
                .collect();
            rows.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
            let items = rows
                .into_iter()
                .map(|c| render::status_change(state, c))
                .collect();
            page(call, "items", items)
        }
        _ => return None,
    })
}
