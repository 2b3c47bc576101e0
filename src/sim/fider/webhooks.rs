//! Outgoing webhooks the way Fider sends them (`services/webhook`,
//! `services/httpclient`): for every enabled webhook of an event's type,
//! the URL and content templates are rendered from the event's properties
//! and sent once, unsigned, with the admin's static headers, a 30 s
//! timeout and no redirects followed. Any failure — a template error, a
//! URL pointing at a private address while private targets are not
//! allowed, a network error, a status of 400 or more — turns the webhook
//! off (`failed`) when disable-on-failure is on, Fider's default. Nothing
//! is retried. Drop, duplicate, reorder and delay faults come from a seeded
//! die, as for the other simulators.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::mpsc;

use super::model::{SimWebhook, WebhookStatus};
use super::ops::Event;
use super::shared::{Shared, lock};
use super::template;

/// One delivery attempt, for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// The webhook's id.
    pub webhook: i64,
    /// Its type's name.
    pub kind: &'static str,
    /// The rendered URL (empty when the template failed).
    pub url: String,
    /// The rendered body.
    pub body: String,
    /// The receiver's status, if one answered.
    pub status: Option<u16>,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// `validate.WebhookURL`: http(s) only; without private targets allowed,
/// `localhost` and loopback, private, link-local and unspecified addresses
/// are refused (names are not resolved here).
pub fn url_refusal(raw: &str, allow_private: bool) -> Option<String> {
    let Ok(u) = url::Url::parse(raw) else {
        return Some("This URL is not valid.".into());
    };
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Some("Only http and https URLs are allowed.".into());
    }
    if allow_private {
        return None;
    }
    let host = u.host_str().unwrap_or_default().trim_matches(['[', ']']);
    let blocked = host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| match ip {
            IpAddr::V4(v) => {
                v.is_loopback() || v.is_private() || v.is_link_local() || v.is_unspecified()
            }
            IpAddr::V6(v) => {
                v.is_loopback()
                    || v.is_unspecified()
                    || v.is_unique_local()
                    || v.is_unicast_link_local()
            }
        });
    blocked.then(|| {
        "This URL is not allowed because it targets a private or internal network address.".into()
    })
}

async fn deliver(
    shared: &Shared,
    client: &reqwest::Client,
    hook: &SimWebhook,
    event: &Event,
) -> DeliveryRecord {
    let mut rec = DeliveryRecord {
        webhook: hook.id,
        kind: hook.kind.name(),
        url: String::new(),
        body: String::new(),
        status: None,
        error: None,
    };
    let url = match template::render(&hook.url, &event.props) {
        Ok(u) => u,
        Err(e) => {
            rec.error = Some(format!("Could not parse webhook URL template: {e}"));
            return rec;
        }
    };
    rec.url = url.clone();
    if let Some(why) = url_refusal(&url, shared.allow_private_targets) {
        rec.error = Some(format!("Webhook URL targets a blocked address: {why}"));
        return rec;
    }
    let body = match template::render(&hook.content, &event.props) {
        Ok(b) => b,
        Err(e) => {
            rec.error = Some(format!("Could not parse webhook content template: {e}"));
            return rec;
        }
    };
    rec.body = body.clone();
    let method =
        reqwest::Method::from_bytes(hook.method.as_bytes()).unwrap_or(reqwest::Method::POST);
    let mut req = client.request(method, &url).body(body);
    for (k, v) in &hook.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    match req.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            rec.status = Some(status);
            if status >= 400 {
                rec.error = Some(format!(
                    "Webhook HTTP request returned an error response code: {status}"
                ));
            }
        }
        Err(e) => rec.error = Some(format!("Could not execute webhook HTTP request: {e}")),
    }
    rec
}

/// The sender loop: runs until the channel closes (simulator dropped).
pub async fn run(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<Event>) {
    let client = reqwest::Client::builder()
        .timeout(shared.webhook_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default();
    while let Some(first) = rx.recv().await {
        let faults = lock(&shared.webhook_faults).clone();
        let batch =
            crate::sim::faults::next_batch(first, &mut rx, &faults, &shared.webhook_dice).await;
        for event in batch {
            if !faults.delay.is_zero() {
                tokio::time::sleep(faults.delay).await;
            }
            let hooks: Vec<SimWebhook> = lock(&shared.state)
                .webhooks
                .values()
                .filter(|h| h.kind == event.kind && h.status == WebhookStatus::Enabled)
                .cloned()
                .collect();
            for hook in hooks {
                if shared.webhook_dice.chance(faults.drop) {
                    shared
                        .counters
                        .webhooks_dropped
                        .fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let copies = if shared.webhook_dice.chance(faults.duplicate) {
                    2
                } else {
                    1
                };
                for _ in 0..copies {
                    let rec = deliver(&shared, &client, &hook, &event).await;
                    let failed = rec.error.is_some();
                    if failed {
                        shared
                            .counters
                            .webhooks_failed
                            .fetch_add(1, Ordering::Relaxed);
                        if shared.disable_on_failure {
                            let mut s = lock(&shared.state);
                            if let Some(h) = s.webhooks.get_mut(&hook.id) {
                                h.status = WebhookStatus::Failed;
                            }
                        }
                    } else {
                        shared
                            .counters
                            .webhooks_delivered
                            .fetch_add(1, Ordering::Relaxed);
                    }
                    lock(&shared.deliveries).push(rec);
                    if failed {
                        break;
                    }
                }
            }
            shared.counters.outbox.done();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_targets_are_refused_unless_allowed() {
        assert!(url_refusal("http://127.0.0.1:8787/webhooks/fider", false).is_some());
        assert!(url_refusal("http://localhost/x", false).is_some());
        assert!(url_refusal("http://10.1.2.3/x", false).is_some());
        assert!(url_refusal("https://sync.example.com/webhooks/fider", false).is_none());
        assert!(url_refusal("http://127.0.0.1:8787/webhooks/fider", true).is_none());
        assert!(url_refusal("ftp://example.com/", true).is_some());
    }
}
