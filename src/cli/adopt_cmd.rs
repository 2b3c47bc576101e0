//! `roundtrip adopt -c roundtrip.toml [--dry-run] [--json]`: link the pairs
//! that already exist before roundtrip syncs them — posts Canny's own Linear
//! integration linked (`linear.linkedIssueIDs`) and Linear issues carrying a
//! post's URL as an attachment — so they are never re-created. Reads both
//! sides through the APIs; `--dry-run` prints what it would link and why,
//! changing nothing. The engine does the same on its first start.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use serde_json::json;

use crate::config::Config;
use crate::connector::linear::{LinearConfig, LinearConnector};
use crate::domain::Side;
use crate::engine::Connectors;
use crate::engine::adopt::{link_pair, plan_live};
use crate::engine::link_sync::MergeSettings;
use crate::store::{OpenMode, Store, StoreError};
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

fn print(plan: &AdoptPlan, linked: Option<usize>, json_out: bool) {
    if json_out {
        println!(
            "{}",
            json!({ "pairs": plan.pairs, "skipped": plan.skipped, "linked": linked })
        );
        return;
    }
    let verb = if linked.is_some() {
        "linked"
    } else {
        "would link"
    };
    for p in &plan.pairs {
        let why: Vec<String> = p.reasons.iter().map(|r| r.describe()).collect();
        println!(
            "{verb} post {} ('{}') ↔ {}: {}",
            p.portal_id,
            p.title,
            p.linear_key.as_deref().unwrap_or(&p.linear_id),
            why.join("; ")
        );
    }
    for s in &plan.skipped {
        println!("left alone: {} {}: {}", s.side, s.remote_id, s.why);
    }
    match linked {
        Some(n) => println!("{n} of {} pairs linked", plan.pairs.len()),
        None => println!(
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
    let path = config
        .store_path()
        .or_else(crate::config::default_store_path)
        .ok_or_else(|| {
            super::UsageError("no home directory for the default store; set [store] path".into())
        })?;
    let mode = if args.dry_run {
        OpenMode::ReadOnly
    } else {
        OpenMode::Create
    };
    let mut store = match Store::open(&path, mode) {
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
    let canny = super::run_cmd::canny_connector(&config, &secrets)?;
    let connectors = Connectors {
        linear: Arc::new(linear),
        portal: Arc::new(canny),
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
        print(&plan, None, args.json);
        return Ok(ExitCode::SUCCESS);
    };
    let mapping = match store.db().active_mapping()? {
        Some(m) => Mapping::parse(&m.document)
            .map_err(|e| anyhow::anyhow!("the active mapping does not parse: {e}"))?,
        None => Mapping::default_canny_linear(),
    };
    let merge = MergeSettings {
        mapping,
        portal_name: "Canny".into(),
        guard: PingPongGuard::default(),
        max_attempts: i64::from(config.sync.max_attempts),
    };
    let now = chrono::Utc::now();
    let linked = store.write(|db| {
        let mut n = 0;
        for pair in &plan.pairs {
            for r in posts.iter().filter(|p| p.remote_id == pair.portal_id) {
                db.upsert_record(Side::Portal, r)?;
            }
            for r in issues.iter().filter(|i| i.remote_id == pair.linear_id) {
                db.upsert_record(Side::Linear, r)?;
            }
            if link_pair(db, &merge, pair, now)?.is_some() {
                n += 1;
            }
        }
        Ok::<_, StoreError>(n)
    })?;
    print(&plan, Some(linked), args.json);
    Ok(ExitCode::SUCCESS)
}
