//! Fill a store to "big installation" size so anyone can check the console's
//! performance targets (DESIGN.md P4):
//!
//! ```text
//! cargo run --release --example fill_store -- --db /tmp/big.db
//! cargo run --release -- console --db /tmp/big.db --bench-frames 2000
//! ```
//!
//! Defaults: 1,000,000 links, 200,000 jobs, 10,000 open conflicts, plus some
//! audit entries, events, quota readings and a mapping. Everything goes in one
//! transaction through the store's bulk API (prepared statements).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a failed setup step should stop with its message

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use roundtrip::domain::{ErrorClass, FieldValue, JobStatus, QuotaSample, Side};
use roundtrip::store::{
    Level, NewAudit, OpenMode, SeedConflict, SeedJob, SeedLink, Store, StoreError, from_ms,
    meta_keys, now_ms,
};

struct Args {
    db: PathBuf,
    links: i64,
    jobs: i64,
    conflicts: i64,
}

fn parse() -> anyhow::Result<Args> {
    let mut a = Args {
        db: PathBuf::from("roundtrip-big.db"),
        links: 1_000_000,
        jobs: 200_000,
        conflicts: 10_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let val = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--db" => a.db = PathBuf::from(val),
            "--links" => a.links = val.parse()?,
            "--jobs" => a.jobs = val.parse()?,
            "--conflicts" => a.conflicts = val.parse()?,
            other => bail!("unknown flag {other} (use --db, --links, --jobs, --conflicts)"),
        }
    }
    if a.conflicts > a.links {
        bail!("--conflicts cannot exceed --links (one open conflict per link and field)");
    }
    Ok(a)
}

const WORDS: &[&str] = &[
    "dark", "mode", "export", "csv", "sso", "okta", "bulk", "tags", "slack", "webhooks", "mobile",
    "offline", "search", "filters", "api", "rate", "limits", "billing", "invoices", "roles",
];

fn title(i: i64) -> String {
    let w = |k: i64| WORDS[((i * 7 + k * 13) % WORDS.len() as i64) as usize];
    format!("{} {} {} #{i}", w(0), w(1), w(2))
}

fn main() -> anyhow::Result<()> {
    let args = parse()?;
    if args.db.exists() {
        bail!("{} exists; pick a new path", args.db.display());
    }
    let t = Instant::now();
    let mut store = Store::open(&args.db, OpenMode::Create)?;
    let now = now_ms();
    store.write(|db| -> Result<(), StoreError> {
        db.bulk_links((1..=args.links).map(|i| {
            let t = title(i);
            let mut base = BTreeMap::new();
            base.insert("title".to_string(), FieldValue::Text(t.clone()));
            base.insert("status".to_string(), FieldValue::Text("planned".into()));
            SeedLink {
                portal_id: Some(format!("p{i:07}")),
                linear_id: Some(format!("ENG-{i}")),
                title: t,
                base,
                at: now - (args.links - i) * 1_000,
            }
        }))?;
        db.bulk_jobs((1..=args.jobs).map(|i| {
            let (status, class) = match i % 20 {
                0 => (JobStatus::Failed, Some(ErrorClass::Validation)),
                1 => (JobStatus::Failed, Some(ErrorClass::RateLimited)),
                2 => (JobStatus::Dead, Some(ErrorClass::Server)),
                3..=5 => (JobStatus::Queued, None),
                _ => (JobStatus::Succeeded, None),
            };
            SeedJob {
                link_id: Some(i % args.links.max(1) + 1),
                target: if i % 2 == 0 { Side::Linear } else { Side::Portal },
                kind: roundtrip::domain::JobKind::Update,
                status,
                attempts: if class.is_some() { 3 } else { 1 },
                error_class: class,
                last_error: class.map(|c| format!("{c}: simulated failure")),
                http_status: class.map(|_| 500),
                next_run_at: now + i,
                created_at: now - (args.jobs - i) * 100,
            }
        }))?;
        db.bulk_conflicts((1..=args.conflicts).map(|i| SeedConflict {
            link_id: i,
            field: "title".into(),
            base: FieldValue::Text(title(i)),
            portal: FieldValue::Text(format!("{} (portal edit)", title(i))),
            linear: FieldValue::Text(format!("{} (Linear edit)", title(i))),
            portal_changed_at: Some(now - 3_600_000),
            linear_changed_at: Some(now - 1_800_000),
            created_at: now - (args.conflicts - i) * 10,
        }))?;
        let audit: Vec<(i64, NewAudit)> = (0..20_000)
            .map(|k| {
                (
                    now - k * 90,
                    NewAudit {
                        link_id: Some(k % args.links.max(1) + 1),
                        actor: roundtrip::domain::Actor::Engine,
                        action: roundtrip::domain::AuditAction::Write,
                        side: Some(Side::Linear),
                        field: Some("status".into()),
                        before: Some("planned".into()),
                        after: Some("in progress".into()),
                        reason: "portal changed status".into(),
                    },
                )
            })
            .collect();
        db.bulk_audit(&audit)?;
        let events: Vec<(i64, Level, &str, &str)> = (0..10_000)
            .map(|k| (now - k * 500, [Level::Info, Level::Warn, Level::Error][(k % 3) as usize], "engine", "simulated event"))
            .collect();
        db.bulk_events(&events)?;
        for k in 0..60 {
            db.record_quota(&QuotaSample {
                connector: Side::Linear,
                kind: roundtrip::domain::QuotaKind::Requests,
                limit: 1500,
                remaining: 1500 - k * 10,
                reset_at: Some(from_ms(now + 1_800_000)),
                sampled_at: from_ms(now - (60 - k) * 10_000),
            })?;
        }
        db.set_meta(meta_keys::HEARTBEAT, &now.to_string())?;
        db.add_mapping_version(
            "version = 1\n\n[fields.title]\nportal = \"title\"\nlinear = \"title\"\ndirection = \"both\"\non_conflict = \"ask\"\n",
            roundtrip::domain::Actor::Operator,
            "generated",
        )?;
        Ok(())
    })?;
    store.checkpoint()?;
    println!(
        "{{\"db\":\"{}\",\"links\":{},\"jobs\":{},\"conflicts\":{},\"seconds\":{:.1}}}",
        args.db.display(),
        args.links,
        args.jobs,
        args.conflicts,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
