//! Linear simulator (DESIGN.md section 9).

pub mod complexity;
pub mod error;
pub mod exec;
pub mod gqlerror;
pub mod model;
pub mod schema;
pub mod seed;
pub mod store;

pub use error::SimError;
