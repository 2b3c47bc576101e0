//! Linear simulator (DESIGN.md section 9): a local stand-in for Linear's
//! GraphQL API served over real HTTP, written from Linear's documented
//! behaviour only (shared/linear/API-NOTES.md and the published schema).
//!
//! Start one with [`LinearSim::start`] (port 0 = any free port), point a
//! client at [`LinearSim::graphql_url`] with `Authorization: lin_api_sim`,
//! and read or edit its state through the handle. [`serve`] runs one until a
//! shutdown future completes, for `roundtrip sim --linear-port P`.

pub mod complexity;
pub mod engine;
pub mod error;
pub mod exec;
pub mod filter;
pub mod gqlerror;
pub mod handle;
pub mod model;
pub mod mutate;
pub mod oauth;
pub mod oauth_http;
pub mod page;
pub mod planning;
pub mod planning_gql;
pub mod planning_store;
pub mod ratelimit;
pub mod resolve;
pub mod schema;
pub mod seed;
pub mod server;
pub mod store;
pub mod teams;
pub mod webhooks;

pub use error::SimError;
pub use handle::{LinearSim, LinearSimConfig, SimCounters, serve};
