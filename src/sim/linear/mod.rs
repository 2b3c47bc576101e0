//! Linear simulator (DESIGN.md section 9).

pub mod error;
pub mod schema;

pub use error::SimError;
