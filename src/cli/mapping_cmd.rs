//! `roundtrip mapping show|check|preview|apply|versions|rollback`: the field
//! mapping from the shell. Every document is checked with `Mapping::parse`
//! and against the default catalog of its portal (`--config`'s `[portal]
//! kind`, else the store's; Canny's when neither says) plus the custom
//! statuses seen on the store's posts, before it can be stored;
//! errors point at `FILE:LINE` so an editor can jump there. Applying and
//! rolling back are short transactions recorded in the audit log; the engine
//! reads the active version on its next pass.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::bail;
use serde::Serialize;

use super::out::{self, outln};
use super::table::{Fit, Table, WideArg, iso, truncate};
use super::{StoreArgs, UsageError};
use crate::ops::{self, mapping::DryRun};
use crate::store::{Db, MappingVersion, OpenMode, now_ms};
use crate::sync::{Mapping, MappingErrors};

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
        /// Column width.
        #[command(flatten)]
        wide: WideArg,
    },
    /// Validate FILE and store it as the new active mapping version (its `version`
    /// key is set to the number it is stored as).
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
    /// List stored mapping versions, newest first: the active one (the version the
    /// engine runs) and any the engine refused, with the reason.
    Versions {
        /// Which store to read.
        #[command(flatten)]
        store: StoreArgs,
        /// Print stable JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Column width.
        #[command(flatten)]
        wide: WideArg,
    },
    /// Make an earlier stored version active again (refused when it does not exist,
    /// no longer validates or was refused by the engine).
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
            wide,
        } => preview_cmd(store, file.as_deref(), *limit, *json, *wide),
        MappingCommand::Apply { store, file, note } => apply(store, file, note.as_deref()),
        MappingCommand::Versions { store, json, wide } => versions(store, *json, *wide),
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
    let (version, text) = ops::mapping::active_document(db)?;
    Ok(Doc {
        name: version.map_or("default mapping".into(), |v| {
            format!("store mapping v{}", v.version)
        }),
        text,
    })
}

/// The portal `--config` names, if a config is given and loads.
fn configured_portal(store: &StoreArgs) -> Option<crate::domain::PortalKind> {
    store.load_config().ok().flatten().map(|c| c.portal.kind)
}

/// [`ops::mapping::validate`] with the store `args` name, if it can be
/// opened (its posts tell which custom portal statuses exist), for the
/// portal `kind` (else the one the store has synced).
fn validate(
    store: &StoreArgs,
    kind: Option<crate::domain::PortalKind>,
    text: &str,
) -> Result<Mapping, MappingErrors> {
    let opened = store.open(OpenMode::ReadOnly).ok();
    ops::mapping::validate_as(opened.as_ref().map(|s| s.db()), kind, text)
}

/// Print each error as `FILE:LINE: message` on stderr.
fn report(name: &str, errors: &MappingErrors) {
    for e in errors.errors() {
        match e.line {
            Some(line) => out::err_line(&format!("{name}:{line}: {}", e.message)),
            None => out::err_line(&format!("{name}: {}", e.message)),
        }
    }
}

/// "active", "refused: why" or "" for one version.
fn state_words(v: &MappingVersion) -> String {
    match (&v.refused_reason, v.active) {
        (Some(why), _) => format!("refused: {why}"),
        (None, true) => "active".into(),
        (None, false) => String::new(),
    }
}

/// Tell the operator about a refused version they have not answered yet.
fn note_refusal(db: Db<'_>) -> anyhow::Result<()> {
    if let Some(r) = db.refused_mapping()? {
        out::err_line(&format!(
            "note: mapping version {} was refused by the engine ({}); fix it and apply a new version, or roll back",
            r.version, r.reason
        ));
    }
    Ok(())
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
                out::err_line(
                    "no mapping stored yet; this is the built-in default roundtrip syncs with",
                );
                out::text(&Mapping::default_for(db.portal_kind()?).to_toml())?;
                return Ok(ExitCode::SUCCESS);
            }
        },
    };
    let state = state_words(&v);
    out::err_line(&format!(
        "mapping version {}{} — {} by {}, {}",
        v.version,
        if state.is_empty() {
            String::new()
        } else {
            format!(" ({state})")
        },
        if v.note.is_empty() {
            "no note"
        } else {
            &v.note
        },
        v.created_by,
        iso(v.created_at)
    ));
    out::text(&v.document)?;
    if !v.document.ends_with('\n') {
        outln!()?;
    }
    note_refusal(db)?;
    Ok(ExitCode::SUCCESS)
}

fn check(store: &StoreArgs, file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let doc = match file {
        Some(f) => read_file(f)?,
        None => active_doc(store.open(OpenMode::ReadOnly)?.db())?,
    };
    match validate(store, configured_portal(store), &doc.text) {
        Ok(m) => {
            outln!(
                "{}: ok (document version {}, {} fields)",
                doc.name,
                m.version,
                m.fields.len()
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            report(&doc.name, &errors);
            Ok(ExitCode::from(2))
        }
    }
}

/// `mapping preview --json`: which document, and the dry run.
#[derive(Debug, Serialize)]
struct PreviewOut {
    mapping: String,
    #[serde(flatten)]
    run: DryRun,
    /// Per post, the route that takes it and why (mappings with routes).
    #[serde(skip_serializing_if = "Option::is_none")]
    routes: Option<ops::route_preview::RoutePreview>,
}

fn preview_cmd(
    store: &StoreArgs,
    file: Option<&Path>,
    limit: usize,
    json: bool,
    wide: WideArg,
) -> anyhow::Result<ExitCode> {
    let store = store.open(OpenMode::ReadOnly)?;
    let db = store.db();
    let doc = match file {
        Some(f) => read_file(f)?,
        None => active_doc(db)?,
    };
    let mapping = match ops::mapping::validate(Some(db), &doc.text) {
        Ok(m) => m,
        Err(errors) => {
            report(&doc.name, &errors);
            return Ok(ExitCode::from(2));
        }
    };
    let out = PreviewOut {
        mapping: doc.name,
        run: ops::mapping::dry_run(db, &mapping, limit)?,
        routes: ops::route_preview::route_preview(db, &mapping, limit)?,
    };
    if json {
        outln!("{}", serde_json::to_string_pretty(&out)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let width = wide.width().chars();
    for c in &out.run.changes {
        let line = format!("#{} {}", c.link_id, c.describe());
        outln!("{}", truncate(&line, width))?;
    }
    if out.run.changes_total > out.run.changes.len() {
        outln!(
            "… and {} more (raise --limit to see them)",
            out.run.changes_total - out.run.changes.len()
        )?;
    }
    outln!("{}: {}", out.mapping, out.run.summary())?;
    if let Some(routes) = &out.routes {
        for r in &routes.rows {
            outln!("{}", truncate(&r.describe(), width))?;
        }
        if routes.posts_examined > routes.rows.len() {
            outln!(
                "… and {} more posts (raise --limit to see them)",
                routes.posts_examined - routes.rows.len()
            )?;
        }
        outln!("{}: routes: {}", out.mapping, routes.summary())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn apply(store: &StoreArgs, file: &Path, note: Option<&str>) -> anyhow::Result<ExitCode> {
    let doc = read_file(file)?;
    let configured = configured_portal(store);
    if let Err(errors) = validate(store, configured, &doc.text) {
        report(&doc.name, &errors);
        out::err_line(&format!("{}: not applied; nothing was stored", doc.name));
        return Ok(ExitCode::from(2));
    }
    let note = note.map_or_else(|| format!("applied from {}", doc.name), str::to_string);
    let location = store.location()?;
    let mut store = store.open(OpenMode::Existing)?;
    if let Some(kind) = configured {
        let stored = store.write(|db| db.claim_portal_kind(kind))?;
        if stored != kind {
            out::err_line(&format!(
                "{}: syncs {} but the config names {}; not applied (use a new store for another portal)",
                location,
                stored.display_name(),
                kind.display_name()
            ));
            return Ok(ExitCode::from(2));
        }
    }
    let report = store.write(|db| ops::mapping::apply(db, &doc.text, &note))?;
    out::report(&report, false)
}

/// One row of `mapping versions --json`. `active` is the version the engine
/// runs; `state` is "active", "refused" or "inactive".
#[derive(Debug, Serialize)]
struct VersionOut {
    version: i64,
    active: bool,
    state: &'static str,
    refused_reason: Option<String>,
    note: String,
    created_by: crate::domain::Actor,
    created_at: String,
}

fn versions(store: &StoreArgs, json: bool, wide: WideArg) -> anyhow::Result<ExitCode> {
    let store = store.open(OpenMode::ReadOnly)?;
    let all = store.db().mapping_versions()?;
    if json {
        let out: Vec<VersionOut> = all
            .iter()
            .map(|v| VersionOut {
                version: v.version,
                active: v.active,
                state: match (&v.refused_reason, v.active) {
                    (Some(_), _) => "refused",
                    (None, true) => "active",
                    (None, false) => "inactive",
                },
                refused_reason: v.refused_reason.clone(),
                note: v.note.clone(),
                created_by: v.created_by,
                created_at: iso(v.created_at),
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&out)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if all.is_empty() {
        outln!("no mapping stored yet; roundtrip syncs with the built-in default")?;
        return Ok(ExitCode::SUCCESS);
    }
    let now = now_ms();
    let mut t = Table::new(&[
        ("VERSION", Fit::Keep),
        ("STATE", Fit::Shrink),
        ("BY", Fit::Keep),
        ("AGE", Fit::Keep),
        ("NOTE", Fit::Shrink),
    ]);
    for v in &all {
        t.row(vec![
            v.version.to_string(),
            state_words(v),
            v.created_by.to_string(),
            crate::health::human_ms(now - v.created_at),
            v.note.clone(),
        ]);
    }
    out::text(&t.render(wide.width()))?;
    note_refusal(store.db())?;
    Ok(ExitCode::SUCCESS)
}

fn rollback(store: &StoreArgs, version: i64) -> anyhow::Result<ExitCode> {
    let mut store = store.open(OpenMode::Existing)?;
    let report = store.write(|db| ops::mapping::rollback(db, version))?;
    out::report(&report, false)
}
