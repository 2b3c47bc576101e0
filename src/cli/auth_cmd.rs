//! `roundtrip auth linear`: sign roundtrip in to Linear with OAuth 2.0
//! (authorization code + PKCE, loopback redirect, or the redirected address
//! pasted back when the browser is on another machine) and store the tokens
//! in the token file, where the daemon keeps them fresh.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use super::UsageError;
use super::out::outln;
use crate::auth::signin::SCOPES as KNOWN_SCOPES;
use crate::auth::signin::SignIn;
use crate::auth::token_file::{self, Actor, TokenLock};
use crate::config::Config;
use crate::connector::linear::config::{oauth_endpoints, reauth_command};
use crate::connector::linear::{LinearAuth, LinearConfig, LinearConnector};

/// Subcommands of `roundtrip auth`.
#[derive(Debug, clap::Subcommand)]
pub enum AuthCommand {
    /// Sign in to Linear with OAuth and store the tokens in the token file.
    Linear(LinearArgs),
}

/// Arguments of `roundtrip auth linear`.
#[derive(Debug, clap::Args)]
pub struct LinearArgs {
    /// The configuration file (names the client id/secret variables, the
    /// OAuth URLs, the redirect URI and the token file).
    #[arg(
        long,
        short = 'c',
        value_name = "FILE",
        default_value = "roundtrip.toml"
    )]
    pub config: PathBuf,
    /// Comma-separated scopes (default: [linear] oauth_scopes, "read,write").
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub scopes: Vec<String>,
    /// Act as the signed-in user, or as the application (then comments and
    /// attachments made from portal content name their author).
    #[arg(long, value_enum, default_value_t = Actor::User)]
    pub actor: Actor,
    /// How long to wait for the authorization.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_timeout)]
    pub timeout: Duration,
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    crate::duration::parse_duration(s).map_err(|e| e.to_string())
}

/// Run an `auth` subcommand.
pub fn run(cmd: &AuthCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AuthCommand::Linear(args) => linear(args),
    }
}

/// Lines typed on stdin, read on a plain thread (stdin blocks).
fn stdin_lines() -> tokio::sync::mpsc::Receiver<String> {
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn linear(args: &LinearArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config)?;
    let l = &config.linear;
    let scopes: Vec<String> = if args.scopes.is_empty() {
        l.oauth_scopes.clone()
    } else {
        args.scopes.iter().map(|s| s.trim().to_string()).collect()
    };
    if let Some(bad) = scopes.iter().find(|s| !KNOWN_SCOPES.contains(&s.as_str())) {
        return Err(UsageError(format!(
            "--scopes: '{bad}' is not a Linear scope (known: {})",
            KNOWN_SCOPES.join(", ")
        ))
        .into());
    }
    let client_id = config.lookup_secret(&l.oauth_client_id_env)?;
    let client_secret = config.lookup_secret(&l.oauth_client_secret_env)?;
    let endpoints = oauth_endpoints(&config, client_id.as_ref(), client_secret.as_ref())
        .map_err(|e| UsageError(e.to_string()))?;
    let path = config.token_file_path().ok_or_else(|| {
        UsageError("no home directory for the default token file; set [linear] token_file".into())
    })?;
    if l.auth != crate::config::LinearAuth::Oauth {
        eprintln!(
            "note: {} has [linear] auth = \"api_key\"; set auth = \"oauth\" for the daemon to use this token",
            args.config.display()
        );
    }
    let signin = SignIn {
        endpoints,
        scopes,
        actor: args.actor,
        timeout: args.timeout,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let tokens = rt.block_on(async {
        let mut out = std::io::stdout();
        let show = |line: &str| {
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        };
        let pasted = stdin_lines();
        signin.run(show, pasted).await
    })?;
    let p = path.clone();
    let t = tokens.clone();
    std::thread::spawn(move || {
        // The daemon may be refreshing the old pair right now.
        let _lock = TokenLock::acquire(&p)?;
        token_file::write(&p, &t)
    })
    .join()
    .map_err(|_| anyhow::anyhow!("writing the token file panicked"))??;
    outln!(
        "Stored the Linear OAuth tokens in {} (mode 0600); access token valid until {}, refreshed automatically.",
        path.display(),
        tokens
            .expires_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )?;
    let mut check = LinearConfig::new(tokens.access_token.clone(), l.team.clone(), "");
    check.api_url = l.api_url.clone();
    check.auth = LinearAuth::OAuth;
    check.timeout = l.timeout.0;
    let viewer = rt.block_on(async {
        let c = LinearConnector::new(check).map_err(|e| e.to_string())?;
        c.viewer().await.map_err(|e| e.to_string())
    });
    match viewer {
        Ok(v) => outln!(
            "Linear accepted the token: signed in as {} (actor {}, scopes {}).",
            v.name,
            tokens.actor.as_str(),
            tokens.scopes.join(",")
        )?,
        Err(e) => eprintln!("warning: the token was stored, but a test call to Linear failed: {e}"),
    }
    outln!(
        "A running daemon uses it on its next Linear call (or at once on SIGHUP); a paused Linear \
         connector resumes by itself. To sign in again later: {}",
        reauth_command(&config)
    )?;
    Ok(ExitCode::SUCCESS)
}
