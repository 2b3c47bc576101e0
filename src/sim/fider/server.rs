//! The simulator's HTTP face, in the order Fider's middleware chain runs
//! (`app/cmd/routes.go`): faults; the `Authorization: Bearer` key (unknown,
//! or not a collaborator's or administrator's: 400 "API Key is invalid";
//! `X-Fider-UserID` impersonation for administrators; blocked users 401);
//! the CSRF rule (a write without `application/json` in `Accept` or
//! `Content-Type` is 403); the JSON body binder; then the route. Errors are
//! `{}` with their status for AJAX requests and an HTML page otherwise,
//! except validation failures, always `{"errors": […]}`. A write that was
//! applied may then lose its answer (`lost`), and any answer may drift.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{Value, json};

use super::model::SimUser;
use super::ops::{self, ApiError, Outcome, Search};
use super::shared::{Shared, lock};
use crate::sim::drift::{self, DriftKind, Shape};
use crate::sim::faults::{LostAnswer, RequestFault, reset_connection};

/// The router serving the site.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

/// What Fider's answers carry that clients need; `status` is a closed set
/// of names, so an unknown one is felt.
const FIDER_SHAPE: Shape = Shape {
    needed: &["number", "title", "status", "votesCount", "content", "slug"],
    enum_at: ("status", "status"),
    unknown_value: "paused",
};

fn html(status: StatusCode, title: &str) -> Response {
    let page = format!(
        "<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response()
}

fn json_reply(status: StatusCode, v: Value) -> Response {
    (status, axum::Json(v)).into_response()
}

/// 401/403/404/500 as Fider's `Context` renders them.
fn page(status: StatusCode, ajax: bool) -> Response {
    if ajax {
        return json_reply(status, json!({}));
    }
    let title = match status {
        StatusCode::UNAUTHORIZED => "Unauthorized",
        StatusCode::FORBIDDEN => "Forbidden",
        StatusCode::NOT_FOUND => "Page Not Found",
        _ => "Shoot! Well, this is unexpected…",
    };
    html(status, title)
}

fn validation(items: &[(String, String)]) -> Response {
    let errors: Vec<Value> = items
        .iter()
        .map(|(f, m)| {
            if f.is_empty() {
                json!({"message": m})
            } else {
                json!({"field": f, "message": m})
            }
        })
        .collect();
    json_reply(StatusCode::BAD_REQUEST, json!({ "errors": errors }))
}

fn error(e: &ApiError, ajax: bool) -> Response {
    match e {
        ApiError::Validation(items) => validation(items),
        ApiError::Unauthorized => page(StatusCode::UNAUTHORIZED, ajax),
        ApiError::Forbidden => page(StatusCode::FORBIDDEN, ajax),
        ApiError::NotFound => page(StatusCode::NOT_FOUND, ajax),
    }
}

fn general(message: &str) -> Response {
    validation(&[(String::new(), message.to_string())])
}

/// Who the request acts as (`middlewares/user.go`), or the answer that
/// refuses it.
/// A request refused before its route ran (boxed: a response is large).
type Refused = Box<Response>;

fn caller(shared: &Shared, headers: &HeaderMap) -> Result<Option<SimUser>, Refused> {
    let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(None);
    };
    let parts: Vec<&str> = auth.split("Bearer").collect();
    if parts.len() != 2 {
        return Ok(None);
    }
    let key = parts[1].trim();
    let state = lock(&shared.state);
    let user = match state.user_by_key(key) {
        Some(u) if u.role.is_staff() => u.clone(),
        _ => return Err(Box::new(general("API Key is invalid"))),
    };
    let user = match headers.get("x-fider-userid").and_then(|v| v.to_str().ok()) {
        None => user,
        Some(_) if user.role != super::model::Role::Administrator => {
            return Err(Box::new(general(
                "Only Administrators are allowed to impersonate another user",
            )));
        }
        Some(raw) => match raw
            .trim()
            .parse::<i64>()
            .ok()
            .and_then(|id| state.users.get(&id))
        {
            Some(u) => u.clone(),
            None => {
                return Err(Box::new(general(&format!(
                    "User not found for given impersonate UserID '{raw}'"
                ))));
            }
        },
    };
    if user.blocked {
        return Err(Box::new(page(StatusCode::UNAUTHORIZED, is_ajax(headers))));
    }
    Ok(Some(user))
}

fn is_ajax(headers: &HeaderMap) -> bool {
    let has = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("application/json"))
    };
    has(header::ACCEPT) || has(header::CONTENT_TYPE)
}

/// The JSON body binder (`web/binder.go`): a non-empty body needs a media
/// type of exactly `application/json`.
fn bind(headers: &HeaderMap, body: &Bytes) -> Result<Value, Refused> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("");
    if media != "application/json" {
        return Err(Box::new(general(
            "only Content-Type application/json is allowed",
        )));
    }
    serde_json::from_slice(body)
        .map_err(|_| Box::new(json_reply(StatusCode::INTERNAL_SERVER_ERROR, json!({}))))
}

fn query_params(uri: &Uri) -> Vec<(String, String)> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn search_of(params: &[(String, String)]) -> Search {
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let list = |k: &str| {
        get(k)
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    };
    let flag = |k: &str| get(k) == "true";
    Search {
        query: get("query"),
        view: get("view"),
        limit: get("limit"),
        tags: list("tags"),
        statuses: list("statuses"),
        my_votes: flag("myvotes"),
        my_posts: flag("myposts"),
        no_tags: flag("notags"),
        moderation: get("moderation"),
    }
}

/// The route key counted and matched: numbers become `:number`/`:id`.
fn route_key(method: &Method, segs: &[&str]) -> String {
    let shape: Vec<&str> = segs
        .iter()
        .enumerate()
        .map(|(i, s)| match (i, s.parse::<i64>().is_ok()) {
            (1, true) => ":number",
            (3, true) => ":id",
            (3, false) if segs.get(2) == Some(&"tags") => ":slug",
            (1, false) if segs.first() == Some(&"tags") => ":slug",
            _ => s,
        })
        .collect();
    format!("{method} /{}", shape.join("/"))
}

/// Latency, timeouts, 5xx and 429 drawn from the seeded die.
async fn inject_faults(shared: &Shared, ajax: bool) -> Option<Response> {
    let faults = lock(&shared.faults).clone();
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    match shared.dice.request_fault(&faults)? {
        RequestFault::Timeout => {
            shared.counters.faults.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(shared.timeout_hang).await;
            Some(html(StatusCode::GATEWAY_TIMEOUT, "504 Gateway Time-out"))
        }
        RequestFault::ServerError => {
            shared.counters.faults.fetch_add(1, Ordering::Relaxed);
            Some(page(StatusCode::INTERNAL_SERVER_ERROR, ajax))
        }
        RequestFault::RateLimited => {
            // Fider has no API rate limit; a proxy in front of it may.
            shared.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
            let mut r = StatusCode::TOO_MANY_REQUESTS.into_response();
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            Some(r)
        }
    }
}

fn dispatch(
    shared: &Shared,
    method: &Method,
    segs: &[&str],
    params: &[(String, String)],
    user: Option<&SimUser>,
    body: &Value,
) -> Option<Result<Outcome, ApiError>> {
    let now = Utc::now();
    let num = |i: usize| segs.get(i).and_then(|s| s.parse::<i64>().ok());
    let mut s = lock(&shared.state);
    let s = &mut *s;
    Some(match (method.as_str(), segs) {
        ("GET", ["posts"]) => ops::search(s, user, &search_of(params)),
        ("POST", ["posts"]) => ops::create_post(s, user, body, now),
        ("GET", ["posts", _]) => ops::get_post(s, user, num(1)?),
        ("PUT", ["posts", _]) => ops::update_post(s, user, num(1)?, body, now),
        ("DELETE", ["posts", _]) => ops::delete_post(s, user, num(1)?, body, now),
        ("PUT", ["posts", _, "status"]) => ops::set_response(s, user, num(1)?, body, now),
        ("GET", ["posts", _, "comments"]) => ops::list_comments(s, num(1)?),
        ("POST", ["posts", _, "comments"]) => ops::add_comment(s, user, num(1)?, body, now),
        ("PUT", ["posts", _, "comments", _]) => {
            ops::change_comment(s, user, num(1)?, num(3)?, Some(body), now)
        }
        ("DELETE", ["posts", _, "comments", _]) => {
            ops::change_comment(s, user, num(1)?, num(3)?, None, now)
        }
        ("GET", ["posts", _, "votes"]) => ops::list_votes(s, user, num(1)?),
        ("POST", ["posts", _, "votes"]) => ops::vote(s, user, num(1)?, true, now),
        ("DELETE", ["posts", _, "votes"]) => ops::vote(s, user, num(1)?, false, now),
        ("POST", ["posts", _, "tags", slug]) => ops::assign_tag(s, user, num(1)?, slug, true),
        ("DELETE", ["posts", _, "tags", slug]) => ops::assign_tag(s, user, num(1)?, slug, false),
        ("GET", ["tags"]) => ops::list_tags(s, user),
        ("POST", ["tags"]) => ops::create_tag(s, user, body),
        ("GET", ["users"]) => {
            let get = |k: &str| {
                params
                    .iter()
                    .find(|(n, _)| n == k)
                    .and_then(|(_, v)| v.parse::<usize>().ok())
            };
            ops::list_users(
                s,
                user,
                get("page").unwrap_or(1),
                get("limit").unwrap_or(10),
            )
        }
        _ => return None,
    })
}

/// `GET /posts/:number[/:slug]`: the public page, redirected to the slugged
/// address (`handlers/post.go PostDetails`).
fn public_page(shared: &Shared, segs: &[&str]) -> Response {
    let state = lock(&shared.state);
    let post = segs
        .get(1)
        .and_then(|n| n.parse::<i64>().ok())
        .and_then(|n| state.post_by_number(n));
    match post {
        Some(p) if segs.get(2) == Some(&p.slug.as_str()) => html(StatusCode::OK, &p.title),
        Some(p) => {
            let to = format!("/posts/{}/{}", p.number, p.slug);
            (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, to)]).into_response()
        }
        None => html(StatusCode::NOT_FOUND, "Page Not Found"),
    }
}

async fn handle(
    AxState(shared): AxState<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ajax = is_ajax(&headers);
    let path = uri.path().to_string();
    let Some(api) = path.strip_prefix("/api/v1/") else {
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        shared.count(&format!("{method} /{}", segs.first().unwrap_or(&"")));
        if method == Method::GET && segs.first() == Some(&"posts") {
            return public_page(&shared, &segs);
        }
        return page(StatusCode::NOT_FOUND, ajax);
    };
    let segs: Vec<&str> = api.trim_end_matches('/').split('/').collect();
    let route = route_key(&method, &segs);
    shared.count(&route);
    if let Some(r) = inject_faults(&shared, ajax).await {
        return r;
    }
    let user = match caller(&shared, &headers) {
        Ok(u) => u,
        Err(r) => return *r,
    };
    let write = matches!(method, Method::POST | Method::PUT | Method::DELETE);
    if write && !ajax {
        return page(StatusCode::FORBIDDEN, false);
    }
    let args = if write {
        match bind(&headers, &body) {
            Ok(v) => v,
            Err(r) => return *r,
        }
    } else {
        json!({})
    };
    let params = query_params(&uri);
    let Some(result) = dispatch(&shared, &method, &segs, &params, user.as_ref(), &args) else {
        return page(StatusCode::NOT_FOUND, ajax);
    };
    let reply = match result {
        Ok(outcome) => {
            shared.emit(outcome.events);
            outcome.reply
        }
        Err(e) => return error(&e, ajax),
    };
    if write {
        let lose = {
            let mut lost = lock(&shared.lose_next);
            lost.iter()
                .position(|r| *r == route)
                .map(|i| lost.remove(i))
                .is_some()
        };
        let faults = lock(&shared.faults).clone();
        let how = if lose {
            Some(LostAnswer::Withheld)
        } else {
            shared.dice.lost(&faults)
        };
        if let Some(how) = how {
            shared.counters.lost.fetch_add(1, Ordering::Relaxed);
            match how {
                LostAnswer::Reset => return reset_connection(),
                LostAnswer::Withheld => {
                    tokio::time::sleep(shared.timeout_hang).await;
                    return html(StatusCode::GATEWAY_TIMEOUT, "504 Gateway Time-out");
                }
            }
        }
    }
    let faults = lock(&shared.faults).clone();
    if shared.dice.chance(faults.drift) {
        shared.counters.drifted.fetch_add(1, Ordering::Relaxed);
        let d = drift::apply(&reply, DriftKind::draw(&shared.dice), &FIDER_SHAPE);
        let mut r = (StatusCode::OK, d.body).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(d.content_type),
        );
        return r;
    }
    json_reply(StatusCode::OK, reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_counted_by_shape() {
        let k = |m: Method, p: &str| route_key(&m, &p.split('/').collect::<Vec<_>>());
        assert_eq!(
            k(Method::PUT, "posts/12/status"),
            "PUT /posts/:number/status"
        );
        assert_eq!(
            k(Method::POST, "posts/12/tags/bug"),
            "POST /posts/:number/tags/:slug"
        );
        assert_eq!(
            k(Method::PUT, "posts/3/comments/9"),
            "PUT /posts/:number/comments/:id"
        );
        assert_eq!(k(Method::GET, "posts"), "GET /posts");
    }
}
