//! The webhook HTTP server (DESIGN.md section 8): `POST /webhooks/linear`,
//! `POST /webhooks/canny`, `GET /healthz`, `GET /metrics`.
//!
//! A delivery is verified (signature, timestamp, replay) before its body is
//! parsed, stored durably in the inbox through the group-commit writer, and
//! only then acknowledged with 200. Nothing is stored for a rejected request,
//! and no signature or secret is ever logged.

mod server;

pub use server::{WebhookServer, router};
