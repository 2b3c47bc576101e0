//! The Fider connector: Fider's REST API (`<site>/api/v1/…`, a Bearer API
//! key, JSON both ways) behind roundtrip's `Connector` trait, plus Fider's
//! own operations as inherent methods on [`FiderConnector`].
//!
//! Written from Fider's source (shared/fider/API-NOTES.md and
//! docs/vendors/fider.md) and independent of `sim::fider`, so the tests
//! against the simulator check two separate readings of it.
//!
//! What shapes it:
//! * Posts are addressed by their per-site `number`, which is the record's
//!   remote id. Nothing carries a modification time, so reconcile compares
//!   content hashes; a listing is two requests (`view=all` never returns
//!   duplicates, so they are listed on their own), comments are read only
//!   for posts whose comment count moved.
//! * Writes always send `Accept` and `Content-Type: application/json`
//!   (without them Fider answers 403), edits send title and description
//!   together (an omitted description is blanked), and a title Fider
//!   refuses (under 10 bytes, or a slug another post has) is a validation
//!   failure named as such, never retried.
//! * The key owner's own vote (Fider adds one to every post it creates)
//!   is not counted: a record's votes are `votesCount` less `hasVoted`.
//! * Webhooks are unsigned templates the admin pastes
//!   ([`webhook_templates`]): a delivery is accepted only with the shared
//!   secret and is only a hint; the connector declares which webhook
//!   announces which change, so health can tell when one went silent.

mod api;
mod client;
mod config;
mod create;
mod map;
mod template;
mod trait_impl;
mod webhook;
mod wire;

pub use api::FiderConnector;
pub use config::{FIDER_STATUSES, FiderConfig, SecretIn};
pub use map::post_to_record;
pub use template::{WebhookTemplate, webhook_templates};
pub use webhook::{EVENTS, delivery_hint, secret_matches};
pub use wire::{FiderComment, FiderPost, FiderTag};
