//! A local stand-in for Canny's REST API, served over real HTTP on loopback
//! for tests, the demo and benchmarks (DESIGN.md section 9). Written from
//! Canny's documented behaviour (shared/canny/API-NOTES.md) and sharing no
//! code with `connector::canny`, so a misreading in one shows up against the
//! other.
//!
//! Start it with [`CannySim::start`]; drive it over HTTP like Canny, or act as
//! a human on the portal with the scripted edits (which fire the same signed
//! webhooks as API calls do).

mod args;
mod boards;
mod categories;
mod dispatch;
mod entries;
mod model;
mod ops;
mod others;
mod posts;
mod render;
mod script;
mod seed;
mod server;
mod shared;
mod sim;
mod v2;
mod webhooks;

pub use boards::EntrySnapshot;
pub use dispatch::ENDPOINTS;
pub use model::{BUILTIN_STATUSES, DEFAULT_LIST_STATUSES};
pub use seed::{ADMIN_NAME, BOARD_NAME, TAG_NAMES};
pub use sim::{
    CannySim, CannySimConfig, CannySimError, CannySimStats, CommentSnapshot, PostSnapshot,
};
pub use v2::ENDPOINTS as V2_ENDPOINTS;
pub use webhooks::sign as sign_webhook_nonce;
