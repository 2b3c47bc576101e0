//! How roundtrip reaches one Linear workspace. Kept apart from the client so
//! the config loader can build it, and so secrets have exactly one place where
//! their `Debug` output is decided.

use std::fmt;
use std::time::Duration;

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
    /// The API key or OAuth token.
    pub credential: String,
    /// Key of the team issues are created in and listed from (e.g. "ENG").
    pub team_key: String,
    /// Signing secret of the Linear webhook pointed at roundtrip.
    pub webhook_secret: String,
    /// Whole-request timeout, connection included.
    pub timeout: Duration,
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
            team_key: team_key.into(),
            webhook_secret: webhook_secret.into(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The connector's config from the loaded `[linear]` section and the
    /// secrets it names, so the daemon builds it in one line.
    pub fn from_app(app: &crate::config::LinearConfig, secrets: &crate::config::Secrets) -> Self {
        LinearConfig {
            api_url: app.api_url.clone(),
            auth: match app.auth {
                crate::config::LinearAuth::ApiKey => LinearAuth::ApiKey,
                crate::config::LinearAuth::Oauth => LinearAuth::OAuth,
            },
            credential: secrets.linear_api_key.expose().to_string(),
            team_key: app.team.clone(),
            webhook_secret: secrets.linear_webhook_secret.expose().to_string(),
            timeout: app.timeout.0,
        }
    }
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
        let text = "[linear]\nteam = \"ENG\"\nauth = \"oauth\"\ntimeout = \"3s\"\n\
                    [portal]\nboard = \"Feature Requests\"\n";
        let app = crate::config::Config::parse(text, std::path::Path::new("rt.toml")).unwrap();
        let secrets = app
            .secrets_from(|var| Some(format!("value-of-{var}")))
            .unwrap();
        let c = LinearConfig::from_app(&app.linear, &secrets);
        assert_eq!(c.auth, LinearAuth::OAuth);
        assert_eq!(c.team_key, "ENG");
        assert_eq!(c.credential, "value-of-LINEAR_API_KEY");
        assert_eq!(c.webhook_secret, "value-of-LINEAR_WEBHOOK_SECRET");
        assert_eq!(c.timeout, Duration::from_secs(3));
        assert_eq!(c.api_url, DEFAULT_API_URL);
    }

    #[test]
    fn bearer_only_for_oauth() {
        assert_eq!(LinearAuth::ApiKey.header_value("k"), "k");
        assert_eq!(LinearAuth::OAuth.header_value("t"), "Bearer t");
    }
}
