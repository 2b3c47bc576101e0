//! The interactive sign-in behind `roundtrip auth linear`: authorization
//! code with PKCE and a loopback redirect (RFC 8252). The operator opens the
//! printed URL; Linear redirects the browser to
//! `http://127.0.0.1:PORT/callback`, where a one-shot listener takes the
//! code. Over SSH the browser runs on another machine and that redirect
//! cannot reach us, so the address the browser lands on (or just the code)
//! may be pasted back instead; whichever arrives first is used.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::routing::get;
use tokio::sync::{Mutex, mpsc};

use super::linear_oauth::{OAuthEndpoints, OAuthError};
use super::token_file::{Actor, TokenSet};

/// The scopes Linear documents for the authorize URL (`read` is always
/// granted; agent scopes `app:*` need `actor=app`).
pub const SCOPES: &[&str] = &[
    "read",
    "write",
    "issues:create",
    "comments:create",
    "timeSchedule:write",
    "admin",
    "app:assignable",
    "app:mentionable",
];

/// Why signing in failed.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The redirect URI cannot be served on this machine's loopback.
    #[error("redirect URI {0} must be http://127.0.0.1:PORT/PATH (or localhost)")]
    NotLoopback(String),
    /// Linear (or the operator) declined.
    #[error("Linear did not authorize roundtrip: {0}")]
    Denied(String),
    /// The `state` did not match: the answer belongs to another request.
    #[error("the state in the redirect does not match this sign-in; start again")]
    StateMismatch,
    /// Nothing arrived in time.
    #[error("no authorization code arrived within {0:?}")]
    TimedOut(Duration),
    /// The pasted text is neither a URL with a code nor a code.
    #[error("input closed before a code arrived")]
    NoInput,
    /// The token endpoint refused or failed.
    #[error(transparent)]
    OAuth(#[from] OAuthError),
}

/// What the operator gave back: a code and the state it came with (a bare
/// pasted code has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callback {
    /// An authorization code.
    Code {
        /// The code.
        code: String,
        /// The `state` parameter, when the whole URL was given.
        state: Option<String>,
    },
    /// The redirect carried `error` instead.
    Error(String),
}

/// Parse a pasted line: the full redirect URL, its query string, or a code.
pub fn parse_pasted(line: &str) -> Option<Callback> {
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    let query = if line.starts_with("http://") || line.starts_with("https://") {
        url::Url::parse(line)
            .ok()?
            .query()
            .unwrap_or("")
            .to_string()
    } else if line.contains("code=") || line.contains("error=") {
        line.trim_start_matches('?').to_string()
    } else {
        let ok = line
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c));
        return ok.then(|| Callback::Code {
            code: line.to_string(),
            state: None,
        });
    };
    from_pairs(url::form_urlencoded::parse(query.as_bytes()).into_owned())
}

fn from_pairs(pairs: impl Iterator<Item = (String, String)>) -> Option<Callback> {
    let (mut code, mut state, mut error, mut description) = (None, None, None, None);
    for (k, v) in pairs {
        match k.as_str() {
            "code" => code = Some(v),
            "state" => state = Some(v),
            "error" => error = Some(v),
            "error_description" => description = Some(v),
            _ => {}
        }
    }
    if let Some(e) = error {
        return Some(Callback::Error(match description {
            Some(d) => format!("{e}: {d}"),
            None => e,
        }));
    }
    code.filter(|c| !c.is_empty())
        .map(|code| Callback::Code { code, state })
}

/// The loopback address and path of a redirect URI.
pub fn loopback(redirect_uri: &str) -> Result<(SocketAddr, String), SignInError> {
    let bad = || SignInError::NotLoopback(redirect_uri.to_string());
    let u = url::Url::parse(redirect_uri).map_err(|_| bad())?;
    if u.scheme() != "http" {
        return Err(bad());
    }
    let ip: std::net::IpAddr = match u.host() {
        Some(url::Host::Domain("localhost")) => [127, 0, 0, 1].into(),
        Some(url::Host::Ipv4(ip)) if ip.is_loopback() => ip.into(),
        Some(url::Host::Ipv6(ip)) if ip.is_loopback() => ip.into(),
        _ => return Err(bad()),
    };
    let port = u.port().ok_or_else(bad)?;
    Ok((SocketAddr::new(ip, port), u.path().to_string()))
}

type Tx = Arc<Mutex<Option<mpsc::Sender<Callback>>>>;

const PAGE_OK: &str = "roundtrip: Linear authorization received. You can close this tab.";

async fn on_callback(State(tx): State<Tx>, Query(q): Query<Vec<(String, String)>>) -> &'static str {
    let Some(cb) = from_pairs(q.into_iter()) else {
        return "roundtrip: this address expects ?code=…&state=… from Linear.";
    };
    if let Some(tx) = tx.lock().await.as_ref() {
        let _ = tx.send(cb).await;
    }
    PAGE_OK
}

/// Everything one sign-in needs.
#[derive(Debug, Clone)]
pub struct SignIn {
    /// Linear's endpoints and the application.
    pub endpoints: OAuthEndpoints,
    /// Scopes to request (`read` is always granted).
    pub scopes: Vec<String>,
    /// Who the token acts as.
    pub actor: Actor,
    /// How long to wait for the code.
    pub timeout: Duration,
}

impl SignIn {
    /// Run the flow: `show` receives the lines to print (the URL first),
    /// `pasted` yields lines the operator types. Returns the new tokens.
    pub async fn run(
        &self,
        mut show: impl FnMut(&str),
        mut pasted: mpsc::Receiver<String>,
    ) -> Result<TokenSet, SignInError> {
        let (addr, path) = loopback(&self.endpoints.redirect_uri)?;
        let request = self.endpoints.authorize(&self.scopes, self.actor)?;
        let (tx, mut rx) = mpsc::channel::<Callback>(4);
        let tx: Tx = Arc::new(Mutex::new(Some(tx)));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => {
                let app = axum::Router::new()
                    .route(&path, get(on_callback))
                    .with_state(tx.clone());
                Some(tokio::spawn(async move {
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async move {
                            let _ = stop_rx.await;
                        })
                        .await;
                }))
            }
            Err(e) => {
                show(&format!(
                    "(cannot listen on {addr}: {e}; paste the redirected address instead)"
                ));
                None
            }
        };
        show("Open this URL in a browser and approve roundtrip:");
        show("");
        show(&format!("  {}", request.url));
        show("");
        show(&format!(
            "Waiting for Linear to redirect to {} …",
            self.endpoints.redirect_uri
        ));
        show("On another machine (SSH)? After approving, copy the address the browser");
        show("ends up on (the page may fail to load) and paste it here, or paste the code:");
        let deadline = tokio::time::sleep(self.timeout);
        tokio::pin!(deadline);
        let mut input_open = true;
        let outcome = loop {
            let cb = tokio::select! {
                Some(cb) = rx.recv() => cb,
                line = pasted.recv(), if input_open => match line {
                    Some(l) => match parse_pasted(&l) {
                        Some(cb) => cb,
                        None => {
                            if !l.trim().is_empty() {
                                show("That is neither the redirected address nor a code; try again:");
                            }
                            continue;
                        }
                    },
                    None => {
                        input_open = false;
                        if server.is_none() {
                            break Err(SignInError::NoInput);
                        }
                        continue;
                    }
                },
                _ = &mut deadline => break Err(SignInError::TimedOut(self.timeout)),
            };
            break match cb {
                Callback::Error(e) => Err(SignInError::Denied(e)),
                Callback::Code { state: Some(s), .. } if s != *request.state.secret() => {
                    Err(SignInError::StateMismatch)
                }
                Callback::Code { code, .. } => Ok(code),
            };
        };
        *tx.lock().await = None;
        let _ = stop_tx.send(());
        if let Some(s) = server {
            let _ = s.await;
        }
        let code = outcome?;
        show("Authorization received; exchanging it for tokens …");
        Ok(self
            .endpoints
            .exchange(&code, request.verifier, self.actor)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasted_forms() {
        assert_eq!(
            parse_pasted("http://127.0.0.1:8789/callback?code=abc&state=xyz"),
            Some(Callback::Code {
                code: "abc".into(),
                state: Some("xyz".into())
            })
        );
        assert_eq!(
            parse_pasted("  abc123  "),
            Some(Callback::Code {
                code: "abc123".into(),
                state: None
            })
        );
        assert_eq!(
            parse_pasted("?error=access_denied&error_description=no"),
            Some(Callback::Error("access_denied: no".into()))
        );
        assert_eq!(parse_pasted("not a code!"), None);
        assert_eq!(parse_pasted(""), None);
    }

    #[test]
    fn only_loopback_redirects() {
        assert_eq!(
            loopback("http://127.0.0.1:8789/callback").unwrap(),
            ("127.0.0.1:8789".parse().unwrap(), "/callback".to_string())
        );
        assert!(loopback("http://localhost:9/cb").is_ok());
        assert!(loopback("https://example.com/callback").is_err());
        assert!(loopback("http://10.0.0.1:80/callback").is_err());
    }
}
