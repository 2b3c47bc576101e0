//! `--db PATH | --config FILE`: how commands that read a store find it.

use std::path::PathBuf;

use crate::config::{Config, default_store_path};
use crate::store::{OpenMode, Store, StoreError};

/// Where the store is: an explicit path, the one a config file names, or the
/// default XDG location.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// Path of the store (SQLite file).
    #[arg(
        long,
        value_name = "PATH",
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

    /// Resolve the store path.
    pub fn path(&self) -> anyhow::Result<PathBuf> {
        if let Some(db) = &self.db {
            return Ok(db.clone());
        }
        if let Some(p) = self.load_config()?.and_then(|c| c.store_path()) {
            return Ok(p);
        }
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
        let path = self.path()?;
        Store::open(&path, mode).map_err(|e| match e {
            // These already name the path.
            StoreError::Missing(_)
            | StoreError::MissingDirectory { .. }
            | StoreError::NotADatabase(_)
            | StoreError::TooNew { .. } => anyhow::Error::from(e),
            other => anyhow::Error::from(other).context(format!("store {}", path.display())),
        })
    }
}
