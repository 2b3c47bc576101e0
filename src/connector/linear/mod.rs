//! The Linear connector: roundtrip's client for Linear's GraphQL API, written
//! from Linear's documented behaviour (shared/linear/API-NOTES.md and the
//! published schema), never from the simulator, so a misreading in one is
//! caught by the other.
//!
//! Layout: `config` (endpoint, credential, team), `documents` (every GraphQL
//! document, validated by a test), `transport` (HTTP + quota headers),
//! `classify` (error classes), `quota`, `catalog` (team states and labels),
//! `mapping` (JSON ↔ [`Record`](crate::domain::Record)), `reads`, `writes`,
//! `batch` (aliased multi-mutation documents), `webhook` (signature check) and
//! `connector_impl` (the [`Connector`](super::Connector) trait).

mod batch;
pub mod catalog;
pub mod classify;
pub mod config;
mod connector_impl;
pub mod documents;
pub mod history;
pub mod mapping;
mod placement;
pub mod quota;
mod reads;
mod transport;
pub mod webhook;
mod writes;

use std::fmt;
use std::sync::Arc;

pub use catalog::{Label, LinearTeam, TeamCatalog, WorkflowState};
pub use config::{LinearAuth, LinearConfig};
pub use mapping::LinearAttachment;
pub use quota::{QuotaBucket, QuotaSnapshot};
pub use reads::{LinearIssue, LinearUser};
pub use transport::SetupError;
pub use webhook::{WebhookKeys, verify_linear_signature, verify_linear_webhook};

use transport::Transport;

/// Linear allows at most 250 items per page; a full page keeps a reconcile to
/// as few requests as possible.
pub const MAX_PAGE_SIZE: usize = 250;

/// Roundtrip's client for one Linear workspace and team. Cheap to share
/// behind an `Arc`; all state (quota readings, team catalog) is internal.
pub struct LinearConnector {
    config: LinearConfig,
    transport: Transport,
    webhook_keys: std::sync::RwLock<WebhookKeys>,
    /// Team catalogs by upper-case team key.
    catalogs: tokio::sync::Mutex<std::collections::HashMap<String, Arc<TeamCatalog>>>,
    /// The team each issue was last read in.
    issue_teams: std::sync::Mutex<std::collections::HashMap<String, String>>,
    /// Teams listed besides the configured one (the routes' teams).
    scope: std::sync::RwLock<Vec<String>>,
    /// Project ids and member ids by team key, looked up once per name.
    placements: std::sync::Mutex<std::collections::HashMap<String, String>>,
    page_size: usize,
    batch_size: usize,
}

impl LinearConnector {
    /// Build a connector; fails only on a credential that cannot be an HTTP
    /// header or a TLS backend that cannot start. No request is made.
    pub fn new(config: LinearConfig) -> Result<Self, SetupError> {
        Ok(LinearConnector {
            transport: Transport::new(&config)?,
            webhook_keys: std::sync::RwLock::new(WebhookKeys::single(
                config.webhook_secret.clone(),
            )),
            config,
            catalogs: tokio::sync::Mutex::new(std::collections::HashMap::new()),
            issue_teams: std::sync::Mutex::new(std::collections::HashMap::new()),
            scope: std::sync::RwLock::new(Vec::new()),
            placements: std::sync::Mutex::new(std::collections::HashMap::new()),
            page_size: MAX_PAGE_SIZE,
            batch_size: documents::MAX_BATCH,
        })
    }

    /// Use smaller listing pages (clamped to 1..=250): for tests of
    /// pagination and for keeping each request's complexity low.
    pub fn with_page_size(mut self, size: usize) -> Self {
        self.page_size = size.clamp(1, MAX_PAGE_SIZE);
        self
    }

    /// Put at most `size` mutations in one batched document (clamped to
    /// 1..=25), for tests of chunking and for very complex inputs.
    pub fn with_batch_size(mut self, size: usize) -> Self {
        self.batch_size = size.clamp(1, documents::MAX_BATCH);
        self
    }

    /// The configuration this connector was built with.
    pub fn config(&self) -> &LinearConfig {
        &self.config
    }

    /// The webhook secrets accepted now.
    pub fn webhook_keys(&self) -> WebhookKeys {
        self.webhook_keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Accept these webhook secrets from now on (SIGHUP, rotation). Requests
    /// being verified finish with the keys they started with.
    pub fn set_webhook_keys(&self, keys: WebhookKeys) {
        *self.webhook_keys.write().unwrap_or_else(|p| p.into_inner()) = keys;
    }

    /// Use a new API key from now on (SIGHUP). With OAuth the token file is
    /// re-read instead, by [`LinearConnector::reload_token_file`].
    pub fn set_api_key(&self, key: &str) -> Result<(), SetupError> {
        self.transport.set_credential(self.config.auth, key)
    }

    /// Re-read the OAuth token file now (SIGHUP); without OAuth, nothing.
    pub fn reload_token_file(&self) -> Result<(), crate::auth::token_file::TokenFileError> {
        match &self.config.oauth {
            Some(m) => m.reload(),
            None => Ok(()),
        }
    }

    /// Whether what roundtrip writes appears as made by the OAuth
    /// application (`actor=app`), so it names the customer it writes for.
    pub fn acts_as_app(&self) -> bool {
        self.config
            .oauth
            .as_ref()
            .is_some_and(|m| m.actor() == crate::auth::Actor::App)
    }

    /// The latest rate-limit state seen in any response, for a scheduler
    /// deciding whether reconcile may spend quota now.
    pub fn quota(&self) -> Option<QuotaSnapshot> {
        self.transport.quota.latest()
    }

    /// Drain pending quota samples together with the `X-Complexity` of the
    /// response each came from, for a budget that charges complexity per
    /// request. Drains the same queue as
    /// [`Connector::take_quota_samples`](super::Connector::take_quota_samples).
    pub fn take_quota_samples_with_cost(&self) -> Vec<(crate::domain::QuotaSample, Option<i64>)> {
        self.transport.quota.take_with_cost()
    }
}

impl fmt::Debug for LinearConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinearConnector")
            .field("config", &self.config)
            .field("page_size", &self.page_size)
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}
