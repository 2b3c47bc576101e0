//! The HTTP face: `POST /graphql` on axum, with API faults in front of the
//! engine.
//!
//! Fault decisions are drawn in a fixed order for every request (5xx, then
//! RATELIMITED, then timeout) from one seeded [`Dice`], so a run under a seed
//! is repeatable. A "timeout" executes the request and then holds the answer
//! for `timeout_hold`: the client gives up, yet the write happened — exactly
//! the case idempotent create (client-provided ids) exists for. `lost` does
//! the same for executed mutations only, or resets the connection instead.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::mpsc::UnboundedSender;

use super::engine::{
    Attribution, Credentials, Engine, Limits, Reply, rate_headers, ratelimited, views,
};
use super::gqlerror::{GqlError, error_body};
use super::oauth::OAuthState;
use super::store::{Change, Store};
use crate::sim::drift::{self, DriftKind, Shape};
use crate::sim::faults::{ApiFaults, Dice, LostAnswer, reset_connection};

/// Request counters, for benchmarks and tests.
#[derive(Debug, Default)]
pub struct Counters {
    /// Every POST /graphql received.
    pub requests: AtomicU64,
    /// Answers that were RATELIMITED (budget or injected).
    pub rate_limited: AtomicU64,
    /// Injected 5xx answers.
    pub server_errors: AtomicU64,
    /// Injected timeouts.
    pub timeouts: AtomicU64,
    /// Requests per GraphQL operation name (`RoundtripIssueUpdate`, …),
    /// counted on arrival.
    pub by_operation: Mutex<std::collections::BTreeMap<String, u64>>,
    /// Answers still to be lost per operation name (a test control: the
    /// request runs, its answer is held past any client timeout).
    pub lose_answers: Mutex<std::collections::BTreeMap<String, u32>>,
    /// Executed mutations whose answer was lost (reset or withheld).
    pub lost: AtomicU64,
    /// Answers replaced by a changed shape (`drift`).
    pub drifted: AtomicU64,
    /// Requests refused with AUTHENTICATION_ERROR (bad, expired or revoked
    /// credentials).
    pub auth_refused: AtomicU64,
}

/// The operation name of a GraphQL request body (`mutation Name(…)`).
fn operation_name(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    if let Some(name) = v.get("operationName").and_then(serde_json::Value::as_str) {
        return Some(name.to_string());
    }
    let query = v.get("query")?.as_str()?.trim_start();
    let rest = query
        .strip_prefix("mutation")
        .or_else(|| query.strip_prefix("query"))?;
    let name: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// State shared by the handlers and the in-process API.
pub struct Shared {
    /// Simulator state.
    pub store: Arc<Mutex<Store>>,
    /// Budgets.
    pub limits: Mutex<Limits>,
    /// Accepted credentials.
    pub creds: Credentials,
    /// Injected API faults (changeable at runtime).
    pub faults: Mutex<ApiFaults>,
    /// How long a "timed out" request is held before its late answer.
    pub timeout_hold: Duration,
    /// Seeded fault decisions.
    pub dice: Dice,
    /// Counters.
    pub counters: Counters,
    /// Changes for the webhook sender.
    pub changes: UnboundedSender<Change>,
    /// The OAuth application, its codes, grants and tokens.
    pub oauth: Mutex<OAuthState>,
    /// Comments and attachments created as a named external user.
    pub attributions: Mutex<Vec<Attribution>>,
}

impl Shared {
    /// Hand changes to the webhook sender (a closed channel means shutdown).
    pub fn publish(&self, changes: Vec<Change>) {
        for c in changes {
            let _ = self.changes.send(c);
        }
    }
}

/// The router serving `POST /graphql` and the OAuth endpoints.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/graphql", post(graphql))
        .route("/oauth/authorize", get(super::oauth_http::authorize))
        .route("/oauth/token", post(super::oauth_http::token))
        .route("/oauth/revoke", post(super::oauth_http::revoke))
        .with_state(shared)
}

fn to_response(r: Reply) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, r.body.to_string()).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    for (k, v) in r.headers {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
    resp
}

async fn graphql(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    shared.counters.requests.fetch_add(1, Ordering::Relaxed);
    let operation = operation_name(&body);
    if let Some(op) = &operation {
        *shared
            .counters
            .by_operation
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(op.clone())
            .or_insert(0) += 1;
    }
    let faults = shared
        .faults
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    let server_error = shared.dice.chance(faults.server_error);
    let limited = shared.dice.chance(faults.rate_limited);
    let timeout = shared.dice.chance(faults.timeout);
    if server_error {
        shared
            .counters
            .server_errors
            .fetch_add(1, Ordering::Relaxed);
        let (r, c) = views(&shared.limits);
        return to_response(Reply {
            status: 503,
            body: error_body(&[GqlError::internal("Service unavailable")], None),
            headers: rate_headers(r, c, 0),
            rate_limited: false,
            mutated: false,
        });
    }
    if limited {
        shared.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
        return to_response(ratelimited(&shared.limits, 0));
    }
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let engine = Engine {
        store: &shared.store,
        limits: &shared.limits,
        creds: &shared.creds,
        oauth: &shared.oauth,
    };
    let (reply, changes, attributed) = engine.handle(auth, &body);
    if reply.status == shared.creds.auth_error_status
        && reply.body["errors"][0]["extensions"]["code"] == "AUTHENTICATION_ERROR"
    {
        shared.counters.auth_refused.fetch_add(1, Ordering::Relaxed);
    }
    shared.publish(changes);
    if !attributed.is_empty() {
        shared
            .attributions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(attributed);
    }
    if reply.rate_limited {
        shared.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
    }
    let lose = operation.as_ref().is_some_and(|op| {
        let mut lose = shared
            .counters
            .lose_answers
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match lose.get_mut(op) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    });
    if timeout || lose {
        shared.counters.timeouts.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(shared.timeout_hold).await;
    } else if reply.mutated
        && let Some(how) = shared.dice.lost(&faults)
    {
        shared.counters.lost.fetch_add(1, Ordering::Relaxed);
        match how {
            LostAnswer::Reset => return reset_connection(),
            LostAnswer::Withheld => tokio::time::sleep(shared.timeout_hold).await,
        }
    }
    if reply.status == 200 && shared.dice.chance(faults.drift) {
        shared.counters.drifted.fetch_add(1, Ordering::Relaxed);
        let kind = DriftKind::draw(&shared.dice);
        let d = drift::apply(&reply.body, kind, &LINEAR_SHAPE);
        let mut resp = (StatusCode::OK, d.body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(d.content_type),
        );
        for (k, v) in reply.headers {
            if let Ok(v) = HeaderValue::from_str(&v) {
                resp.headers_mut().insert(k, v);
            }
        }
        return resp;
    }
    to_response(reply)
}

/// What Linear's answers carry that clients need: issue fields, mutation
/// `success`, connection `nodes`; the enum is a workflow state's `type`.
const LINEAR_SHAPE: Shape = Shape {
    needed: &[
        "state",
        "title",
        "identifier",
        "success",
        "nodes",
        "updatedAt",
    ],
    enum_at: ("state", "type"),
    unknown_value: "paused",
};
