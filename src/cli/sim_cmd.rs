//! `roundtrip sim`: run the Linear and Canny simulators as a standalone
//! sandbox. Prints one JSON line with URLs and credentials on start, then
//! logs to stderr until interrupted.

use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;

use super::out::outln;
use crate::sim::canny::{CannySim, CannySimConfig};
use crate::sim::faults::FaultSpec;
use crate::sim::linear::handle::DEFAULT_REDIRECT_URI;
use crate::sim::linear::{LinearSim, LinearSimConfig};

/// Arguments of `roundtrip sim`.
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Port of the Linear simulator (GraphQL at /graphql); 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub linear_port: u16,
    /// Port of the Canny simulator (REST under /api/v1); 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub canny_port: u16,
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
    /// Sample posts on the Canny board.
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
    for url in [&args.linear_webhook, &args.canny_webhook]
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
        let canny = CannySim::start(CannySimConfig {
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
        .map_err(|e| anyhow::anyhow!("Canny simulator: {e}"))?;
        let line = json!({
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
            "canny": canny.connection_info(),
        });
        let _ = outln!("{line}");
        eprintln!("simulators running; Ctrl-C to stop");
        shutdown_signal().await;
        linear.shutdown().await;
        canny.shutdown().await;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
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
