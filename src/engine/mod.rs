//! The sync engine: inbox consumer, reconcile loop, job scheduler with
//! rate-limit-aware pacing, retries and dead letters (DESIGN.md sections 6–7).

pub mod backoff;
pub mod budget;
pub mod executor;
pub mod link_sync;
pub mod payload;
pub mod records;
pub mod scheduler;
