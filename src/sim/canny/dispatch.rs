//! Routes `<resource>/<verb>` to the simulator's endpoint handlers. One
//! table, so the HTTP layer and the scripted "human on the portal" edits run
//! exactly the same code and fire the same webhooks.

use super::model::State;
use super::ops::{ApiError, Call, Outcome};
use super::{categories, entries, others, posts, v2};

/// Every endpoint the simulator serves, for docs and 404 decisions.
pub const ENDPOINTS: &[&str] = &[
    "boards/list",
    "boards/retrieve",
    "posts/list",
    "posts/retrieve",
    "posts/create",
    "posts/update",
    "posts/change_status",
    "posts/delete",
    "posts/add_tag",
    "posts/remove_tag",
    "posts/change_category",
    "categories/list",
    "categories/retrieve",
    "categories/create",
    "categories/delete",
    "comments/list",
    "comments/retrieve",
    "comments/create",
    "comments/delete",
    "tags/list",
    "tags/retrieve",
    "tags/create",
    "users/list",
    "users/retrieve",
    "votes/create",
    "votes/delete",
    "entries/create",
    "entries/list",
];

/// Run one v2 endpoint (`/api/v2/<endpoint>`); `None` when unknown. All
/// v2 endpoints are reads.
pub fn dispatch_v2(
    state: &mut State,
    endpoint: &str,
    call: &Call,
) -> Option<Result<Outcome, ApiError>> {
    v2::dispatch(state, endpoint, call)
}

/// Run one endpoint against the state. `None` when the endpoint is unknown.
pub fn dispatch(
    state: &mut State,
    endpoint: &str,
    call: &Call,
) -> Option<Result<Outcome, ApiError>> {
    // Reads never change the state; anything else may, so it invalidates
    // the derived caches (the `posts/list` order) up front.
    if !(endpoint.ends_with("/list") || endpoint.ends_with("/retrieve")) {
        state.touch();
    }
    Some(match endpoint {
        "boards/list" => Ok(others::boards_list(state)),
        "boards/retrieve" => others::boards_retrieve(state, call),
        "posts/list" => posts::list(state, call),
        "posts/retrieve" => posts::retrieve(state, call),
        "posts/create" => posts::create(state, call),
        "posts/update" => posts::update(state, call),
        "posts/change_status" => posts::change_status(state, call),
        "posts/delete" => posts::delete(state, call),
        "posts/add_tag" => posts::tag(state, call, true),
        "posts/remove_tag" => posts::tag(state, call, false),
        "posts/change_category" => posts::change_category(state, call),
        "categories/list" => categories::list(state, call),
        "categories/retrieve" => categories::retrieve(state, call),
        "categories/create" => categories::create(state, call),
        "categories/delete" => categories::delete(state, call),
        "comments/list" => others::comments_list(state, call),
        "comments/retrieve" => others::comments_retrieve(state, call),
        "comments/create" => others::comments_create(state, call),
        "comments/delete" => others::comments_delete(state, call),
        "tags/list" => others::tags_list(state, call),
        "tags/retrieve" => others::tags_retrieve(state, call),
        "tags/create" => others::tags_create(state, call),
        "users/list" => others::users_list(state, call),
        "users/retrieve" => others::users_retrieve(state, call),
        "votes/create" => others::vote(state, call, true),
        "votes/delete" => others::vote(state, call, false),
        "entries/create" => entries::create(state, call),
        "entries/list" => entries::list(state, call),
        _ => return None,
    })
}
