//! Local stand-ins for Linear, Canny and Fider served over real HTTP: the sandbox
//! every test, the demo and the benchmarks run against (DESIGN.md section 9).
//! They share no code with the connectors, so a misreading of the vendor's
//! behaviour in one is caught by the other.

pub mod acks;
pub mod bounded;
pub mod canny;
pub mod drift;
pub mod faults;
pub mod fider;
pub mod journal;
pub mod linear;
pub mod outbox;
pub mod sample;
pub mod serving;
