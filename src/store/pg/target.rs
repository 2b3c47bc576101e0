//! Where the PostgreSQL store is and how to log in: a `postgres://` URL,
//! the password from an environment variable, never printed.

use std::str::FromStr;
use std::time::Duration;

use postgres::{Client, NoTls};

use super::{PgError, Result, reason};

/// How long a connection attempt may take before it is reported.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A PostgreSQL database to connect to. The password (from the URL or the
/// environment) lives only in the driver's config; everything printed uses
/// [`PgTarget::url`], which has it redacted.
pub struct PgTarget {
    config: postgres::Config,
    redacted: String,
    secrets: Vec<String>,
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
        let mut config = postgres::Config::from_str(raw).map_err(|e| {
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
        secrets.retain(|s| !s.is_empty());
        Ok(PgTarget {
            config,
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
        self.config.connect(NoTls).map_err(|e| PgError::Connect {
            url: self.redacted.clone(),
            reason: self.scrub(&reason(&e)),
        })
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
