//! Outgoing webhooks the way Canny sends them (API-NOTES.md section 8): an
//! unsigned JSON envelope `{created, object, objectType, type}` POSTed with
//! `canny-nonce` (random per request), `canny-signature` =
//! base64(HMAC-SHA256(key = API key, msg = nonce)) and `canny-timestamp`
//! (epoch ms). Delivered from a background task so handlers never wait on
//! the receiver; drop/dup/reorder/delay faults come from a seeded die.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use base64::Engine as _;
use chrono::Utc;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use tokio::sync::mpsc;

use super::ops::Event;
use super::render;
use super::shared::Shared;

/// Canny's signature over a nonce.
pub fn sign(api_key: &str, nonce: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(api_key.as_bytes()) {
        Ok(m) => m,
        // HMAC accepts keys of any length; this arm is unreachable in practice.
        Err(_) => return String::new(),
    };
    mac.update(nonce.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// A delivery ready to send: envelope body and the headers Canny adds.
#[derive(Debug, Clone)]
struct Delivery {
    body: Vec<u8>,
    nonce: String,
    signature: String,
    timestamp: String,
}

fn prepare(api_key: &str, event: &Event) -> Delivery {
    let now = Utc::now();
    let body = json!({
        "created": render::time(now),
        "object": event.object,
        "objectType": event.object_type,
        "type": event.kind,
    });
    let nonce = uuid::Uuid::new_v4().to_string();
    Delivery {
        body: serde_json::to_vec(&body).unwrap_or_default(),
        signature: sign(api_key, &nonce),
        nonce,
        timestamp: now.timestamp_millis().to_string(),
    }
}

/// The sender loop: runs until the channel closes (simulator dropped).
pub async fn run(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<Event>) {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    while let Some(first) = rx.recv().await {
        let faults = shared.webhook_faults();
        let batch =
            crate::sim::faults::next_batch(first, &mut rx, &faults, &shared.webhook_dice).await;
        for event in batch {
            send_one(&shared, &client, &faults, &event).await;
            shared.counters.outbox.done();
        }
    }
}

/// Deliver one event (or drop or duplicate it, as the faults say).
async fn send_one(
    shared: &Shared,
    client: &reqwest::Client,
    faults: &crate::sim::faults::WebhookFaults,
    event: &Event,
) {
    if !faults.delay.is_zero() {
        tokio::time::sleep(faults.delay).await;
    }
    let Some(url) = shared.webhook_url() else {
        return;
    };
    if shared.webhook_dice.chance(faults.drop) {
        shared
            .counters
            .webhooks_dropped
            .fetch_add(1, Ordering::Relaxed);
        return;
    }
    let delivery = prepare(&shared.api_key, event);
    let copies = if shared.webhook_dice.chance(faults.duplicate) {
        shared
            .counters
            .webhooks_duplicated
            .fetch_add(1, Ordering::Relaxed);
        2
    } else {
        1
    };
    for _ in 0..copies {
        let sent = client
            .post(&url)
            .header("content-type", "application/json")
            .header("canny-nonce", &delivery.nonce)
            .header("canny-signature", &delivery.signature)
            .header("canny-timestamp", &delivery.timestamp)
            .body(delivery.body.clone())
            .send()
            .await;
        let counter = match sent {
            Ok(r) if r.status().is_success() => {
                shared.counters.acknowledged.push(&delivery.nonce);
                &shared.counters.webhooks_delivered
            }
            _ => &shared.counters.webhooks_failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_shared_vector() {
        assert_eq!(
            sign(
                "canny_api_key_test_81d2",
                "5f0a3c9e-7b1d-4e2a-9c6f-1a2b3c4d5e6f"
            ),
            "dPhF8d4lMPpyAoI/pyCn3UtJ6/u+O772KyLMtEZA2Ws="
        );
    }
}
