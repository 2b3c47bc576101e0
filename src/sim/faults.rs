//! Fault injection for the simulators (`--faults`, DESIGN.md section 9).
//!
//! A spec such as `linear:5xx=0.1,429=0.05,latency=50ms,drift=0.05,lost=0.1;
//! canny:timeout=0.02,lost=0.05;fider:drift=0.05;webhooks:drop=0.1,dup=0.1,reorder=true` is
//! parsed once; every decision is drawn from one seeded generator per
//! simulator so a run is repeatable under `--seed`.
//!
//! Most faults strike before a request is processed. `lost` strikes after:
//! the write is applied, then its answer is lost — the connection is reset,
//! or the answer is held until the client has given up — which is the case
//! idempotent writes exist for.

use std::sync::Mutex;
use std::time::Duration;

use crate::duration::parse_duration;

/// Faults applied to one simulator's API responses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiFaults {
    /// Probability of answering with a 5xx.
    pub server_error: f64,
    /// Probability of answering as rate limited.
    pub rate_limited: f64,
    /// Probability of never answering in time (the request hangs, then drops).
    pub timeout: f64,
    /// Extra latency added to every response.
    pub latency: Duration,
    /// Probability of answering in a changed shape (a missing or null field,
    /// an unknown enum value, a field of another type, an HTML error page,
    /// a truncated body) instead of the real answer.
    pub drift: f64,
    /// Probability that a write which was applied loses its answer (the
    /// connection is reset, or the answer is held past the client's
    /// timeout; the die picks which).
    pub lost: f64,
}

/// How an applied write's answer is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LostAnswer {
    /// The connection is closed without an answer.
    Reset,
    /// The answer is held until the client has timed out.
    Withheld,
}

/// Faults applied to outgoing webhook deliveries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebhookFaults {
    /// Probability a delivery is silently dropped (never retried).
    pub drop: f64,
    /// Probability a delivery is sent twice.
    pub duplicate: f64,
    /// Deliver queued webhooks in shuffled order.
    pub reorder: bool,
    /// Extra delay before each delivery.
    pub delay: Duration,
}

/// The whole `--faults` spec.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultSpec {
    /// Faults on the Linear simulator's API.
    pub linear: ApiFaults,
    /// Faults on the Canny simulator's API.
    pub canny: ApiFaults,
    /// Faults on the Fider simulator's API.
    pub fider: ApiFaults,
    /// Faults on both simulators' webhook senders.
    pub webhooks: WebhookFaults,
}

/// Why a fault spec was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad --faults spec at '{part}': {why}")]
pub struct BadFaultSpec {
    /// The part of the spec at fault.
    pub part: String,
    /// What is wrong with it.
    pub why: String,
}

fn bad(part: &str, why: impl Into<String>) -> BadFaultSpec {
    BadFaultSpec {
        part: part.to_string(),
        why: why.into(),
    }
}

fn probability(part: &str, v: &str) -> Result<f64, BadFaultSpec> {
    let p: f64 = v
        .parse()
        .map_err(|_| bad(part, "expected a probability between 0 and 1"))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(bad(part, "probability must be between 0 and 1"))
    }
}

fn duration(part: &str, v: &str) -> Result<Duration, BadFaultSpec> {
    parse_duration(v).map_err(|e| bad(part, e.to_string()))
}

impl FaultSpec {
    /// Parse a spec; an empty string means no faults.
    pub fn parse(spec: &str) -> Result<FaultSpec, BadFaultSpec> {
        let mut out = FaultSpec::default();
        for section in spec.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let (target, items) = section
                .split_once(':')
                .ok_or_else(|| bad(section, "expected TARGET:key=value,…"))?;
            for item in items.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let (k, v) = item
                    .split_once('=')
                    .ok_or_else(|| bad(item, "expected key=value"))?;
                match target.trim() {
                    "linear" | "canny" | "fider" => {
                        let api = match target.trim() {
                            "linear" => &mut out.linear,
                            "canny" => &mut out.canny,
                            _ => &mut out.fider,
                        };
                        match k {
                            "5xx" => api.server_error = probability(item, v)?,
                            "429" => api.rate_limited = probability(item, v)?,
                            "timeout" => api.timeout = probability(item, v)?,
                            "latency" => api.latency = duration(item, v)?,
                            "drift" => api.drift = probability(item, v)?,
                            "lost" => api.lost = probability(item, v)?,
                            _ => {
                                return Err(bad(
                                    item,
                                    "keys are 5xx, 429, timeout, latency, drift, lost",
                                ));
                            }
                        }
                    }
                    "webhooks" => match k {
                        "drop" => out.webhooks.drop = probability(item, v)?,
                        "dup" => out.webhooks.duplicate = probability(item, v)?,
                        "delay" => out.webhooks.delay = duration(item, v)?,
                        "reorder" => {
                            out.webhooks.reorder = v
                                .parse()
                                .map_err(|_| bad(item, "reorder is true or false"))?
                        }
                        _ => return Err(bad(item, "keys are drop, dup, reorder, delay")),
                    },
                    other => {
                        return Err(bad(other, "targets are linear, canny, fider and webhooks"));
                    }
                }
            }
        }
        Ok(out)
    }
}

/// How a request fails before it runs, as the fault settings drew it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestFault {
    /// It hangs, then a proxy answers 504.
    Timeout,
    /// A 5xx.
    ServerError,
    /// A 429.
    RateLimited,
}

/// A seeded source of fault decisions shared by a simulator's handlers.
#[derive(Debug)]
pub struct Dice {
    rng: Mutex<fastrand::Rng>,
}

impl Dice {
    /// A generator that yields the same sequence for the same seed.
    pub fn new(seed: u64) -> Self {
        Dice {
            rng: Mutex::new(fastrand::Rng::with_seed(seed)),
        }
    }

    /// True with probability `p`.
    pub fn chance(&self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        match self.rng.lock() {
            Ok(mut rng) => rng.f64() < p,
            Err(poisoned) => poisoned.into_inner().f64() < p,
        }
    }

    /// The request's fault under `faults`, if any: timeout, server error
    /// and rate limit drawn in that order, the first that hits.
    pub fn request_fault(&self, faults: &ApiFaults) -> Option<RequestFault> {
        [
            (faults.timeout, RequestFault::Timeout),
            (faults.server_error, RequestFault::ServerError),
            (faults.rate_limited, RequestFault::RateLimited),
        ]
        .into_iter()
        .find_map(|(p, fault)| self.chance(p).then_some(fault))
    }

    /// Whether an applied write loses its answer under `faults`, and how.
    pub fn lost(&self, faults: &ApiFaults) -> Option<LostAnswer> {
        if !self.chance(faults.lost) {
            return None;
        }
        Some(if self.below(2) == 0 {
            LostAnswer::Reset
        } else {
            LostAnswer::Withheld
        })
    }

    /// A uniformly drawn index below `n` (n > 0), for shuffles.
    pub fn below(&self, n: usize) -> usize {
        match self.rng.lock() {
            Ok(mut rng) => rng.usize(..n.max(1)),
            Err(poisoned) => poisoned.into_inner().usize(..n.max(1)),
        }
    }
}

/// The deliveries to send next, starting with `first`: with `reorder`,
/// whatever else was queued within 20 ms, shuffled by `dice`.
pub async fn next_batch<E>(
    first: E,
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<E>,
    faults: &WebhookFaults,
    dice: &Dice,
) -> Vec<E> {
    let mut batch = vec![first];
    if faults.reorder {
        // Give the handlers a moment to queue siblings, then shuffle.
        tokio::time::sleep(Duration::from_millis(20)).await;
        while let Ok(e) = rx.try_recv() {
            batch.push(e);
        }
        for i in (1..batch.len()).rev() {
            let j = dice.below(i + 1);
            batch.swap(i, j);
        }
    }
    batch
}

/// A response whose body fails at once: hyper closes the connection
/// without an answer, as a reset connection looks to the client.
pub fn reset_connection() -> axum::response::Response {
    let broken = futures_util::stream::once(async {
        Err::<axum::body::Bytes, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "lost answer (injected)",
        ))
    });
    axum::response::Response::new(axum::body::Body::from_stream(broken))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_design_example() {
        let s = FaultSpec::parse(
            "linear:5xx=0.1,429=0.05,latency=50ms;canny:timeout=0.02;webhooks:drop=0.1,dup=0.1,reorder=true",
        )
        .unwrap();
        assert_eq!(s.linear.server_error, 0.1);
        assert_eq!(s.linear.rate_limited, 0.05);
        assert_eq!(s.linear.latency, Duration::from_millis(50));
        assert_eq!(s.canny.timeout, 0.02);
        assert_eq!(s.webhooks.drop, 0.1);
        assert!(s.webhooks.reorder);
        let d = FaultSpec::parse("linear:drift=0.05;canny:drift=1").unwrap();
        assert_eq!((d.linear.drift, d.canny.drift), (0.05, 1.0));
    }

    #[test]
    fn lost_answers_combine_with_the_other_faults() {
        let f = FaultSpec::parse("fider:lost=0.5,drift=0.1,5xx=0.2").unwrap();
        assert_eq!(
            (f.fider.lost, f.fider.drift, f.fider.server_error),
            (0.5, 0.1, 0.2)
        );
        assert_eq!(f.canny, ApiFaults::default());
        let s = FaultSpec::parse("linear:5xx=0.1,lost=0.3;canny:lost=1,timeout=0.05").unwrap();
        assert_eq!(s.linear.lost, 0.3);
        assert_eq!(s.linear.server_error, 0.1);
        assert_eq!(s.canny.lost, 1.0);
        assert!(FaultSpec::parse("linear:lost=1.5").is_err());
        let d = Dice::new(3);
        let always = ApiFaults {
            lost: 1.0,
            ..ApiFaults::default()
        };
        let kinds: Vec<_> = (0..40).map(|_| d.lost(&always)).collect();
        assert!(kinds.contains(&Some(LostAnswer::Reset)));
        assert!(kinds.contains(&Some(LostAnswer::Withheld)));
        assert_eq!(d.lost(&ApiFaults::default()), None);
    }

    #[test]
    fn rejects_unknown_keys_and_targets() {
        assert!(FaultSpec::parse("linear:6xx=0.1").is_err());
        assert!(FaultSpec::parse("jira:5xx=0.1").is_err());
        assert!(FaultSpec::parse("linear:5xx=2").is_err());
        assert!(FaultSpec::parse("linear").is_err());
        assert_eq!(FaultSpec::parse("").unwrap(), FaultSpec::default());
    }

    #[test]
    fn dice_is_deterministic() {
        let a = Dice::new(7);
        let b = Dice::new(7);
        let xs: Vec<bool> = (0..100).map(|_| a.chance(0.3)).collect();
        let ys: Vec<bool> = (0..100).map(|_| b.chance(0.3)).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().any(|x| *x) && xs.iter().any(|x| !*x));
    }
}
