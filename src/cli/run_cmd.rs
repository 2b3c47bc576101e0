//! `roundtrip run`: the daemon — sync engine plus webhook server — until
//! SIGINT/SIGTERM. The first signal stops gracefully (stop accepting, finish
//! in-flight requests and jobs within a bound, checkpoint the WAL, exit 0);
//! a second one exits at once (the WAL keeps the store consistent).
//!
//! SIGHUP re-reads the configuration file and its secrets (API keys, webhook
//! secrets and the previous one during a rotation, the OAuth token file) and
//! swaps them in while the webhook server keeps serving: no connection is
//! dropped and a delivery being verified finishes with the keys it started
//! with. Other settings need a restart; the log says so when they changed.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use super::portal::{Portal, unusable_portal};
use crate::config::{Config, Secrets, default_store_path};
use crate::connector::linear::{LinearConfig, LinearConnector};
use crate::daemon::{Service, ServiceSpec};
use crate::domain::ErrorClass;
use crate::engine::{Connectors, EngineOptions};
use crate::store::StoreLocation;
use crate::store::{Level, Writer};

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
    let store = match config.store_location()? {
        Some(location) => location,
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
            StoreLocation::File(p)
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        let linear_cfg = LinearConfig::from_app(&config, &secrets)
            .map_err(|e| super::UsageError(e.to_string()))?;
        if let Some(m) = &linear_cfg.oauth
            && !m.path().exists()
        {
            return Err(super::UsageError(format!(
                "no Linear OAuth token file at {} ([linear] auth = \"oauth\"); sign in first with `{}`",
                m.path().display(),
                m.reauth_command()
            ))
            .into());
        }
        let linear = Arc::new(
            LinearConnector::new(linear_cfg)
                .map_err(|e| anyhow::anyhow!("Linear connector: {e}"))?,
        );
        let portal = Portal::from_config(&config, &secrets)?;
        match portal.resolve().await {
            Ok(()) => {}
            Err(e) if matches!(e.class, ErrorClass::Validation | ErrorClass::NotFound) => {
                return Err(unusable_portal(&config, &e).into());
            }
            // Auth and transient failures: the engine pauses or retries and
            // /healthz says why, rather than the daemon refusing to start.
            Err(e) => tracing::warn!(error = %e, portal = portal.name(), "the portal is not reachable yet; will keep trying"),
        }
        let service = Service::start(ServiceSpec {
            store: store.clone(),
            connectors: Connectors {
                linear: linear.clone(),
                portal: portal.connector(),
            },
            options: EngineOptions::from_config(&config),
            listen: config.webhooks.listen,
            webhooks: config.webhooks.options(),
        })
        .await?;
        tracing::info!(
            listen = %service.addr,
            store = %store,
            "roundtrip is running: POST /webhooks/linear, POST /webhooks/{}, GET /healthz, GET /metrics",
            portal.connector().webhook_source()
        );
        let live = Live {
            path: args.config.clone(),
            config,
            linear,
            portal,
            writer: service.writer.clone(),
        };
        live.apply_webhook_keys(&secrets).await;
        live.serve_until_shutdown().await;
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

/// What a SIGHUP can change in the running daemon.
struct Live {
    path: PathBuf,
    config: Config,
    linear: Arc<LinearConnector>,
    portal: Portal,
    writer: Writer,
}

impl Live {
    /// Wait for SIGINT/SIGTERM, re-reading secrets on every SIGHUP meanwhile.
    async fn serve_until_shutdown(mut self) {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::hangup()) {
                Ok(mut hup) => {
                    let stop = super::sim_cmd::shutdown_signal();
                    tokio::pin!(stop);
                    loop {
                        tokio::select! {
                            _ = &mut stop => return,
                            _ = hup.recv() => self.reload().await,
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGHUP; secrets are read only at start")
                }
            }
        }
        super::sim_cmd::shutdown_signal().await;
    }

    /// Decide the webhook keys (current, and previous during an overlap)
    /// and hand them to the Linear connector.
    async fn apply_webhook_keys(&self, secrets: &Secrets) {
        let current = secrets.linear_webhook_secret.clone();
        let previous = secrets.linear_previous_webhook_secret.clone();
        let overlap_ms = i64::try_from(self.config.linear.rotation_overlap.0.as_millis())
            .unwrap_or(i64::MAX / 4);
        let settled = self
            .writer
            .run(move |db| {
                crate::rotation::settle(
                    &db,
                    &current,
                    previous.as_ref(),
                    overlap_ms,
                    crate::store::now_ms(),
                )
            })
            .await;
        match settled {
            Ok(keys) => {
                if let Some((_, until)) = &keys.previous {
                    tracing::info!(until = %until, "accepting the previous Linear webhook secret during the rotation overlap");
                }
                self.linear.set_webhook_keys(keys);
            }
            Err(e) => {
                // Without the record the overlap cannot be bounded: accept
                // only the current secret rather than the old one forever.
                tracing::error!(error = %e, "cannot record the webhook-secret rotation; accepting only the current secret");
                self.linear
                    .set_webhook_keys(crate::connector::linear::WebhookKeys::single(
                        secrets.linear_webhook_secret.expose(),
                    ));
            }
        }
    }

    async fn reload(&mut self) {
        let loaded = Config::load(&self.path).and_then(|c| {
            let s = c.secrets()?;
            Ok((c, s))
        });
        let (config, secrets) = match loaded {
            Ok(x) => x,
            Err(e) => {
                let msg = format!("SIGHUP: keeping the current secrets: {e}");
                tracing::error!("{msg}");
                self.event(Level::Error, msg).await;
                return;
            }
        };
        let mut problems = Vec::new();
        if let Some(key) = &secrets.linear_api_key
            && let Err(e) = self.linear.set_api_key(key.expose())
        {
            problems.push(format!("Linear API key: {e}"));
        }
        if let Err(e) = self.linear.reload_token_file() {
            problems.push(e.to_string());
        }
        self.portal.set_secrets(&secrets);
        let restart_needed = differs_beyond_secrets(&self.config, &config);
        self.config.linear.rotation_overlap = config.linear.rotation_overlap;
        self.config.linear.previous_webhook_secret_env =
            config.linear.previous_webhook_secret_env.clone();
        self.apply_webhook_keys(&secrets).await;
        let mut msg = "SIGHUP: re-read secrets (API keys, webhook secrets, token file)".to_string();
        if !problems.is_empty() {
            msg.push_str(&format!("; problems: {}", problems.join("; ")));
        }
        if restart_needed {
            msg.push_str("; other changed settings take effect after a restart");
        }
        tracing::info!("{msg}");
        let level = if problems.is_empty() {
            Level::Info
        } else {
            Level::Warn
        };
        self.event(level, msg).await;
    }

    async fn event(&self, level: Level, msg: String) {
        let _ = self
            .writer
            .run(move |db| db.log_event(level, "secrets", &msg))
            .await;
    }
}

/// Whether the new file changes anything SIGHUP does not apply.
fn differs_beyond_secrets(old: &Config, new: &Config) -> bool {
    let mut a = old.clone();
    let mut b = new.clone();
    for c in [&mut a, &mut b] {
        c.linear.previous_webhook_secret_env = None;
        c.linear.rotation_overlap = crate::config::HumanDuration(Duration::ZERO);
        c.secrets = Default::default();
    }
    a != b
}
