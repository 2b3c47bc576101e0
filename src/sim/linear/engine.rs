//! One GraphQL request from raw body to reply, independent of HTTP.
//!
//! The order mirrors what a client can observe from Linear: authentication
//! first, then the request budget, then parsing and validation, the
//! complexity cap, the complexity budget, and finally execution. Rate-limit
//! headers go on every reply. Locks are taken and released inside this
//! synchronous function, so no lock is ever held across an `.await`.

use std::sync::Mutex;

use apollo_compiler::ExecutableDocument;
use apollo_compiler::executable::OperationType;
use apollo_compiler::response::JsonMap;
use serde_json::{Map, Value, json};

use super::complexity::{MAX_COMPLEXITY, complexity};
use super::exec::Executor;
use super::gqlerror::{GqlError, error_body};
use super::oauth::{OAuthState, TokenActor};
use super::ratelimit::{Bucket, BucketView};
use super::resolve::{Obj, RateInfo, Sim};
use super::store::{Change, Store};

/// The request and complexity budgets of the (single) API user.
#[derive(Debug)]
pub struct Limits {
    /// Requests per hour.
    pub requests: Bucket,
    /// Complexity points per hour.
    pub complexity: Bucket,
}

/// Who may call the API.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Personal API key, sent bare: `Authorization: <key>`.
    pub api_key: String,
    /// OAuth access tokens, sent as `Authorization: Bearer <token>`.
    pub access_tokens: Vec<String>,
    /// HTTP status of AUTHENTICATION_ERROR replies (Linear fixtures show 400 and 401).
    pub auth_error_status: u16,
}

/// A finished reply.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: Value,
    /// Rate-limit headers.
    pub headers: Vec<(&'static str, String)>,
    /// Whether this was refused as RATELIMITED.
    pub rate_limited: bool,
    /// Whether a mutation was executed (so losing the answer loses news
    /// of a write that happened).
    pub mutated: bool,
}

/// Whether an `Authorization` header value is accepted.
pub fn authorized(creds: &Credentials, header: Option<&str>) -> bool {
    let Some(h) = header.map(str::trim).filter(|h| !h.is_empty()) else {
        return false;
    };
    match h
        .strip_prefix("Bearer ")
        .or_else(|| h.strip_prefix("bearer "))
    {
        Some(token) => creds.access_tokens.iter().any(|t| t == token.trim()),
        None => h == creds.api_key,
    }
}

/// The seven rate-limit headers.
pub fn rate_headers(req: BucketView, cx: BucketView, cost: u64) -> Vec<(&'static str, String)> {
    vec![
        ("X-RateLimit-Requests-Limit", req.limit.to_string()),
        ("X-RateLimit-Requests-Remaining", req.remaining.to_string()),
        ("X-RateLimit-Requests-Reset", req.reset_ms.to_string()),
        ("X-Complexity", cost.to_string()),
        ("X-RateLimit-Complexity-Limit", cx.limit.to_string()),
        ("X-RateLimit-Complexity-Remaining", cx.remaining.to_string()),
        ("X-RateLimit-Complexity-Reset", cx.reset_ms.to_string()),
    ]
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Current bucket views without spending anything.
pub fn views(limits: &Mutex<Limits>) -> (BucketView, BucketView) {
    let mut l = lock(limits);
    (l.requests.view(), l.complexity.view())
}

fn reply(status: u16, body: Value, limits: &Mutex<Limits>, cost: u64) -> Reply {
    let (r, c) = views(limits);
    Reply {
        status,
        body,
        headers: rate_headers(r, c, cost),
        rate_limited: false,
        mutated: false,
    }
}

/// The RATELIMITED reply (HTTP 400, as Linear sends it).
pub fn ratelimited(limits: &Mutex<Limits>, cost: u64) -> Reply {
    let mut r = reply(
        400,
        error_body(&[GqlError::ratelimited()], None),
        limits,
        cost,
    );
    r.rate_limited = true;
    r
}

/// Everything a request needs from the simulator.
pub struct Engine<'a> {
    /// Simulator state.
    pub store: &'a Mutex<Store>,
    /// Budgets.
    pub limits: &'a Mutex<Limits>,
    /// Accepted credentials.
    pub creds: &'a Credentials,
    /// Tokens issued through the OAuth endpoints.
    pub oauth: &'a Mutex<OAuthState>,
}

/// What a request's credential allows beyond reading and writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerKind {
    /// A personal API key or a user-actor OAuth token.
    User,
    /// An OAuth token granted with `actor=app`.
    App,
}

/// Something the request created with `createAsUser` (app actor only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    /// Id of the comment or attachment.
    pub entity_id: String,
    /// `createAsUser`.
    pub name: String,
    /// `displayIconUrl`.
    pub icon_url: Option<String>,
}

impl Engine<'_> {
    fn spend_request(&self) -> bool {
        let mut l = lock(self.limits);
        if l.requests.can_take(1) {
            l.requests.take(1);
            true
        } else {
            false
        }
    }

    /// Who the `Authorization` header speaks for: the static credentials,
    /// or a token from the OAuth endpoints that is neither expired nor
    /// revoked.
    fn caller(&self, auth: Option<&str>) -> Option<CallerKind> {
        if authorized(self.creds, auth) {
            return Some(CallerKind::User);
        }
        let token = auth?
            .trim()
            .strip_prefix("Bearer ")
            .or_else(|| auth?.trim().strip_prefix("bearer "))?
            .trim();
        match lock(self.oauth).accepts(token)? {
            TokenActor::User => Some(CallerKind::User),
            TokenActor::App => Some(CallerKind::App),
        }
    }

    /// Handle one POST /graphql. Returns the reply, the data changes it made
    /// and what it created on behalf of named external users.
    pub fn handle(
        &self,
        auth: Option<&str>,
        body: &[u8],
    ) -> (Reply, Vec<Change>, Vec<Attribution>) {
        let Some(caller) = self.caller(auth) else {
            return (
                reply(
                    self.creds.auth_error_status,
                    error_body(&[GqlError::auth()], None),
                    self.limits,
                    0,
                ),
                Vec::new(),
                Vec::new(),
            );
        };
        if !self.spend_request() {
            return (ratelimited(self.limits, 0), Vec::new(), Vec::new());
        }
        match self.run(body, caller) {
            Ok((reply, changes, attributed)) => (reply, changes, attributed),
            Err(r) => (r, Vec::new(), Vec::new()),
        }
    }

    fn fail(&self, errors: Vec<GqlError>, cost: u64) -> Reply {
        reply(400, error_body(&errors, None), self.limits, cost)
    }

    fn run(
        &self,
        body: &[u8],
        caller: CallerKind,
    ) -> Result<(Reply, Vec<Change>, Vec<Attribution>), Reply> {
        let req: Value = serde_json::from_slice(body).map_err(|e| {
            self.fail(
                vec![GqlError::validation(format!("Invalid JSON body: {e}"))],
                0,
            )
        })?;
        let query = req.get("query").and_then(Value::as_str).ok_or_else(|| {
            self.fail(vec![GqlError::validation("Must provide query string.")], 0)
        })?;
        let op_name = req.get("operationName").and_then(Value::as_str);
        let raw_vars = match req.get("variables") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => {
                return Err(self.fail(
                    vec![GqlError::validation("Variables must be an object.")],
                    0,
                ));
            }
        };
        let schema = super::schema::schema().map_err(|e| {
            reply(
                500,
                error_body(&[GqlError::internal(e.to_string())], None),
                self.limits,
                0,
            )
        })?;
        let doc = ExecutableDocument::parse_and_validate(schema, query, "request.graphql")
            .map_err(|with| {
                let errs = with
                    .errors
                    .iter()
                    .map(|d| {
                        let j = d.to_json();
                        let mut e = GqlError::validation(j.message);
                        e.locations = j.locations.iter().map(|l| (l.line, l.column)).collect();
                        e
                    })
                    .collect();
                self.fail(errs, 0)
            })?;
        let op = doc
            .operations
            .get(op_name)
            .map_err(|e| self.fail(vec![GqlError::validation(e.message().to_string())], 0))?;
        let vars_in: JsonMap = serde_json::from_value(Value::Object(raw_vars))
            .map_err(|e| self.fail(vec![GqlError::validation(e.to_string())], 0))?;
        let coerced = apollo_compiler::request::coerce_variable_values(schema, op, &vars_in)
            .map_err(|e| self.fail(vec![GqlError::validation(e.message().to_string())], 0))?;
        let vars = match serde_json::to_value(coerced.into_inner()) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let mut ex = Executor::new(schema, &doc, &vars);
        let cost = complexity(&ex, &op.selection_set);
        if cost > MAX_COMPLEXITY {
            return Err(self.fail(vec![GqlError::input("Query too complex")], cost));
        }
        let rate = {
            let mut l = lock(self.limits);
            if !l.complexity.can_take(cost) {
                drop(l);
                return Err(ratelimited(self.limits, cost));
            }
            l.complexity.take(cost);
            RateInfo {
                requests: l.requests.view(),
                complexity: l.complexity.view(),
                cost,
            }
        };
        let (root, root_type) = match op.operation_type {
            OperationType::Query => (Obj::Query, "Query"),
            OperationType::Mutation => (Obj::Mutation, "Mutation"),
            OperationType::Subscription => {
                return Err(self.fail(
                    vec![GqlError::validation(
                        "Subscriptions are not supported over HTTP",
                    )],
                    cost,
                ));
            }
        };
        let (data, changes, attributed) = {
            let mut store = lock(self.store);
            let mut sim = Sim {
                store: &mut store,
                rate,
                caller,
                attributed: Vec::new(),
            };
            let serial = op.operation_type == OperationType::Mutation;
            let data = ex.execute_root(&mut sim, root, root_type, &op.selection_set, serial);
            let attributed = std::mem::take(&mut sim.attributed);
            (data, std::mem::take(&mut store.pending), attributed)
        };
        let mut body = json!({ "data": data.clone().unwrap_or(Value::Null) });
        if !ex.errors.is_empty() {
            body["errors"] = ex.errors.iter().map(GqlError::to_json).collect();
        }
        let status = if data.is_none() { 400 } else { 200 };
        let mut out = reply(status, body, self.limits, cost);
        out.mutated = op.operation_type == OperationType::Mutation;
        Ok((out, changes, attributed))
    }
}
