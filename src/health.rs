//! One verdict — healthy, degraded or down — with the reasons, computed from
//! the store's summary. `status`, `/healthz` and the console's Overview all
//! use this so they never disagree.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::domain::JobStatus;
use crate::store::{LockProbe, Summary, probe_write_lock};

/// The engine writes its heartbeat every few seconds; older than this and it
/// is considered stopped.
pub const HEARTBEAT_STALE_MS: i64 = 30_000;

/// Consecutive failed reconcile passes from which the verdict is down
/// (one or two are degraded: a transient outage repairs itself).
pub const RECONCILE_DOWN_STREAK: i64 = 3;

/// A heartbeat older than this makes readers check whether another process
/// holds the store's write lock (the engine writes it every second, so a
/// writer that works is never this late).
pub const LOCK_SUSPECT_MS: i64 = 5_000;

/// How long the lock probe waits for the write lock.
const LOCK_PROBE_WAIT: Duration = Duration::from_millis(250);

/// Sync lag above this is reported as degraded.
pub const LAG_DEGRADED_MS: i64 = 5 * 60_000;

/// Overall health, ordered from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Everything is syncing.
    Healthy,
    /// Syncing, with problems someone should look at.
    Degraded,
    /// Not syncing.
    Down,
}

impl Verdict {
    /// Process exit code for `roundtrip status` (DESIGN.md section 2).
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Healthy => 0,
            Verdict::Degraded => 1,
            Verdict::Down => 2,
        }
    }

    /// Lowercase word for humans and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Healthy => "healthy",
            Verdict::Degraded => "degraded",
            Verdict::Down => "down",
        }
    }
}

/// The verdict and every reason behind it, worst first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    /// Overall verdict.
    pub verdict: Verdict,
    /// Why, one short sentence each.
    pub reasons: Vec<String>,
    /// Age of the engine heartbeat (ms), if it ever ran.
    pub heartbeat_age_ms: Option<i64>,
    /// Sync lag (ms): age of the oldest change not yet synced.
    pub lag_ms: i64,
}

/// Judge a summary at time `now_ms`.
pub fn assess(s: &Summary, now_ms: i64) -> Health {
    let mut down = Vec::new();
    let mut degraded = Vec::new();
    let heartbeat_age_ms = s.heartbeat_ms.map(|h| (now_ms - h).max(0));
    if let Some(c) = s.integrity.as_ref().filter(|c| !c.ok) {
        down.push(format!(
            "store integrity check failed {} ago ({}); {}",
            human_ms(now_ms - c.at_ms),
            c.detail,
            c.recover
                .as_deref()
                .unwrap_or("recover the store before restarting roundtrip")
        ));
    }
    if let Some(why) = &s.store_locked {
        down.push(why.clone());
    }
    match heartbeat_age_ms {
        None => down.push("the engine has never run against this store".to_string()),
        Some(age) if age > HEARTBEAT_STALE_MS => {
            down.push(format!("engine heartbeat is {} old", human_ms(age)));
        }
        Some(_) => {}
    }
    for (who, why) in [("Linear", &s.linear_paused), ("portal", &s.portal_paused)] {
        if let Some(why) = why {
            down.push(format!("{who} connector paused: {why}"));
        }
    }
    // A changed API shape first: everything after it may be its symptom.
    for (who, example) in [
        ("Linear", &s.linear_shape_changed),
        ("portal", &s.portal_shape_changed),
    ] {
        if let Some(example) = example {
            let example = example
                .strip_prefix("API response shape changed: ")
                .unwrap_or(example);
            degraded.push(format!(
                "API response shape changed ({who}); first example: {example}"
            ));
        }
    }
    if s.reconcile_failures > 0 {
        let streak = match s.reconcile_failures {
            1 => "the last reconcile pass failed".to_string(),
            n => format!("the last {n} reconcile passes failed"),
        };
        let why = format!(
            "{streak}: {}",
            s.reconcile_error.as_deref().unwrap_or("no reason recorded")
        );
        if s.reconcile_failures >= RECONCILE_DOWN_STREAK {
            down.push(why);
        } else {
            degraded.push(why);
        }
    }
    let oldest = [s.oldest_pending_ms, s.oldest_unsynced_ms]
        .into_iter()
        .flatten()
        .min();
    let lag_ms = oldest.map_or(0, |t| (now_ms - t).max(0));
    if lag_ms > LAG_DEGRADED_MS {
        degraded.push(format!("sync lag is {}", human_ms(lag_ms)));
    }
    let failed = s.jobs_in(JobStatus::Failed);
    let dead = s.jobs_in(JobStatus::Dead);
    if failed + dead > 0 {
        degraded.push(format!("{failed} failed and {dead} dead jobs"));
    }
    if let Some(why) = &s.deletes_paused {
        degraded.push(format!("deletes paused: {why}"));
    }
    for q in &s.quota {
        if q.remaining <= 0 {
            degraded.push(format!("{} {} quota exhausted", q.connector, q.kind));
        }
    }
    if s.refused_values > 0 {
        degraded.push(if s.refused_values == 1 {
            "1 value refused by the other side waits in Conflicts (cannot write)".to_string()
        } else {
            format!(
                "{} values refused by the other side wait in Conflicts (cannot write)",
                s.refused_values
            )
        });
    }
    if let Some(first) = s.tripped_links.first() {
        let more = s.tripped_links.len() - 1;
        degraded.push(if more == 0 {
            format!("circuit breaker paused {first}")
        } else {
            format!("circuit breaker paused {first} and {more} more links")
        });
    }
    if let Some(r) = &s.refused_mapping {
        let in_force = r.in_force.map_or("the built-in default".to_string(), |v| {
            format!("version {v}")
        });
        degraded.push(format!(
            "mapping version {} was refused ({}); {in_force} stays in force",
            r.version, r.reason
        ));
    }
    if s.unrouted > 0 {
        let first = s.unrouted_example.as_deref().unwrap_or("");
        degraded.push(if s.unrouted == 1 {
            format!("1 portal post matches no route (add a route that takes it): {first}")
        } else {
            format!(
                "{} portal posts match no route (add a route that takes them); latest: {first}",
                s.unrouted
            )
        });
    }
    if s.reconcile_repairs > 0 {
        degraded.push(format!(
            "reconcile repaired {} changes webhooks missed (check webhook URLs and secrets)",
            s.reconcile_repairs
        ));
    }
    degraded.extend(silent_webhooks(s, now_ms));
    let verdict = if !down.is_empty() {
        Verdict::Down
    } else if !degraded.is_empty() {
        Verdict::Degraded
    } else {
        Verdict::Healthy
    };
    down.extend(degraded);
    Health {
        verdict,
        reasons: down,
        heartbeat_age_ms,
        lag_ms,
    }
}

/// One reason per watched portal webhook that stayed silent longer than
/// the watch allows while reconcile kept finding changes it announces: the
/// webhook has probably turned itself off (Fider does, after one failed
/// delivery), and the reason says how to turn it on again.
fn silent_webhooks(s: &Summary, now_ms: i64) -> Vec<String> {
    let Some(w) = &s.portal_webhooks else {
        return Vec::new();
    };
    let vendor = &w.settings.vendor;
    w.webhooks
        .iter()
        .filter_map(|hook| {
            let m = hook.missed.as_ref()?;
            let waited = now_ms - m.since_ms;
            if waited < w.settings.grace_ms {
                return None;
            }
            let last = match hook.last_delivery_ms {
                Some(t) => format!("its last delivery arrived {} ago", human_ms(now_ms - t)),
                None => "no delivery of it has arrived since roundtrip started watching".to_string(),
            };
            let changes = if m.count == 1 { "change" } else { "changes" };
            Some(format!(
                "no {vendor} `{}` webhook delivery for {} although reconcile found {} {changes} it announces (first: {}); {last}. {}",
                hook.event,
                human_ms(waited),
                m.count,
                m.example,
                w.settings.advice
            ))
        })
        .collect()
}

/// Add to a summary what the store itself cannot record: whether another
/// process holds its write lock. Probed only when the heartbeat is late, so
/// a busy but working daemon is never mistaken for a lock.
pub fn observe_store(file: Option<&Path>, s: &mut Summary, now_ms: i64) {
    // PostgreSQL reports a lock wait on the statement that meets it.
    let Some(path) = file else {
        return;
    };
    let late = s.heartbeat_ms.is_none_or(|h| now_ms - h > LOCK_SUSPECT_MS);
    if late
        && s.store_locked.is_none()
        && probe_write_lock(path, LOCK_PROBE_WAIT) == LockProbe::Held
    {
        s.store_locked = Some(locked_reason());
    }
}

/// How a held write lock is reported.
pub fn locked_reason() -> String {
    "the store is locked by another process (it holds a write transaction open): nothing can be stored, webhooks get 503 until it is released".into()
}

/// "3s", "4m 10s", "2h 5m", "3d 4h": compact ages for one-line displays.
pub fn human_ms(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        3600..86400 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86400, (s % 86400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn summary() -> Summary {
        Summary {
            schema_version: 1,
            links: 0,
            jobs: BTreeMap::new(),
            open_conflicts: 0,
            heartbeat_ms: Some(1_000_000),
            oldest_pending_ms: None,
            oldest_unsynced_ms: None,
            linear_paused: None,
            portal_paused: None,
            deletes_paused: None,
            reconcile_repairs: 0,
            quota: Vec::new(),
            refused_values: 0,
            tripped_links: Vec::new(),
            reconcile_failures: 0,
            reconcile_error: None,
            integrity: None,
            store_locked: None,
            refused_mapping: None,
            linear_shape_changed: None,
            portal_shape_changed: None,
            unrouted: 0,
            unrouted_example: None,
            portal_webhooks: None,
        }
    }

    #[test]
    fn unrouted_posts_degrade_and_are_named() {
        let mut s = summary();
        s.unrouted = 2;
        s.unrouted_example = Some("'Dark mode' (p1): 'bugs': board is Ideas, not Bugs".into());
        let h = assess(&s, 1_001_000);
        assert_eq!(h.verdict, Verdict::Degraded);
        assert_eq!(
            h.reasons,
            vec![
                "2 portal posts match no route (add a route that takes them); latest: 'Dark mode' (p1): 'bugs': board is Ideas, not Bugs"
            ]
        );
    }

    #[test]
    fn a_reconcile_failure_streak_degrades_then_goes_down() {
        let mut s = summary();
        s.reconcile_failures = 1;
        s.reconcile_error = Some("Linear answered 503".into());
        let h = assess(&s, 1_001_000);
        assert_eq!(h.verdict, Verdict::Degraded);
        assert_eq!(
            h.reasons[0],
            "the last reconcile pass failed: Linear answered 503"
        );
        s.reconcile_failures = RECONCILE_DOWN_STREAK;
        let h = assess(&s, 1_001_000);
        assert_eq!(h.verdict, Verdict::Down);
        assert!(
            h.reasons[0].contains("last 3 reconcile passes failed"),
            "{h:?}"
        );
    }

    #[test]
    fn a_failed_integrity_check_or_a_held_lock_is_down_with_the_way_out() {
        let mut s = summary();
        s.integrity = Some(crate::store::IntegrityCheck {
            ok: false,
            at_ms: 1_000_000,
            detail: "Tree 5 page 9 cell 0: invalid page number".into(),
            recover: Some("run sqlite3 .recover".into()),
        });
        let h = assess(&s, 1_002_000);
        assert_eq!(h.verdict, Verdict::Down);
        assert!(h.reasons[0].contains("integrity check failed"), "{h:?}");
        assert!(h.reasons[0].contains("sqlite3 .recover"), "{h:?}");
        let mut s = summary();
        s.store_locked = Some(locked_reason());
        let h = assess(&s, 1_002_000);
        assert_eq!(h.verdict, Verdict::Down);
        assert!(h.reasons[0].contains("locked by another process"), "{h:?}");
    }

    #[test]
    fn fresh_heartbeat_is_healthy() {
        let h = assess(&summary(), 1_005_000);
        assert_eq!(h.verdict, Verdict::Healthy);
        assert!(h.reasons.is_empty());
    }

    #[test]
    fn stale_or_missing_heartbeat_is_down() {
        assert_eq!(
            assess(&summary(), 1_000_000 + HEARTBEAT_STALE_MS + 1).verdict,
            Verdict::Down
        );
        let mut s = summary();
        s.heartbeat_ms = None;
        assert_eq!(assess(&s, 0).verdict, Verdict::Down);
    }

    #[test]
    fn failures_and_lag_degrade() {
        let mut s = summary();
        s.jobs.insert("failed".into(), 2);
        let h = assess(&s, 1_001_000);
        assert_eq!(h.verdict, Verdict::Degraded);
        assert!(h.reasons[0].contains("2 failed"));
        let mut s = summary();
        s.oldest_pending_ms = Some(1_000_000 - LAG_DEGRADED_MS - 10);
        assert_eq!(assess(&s, 1_000_000).verdict, Verdict::Degraded);
    }

    #[test]
    fn auth_pause_is_down() {
        let mut s = summary();
        s.linear_paused = Some("authentication refused".into());
        let h = assess(&s, 1_000_000);
        assert_eq!(h.verdict, Verdict::Down);
        assert!(h.reasons[0].contains("Linear connector paused"));
    }

    #[test]
    fn refused_values_and_tripped_links_degrade() {
        let mut s = summary();
        s.refused_values = 2;
        s.tripped_links = vec!["link 3 (Dark mode): 3 failed writes in 10m".into()];
        let h = assess(&s, 1_001_000);
        assert_eq!(h.verdict, Verdict::Degraded);
        assert!(
            h.reasons.iter().any(|r| r.contains("2 values refused")),
            "{h:?}"
        );
        assert!(
            h.reasons
                .iter()
                .any(|r| r.contains("circuit breaker paused link 3")),
            "{h:?}"
        );
    }

    #[test]
    fn refused_mapping_degrades_with_its_reason() {
        let mut s = summary();
        s.refused_mapping = Some(crate::store::RefusedMapping {
            version: 2,
            reason: "line 43: unknown key".into(),
            in_force: Some(1),
        });
        let h = assess(&s, 1_000_000);
        assert_eq!(h.verdict, Verdict::Degraded);
        assert_eq!(
            h.reasons,
            ["mapping version 2 was refused (line 43: unknown key); version 1 stays in force"]
        );
    }

    #[test]
    fn shape_drift_degrades_with_its_first_example() {
        let mut s = summary();
        s.linear_shape_changed = Some("Linear issue x field `state.type`: unknown".into());
        let h = assess(&s, 1_001_000);
        assert_eq!(h.verdict, Verdict::Degraded);
        assert!(h.reasons[0].starts_with("API response shape changed (Linear)"));
        assert!(h.reasons[0].contains("state.type"));
    }

    #[test]
    fn auth_pause_shape_drift_and_refused_mapping_are_all_reported() {
        let mut s = summary();
        s.linear_paused = Some("authentication refused".into());
        s.portal_shape_changed = Some("Canny posts/list field `status`: unknown".into());
        s.refused_mapping = Some(crate::store::RefusedMapping {
            version: 3,
            reason: "line 2: expected `=`".into(),
            in_force: None,
        });
        let h = assess(&s, 1_000_000);
        assert_eq!(h.verdict, Verdict::Down);
        assert_eq!(
            h.reasons,
            [
                "Linear connector paused: authentication refused",
                "API response shape changed (portal); first example: Canny posts/list field `status`: unknown",
                "mapping version 3 was refused (line 2: expected `=`); the built-in default stays in force",
            ]
        );
    }

    #[test]
    fn a_silent_watched_webhook_degrades_once_its_grace_is_over() {
        use crate::store::{Missed, WatchSettings, WebhookSilence, WebhookState};
        let mut s = summary();
        s.heartbeat_ms = Some(1_060_000);
        let hook = |missed: Option<Missed>, last| WebhookState {
            event: "new_comment".into(),
            last_delivery_ms: last,
            missed,
        };
        let missed = Missed {
            count: 2,
            since_ms: 1_000_000,
            example: "post #7 got a comment".into(),
        };
        s.portal_webhooks = Some(WebhookSilence {
            settings: WatchSettings {
                vendor: "Fider".into(),
                grace_ms: 60_000,
                advice: "Re-enable it in Fider.".into(),
                events: vec!["new_post".into(), "new_comment".into()],
            },
            webhooks: vec![
                WebhookState {
                    event: "new_post".into(),
                    last_delivery_ms: Some(990_000),
                    missed: None,
                },
                hook(Some(missed.clone()), None),
            ],
        });
        assert_eq!(
            assess(&s, 1_030_000).verdict,
            Verdict::Healthy,
            "within the grace"
        );
        let h = assess(&s, 1_061_000);
        assert_eq!(h.verdict, Verdict::Degraded);
        assert_eq!(
            h.reasons,
            [
                "no Fider `new_comment` webhook delivery for 1m 1s although reconcile found 2 changes it announces (first: post #7 got a comment); no delivery of it has arrived since roundtrip started watching. Re-enable it in Fider."
            ]
        );
        if let Some(w) = s.portal_webhooks.as_mut() {
            w.webhooks[1] = hook(Some(missed), Some(400_000));
        }
        assert!(assess(&s, 1_061_000).reasons[0].contains("its last delivery arrived 11m 1s ago"));
        if let Some(w) = s.portal_webhooks.as_mut() {
            w.webhooks[1] = hook(None, Some(1_050_000));
        }
        assert_eq!(
            assess(&s, 1_061_000).verdict,
            Verdict::Healthy,
            "a delivery came"
        );
    }

    #[test]
    fn human_ages() {
        assert_eq!(human_ms(3_000), "3s");
        assert_eq!(human_ms(250_000), "4m 10s");
        assert_eq!(human_ms(7_500_000), "2h 5m");
    }
}
