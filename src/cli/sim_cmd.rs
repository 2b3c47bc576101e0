//! `roundtrip sim`: run the Linear simulator and the portal simulators
//! (Canny's, Fider's or both) as a standalone sandbox. Prints one JSON line
//! with URLs and credentials on start, then logs to stderr until
//! interrupted.

use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;

use super::out::outln;
use crate::connector::fider::{SecretIn, webhook_templates};
use crate::sim::canny::{CannySim, CannySimConfig};
use crate::sim::faults::FaultSpec;
use crate::sim::fider::{FiderSim, FiderSimConfig};
use crate::sim::linear::handle::DEFAULT_REDIRECT_URI;
use crate::sim::linear::{LinearSim, LinearSimConfig};

/// Which portal simulators to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Portals {
    /// Canny's.
    Canny,
    /// Fider's.
    Fider,
    /// Both.
    Both,
}

/// Arguments of `roundtrip sim`.
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Which portal simulators to run. Default: Canny's, plus Fider's when
    /// any --fider-… option is given.
    #[arg(long, value_enum, value_name = "PORTAL")]
    pub portal: Option<Portals>,
    /// Port of the Linear simulator (GraphQL at /graphql); 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub linear_port: u16,
    /// Port of the Canny simulator (REST under /api/v1); 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub canny_port: u16,
    /// Port of the Fider simulator (the site; REST under /api/v1); 0 picks
    /// a free one.
    #[arg(long)]
    pub fider_port: Option<u16>,
    /// Where roundtrip's webhook server listens, e.g. http://127.0.0.1:8787:
    /// the Fider simulator gets the four webhooks `roundtrip config
    /// fider-webhook-template` prints, pointing there (its private targets
    /// are allowed, as with ALLOW_PRIVATE_NETWORK_TARGETS=true).
    #[arg(long, value_name = "URL")]
    pub fider_webhook: Option<String>,
    /// The shared secret those webhooks present (in X-Roundtrip-Secret).
    #[arg(long, default_value = "fider_wh_sim")]
    pub fider_webhook_secret: String,
    /// API key of the Fider simulator's administrator.
    #[arg(long)]
    pub fider_api_key: Option<String>,
    /// Seed for sample data and fault decisions (same seed, same run).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Faults to inject, e.g. "linear:5xx=0.1,429=0.05,latency=50ms,lost=0.05;canny:timeout=0.02;webhooks:drop=0.1,dup=0.1,reorder=true" (lost: a write is applied, then its answer is lost).
    #[arg(long, default_value = "")]
    pub faults: String,
    /// Where the Linear simulator POSTs its webhooks.
    #[arg(long, value_name = "URL")]
    pub linear_webhook: Option<String>,
    /// Where the Canny simulator POSTs its webhooks.
    #[arg(long, value_name = "URL")]
    pub canny_webhook: Option<String>,
    /// Sample posts on each portal.
    #[arg(long, default_value_t = 0)]
    pub posts: usize,
    /// API key the Linear simulator accepts.
    #[arg(long, default_value = "lin_api_sim")]
    pub linear_api_key: String,
    /// Secret the Linear simulator signs webhooks with.
    #[arg(long, default_value = "lin_wh_sim")]
    pub linear_webhook_secret: String,
    /// API key the Canny simulator accepts (and signs webhooks with).
    #[arg(long, default_value = "canny_sim_key")]
    pub canny_api_key: String,
    /// Linear requests allowed per hour.
    #[arg(long, default_value_t = 2500)]
    pub linear_requests_per_hour: u64,
    /// The Canny company's statuses in board order, comma-separated; names
    /// beyond the six built-in ones are custom statuses, e.g.
    /// "open,under review,planned,in progress,complete,closed,beta".
    #[arg(long, value_name = "LIST")]
    pub canny_statuses: Option<String>,
    /// The Linear team's auto-archive period: completed and canceled issues
    /// are archived by Linear itself after it ("180d" is six months, a
    /// common setting; "30s" for a quick look; "0s" turns it off).
    #[arg(long, value_name = "DURATION", default_value = "180d")]
    pub linear_auto_archive: String,
    /// How long after a project is completed or canceled Linear archives
    /// its closed issues (Linear: one month, whatever the team's period);
    /// the project archives itself once they all are.
    #[arg(long, value_name = "DURATION", default_value = "30d")]
    pub linear_project_archive: String,
    /// Lifetime of the OAuth access tokens the Linear simulator issues
    /// (Linear: 24 hours), e.g. "30s" to watch refreshes happen.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_ttl)]
    pub linear_token_ttl: std::time::Duration,
    /// Another OAuth callback URL the simulated application accepts
    /// (repeatable; http://127.0.0.1:8789/callback is always registered).
    #[arg(long, value_name = "URL")]
    pub linear_oauth_redirect_uri: Vec<String>,
}

/// The `--canny-statuses` list: non-empty names, each once.
fn parse_statuses(list: &str) -> Result<Vec<String>, super::UsageError> {
    let mut out: Vec<String> = Vec::new();
    for name in list.split(',').map(str::trim) {
        if name.is_empty() {
            return Err(super::UsageError(format!(
                "--canny-statuses '{list}' has an empty status name"
            )));
        }
        if out.iter().any(|s| s == name) {
            return Err(super::UsageError(format!(
                "--canny-statuses names '{name}' twice"
            )));
        }
        out.push(name.to_string());
    }
    Ok(out)
}

fn parse_ttl(s: &str) -> Result<std::time::Duration, String> {
    match crate::duration::parse_duration(s) {
        Ok(d) if d >= std::time::Duration::from_secs(2) => Ok(d),
        Ok(_) => Err("must be at least 2s".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Run both simulators until Ctrl-C or SIGTERM.
pub fn run(args: &SimArgs) -> anyhow::Result<ExitCode> {
    let faults = FaultSpec::parse(&args.faults).map_err(|e| super::UsageError(e.to_string()))?;
    let statuses = args
        .canny_statuses
        .as_deref()
        .map(parse_statuses)
        .transpose()?;
    let auto_archive = crate::duration::parse_duration(&args.linear_auto_archive).map_err(|e| {
        super::UsageError(format!(
            "--linear-auto-archive '{}': {e}",
            args.linear_auto_archive
        ))
    })?;
    let project_archive =
        crate::duration::parse_duration(&args.linear_project_archive).map_err(|e| {
            super::UsageError(format!(
                "--linear-project-archive '{}': {e}",
                args.linear_project_archive
            ))
        })?;
    let wants_fider =
        args.fider_port.is_some() || args.fider_webhook.is_some() || args.fider_api_key.is_some();
    let portals = match args.portal {
        Some(p) => p,
        None if wants_fider => Portals::Both,
        None => Portals::Canny,
    };
    if portals == Portals::Canny && wants_fider {
        return Err(super::UsageError(
            "--fider-… options need --portal fider or --portal both".into(),
        )
        .into());
    }
    let run_canny = portals != Portals::Fider;
    let run_fider = portals != Portals::Canny;
    for url in [
        &args.linear_webhook,
        &args.canny_webhook,
        &args.fider_webhook,
    ]
    .into_iter()
    .flatten()
    {
        if !url.starts_with("http://127.0.0.1")
            && !url.starts_with("http://localhost")
            && !url.starts_with("https://")
        {
            return Err(super::UsageError(format!(
                "webhook URL '{url}' must be http://127.0.0.1… or https://…"
            ))
            .into());
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        let linear = LinearSim::start(LinearSimConfig {
            port: args.linear_port,
            api_key: args.linear_api_key.clone(),
            webhook_secret: args.linear_webhook_secret.clone(),
            webhook_url: args.linear_webhook.clone(),
            faults: faults.linear.clone(),
            webhook_faults: faults.webhooks.clone(),
            seed: args.seed,
            requests_per_hour: args.linear_requests_per_hour,
            auto_archive_period: auto_archive,
            project_archive_window: project_archive,
            token_ttl: args.linear_token_ttl,
            oauth_redirect_uris: std::iter::once(DEFAULT_REDIRECT_URI.to_string())
                .chain(args.linear_oauth_redirect_uri.iter().cloned())
                .collect(),
            ..LinearSimConfig::default()
        })
        .await
        .map_err(|e| anyhow::anyhow!("Linear simulator: {e}"))?;
        let canny = if run_canny {
            Some(start_canny(args, &faults, statuses).await?)
        } else {
            None
        };
        let fider = if run_fider {
            Some(start_fider(args, &faults).await?)
        } else {
            None
        };
        let mut line = json!({
            "linear": {
                "graphql_url": linear.graphql_url(),
                "api_key": linear.api_key(),
                "webhook_secret": linear.webhook_secret(),
                "team": "ENG",
                "oauth": {
                    "authorize_url": linear.oauth_authorize_url(),
                    "token_url": linear.oauth_token_url(),
                    "revoke_url": linear.oauth_revoke_url(),
                    "client_id": linear.oauth_client_id(),
                    "client_secret": linear.oauth_client_secret(),
                    "token_ttl_secs": args.linear_token_ttl.as_secs(),
                },
            },
        });
        if let Some(c) = &canny {
            line["canny"] = c.connection_info();
        }
        if let Some(f) = &fider {
            line["fider"] = f.connection_info();
            line["fider"]["webhook_secret"] = json!(args.fider_webhook_secret);
        }
        let _ = outln!("{line}");
        eprintln!("simulators running; Ctrl-C to stop");
        shutdown_signal().await;
        linear.shutdown().await;
        if let Some(c) = canny {
            c.shutdown().await;
        }
        if let Some(f) = fider {
            f.shutdown().await;
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn start_canny(
    args: &SimArgs,
    faults: &FaultSpec,
    statuses: Option<Vec<String>>,
) -> anyhow::Result<CannySim> {
    CannySim::start(CannySimConfig {
        port: args.canny_port,
        api_key: args.canny_api_key.clone(),
        webhook_url: args.canny_webhook.clone(),
        faults: faults.canny.clone(),
        webhook_faults: faults.webhooks.clone(),
        seed: args.seed,
        posts: args.posts,
        statuses: statuses.unwrap_or_else(|| CannySimConfig::default().statuses),
        ..CannySimConfig::default()
    })
    .await
    .map_err(|e| anyhow::anyhow!("Canny simulator: {e}"))
}

/// The Fider simulator, with roundtrip's four webhooks when
/// `--fider-webhook` names where roundtrip listens.
async fn start_fider(args: &SimArgs, faults: &FaultSpec) -> anyhow::Result<FiderSim> {
    let defaults = FiderSimConfig::default();
    let fider = FiderSim::start(FiderSimConfig {
        port: args.fider_port.unwrap_or(0),
        admin_key: args
            .fider_api_key
            .clone()
            .unwrap_or(defaults.admin_key.clone()),
        faults: faults.fider.clone(),
        webhook_faults: faults.webhooks.clone(),
        seed: args.seed,
        posts: args.posts,
        allow_private_targets: true,
        ..defaults
    })
    .await
    .map_err(|e| anyhow::anyhow!("Fider simulator: {e}"))?;
    if let Some(url) = &args.fider_webhook {
        let base = url
            .trim_end_matches('/')
            .trim_end_matches("/webhooks/fider");
        let header = SecretIn::Header(crate::config::DEFAULT_SECRET_HEADER.into());
        for t in webhook_templates(base, &header, &args.fider_webhook_secret) {
            fider
                .add_webhook(t.kind, &t.url, &t.content, &t.headers)
                .map_err(|e| anyhow::anyhow!("Fider simulator: {e}"))?;
        }
    }
    Ok(fider)
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
