//! Linear simulator (DESIGN.md section 9).

pub mod complexity;
pub mod engine;
pub mod error;
pub mod exec;
pub mod filter;
pub mod gqlerror;
pub mod model;
pub mod mutate;
pub mod page;
pub mod ratelimit;
pub mod resolve;
pub mod schema;
pub mod seed;
pub mod store;
pub mod webhooks;

pub use error::SimError;
