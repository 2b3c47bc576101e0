//! A local stand-in for a Fider site's REST API (`/api/v1`), served over
//! real HTTP on loopback for tests, the demo and `roundtrip sim` (DESIGN.md
//! section 9). Written from Fider's source (shared/fider/API-NOTES.md,
//! docs/vendors/fider.md) and sharing no code with `connector::fider`, so a
//! misreading in one shows up against the other.
//!
//! Start it with [`FiderSim::start`]; drive it over HTTP like Fider, add
//! the admin's webhooks with [`FiderSim::add_webhook`] (templated, unsigned,
//! switched off by their first failed delivery), or act as people on the
//! site with the scripted edits.

mod model;
mod ops;
mod render;
mod script;
mod seed;
mod server;
mod shared;
mod sim;
mod template;
mod webhooks;

pub use seed::{ADMIN_NAME, COLLABORATOR_NAME, TAG_NAMES, VISITOR_KEY};
pub use sim::{
    CommentSnapshot, FiderSim, FiderSimConfig, FiderSimError, FiderSimStats, PostSnapshot,
    WebhookSnapshot,
};
pub use template::{TemplateError, go_quote, render as render_template};
pub use webhooks::{DeliveryRecord, url_refusal};
