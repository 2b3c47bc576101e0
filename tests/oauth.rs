//! OAuth 2.0 for Linear and secret rotation (issue AUTH), end to end over
//! loopback HTTP against the simulators: `roundtrip auth linear` following
//! the simulator's redirect (and the pasted-URL path used over SSH), the
//! daemon refreshing before expiry and on a 401 while it keeps syncing, a
//! revoked grant pausing the connector with the command to run, SIGHUP
//! rotating the webhook secret with an overlap that loses no delivery, and
//! no token ever reaching the store, the logs or `status --json`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed setup step should stop with its message

mod support {
    pub mod harness;
}

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use roundtrip::auth::token_file;
use roundtrip::auth::{Actor, OAuthEndpoints, TokenManager, TokenSet};
use roundtrip::config::Secret;
use roundtrip::domain::Side;
use roundtrip::sim::canny::{CannySim, CannySimConfig};
use roundtrip::sim::linear::{LinearSim, LinearSimConfig};
use roundtrip::store::{OpenMode, Store};
use sha2::Sha256;
use support::harness::eventually;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn endpoints(sim: &LinearSim, redirect: &str) -> OAuthEndpoints {
    OAuthEndpoints {
        authorize_url: sim.oauth_authorize_url(),
        token_url: sim.oauth_token_url(),
        client_id: sim.oauth_client_id(),
        client_secret: None,
        redirect_uri: redirect.to_string(),
        timeout: Duration::from_secs(5),
    }
}

/// Follow an authorize URL as a browser would, without one: the simulator
/// approves at once and answers 302 to the callback.
async fn follow_authorize(url: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http.get(url).send().await.unwrap();
    assert_eq!(
        r.status().as_u16(),
        302,
        "authorize answered {}",
        r.status()
    );
    r.headers()["location"].to_str().unwrap().to_string()
}

/// Sign in through the library (PKCE, redirect followed by hand).
async fn sign_in(sim: &LinearSim, actor: Actor) -> TokenSet {
    let redirect = format!("http://127.0.0.1:{}/callback", free_port());
    sim.register_redirect_uri(&redirect);
    let ep = endpoints(sim, &redirect);
    let req = ep
        .authorize(&["read".into(), "write".into()], actor)
        .unwrap();
    let location = follow_authorize(req.url.as_str()).await;
    let u = url::Url::parse(&location).unwrap();
    let q: std::collections::HashMap<_, _> = u.query_pairs().into_owned().collect();
    assert_eq!(q["state"], *req.state.secret());
    ep.exchange(&q["code"], req.verifier, actor).await.unwrap()
}

fn write_config(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("roundtrip.toml");
    std::fs::write(&path, body).unwrap();
    path
}

fn oauth_section(sim: &LinearSim, redirect: &str) -> String {
    format!(
        "auth = \"oauth\"\ntoken_file = \"linear-token.json\"\noauth_authorize_url = \"{}\"\noauth_token_url = \"{}\"\noauth_redirect_uri = \"{redirect}\"\n",
        sim.oauth_authorize_url(),
        sim.oauth_token_url()
    )
}

/// A config for `auth linear` against the simulator, with `redirect`
/// registered as the application's callback.
fn auth_config(dir: &Path, sim: &LinearSim, redirect: &str) -> PathBuf {
    sim.register_redirect_uri(redirect);
    write_config(
        dir,
        &format!(
            "[linear]\napi_url = \"{}\"\nteam = \"ENG\"\n{}[portal]\nboard = \"Feature Requests\"\n",
            sim.graphql_url(),
            oauth_section(sim, redirect)
        ),
    )
}

fn read_url_line(out: &mut impl BufRead, transcript: &mut String) -> String {
    loop {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "no URL in: {transcript}"
        );
        transcript.push_str(&line);
        if let Some(u) = line.trim().strip_prefix("http://") {
            return format!("http://{u}");
        }
    }
}

fn finish(mut child: Child, transcript: &mut String) -> i32 {
    let mut rest = String::new();
    if let Some(mut o) = child.stdout.take() {
        std::io::Read::read_to_string(&mut o, &mut rest).unwrap();
    }
    if let Some(mut e) = child.stderr.take() {
        std::io::Read::read_to_string(&mut e, &mut rest).unwrap();
    }
    transcript.push_str(&rest);
    child.wait().unwrap().code().unwrap_or(-1)
}

fn spawn_auth(config: &Path, sim: &LinearSim, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_roundtrip"))
        .args(["auth", "linear", "--config"])
        .arg(config)
        .args(extra)
        .env("LINEAR_CLIENT_ID", sim.oauth_client_id())
        .env("LINEAR_CLIENT_SECRET", sim.oauth_client_secret())
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn assert_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{} is {:o}", path.display(), mode);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_linear_follows_the_loopback_redirect_and_stores_a_private_token_file() {
    let sim = LinearSim::start(LinearSimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let redirect = format!("http://127.0.0.1:{}/callback", free_port());
    let config = auth_config(dir.path(), &sim, &redirect);
    let mut child = spawn_auth(&config, &sim, &["--actor", "app", "--scopes", "read,write"]);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut transcript = String::new();
    let url = read_url_line(&mut out, &mut transcript);
    // The printed URL is the configured authorize endpoint with PKCE S256.
    assert!(url.starts_with(&sim.oauth_authorize_url()), "{url}");
    let pairs: std::collections::HashMap<_, _> = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(pairs["code_challenge_method"], "S256");
    assert_eq!(pairs["scope"], "read,write");
    assert_eq!(pairs["actor"], "app");
    let location = follow_authorize(&url).await;
    assert!(location.starts_with(&redirect), "{location}");
    let page = reqwest::get(&location).await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    child.stdout = Some(out.into_inner());
    let code = finish(child, &mut transcript);
    assert_eq!(code, 0, "{transcript}");
    assert!(transcript.contains("signed in as"), "{transcript}");
    let token_path = dir.path().join("linear-token.json");
    assert_private(&token_path);
    let tokens = token_file::read(&token_path).unwrap();
    assert_eq!(tokens.actor, Actor::App);
    assert_eq!(tokens.scopes, ["read", "write"]);
    let refresh = tokens.refresh_token.clone().unwrap();
    assert!(!transcript.contains(&tokens.access_token), "{transcript}");
    assert!(!transcript.contains(&refresh), "{transcript}");
    assert_eq!(sim.oauth_stats().codes_exchanged, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_linear_over_ssh_accepts_the_pasted_redirect() {
    let sim = LinearSim::start(LinearSimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The callback port is taken, as when the browser runs elsewhere and
    // nothing will ever arrive there: the pasted address must do.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let redirect = format!("http://{}/callback", busy.local_addr().unwrap());
    let config = auth_config(dir.path(), &sim, &redirect);
    let mut child = spawn_auth(&config, &sim, &[]);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut transcript = String::new();
    let url = read_url_line(&mut out, &mut transcript);
    let location = follow_authorize(&url).await;
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "not a code!").unwrap();
    writeln!(stdin, "{location}").unwrap();
    child.stdout = Some(out.into_inner());
    let code = finish(child, &mut transcript);
    assert_eq!(code, 0, "{transcript}");
    assert!(transcript.contains("paste"), "{transcript}");
    assert!(
        transcript.contains("neither the redirected address"),
        "{transcript}"
    );
    let tokens = token_file::read(&dir.path().join("linear-token.json")).unwrap();
    assert_eq!(tokens.actor, Actor::User);
    drop(busy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_sharing_the_token_file_refresh_once_between_them() {
    let sim = LinearSim::start(LinearSimConfig::default()).await.unwrap();
    let tokens = sign_in(&sim, Actor::User).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tok.json");
    token_file::write(&path, &tokens).unwrap();
    let ep = endpoints(&sim, "http://127.0.0.1:8789/callback");
    // Two managers stand for the daemon and a CLI command: separate state,
    // one file.
    let a = Arc::new(TokenManager::new(path.clone(), ep.clone(), "reauth".into()));
    let b = Arc::new(TokenManager::new(path.clone(), ep, "reauth".into()));
    let old = Secret::new(tokens.access_token.clone());
    let (ra, rb) = tokio::join!(a.rejected(&old), b.rejected(&old));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra, rb, "both use the one refreshed token");
    assert_ne!(ra, old);
    let stats = sim.oauth_stats();
    assert_eq!(stats.refreshes, 1, "{stats:?}");
    assert_eq!(stats.invalid_grants, 0, "{stats:?}");
    let on_disk = token_file::read(&path).unwrap();
    assert_eq!(on_disk.access_token, ra.expose());
    assert_ne!(on_disk.refresh_token, tokens.refresh_token, "rotated");
    assert_private(&path);
}

const WEBHOOK_SECRET: &str = "lin_wh_sim";

struct Daemon {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    config: PathBuf,
    linear: LinearSim,
    canny: CannySim,
}

/// Simulators and a directory, before the daemon starts (so a test can
/// sign in or write a secrets file first).
struct Stage {
    linear: LinearSim,
    canny: CannySim,
    dir: tempfile::TempDir,
}

impl Stage {
    async fn new(sim_cfg: LinearSimConfig) -> Stage {
        let linear = LinearSim::start(LinearSimConfig {
            webhook_retry_delays: vec![Duration::from_millis(200)],
            ..sim_cfg
        })
        .await
        .unwrap();
        let canny = CannySim::start(CannySimConfig::default()).await.unwrap();
        Stage {
            linear,
            canny,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Start `roundtrip run` with `section` in `[linear]`, `extra` at the
    /// end of the file and `env` in its environment.
    async fn launch(self, section: &str, extra: &str, env: &[(&str, &str)]) -> Daemon {
        let Stage { linear, canny, dir } = self;
        let port = free_port();
        let config = write_config(
            dir.path(),
            &format!(
                "[store]\npath = \"rt.db\"\n[linear]\napi_url = \"{}\"\nteam = \"ENG\"\n{section}[portal]\napi_url = \"{}\"\nboard = \"Feature Requests\"\n[webhooks]\nlisten = \"127.0.0.1:{port}\"\n[sync]\nreconcile_interval = \"1h\"\n[log]\ndir = \"logs\"\nlevel = \"debug\"\n{extra}",
                linear.graphql_url(),
                canny.base_url()
            ),
        );
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_roundtrip"));
        cmd.args(["run", "--config"])
            .arg(&config)
            .env("LINEAR_API_KEY", "lin_api_sim")
            .env("CANNY_API_KEY", "canny_sim_key")
            .env("LINEAR_CLIENT_ID", linear.oauth_client_id())
            .env_remove("LINEAR_WEBHOOK_SECRET")
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap();
        let d = Daemon {
            child: Some(child),
            port,
            dir,
            config,
            linear,
            canny,
        };
        let url = d.url("/healthz");
        eventually("daemon to listen", 20, async || {
            reqwest::get(&url).await.ok()
        })
        .await;
        d.linear.set_webhook_url(Some(d.url("/webhooks/linear")));
        d.canny.set_webhook_url(Some(d.url("/webhooks/canny")));
        d
    }
}

impl Daemon {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn store(&self) -> Store {
        Store::open(&self.dir.path().join("rt.db"), OpenMode::ReadOnly).unwrap()
    }

    fn cli(&self, args: &[&str]) -> (i32, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_roundtrip"))
            .args(args)
            .arg("--db")
            .arg(self.dir.path().join("rt.db"))
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        assert!(
            Command::new("kill")
                .args([sig, &pid])
                .status()
                .unwrap()
                .success()
        );
    }

    async fn synced_issue(&self, title: &str) -> String {
        let post = self.canny.create_post(title, "from a customer").unwrap();
        self.canny.set_status(&post, "planned").unwrap();
        eventually(&format!("'{title}' to reach Linear"), 30, async || {
            self.store()
                .db()
                .link_by_remote(Side::Portal, &post)
                .ok()??
                .linear_id
        })
        .await
    }

    fn paused(&self) -> Option<String> {
        self.store()
            .db()
            .summary()
            .ok()
            .and_then(|s| s.linear_paused)
    }

    /// Every byte roundtrip wrote: the store (with WAL) and the log files.
    fn written_bytes(&self) -> Vec<u8> {
        let mut all = Vec::new();
        for entry in walk(self.dir.path()) {
            let name = entry.file_name().unwrap().to_string_lossy().to_string();
            if name.starts_with("rt.db") || entry.starts_with(self.dir.path().join("logs")) {
                all.extend(std::fs::read(&entry).unwrap_or_default());
            }
        }
        all
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

async fn store_tokens(d: &Daemon, actor: Actor) -> TokenSet {
    let t = sign_in(&d.linear, actor).await;
    token_file::write(&d.dir.path().join("linear-token.json"), &t).unwrap();
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_refreshes_on_expiry_and_on_401_and_pauses_when_revoked() {
    let stage = Stage::new(LinearSimConfig {
        token_ttl: Duration::from_secs(4),
        ..LinearSimConfig::default()
    })
    .await;
    // The daemon refuses to start without a token file: sign in first.
    let first = sign_in(&stage.linear, Actor::User).await;
    token_file::write(&stage.dir.path().join("linear-token.json"), &first).unwrap();
    let section = oauth_section(&stage.linear, "http://127.0.0.1:8789/callback");
    let d = stage
        .launch(&section, "", &[("LINEAR_WEBHOOK_SECRET", WEBHOOK_SECRET)])
        .await;
    let mut seen = vec![
        first.access_token.clone(),
        first.refresh_token.clone().unwrap(),
    ];

    d.synced_issue("Dark mode").await;
    // Outlive the 4 s token: the next sync refreshes before sending.
    let before = d.linear.oauth_stats().refreshes;
    tokio::time::sleep(Duration::from_secs(4)).await;
    d.synced_issue("Offline mode").await;
    assert!(
        d.linear.oauth_stats().refreshes > before,
        "refreshed before expiry"
    );

    // Linear refuses the token it holds: a 401, one refresh, the same call again.
    d.linear.expire_access_tokens();
    let before = d.linear.oauth_stats().refreshes;
    d.synced_issue("Keyboard shortcuts").await;
    assert!(
        d.linear.oauth_stats().refreshes > before,
        "refreshed after a 401"
    );
    assert_eq!(d.paused(), None);
    assert_eq!(d.linear.oauth_stats().invalid_grants, 0);
    // A user-actor token never sends createAsUser (Linear allows it only
    // to app actors).
    assert!(d.linear.attributions().is_empty());
    let on_disk = token_file::read(&d.dir.path().join("linear-token.json")).unwrap();
    assert_private(&d.dir.path().join("linear-token.json"));
    seen.push(on_disk.access_token.clone());
    seen.extend(on_disk.refresh_token.clone());

    // The application is removed from the workspace.
    d.linear.revoke_oauth_grants();
    let post = d.canny.create_post("Export to CSV", "x").unwrap();
    d.canny.set_status(&post, "planned").unwrap();
    let why = eventually("the Linear connector to pause", 30, async || d.paused()).await;
    let command = format!(
        "roundtrip auth linear --config {}",
        std::fs::canonicalize(&d.config).unwrap().display()
    );
    assert!(why.contains("invalid_grant"), "{why}");
    assert!(why.contains(&command), "{why}");
    let (code, status) = d.cli(&["status"]);
    assert_eq!(code, 2, "{status}");
    assert!(status.contains(&command), "{status}");
    let health: serde_json::Value = reqwest::get(d.url("/healthz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(health.to_string().contains(&command), "{health}");
    let (_, json) = d.cli(&["status", "--json"]);

    // Signing in again and resuming brings sync back.
    let fresh = store_tokens(&d, Actor::User).await;
    seen.push(fresh.access_token.clone());
    seen.extend(fresh.refresh_token.clone());
    let (code, out) = d.cli(&["resume", "linear"]);
    assert_eq!(code, 0, "{out}");
    d.synced_issue("Calendar sync").await;
    assert_eq!(d.paused(), None);

    let written = d.written_bytes();
    assert!(!written.is_empty());
    for token in &seen {
        assert!(
            !contains(&written, token),
            "a token reached the store or the logs"
        );
        assert!(
            !json.contains(token.as_str()),
            "a token reached status --json"
        );
    }
}

fn sign_with(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn delivery(n: usize) -> Vec<u8> {
    serde_json::json!({
        "action": "update", "type": "Issue", "createdAt": "2026-11-25T00:00:00.000Z",
        "data": {"id": format!("00000000-0000-4000-8000-{n:012}"), "title": "x"},
        "url": "https://linear.app/x", "webhookId": "wh", "organizationId": "org",
        "webhookTimestamp": chrono::Utc::now().timestamp_millis(),
    })
    .to_string()
    .into_bytes()
}

async fn post(http: &reqwest::Client, d: &Daemon, n: usize, secret: &str) -> u16 {
    let body = delivery(n);
    http.post(d.url("/webhooks/linear"))
        .header("Content-Type", "application/json")
        .header("Linear-Delivery", format!("rot-{n}"))
        .header("Linear-Event", "Issue")
        .header("Linear-Signature", sign_with(secret, &body))
        .body(body)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_rotates_the_webhook_secret_with_an_overlap_and_loses_no_delivery() {
    let stage = Stage::new(LinearSimConfig::default()).await;
    let env_file = stage.dir.path().join("secrets.env");
    std::fs::write(&env_file, "LINEAR_WEBHOOK_SECRET=old-secret\n").unwrap();
    let d = stage
        .launch(
            "previous_webhook_secret_env = \"LINEAR_WEBHOOK_SECRET_PREVIOUS\"\nrotation_overlap = \"24h\"\n",
            "[secrets]\nenv_file = \"secrets.env\"\n",
            &[],
        )
        .await;
    // One client, so the deliveries share kept-alive connections across the
    // reload: a dropped connection would show up as a failed send (0).
    let http = reqwest::Client::new();
    let mut n = 0;
    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses.push(post(&http, &d, n, "old-secret").await);
        n += 1;
    }
    // Step 1: roundtrip learns the new secret and keeps the old one.
    std::fs::write(
        &env_file,
        "LINEAR_WEBHOOK_SECRET=new-secret\nLINEAR_WEBHOOK_SECRET_PREVIOUS=old-secret\n",
    )
    .unwrap();
    d.signal("-HUP");
    let sender = {
        let http = http.clone();
        let url = d.url("/webhooks/linear");
        tokio::spawn(async move {
            // Linear keeps delivering (and retrying) with the old secret
            // while the reload happens.
            let mut out = Vec::new();
            for i in 0..40 {
                let body = delivery(1000 + i);
                let s = http
                    .post(&url)
                    .header("Content-Type", "application/json")
                    .header("Linear-Delivery", format!("rot-{}", 1000 + i))
                    .header("Linear-Event", "Issue")
                    .header("Linear-Signature", sign_with("old-secret", &body))
                    .body(body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                out.push(s);
            }
            out
        })
    };
    eventually("the reload to be logged", 20, async || {
        let (_, log) = d.cli(&["status"]);
        log.contains("previous Linear webhook secret accepted until")
            .then_some(())
    })
    .await;
    statuses.extend(sender.await.unwrap());
    // Step 2: the webhook in Linear now signs with the new secret; retries of
    // older deliveries still carry the old one.
    for i in 0..20 {
        let secret = if i % 4 == 0 {
            "old-secret"
        } else {
            "new-secret"
        };
        statuses.push(post(&http, &d, n, secret).await);
        n += 1;
    }
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let stored = d
        .store()
        .db()
        .deliveries(roundtrip::store::Window::first(10_000))
        .unwrap()
        .len();
    assert_eq!(
        stored,
        statuses.len(),
        "every acknowledged delivery is stored"
    );
    // A secret that is neither is still refused.
    assert_eq!(post(&http, &d, n, "other-secret").await, 401);
    let (_, json) = d.cli(&["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(
        v["linear_webhook_rotation"]["ends_at"].is_string(),
        "{json}"
    );
    assert!(!json.contains("old-secret") && !json.contains("new-secret"));
    assert!(!contains(&d.written_bytes(), "old-secret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_actor_writes_name_the_customer_they_come_from() {
    let stage = Stage::new(LinearSimConfig::default()).await;
    let tokens = sign_in(&stage.linear, Actor::App).await;
    token_file::write(&stage.dir.path().join("linear-token.json"), &tokens).unwrap();
    let section = format!(
        "{}attribution_icon_url = \"https://portal.example/icon.png\"\n",
        oauth_section(&stage.linear, "http://127.0.0.1:8789/callback")
    );
    let d = stage
        .launch(&section, "", &[("LINEAR_WEBHOOK_SECRET", WEBHOOK_SECRET)])
        .await;
    let issue = d.synced_issue("Bulk edit").await;
    let post = d
        .store()
        .db()
        .link_by_remote(Side::Linear, &issue)
        .unwrap()
        .unwrap()
        .portal_id
        .unwrap();
    d.canny
        .add_comment(&post, "We need this for 300 seats")
        .unwrap();
    let comment = eventually("the comment to be mirrored", 30, async || {
        d.linear
            .comments(&issue)
            .into_iter()
            .find(|c| c.body.contains("300 seats"))
    })
    .await;
    let attributed = d.linear.attributions();
    let on_comment = attributed
        .iter()
        .find(|a| a.entity_id == comment.id)
        .unwrap_or_else(|| panic!("comment not attributed: {attributed:?}"));
    assert!(on_comment.name.ends_with(" via Canny"), "{on_comment:?}");
    assert_ne!(on_comment.name, "Someone via Canny", "{on_comment:?}");
    assert_eq!(
        on_comment.icon_url.as_deref(),
        Some("https://portal.example/icon.png")
    );
    assert!(
        attributed.iter().any(|a| a.name == "Canny"),
        "the portal-link attachment names the portal: {attributed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_refuses_expired_and_revoked_tokens_as_linear_does() {
    let sim = LinearSim::start(LinearSimConfig::default()).await.unwrap();
    let tokens = sign_in(&sim, Actor::User).await;
    let http = reqwest::Client::new();
    let viewer = async |token: &str| {
        let r = http
            .post(sim.graphql_url())
            .header("Authorization", format!("Bearer {token}"))
            .json(&serde_json::json!({"query": "{ viewer { id } }"}))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: serde_json::Value = r.json().await.unwrap();
        (status, body)
    };
    let (status, body) = viewer(&tokens.access_token).await;
    assert_eq!(status, 200, "{body}");
    sim.expire_access_tokens();
    let (status, body) = viewer(&tokens.access_token).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "AUTHENTICATION_ERROR"
    );
    // A refresh gives a working token; revoking it ends the grant.
    let ep = endpoints(&sim, "http://127.0.0.1:8789/callback");
    let fresh = ep.refresh(&tokens).await.unwrap();
    assert_eq!(viewer(&fresh.access_token).await.0, 200);
    let revoke = http
        .post(sim.oauth_revoke_url())
        .form(&[("refresh_token", fresh.refresh_token.clone().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status().as_u16(), 200);
    let (_, body) = viewer(&fresh.access_token).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "AUTHENTICATION_ERROR"
    );
    let refused = ep.refresh(&fresh).await.unwrap_err();
    assert!(
        matches!(refused, roundtrip::auth::OAuthError::InvalidGrant(_)),
        "{refused:?}"
    );
}

#[test]
fn sim_prints_the_oauth_client_and_token_lifetime_on_start() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_roundtrip"))
        .args(["sim", "--linear-token-ttl", "30s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    let o = &v["linear"]["oauth"];
    assert_eq!(o["client_id"], "lin_oauth_client_sim", "{line}");
    assert_eq!(o["client_secret"], "lin_oauth_secret_sim", "{line}");
    assert_eq!(o["token_ttl_secs"], 30);
    assert!(
        o["authorize_url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
}
