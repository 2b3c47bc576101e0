//! Keeping a Linear OAuth access token valid for a long-running process.
//!
//! The token is refreshed shortly before it expires and whenever Linear
//! refuses it (a 401 or AUTHENTICATION_ERROR). Refreshes are single-flight
//! within the process (an async mutex) and across processes sharing the
//! token file (the file lock): whoever gets the lock second re-reads the
//! file and finds the pair the first one stored, instead of spending a
//! refresh token that Linear has already rotated away.
//!
//! An `invalid_grant` answer means only signing in again helps: the error
//! names the command to run, and the spent refresh token is remembered so
//! the process does not ask Linear again until the file changes.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use chrono::Utc;

use super::linear_oauth::{OAuthEndpoints, OAuthError};
use super::token_file::{self, Actor, TokenFileError, TokenLock, TokenSet};
use crate::config::Secret;

/// Why no usable access token could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// An operator has to act (sign in again, fix the client credentials or
    /// the file); the message says what to run.
    #[error("{0}")]
    NeedsOperator(String),
    /// Linear's token endpoint could not be reached; try again later.
    #[error("{0}")]
    Unavailable(String),
}

/// Hands out the current access token, refreshing it when due.
#[derive(Debug)]
pub struct TokenManager {
    path: PathBuf,
    endpoints: OAuthEndpoints,
    reauth: String,
    current: RwLock<Option<TokenSet>>,
    refreshing: tokio::sync::Mutex<()>,
    /// The refresh token Linear refused, with the message to repeat.
    dead: Mutex<Option<(Option<String>, String)>>,
}

fn read_lock<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write_lock<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

impl TokenManager {
    /// A manager for the token file at `path`. `reauth` is the command an
    /// operator runs to sign in again (it goes into alerts verbatim). The
    /// file is read now if it exists; a missing file is reported on first
    /// use, so a daemon can start and say what to do.
    pub fn new(path: PathBuf, endpoints: OAuthEndpoints, reauth: String) -> Self {
        let current = token_file::read(&path).ok();
        TokenManager {
            path,
            endpoints,
            reauth,
            current: RwLock::new(current),
            refreshing: tokio::sync::Mutex::new(()),
            dead: Mutex::new(None),
        }
    }

    /// The token file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The command that signs in again.
    pub fn reauth_command(&self) -> &str {
        &self.reauth
    }

    /// Who the current token acts as (user when unknown).
    pub fn actor(&self) -> Actor {
        read_lock(&self.current)
            .as_ref()
            .map(|t| t.actor)
            .unwrap_or_default()
    }

    /// When the current access token expires, if one is loaded.
    pub fn expires_at(&self) -> Option<chrono::DateTime<Utc>> {
        read_lock(&self.current).as_ref().map(|t| t.expires_at)
    }

    /// Re-read the token file now (SIGHUP, or after `auth linear`).
    pub fn reload(&self) -> Result<(), TokenFileError> {
        let t = token_file::read(&self.path)?;
        *write_lock(&self.current) = Some(t);
        self.clear_dead();
        Ok(())
    }

    fn clear_dead(&self) {
        *self.dead.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    fn usable(t: &TokenSet, stale: Option<&str>) -> bool {
        !t.needs_refresh(Utc::now()) && Some(t.access_token.as_str()) != stale
    }

    /// An access token that is not about to expire.
    pub async fn access_token(&self) -> Result<Secret, TokenError> {
        if let Some(t) = read_lock(&self.current).as_ref()
            && Self::usable(t, None)
        {
            return Ok(t.access());
        }
        self.renew(None).await
    }

    /// Linear refused `used`: get a different, valid token (another process
    /// may already have stored one; otherwise refresh).
    pub async fn rejected(&self, used: &Secret) -> Result<Secret, TokenError> {
        self.renew(Some(used.expose())).await
    }

    fn operator(&self, what: String) -> TokenError {
        TokenError::NeedsOperator(format!("{what}; run `{}`", self.reauth))
    }

    async fn renew(&self, stale: Option<&str>) -> Result<Secret, TokenError> {
        let _single = self.refreshing.lock().await;
        if let Some(t) = read_lock(&self.current).as_ref()
            && Self::usable(t, stale)
        {
            return Ok(t.access());
        }
        let path = self.path.clone();
        let lock = tokio::task::spawn_blocking(move || TokenLock::acquire(&path))
            .await
            .map_err(|e| TokenError::Unavailable(format!("token file lock task failed: {e}")))?
            .map_err(|e| self.operator(e.to_string()))?;
        let on_disk = match token_file::read(&self.path) {
            Ok(t) => t,
            Err(TokenFileError::Missing(p)) => {
                return Err(self.operator(format!(
                    "no Linear OAuth token file at {} (sign in first)",
                    p.display()
                )));
            }
            Err(e) => return Err(self.operator(e.to_string())),
        };
        if Self::usable(&on_disk, stale) {
            let access = on_disk.access();
            *write_lock(&self.current) = Some(on_disk);
            self.clear_dead();
            return Ok(access);
        }
        if let Some((spent, message)) = self.dead.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
            && *spent == on_disk.refresh_token
        {
            return Err(TokenError::NeedsOperator(message.clone()));
        }
        let result = self.endpoints.refresh(&on_disk).await;
        let outcome = match result {
            Ok(fresh) => {
                token_file::write(&self.path, &fresh).map_err(|e| {
                    // Linear has rotated the refresh token; without the file
                    // the new one is lost and a sign-in is needed.
                    self.operator(format!("refreshed, but {e}"))
                })?;
                tracing::info!(
                    expires_at = %fresh.expires_at,
                    "refreshed the Linear OAuth access token"
                );
                let access = fresh.access();
                *write_lock(&self.current) = Some(fresh);
                self.clear_dead();
                Ok(access)
            }
            Err(OAuthError::InvalidGrant(why)) => {
                let e = self.operator(format!(
                    "Linear refused the OAuth refresh token (invalid_grant: {why}): \
                     the authorization was revoked or has expired"
                ));
                *self.dead.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some((on_disk.refresh_token.clone(), e.to_string()));
                Err(e)
            }
            Err(OAuthError::InvalidClient(why)) => Err(self.operator(format!(
                "Linear refused the OAuth client id or secret ({why}); check the \
                 client id and secret variables"
            ))),
            Err(e @ (OAuthError::Refused(_) | OAuthError::Config(_))) => {
                Err(self.operator(e.to_string()))
            }
            Err(e @ OAuthError::Unavailable(_)) => Err(TokenError::Unavailable(e.to_string())),
        };
        drop(lock);
        outcome
    }
}
