//! `roundtrip adopt -c roundtrip.toml [--dry-run] [--json]`: link the pairs
//! that already exist before roundtrip syncs them — posts Canny's own Linear
//! integration linked (`linear.linkedIssueIDs`) and Linear issues carrying a
//! post's URL as an attachment — so they are never re-created. Reads both
//! sides through the APIs; `--dry-run` prints what it would link and why,
//! changing nothing; linking is the operator action `ops::adopt` (audited
//! as the operator). The engine does the same on its first start.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use serde_json::json;

use super::out::{self, outln};
use crate::config::Config;
use crate::connector::linear::{LinearConfig, LinearConnector};
use crate::domain::Side;
use crate::engine::Connectors;
use crate::engine::adopt::plan_live;
use crate::engine::link_sync::MergeSettings;
use crate::ops::{self, Report};
use crate::store::{OpenMode, StoreError};
use crate::sync::{AdoptPlan, Mapping, PingPongGuard};

/// Arguments of `roundtrip adopt`.
#[derive(Debug, clap::Args)]
pub struct AdoptArgs {
    /// The configuration file (connectors and store).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: std::path::PathBuf,
    /// Only print what would be linked and why; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the plan as JSON (`pairs`, `skipped`, `linked`).
    #[arg(long)]
    pub json: bool,
}

/// The plan (a dry run) or what was done, as text or JSON (`pairs`,
/// `skipped`, `linked`: a count, null on a dry run, and `refused`).
fn print(plan: &AdoptPlan, done: Option<&Report>, json_out: bool) -> anyhow::Result<()> {
    if json_out {
        let linked = done.map(|r| r.changed.len());
        let refused = done.map_or(&[][..], |r| &r.refused[..]);
        return outln!(
            "{}",
            json!({ "pairs": plan.pairs, "skipped": plan.skipped, "linked": linked, "refused": refused })
        );
    }
    match done {
        Some(r) => {
            for c in &r.changed {
                outln!("{c}")?;
            }
        }
        None => {
            for p in &plan.pairs {
                outln!(
                    "would link post {} ('{}') ↔ {}: {}",
                    p.portal_id,
                    p.title,
                    p.linear_key.as_deref().unwrap_or(&p.linear_id),
                    p.why()
                )?;
            }
        }
    }
    for s in &plan.skipped {
        outln!("left alone: {} {}: {}", s.side, s.remote_id, s.why)?;
    }
    match done {
        Some(r) => {
            outln!("{}", r.headline)?;
            for refusal in &r.refused {
                out::err_line(&format!("roundtrip: {refusal}"));
            }
            Ok(())
        }
        None => outln!(
            "{} pairs would be linked, {} candidates left alone (dry run: nothing changed)",
            plan.pairs.len(),
            plan.skipped.len()
        ),
    }
}

/// Plan, print and (unless `--dry-run`) apply.
pub fn run(args: &AdoptArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config)?;
    let secrets = config.secrets()?;
    let location = match config.store_location()? {
        Some(location) => location,
        None => crate::store::StoreLocation::File(crate::config::default_store_path().ok_or_else(
            || {
                super::UsageError(
                    "no home directory for the default store; set [store] path".into(),
                )
            },
        )?),
    };
    let mode = if args.dry_run {
        OpenMode::ReadOnly
    } else {
        OpenMode::Create
    };
    let mut store = match location.open(mode) {
        Ok(s) => Some(s),
        // A dry run before the first start has no store yet: nothing is linked.
        Err(StoreError::Missing(_)) if args.dry_run => None,
        Err(e) => return Err(e.into()),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let linear_cfg =
        LinearConfig::from_app(&config, &secrets).map_err(|e| super::UsageError(e.to_string()))?;
    let linear =
        LinearConnector::new(linear_cfg).map_err(|e| anyhow::anyhow!("Linear connector: {e}"))?;
    let portal = super::portal::Portal::from_config(&config, &secrets)?;
    let connectors = Connectors {
        linear: Arc::new(linear),
        portal: portal.connector(),
    };
    let linked = |side: Side, id: &str| {
        store
            .as_ref()
            .and_then(|s| s.db().link_by_remote(side, id).ok().flatten())
            .is_some()
    };
    let (plan, posts, issues) = rt
        .block_on(plan_live(&connectors, linked))
        .map_err(|e| anyhow::anyhow!("reading the portal and Linear failed: {e}"))?;
    let Some(store) = store.as_mut().filter(|_| !args.dry_run) else {
        print(&plan, None, args.json)?;
        return Ok(ExitCode::SUCCESS);
    };
    let mapping = match store.db().active_mapping()? {
        Some(m) => Mapping::parse(&m.document)
            .map_err(|e| anyhow::anyhow!("the active mapping does not parse: {e}"))?,
        None => Mapping::default_for(config.portal.kind),
    };
    let merge = MergeSettings {
        mapping,
        portal_name: config.portal.kind.display_name().into(),
        guard: PingPongGuard::default(),
        max_attempts: i64::from(config.sync.max_attempts),
    };
    let now = chrono::Utc::now();
    let report = store.write(|db| ops::adopt::adopt(db, &merge, &plan, &posts, &issues, now))?;
    print(&plan, Some(&report), args.json)?;
    Ok(ExitCode::from(report.exit_code()))
}
