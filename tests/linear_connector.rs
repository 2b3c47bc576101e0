//! Linear connector tests that need no simulator: every document against the
//! published schema, the shared webhook vectors, and classification, quota
//! parsing, batching and idempotent create against a local axum stub that
//! answers canned Linear-shaped responses. All HTTP stays on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a failed setup step should stop with its message

#[path = "support/linear_schema.rs"]
mod linear_schema;
#[path = "support/linear_stub.rs"]
mod linear_stub;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use http::{HeaderMap, HeaderValue};
use linear_stub::{Reply, Seen, Stub, catalog_reply, issue_node};
use roundtrip::connector::linear::{
    LinearAuth, LinearConfig, LinearConnector, documents, verify_linear_signature,
};
use roundtrip::connector::{Connector, WebhookRejection};
use roundtrip::domain::{ErrorClass, FieldValue};
use roundtrip::domain::{NewRecord, Update};
use serde_json::{Value, json};

// ---------------------------------------------------------------- schema

#[test]
fn every_document_validates_against_the_published_schema() {
    let schema = linear_schema::schema();
    let mut failures = Vec::new();
    for (name, doc) in documents::ALL {
        if let Err(e) = linear_schema::check(schema, name, doc, None) {
            failures.push(e);
        }
    }
    for n in [1, 2, documents::MAX_BATCH] {
        let update = documents::update_batch_document(n);
        let create = documents::create_batch_document(n);
        for (name, doc) in [("update batch", update), ("create batch", create)] {
            if let Err(e) = linear_schema::check(schema, name, &doc, None) {
                failures.push(e);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_document_stays_under_the_complexity_cap() {
    let schema = linear_schema::schema();
    let largest = json!({"first": 250});
    let mut docs: Vec<(String, String)> = documents::ALL
        .iter()
        .map(|(n, d)| (n.to_string(), d.to_string()))
        .collect();
    docs.push((
        "update batch".into(),
        documents::update_batch_document(documents::MAX_BATCH),
    ));
    docs.push((
        "create batch".into(),
        documents::create_batch_document(documents::MAX_BATCH),
    ));
    for (name, doc) in docs {
        let points = linear_schema::estimate_complexity(schema, &doc, &largest).unwrap();
        eprintln!("{name}: about {points} complexity points");
        assert!(points <= 10_000, "{name} costs about {points} points");
    }
    // The estimator follows Linear's documented examples.
    let example = "query { viewer { createdIssues { nodes { id title createdAt } } } }";
    assert_eq!(
        linear_schema::estimate_complexity(schema, example, &json!({})),
        Ok(66)
    );
    let example = "query { viewer { createdIssues(first: 10) { nodes { id title createdAt } } } }";
    assert_eq!(
        linear_schema::estimate_complexity(schema, example, &json!({})),
        Ok(14)
    );
}

#[test]
fn schema_check_rejects_a_wrong_document() {
    let schema = linear_schema::schema();
    let bad = "query X($id: String!) { issue(id: $id) { id notAField } }";
    assert!(linear_schema::check(schema, "bad", bad, None).is_err());
    let ok = "query X($id: String!) { issue(id: $id) { id } }";
    assert!(linear_schema::check(schema, "ok", ok, Some(&json!({"id": "a"}))).is_ok());
    assert!(linear_schema::check(schema, "vars", ok, Some(&json!({"id": 5}))).is_err());
    let list = documents::ISSUES_CHANGED;
    let good = json!({"filter": {"updatedAt": {"gte": "2026-11-01T00:00:00.000Z"}}, "first": 2});
    assert!(linear_schema::check(schema, "list", list, Some(&good)).is_ok());
    let unknown_field = json!({"filter": {"updatedSince": "2026-11-01"}, "first": 2});
    assert!(linear_schema::check(schema, "list", list, Some(&unknown_field)).is_err());
}

/// Every request the connector sent in a stub test, documents and
/// variables, must be valid for Linear's schema.
fn assert_requests_valid(stub: &Stub) {
    let schema = linear_schema::schema();
    let failures: Vec<String> = stub
        .seen()
        .iter()
        .filter_map(|s| linear_schema::check(schema, s.op(), &s.query, Some(&s.variables)).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------- webhooks

/// The webhook test vectors, copied into the repository from the vendor
/// notes (computed independently of this code): the tests fail, never skip,
/// when the copy is missing.
const VECTORS: &str = include_str!("fixtures/webhook-vectors/linear.json");

fn vectors() -> Vec<Value> {
    let v: Value = serde_json::from_str(VECTORS).expect("vectors are JSON");
    v["vectors"].as_array().expect("a vectors array").clone()
}

fn body_timestamp(body: &str) -> chrono::DateTime<Utc> {
    let v: Value = serde_json::from_str(body).unwrap();
    Utc.timestamp_millis_opt(v["webhookTimestamp"].as_i64().unwrap())
        .unwrap()
}

#[test]
fn shared_webhook_vectors() {
    let vectors = vectors();
    assert!(vectors.len() >= 5, "expected the shared vector set");
    for (i, v) in vectors.iter().enumerate() {
        let secret = v["secret"].as_str().unwrap();
        let body = v["body"].as_str().unwrap();
        let sig = v["linear_signature"].as_str().unwrap();
        let now = body_timestamp(body) + chrono::Duration::seconds(5);
        let got = verify_linear_signature(secret, body.as_bytes(), Some(sig), now);
        assert_eq!(
            got.is_ok(),
            v["valid"].as_bool().unwrap(),
            "vector {i} ({}): {got:?}",
            v["why"].as_str().unwrap_or("valid")
        );
    }
}

#[test]
fn tampered_wrong_secret_stale_and_missing_are_rejected() {
    let vectors = vectors();
    let v = vectors.iter().find(|v| v["valid"] == json!(true)).unwrap();
    let secret = v["secret"].as_str().unwrap();
    let body = v["body"].as_str().unwrap();
    let sig = v["linear_signature"].as_str().unwrap();
    let now = body_timestamp(body);
    assert!(verify_linear_signature(secret, body.as_bytes(), Some(sig), now).is_ok());
    let tampered = body.replacen("\"action\":\"", "\"action\":\"x", 1);
    assert_eq!(
        verify_linear_signature(secret, tampered.as_bytes(), Some(sig), now),
        Err(WebhookRejection::BadSignature)
    );
    assert_eq!(
        verify_linear_signature("not-the-secret", body.as_bytes(), Some(sig), now),
        Err(WebhookRejection::BadSignature)
    );
    let late = now + chrono::Duration::seconds(61);
    assert_eq!(
        verify_linear_signature(secret, body.as_bytes(), Some(sig), late),
        Err(WebhookRejection::Stale)
    );
    let early = now - chrono::Duration::seconds(61);
    assert_eq!(
        verify_linear_signature(secret, body.as_bytes(), Some(sig), early),
        Err(WebhookRejection::Stale)
    );
    assert_eq!(
        verify_linear_signature(secret, body.as_bytes(), None, now),
        Err(WebhookRejection::MissingSignature("Linear-Signature"))
    );
    let upper = sig.to_uppercase();
    assert!(
        verify_linear_signature(secret, body.as_bytes(), Some(&upper), now).is_ok(),
        "hex case does not change the bytes"
    );
}

#[test]
fn trait_verify_webhook_gives_a_delivery_hint() {
    let vectors = vectors();
    let v = vectors
        .iter()
        .find(|v| v["valid"] == json!(true) && v["body"].as_str().unwrap().contains("\"remove\""))
        .expect("a remove vector");
    let body = v["body"].as_str().unwrap();
    let mut config = LinearConfig::new("k", "ENG", v["secret"].as_str().unwrap());
    config.api_url = "http://127.0.0.1:9/graphql".into();
    let conn = LinearConnector::new(config).unwrap();
    let mut h = HeaderMap::new();
    h.insert(
        "linear-signature",
        HeaderValue::from_str(v["linear_signature"].as_str().unwrap()).unwrap(),
    );
    h.insert("linear-delivery", HeaderValue::from_static("dlv-1"));
    h.insert("linear-event", HeaderValue::from_static("Issue"));
    let hint = conn
        .verify_webhook(&h, body.as_bytes(), body_timestamp(body))
        .unwrap();
    assert_eq!(hint.delivery_id, "dlv-1");
    assert_eq!(hint.event, "Issue");
    assert_eq!(
        hint.record_id.as_deref(),
        Some("2f6b1c3e-8a57-4f0c-9a51-0f6f8f0b2a11")
    );
    assert!(hint.removed);
}

// ---------------------------------------------------------------- stub

fn connector(url: &str) -> LinearConnector {
    let mut config = LinearConfig::new("lin_api_test", "ENG", "whsec");
    config.api_url = url.to_string();
    config.timeout = Duration::from_millis(500);
    LinearConnector::new(config).unwrap()
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn ratelimited_reply(reset_ms: i64) -> Reply {
    Reply::status(
        400,
        json!({"errors":[{"message":"Rate limit exceeded","extensions":{"code":"RATELIMITED","type":"ratelimited","statusCode":429,"userError":true}}]}),
    )
    .header("x-ratelimit-requests-limit", 2500)
    .header("x-ratelimit-requests-remaining", 0)
    .header("x-ratelimit-requests-reset", reset_ms)
    .header("x-ratelimit-complexity-limit", 3_000_000)
    .header("x-ratelimit-complexity-remaining", 2_999_000)
    .header("x-ratelimit-complexity-reset", now_ms() + 5_000)
    .header("x-complexity", 2)
    .header("x-request-id", "req-42")
}

#[tokio::test]
async fn ratelimited_with_http_400_is_rate_limited_with_reset() {
    let reset = now_ms() + 30_000;
    let stub = Stub::start(move |_| ratelimited_reply(reset)).await;
    let conn = connector(&stub.url);
    let err = conn.viewer().await.unwrap_err();
    assert_eq!(err.class, ErrorClass::RateLimited, "{err:?}");
    assert_eq!(err.http_status, Some(400));
    assert_eq!(err.request_id.as_deref(), Some("req-42"));
    let wait = err.retry_after.expect("a wait from the reset header");
    assert!(
        wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
        "{wait:?}"
    );
    let samples = conn.take_quota_samples();
    let kinds: Vec<&str> = samples.iter().map(|s| s.kind.as_str()).collect();
    assert_eq!(kinds, ["requests", "complexity"]);
    assert_eq!(samples[0].remaining, 0);
    assert_eq!(samples[0].limit, 2500);
    assert_eq!(samples[0].reset_at.unwrap().timestamp_millis(), reset);
    assert!(conn.take_quota_samples().is_empty(), "samples are drained");
    let snap = conn.quota().unwrap();
    assert_eq!(snap.requests.unwrap().remaining, 0);
    assert_eq!(snap.complexity.unwrap().remaining, 2_999_000);
    assert_eq!(snap.last_cost, Some(2));
}

#[tokio::test]
async fn auth_server_and_validation_classes() {
    let stub = Stub::start(|s: &Seen| {
        match s.variables.get("id").and_then(Value::as_str) {
            Some("auth401") => Reply::raw(401, ""),
            Some("auth400") => Reply::status(
                400,
                json!({"errors":[{"message":"Authentication required, not authenticated","extensions":{"code":"AUTHENTICATION_ERROR","type":"authentication error","statusCode":401}}]}),
            ),
            Some("boom") => Reply::raw(500, "<html>Internal Server Error</html>"),
            Some("gone") => Reply::ok(
                json!({"data":null,"errors":[{"message":"Entity not found: Issue","path":["issue"],"extensions":{"code":"INPUT_ERROR","type":"invalid input","statusCode":400}}]}),
            ),
            _ => Reply::ok(
                json!({"errors":[{"message":"Argument Validation Error","extensions":{"code":"INPUT_ERROR","type":"invalid input"}}]}),
            ),
        }
    })
    .await;
    let conn = connector(&stub.url);
    let class = |r: Result<Option<_>, roundtrip::domain::RemoteError>| r.unwrap_err().class;
    assert_eq!(class(conn.issue("auth401").await), ErrorClass::Auth);
    assert_eq!(class(conn.issue("auth400").await), ErrorClass::Auth);
    let e = conn.issue("boom").await.unwrap_err();
    assert_eq!((e.class, e.http_status), (ErrorClass::Server, Some(500)));
    assert_eq!(
        conn.get("gone").await.unwrap(),
        None,
        "not found is Ok(None)"
    );
    let e = conn.issue("other").await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Validation);
    assert_eq!(
        e.message, "Argument Validation Error",
        "Linear's message is kept"
    );
    assert!(
        !format!("{e:?}").contains("lin_api_test"),
        "no secret in errors"
    );
    assert_requests_valid(&stub);
}

#[tokio::test]
async fn network_and_timeout_classes() {
    // A port that was just free: nothing listens on it.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let conn = connector(&format!("http://127.0.0.1:{port}/graphql"));
    assert_eq!(conn.viewer().await.unwrap_err().class, ErrorClass::Network);

    let stub = Stub::start(|_| {
        Reply::ok(json!({"data":{"viewer":{"id":"u","name":"N","email":null}}}))
            .delayed(Duration::from_secs(3))
    })
    .await;
    let conn = connector(&stub.url);
    assert_eq!(conn.viewer().await.unwrap_err().class, ErrorClass::Timeout);
}

#[tokio::test]
async fn credentials_go_in_the_documented_header_forms() {
    let stub = Stub::start(|_| {
        Reply::ok(json!({"data":{"viewer":{"id":"u1","name":"Ann","email":"a@x"}}}))
    })
    .await;
    let conn = connector(&stub.url);
    assert_eq!(conn.viewer().await.unwrap().name, "Ann");
    let mut config = LinearConfig::new("oauth-token", "ENG", "s");
    config.api_url = stub.url.clone();
    config.auth = LinearAuth::OAuth;
    LinearConnector::new(config)
        .unwrap()
        .viewer()
        .await
        .unwrap();
    let auth: Vec<String> = stub
        .seen()
        .iter()
        .map(|s| s.headers["authorization"].to_str().unwrap().to_string())
        .collect();
    assert_eq!(auth, ["lin_api_test", "Bearer oauth-token"]);
    assert_requests_valid(&stub);
}

#[tokio::test]
async fn listing_follows_pages_until_has_next_page_is_false() {
    let stub = Stub::start(|s: &Seen| {
        if let Some(r) = catalog_reply(s) {
            return r;
        }
        let after = s.variables["after"].as_str().map(str::to_string);
        let (nodes, next) = match after.as_deref() {
            None => (vec![issue_node("i1", 1), issue_node("i2", 2)], Some("c1")),
            Some("c1") => (vec![issue_node("i3", 3), issue_node("i2", 2)], Some("c2")),
            Some("c2") => (vec![issue_node("i4", 4)], None),
            Some(other) => panic!("unexpected cursor {other}"),
        };
        Reply::ok(json!({"data":{"issues":{"nodes":nodes,
            "pageInfo":{"hasNextPage":next.is_some(),"endCursor":next}}}}))
    })
    .await;
    let conn = connector(&stub.url).with_page_size(2);
    let since = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let records = conn.issues_changed(Some(since)).await.unwrap();
    let ids: Vec<&str> = records.iter().map(|r| r.remote_id.as_str()).collect();
    assert_eq!(
        ids,
        ["i1", "i2", "i3", "i4"],
        "all pages, duplicates dropped"
    );
    assert_eq!(records[0].labels.iter().collect::<Vec<_>>(), ["Bug"]);
    assert_eq!(records[0].status_type.as_deref(), Some("unstarted"));
    let lists: Vec<Seen> = stub
        .seen()
        .into_iter()
        .filter(|s| s.op() == "RoundtripIssuesChanged")
        .collect();
    assert_eq!(lists.len(), 3);
    let vars = &lists[0].variables;
    assert_eq!(vars["first"], json!(2));
    assert_eq!(
        vars["filter"]["updatedAt"]["gte"],
        json!("2026-11-01T00:00:00.000Z")
    );
    assert_eq!(vars["filter"]["team"]["id"]["eq"], json!("team-1"));
    // The trait's page-by-page form hands back the cursor.
    let page = conn.list_changed(None, None).await.unwrap();
    assert_eq!(page.next_page.as_deref(), Some("c1"));
    assert_requests_valid(&stub);
}

fn fields(pairs: &[(&str, FieldValue)]) -> BTreeMap<String, FieldValue> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[tokio::test]
async fn batch_reports_one_failing_alias() {
    let stub = Stub::start(|s: &Seen| {
        if let Some(r) = catalog_reply(s) {
            return r;
        }
        assert_eq!(s.op(), "RoundtripIssueUpdateBatch");
        Reply::ok(json!({
            "data": {"u0": {"success": true}, "u1": null, "u2": {"success": true}},
            "errors": [{"message": "Entity not found: Issue", "path": ["u1"],
                        "extensions": {"code": "INPUT_ERROR", "type": "invalid input", "statusCode": 400}}]
        }))
    })
    .await;
    let conn = connector(&stub.url);
    let update = |state: &str| Update {
        fields: fields(&[
            ("state", FieldValue::Text(state.into())),
            ("labels", FieldValue::Set(["Bug".to_string()].into())),
        ]),
        ..Update::default()
    };
    let items = vec![
        ("i1".to_string(), update("Done")),
        ("missing".to_string(), update("started")),
        ("i3".to_string(), update("Todo")),
    ];
    let results = conn.update_many(&items).await.unwrap();
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert_eq!(results[1].as_ref().unwrap_err().class, ErrorClass::NotFound);
    assert!(results[2].is_ok());
    let batch: Vec<Seen> = stub
        .seen()
        .into_iter()
        .filter(|s| s.op() == "RoundtripIssueUpdateBatch")
        .collect();
    assert_eq!(batch.len(), 1, "one request for three updates");
    let v = &batch[0].variables;
    assert_eq!(v["id1"], json!("missing"));
    assert_eq!(v["in0"]["stateId"], json!("st-done"));
    assert_eq!(v["in1"]["stateId"], json!("st-prog"), "state type resolves");
    assert_eq!(v["in2"]["labelIds"], json!(["lb-bug"]));
    assert_requests_valid(&stub);
}

#[tokio::test]
async fn batch_chunks_and_whole_request_failure() {
    let stub = Stub::start(|s: &Seen| {
        if let Some(r) = catalog_reply(s) {
            return r;
        }
        ratelimited_reply(now_ms() + 10_000)
    })
    .await;
    let conn = connector(&stub.url).with_batch_size(2);
    let items: Vec<(String, Update)> = (0..5)
        .map(|i| {
            let u = Update {
                fields: fields(&[("title", FieldValue::Text(format!("T{i}")))]),
                ..Update::default()
            };
            (format!("i{i}"), u)
        })
        .collect();
    let err = conn.update_many(&items).await.unwrap_err();
    assert_eq!(err.class, ErrorClass::RateLimited);
    let batches = stub
        .ops()
        .iter()
        .filter(|o| *o == "RoundtripIssueUpdateBatch")
        .count();
    assert_eq!(batches, 1, "no further chunks after a rate limit");
}

#[tokio::test]
async fn create_retry_that_already_exists_returns_the_issue() {
    let client_id = uuid::Uuid::new_v4();
    let id = client_id.to_string();
    let stub = Stub::start(move |s: &Seen| {
        if let Some(r) = catalog_reply(s) {
            return r;
        }
        match s.op() {
            "RoundtripIssueLabelCreate" => Reply::ok(json!({"data":{"issueLabelCreate":{"success":true,
                "issueLabel":{"id":"lb-new","name":"Shiny","isGroup":false,"team":{"id":"team-1"}}}}})),
            "RoundtripIssueCreate" => Reply::status(400, json!({"data":null,"errors":[{
                "message": format!("Entity Issue with id {id} already exists."), "path":["issueCreate"],
                "extensions":{"code":"INPUT_ERROR","type":"invalid input","statusCode":400,"userError":true}}]})),
            "RoundtripIssue" => {
                let mut node = issue_node(&id, 7);
                node["labels"] = json!({"nodes":[{"id":"lb-bug","name":"Bug"}]});
                node["comments"] = json!({"nodes":[],"pageInfo":{"hasNextPage":false,"endCursor":null}});
                node["attachments"] = json!({"nodes":[]});
                Reply::ok(json!({"data":{"issue":node}}))
            }
            "RoundtripAttachmentLinkUrl" => Reply::ok(json!({"data":{"attachmentLinkURL":{"success":true,
                "attachment":{"id":"att-1","url":"https://portal.example/p/1","title":"Post"}}}})),
            other => panic!("unexpected {other}"),
        }
    })
    .await;
    let conn = connector(&stub.url);
    let new = NewRecord {
        client_id,
        fields: fields(&[
            ("title", FieldValue::Text("From portal".into())),
            ("description", FieldValue::Text("details".into())),
            ("state", FieldValue::Text("Todo".into())),
            (
                "labels",
                FieldValue::Set(["Bug".to_string(), "Shiny".to_string()].into()),
            ),
            ("priority", FieldValue::Number(2)),
        ]),
        source_url: Some("https://portal.example/p/1".into()),
        source_title: Some("Post".into()),
        created_id: None,
        placement: None,
    };
    let record = conn.create(&new).await.unwrap();
    assert_eq!(record.remote_id, client_id.to_string());
    assert_eq!(record.identifier.as_deref(), Some("ENG-7"));
    let seen = stub.seen();
    let create = seen
        .iter()
        .find(|s| s.op() == "RoundtripIssueCreate")
        .unwrap();
    let input = &create.variables["input"];
    assert_eq!(input["id"], json!(client_id.to_string()));
    assert_eq!(input["teamId"], json!("team-1"));
    assert_eq!(input["stateId"], json!("st-todo"));
    assert_eq!(input["labelIds"], json!(["lb-bug", "lb-new"]));
    let ops = stub.ops();
    let after_create: Vec<&str> = ops
        .iter()
        .skip_while(|o| *o != "RoundtripIssueCreate")
        .map(String::as_str)
        .collect();
    assert_eq!(
        after_create,
        [
            "RoundtripIssueCreate",
            "RoundtripIssue",
            "RoundtripAttachmentLinkUrl"
        ]
    );
    assert!(ops.contains(&"RoundtripIssueLabelCreate".to_string()));
    assert_requests_valid(&stub);
}

#[tokio::test]
async fn find_created_by_client_id_then_by_url() {
    let stub = Stub::start(|s: &Seen| match s.op() {
        "RoundtripIssue" => {
            let id = s.variables["id"].as_str().unwrap();
            if id == "linked" {
                let mut node = issue_node(id, 9);
                node["labels"] = json!({"nodes":[]});
                Reply::ok(json!({"data":{"issue":node}}))
            } else {
                Reply::ok(json!({"data":null,"errors":[{"message":"Entity not found: Issue","path":["issue"],"extensions":{"code":"INPUT_ERROR"}}]}))
            }
        }
        "RoundtripAttachmentsForUrl" => Reply::ok(json!({"data":{"attachmentsForURL":{"nodes":[
            {"id":"a1","url":"https://portal.example/p/2","issue":{"id":"linked"}}]}}})),
        other => panic!("unexpected {other}"),
    })
    .await;
    let conn = connector(&stub.url);
    let new = NewRecord {
        client_id: uuid::Uuid::new_v4(),
        fields: BTreeMap::new(),
        source_url: Some("https://portal.example/p/2".into()),
        source_title: None,
        created_id: None,
        placement: None,
    };
    let found = conn.find_created(&new).await.unwrap().unwrap();
    assert_eq!(found.remote_id, "linked");
    assert_eq!(
        stub.ops(),
        [
            "RoundtripIssue",
            "RoundtripAttachmentsForUrl",
            "RoundtripIssue"
        ]
    );
    assert_requests_valid(&stub);
}
