//! Settings for the Fider connector. The API key and the webhook secret are
//! held here and nowhere else, and `Debug` is written by hand so neither can
//! reach a log line.

use std::fmt;
use std::time::Duration;

/// The statuses a Fider post can be given (`deleted` is not one: a deleted
/// post is gone). Anything else in an answer is a change of Fider's shape.
pub const FIDER_STATUSES: [&str; 6] = [
    "open",
    "planned",
    "started",
    "completed",
    "declined",
    "duplicate",
];

/// Where webhook deliveries carry the shared secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretIn {
    /// In this header (the webhook's static headers in Fider).
    Header(String),
    /// As the path after `/webhooks/fider/`.
    Path,
}

/// How to reach one Fider site.
#[derive(Clone)]
pub struct FiderConfig {
    /// The site, e.g. `https://feedback.example.com`; a trailing `/api/v1`
    /// is accepted and ignored.
    pub site_url: String,
    /// An API key of a collaborator or administrator. Never logged.
    pub api_key: String,
    /// The shared secret webhook deliveries must present. Never logged.
    pub webhook_secret: String,
    /// Where deliveries carry it.
    pub secret_in: SecretIn,
    /// Per-request timeout; a hung request becomes a `timeout` error.
    pub request_timeout: Duration,
    /// How long a change Fider announces may wait for its webhook before
    /// health warns that the webhook is off.
    pub webhook_silence: Duration,
    /// Comment lists read at once while a listing catches up.
    pub comment_reads: usize,
}

impl FiderConfig {
    /// A config with defaults: the secret in `X-Roundtrip-Secret`, 30 s
    /// timeout, a 10-minute webhook silence.
    pub fn new(
        site_url: impl Into<String>,
        api_key: impl Into<String>,
        webhook_secret: impl Into<String>,
    ) -> Self {
        FiderConfig {
            site_url: site_url.into(),
            api_key: api_key.into(),
            webhook_secret: webhook_secret.into(),
            secret_in: SecretIn::Header(crate::config::DEFAULT_SECRET_HEADER.into()),
            request_timeout: Duration::from_secs(30),
            webhook_silence: Duration::from_secs(600),
            comment_reads: 8,
        }
    }

    /// The site URL without a trailing slash or `/api/v1`.
    pub fn site(&self) -> String {
        let s = self.site_url.trim_end_matches('/');
        s.strip_suffix("/api/v1").unwrap_or(s).to_string()
    }
}

impl fmt::Debug for FiderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FiderConfig")
            .field("site_url", &self.site_url)
            .field("api_key", &"[redacted]")
            .field("webhook_secret", &"[redacted]")
            .field("secret_in", &self.secret_in)
            .field("request_timeout", &self.request_timeout)
            .field("webhook_silence", &self.webhook_silence)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets_and_the_site_is_normalised() {
        let c = FiderConfig::new("https://f.example/api/v1/", "key-123", "wh-456");
        let s = format!("{c:?}");
        assert!(!s.contains("key-123") && !s.contains("wh-456"), "{s}");
        assert_eq!(c.site(), "https://f.example");
        assert_eq!(FiderConfig::new("http://x/", "k", "w").site(), "http://x");
    }
}
