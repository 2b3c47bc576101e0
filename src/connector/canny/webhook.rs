//! Canny webhook verification (API-NOTES.md section 8). `canny-signature`
//! is base64(HMAC-SHA256(key = API key, msg = `canny-nonce`)); the body and
//! timestamp are not signed, so a verified delivery is only a hint ("post X
//! may have changed") and the engine re-reads the post. Replays are refused
//! through a bounded nonce cache and a 5-minute timestamp window.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use http::HeaderMap;
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::connector::{DeliveryHint, WebhookRejection};

/// Oldest `canny-timestamp` accepted.
pub const MAX_AGE: Duration = Duration::minutes(5);
/// Furthest into the future a `canny-timestamp` may be (clock skew).
pub const MAX_FUTURE: Duration = Duration::minutes(1);

/// Nonces seen recently. Bounded: when full of unexpired entries the oldest
/// is forgotten first (a replay of a nonce that old would still have to
/// pass the timestamp window).
#[derive(Debug)]
pub struct NonceCache {
    inner: Mutex<Inner>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Inner {
    expires: HashMap<String, DateTime<Utc>>,
    order: VecDeque<(DateTime<Utc>, String)>,
}

impl Default for NonceCache {
    fn default() -> Self {
        NonceCache::new(100_000)
    }
}

impl NonceCache {
    /// A cache remembering at most `capacity` nonces.
    pub fn new(capacity: usize) -> Self {
        NonceCache {
            inner: Mutex::new(Inner::default()),
            capacity: capacity.max(1),
        }
    }

    /// Record `nonce`; false when it was already seen and has not expired.
    pub fn insert(&self, nonce: &str, now: DateTime<Utc>) -> bool {
        let mut inner = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        while let Some((exp, n)) = inner.order.front().cloned() {
            if exp > now && inner.order.len() < self.capacity {
                break;
            }
            inner.order.pop_front();
            if inner.expires.get(&n) == Some(&exp) {
                inner.expires.remove(&n);
            }
        }
        if inner.expires.get(nonce).is_some_and(|exp| *exp > now) {
            return false;
        }
        let exp = now + MAX_AGE + MAX_FUTURE;
        inner.expires.insert(nonce.to_string(), exp);
        inner.order.push_back((exp, nonce.to_string()));
        true
    }

    /// Whether `nonce` was recorded and has not expired.
    pub fn contains(&self, nonce: &str, now: DateTime<Utc>) -> bool {
        let inner = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        inner.expires.get(nonce).is_some_and(|exp| *exp > now)
    }

    /// Forget `nonce` (its delivery was not accepted after all, so the
    /// sender's retry must not be refused as a replay).
    pub fn forget(&self, nonce: &str) {
        let mut inner = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        inner.expires.remove(nonce);
    }

    /// How many nonces are remembered.
    pub fn len(&self) -> usize {
        match self.inner.lock() {
            Ok(g) => g.expires.len(),
            Err(p) => p.into_inner().expires.len(),
        }
    }

    /// True when no nonce is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, WebhookRejection> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(WebhookRejection::MissingSignature(name))
}

/// Whether `signature` is Canny's signature of `nonce` under `api_key`,
/// compared in constant time.
pub fn signature_matches(api_key: &str, nonce: &str, signature: &str) -> bool {
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(api_key.as_bytes()) else {
        return false;
    };
    mac.update(nonce.as_bytes());
    let expected = mac.finalize().into_bytes();
    expected.as_slice().ct_eq(given.as_slice()).into()
}

/// Verify a Canny webhook's headers: signature, timestamp window, then
/// replay. Returns the nonce, which serves as the delivery id. Nothing is
/// remembered here: [`verify_canny_delivery`] records the nonce only once
/// the whole delivery is accepted, so neither forged requests nor a
/// malformed body can use a nonce up.
pub fn verify_canny_webhook(
    api_key: &str,
    headers: &HeaderMap,
    now: DateTime<Utc>,
    nonces: &NonceCache,
) -> Result<String, WebhookRejection> {
    let nonce = header(headers, "canny-nonce")?;
    let signature = header(headers, "canny-signature")?;
    let timestamp = header(headers, "canny-timestamp")?;
    if !signature_matches(api_key, nonce, signature) {
        return Err(WebhookRejection::BadSignature);
    }
    let ms: i64 = timestamp.parse().map_err(|_| WebhookRejection::Stale)?;
    let sent = DateTime::from_timestamp_millis(ms).ok_or(WebhookRejection::Stale)?;
    if now - sent > MAX_AGE || sent - now > MAX_FUTURE {
        return Err(WebhookRejection::Stale);
    }
    if nonces.contains(nonce, now) {
        return Err(WebhookRejection::Replayed);
    }
    Ok(nonce.to_string())
}

/// Verify a whole Canny delivery — headers, then the body's shape — and
/// only then record its nonce.
pub fn verify_canny_delivery(
    api_key: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
    nonces: &NonceCache,
) -> Result<DeliveryHint, WebhookRejection> {
    let nonce = verify_canny_webhook(api_key, headers, now, nonces)?;
    let hint = delivery_hint(nonce, body)?;
    if !nonces.insert(&hint.delivery_id, now) {
        return Err(WebhookRejection::Replayed);
    }
    Ok(hint)
}

/// Read the event type and the post a verified body is about: the object
/// itself for post events, `object.post.id` for comment and vote events.
pub fn delivery_hint(delivery_id: String, body: &[u8]) -> Result<DeliveryHint, WebhookRejection> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| WebhookRejection::Malformed(format!("body is not JSON: {e}")))?;
    let event = v
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| WebhookRejection::Malformed("no type".into()))?
        .to_string();
    let object = v.get("object").unwrap_or(&Value::Null);
    let object_type = v
        .get("objectType")
        .and_then(Value::as_str)
        .or_else(|| event.split('.').next())
        .unwrap_or("");
    let id = match object_type {
        "post" => object.get("id"),
        _ => object.get("post").and_then(|p| p.get("id")),
    };
    let record_id = id.and_then(Value::as_str).map(str::to_string);
    Ok(DeliveryHint {
        delivery_id,
        removed: event == "post.deleted",
        event,
        record_id,
        // Canny's webhooks carry no previous values.
        evidence: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_refuses_repeats_until_expiry_and_stays_bounded() {
        let c = NonceCache::new(3);
        let t = Utc::now();
        assert!(c.insert("a", t));
        assert!(!c.insert("a", t));
        assert!(c.insert("a", t + Duration::minutes(7)));
        for n in ["b", "c", "d", "e"] {
            assert!(c.insert(n, t + Duration::minutes(7)));
        }
        assert!(c.len() <= 3);
    }

    #[test]
    fn hints_name_the_post() {
        let post = br#"{"type":"post.deleted","objectType":"post","object":{"id":"p1"}}"#;
        let h = delivery_hint("n".into(), post).unwrap();
        assert_eq!(h.record_id.as_deref(), Some("p1"));
        assert!(h.removed);
        let vote = br#"{"type":"vote.created","objectType":"vote","object":{"id":"v","post":{"id":"p2"}}}"#;
        let h = delivery_hint("n".into(), vote).unwrap();
        assert_eq!(h.record_id.as_deref(), Some("p2"));
        assert!(!h.removed);
        assert!(matches!(
            delivery_hint("n".into(), b"nope"),
            Err(WebhookRejection::Malformed(_))
        ));
    }
}
