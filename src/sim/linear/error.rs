//! Errors of the simulator's own machinery (not the GraphQL errors it serves,
//! which live in `gqlerror`): a failed start must say why, never panic.

/// Why the Linear simulator could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The embedded schema failed to parse or validate.
    #[error("embedded Linear schema is invalid: {0}")]
    Schema(String),
    /// Binding or serving the HTTP listener failed.
    #[error("Linear simulator I/O: {0}")]
    Io(#[from] std::io::Error),
    /// Building the webhook HTTP client failed.
    #[error("Linear simulator webhook client: {0}")]
    Client(String),
    /// A scripted edit named something that does not exist.
    #[error("not found: {0}")]
    NotFound(String),
}
