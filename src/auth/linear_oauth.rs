//! Linear's OAuth 2.0 endpoints through the `oauth2` crate: the authorize URL
//! (PKCE S256, comma-separated scopes, `actor`), the code exchange and the
//! refresh, each form-encoded with the client id (and secret, when one is
//! configured) in the body, as Linear documents (API-NOTES section 1).

use std::time::Duration;

use chrono::Utc;
use oauth2::basic::{
    BasicErrorResponse, BasicErrorResponseType, BasicRevocationErrorResponse,
    BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AccessToken, AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EndpointNotSet, EndpointSet, ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RefreshToken, RequestTokenError, Scope, StandardRevocableToken, TokenResponse,
    TokenUrl,
};
use serde::{Deserialize, Deserializer, Serialize};

use super::token_file::{Actor, TokenSet};
use crate::config::Secret;

/// Linear's token response. Its own type rather than the crate's standard
/// one because apps created before 2023-12-01 get `scope` as an array of
/// strings, not a space-joined string (Linear's OAuth documentation).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LinearTokenResponse {
    access_token: AccessToken,
    token_type: BasicTokenType,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<RefreshToken>,
    #[serde(default, deserialize_with = "scope_string_or_list")]
    scope: Option<Vec<Scope>>,
}

impl ExtraTokenFields for LinearTokenResponse {}

fn scope_string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Scope>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Text(String),
        List(Vec<String>),
    }
    Ok(Option::<Either>::deserialize(d)?.map(|e| {
        let items: Vec<String> = match e {
            Either::Text(t) => t
                .split([' ', ','])
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            Either::List(l) => l,
        };
        items.into_iter().map(Scope::new).collect()
    }))
}

impl TokenResponse for LinearTokenResponse {
    type TokenType = BasicTokenType;
    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }
    fn token_type(&self) -> &BasicTokenType {
        &self.token_type
    }
    fn expires_in(&self) -> Option<Duration> {
        self.expires_in.map(Duration::from_secs)
    }
    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }
    fn scopes(&self) -> Option<&Vec<Scope>> {
        self.scope.as_ref()
    }
}

type Client = oauth2::Client<
    BasicErrorResponse,
    LinearTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// Where Linear's OAuth endpoints are and who the application is.
#[derive(Clone, Debug)]
pub struct OAuthEndpoints {
    /// `https://linear.app/oauth/authorize` (the simulator's in tests).
    pub authorize_url: String,
    /// `https://api.linear.app/oauth/token`.
    pub token_url: String,
    /// The application's client id.
    pub client_id: String,
    /// The client secret; optional with PKCE, sent when configured.
    pub client_secret: Option<Secret>,
    /// The callback URL registered with the application.
    pub redirect_uri: String,
    /// Whole-request timeout.
    pub timeout: Duration,
}

/// Why a token request failed. Never contains a token or the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// `invalid_grant`: the code or refresh token is spent, expired or
    /// revoked. Only signing in again helps.
    #[error("Linear answered invalid_grant ({0})")]
    InvalidGrant(String),
    /// `invalid_client`/`unauthorized_client`: the client id or secret is
    /// wrong. The tokens may be fine.
    #[error("Linear refused the OAuth client credentials ({0})")]
    InvalidClient(String),
    /// Any other OAuth error answer.
    #[error("Linear refused the token request: {0}")]
    Refused(String),
    /// Network failure, timeout, or an answer that is not OAuth JSON: worth
    /// retrying later.
    #[error("the Linear token endpoint could not be reached: {0}")]
    Unavailable(String),
    /// A URL in the configuration is not valid.
    #[error("invalid OAuth endpoint configuration: {0}")]
    Config(String),
}

/// What the operator opens, and what is needed to finish the exchange.
#[derive(Debug)]
pub struct AuthorizeRequest {
    /// The URL to open in a browser.
    pub url: url::Url,
    /// The `state` that must come back with the code.
    pub state: CsrfToken,
    /// The PKCE verifier for the exchange.
    pub verifier: PkceCodeVerifier,
}

impl OAuthEndpoints {
    fn client(&self) -> Result<Client, OAuthError> {
        let bad = |what: &str, e: url::ParseError| OAuthError::Config(format!("{what}: {e}"));
        let mut c = oauth2::Client::new(ClientId::new(self.client_id.clone()))
            .set_auth_uri(
                AuthUrl::new(self.authorize_url.clone()).map_err(|e| bad("authorize URL", e))?,
            )
            .set_token_uri(TokenUrl::new(self.token_url.clone()).map_err(|e| bad("token URL", e))?)
            .set_redirect_uri(
                RedirectUrl::new(self.redirect_uri.clone()).map_err(|e| bad("redirect URI", e))?,
            )
            .set_auth_type(AuthType::RequestBody);
        if let Some(secret) = &self.client_secret {
            c = c.set_client_secret(ClientSecret::new(secret.expose().to_string()));
        }
        Ok(c)
    }

    fn http(&self) -> Result<reqwest::Client, OAuthError> {
        // No redirects: a token endpoint that redirects is not to be
        // followed with a code or refresh token in the body.
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeout)
            .user_agent(concat!("roundtrip/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| OAuthError::Config(e.to_string()))
    }

    /// The authorize URL with PKCE S256, `state`, comma-separated scopes
    /// (one scope item: the crate would join several with spaces, Linear
    /// wants commas), `actor` and `prompt=consent`.
    pub fn authorize(
        &self,
        scopes: &[String],
        actor: Actor,
    ) -> Result<AuthorizeRequest, OAuthError> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .client()?
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new(scopes.join(",")))
            .add_extra_param("actor", actor.as_str())
            .add_extra_param("prompt", "consent")
            .set_pkce_challenge(challenge)
            .url();
        Ok(AuthorizeRequest {
            url,
            state,
            verifier,
        })
    }

    /// Exchange an authorization code (with its PKCE verifier) for tokens.
    pub async fn exchange(
        &self,
        code: &str,
        verifier: PkceCodeVerifier,
        actor: Actor,
    ) -> Result<TokenSet, OAuthError> {
        let http = self.http()?;
        let r = self
            .client()?
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .await
            .map_err(classify)?;
        Ok(to_token_set(&r, actor, None))
    }

    /// Spend a refresh token for a new pair. Linear rotates the refresh
    /// token; if an answer ever lacked one, the old one is kept.
    pub async fn refresh(&self, previous: &TokenSet) -> Result<TokenSet, OAuthError> {
        let Some(refresh) = previous.refresh_token.as_deref() else {
            return Err(OAuthError::InvalidGrant(
                "the token file holds no refresh token".into(),
            ));
        };
        let http = self.http()?;
        let token = RefreshToken::new(refresh.to_string());
        let r = self
            .client()?
            .exchange_refresh_token(&token)
            .request_async(&http)
            .await
            .map_err(classify)?;
        Ok(to_token_set(&r, previous.actor, Some(previous)))
    }
}

fn to_token_set(r: &LinearTokenResponse, actor: Actor, previous: Option<&TokenSet>) -> TokenSet {
    let now = Utc::now();
    // Without expires_in, assume Linear's documented 24 hours.
    let lifetime = r
        .expires_in()
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .unwrap_or_else(|| chrono::Duration::hours(24));
    TokenSet {
        access_token: r.access_token().secret().clone(),
        refresh_token: r
            .refresh_token()
            .map(|t| t.secret().clone())
            .or_else(|| previous.and_then(|p| p.refresh_token.clone())),
        expires_at: now + lifetime,
        obtained_at: now,
        scopes: r
            .scopes()
            .map(|s| s.iter().map(|s| s.to_string()).collect())
            .or_else(|| previous.map(|p| p.scopes.clone()))
            .unwrap_or_default(),
        actor,
    }
}

fn classify<RE: std::error::Error>(e: RequestTokenError<RE, BasicErrorResponse>) -> OAuthError {
    match e {
        RequestTokenError::ServerResponse(r) => {
            let desc = r
                .error_description()
                .cloned()
                .unwrap_or_else(|| r.error().to_string());
            match r.error() {
                BasicErrorResponseType::InvalidGrant => OAuthError::InvalidGrant(desc),
                BasicErrorResponseType::InvalidClient
                | BasicErrorResponseType::UnauthorizedClient => OAuthError::InvalidClient(desc),
                other => OAuthError::Refused(format!("{other}: {desc}")),
            }
        }
        RequestTokenError::Request(e) => {
            let mut text = e.to_string();
            let mut source = e.source();
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            OAuthError::Unavailable(text)
        }
        // Bodies are dropped: an unexpected answer could echo the request.
        RequestTokenError::Parse(_, _) => {
            OAuthError::Unavailable("the answer was not OAuth JSON".into())
        }
        RequestTokenError::Other(why) => OAuthError::Unavailable(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints() -> OAuthEndpoints {
        OAuthEndpoints {
            authorize_url: "https://linear.app/oauth/authorize".into(),
            token_url: "https://api.linear.app/oauth/token".into(),
            client_id: "cid".into(),
            client_secret: None,
            redirect_uri: "http://127.0.0.1:8789/callback".into(),
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn authorize_url_has_pkce_commas_actor_and_state() {
        let r = endpoints()
            .authorize(&["read".into(), "write".into()], Actor::App)
            .unwrap();
        let pairs: std::collections::HashMap<String, String> =
            r.url.query_pairs().into_owned().collect();
        assert_eq!(r.url.host_str(), Some("linear.app"));
        assert_eq!(pairs["scope"], "read,write");
        assert_eq!(pairs["actor"], "app");
        assert_eq!(pairs["response_type"], "code");
        assert_eq!(pairs["code_challenge_method"], "S256");
        assert_eq!(pairs["state"], *r.state.secret());
        assert_eq!(pairs["redirect_uri"], "http://127.0.0.1:8789/callback");
        assert_eq!(pairs["client_id"], "cid");
    }

    #[test]
    fn both_scope_shapes_parse() {
        let new: LinearTokenResponse = serde_json::from_str(
            r#"{"access_token":"a","token_type":"Bearer","expires_in":86399,"scope":"read write","refresh_token":"r"}"#,
        )
        .unwrap();
        let old: LinearTokenResponse = serde_json::from_str(
            r#"{"access_token":"a","token_type":"Bearer","expires_in":315705599,"scope":["read","write"]}"#,
        )
        .unwrap();
        let t = to_token_set(&new, Actor::User, None);
        assert_eq!(t.scopes, ["read", "write"]);
        assert_eq!(t.refresh_token.as_deref(), Some("r"));
        assert_eq!(
            to_token_set(&old, Actor::User, None).scopes,
            ["read", "write"]
        );
    }
}
