//! `roundtrip demo`: the zero-config showcase (DESIGN.md section 2). With a
//! terminal it opens the console on the demo's store; without one (or with
//! `--no-console`) it prints progress lines and a summary and exits 0 only
//! when both sides converged except for the deliberate conflicts.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use super::out::outln;
use crate::console;
use crate::demo::{Demo, report};
use crate::domain::PortalKind;

/// Arguments of `roundtrip demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Keep the store at this path (default: a temporary directory removed
    /// on exit).
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Print progress lines and a summary instead of opening the console
    /// (implied when stdout is not a terminal).
    #[arg(long)]
    pub no_console: bool,
    /// Without a console: how long to run before the summary. The scripted
    /// story always plays to its end first (a slow machine makes the run
    /// longer, by at most this long again or 60 s, never cuts the story).
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub duration: u64,
    /// Seed for the sample board and the story (same seed, same run).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Which portal to sync with Linear: canny or fider.
    #[arg(long, value_name = "PORTAL", default_value = "canny", value_parser = parse_portal)]
    pub portal: PortalKind,
}

fn parse_portal(s: &str) -> Result<PortalKind, String> {
    s.parse::<PortalKind>()
        .map_err(|_| format!("'{s}' is not a portal (canny, fider)"))
}

/// Shown in the console's title bar for the whole session.
const BANNER: &str = "DEMO · ? keys · q quits";

fn intro(portal: PortalKind) -> (String, Vec<String>) {
    use crate::console::keymap::shown;
    use crate::console::types::{Cmd, Ctx, ViewId};
    let (site, closed) = match portal {
        PortalKind::Canny => ("a simulated Canny board (200 posts)", "closed"),
        PortalKind::Fider => ("a simulated Fider site (200 posts)", "declined"),
    };
    let cf = Ctx::View(ViewId::Conflicts);
    let jb = Ctx::View(ViewId::Jobs);
    let mp = Ctx::View(ViewId::Mappings);
    let g = Ctx::Global;
    let lines = vec![
        format!("Everything here is local: {site} and a"),
        "simulated Linear team on loopback, synced by the real engine. A scripted".into(),
        "day plays out over ~20 s, then a light trickle of edits keeps going:".into(),
        String::new(),
        " • posts approved on the portal become Linear issues; Linear state".into(),
        "   changes flow back; comments are mirrored both ways".into(),
        " • the same titles are edited on both sides → 2 conflicts for you".into(),
        " • Linear answers 500 for a while → 3 create jobs go dead".into(),
        " • a burst exhausts the Linear quota → writes wait for the reset".into(),
        " • a post is deleted → its link is removed, Linear gets a note".into(),
        format!(" • mapping v2 lost the \"{closed}\" row → a {closed} post is not synced"),
        String::new(),
        format!(
            "Try: 2 Conflicts ({}/{}/{} take portal/Linear/base; each asks first)",
            shown(cf, Cmd::TakePortal),
            shown(cf, Cmd::TakeLinear),
            shown(cf, Cmd::KeepBase)
        ),
        format!(
            "     3 Jobs: failed and dead first ({} retries all of them — nothing",
            shown(jb, Cmd::RetryAll)
        ),
        format!(
            "       retries them for you) · 4 Links ({} search ENG-12, {} timeline)",
            shown(g, Cmd::Search),
            shown(g, Cmd::Open)
        ),
        format!(
            "     5 Mappings: {}, add  \"{closed}\" = \"Canceled\"  under",
            shown(mp, Cmd::EditMapping)
        ),
        "       [fields.status.values], validate, save · 6 Log (the story)".into(),
        String::new(),
        format!(
            "{} closes this panel · {} shows every key · {} quits and cleans up.",
            shown(Ctx::Panel, Cmd::Back),
            shown(g, Cmd::Help),
            shown(g, Cmd::Quit)
        ),
    ];
    ("roundtrip demo — what is happening".to_string(), lines)
}

/// Run the demo.
pub fn run(args: &DemoArgs) -> anyhow::Result<ExitCode> {
    crate::os::private_file_modes();
    let interactive =
        !args.no_console && std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    if let Some(p) = &args.db
        && p.exists()
    {
        return Err(super::UsageError(format!(
            "--db {}: the file exists; the demo needs a fresh store (pick a new path)",
            p.display()
        ))
        .into());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let demo = rt
        .block_on(Demo::start(
            args.seed,
            args.db.as_deref(),
            !interactive,
            args.portal,
        ))
        .context("starting the demo")?;
    if interactive {
        let path = demo.store_path();
        let shown = console::run_with_intro(
            &path.into(),
            false,
            Some(BANNER.into()),
            Some(intro(args.portal)),
        );
        rt.block_on(demo.stop()).context("stopping the demo")?;
        shown?;
        if let Some(p) = &args.db {
            outln!("store kept at {}", p.display())?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let seed = args.seed;
    let duration = Duration::from_secs(args.duration);
    let outcome = rt.block_on(async move {
        let writer = demo.world.service.writer.clone();
        let every = Duration::from_secs(3);
        let mut next = tokio::time::Instant::now() + every;
        let end = tokio::time::Instant::now() + duration;
        let hard_end = end + duration.max(Duration::from_secs(60));
        let mut told_slow = false;
        let interrupted = super::sim_cmd::shutdown_signal();
        tokio::pin!(interrupted);
        let _ = outln!(
            "roundtrip demo: simulators and service on 127.0.0.1 (webhooks at {}), store {}",
            demo.world.service.addr,
            demo.world.store_path.display()
        );
        loop {
            let wake = if tokio::time::Instant::now() < end {
                next.min(end)
            } else {
                next.min(tokio::time::Instant::now() + Duration::from_millis(200))
            };
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => {}
                _ = &mut interrupted => break,
            }
            let now = tokio::time::Instant::now();
            if now >= next {
                let log = crate::demo::stage::lock(&demo.log).clone();
                let line =
                    report::progress_line(&writer, demo.started.elapsed().as_secs_f64(), &log)
                        .await;
                let _ = outln!("{line}");
                next += every;
            }
            if now >= end {
                let story_over = crate::demo::stage::lock(&demo.log).finished;
                if story_over || now >= hard_end {
                    break;
                }
                if !told_slow {
                    told_slow = true;
                    let _ = outln!(
                        "the story is not over yet on this machine; letting it finish (at most {} s more)",
                        (hard_end - now).as_secs()
                    );
                }
            }
        }
        let _ = outln!(
            "stopping the story; waiting for the queue to drain, then comparing both sides…"
        );
        let started = demo.started;
        let outcome = demo.finish().await?;
        Ok::<_, crate::demo::DemoError>((outcome, started.elapsed().as_secs_f64()))
    });
    let (outcome, elapsed) = outcome.context("finishing the demo")?;
    outln!("{}", report::summary(&outcome, elapsed, seed))?;
    if let Some(p) = &args.db {
        outln!("store kept at {}", p.display())?;
    }
    Ok(if outcome.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
