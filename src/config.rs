//! The TOML configuration (DESIGN.md section 3), validated on load.
//!
//! Errors name the file, the line, the key and what is wrong. Secrets never
//! live in the file: it names the environment variables that hold them, and
//! [`Config::secrets`] reads them at start into [`Secret`] values whose
//! `Debug` and `Display` are redacted.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use crate::duration::{format_duration, parse_duration};

/// A secret read from the environment. Printing it never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a value (tests and the simulators' well-known credentials).
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself, for the one place that sends it (an HTTP header,
    /// an HMAC key). Never log the result.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A duration written as "30s", "5m", …
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text)
            .map(HumanDuration)
            .map_err(serde::de::Error::custom)
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(self.0))
    }
}

/// `[store]`: a SQLite file (`path`, the default) or a PostgreSQL database
/// (`url`) that several replicas can share.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Path of the database; relative paths are relative to the config file.
    /// Default: `roundtrip/roundtrip.db` in the XDG data directory.
    pub path: Option<PathBuf>,
    /// `postgres://USER@HOST:PORT/DATABASE`: keep the store in PostgreSQL.
    /// The password never goes here: it comes from `password_env`, else
    /// `PGPASSWORD`.
    pub url: Option<String>,
    /// The environment variable holding the PostgreSQL password.
    pub password_env: Option<String>,
}

/// How the Linear credential is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LinearAuth {
    /// Personal API key: `Authorization: <key>`.
    #[default]
    ApiKey,
    /// OAuth access token: `Authorization: Bearer <token>`.
    Oauth,
}

/// `[linear]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LinearConfig {
    /// GraphQL endpoint.
    #[serde(default = "default_linear_url")]
    pub api_url: String,
    /// Environment variable holding the API key or OAuth token.
    #[serde(default = "default_linear_key_env")]
    pub api_key_env: String,
    /// How the credential is sent.
    #[serde(default)]
    pub auth: LinearAuth,
    /// Key of the team created issues go to (e.g. "ENG").
    pub team: String,
    /// Environment variable holding the webhook signing secret.
    #[serde(default = "default_linear_secret_env")]
    pub webhook_secret_env: String,
    /// Per-request timeout.
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    /// `auth = "oauth"`: the token file `roundtrip auth linear` writes and
    /// the daemon refreshes (relative to the config's directory). Default:
    /// `roundtrip/linear-token.json` in the XDG data directory.
    pub token_file: Option<PathBuf>,
    /// Environment variable holding the OAuth application's client id.
    #[serde(default = "default_client_id_env")]
    pub oauth_client_id_env: String,
    /// Environment variable holding the OAuth client secret (optional with
    /// PKCE; sent when set).
    #[serde(default = "default_client_secret_env")]
    pub oauth_client_secret_env: String,
    /// Linear's authorize page.
    #[serde(default = "default_authorize_url")]
    pub oauth_authorize_url: String,
    /// Linear's token endpoint.
    #[serde(default = "default_token_url")]
    pub oauth_token_url: String,
    /// The loopback callback registered with the OAuth application.
    #[serde(default = "default_redirect_uri")]
    pub oauth_redirect_uri: String,
    /// Scopes `auth linear` asks for unless `--scopes` says otherwise.
    #[serde(default = "default_scopes")]
    pub oauth_scopes: Vec<String>,
    /// During a webhook-secret rotation: the variable holding the old
    /// secret, still accepted until `rotation_overlap` has passed.
    pub previous_webhook_secret_env: Option<String>,
    /// How long the previous webhook secret stays valid after roundtrip
    /// first sees it.
    #[serde(default = "default_overlap")]
    pub rotation_overlap: HumanDuration,
    /// With an `actor = app` token: the avatar (`displayIconUrl`) shown
    /// beside comments and attachments roundtrip writes for customers.
    pub attribution_icon_url: Option<String>,
}

/// `[secrets]`: where secret values come from besides the environment.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SecretsConfig {
    /// A `KEY=value` file (systemd `EnvironmentFile` syntax) read at start
    /// and on SIGHUP; its values win over the process environment, so a
    /// secret can be rotated without a restart. Keep it mode 0600.
    pub env_file: Option<PathBuf>,
}

pub use crate::domain::PortalKind;

/// Where Fider's webhook deliveries carry the shared secret: Fider signs
/// nothing, so the admin puts a secret into each webhook's static headers
/// or into its URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SecretPlace {
    /// In the header `webhook_secret_header` names.
    #[default]
    Header,
    /// As the last path segment: `/webhooks/fider/<secret>`.
    Path,
}

/// `[portal]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PortalConfig {
    /// Which product.
    #[serde(default)]
    pub kind: PortalKind,
    /// Canny: the REST base URL (default `https://canny.io/api/v1`). Fider:
    /// the site's URL (required; roundtrip adds `/api/v1`).
    #[serde(default)]
    pub api_url: String,
    /// Environment variable holding the API key (default `CANNY_API_KEY` or
    /// `FIDER_API_KEY`). Canny signs its webhooks with the same key.
    #[serde(default)]
    pub api_key_env: String,
    /// Canny: the board to sync (required; posts roundtrip creates from
    /// Linear go here). Fider sites have one board.
    #[serde(default)]
    pub board: String,
    /// Canny: more boards to sync; routes can match on the board. The
    /// boards the mapping's routes name are synced too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub boards: Vec<String>,
    /// Canny id of the admin used as `changerID` for status changes.
    pub admin_id: Option<String>,
    /// Email of that admin (looked up with one `users/retrieve`); when
    /// neither is set, the first admin `users/list` pages to is used.
    #[serde(default)]
    pub admin_email: Option<String>,
    /// Custom statuses the company defined beyond Canny's six built-in ones
    /// (more are discovered from status changes); posts in any of them are
    /// listed by reconcile.
    #[serde(default)]
    pub statuses: Vec<String>,
    /// Per-request timeout.
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    /// Fider: environment variable holding the shared secret its webhook
    /// deliveries present (default `FIDER_WEBHOOK_SECRET`).
    pub webhook_secret_env: Option<String>,
    /// Fider: whether deliveries carry the secret in a header or in the URL.
    pub webhook_secret_in: Option<SecretPlace>,
    /// Fider: the header holding the secret (default `X-Roundtrip-Secret`).
    pub webhook_secret_header: Option<String>,
    /// Fider: how long a change Fider announces by webhook (a new post or
    /// comment, a status change, a deletion) that reconcile found may go
    /// without any delivery of its webhook before status warns that the
    /// webhook is off (Fider turns a webhook off after one failed delivery).
    pub webhook_silence: Option<HumanDuration>,
}

impl PortalConfig {
    /// The header Fider deliveries carry the secret in, when they carry it
    /// in a header.
    pub fn secret_header(&self) -> Option<&str> {
        match self.webhook_secret_in.unwrap_or_default() {
            SecretPlace::Header => Some(
                self.webhook_secret_header
                    .as_deref()
                    .unwrap_or(DEFAULT_SECRET_HEADER),
            ),
            SecretPlace::Path => None,
        }
    }

    /// How long an announced change may wait for its webhook (Fider).
    pub fn webhook_silence(&self) -> Duration {
        self.webhook_silence
            .map_or(Duration::from_secs(600), |d| d.0)
    }
}

/// The header Fider deliveries carry the shared secret in by default.
pub const DEFAULT_SECRET_HEADER: &str = "X-Roundtrip-Secret";

/// `[webhooks]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Address the webhook server listens on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Larger request bodies are refused with 413.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Open connections at most (also capped by the open-files limit).
    #[serde(default = "edge::max_connections")]
    pub max_connections: usize,
    /// Body bytes all requests together may hold before verification.
    #[serde(default = "edge::max_buffered_bytes")]
    pub max_buffered_bytes: usize,
    /// Webhook requests handled at once.
    #[serde(default = "edge::max_in_flight")]
    pub max_in_flight: usize,
    /// Largest request head (431 above).
    #[serde(default = "edge::max_header_bytes")]
    pub max_header_bytes: usize,
    /// Time to send a request head; also the idle limit of a connection.
    #[serde(default = "edge::header_timeout")]
    pub header_timeout: HumanDuration,
    /// Time to send the body and get the answer (408 after).
    #[serde(default = "edge::request_timeout")]
    pub request_timeout: HumanDuration,
    /// `Retry-After` of every 503.
    #[serde(default = "edge::retry_after")]
    pub retry_after: HumanDuration,
    /// Processed deliveries are kept this long (at least the replay window).
    #[serde(default = "edge::inbox_retention")]
    pub inbox_retention: HumanDuration,
    /// Time between quick integrity checks of the store.
    #[serde(default = "edge::integrity_check_interval")]
    pub integrity_check_interval: HumanDuration,
    /// Refused requests are summed up in one log line per this interval.
    #[serde(default = "edge::reject_log_interval")]
    pub reject_log_interval: HumanDuration,
}

/// Defaults of `[webhooks]`, taken from the webhook server's own.
mod edge {
    use super::HumanDuration;
    use crate::webhook::{EdgeLimits, WebhookOptions};

    pub fn max_connections() -> usize {
        EdgeLimits::default().max_connections
    }
    pub fn max_buffered_bytes() -> usize {
        EdgeLimits::default().max_buffered_bytes
    }
    pub fn max_in_flight() -> usize {
        EdgeLimits::default().max_in_flight
    }
    pub fn max_header_bytes() -> usize {
        EdgeLimits::default().max_header_bytes
    }
    pub fn header_timeout() -> HumanDuration {
        HumanDuration(EdgeLimits::default().header_timeout)
    }
    pub fn request_timeout() -> HumanDuration {
        HumanDuration(EdgeLimits::default().request_timeout)
    }
    pub fn retry_after() -> HumanDuration {
        HumanDuration(EdgeLimits::default().retry_after)
    }
    pub fn inbox_retention() -> HumanDuration {
        HumanDuration(WebhookOptions::default().inbox_retention)
    }
    pub fn integrity_check_interval() -> HumanDuration {
        HumanDuration(WebhookOptions::default().integrity_every)
    }
    pub fn reject_log_interval() -> HumanDuration {
        HumanDuration(WebhookOptions::default().reject_summary_every)
    }
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            listen: default_listen(),
            max_body_bytes: default_max_body(),
            max_connections: edge::max_connections(),
            max_buffered_bytes: edge::max_buffered_bytes(),
            max_in_flight: edge::max_in_flight(),
            max_header_bytes: edge::max_header_bytes(),
            header_timeout: edge::header_timeout(),
            request_timeout: edge::request_timeout(),
            retry_after: edge::retry_after(),
            inbox_retention: edge::inbox_retention(),
            integrity_check_interval: edge::integrity_check_interval(),
            reject_log_interval: edge::reject_log_interval(),
        }
    }
}

impl WebhooksConfig {
    /// The webhook server's settings.
    pub fn options(&self) -> crate::webhook::WebhookOptions {
        crate::webhook::WebhookOptions {
            limits: crate::webhook::EdgeLimits {
                max_body_bytes: self.max_body_bytes,
                max_connections: self.max_connections,
                max_buffered_bytes: self.max_buffered_bytes,
                max_in_flight: self.max_in_flight,
                max_header_bytes: self.max_header_bytes,
                header_timeout: self.header_timeout.0,
                request_timeout: self.request_timeout.0,
                retry_after: self.retry_after.0,
            },
            inbox_retention: self.inbox_retention.0,
            integrity_every: self.integrity_check_interval.0,
            reject_summary_every: self.reject_log_interval.0,
        }
    }
}

pub use crate::sync::{CreateRule, DeletePolicy};

/// Posts the roadmap calls planned or in progress become Linear issues by
/// default (in the portal's own status names).
pub fn default_create_rule(kind: PortalKind) -> CreateRule {
    let status = match kind {
        PortalKind::Canny => ["planned", "in progress"],
        PortalKind::Fider => ["planned", "started"],
    };
    CreateRule {
        status: status.map(String::from).to_vec(),
        tags: Vec::new(),
    }
}

/// How often reconcile runs by default: Fider's webhooks announce only some
/// changes and switch themselves off after one failure, so reconcile is its
/// primary channel (two listing requests a pass, whatever the board's size).
pub fn default_reconcile_interval(kind: PortalKind) -> Duration {
    match kind {
        PortalKind::Canny => Duration::from_secs(300),
        PortalKind::Fider => Duration::from_secs(60),
    }
}

/// `[sync]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// How often both sides are listed in full to repair missed webhooks
    /// (default 5m with Canny, 1m with Fider).
    pub reconcile_interval: Option<HumanDuration>,
    /// Which posts become Linear issues (default: planned or in progress,
    /// in the portal's status names).
    pub create_in_linear_when: Option<CreateRule>,
    /// Linear issues carrying this label get a portal post (off when unset).
    pub create_in_portal_label: Option<String>,
    /// What to do when a record is deleted.
    #[serde(default)]
    pub delete_policy: DeletePolicy,
    /// More deletes than this in 10 minutes pause delete propagation.
    #[serde(default = "default_guard")]
    pub mass_delete_guard: u32,
    /// Attempts for transient failures before a job is dead.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Share of each quota kept for live edits (0–0.9).
    #[serde(default = "default_reserve")]
    pub live_reserve: f64,
    /// This replica's id among several on one PostgreSQL store (default:
    /// host, process id and a random suffix).
    pub replica_id: Option<String>,
    /// How long a replica's job claims and singleton leases last without
    /// renewal: how soon another replica re-runs a dead one's jobs
    /// (default 30s).
    pub replica_lease: Option<HumanDuration>,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            reconcile_interval: None,
            create_in_linear_when: None,
            create_in_portal_label: None,
            delete_policy: DeletePolicy::default(),
            mass_delete_guard: default_guard(),
            max_attempts: default_attempts(),
            live_reserve: default_reserve(),
            replica_id: None,
            replica_lease: None,
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Directory for a daily-rotated log file (none: stderr only).
    pub dir: Option<PathBuf>,
    /// Minimum level: error, warn, info, debug, trace (or a tracing filter).
    #[serde(default = "default_level")]
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            dir: None,
            level: default_level(),
        }
    }
}

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[store]`.
    #[serde(default)]
    pub store: StoreConfig,
    /// `[linear]`.
    pub linear: LinearConfig,
    /// `[portal]`.
    pub portal: PortalConfig,
    /// `[webhooks]`.
    #[serde(default)]
    pub webhooks: WebhooksConfig,
    /// `[sync]`.
    #[serde(default)]
    pub sync: SyncConfig,
    /// `[log]`.
    #[serde(default)]
    pub log: LogConfig,
    /// `[secrets]`.
    #[serde(default)]
    pub secrets: SecretsConfig,
    /// Directory of the file, for resolving relative paths.
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// The file it was read from, for messages.
    #[serde(skip)]
    pub source: PathBuf,
}

/// The secrets named by the config, read from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secrets {
    /// Linear API key (`auth = "api_key"`); `None` with `auth = "oauth"`,
    /// where the token file holds the credential.
    pub linear_api_key: Option<Secret>,
    /// Linear webhook signing secret.
    pub linear_webhook_secret: Secret,
    /// The previous webhook secret during a rotation, if configured and set.
    pub linear_previous_webhook_secret: Option<Secret>,
    /// OAuth client id (`auth = "oauth"`).
    pub linear_client_id: Option<Secret>,
    /// OAuth client secret, if set.
    pub linear_client_secret: Option<Secret>,
    /// Portal API key (also the Canny webhook signing key).
    pub portal_api_key: Secret,
    /// The shared secret Fider's webhook deliveries present; `None` with
    /// Canny, which signs with the API key.
    pub portal_webhook_secret: Option<Secret>,
}

/// A configuration problem, phrased as one sentence naming file and key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {reason}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why (not found, permission denied, …).
        reason: String,
    },
    /// The file is not valid TOML or does not fit the schema.
    #[error("{path}:{line}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem (0 when unknown).
        line: usize,
        /// What is wrong, naming the key.
        message: String,
    },
    /// An environment variable named by a `*_env` key is not set. `var` is
    /// the name as shown: a value that looks like a key is never printed.
    #[error("{path}: {key} names the environment variable {var}, which is not set")]
    MissingEnv {
        /// The file.
        path: PathBuf,
        /// The key, e.g. `linear.api_key_env`.
        key: String,
        /// The variable name.
        var: String,
    },
}

fn default_linear_url() -> String {
    "https://api.linear.app/graphql".into()
}
fn default_linear_key_env() -> String {
    "LINEAR_API_KEY".into()
}
fn default_linear_secret_env() -> String {
    "LINEAR_WEBHOOK_SECRET".into()
}
fn default_client_id_env() -> String {
    "LINEAR_CLIENT_ID".into()
}
fn default_client_secret_env() -> String {
    "LINEAR_CLIENT_SECRET".into()
}
fn default_authorize_url() -> String {
    "https://linear.app/oauth/authorize".into()
}
fn default_token_url() -> String {
    "https://api.linear.app/oauth/token".into()
}
fn default_redirect_uri() -> String {
    "http://127.0.0.1:8789/callback".into()
}
fn default_scopes() -> Vec<String> {
    vec!["read".into(), "write".into()]
}
fn default_overlap() -> HumanDuration {
    HumanDuration(Duration::from_secs(24 * 3600))
}
fn default_canny_url() -> String {
    "https://canny.io/api/v1".into()
}
fn default_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}
fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8787))
}
fn default_max_body() -> usize {
    1_048_576
}
fn default_guard() -> u32 {
    20
}
fn default_attempts() -> u32 {
    8
}
fn default_reserve() -> f64 {
    0.2
}
fn default_level() -> String {
    "info".into()
}

/// Prefixes of credentials that must never appear in a message.
const SECRET_PREFIXES: &[&str] = &[
    "lin_api_",
    "lin_oauth_",
    "lin_wh_",
    "sk_",
    "sk-",
    "ghp_",
    "xoxb-",
    "Bearer ",
];

/// A conventional environment variable name (`LINEAR_API_KEY`).
fn conventional_env_name(v: &str) -> bool {
    v.chars()
        .next()
        .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
        && v.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Whether a value looks like a key or token rather than a name: a known
/// credential prefix, or a long run of token characters mixing letters and
/// digits that is not a conventional variable name.
pub fn looks_like_secret(value: &str) -> bool {
    let t = value.trim();
    if SECRET_PREFIXES.iter().any(|p| t.starts_with(p)) {
        return true;
    }
    t.len() >= 20
        && !conventional_env_name(t)
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.=+/".contains(c))
        && t.chars().any(|c| c.is_ascii_digit())
        && t.chars().any(|c| c.is_ascii_alphabetic())
}

/// Replace every quoted part of `message` that looks like a secret.
fn redact_secrets(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(['"', '\'', '`']) {
        let quote = rest[start..].chars().next().unwrap_or('"');
        let after = &rest[start + 1..];
        let Some(len) = after.find(quote) else {
            break;
        };
        out.push_str(&rest[..=start]);
        let inner = &after[..len];
        out.push_str(if looks_like_secret(inner) {
            "<value not shown: it looks like a key>"
        } else {
            inner
        });
        out.push(quote);
        rest = &after[len + 1..];
    }
    out.push_str(rest);
    out
}

/// 1-based line number of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The `[table]` header in force at a line, for messages like "in [sync]".
fn table_at(text: &str, line: usize) -> Option<String> {
    text.lines()
        .take(line)
        .filter_map(|l| {
            let t = l.trim();
            (t.starts_with('[') && t.ends_with(']')).then(|| t.trim_matches(['[', ']']).to_string())
        })
        .last()
}

impl Config {
    /// Read and validate a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = crate::files::read_capped(path, crate::files::MAX_CONFIG_BYTES, "config file")
            .map_err(|e| ConfigError::Unreadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let mut config = Config::parse(&text, path)?;
        config.base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(config)
    }

    /// Parse and validate config text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |s| line_of(text, s.start));
            let mut message = redact_secrets(e.message().trim());
            if let Some(table) = (line > 0).then(|| table_at(text, line)).flatten() {
                message = format!("in [{table}]: {message}");
            }
            ConfigError::Invalid {
                path: path.to_path_buf(),
                line,
                message,
            }
        })?;
        let mut config = config;
        config.fill_portal_defaults();
        config.validate(text, path)?;
        config.source = path.to_path_buf();
        Ok(config)
    }

    /// Fill in the defaults that depend on the portal product, so the
    /// effective config (`config show`) names them.
    fn fill_portal_defaults(&mut self) {
        let kind = self.portal.kind;
        let p = &mut self.portal;
        if p.api_url.is_empty() && kind == PortalKind::Canny {
            p.api_url = default_canny_url();
        }
        if p.api_key_env.is_empty() {
            p.api_key_env = match kind {
                PortalKind::Canny => "CANNY_API_KEY",
                PortalKind::Fider => "FIDER_API_KEY",
            }
            .into();
        }
        if kind == PortalKind::Fider {
            p.webhook_secret_env
                .get_or_insert_with(|| "FIDER_WEBHOOK_SECRET".into());
            let place = *p.webhook_secret_in.get_or_insert_default();
            if place == SecretPlace::Header {
                p.webhook_secret_header
                    .get_or_insert_with(|| DEFAULT_SECRET_HEADER.into());
            }
            p.webhook_silence
                .get_or_insert(HumanDuration(Duration::from_secs(600)));
        }
        self.sync
            .reconcile_interval
            .get_or_insert(HumanDuration(default_reconcile_interval(kind)));
        self.sync
            .create_in_linear_when
            .get_or_insert_with(|| default_create_rule(kind));
    }

    /// How often reconcile runs.
    pub fn reconcile_interval(&self) -> Duration {
        self.sync
            .reconcile_interval
            .map_or_else(|| default_reconcile_interval(self.portal.kind), |d| d.0)
    }

    /// Which portal posts become Linear issues.
    pub fn create_in_linear_when(&self) -> CreateRule {
        self.sync
            .create_in_linear_when
            .clone()
            .unwrap_or_else(|| default_create_rule(self.portal.kind))
    }

    fn validate(&self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| {
            let needle = key.rsplit('.').next().unwrap_or(key);
            let line = text
                .lines()
                .position(|l| l.trim_start().starts_with(needle))
                .map_or(0, |i| i + 1);
            ConfigError::Invalid {
                path: path.to_path_buf(),
                line,
                message: format!("{key}: {message}"),
            }
        };
        self.validate_portal(&invalid)?;
        self.validate_store(&invalid)?;
        for (key, url) in [
            ("linear.api_url", &self.linear.api_url),
            ("portal.api_url", &self.portal.api_url),
            (
                "linear.oauth_authorize_url",
                &self.linear.oauth_authorize_url,
            ),
            ("linear.oauth_token_url", &self.linear.oauth_token_url),
        ] {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                let shown = if looks_like_secret(url) {
                    "the value (not shown: it looks like a key)".to_string()
                } else {
                    format!("'{url}'")
                };
                return Err(invalid(key, format!("{shown} is not an http(s) URL")));
            }
        }
        if self.linear.team.trim().is_empty() {
            return Err(invalid(
                "linear.team",
                "must name a team key such as \"ENG\"".into(),
            ));
        }
        if self.reconcile_interval() < Duration::from_secs(10) {
            return Err(invalid(
                "sync.reconcile_interval",
                "must be at least 10s".into(),
            ));
        }
        if !(0.0..=0.9).contains(&self.sync.live_reserve) {
            return Err(invalid(
                "sync.live_reserve",
                "must be between 0 and 0.9".into(),
            ));
        }
        if self.sync.max_attempts == 0 {
            return Err(invalid("sync.max_attempts", "must be at least 1".into()));
        }
        if self.webhooks.max_body_bytes < 1024 {
            return Err(invalid(
                "webhooks.max_body_bytes",
                "must be at least 1024".into(),
            ));
        }
        self.validate_edge(&invalid)?;
        if crate::auth::signin::loopback(&self.linear.oauth_redirect_uri).is_err() {
            return Err(invalid(
                "linear.oauth_redirect_uri",
                format!(
                    "'{}' must be http://127.0.0.1:PORT/PATH (a loopback address with a port)",
                    self.linear.oauth_redirect_uri
                ),
            ));
        }
        if self.linear.oauth_scopes.is_empty() {
            return Err(invalid(
                "linear.oauth_scopes",
                "must name at least one scope, e.g. [\"read\", \"write\"]".into(),
            ));
        }
        if self.linear.rotation_overlap.0 < Duration::from_secs(60) {
            return Err(invalid(
                "linear.rotation_overlap",
                "must be at least 1m".into(),
            ));
        }
        let previous = self.linear.previous_webhook_secret_env.as_ref();
        if previous == Some(&self.linear.webhook_secret_env) {
            return Err(invalid(
                "linear.previous_webhook_secret_env",
                "must name a different variable than webhook_secret_env".into(),
            ));
        }
        for (key, var) in [
            ("linear.api_key_env", &self.linear.api_key_env),
            ("linear.webhook_secret_env", &self.linear.webhook_secret_env),
            ("portal.api_key_env", &self.portal.api_key_env),
            (
                "portal.webhook_secret_env",
                self.portal
                    .webhook_secret_env
                    .as_ref()
                    .unwrap_or(&self.portal.api_key_env),
            ),
            (
                "linear.oauth_client_id_env",
                &self.linear.oauth_client_id_env,
            ),
            (
                "linear.oauth_client_secret_env",
                &self.linear.oauth_client_secret_env,
            ),
        ]
        .into_iter()
        .chain(previous.map(|v| ("linear.previous_webhook_secret_env", v)))
        {
            if looks_like_secret(var) {
                return Err(invalid(
                    key,
                    "the value looks like a key or token, not the name of an environment variable; put the secret in an environment variable and name that variable here (the value is not shown)".into(),
                ));
            }
            let ok = !var.is_empty() && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                return Err(invalid(
                    key,
                    format!("'{var}' is not an environment variable name"),
                ));
            }
        }
        Ok(())
    }

    /// What each portal product needs and what only the other one takes.
    fn validate_portal(
        &self,
        invalid: &dyn Fn(&str, String) -> ConfigError,
    ) -> Result<(), ConfigError> {
        let p = &self.portal;
        let kind = p.kind;
        let not_for = |key: &str, set: bool, why: &str| {
            if set {
                Err(invalid(
                    &format!("portal.{key}"),
                    format!("is not used with kind = \"{kind}\" ({why}); remove it"),
                ))
            } else {
                Ok(())
            }
        };
        match kind {
            PortalKind::Canny => {
                if p.board.trim().is_empty() {
                    return Err(invalid(
                        "portal.board",
                        "must name the board to sync".into(),
                    ));
                }
                if p.boards.iter().any(|b| b.trim().is_empty()) {
                    return Err(invalid(
                        "portal.boards",
                        "board names must not be empty".into(),
                    ));
                }
                let signed = "Canny signs its webhooks with the API key";
                not_for("webhook_secret_env", p.webhook_secret_env.is_some(), signed)?;
                not_for("webhook_secret_in", p.webhook_secret_in.is_some(), signed)?;
                not_for(
                    "webhook_secret_header",
                    p.webhook_secret_header.is_some(),
                    signed,
                )?;
                not_for(
                    "webhook_silence",
                    p.webhook_silence.is_some(),
                    "Canny's webhooks do not turn themselves off",
                )?;
            }
            PortalKind::Fider => {
                if p.api_url.trim().is_empty() {
                    return Err(invalid(
                        "portal.api_url",
                        "must be the Fider site's URL with kind = \"fider\", e.g. \"https://feedback.example.com\" (roundtrip adds /api/v1)".into(),
                    ));
                }
                not_for("board", !p.board.is_empty(), "a Fider site has one board")?;
                let canny_only = "it is a Canny setting";
                not_for("admin_id", p.admin_id.is_some(), canny_only)?;
                not_for("admin_email", p.admin_email.is_some(), canny_only)?;
                not_for(
                    "statuses",
                    !p.statuses.is_empty(),
                    "Fider has no custom statuses",
                )?;
                if p.webhook_secret_in == Some(SecretPlace::Path) {
                    not_for(
                        "webhook_secret_header",
                        p.webhook_secret_header.is_some(),
                        "webhook_secret_in = \"path\" reads the secret from the URL",
                    )?;
                }
                if let Some(h) = p.secret_header()
                    && http::HeaderName::from_bytes(h.as_bytes()).is_err()
                {
                    return Err(invalid(
                        "portal.webhook_secret_header",
                        format!("'{h}' is not an HTTP header name"),
                    ));
                }
                if p.webhook_silence() < Duration::from_secs(1) {
                    return Err(invalid(
                        "portal.webhook_silence",
                        "must be at least 1s".into(),
                    ));
                }
            }
        }
        Ok(())
    }

    fn validate_store(
        &self,
        invalid: &impl Fn(&str, String) -> ConfigError,
    ) -> Result<(), ConfigError> {
        let Some(url) = &self.store.url else {
            if self.store.password_env.is_some() {
                return Err(invalid(
                    "store.password_env",
                    "is only used with store.url (a PostgreSQL store)".into(),
                ));
            }
            return Ok(());
        };
        if self.store.path.is_some() {
            return Err(invalid(
                "store.url",
                "set either store.path (SQLite) or store.url (PostgreSQL), not both".into(),
            ));
        }
        let shown = crate::store::pg::redact_url(url);
        if !crate::store::is_postgres_url(url) {
            return Err(invalid(
                "store.url",
                format!(
                    "{shown} is not a PostgreSQL URL; expected postgres://USER@HOST:PORT/DATABASE"
                ),
            ));
        }
        if url::Url::parse(url).is_ok_and(|u| u.password().is_some()) {
            return Err(invalid(
                "store.url",
                "holds a password; put it in an environment variable and name that variable in store.password_env".into(),
            ));
        }
        Ok(())
    }

    fn validate_edge(
        &self,
        invalid: &dyn Fn(&str, String) -> ConfigError,
    ) -> Result<(), ConfigError> {
        let w = &self.webhooks;
        let at_least = |key: &str, ok: bool, what: String| {
            if ok {
                Ok(())
            } else {
                Err(invalid(key, format!("must be at least {what}")))
            }
        };
        at_least(
            "webhooks.max_connections",
            w.max_connections >= 1,
            "1".into(),
        )?;
        at_least("webhooks.max_in_flight", w.max_in_flight >= 1, "1".into())?;
        at_least(
            "webhooks.max_header_bytes",
            w.max_header_bytes >= crate::webhook::MIN_HEADER_BYTES,
            crate::webhook::MIN_HEADER_BYTES.to_string(),
        )?;
        at_least(
            "webhooks.max_buffered_bytes",
            w.max_buffered_bytes >= w.max_body_bytes,
            "webhooks.max_body_bytes (one body must fit)".into(),
        )?;
        if w.max_buffered_bytes > u32::MAX as usize {
            return Err(invalid(
                "webhooks.max_buffered_bytes",
                format!("must be at most {}", u32::MAX),
            ));
        }
        for (key, d) in [
            ("webhooks.header_timeout", w.header_timeout.0),
            ("webhooks.request_timeout", w.request_timeout.0),
            ("webhooks.retry_after", w.retry_after.0),
            (
                "webhooks.integrity_check_interval",
                w.integrity_check_interval.0,
            ),
            ("webhooks.reject_log_interval", w.reject_log_interval.0),
        ] {
            at_least(key, d >= Duration::from_secs(1), "1s".into())?;
        }
        let min = crate::webhook::min_inbox_retention();
        at_least(
            "webhooks.inbox_retention",
            w.inbox_retention.0 >= min,
            format!(
                "{} (the longest window in which a signed delivery is accepted again)",
                format_duration(min)
            ),
        )
    }

    /// Read every secret the config names: from `[secrets] env_file` when
    /// it sets the variable, else from the process environment. Called at
    /// start and again on SIGHUP.
    pub fn secrets(&self) -> Result<Secrets, ConfigError> {
        let file = self.env_file_values()?;
        self.secrets_from(|var| file.get(var).cloned().or_else(|| std::env::var(var).ok()))
    }

    /// One variable's value (env file first, then the environment), for a
    /// command that needs only some secrets (`auth linear`).
    pub fn lookup_secret(&self, var: &str) -> Result<Option<Secret>, ConfigError> {
        let file = self.env_file_values()?;
        Ok(file
            .get(var)
            .cloned()
            .or_else(|| std::env::var(var).ok())
            .filter(|v| !v.is_empty())
            .map(Secret))
    }

    /// The `[secrets] env_file` path, resolved against the config's directory.
    pub fn env_file_path(&self) -> Option<PathBuf> {
        self.secrets.env_file.as_ref().map(|p| self.resolve(p))
    }

    fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    fn env_file_values(&self) -> Result<std::collections::HashMap<String, String>, ConfigError> {
        let Some(path) = self.env_file_path() else {
            return Ok(Default::default());
        };
        let unreadable = |reason: String| ConfigError::Unreadable {
            path: path.clone(),
            reason,
        };
        let iter = dotenvy::from_path_iter(&path).map_err(|e| {
            unreadable(match e {
                dotenvy::Error::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
                    "no such file ([secrets] env_file)".into()
                }
                dotenvy::Error::Io(io) => io.to_string(),
                // Parse errors quote the offending line, which may hold a
                // secret: say only where.
                _ => "not a KEY=value file".into(),
            })
        })?;
        let mut values = std::collections::HashMap::new();
        for (n, item) in iter.enumerate() {
            let (k, v) = item.map_err(|_| {
                unreadable(format!(
                    "entry {} is not KEY=value ([secrets] env_file)",
                    n + 1
                ))
            })?;
            values.insert(k, v);
        }
        Ok(values)
    }

    /// The OAuth token file: `[linear] token_file` resolved against the
    /// config's directory, or `roundtrip/linear-token.json` in the XDG data
    /// directory.
    pub fn token_file_path(&self) -> Option<PathBuf> {
        match &self.linear.token_file {
            Some(p) => Some(self.resolve(p)),
            None => default_store_path().map(|p| p.with_file_name("linear-token.json")),
        }
    }

    /// Like [`Config::secrets`] with a custom lookup (tests).
    pub fn secrets_from(
        &self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Secrets, ConfigError> {
        let get = |key: &str, var: &str| {
            // Blank counts as unset: a secret of spaces would sign nothing.
            lookup(var)
                .filter(|v| !v.trim().is_empty())
                .map(Secret)
                .ok_or_else(|| ConfigError::MissingEnv {
                    path: self.source.clone(),
                    key: key.to_string(),
                    var: if conventional_env_name(var) {
                        var.to_string()
                    } else {
                        "(not shown: the value looks like a key, not a variable name)".to_string()
                    },
                })
        };
        let optional = |var: &str| lookup(var).filter(|v| !v.is_empty()).map(Secret);
        let oauth = self.linear.auth == LinearAuth::Oauth;
        Ok(Secrets {
            linear_api_key: match oauth {
                true => None,
                false => Some(get("linear.api_key_env", &self.linear.api_key_env)?),
            },
            linear_webhook_secret: get(
                "linear.webhook_secret_env",
                &self.linear.webhook_secret_env,
            )?,
            linear_previous_webhook_secret: self
                .linear
                .previous_webhook_secret_env
                .as_deref()
                .and_then(optional),
            linear_client_id: match oauth {
                true => Some(get(
                    "linear.oauth_client_id_env",
                    &self.linear.oauth_client_id_env,
                )?),
                false => optional(&self.linear.oauth_client_id_env),
            },
            linear_client_secret: optional(&self.linear.oauth_client_secret_env),
            portal_api_key: get("portal.api_key_env", &self.portal.api_key_env)?,
            portal_webhook_secret: match &self.portal.webhook_secret_env {
                Some(var) => Some(get("portal.webhook_secret_env", var)?),
                None => None,
            },
        })
    }

    /// Where the store is: the PostgreSQL database of `[store] url` (its
    /// password read now from `password_env`, the env file first), the
    /// `path` resolved against the config's directory, or `None` for the
    /// default file.
    pub fn store_location(&self) -> Result<Option<crate::store::StoreLocation>, ConfigError> {
        use crate::store::StoreLocation;
        let Some(url) = &self.store.url else {
            return Ok(self.store_path().map(StoreLocation::File));
        };
        let password = match &self.store.password_env {
            Some(var) => Some(
                self.lookup_secret(var)?
                    .ok_or_else(|| ConfigError::MissingEnv {
                        path: self.source.clone(),
                        key: "store.password_env".into(),
                        var: var.clone(),
                    })?
                    .0,
            ),
            None => None,
        };
        let target =
            crate::store::pg::PgTarget::parse(url, password).map_err(|e| ConfigError::Invalid {
                path: self.source.clone(),
                line: 0,
                message: format!("store.url: {e}"),
            })?;
        Ok(Some(StoreLocation::Postgres(std::sync::Arc::new(target))))
    }

    /// The store path with relative paths resolved against the config's
    /// directory; `None` means "use the default location" (or a
    /// PostgreSQL store).
    pub fn store_path(&self) -> Option<PathBuf> {
        self.store.path.as_ref().map(|p| {
            if p.is_absolute() {
                p.clone()
            } else {
                self.base_dir.join(p)
            }
        })
    }
}

/// The default store location: `roundtrip/roundtrip.db` under the XDG data
/// directory (`~/.local/share` on Linux).
pub fn default_store_path() -> Option<PathBuf> {
    use etcetera::BaseStrategy;
    etcetera::choose_base_strategy()
        .ok()
        .map(|s| s.data_dir().join("roundtrip").join("roundtrip.db"))
}

/// The commented example configuration shipped in `assets/`.
pub const EXAMPLE: &str = include_str!("../assets/roundtrip.example.toml");

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("rt.toml"))
    }

    const MINIMAL: &str = "[linear]\nteam = \"ENG\"\n[portal]\nboard = \"Feature Requests\"\n";

    #[test]
    fn a_postgres_store_takes_its_password_from_the_environment_only() {
        let with = |store: &str| parse(&format!("{MINIMAL}[store]\n{store}\n"));
        let err = |store: &str| with(store).unwrap_err().to_string();
        assert!(err("path = \"a.db\"\nurl = \"postgres://rt@db/rt\"").contains("not both"));
        assert!(err("url = \"sqlite:///tmp/a.db\"").contains("not a PostgreSQL URL"));
        let e = err("url = \"postgres://rt:hunter2@db/rt\"");
        assert!(e.contains("password_env") && !e.contains("hunter2"), "{e}");
        assert!(err("password_env = \"PG_PW\"").contains("only used with store.url"));

        let c = with("url = \"postgres://rt@db.internal:5433/rt\"\npassword_env = \"RT_TEST_UNSET_PG_PASSWORD\"").unwrap();
        let e = c.store_location().unwrap_err().to_string();
        assert!(
            e.contains("RT_TEST_UNSET_PG_PASSWORD") && e.contains("not set"),
            "{e}"
        );
        let c = with("url = \"postgres://rt@db.internal:5433/rt\"").unwrap();
        let location = c.store_location().unwrap().unwrap();
        assert!(location.is_shared());
        assert_eq!(location.to_string(), "postgres://rt@db.internal:5433/rt");
        let c = parse(MINIMAL).unwrap();
        assert!(c.store_location().unwrap().is_none(), "the default file");
    }

    #[test]
    fn example_file_parses_with_documented_values() {
        let c = parse(EXAMPLE).unwrap();
        assert_eq!(c.linear.team, "ENG");
        assert_eq!(c.portal.board, "Feature Requests");
        assert_eq!(c.reconcile_interval(), Duration::from_secs(300));
        assert_eq!(c.sync.delete_policy, DeletePolicy::Unlink);
        assert_eq!(c.webhooks.max_body_bytes, 1_048_576);
    }

    #[test]
    fn minimal_file_gets_defaults() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.linear.api_url, "https://api.linear.app/graphql");
        assert_eq!(c.linear.auth, LinearAuth::ApiKey);
        assert_eq!(c.sync.mass_delete_guard, 20);
        assert!(
            c.create_in_linear_when()
                .status
                .contains(&"planned".to_string())
        );
    }

    #[test]
    fn errors_name_line_key_and_problem() {
        let e = parse(&format!("{MINIMAL}[sync]\nreconcile_interval = \"5x\"\n")).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("rt.toml:6:"), "{msg}");
        assert!(msg.contains("'5x' is not a duration"), "{msg}");

        let e = parse(&format!("{MINIMAL}[sync]\nreconcile_intervall = \"5m\"\n")).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("unknown field `reconcile_intervall`"), "{msg}");
        assert!(msg.contains("[sync]"), "{msg}");

        let e = parse(&format!("{MINIMAL}[webhooks]\nmax_body_bytes = \"big\"\n")).unwrap_err();
        assert!(e.to_string().contains("invalid type"), "{e}");

        let e = parse("[portal]\nboard = \"x\"\n").unwrap_err();
        assert!(e.to_string().contains("missing field `linear`"), "{e}");
    }

    #[test]
    fn missing_env_var_is_named() {
        let c = parse(MINIMAL).unwrap();
        let e = c
            .secrets_from(|v| (v == "LINEAR_API_KEY").then(|| "k".to_string()))
            .unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("linear.webhook_secret_env"), "{msg}");
        assert!(msg.contains("LINEAR_WEBHOOK_SECRET"), "{msg}");
    }

    #[test]
    fn a_key_pasted_where_a_variable_name_belongs_is_never_echoed() {
        let key = "lin_api_Zq8x3PqR7mN2vB5kL0aW9eT4yU6iO1pS";
        let e = parse(&format!(
            "[linear]\nteam = \"ENG\"\napi_key_env = \"{key}\"\n[portal]\nboard = \"B\"\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(!e.contains(key) && !e.contains("Zq8x3"), "{e}");
        assert!(e.contains("looks like a key"), "{e}");
        assert!(e.contains("linear.api_key_env"), "{e}");
        // A 32-hex Canny key passes as a name but is still not printed
        // when no such variable exists.
        let hex = "9f86d081884c7d659a2feaa0c55ad015";
        let c = parse(MINIMAL).unwrap();
        let mut c2 = c.clone();
        c2.portal.api_key_env = hex.into();
        let e = c2
            .secrets_from(|v| (v != hex).then(|| "x".to_string()))
            .unwrap_err()
            .to_string();
        assert!(!e.contains(hex), "{e}");
        // Secret-looking values in the parser's own messages are hidden too.
        let e = parse(&format!("{MINIMAL}[webhooks]\nlisten = \"{key}\"\n"))
            .unwrap_err()
            .to_string();
        assert!(!e.contains(key), "{e}");
        let e = parse(&format!(
            "[linear]\nteam = \"ENG\"\napi_url = \"{key}\"\n[portal]\nboard = \"B\"\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(!e.contains(key), "{e}");
    }

    #[test]
    fn a_blank_secret_is_refused_like_a_missing_one() {
        let c = parse(MINIMAL).unwrap();
        let e = c
            .secrets_from(|v| {
                Some(if v == "LINEAR_WEBHOOK_SECRET" {
                    " \t\n".into()
                } else {
                    "k".into()
                })
            })
            .unwrap_err();
        assert!(e.to_string().contains("LINEAR_WEBHOOK_SECRET"), "{e}");
    }

    #[test]
    fn edge_limits_are_validated_and_retention_covers_the_replay_window() {
        let e = parse(&format!("{MINIMAL}[webhooks]\ninbox_retention = \"1m\"\n")).unwrap_err();
        assert!(e.to_string().contains("webhooks.inbox_retention"), "{e}");
        assert!(e.to_string().contains("6m"), "{e}");
        let e = parse(&format!("{MINIMAL}[webhooks]\nmax_header_bytes = 100\n")).unwrap_err();
        assert!(e.to_string().contains("8192"), "{e}");
        let e = parse(&format!(
            "{MINIMAL}[webhooks]\nmax_body_bytes = 4096\nmax_buffered_bytes = 2048\n"
        ))
        .unwrap_err();
        assert!(e.to_string().contains("one body must fit"), "{e}");
        let c = parse(&format!(
            "{MINIMAL}[webhooks]\nmax_connections = 50\nheader_timeout = \"3s\"\ninbox_retention = \"2h\"\n"
        ))
        .unwrap();
        let o = c.webhooks.options();
        assert_eq!(o.limits.max_connections, 50);
        assert_eq!(o.limits.header_timeout, Duration::from_secs(3));
        assert_eq!(o.inbox_retention, Duration::from_secs(7200));
    }

    #[test]
    fn an_endless_config_file_is_refused() {
        let e = Config::load(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("larger than 1024 KiB"), "{e}");
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = parse(MINIMAL).unwrap();
        let s = c
            .secrets_from(|v| Some(format!("super-secret-{v}")))
            .unwrap();
        let dbg = format!("{s:?} {} {c:?}", s.linear_api_key.as_ref().unwrap());
        assert!(!dbg.contains("super-secret"), "{dbg}");
        assert_eq!(
            s.linear_api_key.as_ref().unwrap().expose(),
            "super-secret-LINEAR_API_KEY"
        );
    }

    #[test]
    fn env_file_values_win_and_errors_never_quote_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("s.env"),
            "LINEAR_API_KEY=from-file\nLINEAR_WEBHOOK_SECRET=wh\nCANNY_API_KEY=c\n",
        )
        .unwrap();
        let mut c = parse(&format!("{MINIMAL}[secrets]\nenv_file = \"s.env\"\n")).unwrap();
        c.base_dir = dir.path().to_path_buf();
        let s = c.secrets().unwrap();
        assert_eq!(s.linear_api_key.unwrap().expose(), "from-file");
        std::fs::write(dir.path().join("s.env"), "NOT A LINE WITH SECRET-VALUE\n").unwrap();
        let e = c.secrets().unwrap_err().to_string();
        assert!(e.contains("s.env") && !e.contains("SECRET-VALUE"), "{e}");
        std::fs::remove_file(dir.path().join("s.env")).unwrap();
        assert!(
            c.secrets()
                .unwrap_err()
                .to_string()
                .contains("no such file")
        );
    }

    #[test]
    fn oauth_and_rotation_keys_are_validated() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(
            c.linear.oauth_redirect_uri,
            "http://127.0.0.1:8789/callback"
        );
        assert_eq!(c.linear.rotation_overlap.0, Duration::from_secs(86_400));
        let e = parse(&MINIMAL.replace(
            "team = \"ENG\"\n",
            "team = \"ENG\"\noauth_redirect_uri = \"https://example.com/cb\"\n",
        ))
        .unwrap_err();
        assert!(e.to_string().contains("linear.oauth_redirect_uri"), "{e}");
        let e = parse(&MINIMAL.replace(
            "team = \"ENG\"\n",
            "team = \"ENG\"\nprevious_webhook_secret_env = \"LINEAR_WEBHOOK_SECRET\"\n",
        ))
        .unwrap_err();
        assert!(e.to_string().contains("previous_webhook_secret_env"), "{e}");
        let e = parse(&MINIMAL.replace(
            "team = \"ENG\"\n",
            "team = \"ENG\"\nrotation_overlap = \"10s\"\n",
        ))
        .unwrap_err();
        assert!(e.to_string().contains("at least 1m"), "{e}");
    }

    const FIDER: &str = "[linear]\nteam = \"ENG\"\n[portal]\nkind = \"fider\"\napi_url = \"https://feedback.example.com\"\n";

    #[test]
    fn a_fider_portal_gets_its_own_defaults() {
        let c = parse(FIDER).unwrap();
        assert_eq!(c.portal.kind, PortalKind::Fider);
        assert_eq!(c.portal.api_key_env, "FIDER_API_KEY");
        assert_eq!(
            c.portal.webhook_secret_env.as_deref(),
            Some("FIDER_WEBHOOK_SECRET")
        );
        assert_eq!(c.portal.secret_header(), Some("X-Roundtrip-Secret"));
        assert_eq!(c.reconcile_interval(), Duration::from_secs(60));
        assert_eq!(c.create_in_linear_when().status, ["planned", "started"]);
        assert_eq!(c.portal.webhook_silence(), Duration::from_secs(600));
        let shown = toml::to_string_pretty(&c).unwrap();
        assert!(shown.contains("reconcile_interval = \"1m\""), "{shown}");
        let path = parse(&format!("{FIDER}webhook_secret_in = \"path\"\n")).unwrap();
        assert_eq!(path.portal.secret_header(), None);
        let s = c
            .secrets_from(|v| (v != "FIDER_WEBHOOK_SECRET").then(|| "x".to_string()))
            .unwrap_err()
            .to_string();
        assert!(
            s.contains("portal.webhook_secret_env") && s.contains("FIDER_WEBHOOK_SECRET"),
            "{s}"
        );
        let ok = c.secrets_from(|v| Some(format!("value of {v}"))).unwrap();
        assert_eq!(
            ok.portal_webhook_secret.unwrap().expose(),
            "value of FIDER_WEBHOOK_SECRET"
        );
        let canny = parse(MINIMAL).unwrap();
        assert!(
            canny
                .secrets_from(|_| Some("k".into()))
                .unwrap()
                .portal_webhook_secret
                .is_none()
        );
    }

    #[test]
    fn settings_of_the_other_portal_are_refused_by_name() {
        let e = parse("[linear]\nteam = \"ENG\"\n[portal]\nkind = \"fider\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("portal.api_url") && e.contains("Fider site"),
            "{e}"
        );
        let e = parse(&format!("{FIDER}board = \"Ideas\"\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("portal.board") && e.contains("one board"), "{e}");
        let e = parse(&format!("{FIDER}admin_email = \"a@b.c\"\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("portal.admin_email"), "{e}");
        let e = parse(&format!(
            "{FIDER}webhook_secret_header = \"not a header\"\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("not an HTTP header name"), "{e}");
        let e = parse(&format!("{MINIMAL}webhook_secret_env = \"S\"\n"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("portal.webhook_secret_env") && e.contains("Canny signs"),
            "{e}"
        );
        let e = parse(&MINIMAL.replace("[portal]\n", "[portal]\nkind = \"jira\"\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown portal kind 'jira'"), "{e}");
    }

    #[test]
    fn the_examples_fider_section_parses_once_uncommented() {
        let start = EXAMPLE.find("# [portal]\n# kind = \"fider\"").unwrap();
        let end = start + EXAMPLE[start..].find("\n\n").unwrap();
        let fider: String = EXAMPLE[start..end]
            .lines()
            .filter(|l| !l.starts_with("# #"))
            .map(|l| l.trim_start_matches("# "))
            .collect::<Vec<_>>()
            .join("\n");
        let canny_start = EXAMPLE.find("[portal]\n").unwrap();
        let text = format!("{}{fider}\n{}", &EXAMPLE[..canny_start], &EXAMPLE[end..]);
        let c = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(c.portal.kind, PortalKind::Fider);
        assert_eq!(c.portal.secret_header(), Some("X-Roundtrip-Secret"));
    }
}
