//! Linear webhook verification (DESIGN.md section 8, API-NOTES section 5):
//! `Linear-Signature` is the lowercase hex HMAC-SHA256 of the raw body with the
//! webhook's signing secret, and `webhookTimestamp` (ms, in the body) must be
//! within 60 s of now. The body is checked before it is parsed, in constant
//! time, and never re-serialised.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use http::HeaderMap;
use serde_json::Value;
use sha2::Sha256;

use crate::connector::{DeliveryHint, WebhookRejection};

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "Linear-Signature";
/// The header carrying the delivery id (a UUID per payload).
pub const DELIVERY_HEADER: &str = "Linear-Delivery";
/// The header naming the entity type.
pub const EVENT_HEADER: &str = "Linear-Event";
/// Largest accepted distance between `webhookTimestamp` and now: Linear's
/// documented one minute, which bounds replay of a captured delivery.
pub const MAX_SKEW_MS: i64 = 60_000;

/// Check a delivery's signature and timestamp and return its parsed body.
///
/// Refuses a missing signature header, a signature that is not hex or does
/// not match (compared in constant time by `hmac`), a body that is not a
/// JSON object, and a `webhookTimestamp` that is absent or more than 60 s
/// from `now` (absent counts as stale: freshness cannot be shown). An empty
/// secret refuses everything, so an unconfigured secret never accepts.
pub fn verify_linear_signature(
    secret: &str,
    body: &[u8],
    signature_header: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Value, WebhookRejection> {
    let signature = signature_header
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(WebhookRejection::MissingSignature(SIGNATURE_HEADER))?;
    if secret.is_empty() {
        return Err(WebhookRejection::BadSignature);
    }
    let expected = hex::decode(signature).map_err(|_| WebhookRejection::BadSignature)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|_| WebhookRejection::BadSignature)?;
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| WebhookRejection::BadSignature)?;
    let payload: Value = serde_json::from_slice(body)
        .map_err(|e| WebhookRejection::Malformed(format!("body is not JSON: {e}")))?;
    if !payload.is_object() {
        return Err(WebhookRejection::Malformed(
            "body is not a JSON object".into(),
        ));
    }
    let sent_ms = payload
        .get("webhookTimestamp")
        .and_then(|t| t.as_i64().or_else(|| t.as_f64().map(|f| f as i64)))
        .ok_or(WebhookRejection::Stale)?;
    let skew = now
        .timestamp_millis()
        .saturating_sub(sent_ms)
        .saturating_abs();
    if skew > MAX_SKEW_MS {
        return Err(WebhookRejection::Stale);
    }
    Ok(payload)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(v, |v, key| v.get(key))
        .and_then(Value::as_str)
}

/// What a verified payload is about. The record is always an issue: `data.id`
/// for Issue events, `data.issueId` (or `data.issue.id`) for comments,
/// attachments and the like. `removed` is set only for an Issue trashed or
/// deleted: Linear also sends `remove` when it archives an issue (with
/// `archivedAt` set and `trashed` not), and an archived issue is a finished
/// one, not a deletion. A removed comment does not remove its issue. The
/// engine re-reads the issue either way; this is only a hint.
pub fn delivery_hint(headers: &HeaderMap, payload: &Value, signature: &str) -> DeliveryHint {
    let event = header(headers, EVENT_HEADER)
        .or_else(|| text(payload, &["type"]))
        .unwrap_or("unknown")
        .to_string();
    let is_issue = event.eq_ignore_ascii_case("Issue");
    let data = payload.get("data").unwrap_or(&Value::Null);
    let record_id = if is_issue {
        text(data, &["id"])
    } else {
        text(data, &["issueId"]).or_else(|| text(data, &["issue", "id"]))
    };
    let action = text(payload, &["action"]).unwrap_or("");
    let archived = data.get("archivedAt").is_some_and(|a| !a.is_null());
    let trashed = data.get("trashed").and_then(Value::as_bool) == Some(true);
    DeliveryHint {
        // Without Linear-Delivery the signature still identifies the exact
        // payload, so duplicates are still dropped.
        delivery_id: header(headers, DELIVERY_HEADER).map_or_else(
            || format!("sig:{}", signature.to_ascii_lowercase()),
            str::to_string,
        ),
        event,
        record_id: record_id.map(str::to_string),
        removed: is_issue && (trashed || (action == "remove" && !archived)),
        evidence: update_evidence_of(payload),
    }
}

/// The part of an Issue update's body that says what it replaced: the
/// shape [`updated_from`] reads, with only the fields roundtrip writes.
fn update_evidence_of(payload: &Value) -> Option<String> {
    updated_from(payload)?;
    let data = payload.get("data")?;
    let pick = |v: &Value, keys: &[&str]| -> Value {
        let mut m = serde_json::Map::new();
        for k in keys {
            if let Some(x) = v.get(k) {
                m.insert((*k).to_string(), x.clone());
            }
        }
        Value::Object(m)
    };
    let mut d = pick(
        data,
        &[
            "id",
            "updatedAt",
            "title",
            "description",
            "priority",
            "state",
        ],
    );
    if let (Some(state), Some(m)) = (data.get("state"), d.as_object_mut()) {
        m.insert("state".into(), pick(state, &["name"]));
    }
    let evidence = serde_json::json!({
        "type": "Issue",
        "action": "update",
        "data": d,
        "updatedFrom": pick(
            payload.get("updatedFrom").unwrap_or(&Value::Null),
            &["title", "description", "stateId", "priority"],
        ),
    });
    Some(evidence.to_string())
}

/// The secrets a delivery may be signed with. During a webhook-secret
/// rotation Linear signs with the new secret at once (`webhookRotateSecret`
/// kills the old one), but deliveries already signed — retries an hour or
/// six hours later, or a second webhook not yet switched — still carry the
/// old signature, so the previous secret is accepted until `previous`'s end.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct WebhookKeys {
    /// The secret now configured.
    pub current: String,
    /// The previous secret and when it stops being accepted.
    pub previous: Option<(String, DateTime<Utc>)>,
}

impl std::fmt::Debug for WebhookKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookKeys")
            .field("current", &"<redacted>")
            .field("previous_until", &self.previous.as_ref().map(|p| p.1))
            .finish()
    }
}

impl WebhookKeys {
    /// Only the current secret.
    pub fn single(current: impl Into<String>) -> Self {
        WebhookKeys {
            current: current.into(),
            previous: None,
        }
    }
}

/// Verify with the current secret, and with the previous one while its
/// overlap lasts. Any other refusal (stale, malformed) is final.
pub fn verify_with_keys(
    keys: &WebhookKeys,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<DeliveryHint, WebhookRejection> {
    match verify_linear_webhook(&keys.current, headers, body, now) {
        Err(WebhookRejection::BadSignature) => match &keys.previous {
            Some((old, until)) if now < *until => verify_linear_webhook(old, headers, body, now),
            _ => Err(WebhookRejection::BadSignature),
        },
        other => other,
    }
}

/// What an Issue `update` webhook says the change replaced: the issue id,
/// its `updatedAt` after the change, and the previous values of the fields
/// roundtrip writes, taken from `updatedFrom` (Linear sends only the fields
/// that changed; `null` means the field was unset). The state is given as
/// its id (`stateId`); the caller names it.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdatedFrom {
    /// The issue.
    pub issue_id: String,
    /// `data.updatedAt`.
    pub updated_at: DateTime<Utc>,
    /// Previous title, if it changed.
    pub title: Option<String>,
    /// Previous description, if it changed (`Some("")` when it was unset).
    pub description: Option<String>,
    /// Previous workflow state id, if it changed.
    pub state_id: Option<String>,
    /// Previous priority, if it changed.
    pub priority: Option<i64>,
    /// The issue after the change: title, description, state name,
    /// priority (from `data`).
    pub now: (String, String, Option<String>, i64),
}

/// Read [`UpdatedFrom`] from a verified webhook body; `None` for anything
/// but an Issue update that carries `updatedFrom`.
pub fn updated_from(payload: &Value) -> Option<UpdatedFrom> {
    if text(payload, &["type"]) != Some("Issue") || text(payload, &["action"]) != Some("update") {
        return None;
    }
    let from = payload.get("updatedFrom")?.as_object()?;
    let data = payload.get("data")?;
    let updated_at = DateTime::parse_from_rfc3339(text(data, &["updatedAt"])?)
        .ok()?
        .with_timezone(&Utc);
    let string = |k: &str| {
        from.get(k)
            .map(|v| v.as_str().unwrap_or_default().to_string())
    };
    Some(UpdatedFrom {
        issue_id: text(data, &["id"])?.to_string(),
        updated_at,
        title: string("title"),
        description: string("description"),
        state_id: from
            .get("stateId")
            .and_then(Value::as_str)
            .map(str::to_string),
        priority: from
            .get("priority")
            .map(|p| p.as_f64().map_or(0, |f| f.round() as i64)),
        now: (
            text(data, &["title"]).unwrap_or_default().to_string(),
            text(data, &["description"]).unwrap_or_default().to_string(),
            text(data, &["state", "name"]).map(str::to_string),
            data.get("priority")
                .and_then(Value::as_f64)
                .map_or(0, |f| f.round() as i64),
        ),
    })
}

/// Verify a Linear webhook request and say which issue it is about.
pub fn verify_linear_webhook(
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<DeliveryHint, WebhookRejection> {
    let signature = header(headers, SIGNATURE_HEADER);
    let payload = verify_linear_signature(secret, body, signature, now)?;
    Ok(delivery_hint(headers, &payload, signature.unwrap_or("")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use http::HeaderValue;

    fn sign(secret: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    fn at(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(ms).unwrap()
    }

    #[test]
    fn accepts_fresh_and_rejects_tampered_stale_missing() {
        let body = br#"{"action":"create","type":"Comment","data":{"id":"c","issueId":"i9"},"webhookTimestamp":1000000}"#;
        let sig = sign("s3cret", body);
        assert!(verify_linear_signature("s3cret", body, Some(&sig), at(1_060_000)).is_ok());
        assert_eq!(
            verify_linear_signature("s3cret", body, Some(&sig), at(1_060_001)),
            Err(WebhookRejection::Stale)
        );
        assert_eq!(
            verify_linear_signature("s3cret", body, None, at(1_000_000)),
            Err(WebhookRejection::MissingSignature("Linear-Signature"))
        );
        assert_eq!(
            verify_linear_signature("other", body, Some(&sig), at(1_000_000)),
            Err(WebhookRejection::BadSignature)
        );
        assert_eq!(
            verify_linear_signature("", body, Some(&sig), at(1_000_000)),
            Err(WebhookRejection::BadSignature)
        );
        assert_eq!(
            verify_linear_signature("s3cret", body, Some("zz"), at(1_000_000)),
            Err(WebhookRejection::BadSignature)
        );
        let no_ts = br#"{"action":"create"}"#;
        let sig2 = sign("s3cret", no_ts);
        assert_eq!(
            verify_linear_signature("s3cret", no_ts, Some(&sig2), at(0)),
            Err(WebhookRejection::Stale)
        );
    }

    #[test]
    fn previous_secret_is_accepted_only_during_the_overlap() {
        let body =
            br#"{"action":"create","type":"Issue","data":{"id":"i1"},"webhookTimestamp":1000000}"#;
        let mut h = HeaderMap::new();
        h.insert(
            "Linear-Signature",
            HeaderValue::from_str(&sign("old", body)).unwrap(),
        );
        let keys = WebhookKeys {
            current: "new".into(),
            previous: Some(("old".into(), at(1_030_000))),
        };
        assert!(verify_with_keys(&keys, &h, body, at(1_000_000)).is_ok());
        assert_eq!(
            verify_with_keys(&keys, &h, body, at(1_030_000)),
            Err(WebhookRejection::BadSignature)
        );
        assert_eq!(
            verify_with_keys(&WebhookKeys::single("new"), &h, body, at(1_000_000)),
            Err(WebhookRejection::BadSignature)
        );
        assert!(!format!("{keys:?}").contains("old\""));
    }

    #[test]
    fn hints_name_the_issue() {
        let body = br#"{"action":"create","type":"Comment","data":{"id":"c","issueId":"i9"},"webhookTimestamp":1000000}"#;
        let mut h = HeaderMap::new();
        h.insert(
            "Linear-Signature",
            HeaderValue::from_str(&sign("k", body)).unwrap(),
        );
        h.insert("Linear-Delivery", HeaderValue::from_static("d-1"));
        h.insert("Linear-Event", HeaderValue::from_static("Comment"));
        let hint = verify_linear_webhook("k", &h, body, at(1_000_000)).unwrap();
        assert_eq!(hint.delivery_id, "d-1");
        assert_eq!(hint.event, "Comment");
        assert_eq!(hint.record_id.as_deref(), Some("i9"));
        assert!(!hint.removed);

        let archived = br#"{"action":"remove","type":"Issue","data":{"id":"i1","archivedAt":"2026-11-20T10:00:00.000Z","trashed":null},"webhookTimestamp":5}"#;
        let mut h = HeaderMap::new();
        h.insert(
            "Linear-Signature",
            HeaderValue::from_str(&sign("k", archived)).unwrap(),
        );
        let hint = verify_linear_webhook("k", &h, archived, at(5)).unwrap();
        assert!(!hint.removed, "an auto-archived issue is not removed");

        let body = br#"{"action":"update","type":"Issue","data":{"id":"i1","trashed":true},"webhookTimestamp":5}"#;
        let mut h = HeaderMap::new();
        let sig = sign("k", body);
        h.insert("Linear-Signature", HeaderValue::from_str(&sig).unwrap());
        let hint = verify_linear_webhook("k", &h, body, at(5)).unwrap();
        assert_eq!(hint.event, "Issue");
        assert_eq!(hint.record_id.as_deref(), Some("i1"));
        assert!(hint.removed);
        assert_eq!(hint.delivery_id, format!("sig:{sig}"));
    }

    #[test]
    fn an_update_keeps_only_what_it_replaced_and_wrote() {
        let body = serde_json::json!({
            "action": "update", "type": "Issue",
            "data": {"id": "i1", "updatedAt": "2026-11-20T10:00:00.000Z", "title": "New",
                     "description": "D", "priority": 2, "state": {"id": "s2", "name": "Done", "color": "#fff"},
                     "labelIds": ["l1"], "assigneeId": "u1"},
            "updatedFrom": {"title": "Old", "stateId": "s1", "updatedAt": "2026-11-20T09:00:00.000Z"},
            "webhookTimestamp": 1
        });
        let hint = delivery_hint(&HeaderMap::new(), &body, "ab");
        let evidence: Value = serde_json::from_str(&hint.evidence.unwrap()).unwrap();
        assert!(evidence["data"].get("labelIds").is_none());
        assert!(evidence["data"].get("assigneeId").is_none());
        let from = updated_from(&evidence).unwrap();
        assert_eq!(from.issue_id, "i1");
        assert_eq!(from.title.as_deref(), Some("Old"));
        assert_eq!(from.state_id.as_deref(), Some("s1"));
        assert_eq!(from.description, None);
        assert_eq!(from.now.0, "New");
        assert_eq!(from.now.2.as_deref(), Some("Done"));
        // Creates and comments carry none.
        let mut create = body.clone();
        create["action"] = "create".into();
        assert_eq!(
            delivery_hint(&HeaderMap::new(), &create, "ab").evidence,
            None
        );
    }
}
