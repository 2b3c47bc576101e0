//! Bounded logging of refused requests. A flood of forged or oversized
//! requests must not become a flood of log lines: each refusal is counted
//! (in the metrics and here), and one WARN line per interval reports the
//! counts by source and reason.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Refusals counted since the last summary line.
#[derive(Debug, Default)]
pub struct RejectLog {
    counts: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
}

impl RejectLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(&'static str, &'static str), u64>> {
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Count one refusal.
    pub fn note(&self, source: &'static str, reason: &'static str) {
        *self.lock().entry((source, reason)).or_insert(0) += 1;
    }

    /// The summary of everything counted since the last call, and reset;
    /// `None` when nothing was refused.
    pub fn take_summary(&self, every: Duration) -> Option<String> {
        let counts = std::mem::take(&mut *self.lock());
        if counts.is_empty() {
            return None;
        }
        let total: u64 = counts.values().sum();
        let parts: Vec<String> = counts
            .iter()
            .map(|((source, reason), n)| format!("{source} {reason}={n}"))
            .collect();
        Some(format!(
            "refused {total} webhook requests in the last {}: {}",
            crate::duration::format_duration(every),
            parts.join(", ")
        ))
    }
}

/// Write one summary line per `every` while anything was refused.
pub async fn summarize(log: std::sync::Arc<RejectLog>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Some(line) = log.take_summary(every) {
            tracing::warn!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_summarised_once_and_reset() {
        let log = RejectLog::default();
        assert_eq!(log.take_summary(Duration::from_secs(60)), None);
        for _ in 0..2000 {
            log.note("linear", "bad_signature");
        }
        log.note("canny", "stale");
        let line = log.take_summary(Duration::from_secs(60)).unwrap();
        assert!(line.contains("refused 2001 webhook requests"), "{line}");
        assert!(line.contains("linear bad_signature=2000"), "{line}");
        assert!(line.contains("canny stale=1"), "{line}");
        assert_eq!(log.take_summary(Duration::from_secs(60)), None);
    }
}
