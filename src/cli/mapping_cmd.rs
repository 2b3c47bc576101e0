//! `roundtrip mapping show|check|preview|apply|versions|rollback`: the field
//! mapping from the shell. Every document is checked with `Mapping::parse`
//! and against the default Canny/Linear catalog before it can be stored;
//! errors point at `FILE:LINE` so an editor can jump there. Applying and
//! rolling back are short transactions recorded in the audit log; the engine
//! reads the active version on its next pass.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::bail;
use serde::Serialize;

use super::table::{Table, iso, term_width, truncate};
use super::{StoreArgs, UsageError};
use crate::domain::{FieldValue, Side};
use crate::store::{Db, LinkState, NewAudit, OpenMode, Window, now_ms};
use crate::sync::{Catalog, Mapping, MappingErrors, PreviewAction, Snapshot, preview};

/// Links read per store query while previewing.
const PREVIEW_PAGE: usize = 200;

/// Subcommands of `roundtrip mapping`.
#[derive(Debug, clap::Subcommand)]
pub enum MappingCommand {
    /// Print the active mapping document (or an earlier version).
    #[command(disable_version_flag = true)]
    Show {
        /// Which store to read.
        #[command(flatten)]
        store: StoreArgs,
        /// Print this stored version instead of the active one.
        #[arg(long, value_name = "N")]
        version: Option<i64>,
    },
    /// Validate a mapping file (or, without FILE, the active mapping); exit 2 when invalid.
    Check {
        /// Which store to read when no FILE is given.
        #[command(flatten)]
        store: StoreArgs,
        /// The mapping document to check.
        file: Option<PathBuf>,
    },
    /// Dry run: what a mapping (FILE, or the active one) would change on every linked record.
    Preview {
        /// Which store to read.
        #[command(flatten)]
        store: StoreArgs,
        /// The candidate mapping document.
        file: Option<PathBuf>,
        /// Most changes to print (all are counted).
        #[arg(long, value_name = "N", default_value_t = 50)]
        limit: usize,
        /// Print stable JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Validate FILE and store it as the new active mapping version.
    Apply {
        /// Which store to change.
        #[command(flatten)]
        store: StoreArgs,
        /// The mapping document to apply.
        file: PathBuf,
        /// Why, kept with the version (default: "applied from FILE").
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
    },
    /// List stored mapping versions, newest first.
    Versions {
        /// Which store to read.
        #[command(flatten)]
        store: StoreArgs,
        /// Print stable JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Make an earlier stored version active again.
    Rollback {
        /// Which store to change.
        #[command(flatten)]
        store: StoreArgs,
        /// The version to activate.
        #[arg(value_name = "VERSION")]
        to: i64,
    },
}

/// Run a `mapping` subcommand.
pub fn run(cmd: &MappingCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        MappingCommand::Show { store, version } => show(store, *version),
        MappingCommand::Check { store, file } => check(store, file.as_deref()),
        MappingCommand::Preview {
            store,
            file,
            limit,
            json,
        } => preview_cmd(store, file.as_deref(), *limit, *json),
        MappingCommand::Apply { store, file, note } => apply(store, file, note.as_deref()),
        MappingCommand::Versions { store, json } => versions(store, *json),
        MappingCommand::Rollback { store, to } => rollback(store, *to),
    }
}

/// A mapping document and the name its errors are reported under.
struct Doc {
    /// "mapping.toml", "store mapping v3" or "default mapping".
    name: String,
    text: String,
}

fn read_file(path: &Path) -> anyhow::Result<Doc> {
    let text = crate::files::read_capped(path, crate::files::MAX_MAPPING_BYTES, "mapping file")
        .map_err(|e| UsageError(format!("cannot read mapping file {}: {e}", path.display())))?;
    Ok(Doc {
        name: path.display().to_string(),
        text,
    })
}

/// The active stored document, or the built-in default when the store has
/// none yet (the engine syncs with the default until one is applied).
fn active_doc(db: Db<'_>) -> anyhow::Result<Doc> {
    Ok(match db.active_mapping()? {
        Some(v) => Doc {
            name: format!("store mapping v{}", v.version),
            text: v.document,
        },
        None => Doc {
            name: "default mapping".into(),
            text: Mapping::default_canny_linear().to_toml(),
        },
    })
}

/// Parse and check a document against the default catalog plus the custom
/// portal statuses seen in `db` (when there is a store).
fn validate_in(db: Option<Db<'_>>, text: &str) -> Result<Mapping, MappingErrors> {
    let seen = db
        .and_then(|db| db.portal_statuses_seen().ok())
        .unwrap_or_default();
    let m = Mapping::parse(text)?;
    m.validate_against(&Catalog::canny_linear_default().with_custom_statuses(&seen))?;
    Ok(m)
}

/// [`validate_in`] with the store `args` name, if it can be opened.
fn validate(store: &StoreArgs, text: &str) -> Result<Mapping, MappingErrors> {
    let opened = store.open(OpenMode::ReadOnly).ok();
    validate_in(opened.as_ref().map(|s| s.db()), text)
}

/// Print each error as `FILE:LINE: message` on stderr.
fn report(name: &str, errors: &MappingErrors) {
    for e in errors.errors() {
        match e.line {
            Some(line) => eprintln!("{name}:{line}: {}", e.message),
            None => eprintln!("{name}: {}", e.message),
        }
    }
}

/// The active mapping, parsed, for commands that act on its fields
/// (`conflicts resolve` checks a chosen value fits). `None` when the stored
/// document does not parse: the engine reports that itself.
pub(super) fn active_mapping(db: Db<'_>) -> anyhow::Result<Option<Mapping>> {
    Ok(Mapping::parse(&active_doc(db)?.text).ok())
}

fn show(store: &StoreArgs, version: Option<i64>) -> anyhow::Result<ExitCode> {
    let store = store.open(OpenMode::ReadOnly)?;
    let db = store.db();
    let v = match version {
        Some(n) => match db.mapping_version(n)? {
            Some(v) => v,
            None => bail!("mapping version {n} does not exist (see `roundtrip mapping versions`)"),
        },
        None => match db.active_mapping()? {
            Some(v) => v,
            None => {
                eprintln!(
                    "no mapping stored yet; this is the built-in default roundtrip syncs with"
                );
                print!("{}", Mapping::default_canny_linear().to_toml());
                return Ok(ExitCode::SUCCESS);
            }
        },
    };
    eprintln!(
        "mapping version {}{} — {} by {}, {}",
        v.version,
        if v.active { " (active)" } else { "" },
        if v.note.is_empty() {
            "no note"
        } else {
            &v.note
        },
        v.created_by,
        iso(v.created_at)
    );
    print!("{}", v.document);
    if !v.document.ends_with('\n') {
        println!();
    }
    Ok(ExitCode::SUCCESS)
}

fn check(store: &StoreArgs, file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let doc = match file {
        Some(f) => read_file(f)?,
        None => active_doc(store.open(OpenMode::ReadOnly)?.db())?,
    };
    match validate(store, &doc.text) {
        Ok(m) => {
            println!(
                "{}: ok (document version {}, {} fields)",
                doc.name,
                m.version,
                m.fields.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            report(&doc.name, &errors);
            Ok(ExitCode::from(2))
        }
    }
}

/// One change in `mapping preview --json`. Field names are a stable contract.
#[derive(Debug, Serialize)]
struct ChangeOut {
    link_id: i64,
    link: String,
    title: String,
    field: String,
    /// "write" or "conflict".
    action: &'static str,
    /// The side written ("portal" or "linear"); null for conflicts.
    side: Option<Side>,
    /// Current value on the written side (the portal's value for conflicts).
    from: FieldValue,
    /// Value written (Linear's value for conflicts).
    to: FieldValue,
}

/// `mapping preview --json`.
#[derive(Debug, Serialize)]
struct PreviewOut {
    mapping: String,
    links_examined: usize,
    links_skipped: usize,
    links_changed: usize,
    changes_total: usize,
    changes: Vec<ChangeOut>,
}

fn preview_cmd(
    store: &StoreArgs,
    file: Option<&Path>,
    limit: usize,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let store = store.open(OpenMode::ReadOnly)?;
    let db = store.db();
    let doc = match file {
        Some(f) => read_file(f)?,
        None => active_doc(db)?,
    };
    let mapping = match validate_in(Some(db), &doc.text) {
        Ok(m) => m,
        Err(errors) => {
            report(&doc.name, &errors);
            return Ok(ExitCode::from(2));
        }
    };
    let now = chrono::Utc::now();
    let mut out = PreviewOut {
        mapping: doc.name,
        links_examined: 0,
        links_skipped: 0,
        links_changed: 0,
        changes_total: 0,
        changes: Vec::new(),
    };
    let mut window = Window::first(PREVIEW_PAGE);
    loop {
        let page = db.link_mirrors(window)?;
        let Some(last) = page.last() else { break };
        window = window.after(last.link.id);
        for m in &page {
            out.links_examined += 1;
            let (Some(p), Some(l)) = (&m.portal, &m.linear) else {
                out.links_skipped += 1;
                continue;
            };
            if m.link.state != LinkState::Active || p.deleted_at.is_some() || l.deleted_at.is_some()
            {
                out.links_skipped += 1;
                continue;
            }
            let input: [(Snapshot, _, _); 1] =
                [(m.link.base.clone(), p.record.clone(), l.record.clone())];
            for lp in preview(&mapping, &input, now) {
                if lp.rows.is_empty() {
                    continue;
                }
                out.links_changed += 1;
                for row in lp.rows {
                    out.changes_total += 1;
                    if out.changes.len() >= limit {
                        continue;
                    }
                    let (action, side) = match row.action {
                        PreviewAction::Write(s) => ("write", Some(s)),
                        PreviewAction::Conflict => ("conflict", None),
                    };
                    out.changes.push(ChangeOut {
                        link_id: m.link.id,
                        link: row.link,
                        title: m.link.title.clone(),
                        field: row.field,
                        action,
                        side,
                        from: row.from,
                        to: row.to,
                    });
                }
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    let width = term_width();
    for c in &out.changes {
        let line = match c.side {
            Some(side) => format!(
                "#{} {} · {} on {side}: {} → {}",
                c.link_id,
                c.link,
                c.field,
                short(&c.from),
                short(&c.to)
            ),
            None => format!(
                "#{} {} · {}: conflict (portal {} vs Linear {})",
                c.link_id,
                c.link,
                c.field,
                short(&c.from),
                short(&c.to)
            ),
        };
        println!("{}", truncate(&line, width));
    }
    if out.changes_total > out.changes.len() {
        println!(
            "… and {} more (raise --limit to see them)",
            out.changes_total - out.changes.len()
        );
    }
    println!(
        "{}: {} change{} on {} of {} links{}",
        out.mapping,
        out.changes_total,
        if out.changes_total == 1 { "" } else { "s" },
        out.links_changed,
        out.links_examined,
        if out.links_skipped > 0 {
            format!(
                " ({} skipped: not active, deleted, or not yet seen on both sides)",
                out.links_skipped
            )
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}

fn short(v: &FieldValue) -> String {
    match v {
        FieldValue::Text(_) => format!("'{}'", v.display_short(40)),
        _ => v.display_short(40),
    }
}

fn apply(store: &StoreArgs, file: &Path, note: Option<&str>) -> anyhow::Result<ExitCode> {
    let doc = read_file(file)?;
    let mapping = match validate(store, &doc.text) {
        Ok(m) => m,
        Err(errors) => {
            report(&doc.name, &errors);
            eprintln!("{}: not applied; nothing was stored", doc.name);
            return Ok(ExitCode::from(2));
        }
    };
    let note = note.map_or_else(|| format!("applied from {}", doc.name), str::to_string);
    let mut store = store.open(OpenMode::Existing)?;
    let outcome = store.write(|db| -> anyhow::Result<Result<i64, i64>> {
        let previous = db.active_mapping()?;
        if let Some(p) = &previous
            && p.document == doc.text
        {
            return Ok(Err(p.version));
        }
        let v = db.add_mapping_version(&doc.text, "operator", &note)?;
        db.append_audit(&NewAudit {
            actor: "operator".into(),
            action: "mapping".into(),
            before: Some(previous.map_or("default".into(), |p| format!("v{}", p.version))),
            after: Some(format!("v{v}")),
            reason: format!("roundtrip mapping apply {}: {note}", doc.name),
            ..NewAudit::default()
        })?;
        Ok(Ok(v))
    })?;
    match outcome {
        Ok(v) => println!(
            "applied {} as mapping version {v} (document version {}, {} fields); the engine uses it from its next pass",
            doc.name,
            mapping.version,
            mapping.fields.len()
        ),
        Err(active) => {
            println!(
                "{} is identical to the active version {active}; nothing stored",
                doc.name
            )
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One row of `mapping versions --json`.
#[derive(Debug, Serialize)]
struct VersionOut {
    version: i64,
    active: bool,
    note: String,
    created_by: String,
    created_at: String,
}

fn versions(store: &StoreArgs, json: bool) -> anyhow::Result<ExitCode> {
    let store = store.open(OpenMode::ReadOnly)?;
    let all = store.db().mapping_versions()?;
    if json {
        let out: Vec<VersionOut> = all
            .iter()
            .map(|v| VersionOut {
                version: v.version,
                active: v.active,
                note: v.note.clone(),
                created_by: v.created_by.clone(),
                created_at: iso(v.created_at),
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    if all.is_empty() {
        println!("no mapping stored yet; roundtrip syncs with the built-in default");
        return Ok(ExitCode::SUCCESS);
    }
    let now = now_ms();
    let mut t = Table::new(&["VERSION", "ACTIVE", "BY", "AGE", "NOTE"]);
    for v in &all {
        t.row(vec![
            v.version.to_string(),
            if v.active { "*".into() } else { String::new() },
            v.created_by.clone(),
            crate::health::human_ms(now - v.created_at),
            v.note.clone(),
        ]);
    }
    print!("{}", t.render(term_width()));
    Ok(ExitCode::SUCCESS)
}

fn rollback(store: &StoreArgs, version: i64) -> anyhow::Result<ExitCode> {
    let mut store = store.open(OpenMode::Existing)?;
    // None: already active; Some(previous active version, if any).
    let outcome = store.write(|db| -> anyhow::Result<Option<Option<i64>>> {
        let Some(target) = db.mapping_version(version)? else {
            bail!("mapping version {version} does not exist (see `roundtrip mapping versions`)");
        };
        let current = db.active_mapping()?;
        if target.active {
            return Ok(None);
        }
        if let Err(errors) = validate_in(Some(db), &target.document) {
            bail!("mapping version {version} no longer validates, not activated: {errors}");
        }
        db.activate_mapping_version(version)?;
        db.append_audit(&NewAudit {
            actor: "operator".into(),
            action: "rollback".into(),
            before: current.as_ref().map(|c| format!("v{}", c.version)),
            after: Some(format!("v{version}")),
            reason: format!("roundtrip mapping rollback {version}"),
            ..NewAudit::default()
        })?;
        Ok(Some(current.map(|c| c.version)))
    })?;
    match outcome {
        None => println!("mapping version {version} is already active; nothing changed"),
        Some(Some(from)) => println!("mapping version {version} is active again (was {from})"),
        Some(None) => println!("mapping version {version} is active again"),
    }
    Ok(ExitCode::SUCCESS)
}
