//! Fill a store to "big installation" size so anyone can check the console's
//! performance targets (DESIGN.md P4):
//!
//! ```text
//! cargo run --release --example fill_store -- --db /tmp/big.db
//! cargo run --release -- console --db /tmp/big.db --bench-frames 2000
//! ```
//!
//! Defaults: 1,000,000 links (each with its portal and Linear record, real-
//! shaped ids and URLs, searchable), 200,000 jobs, 10,000 open conflicts,
//! plus some audit entries, events, quota readings and a mapping — the same
//! filler `cargo bench --bench console` runs (`roundtrip::console::bench::fill`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a failed setup step should stop with its message

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use roundtrip::console::bench::{Sizes, fill};

struct Args {
    db: PathBuf,
    sizes: Sizes,
}

fn parse() -> anyhow::Result<Args> {
    let mut a = Args {
        db: PathBuf::from("roundtrip-big.db"),
        sizes: Sizes::DESIGN,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let val = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--db" => a.db = PathBuf::from(val),
            "--links" => a.sizes.links = val.parse()?,
            "--jobs" => a.sizes.jobs = val.parse()?,
            "--conflicts" => a.sizes.conflicts = val.parse()?,
            other => bail!("unknown flag {other} (use --db, --links, --jobs, --conflicts)"),
        }
    }
    if a.sizes.conflicts > a.sizes.links {
        bail!("--conflicts cannot exceed --links (one open conflict per link and field)");
    }
    Ok(a)
}

fn main() -> anyhow::Result<()> {
    let args = parse()?;
    if args.db.exists() {
        bail!("{} exists; pick a new path", args.db.display());
    }
    let t = Instant::now();
    fill(&args.db, args.sizes)?;
    println!(
        "{{\"db\":\"{}\",\"links\":{},\"jobs\":{},\"conflicts\":{},\"seconds\":{:.1}}}",
        args.db.display(),
        args.sizes.links,
        args.sizes.jobs,
        args.sizes.conflicts,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
