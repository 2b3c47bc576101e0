//! Shared plumbing for the simulator's endpoint handlers: the outcome of a
//! call (reply plus the webhooks it fires), Canny's error shape, and the
//! lookups every endpoint repeats.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::args::Args;
use super::model::{SimPost, State};

/// A failed call: Canny answers HTTP 400 with `{"error": message}` for auth,
/// validation and not-found alike (API-NOTES.md section 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct ApiError {
    /// HTTP status to answer with.
    pub status: u16,
    /// The `error` text.
    pub message: String,
}

/// A 400 with Canny's message.
pub fn bad(message: impl Into<String>) -> ApiError {
    ApiError {
        status: 400,
        message: message.into(),
    }
}

/// A webhook the call fires, before it is wrapped in Canny's envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Event type, e.g. `post.status_changed`.
    pub kind: &'static str,
    /// `post`, `comment` or `vote`.
    pub object_type: &'static str,
    /// The object as Canny sends it.
    pub object: Value,
}

/// What a successful call produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The JSON body to answer with (`"success"` is a JSON string).
    pub reply: Value,
    /// Webhooks to deliver after the state lock is released.
    pub events: Vec<Event>,
}

impl Outcome {
    /// A reply with no side effects.
    pub fn reply(reply: Value) -> Self {
        Outcome {
            reply,
            events: Vec::new(),
        }
    }

    /// Canny's bare `"success"` reply.
    pub fn success(events: Vec<Event>) -> Self {
        Outcome {
            reply: Value::String("success".into()),
            events,
        }
    }
}

/// Everything a handler needs besides the state.
pub struct Call<'a> {
    /// The merged request arguments.
    pub args: &'a Args,
    /// The time the simulator treats as now.
    pub now: DateTime<Utc>,
}

/// Look a post up by an argument holding its id.
pub fn post_arg<'s>(state: &'s State, args: &Args, key: &str) -> Result<&'s SimPost, ApiError> {
    args.nonempty(key)
        .and_then(|id| state.posts.get(&id))
        .ok_or_else(|| bad("invalid post id"))
}

/// A user id argument that must name an existing user.
pub fn user_arg(state: &State, args: &Args, key: &str, what: &str) -> Result<String, ApiError> {
    args.nonempty(key)
        .filter(|id| state.users.contains_key(id))
        .ok_or_else(|| bad(format!("invalid {what} id")))
}

/// `limit`/`skip` with Canny's defaults (10 and 0).
pub fn page(
    args: &Args,
    default_limit: usize,
    max_limit: usize,
) -> Result<(usize, usize), ApiError> {
    let limit = args
        .count("limit")
        .map_err(|e| bad(e.0))?
        .filter(|l| *l > 0)
        .unwrap_or(default_limit)
        .min(max_limit);
    let skip = args.count("skip").map_err(|e| bad(e.0))?.unwrap_or(0);
    Ok((limit, skip))
}

/// One page of a list plus whether more follows.
pub fn slice<T: Clone>(items: &[T], limit: usize, skip: usize) -> (Vec<T>, bool) {
    let page: Vec<T> = items.iter().skip(skip).take(limit).cloned().collect();
    let more = skip.saturating_add(limit) < items.len();
    (page, more)
}
