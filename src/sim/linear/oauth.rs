//! Linear's OAuth 2.0 endpoints as Linear documents them (API-NOTES section
//! 1, linear.app/developers/oauth-2-0-authentication), so roundtrip's OAuth
//! client is tested against the vendor's rules rather than its own:
//!
//! * `GET /oauth/authorize` — the simulator approves at once (there is no
//!   person to click "Authorize") and redirects to the registered
//!   `redirect_uri` with `code` and `state`. Scopes are comma-separated;
//!   PKCE `code_challenge_method` is `plain` or `S256`; `actor` is `user`
//!   (default), `app`, or the deprecated `application`.
//! * `POST /oauth/token` — form-encoded only. `authorization_code` (the
//!   secret is optional when the code was issued with PKCE, the verifier is
//!   then required) and `refresh_token` (client id and secret in the form or
//!   as HTTP Basic; a PKCE grant needs only the client id). Every refresh
//!   rotates the refresh token: the old one is refused with `invalid_grant`
//!   from then on. Errors are HTTP 400 `{"error","error_description"}`.
//! * `POST /oauth/revoke` — the access token as Bearer or `access_token`
//!   form field, or the refresh token as `refresh_token`: 200 revoked, 400
//!   already revoked, 401 unknown token. Revoking ends the whole grant.
//!
//! Access tokens live for the configured lifetime (Linear: 24 hours,
//! `expires_in` 86399); GraphQL refuses an expired or revoked one with
//! AUTHENTICATION_ERROR, as it refuses any bad credential.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Scopes Linear documents for the authorize URL.
pub const KNOWN_SCOPES: &[&str] = &[
    "read",
    "write",
    "issues:create",
    "comments:create",
    "timeSchedule:write",
    "admin",
    "app:assignable",
    "app:mentionable",
];

/// How long an authorization code may wait to be exchanged. Linear does not
/// publish a figure; RFC 6749 section 4.1.2 recommends at most ten minutes.
pub const CODE_LIFETIME: Duration = Duration::from_secs(600);

/// Who the token acts as (`actor=` on the authorize URL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenActor {
    /// The user who authorized (Linear's default).
    User,
    /// The application itself; `createAsUser`/`displayIconUrl` are allowed.
    App,
}

/// The registered OAuth application.
#[derive(Debug, Clone)]
pub struct OAuthApp {
    /// Client id shown in Linear's application settings.
    pub client_id: String,
    /// Client secret shown once when the application is created.
    pub client_secret: String,
    /// Callback URLs registered with the application; a redirect to any
    /// other URL is refused.
    pub redirect_uris: Vec<String>,
    /// Lifetime of each access token.
    pub token_ttl: Duration,
}

#[derive(Debug)]
struct PendingCode {
    client_id: String,
    redirect_uri: String,
    scopes: Vec<String>,
    actor: TokenActor,
    challenge: Option<(String, bool)>,
    issued: Instant,
}

#[derive(Debug)]
struct Grant {
    scopes: Vec<String>,
    actor: TokenActor,
    pkce: bool,
    revoked: bool,
}

#[derive(Debug)]
struct Access {
    grant: usize,
    expires_at_ms: i64,
}

#[derive(Debug)]
struct Refresh {
    grant: usize,
    rotated: bool,
}

/// Counters of the OAuth endpoints, for tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OAuthStats {
    /// Codes exchanged for tokens.
    pub codes_exchanged: u64,
    /// Successful refreshes.
    pub refreshes: u64,
    /// Token requests answered `invalid_grant`.
    pub invalid_grants: u64,
    /// Grants revoked.
    pub revocations: u64,
}

/// A reply of one of the OAuth endpoints, independent of HTTP.
#[derive(Debug, Clone, PartialEq)]
pub enum OAuthReply {
    /// 302 to this URL.
    Redirect(String),
    /// A JSON body with a status.
    Json(u16, Value),
}

/// Everything the OAuth endpoints remember.
#[derive(Debug)]
pub struct OAuthState {
    app: OAuthApp,
    codes: HashMap<String, PendingCode>,
    grants: Vec<Grant>,
    access: HashMap<String, Access>,
    refresh: HashMap<String, Refresh>,
    stats: OAuthStats,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// 64 hex characters, the length of the tokens in Linear's examples.
fn new_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

fn oauth_error(status: u16, error: &str, description: &str) -> OAuthReply {
    OAuthReply::Json(
        status,
        json!({ "error": error, "error_description": description }),
    )
}

fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(base) {
        Ok(mut u) => {
            {
                let mut q = u.query_pairs_mut();
                for (k, v) in pairs {
                    q.append_pair(k, v);
                }
            }
            u.to_string()
        }
        Err(_) => base.to_string(),
    }
}

/// The request facts the token endpoint needs from HTTP.
#[derive(Debug, Default, Clone)]
pub struct TokenRequest {
    /// The form fields.
    pub form: HashMap<String, String>,
    /// Client id and secret from an `Authorization: Basic` header.
    pub basic: Option<(String, String)>,
    /// Whether the body was `application/x-www-form-urlencoded`.
    pub form_encoded: bool,
}

impl OAuthState {
    /// A fresh state for one registered application.
    pub fn new(app: OAuthApp) -> Self {
        OAuthState {
            app,
            codes: HashMap::new(),
            grants: Vec::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            stats: OAuthStats::default(),
        }
    }

    /// The registered application.
    pub fn app(&self) -> &OAuthApp {
        &self.app
    }

    /// Register one more callback URL (as an admin would in Linear's
    /// application settings).
    pub fn register_redirect_uri(&mut self, uri: &str) {
        if !self.app.redirect_uris.iter().any(|u| u == uri) {
            self.app.redirect_uris.push(uri.to_string());
        }
    }

    /// Change the lifetime of tokens issued from now on.
    pub fn set_token_ttl(&mut self, ttl: Duration) {
        self.app.token_ttl = ttl;
    }

    /// Counters so far.
    pub fn stats(&self) -> OAuthStats {
        self.stats
    }

    /// `GET /oauth/authorize`, approved at once.
    pub fn authorize(&mut self, q: &HashMap<String, String>) -> OAuthReply {
        let get = |k: &str| q.get(k).map(String::as_str).filter(|v| !v.is_empty());
        if get("client_id") != Some(self.app.client_id.as_str()) {
            return oauth_error(400, "invalid_client", "Unknown client_id");
        }
        let Some(redirect_uri) = get("redirect_uri") else {
            return oauth_error(400, "invalid_request", "redirect_uri is required");
        };
        if !self.app.redirect_uris.iter().any(|u| u == redirect_uri) {
            // Never redirect to a URL the application did not register.
            return oauth_error(
                400,
                "invalid_request",
                "redirect_uri is not registered for this application",
            );
        }
        let state = get("state");
        let fail = |error: &str, description: &str| {
            let mut pairs = vec![("error", error), ("error_description", description)];
            if let Some(s) = state {
                pairs.push(("state", s));
            }
            OAuthReply::Redirect(with_query(redirect_uri, &pairs))
        };
        if get("response_type") != Some("code") {
            return fail("unsupported_response_type", "response_type must be code");
        }
        let Some(scope) = get("scope") else {
            return fail("invalid_scope", "scope is required");
        };
        let mut scopes: Vec<String> = scope
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if let Some(bad) = scopes.iter().find(|s| !KNOWN_SCOPES.contains(&s.as_str())) {
            return fail("invalid_scope", &format!("Unknown scope: {bad}"));
        }
        if !scopes.iter().any(|s| s == "read") {
            scopes.insert(0, "read".into());
        }
        let actor = match get("actor") {
            None | Some("user") => TokenActor::User,
            Some("app") | Some("application") => TokenActor::App,
            Some(_) => return fail("invalid_request", "actor must be user or app"),
        };
        let challenge = match (get("code_challenge"), get("code_challenge_method")) {
            (None, None) => None,
            (Some(c), Some("S256")) => Some((c.to_string(), true)),
            (Some(c), Some("plain")) => Some((c.to_string(), false)),
            (Some(_), None) => {
                return fail("invalid_request", "code_challenge_method is required");
            }
            (Some(_), Some(_)) => {
                return fail(
                    "invalid_request",
                    "code_challenge_method must be plain or S256",
                );
            }
            (None, Some(_)) => return fail("invalid_request", "code_challenge is required"),
        };
        let code = new_token()[..40].to_string();
        self.codes.insert(
            code.clone(),
            PendingCode {
                client_id: self.app.client_id.clone(),
                redirect_uri: redirect_uri.to_string(),
                scopes,
                actor,
                challenge,
                issued: Instant::now(),
            },
        );
        let mut pairs = vec![("code", code.as_str())];
        if let Some(s) = state {
            pairs.push(("state", s));
        }
        OAuthReply::Redirect(with_query(redirect_uri, &pairs))
    }

    fn invalid_grant(&mut self, description: &str) -> OAuthReply {
        self.stats.invalid_grants += 1;
        oauth_error(400, "invalid_grant", description)
    }

    /// `POST /oauth/token`.
    pub fn token(&mut self, req: &TokenRequest) -> OAuthReply {
        if !req.form_encoded {
            return oauth_error(
                400,
                "invalid_request",
                "Content-Type must be application/x-www-form-urlencoded",
            );
        }
        let field = |k: &str| {
            req.form
                .get(k)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };
        let (client_id, client_secret) = match &req.basic {
            Some((id, secret)) => (Some(id.as_str()), Some(secret.as_str())),
            None => (field("client_id"), field("client_secret")),
        };
        if client_id != Some(self.app.client_id.as_str()) {
            return oauth_error(401, "invalid_client", "Unknown client_id");
        }
        if client_secret.is_some_and(|s| s != self.app.client_secret) {
            return oauth_error(401, "invalid_client", "Invalid client_secret");
        }
        let secret_ok = client_secret.is_some();
        match field("grant_type") {
            Some("authorization_code") => self.exchange_code(req, secret_ok),
            Some("refresh_token") => self.refresh_grant(field("refresh_token"), secret_ok),
            Some("client_credentials") => oauth_error(
                400,
                "Error",
                "Client does not support the client_credentials grant type",
            ),
            Some(_) => oauth_error(400, "unsupported_grant_type", "Unsupported grant_type"),
            None => oauth_error(400, "invalid_request", "grant_type is required"),
        }
    }

    fn exchange_code(&mut self, req: &TokenRequest, secret_ok: bool) -> OAuthReply {
        let field = |k: &str| {
            req.form
                .get(k)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };
        let Some(code) = field("code") else {
            return oauth_error(400, "invalid_request", "code is required");
        };
        // A code is single-use: it leaves the map whatever happens next.
        let Some(pending) = self.codes.remove(code) else {
            return self.invalid_grant("Invalid authorization code");
        };
        if pending.issued.elapsed() > CODE_LIFETIME {
            return self.invalid_grant("Authorization code expired");
        }
        if field("redirect_uri") != Some(pending.redirect_uri.as_str()) {
            return self.invalid_grant("redirect_uri does not match the authorization request");
        }
        if field("client_id") != Some(pending.client_id.as_str()) && req.basic.is_none() {
            return self.invalid_grant("Authorization code was issued to another client");
        }
        match &pending.challenge {
            Some((challenge, s256)) => {
                let Some(verifier) = field("code_verifier") else {
                    return oauth_error(400, "invalid_request", "code_verifier is required");
                };
                let computed = if *s256 {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .encode(Sha256::digest(verifier.as_bytes()))
                } else {
                    verifier.to_string()
                };
                if &computed != challenge {
                    return self.invalid_grant("code_verifier does not match the code_challenge");
                }
            }
            None if !secret_ok => {
                return oauth_error(401, "invalid_client", "client_secret is required");
            }
            None => {}
        }
        self.grants.push(Grant {
            scopes: pending.scopes,
            actor: pending.actor,
            pkce: pending.challenge.is_some(),
            revoked: false,
        });
        self.stats.codes_exchanged += 1;
        let grant = self.grants.len() - 1;
        self.issue(grant)
    }

    fn refresh_grant(&mut self, token: Option<&str>, secret_ok: bool) -> OAuthReply {
        let Some(token) = token else {
            return oauth_error(400, "invalid_request", "refresh_token is required");
        };
        let Some(r) = self.refresh.get(token) else {
            return self.invalid_grant("Invalid refresh token");
        };
        let grant = r.grant;
        if r.rotated {
            return self.invalid_grant("Refresh token has already been used");
        }
        let Some(g) = self.grants.get(grant) else {
            return self.invalid_grant("Invalid refresh token");
        };
        if g.revoked {
            return self.invalid_grant("Refresh token was revoked");
        }
        if !g.pkce && !secret_ok {
            return oauth_error(401, "invalid_client", "client_secret is required");
        }
        if let Some(r) = self.refresh.get_mut(token) {
            r.rotated = true;
        }
        self.stats.refreshes += 1;
        self.issue(grant)
    }

    /// New access and refresh tokens for a grant, in Linear's response shape.
    fn issue(&mut self, grant: usize) -> OAuthReply {
        let access = new_token();
        let refresh = new_token();
        let ttl = self.app.token_ttl.max(Duration::from_secs(1));
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2);
        self.access.insert(
            access.clone(),
            Access {
                grant,
                expires_at_ms: now_ms() + ttl_ms,
            },
        );
        self.refresh.insert(
            refresh.clone(),
            Refresh {
                grant,
                rotated: false,
            },
        );
        let scope = self
            .grants
            .get(grant)
            .map(|g| g.scopes.join(" "))
            .unwrap_or_default();
        OAuthReply::Json(
            200,
            json!({
                "access_token": access,
                "token_type": "Bearer",
                // Linear answers 86399 for a 24-hour token: one second short.
                "expires_in": ttl.as_secs().saturating_sub(1).max(1),
                "scope": scope,
                "refresh_token": refresh,
            }),
        )
    }

    /// `POST /oauth/revoke` with the Bearer token from the header, if any.
    pub fn revoke(&mut self, bearer: Option<&str>, form: &HashMap<String, String>) -> OAuthReply {
        let field = |k: &str| form.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let grant = if let Some(t) = bearer.or(field("access_token")) {
            self.access.get(t).map(|a| a.grant)
        } else if let Some(t) = field("refresh_token") {
            self.refresh.get(t).map(|r| r.grant)
        } else {
            None
        };
        let Some(g) = grant.and_then(|g| self.grants.get_mut(g)) else {
            return oauth_error(
                401,
                "invalid_token",
                "Unable to authenticate with the token",
            );
        };
        if g.revoked {
            return oauth_error(400, "invalid_request", "Token was already revoked");
        }
        g.revoked = true;
        self.stats.revocations += 1;
        OAuthReply::Json(200, json!({}))
    }

    /// Who an access token acts as, if GraphQL should accept it now:
    /// known, not expired, its grant not revoked.
    pub fn accepts(&self, token: &str) -> Option<TokenActor> {
        let a = self.access.get(token)?;
        let g = self.grants.get(a.grant)?;
        (!g.revoked && now_ms() < a.expires_at_ms).then_some(g.actor)
    }

    /// Expire every access token issued so far (their refresh tokens stay
    /// valid): what a client sees when a token's lifetime runs out while
    /// it still holds it.
    pub fn expire_access_tokens(&mut self) {
        let past = now_ms() - 1;
        for a in self.access.values_mut() {
            a.expires_at_ms = past;
        }
    }

    /// Revoke every grant, as a workspace admin removing the application
    /// would.
    pub fn revoke_all(&mut self) {
        for g in &mut self.grants {
            if !g.revoked {
                g.revoked = true;
                self.stats.revocations += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> OAuthState {
        OAuthState::new(OAuthApp {
            client_id: "cid".into(),
            client_secret: "csecret".into(),
            redirect_uris: vec!["http://127.0.0.1:9/callback".into()],
            token_ttl: Duration::from_secs(60),
        })
    }

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn code_from(reply: &OAuthReply) -> String {
        let OAuthReply::Redirect(to) = reply else {
            panic!("not a redirect: {reply:?}")
        };
        let u = url::Url::parse(to).unwrap();
        u.query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no code in {to}"))
    }

    fn form(pairs: &[(&str, &str)]) -> TokenRequest {
        TokenRequest {
            form: q(pairs),
            basic: None,
            form_encoded: true,
        }
    }

    fn body(r: &OAuthReply) -> (u16, Value) {
        match r {
            OAuthReply::Json(s, v) => (*s, v.clone()),
            OAuthReply::Redirect(u) => panic!("redirect to {u}"),
        }
    }

    #[test]
    fn unregistered_redirect_is_never_followed() {
        let mut s = app();
        let r = s.authorize(&q(&[
            ("client_id", "cid"),
            ("redirect_uri", "http://evil.example/cb"),
            ("response_type", "code"),
            ("scope", "read"),
        ]));
        assert_eq!(body(&r).0, 400);
    }

    #[test]
    fn pkce_code_is_single_use_and_refresh_rotates() {
        let mut s = app();
        let verifier = "a".repeat(43);
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(verifier.as_bytes()));
        let r = s.authorize(&q(&[
            ("client_id", "cid"),
            ("redirect_uri", "http://127.0.0.1:9/callback"),
            ("response_type", "code"),
            ("scope", "read,write"),
            ("state", "st"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ]));
        let code = code_from(&r);
        let exchange = |verifier: &str| {
            form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "http://127.0.0.1:9/callback"),
                ("client_id", "cid"),
                ("code_verifier", verifier),
            ])
        };
        let wrong = body(&s.token(&exchange("b")));
        assert_eq!(wrong.0, 400);
        assert_eq!(wrong.1["error"], "invalid_grant");
        // The failed attempt consumed the code.
        let r = s.authorize(&q(&[
            ("client_id", "cid"),
            ("redirect_uri", "http://127.0.0.1:9/callback"),
            ("response_type", "code"),
            ("scope", "read,write"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ]));
        let code2 = code_from(&r);
        let ok = body(&s.token(&form(&[
            ("grant_type", "authorization_code"),
            ("code", &code2),
            ("redirect_uri", "http://127.0.0.1:9/callback"),
            ("client_id", "cid"),
            ("code_verifier", &verifier),
        ])));
        assert_eq!(ok.0, 200, "{}", ok.1);
        assert_eq!(ok.1["scope"], "read write");
        assert_eq!(ok.1["expires_in"], 59);
        let access = ok.1["access_token"].as_str().unwrap().to_string();
        let refresh = ok.1["refresh_token"].as_str().unwrap().to_string();
        assert_eq!(s.accepts(&access), Some(TokenActor::User));
        let again = body(&s.token(&exchange(&verifier)));
        assert_eq!(again.1["error"], "invalid_grant");

        let rotated = body(&s.token(&form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", "cid"),
        ])));
        assert_eq!(rotated.0, 200);
        assert_ne!(rotated.1["refresh_token"].as_str().unwrap(), refresh);
        let replay = body(&s.token(&form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", "cid"),
        ])));
        assert_eq!(replay.1["error"], "invalid_grant");
    }

    #[test]
    fn json_bodies_and_missing_secrets_are_refused() {
        let mut s = app();
        let mut req = form(&[("grant_type", "refresh_token"), ("refresh_token", "x")]);
        req.form_encoded = false;
        assert_eq!(body(&s.token(&req)).1["error"], "invalid_request");
        let r = s.authorize(&q(&[
            ("client_id", "cid"),
            ("redirect_uri", "http://127.0.0.1:9/callback"),
            ("response_type", "code"),
            ("scope", "read"),
        ]));
        let code = code_from(&r);
        let no_secret = body(&s.token(&form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/callback"),
            ("client_id", "cid"),
        ])));
        assert_eq!(no_secret.0, 401);
    }

    #[test]
    fn revoking_ends_the_grant() {
        let mut s = app();
        let r = s.authorize(&q(&[
            ("client_id", "cid"),
            ("redirect_uri", "http://127.0.0.1:9/callback"),
            ("response_type", "code"),
            ("scope", "read"),
            ("actor", "app"),
        ]));
        let code = code_from(&r);
        let ok = body(&s.token(&form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/callback"),
            ("client_id", "cid"),
            ("client_secret", "csecret"),
        ])));
        let access = ok.1["access_token"].as_str().unwrap().to_string();
        let refresh = ok.1["refresh_token"].as_str().unwrap().to_string();
        assert_eq!(s.accepts(&access), Some(TokenActor::App));
        assert_eq!(body(&s.revoke(Some(&access), &HashMap::new())).0, 200);
        assert_eq!(s.accepts(&access), None);
        assert_eq!(body(&s.revoke(Some(&access), &HashMap::new())).0, 400);
        assert_eq!(body(&s.revoke(Some("nope"), &HashMap::new())).0, 401);
        let refused = body(&s.token(&form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", "cid"),
            ("client_secret", "csecret"),
        ])));
        assert_eq!(refused.1["error"], "invalid_grant");
    }
}
