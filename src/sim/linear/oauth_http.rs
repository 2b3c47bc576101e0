//! The HTTP face of the OAuth endpoints: decoding the query or form body
//! and the `Authorization` header, and turning an [`OAuthReply`] into a
//! 302 or a JSON answer. The rules themselves live in [`super::oauth`].

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use super::oauth::{OAuthReply, TokenRequest};
use super::server::Shared;

fn respond(reply: OAuthReply) -> Response {
    match reply {
        OAuthReply::Redirect(to) => {
            let mut r = StatusCode::FOUND.into_response();
            if let Ok(v) = HeaderValue::from_str(&to) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r
        }
        OAuthReply::Json(status, body) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            let mut r = (status, body.to_string()).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
    }
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, super::oauth::OAuthState> {
    shared.oauth.lock().unwrap_or_else(|p| p.into_inner())
}

fn form_of(headers: &HeaderMap, body: &[u8]) -> (bool, HashMap<String, String>) {
    let encoded = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !encoded {
        return (false, HashMap::new());
    }
    let form = url::form_urlencoded::parse(body).into_owned().collect();
    (true, form)
}

fn authorization<'h>(headers: &'h HeaderMap, scheme: &str) -> Option<&'h str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (given, rest) = value.split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}

fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(authorization(headers, "Basic")?)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    // RFC 6749 section 2.3.1: both halves are form-urlencoded first.
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((decode(id)?, decode(secret)?))
}

/// `GET /oauth/authorize`.
pub async fn authorize(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    respond(lock(&shared).authorize(&q))
}

/// `POST /oauth/token`.
pub async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let (form_encoded, form) = form_of(&headers, &body);
    let req = TokenRequest {
        form,
        basic: basic(&headers),
        form_encoded,
    };
    respond(lock(&shared).token(&req))
}

/// `POST /oauth/revoke`.
pub async fn revoke(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (_, form) = form_of(&headers, &body);
    let bearer = authorization(&headers, "Bearer");
    respond(lock(&shared).revoke(bearer, &form))
}
