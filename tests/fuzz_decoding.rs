//! Property-based fuzzing of connector response decoding (issue 13, point
//! 9): whatever a remote answers — any status, any headers, any body,
//! including answers shaped like the real ones with arbitrary parts — both
//! connectors return a value or a typed error, never a panic. The pure
//! decoders are fuzzed directly; the whole connectors over loopback
//! against a stub that answers with the generated response.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a failed setup step should stop with its message

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use proptest::prelude::*;
use roundtrip::connector::Connector;
use roundtrip::connector::canny::{CannyConfig, CannyConnector, CannyPost, post_to_record};
use roundtrip::connector::linear::classify::{ResponseMeta, parse_body, strict};
use roundtrip::connector::linear::mapping::IssueNode;
use roundtrip::connector::linear::quota::parse_quota_headers;
use roundtrip::connector::linear::{LinearConfig, LinearConnector};
use roundtrip::domain::{FieldValue, NewRecord, Update};
use serde_json::{Value, json};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e6f64..1e6).prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    "[a-zA-Z]{1,10}".boxed(),
                    prop::sample::select(FIELD_NAMES)
                        .prop_map(str::to_string)
                        .boxed(),
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Names the decoders look for, so generated objects reach them.
const FIELD_NAMES: &[&str] = &[
    "id",
    "title",
    "description",
    "details",
    "status",
    "state",
    "type",
    "name",
    "labels",
    "nodes",
    "pageInfo",
    "hasNextPage",
    "endCursor",
    "updatedAt",
    "createdAt",
    "comments",
    "body",
    "tags",
    "posts",
    "hasMore",
    "board",
    "author",
    "errors",
    "extensions",
    "code",
    "message",
    "issue",
    "issues",
    "success",
    "archivedAt",
    "trashed",
    "team",
    "identifier",
    "url",
    "score",
    "value",
];

/// A body the way each remote answers, with arbitrary parts.
fn answer() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        json_value().prop_map(|d| json!({"data": d}).to_string().into_bytes()),
        (json_value(), json_value())
            .prop_map(|(d, e)| json!({"data": d, "errors": [e]}).to_string().into_bytes()),
        json_value().prop_map(|d| json!({"data": {"issue": d, "issues": {"nodes": [d.clone()], "pageInfo": {"hasNextPage": false}}}}).to_string().into_bytes()),
        json_value().prop_map(|p| json!({"posts": [p], "hasMore": false}).to_string().into_bytes()),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..128),
    ]
}

fn status() -> impl Strategy<Value = u16> {
    prop::sample::select(vec![
        200u16, 200, 200, 201, 204, 301, 400, 401, 403, 404, 409, 500, 502, 503,
    ])
}

fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(
        (
            prop::sample::select(vec![
                "x-ratelimit-requests-limit",
                "x-ratelimit-requests-remaining",
                "x-ratelimit-requests-reset",
                "x-ratelimit-complexity-remaining",
                "x-complexity",
                "retry-after",
                "x-request-id",
            ]),
            "[ -~]{0,24}",
        )
            .prop_map(|(k, v)| (k.to_string(), v)),
        0..4,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn linear_bodies_and_headers_decode_or_fail_cleanly(
        body in answer(),
        status in status(),
        hs in headers(),
    ) {
        let parsed = parse_body(&body);
        let meta = ResponseMeta { status, ..ResponseMeta::default() };
        let _ = strict(&meta, parsed.clone());
        if let Some(data) = parsed.and_then(|b| b.data) {
            for candidate in [Some(&data), data.get("issue")].into_iter().flatten() {
                if let Ok(node) = serde_json::from_value::<IssueNode>(candidate.clone()) {
                    let _ = node.into_record(None);
                }
            }
        }
        let mut h = HeaderMap::new();
        for (k, v) in &hs {
            if let (Ok(k), Ok(v)) = (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(v)) {
                h.insert(k, v);
            }
        }
        let _ = parse_quota_headers(&h).samples(chrono::Utc::now());
    }

    #[test]
    fn canny_posts_decode_or_fail_cleanly(post in json_value()) {
        if let Ok(p) = serde_json::from_value::<CannyPost>(post) {
            let _ = post_to_record(&p);
        }
    }
}

type Canned = Arc<Mutex<(u16, Vec<(String, String)>, Vec<u8>)>>;

static ANSWERED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

async fn answer_with(axum::extract::State(c): axum::extract::State<Canned>) -> Response {
    ANSWERED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (status, hs, body) = c.lock().unwrap().clone();
    let mut resp = (StatusCode::from_u16(status).unwrap(), body).into_response();
    for (k, v) in hs {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(&v),
        ) {
            resp.headers_mut().insert(k, v);
        }
    }
    resp
}

#[test]
fn whole_connectors_survive_any_answer() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let canned: Canned = Arc::new(Mutex::new((200, Vec::new(), b"{}".to_vec())));
    let addr = rt.block_on(async {
        let app = axum::Router::new()
            .fallback(answer_with)
            .with_state(canned.clone());
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        addr
    });
    let mut lc = LinearConfig::new("lin_api_fuzz", "ENG", "lin_wh_fuzz");
    lc.api_url = format!("http://{addr}/graphql");
    lc.timeout = Duration::from_secs(2);
    let mut cc = CannyConfig::new(
        format!("http://{addr}/api/v1"),
        "canny_fuzz",
        "Feature Requests",
    );
    cc.request_timeout = Duration::from_secs(2);
    cc.rate_limit_retries = 0;
    let (linear, canny) = {
        let _g = rt.enter();
        (
            Arc::new(LinearConnector::new(lc).unwrap()) as Arc<dyn Connector>,
            Arc::new(CannyConnector::new(cc).unwrap()) as Arc<dyn Connector>,
        )
    };
    let new = NewRecord {
        client_id: uuid::Uuid::nil(),
        fields: BTreeMap::from([("title".to_string(), FieldValue::Text("t".into()))]),
        source_url: Some("https://portal/p/1".into()),
        source_title: None,
        created_id: None,
        placement: None,
    };
    let update = Update {
        fields: BTreeMap::from([("title".to_string(), FieldValue::Text("u".into()))]),
        ..Update::default()
    };
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 96,
        ..ProptestConfig::default()
    });
    runner
        .run(&(answer(), status(), headers()), |(body, status, hs)| {
            *canned.lock().unwrap() = (status, hs, body);
            rt.block_on(async {
                for c in [&linear, &canny] {
                    let bound = Duration::from_secs(5);
                    let _ = tokio::time::timeout(bound, c.get("abc")).await;
                    let _ = tokio::time::timeout(bound, c.list_changed(None, None)).await;
                    let _ = tokio::time::timeout(bound, c.create(&new)).await;
                    let _ = tokio::time::timeout(bound, c.find_created(&new)).await;
                    let _ = tokio::time::timeout(bound, c.update("abc", &update)).await;
                    let _ = tokio::time::timeout(bound, c.add_comment("abc", "hi")).await;
                    let _ = tokio::time::timeout(bound, c.delete("abc")).await;
                    let _ = c.take_quota_samples();
                }
            });
            Ok(())
        })
        .unwrap();
    let answered = ANSWERED.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        answered >= 96 * 2,
        "the connectors reached the stub {answered} times"
    );
}
