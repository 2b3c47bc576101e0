//! `roundtrip run` as a deployed daemon (issue DAEMON): the real binary, real
//! HTTP on loopback, the simulators as the remote systems. Rejections store
//! nothing, acknowledged deliveries are durable, duplicates store once,
//! /metrics and /healthz tell the truth, SIGTERM loses nothing acknowledged,
//! and the operator CLI's retries and resolutions reach both sides.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a failed setup step should stop with its message

mod support {
    pub mod harness;
}

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hmac::{Hmac, Mac};
use roundtrip::domain::Side;
use roundtrip::sim::canny::{CannySim, CannySimConfig};
use roundtrip::sim::faults::ApiFaults;
use roundtrip::sim::linear::{LinearSim, LinearSimConfig};
use roundtrip::store::{ConflictFilter, ConflictStatus, OpenMode, Store, Window};
use sha2::Sha256;
use support::harness::eventually;

const SECRET: &str = "lin_wh_sim";

struct Daemon {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    linear: LinearSim,
    canny: CannySim,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl Daemon {
    async fn start(linear_key: &str, extra_sync: &str) -> Daemon {
        let linear = LinearSim::start(LinearSimConfig {
            webhook_retry_delays: vec![Duration::from_millis(200)],
            ..LinearSimConfig::default()
        })
        .await
        .expect("linear sim");
        let canny = CannySim::start(CannySimConfig::default())
            .await
            .expect("canny sim");
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let config = format!(
            "[store]\npath = \"rt.db\"\n[linear]\napi_url = \"{}\"\nteam = \"ENG\"\n[portal]\napi_url = \"{}\"\nboard = \"Feature Requests\"\n[webhooks]\nlisten = \"127.0.0.1:{port}\"\nmax_body_bytes = 4096\n[sync]\nreconcile_interval = \"1h\"\n{extra_sync}",
            linear.graphql_url(),
            canny.base_url()
        );
        std::fs::write(dir.path().join("roundtrip.toml"), config).expect("config");
        let child = Command::new(env!("CARGO_BIN_EXE_roundtrip"))
            .args(["run", "--config"])
            .arg(dir.path().join("roundtrip.toml"))
            .env("LINEAR_API_KEY", linear_key)
            .env("LINEAR_WEBHOOK_SECRET", SECRET)
            .env("CANNY_API_KEY", "canny_sim_key")
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn daemon");
        let d = Daemon {
            child: Some(child),
            port,
            dir,
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

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn db_path(&self) -> PathBuf {
        self.dir.path().join("rt.db")
    }

    fn store(&self) -> Store {
        Store::open(&self.db_path(), OpenMode::ReadOnly).expect("store")
    }

    fn deliveries(&self) -> Vec<String> {
        self.store()
            .db()
            .deliveries(Window::first(100_000))
            .expect("deliveries")
            .into_iter()
            .map(|d| d.delivery_id)
            .collect()
    }

    fn signal(&self, sig: &str) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .args([sig, &c.id().to_string()])
                .status();
        }
    }

    fn wait(&mut self) -> i32 {
        let mut child = self.child.take().expect("child");
        for _ in 0..200 {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code().unwrap_or(-1);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        panic!("daemon did not exit within 10 s");
    }

    fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_roundtrip"))
            .args(args)
            .arg("--db")
            .arg(self.db_path())
            .output()
            .expect("cli");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn linear_body(issue: &str, ts_ms: i64) -> Vec<u8> {
    serde_json::json!({
        "action": "update", "type": "Issue", "createdAt": "2026-11-25T00:00:00.000Z",
        "data": {"id": issue, "title": "x"}, "url": "https://linear.app/x",
        "webhookTimestamp": ts_ms, "webhookId": "wh", "organizationId": "org"
    })
    .to_string()
    .into_bytes()
}

async fn post_linear(
    http: &reqwest::Client,
    d: &Daemon,
    delivery: &str,
    body: Vec<u8>,
    sig: Option<String>,
) -> u16 {
    let mut req = http
        .post(d.url("/webhooks/linear"))
        .header("Content-Type", "application/json")
        .header("Linear-Delivery", delivery)
        .header("Linear-Event", "Issue");
    if let Some(s) = sig {
        req = req.header("Linear-Signature", s);
    }
    req.body(body)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejections_store_nothing_and_valid_deliveries_are_durable_before_200() {
    let d = Daemon::start("lin_api_sim", "").await;
    let http = reqwest::Client::new();
    let fresh = linear_body("00000000-0000-4000-8000-00000000abcd", now_ms());
    // Too large: 413.
    let big = vec![b' '; 8192];
    assert_eq!(
        post_linear(&http, &d, "d-big", big.clone(), Some(sign(&big))).await,
        413
    );
    // Missing and wrong signatures: 401.
    assert_eq!(
        post_linear(&http, &d, "d-nosig", fresh.clone(), None).await,
        401
    );
    assert_eq!(
        post_linear(&http, &d, "d-badsig", fresh.clone(), Some("00".repeat(32))).await,
        401
    );
    // Stale timestamp, correctly signed: 401.
    let stale = linear_body("00000000-0000-4000-8000-00000000abcd", now_ms() - 120_000);
    assert_eq!(
        post_linear(&http, &d, "d-stale", stale.clone(), Some(sign(&stale))).await,
        401
    );
    // Signed but not JSON: 400.
    let junk = b"not json at all".to_vec();
    assert_eq!(
        post_linear(&http, &d, "d-junk", junk.clone(), Some(sign(&junk))).await,
        400
    );
    // Canny with a bad signature: 401.
    let status = http
        .post(d.url("/webhooks/canny"))
        .header("canny-nonce", "n1")
        .header("canny-signature", "bm9wZQ==")
        .header("canny-timestamp", now_ms().to_string())
        .body("{}")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(status, 401);
    assert!(
        d.deliveries().is_empty(),
        "nothing stored for rejected requests"
    );

    // A valid delivery is in the inbox by the time its 200 arrives.
    assert_eq!(
        post_linear(&http, &d, "d-ok", fresh.clone(), Some(sign(&fresh))).await,
        200
    );
    assert_eq!(d.deliveries(), vec!["d-ok".to_string()]);
    // A duplicate answers 200 and stores nothing new.
    assert_eq!(
        post_linear(&http, &d, "d-ok", fresh.clone(), Some(sign(&fresh))).await,
        200
    );
    assert_eq!(d.deliveries().len(), 1);

    // /metrics is Prometheus text and counts what happened.
    let text = http
        .get(d.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut samples = std::collections::HashMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (name, value) = line.rsplit_once(' ').expect("name value");
        let v: f64 = value.parse().unwrap_or_else(|_| panic!("value in {line}"));
        assert!(
            name.chars().next().is_some_and(|c| c.is_ascii_alphabetic()),
            "{line}"
        );
        samples.insert(name.to_string(), v);
    }
    assert!(
        text.trim_end().ends_with("# EOF"),
        "OpenMetrics text ends with # EOF"
    );
    let get = |k: &str| samples.get(k).copied().unwrap_or(0.0);
    assert_eq!(
        get(r#"roundtrip_webhook_deliveries_total{source="linear",outcome="stored"}"#),
        1.0
    );
    assert_eq!(
        get(r#"roundtrip_webhook_deliveries_total{source="linear",outcome="duplicate"}"#),
        1.0
    );
    assert_eq!(
        get(r#"roundtrip_webhook_deliveries_total{source="linear",outcome="bad_signature"}"#),
        1.0
    );
    assert_eq!(
        get(r#"roundtrip_webhook_deliveries_total{source="linear",outcome="missing_signature"}"#),
        1.0
    );
    assert_eq!(
        get(r#"roundtrip_webhook_deliveries_total{source="linear",outcome="too_large"}"#),
        1.0
    );
    assert_eq!(
        get(r#"roundtrip_webhook_deliveries_total{source="linear",outcome="stale"}"#),
        1.0
    );
    assert_eq!(
        get(r#"roundtrip_webhook_deliveries_total{source="linear",outcome="malformed"}"#),
        1.0
    );
    assert!(
        samples.keys().any(|k| k.starts_with("roundtrip_jobs{")),
        "{text}"
    );
    assert!(samples.contains_key("roundtrip_open_conflicts"), "{text}");
    assert!(
        samples
            .keys()
            .any(|k| k.starts_with("roundtrip_api_requests_total{")),
        "{text}"
    );
    // Healthy while the engine runs.
    let health = http.get(d.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_is_503_with_the_reason_when_linear_refuses_the_key() {
    let d = Daemon::start("lin_api_wrong", "").await;
    let http = reqwest::Client::new();
    let body = eventually("healthz to report the auth pause", 20, async || {
        let r = http.get(d.url("/healthz")).send().await.ok()?;
        if r.status().as_u16() != 503 {
            return None;
        }
        let v: serde_json::Value = r.json().await.ok()?;
        v["reasons"]
            .as_array()?
            .iter()
            .any(|r| {
                r.as_str()
                    .is_some_and(|s| s.contains("Linear connector paused"))
            })
            .then_some(v)
    })
    .await;
    assert_eq!(body["verdict"], "down");
    let text = serde_json::to_string(&body).unwrap();
    assert!(
        !text.contains("lin_api_wrong"),
        "the key never appears: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_burst_loses_no_acknowledged_delivery() {
    let mut d = Daemon::start("lin_api_sim", "").await;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let acks = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // 16 senders keep deliveries flowing until the daemon stops answering.
    let mut tasks = Vec::new();
    for worker in 0..16 {
        let http = http.clone();
        let url = d.url("/webhooks/linear");
        let acks = acks.clone();
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for n in 0..2_000 {
                let delivery = format!("burst-{worker}-{n}");
                // Each delivery is a different signed body (as Linear's
                // are): the same body under a new id is a duplicate.
                let body = serde_json::json!({
                    "action": "update", "type": "Issue",
                    "data": {"id": "00000000-0000-4000-8000-00000000beef", "title": &delivery},
                    "webhookTimestamp": now_ms(),
                })
                .to_string()
                .into_bytes();
                let status = http
                    .post(&url)
                    .header("Linear-Delivery", &delivery)
                    .header("Linear-Event", "Issue")
                    .header("Linear-Signature", sign(&body))
                    .body(body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16());
                match status {
                    Ok(200) => {
                        acked.push(delivery);
                        acks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            acked
        }));
    }
    eventually("a stream of acknowledged deliveries", 20, async || {
        (acks.load(std::sync::atomic::Ordering::Relaxed) >= 200).then_some(())
    })
    .await;
    d.signal("-TERM");
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    assert_eq!(d.wait(), 0, "graceful exit");
    assert!(
        !acked.is_empty(),
        "some deliveries were acknowledged before the signal"
    );
    let stored: std::collections::HashSet<String> = d.deliveries().into_iter().collect();
    for id in &acked {
        assert!(stored.contains(id), "acknowledged delivery {id} was lost");
    }
    assert!(
        !Path::new(&format!("{}-wal", d.db_path().display())).exists() || {
            // A checkpointed WAL is empty.
            std::fs::metadata(format!("{}-wal", d.db_path().display()))
                .map(|m| m.len() == 0)
                .unwrap_or(true)
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_retry_turns_a_dead_create_into_an_issue() {
    let d = Daemon::start("lin_api_sim", "max_attempts = 1\n").await;
    d.linear.set_faults(ApiFaults {
        server_error: 1.0,
        ..ApiFaults::default()
    });
    let post = d.canny.create_post("Retry from the shell", "x").unwrap();
    d.canny.set_status(&post, "planned").unwrap();
    eventually("the create to be dead", 20, async || {
        let (_, out, _) = d.cli(&["jobs", "list", "--status", "dead", "--json"]);
        let v: serde_json::Value = serde_json::from_str(&out).ok()?;
        (v.as_array()?.len() == 1).then_some(())
    })
    .await;
    d.linear.set_faults(ApiFaults::default());
    let (code, out, err) = d.cli(&["jobs", "retry", "--all-failed"]);
    assert_eq!(code, 0, "{out}{err}");
    let issue = eventually("the retried create to succeed", 30, async || {
        d.store()
            .db()
            .link_by_remote(Side::Portal, &post)
            .ok()??
            .linear_id
    })
    .await;
    assert_eq!(
        d.linear.issues().iter().filter(|i| i.id == issue).count(),
        1
    );
    assert_eq!(
        d.linear
            .issues()
            .iter()
            .filter(|i| i.title == "Retry from the shell")
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_resolve_writes_the_chosen_value_to_both_sides() {
    let d = Daemon::start("lin_api_sim", "").await;
    let post = d.canny.create_post("Dark mode", "x").unwrap();
    d.canny.set_status(&post, "planned").unwrap();
    let issue = eventually("link", 20, async || {
        d.store()
            .db()
            .link_by_remote(Side::Portal, &post)
            .ok()??
            .linear_id
    })
    .await;
    eventually("link settled", 20, async || {
        let s = d.store();
        let l = s.db().link_by_remote(Side::Portal, &post).ok()??;
        (!s.db().link_has_pending_jobs(l.id).ok()?).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Both sides edit the title before either webhook is handled.
    d.linear.set_title(&issue, "Dark mode (Linear)").unwrap();
    d.canny.set_title(&post, "Dark mode (portal)").unwrap();
    let id = eventually("a title conflict", 20, async || {
        let c = d
            .store()
            .db()
            .conflicts(
                &ConflictFilter {
                    status: Some(ConflictStatus::Open),
                    field: None,
                },
                Window::first(5),
            )
            .ok()?;
        c.first().map(|c| c.id)
    })
    .await;
    let (code, out, err) = d.cli(&["conflicts", "resolve", &id.to_string(), "--take", "portal"]);
    assert_eq!(code, 0, "{out}{err}");
    eventually("Linear to take the portal's title", 20, async || {
        let i = d.linear.issue(&issue)?;
        (i.title == "Dark mode (portal)").then_some(())
    })
    .await;
    assert_eq!(d.canny.post(&post).unwrap().title, "Dark mode (portal)");
    let audit = d.store().db().audit(Window::last(50)).unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.action == roundtrip::domain::AuditAction::Resolve),
        "{audit:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_turns_503_when_the_engine_heartbeat_stops() {
    use roundtrip::store::{Writer, meta_keys};
    use roundtrip::webhook::WebhookServer;
    let h = support::harness::Harness::start(support::harness::Setup::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rt.db");
    let (writer, _thread) = Writer::start(&path).unwrap();
    let c = h.connectors();
    let addr = WebhookServer::new(writer.clone(), c.linear, c.portal, path.clone())
        .spawn_on("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = format!("http://{addr}/healthz");
    let beat = |ms: i64| {
        let w = writer.clone();
        async move {
            w.run(move |db| db.set_meta(meta_keys::HEARTBEAT, &ms.to_string()))
                .await
                .unwrap()
        }
    };
    beat(now_ms()).await;
    assert_eq!(reqwest::get(&url).await.unwrap().status().as_u16(), 200);
    // The engine stopped 60 s ago: its heartbeat went stale.
    beat(now_ms() - 60_000).await;
    let r = reqwest::get(&url).await.unwrap();
    assert_eq!(r.status().as_u16(), 503);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(
        v["reasons"][0].as_str().unwrap().contains("heartbeat"),
        "{v}"
    );
}
