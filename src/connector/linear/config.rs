//! How roundtrip reaches one Linear workspace. Kept apart from the client so
//! the config loader can build it, and so secrets have exactly one place where
//! their `Debug` output is decided.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::auth::{OAuthEndpoints, TokenManager};

/// The endpoint every Linear GraphQL call goes to unless configured otherwise.
pub const DEFAULT_API_URL: &str = "https://api.linear.app/graphql";

/// Linear answers slowly under load; ten seconds is long enough for a 250-issue
/// page and short enough that a hung connection is retried promptly.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Which kind of credential the key is, because Linear wants them in different
/// `Authorization` forms (API-NOTES section 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinearAuth {
    /// A personal API key, sent bare: `Authorization: <key>`.
    #[default]
    ApiKey,
    /// An OAuth access token, sent as `Authorization: Bearer <token>`.
    OAuth,
}

impl LinearAuth {
    /// The `Authorization` header value for a credential of this kind.
    pub fn header_value(self, credential: &str) -> String {
        match self {
            LinearAuth::ApiKey => credential.to_string(),
            LinearAuth::OAuth => format!("Bearer {credential}"),
        }
    }
}

/// Everything the Linear connector needs. `credential` and `webhook_secret`
/// are secrets: `Debug` redacts them, and nothing in this module puts them in
/// a log line or an error message.
#[derive(Clone)]
pub struct LinearConfig {
    /// GraphQL endpoint (the simulator's `http://127.0.0.1:P/graphql` in tests).
    pub api_url: String,
    /// How `credential` is presented.
    pub auth: LinearAuth,
    /// The API key or a fixed OAuth token (unused when `oauth` is set).
    pub credential: String,
    /// OAuth tokens kept fresh from the token file; when set, every request
    /// uses its current access token and a refused token is refreshed once.
    pub oauth: Option<Arc<TokenManager>>,
    /// Key of the team issues are created in and listed from (e.g. "ENG").
    pub team_key: String,
    /// Signing secret of the Linear webhook pointed at roundtrip.
    pub webhook_secret: String,
    /// Whole-request timeout, connection included.
    pub timeout: Duration,
    /// How writes made from portal content name their origin when the
    /// OAuth token acts as the application.
    pub attribution: Attribution,
}

/// `createAsUser`/`displayIconUrl` material for app-actor writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    /// How people know the portal ("Canny"): comments become "Jane via
    /// Canny", portal-link attachments "Canny".
    pub portal_name: String,
    /// Avatar shown beside attributed comments and attachments.
    pub icon_url: Option<String>,
}

impl Default for Attribution {
    fn default() -> Self {
        Attribution {
            portal_name: crate::domain::PortalKind::default().display_name().into(),
            icon_url: None,
        }
    }
}

/// Why the connector's configuration could not be assembled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinearSetupError {
    /// A required secret is absent (only in a mode that needs it).
    #[error("{0}")]
    Missing(String),
}

impl LinearConfig {
    /// A config with the default endpoint and timeout; callers override the
    /// public fields they need.
    pub fn new(
        credential: impl Into<String>,
        team_key: impl Into<String>,
        webhook_secret: impl Into<String>,
    ) -> Self {
        LinearConfig {
            api_url: DEFAULT_API_URL.to_string(),
            auth: LinearAuth::ApiKey,
            credential: credential.into(),
            oauth: None,
            team_key: team_key.into(),
            webhook_secret: webhook_secret.into(),
            timeout: DEFAULT_TIMEOUT,
            attribution: Attribution::default(),
        }
    }

    /// The connector's config from the loaded file and the secrets it names,
    /// so the daemon builds it in one line. With `auth = "oauth"` this sets
    /// up the token manager over the configured token file.
    pub fn from_app(
        app: &crate::config::Config,
        secrets: &crate::config::Secrets,
    ) -> Result<Self, LinearSetupError> {
        let l = &app.linear;
        let mut c = LinearConfig {
            api_url: l.api_url.clone(),
            auth: match l.auth {
                crate::config::LinearAuth::ApiKey => LinearAuth::ApiKey,
                crate::config::LinearAuth::Oauth => LinearAuth::OAuth,
            },
            credential: secrets
                .linear_api_key
                .as_ref()
                .map(|k| k.expose().to_string())
                .unwrap_or_default(),
            oauth: None,
            team_key: l.team.clone(),
            webhook_secret: secrets.linear_webhook_secret.expose().to_string(),
            timeout: l.timeout.0,
            attribution: Attribution {
                portal_name: app.portal.kind.display_name().into(),
                icon_url: l.attribution_icon_url.clone(),
            },
        };
        if l.auth == crate::config::LinearAuth::Oauth {
            c.oauth = Some(Arc::new(token_manager(app, secrets)?));
        }
        Ok(c)
    }
}

/// The command that signs in again, as alerts print it.
pub fn reauth_command(app: &crate::config::Config) -> String {
    let path = std::fs::canonicalize(&app.source).unwrap_or_else(|_| app.source.clone());
    format!("roundtrip auth linear --config {}", path.display())
}

/// Linear's OAuth endpoints and the application, from the file and the
/// client id and secret it names.
pub fn oauth_endpoints(
    app: &crate::config::Config,
    client_id: Option<&crate::config::Secret>,
    client_secret: Option<&crate::config::Secret>,
) -> Result<OAuthEndpoints, LinearSetupError> {
    let l = &app.linear;
    let client_id = client_id.ok_or_else(|| {
        LinearSetupError::Missing(format!(
            "{}: linear.oauth_client_id_env names the environment variable {}, which is not set",
            app.source.display(),
            l.oauth_client_id_env
        ))
    })?;
    Ok(OAuthEndpoints {
        authorize_url: l.oauth_authorize_url.clone(),
        token_url: l.oauth_token_url.clone(),
        client_id: client_id.expose().to_string(),
        client_secret: client_secret.cloned(),
        redirect_uri: l.oauth_redirect_uri.clone(),
        timeout: l.timeout.0,
    })
}

fn token_manager(
    app: &crate::config::Config,
    secrets: &crate::config::Secrets,
) -> Result<TokenManager, LinearSetupError> {
    let path = app.token_file_path().ok_or_else(|| {
        LinearSetupError::Missing(format!(
            "{}: no home directory for the default token file; set [linear] token_file",
            app.source.display()
        ))
    })?;
    Ok(TokenManager::new(
        path,
        oauth_endpoints(
            app,
            secrets.linear_client_id.as_ref(),
            secrets.linear_client_secret.as_ref(),
        )?,
        reauth_command(app),
    ))
}

/// What a secret looks like in debug output: whether it is set, never its text.
fn redacted(secret: &str) -> &'static str {
    if secret.is_empty() {
        "<empty>"
    } else {
        "<redacted>"
    }
}

impl fmt::Debug for LinearConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinearConfig")
            .field("api_url", &self.api_url)
            .field("auth", &self.auth)
            .field("credential", &redacted(&self.credential))
            .field("oauth_token_file", &self.oauth.as_ref().map(|m| m.path()))
            .field("team_key", &self.team_key)
            .field("webhook_secret", &redacted(&self.webhook_secret))
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let c = LinearConfig::new("lin_api_SECRETKEY", "ENG", "whsec_TOPSECRET");
        let text = format!("{c:?}");
        assert!(!text.contains("SECRETKEY"), "{text}");
        assert!(!text.contains("TOPSECRET"), "{text}");
        assert!(text.contains("<redacted>"));
        assert!(text.contains("ENG"));
    }

    #[test]
    fn built_from_the_app_config_and_secrets() {
        let text = "[linear]\nteam = \"ENG\"\ntimeout = \"3s\"\n\
                    [portal]\nboard = \"Feature Requests\"\n";
        let app = crate::config::Config::parse(text, std::path::Path::new("rt.toml")).unwrap();
        let secrets = app
            .secrets_from(|var| Some(format!("value-of-{var}")))
            .unwrap();
        let c = LinearConfig::from_app(&app, &secrets).unwrap();
        assert_eq!(c.auth, LinearAuth::ApiKey);
        assert_eq!(c.team_key, "ENG");
        assert_eq!(c.credential, "value-of-LINEAR_API_KEY");
        assert_eq!(c.webhook_secret, "value-of-LINEAR_WEBHOOK_SECRET");
        assert_eq!(c.timeout, Duration::from_secs(3));
        assert_eq!(c.api_url, DEFAULT_API_URL);
        assert!(c.oauth.is_none());
    }

    #[test]
    fn oauth_mode_uses_the_token_file_not_an_api_key() {
        let text = "[linear]\nteam = \"ENG\"\nauth = \"oauth\"\ntoken_file = \"tok.json\"\n\
                    [portal]\nboard = \"Feature Requests\"\n";
        let mut app =
            crate::config::Config::parse(text, std::path::Path::new("/etc/rt/rt.toml")).unwrap();
        app.base_dir = "/etc/rt".into();
        let secrets = app
            .secrets_from(|var| (var != "LINEAR_API_KEY").then(|| format!("v-{var}")))
            .unwrap();
        let c = LinearConfig::from_app(&app, &secrets).unwrap();
        assert_eq!(c.auth, LinearAuth::OAuth);
        let m = c.oauth.unwrap();
        assert_eq!(m.path(), std::path::Path::new("/etc/rt/tok.json"));
        assert_eq!(
            m.reauth_command(),
            "roundtrip auth linear --config /etc/rt/rt.toml"
        );
        let missing = app
            .secrets_from(|var| (var == "LINEAR_WEBHOOK_SECRET").then(|| "s".into()))
            .unwrap_err();
        assert!(
            missing.to_string().contains("LINEAR_CLIENT_ID"),
            "{missing}"
        );
    }

    #[test]
    fn bearer_only_for_oauth() {
        assert_eq!(LinearAuth::ApiKey.header_value("k"), "k");
        assert_eq!(LinearAuth::OAuth.header_value("t"), "Bearer t");
    }
}
