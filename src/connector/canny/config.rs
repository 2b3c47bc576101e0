//! Settings for the Canny connector. The API key is held here and nowhere
//! else, and `Debug` is written by hand so it can never reach a log line.

use std::fmt;
use std::time::Duration;

/// The six statuses every Canny company has. `posts/list` hides complete and
/// closed unless asked, so reconcile names every status explicitly.
pub const CANNY_STATUSES: [&str; 6] = [
    "open",
    "under review",
    "planned",
    "in progress",
    "complete",
    "closed",
];

/// How to reach one Canny company and board.
#[derive(Clone)]
pub struct CannyConfig {
    /// API base, e.g. `https://canny.io/api/v1` (no trailing slash needed).
    pub api_url: String,
    /// The company's secret key; sent only in request bodies. Never logged.
    pub api_key: String,
    /// Board name to sync, resolved to an id through `boards/list`; posts
    /// roundtrip creates from Linear go here.
    pub board: String,
    /// More boards to sync (`[portal] boards`); the routes' boards are
    /// added at run time.
    pub extra_boards: Vec<String>,
    /// Canny id of the admin used as `changerID`/`authorID`.
    pub admin_id: Option<String>,
    /// Email of that admin, looked up with `users/retrieve`; when neither is
    /// set, the first admin `users/list` pages to is used.
    pub admin_email: Option<String>,
    /// Statuses asked for when listing: the six built-in ones plus any
    /// custom statuses the company defined (more are discovered from
    /// `status_changes/list` and from the posts read).
    pub statuses: Vec<String>,
    /// Page size for `posts/list` and other paginated lists.
    pub page_size: usize,
    /// Per-request timeout; a hung request becomes a `timeout` error.
    pub request_timeout: Duration,
    /// A 429 whose `Retry-After` is at most this is waited out in place…
    pub max_inline_wait: Duration,
    /// …up to this many times before surfacing as `rate_limited`.
    pub rate_limit_retries: u32,
    /// The plan's per-second request limit, if the operator knows it; used
    /// only to label quota samples (Canny sends no quota headers).
    pub plan_limit_per_second: Option<i64>,
}

impl CannyConfig {
    /// A config with defaults: every built-in status, pages of 100, 30 s
    /// timeout, 429s up to 10 s waited out twice.
    pub fn new(
        api_url: impl Into<String>,
        api_key: impl Into<String>,
        board: impl Into<String>,
    ) -> Self {
        CannyConfig {
            api_url: api_url.into(),
            api_key: api_key.into(),
            board: board.into(),
            extra_boards: Vec::new(),
            admin_id: None,
            admin_email: None,
            statuses: CANNY_STATUSES.iter().map(|s| s.to_string()).collect(),
            page_size: 100,
            request_timeout: Duration::from_secs(30),
            max_inline_wait: Duration::from_secs(10),
            rate_limit_retries: 2,
            plan_limit_per_second: None,
        }
    }
}

impl fmt::Debug for CannyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CannyConfig")
            .field("api_url", &self.api_url)
            .field("api_key", &"[redacted]")
            .field("board", &self.board)
            .field("extra_boards", &self.extra_boards)
            .field("admin_id", &self.admin_id)
            .field("admin_email", &self.admin_email)
            .field("statuses", &self.statuses)
            .field("page_size", &self.page_size)
            .field("request_timeout", &self.request_timeout)
            .field("max_inline_wait", &self.max_inline_wait)
            .field("rate_limit_retries", &self.rate_limit_retries)
            .field("plan_limit_per_second", &self.plan_limit_per_second)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let c = CannyConfig::new("http://x", "super-secret-key", "Feature Requests");
        let s = format!("{c:?}");
        assert!(!s.contains("super-secret-key"));
        assert!(s.contains("[redacted]"));
    }
}
