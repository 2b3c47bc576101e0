//! The Canny connector: Canny's REST API (POST `<api_url>/<resource>/<verb>`
//! with `apiKey` in a JSON body) behind roundtrip's `Connector` trait, plus
//! Canny's own operations as inherent methods on [`CannyConnector`].
//!
//! Written from Canny's documentation (shared/canny/API-NOTES.md) and
//! independent of `sim::canny`, so the tests against the simulator check two
//! separate readings of the same documents.
//!
//! Quota: Canny documents no quota headers. A 429 is an error carrying its
//! `Retry-After` (the engine waits that long, then probes with one request);
//! it becomes a quota sample (remaining 0, reset at now + `Retry-After`) only
//! when `plan_limit_per_second` says how big the quota is — an unknown limit
//! is never recorded as a limit of 0. `X-RateLimit-Limit/Remaining/Reset`
//! are read should Canny ever send them.

mod admin;
mod api;
mod changelog;
mod client;
mod config;
mod create;
mod map;
mod moderation;
mod statuses;
mod trait_impl;
mod votes;
mod webhook;
mod wire;

pub use api::CannyConnector;
pub use config::{CANNY_STATUSES, CannyConfig};
pub use map::{NOTE_PREFIX, REF_TAG, claim_text, content_hash, post_to_record};
pub use webhook::{
    MAX_AGE, MAX_FUTURE, NonceCache, delivery_hint, signature_matches, verify_canny_delivery,
    verify_canny_webhook,
};
pub use wire::{CannyBoard, CannyCategory, CannyComment, CannyPost, CannyTag, CannyUser};
