//! Where the PostgreSQL store is and how to log in: a `postgres://` URL,
//! the password from an environment variable, never printed, and whether
//! the connection is encrypted (`sslmode`, `sslrootcert` in the URL, with
//! libpq's names).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use postgres::config::SslMode;
use postgres::{Client, NoTls};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{PgError, Result, reason};

/// How long a connection attempt may take before it is reported.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A PostgreSQL database to connect to. The password (from the URL or the
/// environment) lives only in the driver's config; everything printed uses
/// [`PgTarget::url`], which has it redacted.
pub struct PgTarget {
    config: postgres::Config,
    /// The TLS client when the URL asks for an encrypted connection.
    tls: Option<MakeRustlsConnect>,
    redacted: String,
    secrets: Vec<String>,
}

/// How the URL's `sslmode` protects the connection. libpq's `disable`,
/// `allow` and `prefer` (its default) connect in plain TCP; `require`,
/// `verify-ca` and `verify-full` connect only over TLS, and always check
/// the server's certificate chain and name (stricter than libpq's
/// `require`, which checks nothing unless a root certificate is given: a
/// password sent to a server nobody verified is not protected).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Plain TCP (or a local socket).
    Plain,
    /// TLS with the server's certificate verified.
    Verified,
}

impl Transport {
    fn from_sslmode(mode: &str) -> Option<Transport> {
        match mode {
            "disable" | "allow" | "prefer" => Some(Transport::Plain),
            "require" | "verify-ca" | "verify-full" => Some(Transport::Verified),
            _ => None,
        }
    }
}

/// The URL without the TLS parameters the driver does not know
/// (`sslrootcert`) or reads differently (`sslmode`), and their values.
fn split_tls_params(parsed: &url::Url) -> (url::Url, Option<String>, Option<String>) {
    let mut rest = parsed.clone();
    let (mut mode, mut root) = (None, None);
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter_map(|(k, v)| match k.as_ref() {
            "sslmode" => {
                mode = Some(v.into_owned());
                None
            }
            "sslrootcert" => {
                root = Some(v.into_owned());
                None
            }
            _ => Some((k.into_owned(), v.into_owned())),
        })
        .collect();
    if kept.is_empty() {
        rest.set_query(None);
    } else {
        rest.query_pairs_mut().clear().extend_pairs(kept);
    }
    (rest, mode, root)
}

/// A TLS client trusting the certificates in `root` (a PEM file), or the
/// public web roots (Mozilla's, as browsers do) without one.
fn tls_client(root: Option<&str>) -> Result<MakeRustlsConnect> {
    let mut roots = rustls::RootCertStore::empty();
    match root {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
                .map_err(|e| {
                    PgError::BadUrl(format!(
                        "sslrootcert {path}: cannot read PEM certificates ({e})"
                    ))
                })?;
            if certs.is_empty() {
                return Err(PgError::BadUrl(format!(
                    "sslrootcert {path} holds no PEM certificate"
                )));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| {
                    PgError::BadUrl(format!("sslrootcert {path}: unusable certificate ({e})"))
                })?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| PgError::BadUrl(format!("cannot set up TLS: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTarget")
            .field("url", &self.redacted)
            .finish()
    }
}

/// The URL with any password replaced by `***`, for messages. A string that
/// is not a URL is not echoed at all (it may be a password pasted by
/// mistake).
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "(the given URL)".to_string(),
    }
}

impl PgTarget {
    /// Parse `raw` (`postgres://user@host:port/db`). `password`, when given,
    /// wins over one inside the URL; without either, `PGPASSWORD` is used.
    /// A URL without a user takes `PGUSER`.
    pub fn parse(raw: &str, password: Option<String>) -> Result<PgTarget> {
        let redacted = redact_url(raw);
        let parsed = url::Url::parse(raw).map_err(|e| {
            PgError::BadUrl(format!(
                "{redacted} is not a PostgreSQL URL ({e}); expected postgres://USER@HOST:PORT/DATABASE"
            ))
        })?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Err(PgError::BadUrl(format!(
                "{redacted} is not a PostgreSQL URL (scheme {:?}); expected postgres://USER@HOST:PORT/DATABASE",
                parsed.scheme()
            )));
        }
        let mut secrets: Vec<String> = parsed
            .password()
            .into_iter()
            .flat_map(|p| {
                let decoded = percent_decode(p);
                [p.to_string(), decoded]
            })
            .collect();
        let (driver_url, sslmode, root) = split_tls_params(&parsed);
        let transport = match sslmode.as_deref() {
            None => Transport::Plain,
            Some(mode) => Transport::from_sslmode(mode).ok_or_else(|| {
                PgError::BadUrl(format!(
                    "{redacted}: sslmode={mode} is not one of disable, allow, prefer, require, verify-ca, verify-full"
                ))
            })?,
        };
        if root.is_some() && transport == Transport::Plain {
            return Err(PgError::BadUrl(format!(
                "{redacted}: sslrootcert is given but sslmode does not ask for TLS; add sslmode=verify-full"
            )));
        }
        let mut config = postgres::Config::from_str(driver_url.as_str()).map_err(|e| {
            PgError::BadUrl(format!(
                "{redacted} is not a valid PostgreSQL URL ({})",
                scrub(&e.to_string(), &secrets)
            ))
        })?;
        if config.get_hosts().is_empty() {
            return Err(PgError::BadUrl(format!(
                "{redacted} names no host; expected postgres://USER@HOST:PORT/DATABASE"
            )));
        }
        if config.get_user().is_none() {
            match std::env::var("PGUSER") {
                Ok(user) if !user.is_empty() => {
                    config.user(&user);
                }
                _ => {
                    return Err(PgError::BadUrl(format!(
                        "{redacted} names no user and PGUSER is not set; expected postgres://USER@HOST:PORT/DATABASE"
                    )));
                }
            }
        }
        let password = password.or_else(|| {
            if config.get_password().is_some() {
                None
            } else {
                std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty())
            }
        });
        if let Some(pw) = password {
            config.password(pw.as_bytes());
            secrets.push(pw);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.application_name("roundtrip");
        let tls = match transport {
            Transport::Plain => {
                config.ssl_mode(SslMode::Disable);
                None
            }
            Transport::Verified => {
                config.ssl_mode(SslMode::Require);
                Some(tls_client(root.as_deref())?)
            }
        };
        secrets.retain(|s| !s.is_empty());
        Ok(PgTarget {
            config,
            tls,
            redacted,
            secrets,
        })
    }

    /// The URL as it may be printed.
    pub fn url(&self) -> &str {
        &self.redacted
    }

    /// Open a connection; a failure is one sentence without the password.
    pub fn connect(&self) -> Result<Client> {
        let connected = match &self.tls {
            Some(tls) => self.config.connect(tls.clone()),
            None => self.config.connect(NoTls),
        };
        connected.map_err(|e| {
            let mut why = self.scrub(&reason(&e));
            if self.tls.is_some() && why.contains("certificate") {
                why.push_str(
                    "; name the CA that signed the server's certificate with sslrootcert=PATH in the URL",
                );
            }
            PgError::Connect {
                url: self.redacted.clone(),
                reason: why,
            }
        })
    }

    /// Whether connections are encrypted.
    pub fn transport(&self) -> Transport {
        match self.tls {
            Some(_) => Transport::Verified,
            None => Transport::Plain,
        }
    }

    /// `text` with every form of the password replaced, for messages that
    /// quote the server or the driver.
    pub fn scrub(&self, text: &str) -> String {
        scrub(text, &self.secrets)
    }
}

fn scrub(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|s| !s.is_empty())
        .fold(text.to_string(), |t, s| t.replace(s.as_str(), "***"))
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("p={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_in_the_url_is_never_shown() {
        let url = "postgres://rt:s%40cret@127.0.0.1:5432/rt";
        assert_eq!(redact_url(url), "postgres://rt:***@127.0.0.1:5432/rt");
        let t = PgTarget::parse(url, None).unwrap();
        assert!(!format!("{t:?}").contains("cret"));
        assert_eq!(t.scrub("x s@cret y s%40cret"), "x *** y ***");
    }

    #[test]
    fn not_a_url_is_refused_without_echoing_it() {
        let err = PgTarget::parse("hunter2", None).unwrap_err().to_string();
        assert!(!err.contains("hunter2"), "{err}");
        let err = PgTarget::parse("mysql://u@h/db", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a PostgreSQL URL"), "{err}");
    }

    #[test]
    fn the_given_password_wins_over_the_url() {
        let t = PgTarget::parse("postgres://rt:inurl@h/db", Some("given".into())).unwrap();
        assert_eq!(t.config.get_password(), Some(&b"given"[..]));
        assert_eq!(t.scrub("inurl given"), "*** ***");
    }
}
