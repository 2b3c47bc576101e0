//! The Linear connector against the real Linear simulator over loopback. The
//! two were written independently from Linear's documentation, so agreement
//! here is evidence both read it the same way: pagination, idempotent create,
//! rate limiting, auth, 5xx, batching, webhook signatures.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a failed setup step should stop with its message

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use roundtrip::connector::Connector;
use roundtrip::connector::linear::{LinearAuth, LinearConfig, LinearConnector};
use roundtrip::domain::{ErrorClass, FieldValue};
use roundtrip::domain::{NewRecord, Update};
use roundtrip::sim::faults::ApiFaults;
use roundtrip::sim::linear::{LinearSim, LinearSimConfig};

async fn sim() -> LinearSim {
    LinearSim::start(LinearSimConfig::default()).await.unwrap()
}

fn connector_for(sim: &LinearSim) -> LinearConnector {
    let mut config = LinearConfig::new(sim.api_key(), "ENG", sim.webhook_secret());
    config.api_url = sim.graphql_url();
    config.timeout = Duration::from_secs(5);
    LinearConnector::new(config).unwrap()
}

fn fields(pairs: &[(&str, FieldValue)]) -> BTreeMap<String, FieldValue> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn text(s: &str) -> FieldValue {
    FieldValue::Text(s.to_string())
}

#[tokio::test]
async fn pagination_across_at_least_three_pages() {
    let sim = sim().await;
    for i in 0..8 {
        sim.create_issue(&format!("Seeded {i}"), Some("body"), "Todo")
            .unwrap();
    }
    let conn = connector_for(&sim).with_page_size(3);
    let team_id = conn.catalog().await.unwrap().team.id.clone();
    let expected: BTreeSet<String> = sim
        .issues()
        .into_iter()
        .filter(|i| i.team_id == team_id)
        .map(|i| i.id)
        .collect();
    assert!(expected.len() >= 8);

    let mut pages = 0;
    let mut seen = BTreeSet::new();
    let mut cursor = None;
    loop {
        let page = conn.list_changed(None, cursor).await.unwrap();
        pages += 1;
        assert!(page.records.len() <= 3);
        seen.extend(page.records.into_iter().map(|r| r.remote_id));
        match page.next_page {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert!(pages >= 3, "only {pages} pages");
    assert_eq!(seen, expected);
    assert_eq!(
        conn.issues_changed(None).await.unwrap().len(),
        expected.len()
    );

    // `since` narrows the listing to what changed.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let since = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let touched = sim.issues()[0].id.clone();
    sim.set_title(&touched, "Retitled by a human").unwrap();
    let changed = conn.issues_changed(Some(since)).await.unwrap();
    let ids: Vec<&str> = changed.iter().map(|r| r.remote_id.as_str()).collect();
    assert_eq!(ids, [touched.as_str()]);
    assert_eq!(changed[0].title, "Retitled by a human");
}

#[tokio::test]
async fn create_twice_with_one_client_id_makes_one_issue() {
    let sim = sim().await;
    let conn = connector_for(&sim);
    let new = NewRecord {
        client_id: uuid::Uuid::new_v4(),
        fields: fields(&[
            ("title", text("Export to CSV")),
            ("description", text("Customers want CSV")),
            ("state", text("unstarted")),
            (
                "labels",
                FieldValue::Set(["Roundtrip Test Label".to_string()].into()),
            ),
            ("priority", FieldValue::Number(2)),
        ]),
        source_url: Some("https://feedback.example/p/export-to-csv".into()),
        source_title: Some("Export to CSV".into()),
        created_id: None,
        placement: None,
    };
    let before = sim.issues().len();
    let first = conn.create(&new).await.unwrap();
    let second = conn.create(&new).await.unwrap();
    assert_eq!(first.remote_id, new.client_id.to_string());
    assert_eq!(second.remote_id, first.remote_id);
    assert_eq!(sim.issues().len(), before + 1, "exactly one issue");
    assert_eq!(second.identifier, first.identifier);
    assert_eq!(first.status_type.as_deref(), Some("unstarted"));
    assert!(
        first.labels.contains("Roundtrip Test Label"),
        "label created"
    );
    assert_eq!(first.priority, Some(2));

    // The link is found again by client id, and by the portal URL alone.
    let again = conn.find_created(&new).await.unwrap().unwrap();
    assert_eq!(again.remote_id, first.remote_id);
    let by_url = NewRecord {
        client_id: uuid::Uuid::new_v4(),
        ..new.clone()
    };
    let found = conn.find_created(&by_url).await.unwrap().unwrap();
    assert_eq!(found.remote_id, first.remote_id);
    let issue = conn.issue(&first.remote_id).await.unwrap().unwrap();
    assert!(
        issue
            .attachments
            .iter()
            .any(|a| a.url == "https://feedback.example/p/export-to-csv")
    );
}

#[tokio::test]
async fn ratelimited_is_classified_with_reset_parsed() {
    let sim = sim().await;
    let conn = connector_for(&sim);
    conn.viewer().await.unwrap();
    sim.exhaust_quota();
    let err = conn.viewer().await.unwrap_err();
    assert_eq!(err.class, ErrorClass::RateLimited, "{err:?}");
    assert_eq!(err.http_status, Some(400));
    let wait = err.retry_after.expect("a wait from the reset headers");
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_secs(3600),
        "{wait:?}"
    );
    let snap = conn.quota().expect("quota headers on every answer");
    let requests = snap.requests.unwrap();
    assert_eq!(requests.remaining, 0);
    assert!(requests.reset_at.unwrap() > chrono::Utc::now());
    let kinds: BTreeSet<String> = conn
        .take_quota_samples()
        .into_iter()
        .map(|s| s.kind.to_string())
        .collect();
    assert_eq!(
        kinds,
        ["complexity".to_string(), "requests".to_string()].into()
    );
}

#[tokio::test]
async fn bad_credentials_are_auth_and_oauth_uses_bearer() {
    for status in [400, 401] {
        let sim = LinearSim::start(LinearSimConfig {
            auth_error_status: status,
            ..LinearSimConfig::default()
        })
        .await
        .unwrap();
        let mut config = LinearConfig::new("lin_api_wrong", "ENG", "s");
        config.api_url = sim.graphql_url();
        let conn = LinearConnector::new(config).unwrap();
        let err = conn.viewer().await.unwrap_err();
        assert_eq!(err.class, ErrorClass::Auth, "HTTP {status}: {err:?}");
        assert!(!err.message.contains("lin_api_wrong"));
    }
    let sim = sim().await;
    let mut config = LinearConfig::new("lin_oauth_sim", "ENG", "s");
    config.api_url = sim.graphql_url();
    config.auth = LinearAuth::OAuth;
    LinearConnector::new(config)
        .unwrap()
        .viewer()
        .await
        .unwrap();
}

#[tokio::test]
async fn server_errors_are_server() {
    let sim = sim().await;
    let conn = connector_for(&sim);
    sim.set_faults(ApiFaults {
        server_error: 1.0,
        ..ApiFaults::default()
    });
    let err = conn.viewer().await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Server, "{err:?}");
    assert!(err.http_status.is_some_and(|s| s >= 500));
}

#[tokio::test]
async fn batch_with_one_failing_alias() {
    let sim = sim().await;
    let a = sim.create_issue("A", None, "Todo").unwrap();
    let c = sim.create_issue("C", None, "Todo").unwrap();
    let conn = connector_for(&sim);
    let update = |title: &str| Update {
        fields: fields(&[("title", text(title)), ("state", text("In Progress"))]),
        ..Update::default()
    };
    let items = vec![
        (a.id.clone(), update("A2")),
        (
            "00000000-0000-4000-8000-000000000000".to_string(),
            update("B2"),
        ),
        (c.id.clone(), update("C2")),
    ];
    let results = conn.update_many(&items).await.unwrap();
    assert_eq!(
        results[1].as_ref().unwrap_err().class,
        ErrorClass::NotFound,
        "{results:?}"
    );
    assert!(results[0].is_ok(), "{results:?}");
    assert!(results[2].is_ok(), "{results:?}");
    assert_eq!(sim.issue(&a.id).unwrap().title, "A2");
    assert_eq!(sim.issue(&c.id).unwrap().title, "C2");
    let record = conn.get(&c.id).await.unwrap().unwrap();
    assert_eq!(record.status, "In Progress");
}

#[tokio::test]
async fn comments_updates_and_delete_round_trip() {
    let sim = sim().await;
    let issue = sim
        .create_issue("Round trip", Some("first"), "Todo")
        .unwrap();
    sim.add_comment(&issue.id, "a human says hi").unwrap();
    let conn = connector_for(&sim);
    let comment = conn
        .add_comment(&issue.id, "roundtrip says hi")
        .await
        .unwrap();
    assert_eq!(comment.body, "roundtrip says hi");
    let update = Update {
        fields: fields(&[
            ("description", text("second")),
            ("labels", FieldValue::Set(BTreeSet::new())),
            ("priority", FieldValue::Number(1)),
        ]),
        status_comment: Some("Moved along".into()),
        ..Update::default()
    };
    conn.update(&issue.id, &update).await.unwrap();
    let record = conn.get(&issue.id).await.unwrap().unwrap();
    assert_eq!(record.description, "second");
    assert_eq!(record.priority, Some(1));
    let bodies: Vec<&str> = record.comments.iter().map(|c| c.body.as_str()).collect();
    assert_eq!(
        bodies,
        ["a human says hi", "roundtrip says hi", "Moved along"]
    );
    conn.delete(&issue.id).await.unwrap();
    let gone = conn.get(&issue.id).await.unwrap();
    assert!(gone.as_ref().is_none_or(|r| r.deleted), "{gone:?}");
    let listed = conn.issues_changed(None).await.unwrap();
    let entry = listed.iter().find(|r| r.remote_id == issue.id);
    assert!(
        entry.is_none_or(|r| r.deleted),
        "trashed issues list as deleted"
    );
    assert_eq!(
        conn.get("00000000-0000-4000-8000-00000000ffff")
            .await
            .unwrap(),
        None
    );
}

type Inbox = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

async fn receive(State(inbox): State<Inbox>, headers: HeaderMap, body: Bytes) -> &'static str {
    inbox.lock().unwrap().push((headers, body));
    "ok"
}

#[tokio::test]
async fn simulator_webhooks_verify() {
    let inbox: Inbox = Arc::default();
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(Arc::clone(&inbox));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let sim = LinearSim::start(LinearSimConfig {
        webhook_url: Some(format!("http://{addr}/hook")),
        ..LinearSimConfig::default()
    })
    .await
    .unwrap();
    let conn = connector_for(&sim);
    let issue = sim.create_issue("Hooked", None, "Todo").unwrap();
    sim.add_comment(&issue.id, "hello").unwrap();
    let mut deliveries = Vec::new();
    for _ in 0..100 {
        deliveries = inbox.lock().unwrap().clone();
        if deliveries.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(deliveries.len() >= 2, "got {} deliveries", deliveries.len());
    let now = chrono::Utc::now();
    for (headers, body) in &deliveries {
        let hint = conn.verify_webhook(headers, body, now).unwrap();
        assert_eq!(
            hint.record_id.as_deref(),
            Some(issue.id.as_str()),
            "{hint:?}"
        );
        assert!(!hint.delivery_id.is_empty());
        let mut tampered = body.to_vec();
        tampered.push(b' ');
        assert!(conn.verify_webhook(headers, &tampered, now).is_err());
    }
    server.abort();
}

/// A listing selects no relations (3.4 complexity points per issue, not
/// 14.4); the canceled issues of a page get theirs in one extra request, so
/// reconcile still sees a duplicate mark without webhooks.
#[tokio::test]
async fn listings_read_relations_only_for_canceled_issues() {
    let sim = sim().await;
    for i in 0..5 {
        sim.create_issue(&format!("Open {i}"), None, "Todo")
            .unwrap();
    }
    let dup = sim.create_issue("Dup", None, "Todo").unwrap();
    let canon = sim.create_issue("Canon", None, "Todo").unwrap();
    sim.mark_duplicate(&dup.id, &canon.id).unwrap();
    let conn = connector_for(&sim).with_page_size(50);
    conn.catalog().await.unwrap();
    conn.take_quota_samples_with_cost();
    let records = conn.issues_changed(None).await.unwrap();
    let costs: Vec<i64> = conn
        .take_quota_samples_with_cost()
        .into_iter()
        .filter(|(s, _)| s.kind == roundtrip::domain::QuotaKind::Complexity)
        .filter_map(|(_, c)| c)
        .collect();
    let dup_rec = records.iter().find(|r| r.remote_id == dup.id).unwrap();
    assert_eq!(dup_rec.duplicate_of.as_deref(), Some(canon.id.as_str()));
    assert!(
        records
            .iter()
            .filter(|r| r.remote_id != dup.id)
            .all(|r| r.duplicate_of.is_none())
    );
    assert_eq!(
        costs.len(),
        2,
        "one listing plus one relations read: {costs:?}"
    );
    assert!(
        costs[0] <= 50 * 4,
        "listing of 50 costs {} (relations would make it 722)",
        costs[0]
    );
    assert!(
        costs[1] <= 13,
        "relations of one canceled issue cost {}",
        costs[1]
    );
}
