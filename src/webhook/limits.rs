//! The webhook edge's limits: how long a client may take, how many may be
//! connected and how many bytes may wait for verification. Every limit turns
//! into a definite answer (408, 413, 431, 503 + `Retry-After`) or a closed
//! connection, so no number of slow or idle clients can exhaust memory or
//! file descriptors.

use std::time::Duration;

/// Limits of the webhook server; defaults suit one daemon facing the
/// internet directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeLimits {
    /// Bodies above this are refused with 413 (from `Content-Length` alone
    /// when the client sends one).
    pub max_body_bytes: usize,
    /// Open connections at most. A new connection beyond this closes the
    /// oldest connection that has no request in progress; when every
    /// connection is busy it gets 503 with `Retry-After`.
    pub max_connections: usize,
    /// Body bytes held by all requests together before their signature is
    /// verified; a request that would exceed it gets 503 with `Retry-After`.
    pub max_buffered_bytes: usize,
    /// Webhook requests handled at once (reading, verifying, storing); more
    /// get 503 with `Retry-After` at once instead of queueing.
    pub max_in_flight: usize,
    /// Largest request head (request line and headers); larger get 431.
    pub max_header_bytes: usize,
    /// Time to send a complete request head, also the longest a kept-alive
    /// connection may sit idle; the connection is closed after it.
    pub header_timeout: Duration,
    /// Time from the request head to the answer (body, verification and the
    /// durable store write); 408 after it.
    pub request_timeout: Duration,
    /// What `Retry-After` says on every 503.
    pub retry_after: Duration,
}

/// hyper refuses a header buffer below this.
pub const MIN_HEADER_BYTES: usize = 8192;

impl Default for EdgeLimits {
    fn default() -> Self {
        EdgeLimits {
            max_body_bytes: 1_048_576,
            max_connections: 20_000,
            max_buffered_bytes: 64 * 1_048_576,
            max_in_flight: 1024,
            max_header_bytes: 16 * 1024,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            retry_after: Duration::from_secs(5),
        }
    }
}

impl EdgeLimits {
    /// `Retry-After` in whole seconds (at least 1).
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after.as_secs().max(1)
    }
}

/// Everything the webhook side of the daemon is tuned by: the edge's limits,
/// how long processed deliveries are kept and how often the store is
/// checked and refusals are summarised in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookOptions {
    /// Limits of the HTTP edge.
    pub limits: EdgeLimits,
    /// Processed deliveries are deleted after this; never shorter than
    /// [`min_inbox_retention`], so a replay inside a vendor's accepted window
    /// still finds its first copy.
    pub inbox_retention: Duration,
    /// Time between quick integrity checks of the store.
    pub integrity_every: Duration,
    /// One log line per this interval sums up refused requests.
    pub reject_summary_every: Duration,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        WebhookOptions {
            limits: EdgeLimits::default(),
            inbox_retention: Duration::from_secs(24 * 3600),
            integrity_every: Duration::from_secs(3600),
            reject_summary_every: Duration::from_secs(60),
        }
    }
}

/// How long a processed delivery must be remembered: the longest window in
/// which any vendor's signed delivery is accepted again (see
/// [`crate::connector::longest_replay_window`]).
pub fn min_inbox_retention() -> Duration {
    crate::connector::longest_replay_window()
}
