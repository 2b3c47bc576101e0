//! The portal connector the `[portal]` section describes — Canny's or
//! Fider's — behind one handle, for the commands that talk to the portal
//! (`run`, `adopt`): built from the config, resolved at start, and given new
//! secrets on SIGHUP.

use std::sync::Arc;

use crate::config::{Config, SecretPlace, Secrets};
use crate::connector::Connector;
use crate::connector::canny::{CannyConfig, CannyConnector};
use crate::connector::fider::{FiderConfig, FiderConnector, SecretIn};
use crate::domain::{PortalKind, RemoteError};

/// The configured portal connector.
#[derive(Clone)]
pub(super) enum Portal {
    /// Canny.
    Canny(Arc<CannyConnector>),
    /// Fider.
    Fider(Arc<FiderConnector>),
}

impl Portal {
    /// Build the connector `[portal]` names.
    pub fn from_config(config: &Config, secrets: &Secrets) -> anyhow::Result<Portal> {
        let p = &config.portal;
        Ok(match p.kind {
            PortalKind::Canny => {
                let mut c = CannyConfig::new(
                    p.api_url.clone(),
                    secrets.portal_api_key.expose(),
                    p.board.clone(),
                );
                c.extra_boards = p.boards.clone();
                c.admin_id = p.admin_id.clone();
                c.admin_email = p.admin_email.clone();
                for s in &p.statuses {
                    if !c.statuses.contains(s) {
                        c.statuses.push(s.clone());
                    }
                }
                c.request_timeout = p.timeout.0;
                Portal::Canny(Arc::new(
                    CannyConnector::new(c).map_err(|e| anyhow::anyhow!("Canny connector: {e}"))?,
                ))
            }
            PortalKind::Fider => {
                let secret = secrets
                    .portal_webhook_secret
                    .as_ref()
                    .map(|s| s.expose().to_string())
                    .unwrap_or_default();
                let mut c =
                    FiderConfig::new(p.api_url.clone(), secrets.portal_api_key.expose(), secret);
                c.secret_in = match (p.webhook_secret_in.unwrap_or_default(), p.secret_header()) {
                    (SecretPlace::Header, Some(h)) => SecretIn::Header(h.to_string()),
                    _ => SecretIn::Path,
                };
                c.request_timeout = p.timeout.0;
                c.webhook_silence = p.webhook_silence();
                Portal::Fider(Arc::new(
                    FiderConnector::new(c).map_err(|e| anyhow::anyhow!("Fider connector: {e}"))?,
                ))
            }
        })
    }

    /// The connector as the engine sees it.
    pub fn connector(&self) -> Arc<dyn Connector> {
        match self {
            Portal::Canny(c) => c.clone(),
            Portal::Fider(f) => f.clone(),
        }
    }

    /// Check the portal answers with these credentials (and, for Canny,
    /// find the board and admin), so a bad setting fails at start.
    pub async fn resolve(&self) -> Result<(), RemoteError> {
        match self {
            Portal::Canny(c) => c.resolve().await,
            Portal::Fider(f) => f.resolve().await,
        }
    }

    /// Use re-read secrets from now on (SIGHUP).
    pub fn set_secrets(&self, secrets: &Secrets) {
        match self {
            Portal::Canny(c) => c.set_api_key(secrets.portal_api_key.expose()),
            Portal::Fider(f) => {
                f.set_api_key(secrets.portal_api_key.expose());
                if let Some(s) = &secrets.portal_webhook_secret {
                    f.set_webhook_secret(s.expose());
                }
            }
        }
    }

    /// The product's name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Portal::Canny(_) => PortalKind::Canny.display_name(),
            Portal::Fider(_) => PortalKind::Fider.display_name(),
        }
    }
}

/// A board, admin or status the `[portal]` section names that the portal
/// refuses: a configuration error (exit 2), one sentence naming the setting.
pub(super) fn unusable_portal(config: &Config, e: &RemoteError) -> super::UsageError {
    let what = match config.portal.kind {
        PortalKind::Canny => format!("[portal] board \"{}\"", config.portal.board),
        PortalKind::Fider => format!("[portal] api_url \"{}\"", config.portal.api_url),
    };
    super::UsageError(format!("{what} cannot be synced: {}", e.message))
}
