//! Property-based fuzzing of webhook verification and parsing for every
//! sender — Linear, Canny and Fider (issue 13, point 9; issue 16): arbitrary
//! headers, bodies, signatures and shared secrets never panic, are never
//! accepted unless signed with (or, for Fider, presenting) the secret, and
//! never put a row in the inbox unless verified.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a failed setup step should stop with its message

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use proptest::prelude::*;
use roundtrip::connector::Connector;
use roundtrip::connector::canny::{CannyConfig, CannyConnector, NonceCache, verify_canny_delivery};
use roundtrip::connector::fider::{FiderConfig, FiderConnector, SecretIn};
use roundtrip::connector::linear::{LinearConfig, LinearConnector, verify_linear_webhook};
use roundtrip::store::{OpenMode, Store, Writer};
use roundtrip::webhook::{WebhookOptions, WebhookServer, router};
use serde_json::{Value, json};
use sha2::Sha256;
use tower::ServiceExt;

const SECRET: &str = "lin_wh_fuzz";
const CANNY_KEY: &str = "canny_fuzz_key";
const FIDER_SECRET: &str = "fider-fuzz-secret";

fn fider(secret_in: SecretIn) -> FiderConnector {
    let mut c = FiderConfig::new("http://127.0.0.1:9", "k", FIDER_SECRET);
    c.secret_in = secret_in;
    FiderConnector::new(c).unwrap()
}

/// Bodies shaped like roundtrip's Fider template (with arbitrary parts),
/// raw JSON, or arbitrary bytes.
fn fider_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => (
            prop_oneof![
                Just("new_post".to_string()),
                Just("new_comment".to_string()),
                Just("change_status".to_string()),
                Just("delete_post".to_string()),
                ".{0,12}",
            ],
            prop_oneof![
                (1i64..100_000).prop_map(|n| json!(n.to_string())),
                any::<i64>().prop_map(|n| json!(n)),
                json_value(),
            ],
        )
            .prop_map(|(event, number)| {
                json!({"event": event, "post_number": number})
                    .to_string()
                    .into_bytes()
            }),
        1 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..256),
    ]
}

/// A runner over `cases` requests drawn from a fixed seed: the assertion
/// that some generated delivery was valid (the property is not vacuous)
/// then holds or fails the same way on every run, instead of failing
/// whenever a random draw happens to hold no valid one.
fn seeded_runner(cases: u32) -> proptest::test_runner::TestRunner {
    proptest::test_runner::TestRunner::new_with_rng(
        ProptestConfig {
            cases,
            ..ProptestConfig::default()
        },
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    )
}

fn hmac(key: &str, msg: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

/// Arbitrary JSON, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,10}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Bodies shaped like the vendors' (with arbitrary parts), raw JSON, or
/// arbitrary bytes.
fn linear_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (json_value(), json_value(), any::<bool>(), ".{0,8}").prop_map(
            |(data, action, fresh, kind)| {
                let ts = if fresh {
                    json!(now().timestamp_millis())
                } else {
                    action.clone()
                };
                json!({"type": kind, "action": action, "data": data, "webhookTimestamp": ts})
                    .to_string()
                    .into_bytes()
            }
        ),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..256),
    ]
}

fn canny_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (json_value(), ".{0,16}", ".{0,8}").prop_map(|(object, kind, object_type)| {
            json!({"type": kind, "objectType": object_type, "object": object})
                .to_string()
                .into_bytes()
        }),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..256),
    ]
}

/// A header value as an attacker might send it: arbitrary printable
/// bytes, sometimes empty, sometimes huge.
fn header_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,80}",
        "[0-9a-fA-F]{64}",
        "[A-Za-z0-9+/=]{44}",
        Just(String::new()),
        "[a-z]{2000}",
    ]
}

fn put(h: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(HeaderName::from_static(name), v);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn linear_verification_never_panics_and_accepts_only_the_secret(
        body in linear_body(),
        sig in header_text(),
        delivery in header_text(),
        event in header_text(),
        sign_it in any::<bool>(),
    ) {
        let mut h = HeaderMap::new();
        let real = hex::encode(hmac(SECRET, &body));
        put(&mut h, "linear-signature", if sign_it { &real } else { &sig });
        put(&mut h, "linear-delivery", &delivery);
        put(&mut h, "linear-event", &event);
        let out = verify_linear_webhook(SECRET, &h, &body, now());
        let signed = sign_it || sig.trim().eq_ignore_ascii_case(&real);
        if !signed {
            prop_assert!(out.is_err(), "forged delivery accepted");
        }
        if let Ok(hint) = out {
            let v: Value = serde_json::from_slice(&body).unwrap();
            prop_assert!(v.is_object());
            prop_assert!(!hint.delivery_id.is_empty());
        }
        // The wrong secret never verifies, whatever was sent.
        prop_assert!(verify_linear_webhook("other", &h, &body, now()).is_err());
    }

    #[test]
    fn canny_verification_never_panics_and_records_only_accepted_nonces(
        body in canny_body(),
        nonce in header_text(),
        sig in header_text(),
        ts_offset_s in -900i64..900,
        sign_it in any::<bool>(),
    ) {
        let cache = NonceCache::new(1000);
        let mut h = HeaderMap::new();
        let real = base64::engine::general_purpose::STANDARD.encode(hmac(CANNY_KEY, nonce.trim().as_bytes()));
        put(&mut h, "canny-nonce", &nonce);
        put(&mut h, "canny-signature", if sign_it { &real } else { &sig });
        put(&mut h, "canny-timestamp", &(now().timestamp_millis() + ts_offset_s * 1000).to_string());
        let out = verify_canny_delivery(CANNY_KEY, &h, &body, now(), &cache);
        if !sign_it && sig.trim() != real {
            prop_assert!(out.is_err(), "forged delivery accepted");
        }
        match &out {
            Ok(hint) => {
                prop_assert_eq!(cache.len(), 1);
                prop_assert_eq!(&hint.delivery_id, nonce.trim());
                prop_assert!(verify_canny_delivery(CANNY_KEY, &h, &body, now(), &cache).is_err(), "a replay");
            }
            Err(_) => prop_assert_eq!(cache.len(), 0, "a refused delivery used its nonce"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn fider_deliveries_are_accepted_only_with_the_secret_and_name_a_post(
        body in fider_body(),
        presented in header_text(),
        give_secret in any::<bool>(),
        in_path in any::<bool>(),
    ) {
        let secret = if give_secret { FIDER_SECRET.to_string() } else { presented.clone() };
        let matches = secret.trim() == FIDER_SECRET;
        let (conn, out) = if in_path {
            let c = fider(SecretIn::Path);
            let out = c.verify_webhook_path(&secret, &HeaderMap::new(), &body, now());
            (c, out)
        } else {
            let c = fider(SecretIn::Header("x-roundtrip-secret".into()));
            let mut h = HeaderMap::new();
            put(&mut h, "x-roundtrip-secret", &secret);
            let out = c.verify_webhook(&h, &body, now());
            (c, out)
        };
        if !matches {
            prop_assert!(out.is_err(), "a delivery without the secret was accepted");
        }
        if let Ok(hint) = &out {
            prop_assert!(hint.record_id.as_deref().is_some_and(|n| n.parse::<i64>().is_ok_and(|n| n > 0)));
            prop_assert!(roundtrip::connector::fider::EVENTS.contains(&hint.event.as_str()));
            prop_assert!(serde_json::from_slice::<Value>(&body).is_ok());
        }
        // The secret in the wrong place never counts.
        let mut h = HeaderMap::new();
        put(&mut h, "x-roundtrip-secret", FIDER_SECRET);
        prop_assert!(fider(SecretIn::Path).verify_webhook(&h, &body, now()).is_err());
        prop_assert!(conn.verify_webhook_path("", &HeaderMap::new(), &body, now()).is_err());
    }
}

struct Server {
    rt: tokio::runtime::Runtime,
    router: axum::Router,
    path: std::path::PathBuf,
    _writer: Writer,
    _dir: tempfile::TempDir,
}

fn server() -> Server {
    server_with(Arc::new(
        CannyConnector::new(CannyConfig::new("http://127.0.0.1:9", CANNY_KEY, "B")).unwrap(),
    ))
}

fn server_with(portal: Arc<dyn Connector>) -> Server {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rt.db");
    let (writer, _thread) = Writer::start(&path).unwrap();
    let _guard = rt.enter();
    let linear: Arc<dyn Connector> =
        Arc::new(LinearConnector::new(LinearConfig::new("lin_api_x", "ENG", SECRET)).unwrap());
    let mut options = WebhookOptions::default();
    options.limits.max_body_bytes = 4096;
    let router = router(WebhookServer {
        options,
        ..WebhookServer::new(writer.clone(), linear, portal, path.clone())
    });
    Server {
        rt,
        router,
        path,
        _writer: writer,
        _dir: dir,
    }
}

fn inbox_rows(path: &std::path::Path) -> i64 {
    Store::open(path, OpenMode::ReadOnly)
        .unwrap()
        .db()
        .count_pending_deliveries()
        .unwrap()
}

#[test]
fn the_server_stores_nothing_it_could_not_verify() {
    let s = server();
    let mut runner = seeded_runner(192);
    let request = (
        any::<bool>(),
        linear_body(),
        canny_body(),
        header_text(),
        header_text(),
        0u8..4,
    );
    runner
        .run(&request, |(linear, lbody, cbody, sig, id, how)| {
            // how: 0 forged, 1 signed, 2 signed but stale, 3 no headers.
            let mut b = Request::post(if linear {
                "/webhooks/linear"
            } else {
                "/webhooks/canny"
            });
            let body = if linear { lbody } else { cbody };
            let mut valid_signature = false;
            if how != 3 {
                if linear {
                    let sig = if how == 0 {
                        sig
                    } else {
                        hex::encode(hmac(SECRET, &body))
                    };
                    valid_signature = how != 0;
                    if let Ok(v) = HeaderValue::from_str(&sig) {
                        b = b.header("linear-signature", v);
                    }
                    if let Ok(v) = HeaderValue::from_str(&id) {
                        b = b.header("linear-delivery", v);
                    }
                } else {
                    let nonce = format!("n-{}", id.len()) + &hex::encode(&id);
                    let sig = if how == 0 {
                        sig
                    } else {
                        base64::engine::general_purpose::STANDARD
                            .encode(hmac(CANNY_KEY, nonce.as_bytes()))
                    };
                    let ts = now().timestamp_millis() - if how == 2 { 3_600_000 } else { 0 };
                    valid_signature = how == 1;
                    b = b
                        .header("canny-nonce", nonce)
                        .header("canny-timestamp", ts.to_string());
                    if let Ok(v) = HeaderValue::from_str(&sig) {
                        b = b.header("canny-signature", v);
                    }
                }
            }
            let before = inbox_rows(&s.path);
            let resp =
                s.rt.block_on(s.router.clone().oneshot(b.body(Body::from(body)).unwrap()))
                    .unwrap();
            let status = resp.status().as_u16();
            prop_assert!(
                [200, 400, 401, 413, 503].contains(&status),
                "status {status}"
            );
            let after = inbox_rows(&s.path);
            if !valid_signature {
                prop_assert_eq!(
                    after,
                    before,
                    "stored an unverified delivery (status {})",
                    status
                );
            }
            if status != 200 {
                prop_assert_eq!(after, before, "stored a refused delivery");
            }
            prop_assert!(after <= before + 1);
            Ok(())
        })
        .unwrap();
    // The property is not vacuous: verified deliveries were stored.
    assert!(inbox_rows(&s.path) > 0, "no generated delivery was valid");
}

#[test]
fn the_server_stores_no_fider_delivery_without_the_secret() {
    for secret_in in [
        SecretIn::Header("x-roundtrip-secret".into()),
        SecretIn::Path,
    ] {
        let path_mode = secret_in == SecretIn::Path;
        let s = server_with(Arc::new(fider(secret_in)));
        let mut runner = seeded_runner(128);
        let request = (fider_body(), "[A-Za-z0-9_-]{1,40}", 0u8..4);
        runner
            .run(&request, |(body, guess, how)| {
                // how: 0 a guessed secret, 1 the secret, 2 the secret in the
                // other place, 3 none.
                let mut b = match (path_mode, how) {
                    (true, 0) => Request::post(format!("/webhooks/fider/{guess}")),
                    (true, 1) => Request::post(format!("/webhooks/fider/{FIDER_SECRET}")),
                    _ => Request::post("/webhooks/fider"),
                };
                match (path_mode, how) {
                    (false, 0) => b = b.header("x-roundtrip-secret", guess),
                    (false, 1) | (true, 2) => b = b.header("x-roundtrip-secret", FIDER_SECRET),
                    (false, 2) => b = Request::post(format!("/webhooks/fider/{FIDER_SECRET}")),
                    _ => {}
                }
                let before = inbox_rows(&s.path);
                let resp =
                    s.rt.block_on(s.router.clone().oneshot(b.body(Body::from(body)).unwrap()))
                        .unwrap();
                let status = resp.status().as_u16();
                prop_assert!([200, 400, 401].contains(&status), "status {status}");
                let after = inbox_rows(&s.path);
                if how != 1 {
                    prop_assert_eq!(status, 401, "no secret, no entry");
                    prop_assert_eq!(after, before);
                }
                if status != 200 {
                    prop_assert_eq!(after, before, "stored a refused delivery");
                }
                Ok(())
            })
            .unwrap();
        assert!(inbox_rows(&s.path) > 0, "no generated delivery was valid");
    }
}
