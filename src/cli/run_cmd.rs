//! `roundtrip run`: the daemon — sync engine plus webhook server — until
//! SIGINT/SIGTERM. The first signal stops gracefully (stop accepting, finish
//! in-flight requests and jobs within a bound, checkpoint the WAL, exit 0);
//! a second one exits at once (the WAL keeps the store consistent).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{Config, default_store_path};
use crate::connector::canny::{CannyConfig, CannyConnector};
use crate::connector::linear::{LinearConfig, LinearConnector};
use crate::daemon::{Service, ServiceSpec};
use crate::domain::ErrorClass;
use crate::engine::{Connectors, EngineOptions};

/// Arguments of `roundtrip run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The configuration file.
    #[arg(
        long,
        short = 'c',
        value_name = "FILE",
        default_value = "roundtrip.toml"
    )]
    pub config: PathBuf,
    /// Longest wait for in-flight requests and jobs on shutdown.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration_arg)]
    pub shutdown_timeout: Duration,
}

fn parse_duration_arg(s: &str) -> Result<Duration, String> {
    crate::duration::parse_duration(s).map_err(|e| e.to_string())
}

/// Keeps the non-blocking log writer alive until the process ends.
type LogGuard = Option<tracing_appender::non_blocking::WorkerGuard>;

fn init_logging(config: &Config) -> anyhow::Result<LogGuard> {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .or_else(|| EnvFilter::try_new(&config.log.level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_target(false);
    let (file, guard) = match &config.log.dir {
        Some(dir) => {
            let dir = if dir.is_absolute() {
                dir.clone()
            } else {
                config.base_dir.join(dir)
            };
            crate::files::create_private_dir(&dir)
                .with_context(|| format!("creating log directory {}", dir.display()))?;
            let appender = tracing_appender::rolling::daily(&dir, "roundtrip.log");
            let (writer, guard) = tracing_appender::non_blocking(appender);
            (
                Some(
                    tracing_subscriber::fmt::layer()
                        .with_writer(writer)
                        .with_ansi(false),
                ),
                Some(guard),
            )
        }
        None => (None, None),
    };
    // A second initialisation (tests calling run twice) is harmless.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(stderr)
        .with(file)
        .try_init();
    Ok(guard)
}

/// Run the daemon until a signal arrives.
pub fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    // The store, its WAL and shared memory, and the logs are the user's
    // alone.
    crate::os::private_file_modes();
    let config = Config::load(&args.config)?;
    let secrets = config.secrets()?;
    let _guard = init_logging(&config)?;
    let store_path = match config.store_path() {
        Some(p) => p,
        None => {
            let p = default_store_path().ok_or_else(|| {
                super::UsageError(
                    "no home directory for the default store; set [store] path".into(),
                )
            })?;
            if let Some(dir) = p.parent() {
                crate::files::create_private_dir(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            p
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        let linear = LinearConnector::new(LinearConfig::from_app(&config.linear, &secrets))
            .map_err(|e| anyhow::anyhow!("Linear connector: {e}"))?;
        let mut canny_cfg = CannyConfig::new(
            config.portal.api_url.clone(),
            secrets.portal_api_key.expose(),
            config.portal.board.clone(),
        );
        canny_cfg.admin_id = config.portal.admin_id.clone();
        canny_cfg.request_timeout = config.portal.timeout.0;
        let canny = CannyConnector::new(canny_cfg).map_err(|e| anyhow::anyhow!("Canny connector: {e}"))?;
        match canny.resolve().await {
            Ok(()) => {}
            Err(e) if matches!(e.class, ErrorClass::Validation | ErrorClass::NotFound) => {
                return Err(anyhow::anyhow!(
                    "portal board \"{}\" cannot be used: {}",
                    config.portal.board,
                    e.message
                ));
            }
            // Auth and transient failures: the engine pauses or retries and
            // /healthz says why, rather than the daemon refusing to start.
            Err(e) => tracing::warn!(error = %e, "Canny is not reachable yet; will keep trying"),
        }
        let service = Service::start(ServiceSpec {
            store_path: store_path.clone(),
            connectors: Connectors {
                linear: Arc::new(linear),
                portal: Arc::new(canny),
            },
            options: EngineOptions::from_config(&config),
            listen: config.webhooks.listen,
            webhooks: config.webhooks.options(),
        })
        .await?;
        tracing::info!(
            listen = %service.addr,
            store = %store_path.display(),
            "roundtrip is running: POST /webhooks/linear, POST /webhooks/canny, GET /healthz, GET /metrics"
        );
        super::sim_cmd::shutdown_signal().await;
        tracing::info!("shutting down (a second signal exits at once)");
        tokio::spawn(async {
            super::sim_cmd::shutdown_signal().await;
            eprintln!("roundtrip: second signal, exiting now");
            std::process::exit(130);
        });
        service.stop(args.shutdown_timeout).await?;
        tracing::info!("stopped cleanly");
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
