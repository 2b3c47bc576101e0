//! What to do after a failed attempt (DESIGN.md section 7): transient
//! classes are retried with exponential backoff and full jitter, honouring
//! the remote's Retry-After or reset, up to a bounded number of attempts;
//! auth pauses the connector; validation waits for an operator; not_found
//! goes to delete handling.

use std::time::Duration;

use crate::domain::{ErrorClass, RemoteError};

/// First backoff step.
pub const BASE: Duration = Duration::from_secs(1);
/// Longest backoff step.
pub const CAP: Duration = Duration::from_secs(600);

/// Longest wait for a rate-limit answer that named none.
pub const RATE_LIMIT_CAP: Duration = Duration::from_secs(60);

/// The engine's next move for a failed job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextStep {
    /// Try again after this delay.
    Retry(Duration),
    /// Stop; an operator must act (validation, conflict).
    Fail,
    /// Transient errors exhausted the attempt budget.
    Dead,
    /// Credentials were refused: pause the whole connector and alert.
    PauseConnector,
    /// The target record is gone: hand over to delete handling.
    NotFound,
}

/// Full-jitter exponential backoff: uniform in `[0, min(cap, base·2^n)]`,
/// where `unit` is a uniform draw in `[0, 1)` supplied by the caller (so this
/// stays pure and testable).
pub fn jittered(attempt: u32, base: Duration, cap: Duration, unit: f64) -> Duration {
    let exp = base.saturating_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX));
    let ceiling = exp.min(cap);
    ceiling.mul_f64(unit.clamp(0.0, 1.0))
}

/// Decide after attempt number `attempt` (1-based) of at most `max_attempts`.
pub fn next_step(err: &RemoteError, attempt: u32, max_attempts: u32, unit: f64) -> NextStep {
    match err.class {
        ErrorClass::Auth => NextStep::PauseConnector,
        ErrorClass::Validation | ErrorClass::Conflict => NextStep::Fail,
        ErrorClass::NotFound => NextStep::NotFound,
        // The remote said when to come back: a rate-limit answer costs at
        // most that wait, and never the job (it is not a failure of the
        // write; the budget lets one probe through after the wait).
        ErrorClass::RateLimited => NextStep::Retry(match err.retry_after {
            Some(wait) => wait.min(CAP * 6),
            None => jittered(attempt.saturating_sub(1), BASE, RATE_LIMIT_CAP, unit),
        }),
        ErrorClass::Server | ErrorClass::Network | ErrorClass::Timeout | ErrorClass::Schema => {
            if attempt >= max_attempts {
                return NextStep::Dead;
            }
            let jitter = jittered(attempt.saturating_sub(1), BASE, CAP, unit);
            // The remote's own wait is a floor: retrying earlier only burns quota.
            let floor = err.retry_after.unwrap_or_default().min(CAP * 6);
            NextStep::Retry(jitter.max(floor))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn classes_map_to_steps() {
        let e = |c| RemoteError::new(c, "x");
        assert_eq!(
            next_step(&e(ErrorClass::Auth), 1, 8, 0.5),
            NextStep::PauseConnector
        );
        assert_eq!(
            next_step(&e(ErrorClass::Validation), 1, 8, 0.5),
            NextStep::Fail
        );
        assert_eq!(
            next_step(&e(ErrorClass::NotFound), 1, 8, 0.5),
            NextStep::NotFound
        );
        assert_eq!(next_step(&e(ErrorClass::Server), 8, 8, 0.5), NextStep::Dead);
        assert!(matches!(
            next_step(&e(ErrorClass::Timeout), 2, 8, 0.5),
            NextStep::Retry(_)
        ));
    }

    #[test]
    fn retry_after_is_a_floor() {
        let e =
            RemoteError::new(ErrorClass::Server, "busy").with_retry_after(Duration::from_secs(42));
        assert_eq!(
            next_step(&e, 1, 8, 0.0),
            NextStep::Retry(Duration::from_secs(42))
        );
    }

    #[test]
    fn a_rate_limit_costs_exactly_its_wait_and_never_the_job() {
        let e = RemoteError::new(ErrorClass::RateLimited, "slow down")
            .with_retry_after(Duration::from_secs(1));
        for attempt in [1, 5, 8, 50] {
            assert_eq!(
                next_step(&e, attempt, 8, 0.99),
                NextStep::Retry(Duration::from_secs(1)),
                "attempt {attempt}"
            );
        }
        let bare = RemoteError::new(ErrorClass::RateLimited, "slow down");
        assert!(matches!(next_step(&bare, 20, 8, 0.99), NextStep::Retry(d) if d <= RATE_LIMIT_CAP));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn jitter_stays_within_the_exponential_ceiling(attempt in 0u32..40, unit in 0.0f64..1.0) {
            let d = jittered(attempt, BASE, CAP, unit);
            let ceiling = BASE.saturating_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX)).min(CAP);
            prop_assert!(d <= ceiling);
            prop_assert!(d <= CAP);
        }
    }
}
