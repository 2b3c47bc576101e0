//! A tiny Linear stand-in for connector tests: an axum server on 127.0.0.1
//! answering each POST with whatever the test's closure says, and recording
//! every request (headers, document, variables) for later assertions.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// One request the connector sent.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Request headers.
    pub headers: HeaderMap,
    /// The GraphQL document.
    pub query: String,
    /// Its variables.
    pub variables: Value,
}

impl Seen {
    /// The operation name ("RoundtripViewer").
    pub fn op(&self) -> &str {
        self.query
            .split(['(', '{'])
            .next()
            .and_then(|h| h.split_whitespace().nth(1))
            .unwrap_or("")
    }
}

/// What the stub answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    pub delay: Option<Duration>,
}

impl Reply {
    /// 200 with a JSON body.
    pub fn ok(body: Value) -> Reply {
        Reply::status(200, body)
    }

    /// Any status with a JSON body.
    pub fn status(status: u16, body: Value) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.to_string(),
            delay: None,
        }
    }

    /// Any status with a raw body.
    pub fn raw(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.to_string(),
            delay: None,
        }
    }

    /// Add a header.
    pub fn header(mut self, name: &'static str, value: impl ToString) -> Reply {
        self.headers.push((name, value.to_string()));
        self
    }

    /// Answer only after `d`.
    pub fn delayed(mut self, d: Duration) -> Reply {
        self.delay = Some(d);
        self
    }
}

type Handler = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

#[derive(Clone)]
struct StubState {
    handler: Handler,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// A running stub.
pub struct Stub {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Stub {
    /// Start on an ephemeral loopback port.
    pub async fn start(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Stub {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state = StubState {
            handler: Arc::new(handler),
            seen: Arc::clone(&seen),
        };
        let app = Router::new()
            .route("/graphql", post(answer))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Stub {
            url: format!("http://{addr}/graphql"),
            seen,
            task,
        }
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Operation names of every request so far.
    pub fn ops(&self) -> Vec<String> {
        self.seen().iter().map(|s| s.op().to_string()).collect()
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(State(state): State<StubState>, headers: HeaderMap, body: Bytes) -> Response {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let seen = Seen {
        headers,
        query: v["query"].as_str().unwrap_or("").to_string(),
        variables: v.get("variables").cloned().unwrap_or(json!({})),
    };
    state.seen.lock().unwrap().push(seen.clone());
    let reply = (state.handler)(&seen);
    if let Some(d) = reply.delay {
        tokio::time::sleep(d).await;
    }
    let mut response = (
        StatusCode::from_u16(reply.status).unwrap(),
        reply.body.clone(),
    )
        .into_response();
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    for (k, v) in &reply.headers {
        response.headers_mut().insert(
            HeaderName::from_static(k),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    response
}

/// Canned answers for the team catalog: team ENG, four states, two labels.
pub fn catalog_reply(seen: &Seen) -> Option<Reply> {
    let page = |key: &str, nodes: Value| {
        Reply::ok(
            json!({"data": {key: {"nodes": nodes, "pageInfo": {"hasNextPage": false, "endCursor": null}}}}),
        )
    };
    Some(match seen.op() {
        "RoundtripTeams" => page(
            "teams",
            json!([{"id":"team-other","key":"OPS","name":"Ops"},{"id":"team-1","key":"ENG","name":"Engineering"}]),
        ),
        "RoundtripWorkflowStates" => page(
            "workflowStates",
            json!([
                {"id":"st-todo","name":"Todo","type":"unstarted","position":1,"team":{"id":"team-1"}},
                {"id":"st-prog","name":"In Progress","type":"started","position":2,"team":{"id":"team-1"}},
                {"id":"st-done","name":"Done","type":"completed","position":3,"team":{"id":"team-1"}},
                {"id":"st-x","name":"Elsewhere","type":"started","position":0,"team":{"id":"team-other"}}
            ]),
        ),
        "RoundtripIssueLabels" => page(
            "issueLabels",
            json!([
                {"id":"lb-bug","name":"Bug","isGroup":false,"team":{"id":"team-1"}},
                {"id":"lb-feat","name":"Feature","isGroup":false,"team":null}
            ]),
        ),
        _ => return None,
    })
}

/// An issue node as Linear would send it for our selections.
pub fn issue_node(id: &str, number: u32) -> Value {
    json!({
        "id": id, "identifier": format!("ENG-{number}"), "title": format!("Issue {number}"),
        "description": "Body", "priority": 2, "url": format!("https://linear.app/acme/issue/ENG-{number}"),
        "createdAt": "2026-11-20T10:00:00.000Z", "updatedAt": "2026-11-21T10:00:00.000Z",
        "archivedAt": null, "trashed": null, "labelIds": ["lb-bug"],
        "state": {"id": "st-todo", "name": "Todo", "type": "unstarted"}
    })
}
