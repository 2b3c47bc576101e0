//! roundtrip: two-way sync between a customer feedback portal (Canny or
//! Fider) and Linear, with a terminal operations console. The binary in `main.rs` is a
//! thin shell over these modules.

pub mod auth;
pub mod cli;
pub mod config;
pub mod connector;
pub mod console;
pub mod daemon;
pub mod demo;
pub mod domain;
pub mod duration;
pub mod engine;
pub mod files;
pub mod health;
pub mod metrics;
pub mod ops;
pub mod os;
pub mod rotation;
pub mod sim;
pub mod store;
pub mod sync;
pub mod upkeep;
pub mod webhook;
