//! The webhook HTTP server (DESIGN.md section 8): `POST /webhooks/linear`,
//! `POST /webhooks/<portal>` (`canny` or `fider`, which may also carry its
//! shared secret as `/webhooks/fider/<secret>`), `GET /healthz`,
//! `GET /metrics`.
//!
//! A delivery is verified (signature, timestamp, replay) before its body is
//! parsed, stored durably in the inbox through the group-commit writer, and
//! only then acknowledged with 200. Nothing is stored for a rejected request,
//! and no signature or secret is ever logged. The edge in front of it bounds
//! time, connections and buffered bytes (see [`EdgeLimits`]).

mod body;
mod edge;
mod limits;
mod rejects;
mod server;

pub use body::{BodyBudget, BodyError};
pub use limits::{EdgeLimits, MIN_HEADER_BYTES, WebhookOptions, min_inbox_retention};
pub use rejects::RejectLog;
pub use server::{WebhookServer, router};
