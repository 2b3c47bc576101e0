//! `roundtrip config check|show|example|fider-webhook-template`: validate a
//! config file and the environment variables it names before starting the
//! daemon; print the effective config, an example, or the webhooks to paste
//! into Fider.

use std::path::PathBuf;
use std::process::ExitCode;

use super::out::{self, outln};
use crate::config::Config;

/// Subcommands of `roundtrip config`.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Validate the file and check every secret's environment variable is set.
    Check {
        /// The config file.
        #[arg(
            long,
            short = 'c',
            value_name = "FILE",
            default_value = "roundtrip.toml"
        )]
        config: PathBuf,
    },
    /// Print the effective configuration with defaults filled in (secrets are
    /// never printed, only the variable names).
    Show {
        /// The config file.
        #[arg(
            long,
            short = 'c',
            value_name = "FILE",
            default_value = "roundtrip.toml"
        )]
        config: PathBuf,
    },
    /// Print a commented example configuration to start from.
    Example,
    /// Print the four webhooks to create in Fider (Administration →
    /// Webhooks) so it tells roundtrip of new posts, comments, status
    /// changes and deletions: URL, headers and the JSON content template.
    FiderWebhookTemplate(FiderTemplateArgs),
}

/// Arguments of `config fider-webhook-template`.
#[derive(Debug, clap::Args)]
pub struct FiderTemplateArgs {
    /// The config file (its [portal] section must say kind = "fider").
    #[arg(
        long,
        short = 'c',
        value_name = "FILE",
        default_value = "roundtrip.toml"
    )]
    pub config: PathBuf,
    /// How Fider reaches roundtrip's webhook server, e.g.
    /// https://sync.example.com (default: http://<[webhooks] listen>).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Write the shared secret itself into the output instead of a
    /// placeholder naming its environment variable.
    #[arg(long)]
    pub show_secret: bool,
    /// Print the webhooks as JSON (for scripts).
    #[arg(long)]
    pub json: bool,
}

/// Run a `config` subcommand.
pub fn run(cmd: &ConfigCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ConfigCommand::Check { config } => {
            let c = Config::load(config)?;
            c.secrets()?;
            let portal = match c.portal.kind {
                crate::domain::PortalKind::Canny => format!("Canny board \"{}\"", c.portal.board),
                crate::domain::PortalKind::Fider => format!("Fider site {}", c.portal.api_url),
            };
            outln!(
                "{}: ok (Linear team {}, {portal}, webhooks on {})",
                config.display(),
                c.linear.team,
                c.webhooks.listen
            )?;
        }
        ConfigCommand::Show { config } => {
            let c = Config::load(config)?;
            out::text(&toml::to_string_pretty(&c)?)?;
        }
        ConfigCommand::Example => out::text(crate::config::EXAMPLE)?,
        ConfigCommand::FiderWebhookTemplate(args) => fider_template(args)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn fider_template(args: &FiderTemplateArgs) -> anyhow::Result<()> {
    use crate::connector::fider::{SecretIn, webhook_templates};
    let c = Config::load(&args.config)?;
    if c.portal.kind != crate::domain::PortalKind::Fider {
        return Err(super::UsageError(format!(
            "{}: [portal] kind is \"{}\"; the Fider webhook template is for kind = \"fider\"",
            args.config.display(),
            c.portal.kind
        ))
        .into());
    }
    let var = c
        .portal
        .webhook_secret_env
        .clone()
        .unwrap_or_else(|| "FIDER_WEBHOOK_SECRET".into());
    let secret = if args.show_secret {
        c.lookup_secret(&var)?
            .ok_or_else(|| {
                super::UsageError(format!(
                    "--show-secret: the environment variable {var} (portal.webhook_secret_env) is not set"
                ))
            })?
            .expose()
            .to_string()
    } else {
        format!("<value of ${var}>")
    };
    let secret_in = match c.portal.secret_header() {
        Some(h) => SecretIn::Header(h.to_string()),
        None => SecretIn::Path,
    };
    let base = args
        .url
        .clone()
        .unwrap_or_else(|| format!("http://{}", c.webhooks.listen));
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(super::UsageError(format!("--url '{base}' is not an http(s) URL")).into());
    }
    let templates = webhook_templates(&base, &secret_in, &secret);
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&templates)?)?;
        return Ok(());
    }
    let site = c
        .portal
        .api_url
        .trim_end_matches('/')
        .trim_end_matches("/api/v1");
    let mut text = format!(
        "# Create these {n} webhooks in Fider as an administrator: {site}/admin/webhooks\n\
         # (Administration → Webhooks → New), one per type. Fider sends each event once,\n\
         # unsigned and never again; roundtrip accepts a delivery only with the shared\n\
         # secret ({var}) and re-reads the post. Fider turns a webhook off after one\n\
         # failed delivery: `roundtrip status` says when, and which one to switch on.\n\
         # Fider refuses private and loopback URLs unless it runs with\n\
         # ALLOW_PRIVATE_NETWORK_TARGETS=true.\n",
        n = templates.len()
    );
    for t in &templates {
        text.push_str(&format!(
            "\n## {label} ({kind})\nName:         {name}\nType:         {label}\nEnabled:      on\nURL:          {url}\nHTTP Method:  {method}\n",
            label = t.label,
            kind = t.kind,
            name = t.name,
            url = t.url,
            method = t.method
        ));
        for (i, (k, v)) in t.headers.iter().enumerate() {
            let lead = if i == 0 {
                "HTTP Headers: "
            } else {
                "              "
            };
            text.push_str(&format!("{lead}{k}: {v}\n"));
        }
        text.push_str(&format!("Content:\n{}\n", t.content));
    }
    out::text(&text)?;
    Ok(())
}
