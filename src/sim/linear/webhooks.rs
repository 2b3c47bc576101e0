//! Outgoing webhooks, shaped and signed like Linear's (API-NOTES section 5).
//!
//! Changes arrive on a channel in the order they happened; one background
//! task delivers them in that order (or shuffled, under the `reorder` fault).
//! Each attempt is a fresh body — a new `webhookTimestamp`, because a
//! receiver rejects timestamps older than 60 s and a retry an hour later must
//! still verify — signed with HMAC-SHA256 over the exact bytes sent. The
//! `Linear-Delivery` id stays the same across retries and duplicates, so a
//! receiver can de-duplicate. A failed attempt (non-2xx, error, or no answer
//! within 5 s) is retried after each configured delay in turn (Linear: 1 min,
//! 1 h, 6 h), without holding up later deliveries.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::mpsc::UnboundedReceiver;

use super::model::fmt_time;
use super::store::{Change, Store};
use crate::sim::faults::{Dice, WebhookFaults};

/// Where and how webhooks go; changeable at runtime.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Receiver URL; `None` = webhooks off (changes are discarded).
    pub url: Option<String>,
    /// Signing secret.
    pub secret: String,
    /// Delay before each retry; its length is the number of retries.
    pub retry_delays: Vec<Duration>,
    /// Injected faults.
    pub faults: WebhookFaults,
    /// `webhookId` in every payload.
    pub webhook_id: String,
    /// `organizationId` in every payload.
    pub organization_id: String,
}

/// Delivery counters, for tests and benchmarks.
#[derive(Debug, Default)]
pub struct WebhookStats {
    /// Attempts answered 2xx.
    pub delivered: AtomicU64,
    /// Attempts that failed (and may be retried).
    pub failed: AtomicU64,
    /// Deliveries dropped by the `drop` fault.
    pub dropped: AtomicU64,
    /// Deliveries sent twice by the duplicate fault.
    pub duplicated: AtomicU64,
    /// Deliveries abandoned after the last retry.
    pub abandoned: AtomicU64,
    /// Delivery ids of the attempts answered 2xx.
    pub acknowledged: crate::sim::acks::Acknowledged,
}

/// One delivery: a change, its delivery id and how often it was tried.
#[derive(Debug, Clone)]
struct Delivery {
    change: Change,
    delivery_id: String,
    attempt: usize,
}

/// Lowercase hex HMAC-SHA256 of `body` keyed with `secret`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn actor_json(store: &Mutex<Store>, id: Option<&str>) -> Value {
    let s = store.lock().unwrap_or_else(|p| p.into_inner());
    match id.and_then(|id| s.user(id)) {
        Some(u) => json!({"id": u.id, "name": u.name, "email": u.email, "type": "user"}),
        None => Value::Null,
    }
}

/// The JSON body for one attempt at a change.
pub fn payload(change: &Change, actor: Value, settings: &WebhookSettings, now_ms: i64) -> Value {
    let mut p = json!({
        "action": change.action,
        "type": change.kind,
        "actor": actor,
        "createdAt": fmt_time(&change.at),
        "data": change.data,
        "url": change.url,
        "webhookTimestamp": now_ms,
        "webhookId": settings.webhook_id,
        "organizationId": settings.organization_id,
    });
    if let Some(from) = &change.updated_from {
        p["updatedFrom"] = from.clone();
    }
    p
}

/// Shared pieces the sender needs.
#[derive(Clone)]
pub struct Sender {
    /// Settings (URL, secret, faults), read at each attempt.
    pub settings: Arc<Mutex<WebhookSettings>>,
    /// Counters.
    pub stats: Arc<WebhookStats>,
    /// Store, for actor details.
    pub store: Arc<Mutex<Store>>,
    /// Fault decisions.
    pub dice: Arc<Dice>,
    /// HTTP client.
    pub client: reqwest::Client,
}

impl Sender {
    fn settings(&self) -> WebhookSettings {
        self.settings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Run until the change channel closes.
    pub async fn run(self, mut rx: UnboundedReceiver<Change>) {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while let Ok(more) = rx.try_recv() {
                batch.push(more);
            }
            let s = self.settings();
            if s.faults.reorder {
                for i in (1..batch.len()).rev() {
                    let j = self.dice.below(i + 1);
                    batch.swap(i, j);
                }
            }
            for change in batch {
                let d = Delivery {
                    change,
                    delivery_id: uuid::Uuid::new_v4().to_string(),
                    attempt: 0,
                };
                let s = self.settings();
                if s.url.is_none() {
                    continue;
                }
                if self.dice.chance(s.faults.drop) {
                    self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let dup = self.dice.chance(s.faults.duplicate);
                if !s.faults.delay.is_zero() {
                    tokio::time::sleep(s.faults.delay).await;
                }
                self.attempt(d.clone()).await;
                if dup {
                    self.stats.duplicated.fetch_add(1, Ordering::Relaxed);
                    self.attempt(d).await;
                }
            }
        }
    }

    /// First attempt; on failure, keep retrying in the background.
    async fn attempt(&self, d: Delivery) {
        if self.send_once(&d).await {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            let mut d = d;
            loop {
                let Some(delay) = me.settings().retry_delays.get(d.attempt).copied() else {
                    me.stats.abandoned.fetch_add(1, Ordering::Relaxed);
                    return;
                };
                tokio::time::sleep(delay).await;
                d.attempt += 1;
                if me.send_once(&d).await {
                    return;
                }
            }
        });
    }

    /// One HTTP attempt with a fresh, signed body. True on a 2xx answer.
    async fn send_once(&self, d: &Delivery) -> bool {
        let s = self.settings();
        let Some(url) = s.url.clone() else {
            return true;
        };
        let actor = actor_json(&self.store, d.change.actor_id.as_deref());
        let body = payload(&d.change, actor, &s, chrono::Utc::now().timestamp_millis());
        let raw = body.to_string().into_bytes();
        let sig = sign(&s.secret, &raw);
        let res = self
            .client
            .post(&url)
            .timeout(Duration::from_secs(5))
            .header("Content-Type", "application/json; charset=utf-8")
            .header("Accept-Charset", "utf-8")
            .header("User-Agent", "Linear-Webhook")
            .header("Linear-Delivery", &d.delivery_id)
            .header("Linear-Event", d.change.kind)
            .header("Linear-Signature", sig)
            .body(raw)
            .send()
            .await;
        if matches!(&res, Ok(r) if r.status().is_success()) {
            self.stats.delivered.fetch_add(1, Ordering::Relaxed);
            self.stats.acknowledged.push(&d.delivery_id);
            true
        } else {
            self.stats.failed.fetch_add(1, Ordering::Relaxed);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_shared_vector() {
        let body = "{\"action\":\"remove\",\"type\":\"Issue\",\"createdAt\":\"2026-11-20T10:05:00.000Z\",\"data\":{\"id\":\"2f6b1c3e-8a57-4f0c-9a51-0f6f8f0b2a11\"},\"webhookId\":\"wh-1\",\"webhookTimestamp\":1795169100000,\"organizationId\":\"org-1\"}";
        assert_eq!(
            sign("lin_wh_test_3f9a2c7e", body.as_bytes()),
            "ac4e1540e19fe6d6be6e149f5227ac75b235664607303c4f7e232e6ec6811fe5"
        );
    }
}
