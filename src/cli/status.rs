//! `roundtrip status`: a one-screen health report for scripts and cron.
//! Monitors parse `--json` blind, so it is JSON whatever happens: a store
//! that is missing, corrupt or unreadable is a `down` verdict with the
//! reason (exit 2), not an error message.

use std::process::ExitCode;

use serde::Serialize;

use super::StoreArgs;
use super::out::{self, outln};
use crate::domain::JobStatus;
use crate::health::{Health, Verdict, assess, human_ms, observe_store};
use crate::store::{OpenMode, StoreError, Summary, now_ms, recovery_command, to_ms};

/// Arguments of `roundtrip status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Which store to read.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Print stable JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Report<'a> {
    store: String,
    #[serde(flatten)]
    health: &'a Health,
    summary: &'a Summary,
    /// The webhook-secret rotation in progress, if any.
    linear_webhook_rotation: Option<RotationReport>,
    /// Every replica sharing a PostgreSQL store (absent on SQLite).
    #[serde(skip_serializing_if = "Option::is_none")]
    replicas: Option<Vec<ReplicaReport>>,
}

/// A replica's heartbeat older than this counts as a dead replica (a
/// replica beats three times per lease; the default lease is 30s).
const REPLICA_STALE_MS: i64 = 30_000;

/// One `roundtrip run` process on a shared PostgreSQL store.
#[derive(Serialize)]
struct ReplicaReport {
    id: String,
    host: String,
    pid: i64,
    heartbeat_age_ms: i64,
    alive: bool,
    /// The once-per-cluster loops it leads now (reconcile, upkeep).
    leads: Vec<String>,
}

/// The replicas and the leases they hold; `None` on SQLite.
fn replica_reports(
    store: &crate::store::Store,
    now: i64,
) -> anyhow::Result<Option<Vec<ReplicaReport>>> {
    use crate::store::pg;
    let Some(session) = store.postgres() else {
        return Ok(None);
    };
    let (replicas, leases) = session.with_client(|c| {
        let replicas = pg::replicas(c, now, REPLICA_STALE_MS)?;
        let leases = pg::leases(c)?;
        Ok::<_, pg::PgError>((replicas, leases))
    })?;
    Ok(Some(
        replicas
            .into_iter()
            .map(|r| ReplicaReport {
                leads: leases
                    .iter()
                    .filter(|l| l.holder == r.info.id && l.expires_at > now)
                    .map(|l| l.role.clone())
                    .collect(),
                heartbeat_age_ms: (now - r.last_beat).max(0),
                alive: r.alive,
                id: r.info.id,
                host: r.info.host,
                pid: r.info.pid,
            })
            .collect(),
    ))
}

fn replica_lines(replicas: &[ReplicaReport]) -> String {
    let mut out = String::new();
    for r in replicas {
        let state = if r.alive { "" } else { " (not beating)" };
        let leads = if r.leads.is_empty() {
            String::new()
        } else {
            format!(" · leads {}", r.leads.join(", "))
        };
        out.push_str(&format!(
            "replica    {} on {} pid {} · heartbeat {} ago{state}{leads}\n",
            r.id,
            r.host,
            r.pid,
            human_ms(r.heartbeat_age_ms)
        ));
    }
    out
}

/// When the previous Linear webhook secret stops being accepted.
#[derive(Serialize)]
struct RotationReport {
    started_at: Option<String>,
    ends_at: Option<String>,
    /// False once the overlap is over (remove `previous_webhook_secret_env`).
    active: bool,
}

fn rotation_report(r: &crate::rotation::Rotation, now: i64) -> RotationReport {
    let at = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    };
    RotationReport {
        started_at: at(r.started_ms),
        ends_at: at(r.ends_ms),
        active: now < r.ends_ms,
    }
}

fn rotation_line(r: &crate::rotation::Rotation, now: i64) -> String {
    let ends = rotation_report(r, now).ends_at.unwrap_or_default();
    if now < r.ends_ms {
        format!(
            "webhooks   previous Linear webhook secret accepted until {ends} ({} left)\n",
            human_ms(r.ends_ms - now)
        )
    } else {
        format!(
            "webhooks   webhook-secret overlap ended {ends}; remove previous_webhook_secret_env\n"
        )
    }
}

/// `status --json` when the store cannot be read at all.
#[derive(Serialize)]
struct Unreadable {
    store: Option<String>,
    verdict: Verdict,
    reasons: Vec<String>,
}

/// Print the report; the exit code is the verdict's.
pub fn run(args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let read = args.store.open(OpenMode::ReadOnly).and_then(|store| {
        let summary = store.db().summary()?;
        let rotation = crate::rotation::stored(&store.db())?;
        Ok((store, summary, rotation))
    });
    let (store, mut summary, rotation) = match read {
        Ok(r) => r,
        Err(err) => return unreadable(args, &err),
    };
    let now = now_ms();
    observe_store(store.file(), &mut summary, now);
    // With no engine writing, nothing else will look: check the store
    // itself (the daemon refuses a damaged store at start).
    let late = summary
        .heartbeat_ms
        .is_none_or(|h| now - h > crate::health::LOCK_SUSPECT_MS);
    if late && summary.integrity.as_ref().is_none_or(|c| c.ok) {
        let check = store.quick_check();
        if !check.ok {
            summary.integrity = Some(check);
        }
    }
    let health = assess(&summary, now);
    let replicas = replica_reports(&store, now)?;
    if args.json {
        let report = Report {
            store: store.path().display().to_string(),
            health: &health,
            summary: &summary,
            linear_webhook_rotation: rotation.as_ref().map(|r| rotation_report(r, now)),
            replicas,
        };
        outln!("{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        out::text(&render(store.path(), &summary, &health))?;
        if let Some(r) = &rotation {
            out::text(&rotation_line(r, now))?;
        }
        if let Some(r) = &replicas {
            out::text(&replica_lines(r))?;
        }
    }
    Ok(ExitCode::from(health.verdict.exit_code()))
}

/// The store could not be opened or read: roundtrip is down, and that is
/// the report.
fn unreadable(args: &StatusArgs, err: &anyhow::Error) -> anyhow::Result<ExitCode> {
    let reason: Vec<String> = err.chain().map(ToString::to_string).collect();
    let mut reason = reason.join(": ");
    let path = args.store.path().ok();
    // A store too damaged to read: say how to recover it.
    if let Some(p) = &path
        && err
            .chain()
            .any(|e| matches!(e.downcast_ref::<StoreError>(), Some(StoreError::Corrupt(_))))
    {
        reason = format!("{reason}; {}", recovery_command(p));
    }
    let store = path.map(|p| p.display().to_string());
    if args.json {
        let report = Unreadable {
            store,
            verdict: Verdict::Down,
            reasons: vec![reason],
        };
        outln!("{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        outln!("roundtrip is DOWN\n  - {reason}")?;
    }
    Ok(ExitCode::from(Verdict::Down.exit_code()))
}

fn render(path: &std::path::Path, s: &Summary, h: &Health) -> String {
    let mut out = format!("roundtrip is {}\n", h.verdict.as_str().to_uppercase());
    for r in &h.reasons {
        out.push_str(&format!("  - {r}\n"));
    }
    out.push_str(&format!(
        "store      {} (schema v{})\n",
        path.display(),
        s.schema_version
    ));
    out.push_str(&format!(
        "engine     {}\n",
        h.heartbeat_age_ms
            .map_or("never ran".to_string(), |a| format!(
                "heartbeat {} ago",
                human_ms(a)
            ))
    ));
    out.push_str(&format!("sync lag   {}\n", human_ms(h.lag_ms)));
    out.push_str(&format!("links      {}\n", s.links));
    let jobs: Vec<String> = JobStatus::ALL
        .iter()
        .map(|st| format!("{} {}", st.as_str(), s.jobs_in(*st)))
        .collect();
    out.push_str(&format!("jobs       {}\n", jobs.join(" · ")));
    out.push_str(&format!("conflicts  {} open\n", s.open_conflicts));
    if s.unrouted > 0 {
        out.push_str(&format!(
            "unrouted   {} portal post{} no route takes\n",
            s.unrouted,
            if s.unrouted == 1 { "" } else { "s" }
        ));
    }
    let now = now_ms();
    for q in &s.quota {
        let reset = q
            .reset_at
            .map(|r| format!(", resets in {}", human_ms(to_ms(r) - now)))
            .unwrap_or_default();
        out.push_str(&format!(
            "quota      {} {} {}/{}{reset}\n",
            q.connector, q.kind, q.remaining, q.limit
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(id: &str, age: i64, alive: bool, leads: &[&str]) -> ReplicaReport {
        ReplicaReport {
            id: id.into(),
            host: "web-1".into(),
            pid: 42,
            heartbeat_age_ms: age,
            alive,
            leads: leads.iter().map(|l| l.to_string()).collect(),
        }
    }

    #[test]
    fn replica_lines_name_the_leader_and_the_silent() {
        let text = replica_lines(&[
            replica("a", 2_000, true, &["reconcile", "upkeep"]),
            replica("b", 95_000, false, &[]),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].starts_with("replica    a on web-1 pid 42 · heartbeat "));
        assert!(
            lines[0].ends_with(" ago · leads reconcile, upkeep"),
            "{text}"
        );
        assert!(lines[1].contains("(not beating)"), "{text}");
        assert!(!lines[1].contains("leads"), "{text}");
    }
}
