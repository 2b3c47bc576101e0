//! `roundtrip conflicts list|show|resolve`: the fields both sides changed
//! differently, from the shell. Resolving records the operator's decision in
//! the store (`Db::resolve_conflict`) and the audit log in one transaction;
//! the engine then writes the chosen value to both sides.

use std::collections::BTreeSet;
use std::process::ExitCode;

use anyhow::bail;
use serde::Serialize;

use super::StoreArgs;
use super::UsageError;
use super::table::{Table, iso, link_label, relative, term_width, truncate};
use crate::domain::{FieldValue, Side};
use crate::health::human_ms;
use crate::store::{
    Conflict, ConflictFilter, ConflictStatus, Db, NewAudit, OpenMode, Resolution, Window, now_ms,
};
use crate::sync::codec;

/// Rows per page when `--limit` is not given.
const DEFAULT_LIMIT: usize = 50;

/// Subcommands of `roundtrip conflicts`.
#[derive(Debug, clap::Subcommand)]
pub enum ConflictsCommand {
    /// List conflicts, oldest first (open ones unless --all).
    List(ListArgs),
    /// Show one conflict with its full values.
    Show(ShowArgs),
    /// Decide conflicts; the engine writes the decision to both sides.
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
    /// Conflict ids to resolve (all or none are resolved).
    #[arg(value_name = "ID", required = true)]
    pub ids: Vec<i64>,
    /// Keep one side's value (or the base).
    #[arg(long, value_enum)]
    pub take: Option<TakeArg>,
    /// A hand-merged value written to both sides (for label sets: comma-separated names).
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
    resolved_by: Option<String>,
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
    let label = link.as_ref().map(|l| link_label(db, l)).transpose()?;
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
        resolved_by: c.resolved_by.clone(),
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
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!(
            "{}",
            if a.all {
                "no conflicts"
            } else {
                "no open conflicts"
            }
        );
        return Ok(ExitCode::SUCCESS);
    }
    let now = now_ms();
    let mut headers = vec!["ID"];
    if a.all {
        headers.push("STATUS");
    }
    headers.extend([
        "LINK", "FIELD", "WHY", "BASE", "PORTAL", "LINEAR", "AGE", "TITLE",
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
        cells.extend([
            truncate(o.link.as_deref().unwrap_or("-"), 28),
            c.field.clone(),
            c.kind.label().to_string(),
            c.base.display_short(16),
            c.portal.display_short(16),
            c.linear.display_short(16),
            human_ms(now - c.created_at),
            o.title.clone().unwrap_or_default(),
        ]);
        t.row(cells);
    }
    print!("{}", t.render(term_width()));
    if conflicts.len() == a.limit
        && let Some(last) = conflicts.last()
    {
        println!(
            "({} conflicts, oldest first; next page: --after {})",
            conflicts.len(),
            last.id
        );
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
        println!("{}", serde_json::to_string_pretty(&o)?);
        return Ok(ExitCode::SUCCESS);
    }
    let now = now_ms();
    let when = |t: Option<i64>| {
        t.map(|t| format!(" (changed {})", relative(t, now)))
            .unwrap_or_default()
    };
    println!(
        "conflict {} on field {} — {}",
        c.id,
        c.field,
        match c.status {
            ConflictStatus::Open => "open".to_string(),
            ConflictStatus::Resolved => "resolved".to_string(),
        }
    );
    println!(
        "link    #{} {} {}",
        c.link_id,
        o.link.as_deref().unwrap_or("(deleted)"),
        o.title
            .as_deref()
            .map(|t| format!("\"{t}\""))
            .unwrap_or_default()
    );
    println!("opened  {} ago", human_ms(now - c.created_at));
    println!("why     {}", c.kind.label());
    if let Some(note) = &c.note {
        println!("note    {note}");
    }
    println!("{}", full("base", &c.base, ""));
    println!("{}", full("portal", &c.portal, &when(c.portal_changed_at)));
    println!("{}", full("linear", &c.linear, &when(c.linear_changed_at)));
    if let Some(r) = &c.resolution {
        let chosen = match r {
            Resolution::Value(v) => full("value", v, ""),
            other => format!("took the {} value", other.as_str()),
        };
        println!(
            "decided {chosen}\n        by {} {}; {}",
            c.resolved_by.as_deref().unwrap_or("?"),
            c.resolved_at.map_or(String::new(), |t| relative(t, now)),
            match c.applied_at {
                Some(t) => format!("written by the engine {}", relative(t, now)),
                None => "not written by the engine yet".to_string(),
            }
        );
    } else {
        println!(
            "\nresolve with: roundtrip conflicts resolve {} --take portal|linear|base  (or --value TEXT)",
            c.id
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Turn `--value TEXT` into a value of the conflict's kind: label sets take
/// comma-separated names, numbers must parse, everything else is text.
fn typed_value(c: &Conflict, text: &str) -> Result<FieldValue, UsageError> {
    let kind_of = [&c.portal, &c.linear, &c.base]
        .into_iter()
        .find(|v| **v != FieldValue::Null);
    Ok(match kind_of {
        Some(FieldValue::Set(_)) => FieldValue::Set(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect::<BTreeSet<String>>(),
        ),
        Some(FieldValue::Number(_)) => FieldValue::Number(text.trim().parse().map_err(|_| {
            UsageError(format!(
                "--value '{text}' is not a whole number, which field '{}' holds",
                c.field
            ))
        })?),
        _ => FieldValue::Text(text.to_string()),
    })
}

fn resolve(a: &ResolveArgs) -> anyhow::Result<ExitCode> {
    let mut store = a.store.open(OpenMode::Existing)?;
    let mapping = super::mapping_cmd::active_mapping(store.db())?;
    let reason = match (a.take, &a.value) {
        (Some(t), _) => format!(
            "roundtrip conflicts resolve --take {}",
            match t {
                TakeArg::Portal => "portal",
                TakeArg::Linear => "linear",
                TakeArg::Base => "base",
            }
        ),
        (None, _) => "roundtrip conflicts resolve --value".to_string(),
    };
    let done = store.write(|db| -> anyhow::Result<Vec<(Conflict, FieldValue)>> {
        let mut done = Vec::new();
        for id in &a.ids {
            let Some(c) = db.conflict(*id)? else {
                bail!("conflict {id} does not exist; nothing was resolved");
            };
            if c.status == ConflictStatus::Resolved {
                bail!(
                    "conflict {id} is already resolved (took {}, by {}); nothing was resolved",
                    c.resolution.as_ref().map_or("?", Resolution::as_str),
                    c.resolved_by.as_deref().unwrap_or("?")
                );
            }
            let (resolution, chosen) = match (a.take, &a.value) {
                (Some(TakeArg::Portal), _) => (Resolution::Portal, c.portal.clone()),
                (Some(TakeArg::Linear), _) => (Resolution::Linear, c.linear.clone()),
                (Some(TakeArg::Base), _) => (Resolution::Base, c.base.clone()),
                (None, Some(text)) => {
                    let v = typed_value(&c, text)?;
                    (Resolution::Value(v.clone()), v)
                }
                (None, None) => bail!(UsageError("give --take or --value".into())),
            };
            if let Some(f) = mapping.as_ref().and_then(|m| m.field(&c.field)) {
                for side in [Side::Portal, Side::Linear] {
                    if f.direction.writes_to(side) && chosen != FieldValue::Null {
                        codec::write(f, side, &chosen).map_err(|why| {
                            UsageError(format!(
                                "conflict {id}: the chosen value cannot be written to {side}: {why}; nothing was resolved"
                            ))
                        })?;
                    }
                }
            }
            db.resolve_conflict(*id, &resolution, "operator")?;
            db.append_audit(&NewAudit {
                link_id: Some(c.link_id),
                actor: "operator".into(),
                action: "resolve".into(),
                side: None,
                field: Some(c.field.clone()),
                before: Some(format!(
                    "portal {} / linear {}",
                    c.portal.display_short(60),
                    c.linear.display_short(60)
                )),
                after: Some(chosen.display_short(120)),
                reason: reason.clone(),
            })?;
            done.push((c, chosen));
        }
        Ok(done)
    })?;
    for (c, chosen) in &done {
        println!(
            "resolved conflict {} ({} on link #{}): {}; the engine writes it to both sides",
            c.id,
            c.field,
            c.link_id,
            chosen.display_short(60)
        );
    }
    Ok(ExitCode::SUCCESS)
}
