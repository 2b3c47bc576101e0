//! OAuth 2.0 for Linear: the token file (0600, atomic, locked while
//! refreshing), the `oauth2`-crate client for Linear's endpoints, the
//! manager that keeps an access token valid in a long-running process, and
//! the interactive sign-in behind `roundtrip auth linear`.

pub mod linear_oauth;
pub mod manager;
pub mod signin;
pub mod token_file;

pub use linear_oauth::{OAuthEndpoints, OAuthError};
pub use manager::{TokenError, TokenManager};
pub use token_file::{Actor, TokenSet};
