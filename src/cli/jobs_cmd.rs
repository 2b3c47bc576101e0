//! `roundtrip jobs list|show|retry|cancel`: the outbound write queue from the
//! shell. Listing reads the store read-only; retry and cancel are operator
//! intents written in one short transaction (the engine picks them up), each
//! recorded in the audit log.

use std::collections::HashMap;
use std::process::ExitCode;

use anyhow::bail;
use serde::Serialize;

use super::StoreArgs;
use super::out::{self, outln};
use super::table::{Fit, Table, WideArg, iso, relative};
use crate::domain::{ErrorClass, JobKind, JobStatus};
use crate::ops;
use crate::store::{Attempt, Db, Job, JobFilter, OpenMode, Window, now_ms};

/// Rows per page when `--limit` is not given.
const DEFAULT_LIMIT: usize = 50;

/// Subcommands of `roundtrip jobs`.
#[derive(Debug, clap::Subcommand)]
pub enum JobsCommand {
    /// List jobs, newest first, a page at a time.
    List(ListArgs),
    /// Show one job with its attempt log.
    Show(ShowArgs),
    /// Put failed, dead or cancelled jobs back in the queue with a fresh attempt budget
    /// (jobs in another state are refused, each with the reason; exit 1).
    Retry(RetryArgs),
    /// Cancel queued, failed or dead jobs (a running job finishes its attempt; others
    /// are refused, each with the reason; exit 1).
    Cancel(CancelArgs),
}

/// Arguments of `jobs list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Which store to read.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Only jobs in this status (queued, running, succeeded, failed, dead, cancelled).
    #[arg(long, value_name = "S", value_parser = parse_status)]
    pub status: Option<JobStatus>,
    /// Only jobs whose last error has this class (rate_limited, server, network,
    /// timeout, auth, validation, not_found, conflict).
    #[arg(long, value_name = "C", value_parser = parse_class)]
    pub error_class: Option<ErrorClass>,
    /// Most jobs to print.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_LIMIT)]
    pub limit: usize,
    /// Continue after this job id (the next page: older jobs).
    #[arg(long, value_name = "ID")]
    pub after: Option<i64>,
    /// Print a stable JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Column width.
    #[command(flatten)]
    pub wide: WideArg,
}

/// Arguments of `jobs show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Which store to read.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The job id.
    pub id: i64,
    /// Print stable JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Column width.
    #[command(flatten)]
    pub wide: WideArg,
}

/// Arguments of `jobs retry`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["ids", "all_failed"])))]
pub struct RetryArgs {
    /// Which store to change.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Job ids to retry.
    #[arg(value_name = "ID")]
    pub ids: Vec<i64>,
    /// Retry every failed and dead job (optionally only one error class).
    #[arg(long, conflicts_with = "ids")]
    pub all_failed: bool,
    /// With --all-failed: only jobs whose last error has this class.
    #[arg(long, value_name = "C", requires = "all_failed", value_parser = parse_class)]
    pub error_class: Option<ErrorClass>,
}

/// Arguments of `jobs cancel`.
#[derive(Debug, clap::Args)]
pub struct CancelArgs {
    /// Which store to change.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Job ids to cancel.
    #[arg(value_name = "ID", required = true)]
    pub ids: Vec<i64>,
}

fn parse_status(s: &str) -> Result<JobStatus, String> {
    s.parse().map_err(|_| {
        let names: Vec<&str> = JobStatus::ALL.iter().map(|c| c.as_str()).collect();
        format!("expected one of {}", names.join(", "))
    })
}

fn parse_class(s: &str) -> Result<ErrorClass, String> {
    s.parse().map_err(|_| {
        let names: Vec<&str> = ErrorClass::ALL.iter().map(|c| c.as_str()).collect();
        format!("expected one of {}", names.join(", "))
    })
}

/// One job in `jobs list --json` (and the head of `jobs show --json`). Field
/// names are a stable contract; times are RFC 3339 UTC.
#[derive(Debug, Serialize)]
struct JobOut {
    id: i64,
    status: JobStatus,
    kind: JobKind,
    target: String,
    lane: String,
    link_id: Option<i64>,
    link: Option<String>,
    attempts: i64,
    max_attempts: i64,
    error_class: Option<ErrorClass>,
    last_error: Option<String>,
    http_status: Option<i64>,
    request_id: Option<String>,
    next_run_at: String,
    created_at: String,
    updated_at: String,
    reason: String,
}

/// One attempt in `jobs show --json`.
#[derive(Debug, Serialize)]
struct AttemptOut {
    attempt: i64,
    started_at: String,
    duration_ms: i64,
    outcome: String,
    http_status: Option<i64>,
    error_class: Option<ErrorClass>,
    message: Option<String>,
    request_id: Option<String>,
}

/// `jobs show --json`: the job, its payload and every attempt, oldest first.
#[derive(Debug, Serialize)]
struct JobDetailOut {
    #[serde(flatten)]
    job: JobOut,
    payload: serde_json::Value,
    attempt_log: Vec<AttemptOut>,
}

/// Resolves link labels once per link while rendering a page.
struct Labels<'c> {
    db: Db<'c>,
    seen: HashMap<i64, Option<String>>,
}

impl<'c> Labels<'c> {
    fn new(db: Db<'c>) -> Self {
        Labels {
            db,
            seen: HashMap::new(),
        }
    }

    fn get(&mut self, link_id: Option<i64>) -> anyhow::Result<Option<String>> {
        let Some(id) = link_id else { return Ok(None) };
        if let Some(l) = self.seen.get(&id) {
            return Ok(l.clone());
        }
        let label = self.db.link(id)?.map(|link| link.label());
        self.seen.insert(id, label.clone());
        Ok(label)
    }
}

fn job_out(job: &Job, link: Option<String>) -> JobOut {
    JobOut {
        id: job.id,
        status: job.status,
        kind: job.kind,
        target: job.target.as_str().to_string(),
        lane: job.lane.as_str().to_string(),
        link_id: job.link_id,
        link,
        attempts: job.attempts,
        max_attempts: job.max_attempts,
        error_class: job.error_class,
        last_error: job.last_error.clone(),
        http_status: job.http_status,
        request_id: job.request_id.clone(),
        next_run_at: iso(job.next_run_at),
        created_at: iso(job.created_at),
        updated_at: iso(job.updated_at),
        reason: job.reason.clone(),
    }
}

fn attempt_out(a: &Attempt) -> AttemptOut {
    AttemptOut {
        attempt: a.attempt,
        started_at: iso(a.started_at),
        duration_ms: a.duration_ms,
        outcome: a.outcome.clone(),
        http_status: a.http_status,
        error_class: a.error_class,
        message: a.message.clone(),
        request_id: a.request_id.clone(),
    }
}

/// When the job runs next, for humans: only queued jobs have a meaningful time.
fn next_run(job: &Job, now: i64) -> String {
    match job.status {
        JobStatus::Queued => relative(job.next_run_at, now),
        JobStatus::Running => "running".to_string(),
        _ => "-".to_string(),
    }
}

/// Run a `jobs` subcommand.
pub fn run(cmd: &JobsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        JobsCommand::List(a) => list(a),
        JobsCommand::Show(a) => show(a),
        JobsCommand::Retry(a) => retry(a),
        JobsCommand::Cancel(a) => cancel(a),
    }
}

fn list(a: &ListArgs) -> anyhow::Result<ExitCode> {
    let store = a.store.open(OpenMode::ReadOnly)?;
    let db = store.db();
    let filter = JobFilter {
        status: a.status,
        error_class: a.error_class,
    };
    let mut window = Window::last(a.limit);
    if let Some(after) = a.after {
        window = window.after(after);
    }
    let jobs = db.jobs(&filter, window)?;
    let mut labels = Labels::new(db);
    if a.json {
        let mut out = Vec::with_capacity(jobs.len());
        for j in &jobs {
            out.push(job_out(j, labels.get(j.link_id)?));
        }
        outln!("{}", serde_json::to_string_pretty(&out)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if jobs.is_empty() {
        outln!("no jobs match")?;
        return Ok(ExitCode::SUCCESS);
    }
    let now = now_ms();
    let mut t = Table::new(&[
        ("ID", Fit::Keep),
        ("STATUS", Fit::Keep),
        ("KIND", Fit::Shrink),
        ("TARGET", Fit::Shrink),
        ("LINK", Fit::Shrink),
        ("ATTEMPTS", Fit::Keep),
        ("ERROR", Fit::Shrink),
        ("NEXT RUN", Fit::Shrink),
        ("LAST ERROR", Fit::Shrink),
    ]);
    for j in &jobs {
        let link = labels.get(j.link_id)?.unwrap_or_else(|| "-".into());
        t.row(vec![
            j.id.to_string(),
            j.status.as_str().into(),
            j.kind.as_str().into(),
            j.target.as_str().into(),
            link,
            format!("{}/{}", j.attempts, j.max_attempts),
            j.error_class.map_or("-", ErrorClass::as_str).into(),
            next_run(j, now),
            j.last_error.clone().unwrap_or_default(),
        ]);
    }
    out::text(&t.render(a.wide.width()))?;
    if jobs.len() == a.limit
        && let Some(last) = jobs.last()
    {
        outln!(
            "({} jobs, newest first; next page: --after {})",
            jobs.len(),
            last.id
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn show(a: &ShowArgs) -> anyhow::Result<ExitCode> {
    let store = a.store.open(OpenMode::ReadOnly)?;
    let db = store.db();
    let Some(job) = db.job(a.id)? else {
        bail!("job {} does not exist", a.id);
    };
    let attempts = db.attempts(job.id)?;
    let link = Labels::new(db).get(job.link_id)?;
    if a.json {
        let payload = serde_json::from_str(&job.payload)
            .unwrap_or_else(|_| serde_json::Value::String(job.payload.clone()));
        let out = JobDetailOut {
            job: job_out(&job, link),
            payload,
            attempt_log: attempts.iter().map(attempt_out).collect(),
        };
        outln!("{}", serde_json::to_string_pretty(&out)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let now = now_ms();
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".to_string());
    outln!(
        "job {}  {} {} on {}",
        job.id,
        job.status,
        job.kind,
        job.target
    )?;
    outln!(
        "link       {}",
        match (job.link_id, link) {
            (Some(id), Some(l)) => format!("#{id} {l}"),
            (Some(id), None) => format!("#{id} (deleted)"),
            _ => "-".into(),
        }
    )?;
    outln!("reason     {}", job.reason)?;
    outln!(
        "attempts   {}/{} (lane {})",
        job.attempts,
        job.max_attempts,
        job.lane.as_str()
    )?;
    outln!("next run   {}", next_run(&job, now))?;
    outln!(
        "last error {}",
        match job.error_class {
            Some(c) => format!("{c}: {}", opt(job.last_error.clone())),
            None => "-".into(),
        }
    )?;
    outln!(
        "created    {} ago, updated {} ago",
        crate::health::human_ms(now - job.created_at),
        crate::health::human_ms(now - job.updated_at)
    )?;
    outln!("payload    {}", job.payload)?;
    if attempts.is_empty() {
        outln!("\nno attempts yet")?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!()?;
    let mut t = Table::new(&[
        ("#", Fit::Keep),
        ("STARTED", Fit::Keep),
        ("TOOK", Fit::Keep),
        ("HTTP", Fit::Keep),
        ("OUTCOME", Fit::Keep),
        ("REQUEST", Fit::Shrink),
        ("MESSAGE", Fit::Shrink),
    ]);
    for at in &attempts {
        t.row(vec![
            at.attempt.to_string(),
            relative(at.started_at, now),
            format!("{}ms", at.duration_ms),
            at.http_status.map_or("-".into(), |s| s.to_string()),
            at.outcome.clone(),
            opt(at.request_id.clone()),
            opt(at.message.clone()),
        ]);
    }
    out::text(&t.render(a.wide.width()))?;
    Ok(ExitCode::SUCCESS)
}

fn retry(a: &RetryArgs) -> anyhow::Result<ExitCode> {
    let mut store = a.store.open(OpenMode::Existing)?;
    let report = if a.all_failed {
        let filter = JobFilter {
            status: None,
            error_class: a.error_class,
        };
        store.write(|db| ops::jobs::retry_matching(db, &filter))?
    } else {
        store.write(|db| ops::jobs::retry(db, &a.ids))?
    };
    out::report(&report, false)
}

fn cancel(a: &CancelArgs) -> anyhow::Result<ExitCode> {
    let mut store = a.store.open(OpenMode::Existing)?;
    let report = store.write(|db| ops::jobs::cancel(db, &a.ids))?;
    out::report(&report, false)
}
