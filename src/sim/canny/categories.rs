//! The simulator's `categories/*` endpoints (a board's product areas), with
//! the shapes of Canny's reference (API-NOTES.md section 5): `list` is
//! `{categories, hasMore}` paged by `limit`/`skip`, `retrieve` a Category,
//! `create` `{id}`, `delete` `"success"`.

use serde_json::{Value, json};

use super::model::{SimCategory, State};
use super::ops::{ApiError, Call, Outcome, bad, page, slice};
use super::render;

/// `categories/list`: optional `boardID`, oldest first.
pub fn list(state: &State, call: &Call) -> Result<Outcome, ApiError> {
    let board = call.args.nonempty("boardID");
    if let Some(b) = &board
        && !state.boards.contains_key(b)
    {
        return Err(bad("invalid board id"));
    }
    let mut rows: Vec<&SimCategory> = state
        .categories
        .values()
        .filter(|c| board.as_ref().is_none_or(|b| &c.board_id == b))
        .collect();
    rows.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
    let (limit, skip) = page(call.args, 10, 10_000)?;
    let (rows, more) = slice(&rows, limit, skip);
    let rendered: Vec<Value> = rows.iter().map(|c| render::category(state, c)).collect();
    Ok(Outcome::reply(
        json!({"categories": rendered, "hasMore": more}),
    ))
}

/// `categories/retrieve` by `id`.
pub fn retrieve(state: &State, call: &Call) -> Result<Outcome, ApiError> {
    let c = call
        .args
        .nonempty("id")
        .and_then(|id| state.categories.get(&id))
        .ok_or_else(|| bad("invalid category id"))?;
    Ok(Outcome::reply(render::category(state, c)))
}

/// `categories/create`: `boardID`, `name`, optional `parentID` on the same
/// board; `{id}`.
pub fn create(state: &mut State, call: &Call) -> Result<Outcome, ApiError> {
    let args = call.args;
    let board_id = args
        .nonempty("boardID")
        .filter(|b| state.boards.contains_key(b))
        .ok_or_else(|| bad("invalid board id"))?;
    let name = args
        .nonempty("name")
        .filter(|n| n.chars().count() <= 30)
        .ok_or_else(|| bad("invalid name"))?;
    let parent_id = match args.nonempty("parentID") {
        Some(p)
            if state
                .categories
                .get(&p)
                .is_some_and(|c| c.board_id == board_id) =>
        {
            Some(p)
        }
        Some(_) => return Err(bad("invalid parent id")),
        None => None,
    };
    let id = state.new_id();
    state.categories.insert(
        id.clone(),
        SimCategory {
            id: id.clone(),
            board_id,
            name,
            parent_id,
            created: call.now,
        },
    );
    Ok(Outcome::reply(json!({ "id": id })))
}

/// `categories/delete` by `categoryID`: posts in it lose their category.
pub fn delete(state: &mut State, call: &Call) -> Result<Outcome, ApiError> {
    let id = call
        .args
        .nonempty("categoryID")
        .filter(|id| state.categories.contains_key(id))
        .ok_or_else(|| bad("invalid category id"))?;
    state.categories.remove(&id);
    for p in state.posts.values_mut() {
        if p.category_id.as_deref() == Some(id.as_str()) {
            p.category_id = None;
        }
    }
    Ok(Outcome::success(Vec::new()))
}
