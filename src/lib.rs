//! roundtrip: two-way sync between a customer feedback portal (Canny) and
//! Linear, with a terminal operations console. The binary in `main.rs` is a
//! thin shell over these modules.

pub mod connector;
pub mod domain;
pub mod duration;
pub mod sim;
pub mod sync;
