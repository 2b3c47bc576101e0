//! The simulator's changelog: `entries/create` and `entries/list`, with the
//! arguments and shapes the published clients type (docs/vendors/canny.md,
//! "Changelog"). `create` takes `title`, `details` (markdown), `type`
//! (`new`, `improved`, `fixed`), `published` (default false: a draft),
//! `scheduledFor` (ISO 8601) and `postIDs`, and answers `{id}`; `list`
//! pages `{entries, hasMore}` by `limit`/`skip`, unpublished entries first
//! unless `sort` says otherwise. There is no endpoint to change or delete
//! an entry, and no webhook fires for one.

use serde_json::{Value, json};

use super::model::{SimEntry, State};
use super::ops::{ApiError, Call, Outcome, bad, page, slice};
use super::render;

const TYPES: [&str; 3] = ["new", "improved", "fixed"];

/// `entries/create`.
pub fn create(state: &mut State, call: &Call) -> Result<Outcome, ApiError> {
    let args = call.args;
    let title = args.nonempty("title").ok_or_else(|| bad("invalid title"))?;
    let details = args.str("details").ok_or_else(|| bad("invalid details"))?;
    let types = match args.nonempty("type") {
        Some(t) if TYPES.contains(&t.as_str()) => vec![t],
        Some(_) => return Err(bad("invalid type")),
        None => Vec::new(),
    };
    let post_ids = args.list("postIDs").unwrap_or_default();
    if post_ids.iter().any(|p| !state.posts.contains_key(p)) {
        return Err(bad("invalid post id"));
    }
    let scheduled_for = match args.nonempty("scheduledFor") {
        Some(t) => Some(
            chrono::DateTime::parse_from_rfc3339(&t)
                .map_err(|_| bad("invalid scheduledFor"))?
                .with_timezone(&chrono::Utc),
        ),
        None => None,
    };
    let published = args.bool("published").unwrap_or(false);
    let id = state.new_id();
    state.entries.insert(
        id.clone(),
        SimEntry {
            id: id.clone(),
            title,
            details,
            types,
            post_ids,
            created: call.now,
            published_at: (published && scheduled_for.is_none()).then_some(call.now),
            scheduled_for,
        },
    );
    Ok(Outcome::reply(json!({ "id": id })))
}

/// `entries/list`: optional `type`, `sort` (`created`, `lastSaved`,
/// `nonPublishedFirst` (default), `publishedAt`), `limit`, `skip`.
pub fn list(state: &State, call: &Call) -> Result<Outcome, ApiError> {
    let args = call.args;
    let kind = args.nonempty("type");
    let sort = args
        .nonempty("sort")
        .unwrap_or_else(|| "nonPublishedFirst".into());
    let mut rows: Vec<&SimEntry> = state
        .entries
        .values()
        .filter(|e| kind.as_ref().is_none_or(|k| e.types.contains(k)))
        .collect();
    let newest = |a: &&SimEntry, b: &&SimEntry| b.created.cmp(&a.created).then(b.id.cmp(&a.id));
    match sort.as_str() {
        "created" | "lastSaved" => rows.sort_by(newest),
        "publishedAt" => rows.sort_by(|a, b| {
            b.published_at
                .cmp(&a.published_at)
                .then_with(|| newest(a, b))
        }),
        "nonPublishedFirst" => rows.sort_by(|a, b| {
            a.published_at
                .is_some()
                .cmp(&b.published_at.is_some())
                .then_with(|| newest(a, b))
        }),
        _ => return Err(bad("invalid sort")),
    }
    let (limit, skip) = page(args, 10, 10_000)?;
    let (rows, more) = slice(&rows, limit, skip);
    let rendered: Vec<Value> = rows.iter().map(|e| render::entry(state, e)).collect();
    Ok(Outcome::reply(
        json!({"entries": rendered, "hasMore": more}),
    ))
}
