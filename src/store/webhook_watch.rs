//! What the store remembers about portal webhooks that may fall silent on
//! their own (Fider turns a webhook off after one failed delivery): which
//! webhooks are watched, when each last delivered, and the changes
//! reconcile found that its delivery should have announced. Kept as meta
//! values, a handful per webhook, so `status` reads them cheaply.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Db, Result, meta_keys};

/// The watch the engine runs with (written at start).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchSettings {
    /// The product's name ("Fider").
    pub vendor: String,
    /// How long an announced change may wait for its webhook (ms).
    pub grace_ms: i64,
    /// How to turn a silent webhook back on.
    pub advice: String,
    /// The watched webhooks, by the event name their deliveries carry.
    pub events: Vec<String>,
}

/// Changes reconcile found that one webhook should have announced, since
/// its last delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Missed {
    /// How many.
    pub count: i64,
    /// When reconcile found the first of them (ms).
    pub since_ms: i64,
    /// The first of them, in words.
    pub example: String,
}

/// One watched webhook as health judges it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookState {
    /// Its event name ("new_comment").
    pub event: String,
    /// When its last delivery arrived (ms), if one ever did.
    pub last_delivery_ms: Option<i64>,
    /// What it missed since then.
    pub missed: Option<Missed>,
}

/// Every watched webhook with the watch's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookSilence {
    /// The watch.
    pub settings: WatchSettings,
    /// Each webhook, in the settings' order.
    pub webhooks: Vec<WebhookState>,
}

impl Db<'_> {
    /// Record the watch the engine runs with, or that there is none.
    pub fn set_webhook_watch(&self, watch: Option<&WatchSettings>) -> Result<()> {
        match watch {
            Some(w) => self.set_meta(meta_keys::WEBHOOK_WATCH, &super::json(w)),
            None => self.clear_meta(meta_keys::WEBHOOK_WATCH),
        }
    }

    /// A delivery of `event` arrived at `at_ms`: its webhook works, so what
    /// it was thought to have missed is forgotten.
    pub fn note_webhook_delivery(&self, event: &str, at_ms: i64) -> Result<()> {
        let key = meta_keys::webhook_seen(event);
        let newer = self.meta_i64(&key)?.is_none_or(|t| t < at_ms);
        if newer {
            self.set_meta(&key, &at_ms.to_string())?;
        }
        self.clear_meta(&meta_keys::webhook_missed(event))
    }

    /// Reconcile found a change the webhook of `event` announces but no
    /// delivery brought: count it (the first one's time and words stay).
    pub fn note_webhook_missed(&self, event: &str, example: &str, now_ms: i64) -> Result<()> {
        let key = meta_keys::webhook_missed(event);
        let missed = match self.missed(&key)? {
            Some(mut m) => {
                m.count += 1;
                m
            }
            None => Missed {
                count: 1,
                since_ms: now_ms,
                example: example.to_string(),
            },
        };
        self.set_meta(&key, &super::json(&missed))
    }

    fn missed(&self, key: &str) -> Result<Option<Missed>> {
        Ok(self
            .meta(key)?
            .and_then(|v| serde_json::from_str::<Missed>(&v).ok()))
    }
}

/// The watched webhooks' state, when the engine runs a watch, from the
/// store's meta values.
pub(super) fn silence_in(meta: &BTreeMap<String, String>) -> Option<WebhookSilence> {
    let parse_missed = |key: String| {
        meta.get(&key)
            .and_then(|v| serde_json::from_str::<Missed>(v).ok())
    };
    let settings = meta
        .get(meta_keys::WEBHOOK_WATCH)
        .and_then(|v| serde_json::from_str::<WatchSettings>(v).ok())?;
    let webhooks = settings
        .events
        .iter()
        .map(|event| WebhookState {
            event: event.clone(),
            last_delivery_ms: meta
                .get(&meta_keys::webhook_seen(event))
                .and_then(|v| v.parse().ok()),
            missed: parse_missed(meta_keys::webhook_missed(event)),
        })
        .collect();
    Some(WebhookSilence { settings, webhooks })
}
