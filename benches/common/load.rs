//! The load generator shared by the webhook benchmarks: keep-alive
//! HTTP/1.1 connections sending Linear-signed deliveries back to back and
//! timing each acknowledgement.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::ms;

/// One Linear-signed Issue delivery as raw HTTP/1.1 bytes; the body is
/// unique per connection and sequence number.
pub fn signed_request(secret: &str, addr: &str, conn: usize, seq: u64) -> Vec<u8> {
    // A realistic Issue update body; built with `format!` so the load
    // generator spends as little of the shared CPU as it can.
    let body = format!(
        concat!(
            r#"{{"action":"update","type":"Issue","createdAt":"2025-01-06T09:00:00.000Z","#,
            r#""data":{{"id":"bench-issue-{}","title":"Dark mode for the dashboard","priority":2}},"#,
            r#""updatedFrom":{{"title":"Dark mode"}},"url":"https://linear.app/acme/issue/ENG-1","#,
            r#""webhookTimestamp":{},"webhookId":"bench-c{}-{}"}}"#
        ),
        seq % 5000,
        Utc::now().timestamp_millis(),
        conn,
        seq
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac key");
    mac.update(body.as_bytes());
    let sig = hex::encode(mac.finalize().into_bytes());
    format!(
        "POST /webhooks/linear HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Linear-Delivery: c{conn}-{seq}\r\nLinear-Event: Issue\r\nLinear-Signature: {sig}\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Read one HTTP/1.1 response; returns the status code.
pub async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> u16 {
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let status: u16 = head
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .expect("status line");
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = stream.read(&mut chunk).await.expect("read body");
                assert!(n > 0, "server closed the connection");
                buf.extend_from_slice(&chunk[..n]);
            }
            return status;
        }
        let n = stream.read(&mut chunk).await.expect("read head");
        assert!(n > 0, "server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// What one load run measured.
pub struct LoadResult {
    /// 200s counted after the warm-up.
    pub acked: u64,
    /// Non-200 answers.
    pub errors: u64,
    /// Measured seconds.
    pub secs: f64,
    /// Latencies of the counted 200s, sorted.
    pub latencies_ms: Vec<f64>,
}

/// Drive `connections` keep-alive connections for `warmup + secs`; only
/// requests started after the warm-up count.
pub async fn load(
    secret: &str,
    addr: &str,
    connections: usize,
    warmup: Duration,
    secs: Duration,
) -> LoadResult {
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..connections {
        let addr = addr.to_string();
        let secret = secret.to_string();
        let stop = stop.clone();
        let measuring = measuring.clone();
        let errors = errors.clone();
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(&addr).await.expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            let mut buf = Vec::with_capacity(1024);
            let mut lat = Vec::new();
            let mut seq = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let req = signed_request(&secret, &addr, c, seq);
                seq += 1;
                let counted = measuring.load(Ordering::Relaxed);
                let t = Instant::now();
                stream.write_all(&req).await.expect("write request");
                let status = read_response(&mut stream, &mut buf).await;
                let took = ms(t.elapsed());
                if status != 200 {
                    errors.fetch_add(1, Ordering::Relaxed);
                } else if counted && !stop.load(Ordering::Relaxed) {
                    lat.push(took);
                }
            }
            lat
        }));
    }
    tokio::time::sleep(warmup).await;
    measuring.store(true, Ordering::Relaxed);
    let t = Instant::now();
    tokio::time::sleep(secs).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = t.elapsed().as_secs_f64();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("client task"));
    }
    all.sort_by(f64::total_cmp);
    LoadResult {
        acked: all.len() as u64,
        errors: errors.load(Ordering::Relaxed),
        secs: elapsed,
        latencies_ms: all,
    }
}
