//! The Canny connector against the Canny simulator over real loopback HTTP.
//! The two were written separately from the same notes, so every test here
//! checks one reading of Canny's documentation against the other.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a failed setup step should stop with its message

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::Utc;
use http::{HeaderMap, HeaderValue};
use roundtrip::connector::canny::{
    CannyConfig, CannyConnector, NonceCache, content_hash, signature_matches,
    verify_canny_delivery, verify_canny_webhook,
};
use roundtrip::connector::{Connector, WebhookRejection};
use roundtrip::domain::{ErrorClass, FieldValue};
use roundtrip::domain::{NewRecord, Update};
use roundtrip::sim::canny::{CannySim, CannySimConfig, sign_webhook_nonce};
use roundtrip::sim::faults::ApiFaults;
use serde_json::{Value, json};

async fn sim_with(posts: usize) -> CannySim {
    CannySim::start(CannySimConfig {
        posts,
        seed: 7,
        ..CannySimConfig::default()
    })
    .await
    .expect("simulator starts")
}

fn config(sim: &CannySim) -> CannyConfig {
    let mut c = CannyConfig::new(sim.base_url(), sim.api_key(), "Feature Requests");
    c.page_size = 10;
    c
}

fn connector(sim: &CannySim) -> CannyConnector {
    CannyConnector::new(config(sim)).expect("connector builds")
}

async fn raw(sim: &CannySim, endpoint: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/{endpoint}", sim.base_url()))
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.expect("json body"))
}

fn text(s: &str) -> FieldValue {
    FieldValue::Text(s.into())
}

fn update_of(fields: &[(&str, FieldValue)]) -> Update {
    Update {
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        ..Update::default()
    }
}

#[tokio::test]
async fn pagination_goes_beyond_one_page() {
    let sim = sim_with(25).await;
    let c = connector(&sim);
    let all = c.list_all_posts().await.unwrap();
    assert_eq!(all.len(), 25);
    let ids: BTreeSet<&str> = all.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids.len(), 25);

    let mut page = None;
    let mut pages = 0;
    let mut seen = 0;
    loop {
        let p = c.list_changed(None, page).await.unwrap();
        pages += 1;
        seen += p.records.len();
        match p.next_page {
            Some(n) => page = Some(n),
            None => break,
        }
    }
    assert_eq!((pages, seen), (3, 25));
}

#[tokio::test]
async fn every_status_is_listed_including_complete_and_closed() {
    let sim = sim_with(12).await;
    let c = connector(&sim);
    let statuses: BTreeSet<String> = c
        .list_all_posts()
        .await
        .unwrap()
        .into_iter()
        .filter_map(|p| p.status)
        .collect();
    for s in [
        "open",
        "under review",
        "planned",
        "in progress",
        "complete",
        "closed",
    ] {
        assert!(statuses.contains(s), "missing {s}: {statuses:?}");
    }
    // Canny's default filter hides complete and closed posts.
    let (status, body) = raw(
        &sim,
        "posts/list",
        json!({"apiKey": sim.api_key(), "limit": 100}),
    )
    .await;
    assert_eq!(status, 200);
    let shown: Vec<&str> = body["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    assert_eq!(shown.len(), 8);
    assert!(!shown.contains(&"complete") && !shown.contains(&"closed"));
}

#[tokio::test]
async fn status_change_round_trip() {
    let sim = sim_with(1).await;
    let c = connector(&sim);
    let id = sim.create_post("Dark mode", "please").unwrap();
    let mut u = update_of(&[("status", text("planned"))]);
    u.notify_voters = true;
    c.update(&id, &u).await.unwrap();
    assert_eq!(sim.post(&id).unwrap().status, "planned");
    assert_eq!(sim.stats().voter_notifications, 1);
    let rec = c.get(&id).await.unwrap().unwrap();
    assert_eq!(rec.status, "planned");
    sim.set_status(&id, "complete").unwrap();
    assert_eq!(c.get(&id).await.unwrap().unwrap().status, "complete");
}

#[tokio::test]
async fn retried_status_change_with_comment_posts_it_once() {
    let sim = sim_with(0).await;
    let c = connector(&sim);
    let id = sim.create_post("Export", "csv please").unwrap();
    for _ in 0..2 {
        c.change_status(&id, "complete", true, Some("Shipped in 2.1"))
            .await
            .unwrap();
    }
    let shipped: Vec<_> = sim
        .comments(&id)
        .into_iter()
        .filter(|c| c.value == "Shipped in 2.1")
        .collect();
    assert_eq!(shipped.len(), 1);

    // The guard matters: Canny itself posts commentValue again on a
    // same-status change, which is what a blind retry would send.
    let (status, _) = raw(
        &sim,
        "posts/change_status",
        json!({"apiKey": sim.api_key(), "postID": id, "changerID": sim.admin_id(),
               "status": "complete", "shouldNotifyVoters": false, "commentValue": "Shipped in 2.1"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(sim.comments(&id).len(), 2);
}

#[tokio::test]
async fn change_status_needs_an_admin_and_the_notify_flag() {
    let sim = sim_with(0).await;
    let id = sim.create_post("x", "y").unwrap();
    let customer = sim.customer_ids()[0].clone();
    let (s, body) = raw(
        &sim,
        "posts/change_status",
        json!({"apiKey": sim.api_key(), "postID": id, "changerID": customer, "status": "planned", "shouldNotifyVoters": false}),
    )
    .await;
    assert_eq!(s, 400);
    assert!(body["error"].is_string());
    let (s, _) = raw(
        &sim,
        "posts/change_status",
        json!({"apiKey": sim.api_key(), "postID": id, "changerID": sim.admin_id(), "status": "planned"}),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(sim.post(&id).unwrap().status, "open");
}

#[tokio::test]
async fn tags_are_added_and_removed_through_update() {
    let sim = sim_with(0).await;
    let c = connector(&sim);
    let id = sim.create_post("Tags", "t").unwrap();
    sim.add_tag(&id, "bug").unwrap();
    let wanted: BTreeSet<String> = ["ux".to_string(), "brand-new".to_string()].into();
    c.update(
        &id,
        &update_of(&[("labels", FieldValue::Set(wanted.clone()))]),
    )
    .await
    .unwrap();
    assert_eq!(sim.post(&id).unwrap().tags, wanted);
    assert_eq!(c.get(&id).await.unwrap().unwrap().labels, wanted);
    let only: BTreeSet<String> = ["ux".to_string()].into();
    c.update(&id, &update_of(&[("tags", FieldValue::Set(only.clone()))]))
        .await
        .unwrap();
    assert_eq!(sim.post(&id).unwrap().tags, only);
}

#[tokio::test]
async fn title_and_details_update_and_hash_tracks_them() {
    let sim = sim_with(3).await;
    let c = connector(&sim);
    let id = sim.posts()[0].id.clone();
    let before = c.get(&id).await.unwrap().unwrap();
    let listed = c
        .list_changed(None, None)
        .await
        .unwrap()
        .records
        .into_iter()
        .find(|r| r.remote_id == id)
        .unwrap();
    assert_eq!(
        content_hash(&listed),
        content_hash(&before),
        "list and get agree"
    );
    c.update(
        &id,
        &update_of(&[
            ("title", text("New title")),
            ("description", text("New body")),
        ]),
    )
    .await
    .unwrap();
    let after = c.get(&id).await.unwrap().unwrap();
    assert_eq!(
        (after.title.as_str(), after.description.as_str()),
        ("New title", "New body")
    );
    assert_ne!(content_hash(&after), content_hash(&before));
    let snap = sim.post(&id).unwrap();
    assert_eq!(snap.title, "New title");
}

#[tokio::test]
async fn create_retried_with_the_same_client_id_makes_one_post() {
    let sim = sim_with(5).await;
    let c = connector(&sim);
    let new = NewRecord {
        client_id: uuid::Uuid::new_v4(),
        fields: [
            ("title".to_string(), text("From Linear")),
            ("details".to_string(), text("Body text")),
            ("status".to_string(), text("planned")),
            (
                "tags".to_string(),
                FieldValue::Set(["ux".to_string()].into()),
            ),
        ]
        .into(),
        source_url: None,
        source_title: None,
        created_id: None,
        placement: None,
    };
    let before = sim.posts().len();
    let first = c.create(&new).await.unwrap();
    let second = c.create(&new).await.unwrap();
    assert_eq!(first.remote_id, second.remote_id);
    assert_eq!(sim.posts().len(), before + 1);
    assert_eq!(first.description, "Body text");
    let public = sim.post(&first.remote_id).unwrap();
    assert_eq!(
        public.details, "Body text",
        "nothing of roundtrip's in the public details"
    );
    assert_eq!(first.status, "planned");
    assert!(first.labels.contains("ux"));
    assert_eq!(
        c.find_created(&new).await.unwrap().unwrap().remote_id,
        first.remote_id
    );

    // A first attempt whose reply was lost: the post exists (same content,
    // not claimed yet), the retry finds it; the post claimed by the first
    // create above is left alone although its content is the same.
    let lost = NewRecord {
        client_id: uuid::Uuid::new_v4(),
        ..new.clone()
    };
    let made = c.create_post("From Linear", "Body text").await.unwrap();
    let again = c.create(&lost).await.unwrap();
    assert_eq!(again.remote_id, made);
    assert_eq!(again.status, "planned", "the half-done create is completed");
    assert!(again.labels.contains("ux"));
    assert_eq!(sim.posts().len(), before + 2);
}

#[tokio::test]
async fn rate_limit_is_waited_out_then_classified() {
    let sim = CannySim::start(CannySimConfig {
        requests_per_second: 1,
        ..CannySimConfig::default()
    })
    .await
    .unwrap();
    let c = connector(&sim);
    let started = Instant::now();
    for _ in 0..3 {
        c.list_boards().await.unwrap();
    }
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "waited for Retry-After"
    );
    assert!(sim.stats().rate_limited >= 2);

    let mut cfg = config(&sim);
    cfg.rate_limit_retries = 0;
    cfg.plan_limit_per_second = Some(1);
    let strict = CannyConnector::new(cfg).unwrap();
    let mut err = None;
    for _ in 0..3 {
        if let Err(e) = strict.list_boards().await {
            err = Some(e);
            break;
        }
    }
    let err = err.expect("a 429 surfaces");
    assert_eq!(err.class, ErrorClass::RateLimited);
    assert_eq!(err.http_status, Some(429));
    assert_eq!(err.retry_after, Some(Duration::from_secs(1)));
    let samples = strict.take_quota_samples();
    assert_eq!(samples.len(), 1);
    assert_eq!((samples[0].limit, samples[0].remaining), (1, 0));
    assert!(strict.take_quota_samples().is_empty());
}

#[tokio::test]
async fn invalid_key_is_auth_and_never_echoed() {
    let sim = sim_with(0).await;
    let mut cfg = config(&sim);
    cfg.api_key = "wrong-key-7f3a".into();
    let c = CannyConnector::new(cfg).unwrap();
    let err = c.list_boards().await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Auth);
    assert_eq!(err.http_status, Some(400));
    assert!(!format!("{err} {err:?} {c:?}").contains("wrong-key-7f3a"));
    assert_eq!(c.resolve().await.unwrap_err().class, ErrorClass::Auth);
}

#[tokio::test]
async fn unknown_posts_are_not_found() {
    let sim = sim_with(0).await;
    let c = connector(&sim);
    assert_eq!(c.get("0000deadbeef").await.unwrap(), None);
    let err = c
        .update("0000deadbeef", &update_of(&[("title", text("x"))]))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::NotFound);
    let id = sim.create_post("Gone soon", "x").unwrap();
    sim.delete_post(&id).unwrap();
    assert_eq!(c.get(&id).await.unwrap(), None);
    c.delete(&id)
        .await
        .expect("deleting a deleted post is done");
    let err = c
        .update(&id, &update_of(&[("score", FieldValue::Number(3))]))
        .await
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::Validation);
}

#[tokio::test]
async fn other_failures_are_classified() {
    let sim = sim_with(0).await;
    sim.set_faults(ApiFaults {
        server_error: 1.0,
        ..ApiFaults::default()
    });
    let c = connector(&sim);
    assert_eq!(c.list_boards().await.unwrap_err().class, ErrorClass::Server);
    sim.set_faults(ApiFaults {
        timeout: 1.0,
        ..ApiFaults::default()
    });
    let mut cfg = config(&sim);
    cfg.request_timeout = Duration::from_millis(300);
    let quick = CannyConnector::new(cfg).unwrap();
    assert_eq!(
        quick.list_boards().await.unwrap_err().class,
        ErrorClass::Timeout
    );
    sim.set_faults(ApiFaults::default());
    // A validation error carries Canny's message.
    let err = c.create_post("", "x").await.unwrap_err();
    assert_eq!(err.class, ErrorClass::Validation);
    assert!(err.message.contains("invalid title"), "{}", err.message);

    let addr = sim.addr();
    sim.shutdown().await;
    let mut cfg = CannyConfig::new(format!("http://{addr}/api/v1"), "k", "Feature Requests");
    cfg.request_timeout = Duration::from_secs(2);
    let dead = CannyConnector::new(cfg).unwrap();
    assert_eq!(
        dead.list_boards().await.unwrap_err().class,
        ErrorClass::Network
    );
}

#[tokio::test]
async fn comments_round_trip_oldest_first() {
    let sim = sim_with(0).await;
    let c = connector(&sim);
    let id = sim.create_post("Comments", "x").unwrap();
    sim.add_comment(&id, "first").unwrap();
    for i in 0..12 {
        c.add_comment(&id, &format!("mirror {i}")).await.unwrap();
    }
    let rec = c.get(&id).await.unwrap().unwrap();
    assert_eq!(rec.comments.len(), 13);
    assert_eq!(rec.comments[0].body, "first");
    assert_eq!(rec.comments[12].body, "mirror 11");
    assert_eq!(c.admin_id().await.unwrap(), sim.admin_id());
}

#[tokio::test]
async fn simulator_accepts_form_query_and_get_but_not_header_only_keys() {
    let sim = sim_with(2).await;
    let http = reqwest::Client::new();
    let url = format!("{}/boards/list", sim.base_url());
    let get = http
        .get(format!("{url}?apiKey={}", sim.api_key()))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    let form = http
        .post(format!("{}/posts/list", sim.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("apiKey={}&limit=1&status=open%2Cunder+review%2Cplanned%2Cin+progress%2Ccomplete%2Cclosed", sim.api_key()))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    let body: Value = form.json().await.unwrap();
    assert_eq!(body["posts"].as_array().unwrap().len(), 1);
    assert_eq!(body["hasMore"], json!(true));
    let header_only = http
        .post(&url)
        .header("authorization", format!("Basic {}", sim.api_key()))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(header_only.status(), 400);
    let body: Value = header_only.json().await.unwrap();
    assert_eq!(body, json!({"error": "invalid api key"}));
}

#[tokio::test]
async fn simulator_speaks_canny_shapes() {
    let sim = sim_with(1).await;
    let key = sim.api_key().to_string();
    let (_, users) = raw(&sim, "users/list", json!({"apiKey": key})).await;
    assert!(users.is_array(), "v1 users/list is a bare array");
    let id = sim.posts()[0].id.clone();
    let (s, ok) = raw(
        &sim,
        "posts/update",
        json!({"apiKey": key, "postID": id, "eta": "06/2026", "customFields": {"plan": "pro"}}),
    )
    .await;
    assert_eq!((s, ok), (200, json!("success")));
    let (_, post) = raw(&sim, "posts/retrieve", json!({"apiKey": key, "id": id})).await;
    for field in [
        "id",
        "title",
        "details",
        "status",
        "board",
        "author",
        "by",
        "category",
        "tags",
        "commentCount",
        "score",
        "created",
        "statusChangedAt",
        "url",
        "eta",
        "imageURLs",
        "customFields",
        "linear",
    ] {
        assert!(post.get(field).is_some(), "post lacks {field}");
    }
    assert!(post.get("updated").is_none());
    assert_eq!(post["eta"], json!("June 2026"));
    assert_eq!(post["customFields"][0]["name"], json!("plan"));
    assert!(post["linear"]["linkedIssueIDs"].is_array());
    let (s, err) = raw(&sim, "posts/retrieve", json!({"apiKey": key, "id": "nope"})).await;
    assert_eq!((s, err), (400, json!({"error": "invalid post id"})));
}

/// The webhook test vectors, copied into the repository from the vendor
/// notes (computed independently of this code).
const VECTORS: &str = include_str!("fixtures/webhook-vectors/canny.json");

fn headers(nonce: &str, signature: &str, ts_ms: i64) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("canny-nonce", HeaderValue::from_str(nonce).unwrap());
    h.insert("canny-signature", HeaderValue::from_str(signature).unwrap());
    h.insert(
        "canny-timestamp",
        HeaderValue::from_str(&ts_ms.to_string()).unwrap(),
    );
    h
}

#[test]
fn every_shared_webhook_vector() {
    let doc: Value = serde_json::from_str(VECTORS).unwrap();
    let vectors = doc["vectors"].as_array().unwrap();
    assert!(!vectors.is_empty());
    let now = Utc::now();
    for v in vectors {
        let key = v["api_key"].as_str().unwrap();
        let nonce = v["canny_nonce"].as_str().unwrap();
        let sig = v["canny_signature"].as_str().unwrap();
        let valid = v["valid"].as_bool().unwrap();
        assert_eq!(signature_matches(key, nonce, sig), valid, "{v}");
        let got = verify_canny_webhook(
            key,
            &headers(nonce, sig, now.timestamp_millis()),
            now,
            &NonceCache::default(),
        );
        if valid {
            assert_eq!(got.as_deref(), Ok(nonce), "{v}");
        } else {
            assert_eq!(got, Err(WebhookRejection::BadSignature), "{v}");
        }
    }
}

#[test]
fn replays_stale_and_forged_webhooks_are_rejected() {
    let key = "canny_sim_key";
    let now = Utc::now();
    let cache = NonceCache::default();
    let sig = sign_webhook_nonce(key, "nonce-1");
    let h = headers("nonce-1", &sig, now.timestamp_millis());
    // The nonce is recorded only for a whole delivery that is accepted.
    let body = br#"{"type":"post.created","objectType":"post","object":{"id":"p1"}}"#;
    assert_eq!(
        verify_canny_webhook(key, &h, now, &cache).as_deref(),
        Ok("nonce-1")
    );
    assert!(verify_canny_delivery(key, &h, b"not json", now, &cache).is_err());
    assert_eq!(
        verify_canny_delivery(key, &h, body, now, &cache)
            .map(|d| d.delivery_id)
            .as_deref(),
        Ok("nonce-1")
    );
    assert_eq!(
        verify_canny_webhook(key, &h, now, &cache),
        Err(WebhookRejection::Replayed)
    );

    let stale = headers(
        "nonce-2",
        &sign_webhook_nonce(key, "nonce-2"),
        (now - chrono::Duration::minutes(6)).timestamp_millis(),
    );
    assert_eq!(
        verify_canny_webhook(key, &stale, now, &cache),
        Err(WebhookRejection::Stale)
    );
    let future = headers(
        "nonce-3",
        &sign_webhook_nonce(key, "nonce-3"),
        (now + chrono::Duration::minutes(10)).timestamp_millis(),
    );
    assert_eq!(
        verify_canny_webhook(key, &future, now, &cache),
        Err(WebhookRejection::Stale)
    );
    let almost = headers(
        "nonce-4",
        &sign_webhook_nonce(key, "nonce-4"),
        (now - chrono::Duration::minutes(4)).timestamp_millis(),
    );
    assert!(verify_canny_webhook(key, &almost, now, &cache).is_ok());

    let wrong_key = headers(
        "nonce-5",
        &sign_webhook_nonce("other", "nonce-5"),
        now.timestamp_millis(),
    );
    assert_eq!(
        verify_canny_webhook(key, &wrong_key, now, &cache),
        Err(WebhookRejection::BadSignature)
    );
    // A forged request does not burn the nonce for the real one.
    let real = headers(
        "nonce-5",
        &sign_webhook_nonce(key, "nonce-5"),
        now.timestamp_millis(),
    );
    assert!(verify_canny_webhook(key, &real, now, &cache).is_ok());

    let mut missing = real.clone();
    missing.remove("canny-signature");
    assert_eq!(
        verify_canny_webhook(key, &missing, now, &cache),
        Err(WebhookRejection::MissingSignature("canny-signature"))
    );
}

#[tokio::test]
async fn simulator_webhooks_verify_and_name_the_post() {
    use axum::body::Bytes;
    use axum::routing::post;
    use tokio::sync::mpsc;

    let (tx, mut rx) = mpsc::unbounded_channel::<(HeaderMap, Bytes)>();
    let app = axum::Router::new().route(
        "/webhooks/canny",
        post(move |h: HeaderMap, b: Bytes| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((h, b));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/webhooks/canny", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let sim = CannySim::start(CannySimConfig {
        webhook_url: Some(hook),
        ..CannySimConfig::default()
    })
    .await
    .unwrap();
    let c = connector(&sim);
    let id = sim.create_post("Hooked", "x").unwrap();
    sim.set_status(&id, "planned").unwrap();
    let cid = sim.add_comment(&id, "hi").unwrap();
    sim.edit_comment(&cid, "hello").unwrap();
    sim.add_vote(&id).unwrap();
    sim.remove_vote(&id).unwrap();
    sim.add_tag(&id, "ux").unwrap();
    sim.remove_tag(&id, "ux").unwrap();
    sim.set_title(&id, "Hooked!").unwrap();
    sim.link_jira(&id, "PROJ-1").unwrap();
    sim.unlink_jira(&id, "PROJ-1").unwrap();
    let mine = c.add_comment(&id, "from the API").await.unwrap();
    let (s, ok) = raw(
        &sim,
        "comments/delete",
        json!({"apiKey": sim.api_key(), "commentID": mine.remote_id}),
    )
    .await;
    assert_eq!((s, ok), (200, json!("success")));
    let other = sim.create_post("Doomed", "x").unwrap();
    sim.delete_post(&other).unwrap();

    let expected = [
        "post.created",
        "post.status_changed",
        "comment.created",
        "comment.edited",
        "vote.created",
        "vote.deleted",
        "post.tag_added",
        "post.tag_removed",
        "post.edited",
        "post.jira_issue_linked",
        "post.jira_issue_unlinked",
        "comment.created",
        "comment.deleted",
        "post.created",
        "post.deleted",
    ];
    let mut events = Vec::new();
    for _ in 0..expected.len() {
        let (h, body) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("webhook arrives")
            .unwrap();
        let envelope: Value = serde_json::from_slice(&body).unwrap();
        for k in ["created", "object", "objectType", "type"] {
            assert!(envelope.get(k).is_some(), "envelope lacks {k}");
        }
        let hint = c.verify_webhook(&h, &body, Utc::now()).expect("verifies");
        assert_eq!(
            Some(hint.delivery_id.as_str()),
            h.get("canny-nonce").and_then(|v| v.to_str().ok())
        );
        // Replaying the same delivery is refused.
        assert_eq!(
            c.verify_webhook(&h, &body, Utc::now()),
            Err(WebhookRejection::Replayed)
        );
        events.push((hint.event.clone(), hint.record_id.clone(), hint.removed));
    }
    let kinds: Vec<&str> = events.iter().map(|(e, _, _)| e.as_str()).collect();
    assert_eq!(kinds, expected);
    for (event, record, removed) in &events[..13] {
        assert_eq!(record.as_deref(), Some(id.as_str()), "{event}");
        assert!(!removed);
    }
    assert_eq!(events[14].1.as_deref(), Some(other.as_str()));
    assert!(events[14].2);
    let distinct: BTreeSet<&str> = kinds.iter().copied().collect();
    assert_eq!(distinct.len(), 13, "every Canny event type");
    // The counter moves once our listener has answered; give it a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    while sim.stats().webhooks_delivered < expected.len() as u64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(sim.stats().webhooks_delivered, expected.len() as u64);
}

#[tokio::test]
async fn api_faults_are_deterministic_under_a_seed() {
    async fn statuses(seed: u64) -> Vec<u16> {
        let sim = CannySim::start(CannySimConfig {
            seed,
            faults: ApiFaults {
                server_error: 0.3,
                rate_limited: 0.2,
                ..ApiFaults::default()
            },
            ..CannySimConfig::default()
        })
        .await
        .unwrap();
        let mut out = Vec::new();
        for _ in 0..30 {
            out.push(
                raw(&sim, "boards/list", json!({"apiKey": sim.api_key()}))
                    .await
                    .0,
            );
        }
        out
    }
    let a = statuses(11).await;
    assert_eq!(a, statuses(11).await);
    assert!(
        a.contains(&200) && a.contains(&429) && a.iter().any(|s| *s >= 500),
        "{a:?}"
    );
}

#[tokio::test]
async fn webhook_faults_drop_and_duplicate() {
    use axum::body::Bytes;
    use axum::routing::post;
    use roundtrip::sim::faults::WebhookFaults;
    use tokio::sync::mpsc;

    let (tx, mut rx) = mpsc::unbounded_channel::<(HeaderMap, Bytes)>();
    let app = axum::Router::new().route(
        "/hook",
        post(move |h: HeaderMap, b: Bytes| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((h, b));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let sim = CannySim::start(CannySimConfig {
        webhook_url: Some(hook),
        webhook_faults: WebhookFaults {
            drop: 1.0,
            ..WebhookFaults::default()
        },
        ..CannySimConfig::default()
    })
    .await
    .unwrap();
    let c = connector(&sim);
    let id = sim.create_post("Dropped", "x").unwrap();
    // Faults apply when the sender takes the event; wait for the drop.
    let deadline = Instant::now() + Duration::from_secs(5);
    while sim.stats().webhooks_dropped == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    sim.set_webhook_faults(WebhookFaults {
        duplicate: 1.0,
        ..WebhookFaults::default()
    });
    sim.set_title(&id, "Twice").unwrap();
    let (h1, b1) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    let (h2, b2) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b1, b2);
    let hint = c.verify_webhook(&h1, &b1, Utc::now()).unwrap();
    assert_eq!(
        hint.event, "post.edited",
        "the dropped post.created never arrived"
    );
    assert_eq!(
        c.verify_webhook(&h2, &b2, Utc::now()),
        Err(WebhookRejection::Replayed)
    );
    assert_eq!(sim.stats().webhooks_dropped, 1);
    assert!(
        format!("{sim:?}").contains("[redacted]") && !format!("{sim:?}").contains(sim.api_key())
    );
}
