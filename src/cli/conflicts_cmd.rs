//! `roundtrip conflicts list|show|resolve`: the fields both sides changed
//! differently, from the shell. Resolving records the operator's decision in
//! the store (`Db::resolve_conflict`) and the audit log in one transaction;
//! the engine then writes the chosen value to both sides.

use std::process::ExitCode;

use anyhow::bail;
use serde::Serialize;

use super::StoreArgs;
use super::UsageError;
use super::out::{self, outln};
use super::table::{Fit, Table, WideArg, Width, diff_cells, iso, relative};
use crate::domain::{Actor, FieldValue, Side};
use crate::health::human_ms;
use crate::ops::{self, conflicts::Choice};
use crate::store::{
    Conflict, ConflictFilter, ConflictStatus, Db, Link, OpenMode, Resolution, Window, now_ms,
};

/// Rows per page when `--limit` is not given.
const DEFAULT_LIMIT: usize = 50;

/// Subcommands of `roundtrip conflicts`.
#[derive(Debug, clap::Subcommand)]
pub enum ConflictsCommand {
    /// List conflicts, oldest first (open ones unless --all).
    List(ListArgs),
    /// Show one conflict with its full values.
    Show(ShowArgs),
    /// Decide conflicts; the engine writes the decision to both sides. Each id is
    /// checked on its own: one already resolved, unknown or whose value does not fit
    /// is refused with the reason while the others are resolved.
    Resolve(ResolveArgs),
}

/// Arguments of `conflicts list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Which store to read.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Include resolved conflicts.
    #[arg(long)]
    pub all: bool,
    /// Most conflicts to print.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_LIMIT)]
    pub limit: usize,
    /// Continue after this conflict id (the next page: newer conflicts).
    #[arg(long, value_name = "ID")]
    pub after: Option<i64>,
    /// Print a stable JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Column width.
    #[command(flatten)]
    pub wide: WideArg,
}

/// Arguments of `conflicts show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Which store to read.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The conflict id.
    pub id: i64,
    /// Print stable JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Which value wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TakeArg {
    /// The portal's value (written to Linear).
    Portal,
    /// Linear's value (written to the portal).
    Linear,
    /// The last agreed value (written to both sides).
    Base,
}

/// Arguments of `conflicts resolve`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("choice").required(true).args(["take", "value"])))]
pub struct ResolveArgs {
    /// Which store to change.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Conflict ids to resolve.
    #[arg(value_name = "ID", required = true)]
    pub ids: Vec<i64>,
    /// Keep one side's value (or the base).
    #[arg(long, value_enum)]
    pub take: Option<TakeArg>,
    /// A hand-merged value written to both sides, typed by the mapping field (label
    /// sets: comma-separated names; vote counts: a whole number).
    #[arg(long, value_name = "TEXT")]
    pub value: Option<String>,
}

/// One conflict in `conflicts list --json` / `conflicts show --json`. Field
/// names are a stable contract; values are `{"kind": …, "value": …}` objects
/// (kinds null, text, number, set); times are RFC 3339 UTC.
#[derive(Debug, Serialize)]
struct ConflictOut {
    id: i64,
    status: ConflictStatus,
    link_id: i64,
    link: Option<String>,
    portal_id: Option<String>,
    linear_id: Option<String>,
    title: Option<String>,
    field: String,
    base: FieldValue,
    portal: FieldValue,
    linear: FieldValue,
    portal_changed_at: Option<String>,
    linear_changed_at: Option<String>,
    created_at: String,
    resolution: Option<&'static str>,
    resolved_value: Option<FieldValue>,
    resolved_by: Option<Actor>,
    resolved_at: Option<String>,
    applied_at: Option<String>,
    /// Why it waits: `both_changed`, `refused` (cannot write), `overwritten`, …
    kind: &'static str,
    /// The side a refused or overwritten value concerns.
    kind_side: Option<Side>,
    /// The refusal message or what was overwritten.
    note: Option<String>,
}

fn conflict_out(db: Db<'_>, c: &Conflict) -> anyhow::Result<ConflictOut> {
    let link = db.link(c.link_id)?;
    let label = link.as_ref().map(Link::label);
    Ok(ConflictOut {
        id: c.id,
        status: c.status,
        link_id: c.link_id,
        link: label,
        portal_id: link.as_ref().and_then(|l| l.portal_id.clone()),
        linear_id: link.as_ref().and_then(|l| l.linear_id.clone()),
        title: link.map(|l| l.title),
        field: c.field.clone(),
        base: c.base.clone(),
        portal: c.portal.clone(),
        linear: c.linear.clone(),
        portal_changed_at: c.portal_changed_at.map(iso),
        linear_changed_at: c.linear_changed_at.map(iso),
        created_at: iso(c.created_at),
        resolution: c.resolution.as_ref().map(Resolution::as_str),
        resolved_value: match &c.resolution {
            Some(Resolution::Value(v)) => Some(v.clone()),
            _ => None,
        },
        resolved_by: c.resolved_by,
        resolved_at: c.resolved_at.map(iso),
        applied_at: c.applied_at.map(iso),
        kind: c.kind.as_str(),
        kind_side: c.kind_side,
        note: c.note.clone(),
    })
}

/// Run a `conflicts` subcommand.
pub fn run(cmd: &ConflictsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ConflictsCommand::List(a) => list(a),
        ConflictsCommand::Show(a) => show(a),
        ConflictsCommand::Resolve(a) => resolve(a),
    }
}

fn list(a: &ListArgs) -> anyhow::Result<ExitCode> {
    let store = a.store.open(OpenMode::ReadOnly)?;
    let db = store.db();
    let filter = ConflictFilter {
        status: (!a.all).then_some(ConflictStatus::Open),
        field: None,
    };
    let mut window = Window::first(a.limit);
    if let Some(after) = a.after {
        window = window.after(after);
    }
    let conflicts = db.conflicts(&filter, window)?;
    let rows = conflicts
        .iter()
        .map(|c| conflict_out(db, c))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&rows)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        outln!(
            "{}",
            if a.all {
                "no conflicts"
            } else {
                "no open conflicts"
            }
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let now = now_ms();
    let width = a.wide.width();
    // WHY appears when a conflict on the page is more than "both changed"
    // (a value the other side refused, an overwritten edit).
    let why = conflicts
        .iter()
        .any(|c| c.kind != crate::domain::ConflictReason::BothChanged);
    let fixed = if why { 78 } else { 64 };
    let value_width = match width {
        Width::Fit(w) => (w.saturating_sub(fixed) / 3).clamp(12, 48),
        Width::Unlimited => usize::MAX,
    };
    let mut headers = vec![("ID", Fit::Keep)];
    if a.all {
        headers.push(("STATUS", Fit::Keep));
    }
    headers.extend([("LINK", Fit::Shrink), ("FIELD", Fit::Keep)]);
    if why {
        headers.push(("WHY", Fit::Keep));
    }
    headers.extend([
        ("BASE", Fit::Keep),
        ("PORTAL", Fit::Keep),
        ("LINEAR", Fit::Keep),
        ("AGE", Fit::Keep),
        ("TITLE", Fit::Shrink),
    ]);
    let mut t = Table::new(&headers);
    for (c, o) in conflicts.iter().zip(&rows) {
        let mut cells = vec![c.id.to_string()];
        if a.all {
            cells.push(match c.status {
                ConflictStatus::Open => "open".into(),
                ConflictStatus::Resolved => format!(
                    "took {}",
                    c.resolution.as_ref().map_or("?", Resolution::as_str)
                ),
            });
        }
        cells.push(o.link.clone().unwrap_or_else(|| "-".into()));
        cells.push(c.field.clone());
        if why {
            cells.push(c.kind.label().to_string());
        }
        cells.extend(diff_cells(&[&c.base, &c.portal, &c.linear], value_width));
        cells.extend([
            human_ms(now - c.created_at),
            o.title.clone().unwrap_or_default(),
        ]);
        t.row(cells);
    }
    out::text(&t.render(width))?;
    if conflicts.len() == a.limit
        && let Some(last) = conflicts.last()
    {
        outln!(
            "({} conflicts, oldest first; next page: --after {})",
            conflicts.len(),
            last.id
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A labelled value printed in full: one line for short values, multi-line
/// text indented under the label (with the note on the label line).
fn full(label: &str, v: &FieldValue, note: &str) -> String {
    match v {
        FieldValue::Text(t) if t.contains('\n') => {
            let body: Vec<String> = t.lines().map(|l| format!("    │ {l}")).collect();
            let head = format!("{label:<8}{}", note.trim_start());
            format!("{}\n{}", head.trim_end(), body.join("\n"))
        }
        FieldValue::Text(t) => format!("{label:<8}'{t}'{note}"),
        other => format!("{label:<8}{}{note}", other.display_short(usize::MAX)),
    }
}

fn show(a: &ShowArgs) -> anyhow::Result<ExitCode> {
    let store = a.store.open(OpenMode::ReadOnly)?;
    let db = store.db();
    let Some(c) = db.conflict(a.id)? else {
        bail!("conflict {} does not exist", a.id);
    };
    let o = conflict_out(db, &c)?;
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&o)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let now = now_ms();
    let when = |t: Option<i64>| {
        t.map(|t| format!(" (changed {})", relative(t, now)))
            .unwrap_or_default()
    };
    outln!(
        "conflict {} on field {} — {}",
        c.id,
        c.field,
        match c.status {
            ConflictStatus::Open => "open".to_string(),
            ConflictStatus::Resolved => "resolved".to_string(),
        }
    )?;
    outln!(
        "link    #{} {} {}",
        c.link_id,
        o.link.as_deref().unwrap_or("(deleted)"),
        o.title
            .as_deref()
            .map(|t| format!("\"{t}\""))
            .unwrap_or_default()
    )?;
    outln!("opened  {} ago", human_ms(now - c.created_at))?;
    outln!("why     {}", c.kind.label())?;
    if let Some(note) = &c.note {
        outln!("note    {note}")?;
    }
    outln!("{}", full("base", &c.base, ""))?;
    outln!("{}", full("portal", &c.portal, &when(c.portal_changed_at)))?;
    outln!("{}", full("linear", &c.linear, &when(c.linear_changed_at)))?;
    if let Some(r) = &c.resolution {
        let chosen = match r {
            Resolution::Value(v) => full("value", v, ""),
            other => format!("took the {} value", other.as_str()),
        };
        outln!(
            "decided {chosen}\n        by {} {}; {}",
            c.resolved_by.map_or("?", Actor::as_str),
            c.resolved_at.map_or(String::new(), |t| relative(t, now)),
            match c.applied_at {
                Some(t) => format!("written by the engine {}", relative(t, now)),
                None => "not written by the engine yet".to_string(),
            }
        )?;
    } else {
        outln!(
            "\nresolve with: roundtrip conflicts resolve {} --take portal|linear|base  (or --value TEXT)",
            c.id
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn resolve(a: &ResolveArgs) -> anyhow::Result<ExitCode> {
    let choice = match (a.take, &a.value) {
        (Some(TakeArg::Portal), _) => Choice::Portal,
        (Some(TakeArg::Linear), _) => Choice::Linear,
        (Some(TakeArg::Base), _) => Choice::Base,
        (None, Some(text)) => Choice::Merged(text.clone()),
        (None, None) => return Err(UsageError("give --take or --value".into()).into()),
    };
    let mut store = a.store.open(OpenMode::Existing)?;
    let report = store.write(|db| ops::conflicts::resolve(db, &a.ids, &choice))?;
    out::report(&report, true)
}
