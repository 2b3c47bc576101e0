//! `--db PATH|URL | --config FILE`: how commands that read a store find it.

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::{Config, default_store_path};
use crate::store::pg::PgTarget;
use crate::store::{OpenMode, Store, StoreError, StoreLocation, is_postgres_url};

/// Where the store is: an explicit path, the one a config file names, or the
/// default XDG location.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// The store: a SQLite file, or a PostgreSQL URL
    /// (`postgres://USER@HOST:PORT/DB`, password from PGPASSWORD; add
    /// `?sslmode=verify-full&sslrootcert=CA.pem` for TLS).
    #[arg(
        long,
        value_name = "PATH|URL",
        conflicts_with = "config",
        env = "ROUNDTRIP_DB"
    )]
    pub db: Option<PathBuf>,
    /// Read the store path from this config file.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl StoreArgs {
    /// The loaded config, when `--config` was given.
    pub fn load_config(&self) -> anyhow::Result<Option<Config>> {
        self.config
            .as_deref()
            .map(Config::load)
            .transpose()
            .map_err(anyhow::Error::from)
    }

    /// Resolve where the store is.
    pub fn location(&self) -> anyhow::Result<StoreLocation> {
        if let Some(db) = &self.db {
            let text = db.to_string_lossy();
            if is_postgres_url(&text) {
                let target = PgTarget::parse(&text, None)
                    .map_err(|e| super::UsageError(format!("--db: {e}")))?;
                return Ok(StoreLocation::Postgres(Arc::new(target)));
            }
            return Ok(StoreLocation::File(db.clone()));
        }
        if let Some(config) = self.load_config()?
            && let Some(location) = config.store_location()?
        {
            return Ok(location);
        }
        Ok(StoreLocation::File(self.default_path()?))
    }

    /// The store file, for commands that work only on SQLite (a
    /// PostgreSQL store is refused by name).
    pub fn path(&self) -> anyhow::Result<PathBuf> {
        match self.location()? {
            StoreLocation::File(path) => Ok(path),
            StoreLocation::Postgres(target) => Err(super::UsageError(format!(
                "{} is a PostgreSQL store; this command works on a SQLite store file",
                target.url()
            ))
            .into()),
        }
    }

    fn default_path(&self) -> anyhow::Result<PathBuf> {
        default_store_path().ok_or_else(|| {
            super::UsageError(
                "cannot determine the default store location (no home directory); pass --db PATH"
                    .into(),
            )
            .into()
        })
    }

    /// Open the store in the given mode.
    pub fn open(&self, mode: OpenMode) -> anyhow::Result<Store> {
        let location = self.location()?;
        location.open(mode).map_err(|e| match e {
            // These already name the path.
            StoreError::Missing(_)
            | StoreError::MissingDirectory { .. }
            | StoreError::NotADatabase(_)
            | StoreError::TooNew { .. }
            | StoreError::Open(_) => anyhow::Error::from(e),
            other => anyhow::Error::from(other).context(format!("store {location}")),
        })
    }
}
