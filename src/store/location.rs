//! Where a store lives: a SQLite file (the embedded default) or a
//! PostgreSQL database (for several replicas). Every command resolves its
//! store to one of these and opens it the same way.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::pg::PgTarget;
use super::{OpenMode, Result, Store};

/// A store's address.
#[derive(Debug, Clone)]
pub enum StoreLocation {
    /// A SQLite database file.
    File(PathBuf),
    /// A PostgreSQL database (the password lives only inside the target).
    Postgres(Arc<PgTarget>),
}

impl StoreLocation {
    /// Open the store here.
    pub fn open(&self, mode: OpenMode) -> Result<Store> {
        match self {
            StoreLocation::File(path) => Store::open(path, mode),
            StoreLocation::Postgres(target) => Store::open_postgres(target, mode),
        }
    }

    /// The file, for a SQLite store (size, lock and integrity checks that
    /// only a file has).
    pub fn file(&self) -> Option<&Path> {
        match self {
            StoreLocation::File(path) => Some(path),
            StoreLocation::Postgres(_) => None,
        }
    }

    /// Whether several replicas may share this store.
    pub fn is_shared(&self) -> bool {
        matches!(self, StoreLocation::Postgres(_))
    }
}

impl From<PathBuf> for StoreLocation {
    fn from(path: PathBuf) -> Self {
        StoreLocation::File(path)
    }
}

impl From<&Path> for StoreLocation {
    fn from(path: &Path) -> Self {
        StoreLocation::File(path.to_path_buf())
    }
}

impl std::fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::File(path) => write!(f, "{}", path.display()),
            StoreLocation::Postgres(target) => f.write_str(target.url()),
        }
    }
}

/// Whether `text` names a PostgreSQL database rather than a file.
pub fn is_postgres_url(text: &str) -> bool {
    text.starts_with("postgres://") || text.starts_with("postgresql://")
}
