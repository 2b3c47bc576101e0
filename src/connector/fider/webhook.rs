//! Fider's webhooks (API-NOTES.md section 7) are unsigned: the body is
//! whatever template the admin wrote, sent once, never retried. A delivery
//! is accepted only when it presents the shared secret — in the header the
//! admin set as one of the webhook's static headers, or as the last segment
//! of its URL — compared in constant time. Its body (roundtrip's template,
//! [`super::webhook_templates`]) only says which post to re-read.

use chrono::{DateTime, Utc};
use http::HeaderMap;
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::api::FiderConnector;
use super::config::SecretIn;
use crate::connector::{DeliveryHint, WebhookRejection};

/// The four webhook types Fider has (`enum/webhook_type.go`), as the
/// `event` field of roundtrip's templates names them. Nothing fires for
/// edits, tags, votes or comment edits.
pub const EVENTS: [&str; 4] = ["new_post", "new_comment", "change_status", "delete_post"];

/// Whether `presented` is the shared secret. Both are hashed first, so the
/// comparison takes the same time whatever their lengths; an empty secret
/// matches nothing.
pub fn secret_matches(expected: &str, presented: &str) -> bool {
    if expected.is_empty() {
        return false;
    }
    let a = Sha256::digest(expected.as_bytes());
    let b = Sha256::digest(presented.as_bytes());
    a.as_slice().ct_eq(b.as_slice()).into()
}

fn malformed(why: &str) -> WebhookRejection {
    WebhookRejection::Malformed(why.to_string())
}

/// What a delivery's body says: its event and post. Fider sends no
/// delivery id, so a delivery is named by the digest of its body: the same
/// body twice is one delivery (the templates carry the comment id and the
/// status change's time, so distinct events never share a body).
pub fn delivery_hint(body: &[u8]) -> Result<DeliveryHint, WebhookRejection> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| WebhookRejection::Malformed(format!("body is not JSON: {e}")))?;
    let event = v
        .get("event")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("no event"))?;
    if !EVENTS.contains(&event) {
        return Err(malformed("not one of Fider's webhook types"));
    }
    let number = match v.get("post_number") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
    .filter(|n| *n > 0)
    .ok_or_else(|| malformed("no post_number"))?;
    let digest = hex::encode(Sha256::digest(body));
    Ok(DeliveryHint {
        delivery_id: format!("fider:{}", &digest[..40]),
        event: event.to_string(),
        record_id: Some(number.to_string()),
        removed: event == "delete_post",
        evidence: None,
    })
}

impl FiderConnector {
    fn secret(&self) -> String {
        self.secret
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Check the secret a delivery presented, then read its body.
    fn accept(
        &self,
        presented: Option<&str>,
        body: &[u8],
    ) -> Result<DeliveryHint, WebhookRejection> {
        let presented = presented
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or(WebhookRejection::MissingSecret)?;
        if !secret_matches(&self.secret(), presented) {
            return Err(WebhookRejection::BadSecret);
        }
        delivery_hint(body)
    }

    /// A delivery to `/webhooks/fider`: the secret must be in the header.
    pub fn verify_delivery(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        _now: DateTime<Utc>,
    ) -> Result<DeliveryHint, WebhookRejection> {
        match &self.cfg.secret_in {
            SecretIn::Header(name) => {
                let presented = headers.get(name.as_str()).and_then(|v| v.to_str().ok());
                self.accept(presented, body)
            }
            SecretIn::Path => Err(WebhookRejection::MissingSecret),
        }
    }

    /// A delivery to `/webhooks/fider/<path>`: the secret must be the path.
    pub fn verify_delivery_at(
        &self,
        path: &str,
        body: &[u8],
    ) -> Result<DeliveryHint, WebhookRejection> {
        match &self.cfg.secret_in {
            SecretIn::Path => self.accept(Some(path), body),
            SecretIn::Header(_) => Err(WebhookRejection::BadSecret),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(secret_matches("s3cret", "s3cret"));
        assert!(!secret_matches("s3cret", "s3cre"));
        assert!(!secret_matches("s3cret", "s3cret "));
        assert!(!secret_matches("", ""));
    }

    #[test]
    fn hints_name_the_post_and_the_body_names_the_delivery() {
        let a = br#"{"event":"change_status","post_number":"12","responded_at":"t1"}"#;
        let h = delivery_hint(a).unwrap();
        assert_eq!(h.record_id.as_deref(), Some("12"));
        assert_eq!(h.event, "change_status");
        assert!(!h.removed);
        let b = br#"{"event":"change_status","post_number":"12","responded_at":"t2"}"#;
        assert_ne!(delivery_hint(b).unwrap().delivery_id, h.delivery_id);
        assert_eq!(delivery_hint(a).unwrap().delivery_id, h.delivery_id);
        let d = delivery_hint(br#"{"event":"delete_post","post_number":3}"#).unwrap();
        assert!(d.removed);
        for bad in [
            &b"not json"[..],
            br#"{"event":"edit_post","post_number":1}"#,
            br#"{"event":"new_post"}"#,
            br#"{"event":"new_post","post_number":"-4"}"#,
        ] {
            assert!(matches!(
                delivery_hint(bad),
                Err(WebhookRejection::Malformed(_))
            ));
        }
    }
}
