//! One module per view. Each owns its state, answers [`Cmd`]s (returning an
//! [`Action`] when it wants a side effect) and draws itself into the area it
//! is given, recording mouse targets as it goes.
//!
//! [`Cmd`]: super::keymap::Cmd
//! [`Action`]: super::app::Action

pub mod common;
pub mod conflicts;
pub mod jobs;
pub mod links;
pub mod log;
pub mod mappings;
pub mod overview;
