//! `webhook_edge` (issue 13; DESIGN.md section 12, P1 "held while 20,000
//! idle connections are open"): valid-webhook throughput and p99 with and
//! without a flood of idle connections that each sent half a request, and
//! the server's peak RSS.
//!
//! Three kinds of process, because one process may hold at most `ulimit -n`
//! descriptors: the server (the real `WebhookServer` with its default limits
//! and the group-commit writer, in a child so its RSS is its own), idle
//! holders (children holding up to 10,000 half-sent connections each and
//! reopening any the server closes), and this process, which drives valid
//! deliveries over keep-alive connections and reads the server's
//! `/proc/PID/status` and `/metrics`. Every process raises its soft
//! open-files limit to the hard limit first.
//!
//! `EDGE_IDLE` (default 20000) idle connections, `EDGE_SECS` (default 5)
//! measured seconds per run, `EDGE_CONNECTIONS` (default 32) valid senders.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a failed setup step should stop with its message

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use roundtrip::connector::Connector;
use roundtrip::connector::canny::{CannyConfig, CannyConnector};
use roundtrip::connector::linear::{LinearConfig, LinearConnector};
use roundtrip::store::Writer;
use roundtrip::webhook::{WebhookOptions, WebhookServer};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::load::{LoadResult, load};
use common::{emit, env_usize, percentile, r3};

const SECRET: &str = "lin_wh_bench_secret";
const ROLE: &str = "WEBHOOK_EDGE_ROLE";
const HOLDER_MAX: usize = 10_000;

/// Wait until this process's stdin closes (the parent is done or gone).
fn until_stdin_closes() {
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}

fn serve() {
    let open_files = roundtrip::os::raise_open_files_limit();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rt.db");
    let rt = common::runtime();
    let (writer, _thread) = Writer::start(&path).expect("writer");
    let mut options = WebhookOptions::default();
    if let Some(fit) = roundtrip::os::connections_that_fit(open_files) {
        options.limits.max_connections = options.limits.max_connections.min(fit);
    }
    let max = options.limits.max_connections;
    let addr = rt.block_on(async {
        let linear: Arc<dyn Connector> = Arc::new(
            LinearConnector::new(LinearConfig::new("lin_api_bench", "ENG", SECRET)).unwrap(),
        );
        let portal: Arc<dyn Connector> = Arc::new(
            CannyConnector::new(CannyConfig::new("http://127.0.0.1:9", "k", "B")).unwrap(),
        );
        WebhookServer {
            options,
            ..WebhookServer::new(writer.clone(), linear, portal, path.clone())
        }
        .spawn_on("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
    });
    println!("ADDR {addr} MAX {max} NOFILE {}", open_files.unwrap_or(0));
    until_stdin_closes();
    drop(rt);
}

fn hold() {
    roundtrip::os::raise_open_files_limit();
    let n = env_usize("HOLD_N", 0);
    let addr: String = std::env::var("HOLD_ADDR").expect("HOLD_ADDR");
    let rt = common::runtime();
    let open = Arc::new(AtomicU64::new(0));
    let reopened = Arc::new(AtomicU64::new(0));
    rt.block_on(async {
        for _ in 0..n {
            let (addr, open, reopened) = (addr.clone(), open.clone(), reopened.clone());
            tokio::spawn(async move {
                let mut first = true;
                loop {
                    let Ok(mut s) = TcpStream::connect(&addr).await else {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    };
                    if !first {
                        reopened.fetch_add(1, Ordering::Relaxed);
                    }
                    first = false;
                    // Half a request, then silence.
                    let _ = s
                        .write_all(b"POST /webhooks/linear HTTP/1.1\r\nHost: x\r\nLinear-")
                        .await;
                    open.fetch_add(1, Ordering::Relaxed);
                    let mut b = [0u8; 256];
                    while let Ok(k) = s.read(&mut b).await {
                        if k == 0 {
                            break;
                        }
                    }
                    open.fetch_sub(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            });
        }
        let report = tokio::spawn(async move {
            loop {
                println!(
                    "OPEN {} REOPENED {}",
                    open.load(Ordering::Relaxed),
                    reopened.load(Ordering::Relaxed)
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        tokio::task::spawn_blocking(until_stdin_closes).await.ok();
        report.abort();
    });
}

fn child(role: &str, envs: &[(&str, String)]) -> (Child, std::sync::mpsc::Receiver<String>) {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.env(ROLE, role)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in envs {
        c.env(k, v);
    }
    let mut child = c.spawn().expect("spawn child");
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

fn status_kb(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

async fn metric(addr: &str, prefix: &str) -> f64 {
    let Ok(text) = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .and_then(|r| r.error_for_status())
    else {
        return -1.0;
    };
    let text = text.text().await.unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

/// `n` clients announce 1 MiB bodies and send half; returns how many were
/// answered 503 and how many are held open, waiting.
async fn held_bodies(addr: &str, n: usize) -> (usize, usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let addr = addr.to_string();
        tasks.spawn(async move {
            let mut s = TcpStream::connect(&addr).await.ok()?;
            let head = "POST /webhooks/linear HTTP/1.1\r\nHost: x\r\nLinear-Signature: 00\r\nContent-Length: 1048576\r\n\r\n";
            s.write_all(head.as_bytes()).await.ok()?;
            let half = vec![b' '; 512 * 1024];
            let _ = tokio::time::timeout(Duration::from_secs(2), s.write_all(&half)).await;
            let mut b = [0u8; 512];
            let refused = matches!(
                tokio::time::timeout(Duration::from_secs(2), s.read(&mut b)).await,
                Ok(Ok(k)) if k > 0 && b[..k].starts_with(b"HTTP/1.1 503")
            );
            Some((refused, s))
        });
    }
    let mut refused = 0;
    let mut held = Vec::new();
    while let Some(r) = tasks.join_next().await {
        if let Ok(Some((r, s))) = r {
            if r {
                refused += 1;
            } else {
                held.push(s);
            }
        }
    }
    (refused, held.len())
}

fn summary(r: &LoadResult) -> (f64, f64, f64) {
    (
        r.acked as f64 / r.secs,
        percentile(&r.latencies_ms, 0.5),
        percentile(&r.latencies_ms, 0.99),
    )
}

fn main() {
    match std::env::var(ROLE).as_deref() {
        Ok("serve") => return serve(),
        Ok("hold") => return hold(),
        _ => {}
    }
    let nofile = roundtrip::os::raise_open_files_limit();
    let idle = env_usize("EDGE_IDLE", 20_000);
    let secs = Duration::from_secs(env_usize("EDGE_SECS", 5) as u64);
    let senders = env_usize("EDGE_CONNECTIONS", 32);
    let warmup = Duration::from_secs(1);

    let (mut server, lines) = child("serve", &[]);
    let first = lines
        .recv_timeout(Duration::from_secs(30))
        .expect("server address");
    let mut words = first.split_whitespace();
    let addr = words.nth(1).expect("addr").to_string();
    let max_connections: usize = words.nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
    let pid = server.id();
    let rt = common::runtime();

    let quiet = rt.block_on(load(SECRET, &addr, senders, warmup, secs));
    let rss_quiet_kb = status_kb(pid, "VmRSS:");

    let per = HOLDER_MAX.min(idle.max(1));
    let mut holders = Vec::new();
    let mut left = idle;
    while left > 0 {
        let n = left.min(per);
        left -= n;
        holders.push(child(
            "hold",
            &[("HOLD_N", n.to_string()), ("HOLD_ADDR", addr.clone())],
        ));
    }
    // Wait until the holders report their connections open (or 60 s).
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut open_reported = 0u64;
    let mut last = vec![(0u64, 0u64); holders.len()];
    while Instant::now() < deadline {
        for (i, (_, rx)) in holders.iter().enumerate() {
            while let Ok(line) = rx.try_recv() {
                let w: Vec<&str> = line.split_whitespace().collect();
                if let (Some(o), Some(r)) = (w.get(1), w.get(3)) {
                    last[i] = (o.parse().unwrap_or(0), r.parse().unwrap_or(0));
                }
            }
        }
        open_reported = last.iter().map(|(o, _)| o).sum();
        if open_reported as usize >= idle {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let server_open_before = rt.block_on(metric(&addr, "roundtrip_webhook_connections "));
    let flooded = rt.block_on(load(SECRET, &addr, senders, warmup, secs));
    let server_open = rt.block_on(metric(&addr, "roundtrip_webhook_connections "));
    let evicted = rt.block_on(metric(
        &addr,
        "roundtrip_webhook_edge_refusals_total{reason=\"connection_evicted\"}",
    ));
    let refused = rt.block_on(metric(
        &addr,
        "roundtrip_webhook_edge_refusals_total{reason=\"connections_busy\"}",
    ));
    let health_ms = rt.block_on(async {
        let t = Instant::now();
        let ok = reqwest::get(format!("http://{addr}/healthz")).await.is_ok();
        (ok, common::ms(t.elapsed()))
    });
    let rss_kb = status_kb(pid, "VmRSS:");
    let peak_kb = status_kb(pid, "VmHWM:");
    for (mut h, _) in holders {
        drop(h.stdin.take());
        let _ = h.kill();
        let _ = h.wait();
    }
    // The second flood: 500 clients each announce a 1 MB body,
    // send half of it and hold.
    let bodies = env_usize("EDGE_HELD_BODIES", 500);
    let rss_before_bodies_kb = status_kb(pid, "VmRSS:");
    let (held_503, held_open) = rt.block_on(held_bodies(&addr, bodies));
    let peak_after_bodies_kb = status_kb(pid, "VmHWM:");
    let rss_after_bodies_kb = status_kb(pid, "VmRSS:");
    drop(server.stdin.take());
    let _ = server.kill();
    let _ = server.wait();

    let (q_rate, q_p50, q_p99) = summary(&quiet);
    let (f_rate, f_p50, f_p99) = summary(&flooded);
    let reopened: u64 = last.iter().map(|(_, r)| r).sum();
    emit(
        "webhook_edge",
        "acks_per_sec_with_idle_flood",
        f_rate,
        Some(q_rate),
        Some(f_rate / q_rate.max(1e-9)),
        "valid deliveries keep flowing while 20,000 idle connections are open",
        flooded.errors == 0 && f_rate >= 0.5 * q_rate,
        json!({"idle_connections_attempted": idle, "idle_open_reported_by_holders": open_reported,
               "server_open_connections_before": server_open_before,
               "server_open_connections_after": server_open,
               "server_max_connections": max_connections,
               "nofile_soft_limit": nofile, "idle_reopened": reopened,
               "evicted": evicted, "refused_busy": refused,
               "senders": senders, "secs": r3(flooded.secs), "acked": flooded.acked,
               "errors": flooded.errors, "load_avg_1m": common::load_avg()}),
    );
    emit(
        "webhook_edge",
        "ack_latency_p99_ms_with_idle_flood",
        f_p99,
        Some(q_p99),
        Some(f_p99 / q_p99.max(1e-9)),
        "< 10 ms",
        f_p99 < 10.0,
        json!({"p50_ms": r3(f_p50), "quiet_p50_ms": r3(q_p50),
               "healthz_answered": health_ms.0, "healthz_ms": r3(health_ms.1)}),
    );
    emit(
        "webhook_edge",
        "server_rss_mb_with_held_bodies",
        rss_after_bodies_kb as f64 / 1024.0,
        None,
        None,
        "bounded by max_buffered_bytes (64 MiB), not by the number of clients",
        held_503 > 0,
        json!({"clients": bodies, "announced_bytes_each": 1_048_576,
               "rss_before_mb": r3(rss_before_bodies_kb as f64 / 1024.0),
               "answered_503_retry_after": held_503, "held_open": held_open,
               "peak_rss_mb_so_far": r3(peak_after_bodies_kb as f64 / 1024.0)}),
    );
    emit(
        "webhook_edge",
        "server_peak_rss_mb",
        peak_kb as f64 / 1024.0,
        Some(rss_quiet_kb as f64 / 1024.0),
        None,
        "bounded: max_connections × header buffer + max_buffered_bytes",
        true,
        json!({"rss_after_mb": r3(rss_kb as f64 / 1024.0),
               "rss_before_flood_mb": r3(rss_quiet_kb as f64 / 1024.0)}),
    );
}
