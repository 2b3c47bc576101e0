//! The webhook edge under hostile traffic (issue 13): slow and idle
//! clients, oversized bodies, a connection flood, replay amplification, the
//! Canny nonce, bounded reject logging and a store locked by another
//! process. The real server (`WebhookServer::serve`) on loopback with small
//! limits, so each case takes a second or two.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a failed setup step should stop with its message

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use roundtrip::connector::Connector;
use roundtrip::connector::canny::{CannyConfig, CannyConnector};
use roundtrip::connector::linear::{LinearConfig, LinearConnector};
use roundtrip::metrics::Metrics;
use roundtrip::store::{OpenMode, Store, Window, Writer, WriterThread};
use roundtrip::webhook::{EdgeLimits, WebhookOptions, WebhookServer};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SECRET: &str = "lin_wh_edge_secret";
const CANNY_KEY: &str = "canny_edge_key";

struct Edge {
    addr: SocketAddr,
    path: PathBuf,
    writer: Writer,
    metrics: Arc<Metrics>,
    _thread: WriterThread,
    _dir: tempfile::TempDir,
}

fn limits() -> EdgeLimits {
    EdgeLimits {
        max_body_bytes: 64 * 1024,
        max_connections: 40,
        max_buffered_bytes: 200 * 1024,
        max_in_flight: 64,
        max_header_bytes: 8192,
        header_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(1),
        retry_after: Duration::from_secs(3),
    }
}

async fn start(limits: EdgeLimits) -> Edge {
    start_with(WebhookOptions {
        limits,
        reject_summary_every: Duration::from_secs(1),
        ..WebhookOptions::default()
    })
    .await
}

async fn start_with(options: WebhookOptions) -> Edge {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rt.db");
    let (writer, thread) = Writer::start(&path).unwrap();
    let linear: Arc<dyn Connector> =
        Arc::new(LinearConnector::new(LinearConfig::new("lin_api_x", "ENG", SECRET)).unwrap());
    let portal: Arc<dyn Connector> = Arc::new(
        CannyConnector::new(CannyConfig::new("http://127.0.0.1:9", CANNY_KEY, "B")).unwrap(),
    );
    let server = WebhookServer {
        options,
        ..WebhookServer::new(writer.clone(), linear, portal, path.clone())
    };
    let metrics = server.metrics.clone();
    let addr = server
        .spawn_on("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    Edge {
        addr,
        path,
        writer,
        metrics,
        _thread: thread,
        _dir: dir,
    }
}

impl Edge {
    fn url(&self, p: &str) -> String {
        format!("http://{}{p}", self.addr)
    }

    fn stored(&self) -> Vec<String> {
        Store::open(&self.path, OpenMode::ReadOnly)
            .unwrap()
            .db()
            .deliveries(Window::first(100_000))
            .unwrap()
            .into_iter()
            .map(|d| d.delivery_id)
            .collect()
    }
}

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn canny_sig(nonce: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(CANNY_KEY.as_bytes()).unwrap();
    mac.update(nonce.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn issue_body(issue: &str, pad: usize) -> Vec<u8> {
    serde_json::json!({
        "action": "update", "type": "Issue",
        "data": {"id": issue, "title": "x", "description": "y".repeat(pad)},
        "webhookTimestamp": now_ms(),
    })
    .to_string()
    .into_bytes()
}

fn raw_request(addr: SocketAddr, delivery: &str, body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "POST /webhooks/linear HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Linear-Delivery: {delivery}\r\nLinear-Event: Issue\r\nLinear-Signature: {}\r\n\
         Content-Length: {}\r\n\r\n",
        sign(body),
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    req
}

/// Read one response head; returns the status and the lowercased head.
async fn read_head(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> Option<(u16, String)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let status = head.split_whitespace().nth(1)?.parse().ok()?;
            return Some((status, head));
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

async fn post(edge: &Edge, delivery: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(edge.addr).await.unwrap();
    s.write_all(&raw_request(edge.addr, delivery, body))
        .await
        .unwrap();
    read_head(&mut s).await.expect("an answer")
}

/// True once the server has closed `stream` (EOF or reset).
async fn closed_within(stream: &mut TcpStream, bound: Duration) -> bool {
    let mut b = [0u8; 64];
    matches!(
        tokio::time::timeout(bound, stream.read(&mut b)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test]
async fn half_sent_heads_are_closed_after_the_header_timeout() {
    let edge = start(limits()).await;
    let mut idle = TcpStream::connect(edge.addr).await.unwrap();
    let mut half = TcpStream::connect(edge.addr).await.unwrap();
    half.write_all(b"POST /webhooks/linear HTTP/1.1\r\nHost: x\r\nLinear-")
        .await
        .unwrap();
    let t = Instant::now();
    assert!(closed_within(&mut half, Duration::from_secs(5)).await);
    assert!(closed_within(&mut idle, Duration::from_secs(5)).await);
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
}

#[tokio::test]
async fn an_oversized_content_length_is_refused_before_the_body_is_sent() {
    let edge = start(limits()).await;
    let mut s = TcpStream::connect(edge.addr).await.unwrap();
    s.write_all(
        b"POST /webhooks/linear HTTP/1.1\r\nHost: x\r\nLinear-Signature: 00\r\n\
          Content-Length: 50000000\r\n\r\n",
    )
    .await
    .unwrap();
    let (status, _) = tokio::time::timeout(Duration::from_secs(2), read_head(&mut s))
        .await
        .expect("answered without the body")
        .expect("a response");
    assert_eq!(status, 413);
    // The same without Content-Length (chunked) stops at the limit too.
    let mut s = TcpStream::connect(edge.addr).await.unwrap();
    s.write_all(b"POST /webhooks/linear HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await
        .unwrap();
    let chunk = format!("{:x}\r\n{}\r\n", 32 * 1024, "a".repeat(32 * 1024));
    for _ in 0..3 {
        if s.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let (status, _) = read_head(&mut s).await.expect("a response");
    assert_eq!(status, 413);
    assert!(edge.stored().is_empty());
}

#[tokio::test]
async fn a_trickled_body_times_out_with_408() {
    let edge = start(limits()).await;
    let body = issue_body("i-trickle", 0);
    let req = raw_request(edge.addr, "d-trickle", &body);
    let head_len = req.len() - body.len();
    let (mut reader, mut s) = TcpStream::connect(edge.addr).await.unwrap().into_split();
    s.write_all(&req[..head_len]).await.unwrap();
    let t = Instant::now();
    let writer = async {
        for b in &body {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if s.write_all(&[*b]).await.is_err() {
                break;
            }
        }
    };
    let (status, _) = tokio::select! {
        r = read_head(&mut reader) => r.expect("a response"),
        () = writer => panic!("the whole body was accepted"),
    };
    assert_eq!(status, 408);
    assert!(t.elapsed() < Duration::from_secs(3));
    assert!(edge.stored().is_empty());
}

#[tokio::test]
async fn idle_connections_beyond_the_cap_make_room_for_a_real_delivery() {
    let edge = start(limits()).await;
    let mut idle = Vec::new();
    for _ in 0..60 {
        idle.push(TcpStream::connect(edge.addr).await.unwrap());
    }
    // Every slot is taken by a connection that sent nothing; a real
    // delivery still gets through, at the cost of the oldest idle one.
    let body = issue_body("i-real", 0);
    let (status, _) = post(&edge, "d-real", &body).await;
    assert_eq!(status, 200);
    assert_eq!(edge.stored(), vec!["d-real".to_string()]);
    let health = reqwest::get(edge.url("/healthz")).await.unwrap();
    assert!(health.status().as_u16() == 200 || health.status().as_u16() == 503);
    let mut closed = 0;
    for s in &mut idle {
        if closed_within(s, Duration::from_millis(20)).await {
            closed += 1;
        }
    }
    assert!(
        closed >= 2,
        "the oldest idle connections were closed: {closed}"
    );
}

#[tokio::test]
async fn a_kept_alive_sender_outlasts_connections_idle_for_longer() {
    let edge = start(limits()).await;
    let mut flood = Vec::new();
    for _ in 0..30 {
        flood.push(TcpStream::connect(edge.addr).await.unwrap());
    }
    let mut sender = TcpStream::connect(edge.addr).await.unwrap();
    sender
        .write_all(&raw_request(edge.addr, "k1", &issue_body("i-k", 0)))
        .await
        .unwrap();
    assert_eq!(read_head(&mut sender).await.unwrap().0, 200);
    // Twenty connections over the cap: each closes the longest idle one,
    // all of them older than the sender's last request.
    for _ in 0..30 {
        flood.push(TcpStream::connect(edge.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    sender
        .write_all(&raw_request(edge.addr, "k2", &issue_body("i-k2", 0)))
        .await
        .unwrap();
    assert_eq!(read_head(&mut sender).await.expect("still open").0, 200);
    let mut closed = 0;
    for s in &mut flood[..30] {
        if closed_within(s, Duration::from_millis(20)).await {
            closed += 1;
        }
    }
    assert!(closed >= 15, "the longest idle were closed: {closed}");
}

#[tokio::test]
async fn with_every_connection_busy_a_newcomer_gets_503_and_retry_after() {
    let edge = start(EdgeLimits {
        max_connections: 3,
        request_timeout: Duration::from_secs(5),
        ..limits()
    })
    .await;
    // Three requests whose bodies are still coming: busy, not evictable.
    let mut busy = Vec::new();
    for i in 0..3 {
        let body = issue_body(&format!("i{i}"), 0);
        let req = raw_request(edge.addr, &format!("d{i}"), &body);
        let mut s = TcpStream::connect(edge.addr).await.unwrap();
        s.write_all(&req[..req.len() - 5]).await.unwrap();
        busy.push((s, req));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut s = TcpStream::connect(edge.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (status, head) = read_head(&mut s).await.expect("an answer");
    assert_eq!(status, 503);
    assert!(head.contains("retry-after: 3"), "{head}");
    // The busy ones finish normally.
    for (mut s, req) in busy {
        s.write_all(&req[req.len() - 5..]).await.unwrap();
        assert_eq!(read_head(&mut s).await.expect("answer").0, 200);
    }
}

#[tokio::test]
async fn bodies_waiting_for_verification_share_a_byte_budget() {
    let edge = start(EdgeLimits {
        max_buffered_bytes: 100 * 1024,
        request_timeout: Duration::from_secs(5),
        ..limits()
    })
    .await;
    // Two 60 KiB bodies announced, neither finished: the second does not fit.
    let a = issue_body("ia", 60 * 1024);
    let ra = raw_request(edge.addr, "da", &a);
    let mut sa = TcpStream::connect(edge.addr).await.unwrap();
    sa.write_all(&ra[..ra.len() - 10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let b = issue_body("ib", 60 * 1024);
    let rb = raw_request(edge.addr, "db", &b);
    let mut sb = TcpStream::connect(edge.addr).await.unwrap();
    sb.write_all(&rb[..rb.len() - 10]).await.unwrap();
    let (status, head) = read_head(&mut sb).await.expect("answer");
    assert_eq!(status, 503);
    assert!(head.contains("retry-after:"), "{head}");
    sa.write_all(&ra[ra.len() - 10..]).await.unwrap();
    assert_eq!(read_head(&mut sa).await.expect("answer").0, 200);
    // With the first one done, the budget is back.
    assert_eq!(post(&edge, "db", &b).await.0, 200);
}

#[tokio::test]
async fn a_signed_body_replayed_under_fresh_delivery_ids_is_stored_once() {
    let edge = start(limits()).await;
    let body = issue_body("i-replayed", 30 * 1024);
    let before = std::fs::metadata(&edge.path).unwrap().len();
    for i in 0..200 {
        let (status, _) = post(&edge, &format!("fresh-{i}"), &body).await;
        assert_eq!(status, 200, "replay {i}");
    }
    assert_eq!(edge.stored(), vec!["fresh-0".to_string()]);
    // Only the hint is kept: 200 replays of a 30 KiB body add next to
    // nothing (the WAL holds the writes until a checkpoint).
    let wal = edge.path.with_file_name("rt.db-wal");
    let grown = std::fs::metadata(&edge.path).unwrap().len()
        + std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0)
        - before;
    assert!(grown < 2 * 1024 * 1024, "store grew by {grown} bytes");
    let text = reqwest::get(edge.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(
            r#"roundtrip_webhook_deliveries_total{source="linear",outcome="duplicate"} 199"#
        ),
        "{text}"
    );
}

async fn post_canny(edge: &Edge, nonce: &str, body: &str) -> u16 {
    reqwest::Client::new()
        .post(edge.url("/webhooks/canny"))
        .header("canny-nonce", nonce)
        .header("canny-signature", canny_sig(nonce))
        .header("canny-timestamp", now_ms().to_string())
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_malformed_canny_body_does_not_use_up_its_nonce() {
    let edge = start(limits()).await;
    assert_eq!(post_canny(&edge, "nonce-1", "{not json").await, 400);
    let good = r#"{"type":"post.created","objectType":"post","object":{"id":"p1"}}"#;
    assert_eq!(
        post_canny(&edge, "nonce-1", good).await,
        200,
        "the genuine retry"
    );
    assert_eq!(edge.stored(), vec!["nonce-1".to_string()]);
    assert_eq!(
        post_canny(&edge, "nonce-1", good).await,
        401,
        "a real replay"
    );
}

#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_flood_of_bad_signatures_writes_one_summary_line_not_one_per_request() {
    let lines = Lines::default();
    let sink = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let edge = start(limits()).await;
    let http = reqwest::Client::new();
    let body = issue_body("i", 0);
    for i in 0..300 {
        let status = http
            .post(edge.url("/webhooks/linear"))
            .header("Linear-Delivery", format!("bad-{i}"))
            .header("Linear-Signature", "ab".repeat(32))
            .body(body.clone())
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status.as_u16(), 401);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let text = loop {
        let text = String::from_utf8_lossy(&lines.0.lock().unwrap()).into_owned();
        if text.contains("bad_signature=300") || Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(text.contains("refused 300 webhook requests"), "{text}");
    assert!(text.lines().count() <= 3, "{text}");
    let metrics = edge.metrics.render();
    assert!(
        metrics.contains(r#"outcome="bad_signature"} 300"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_locked_by_another_process_is_named_and_every_503_says_when_to_retry() {
    let edge = start(EdgeLimits {
        request_timeout: Duration::from_secs(10),
        ..limits()
    })
    .await;
    let _ = &edge.writer;
    let other = rusqlite::Connection::open(&edge.path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let body = issue_body("i-locked", 0);
    let (status, head) = post(&edge, "d-locked", &body).await;
    assert_eq!(status, 503);
    assert!(head.contains("retry-after: 3"), "{head}");
    let health = reqwest::get(edge.url("/healthz")).await.unwrap();
    assert_eq!(health.status().as_u16(), 503);
    assert!(health.headers().contains_key("retry-after"));
    let text = health.text().await.unwrap();
    assert!(
        text.contains("locked by another process"),
        "{text}\n{}",
        edge.metrics.render()
    );
    other.execute_batch("ROLLBACK").unwrap();
    drop(other);
    assert_eq!(post(&edge, "d-locked", &body).await.0, 200);
    let text = reqwest::get(edge.url("/healthz"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("locked"), "{text}");
}
