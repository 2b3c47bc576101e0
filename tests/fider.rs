//! The Fider connector against the Fider simulator over real loopback HTTP.
//! The two were written separately from Fider's source, so every test here
//! checks one reading of it against the other: the roles of API keys,
//! Fider's CSRF rule, listing without offsets and without duplicates, the
//! creator's own vote, soft deletes, titles Fider refuses, duplicates that
//! move voters, and unsigned templated webhooks that switch themselves off.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step should stop with its message

use std::collections::BTreeSet;
use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use roundtrip::connector::fider::{FiderConfig, FiderConnector, SecretIn, webhook_templates};
use roundtrip::connector::{Connector, WebhookRejection};
use roundtrip::domain::{ErrorClass, FieldValue, NewRecord, Update};
use roundtrip::sim::faults::ApiFaults;
use roundtrip::sim::fider::{FiderSim, FiderSimConfig};
use serde_json::{Value, json};

const SECRET: &str = "fider-test-secret";

async fn sim_with(posts: usize) -> FiderSim {
    FiderSim::start(FiderSimConfig {
        posts,
        seed: 7,
        timeout_hang: Duration::from_secs(2),
        allow_private_targets: true,
        ..FiderSimConfig::default()
    })
    .await
    .expect("simulator starts")
}

fn connector_with(sim: &FiderSim, key: &str) -> FiderConnector {
    let mut c = FiderConfig::new(sim.base_url(), key, SECRET);
    c.request_timeout = Duration::from_secs(1);
    FiderConnector::new(c).expect("connector builds")
}

fn connector(sim: &FiderSim) -> FiderConnector {
    connector_with(sim, sim.admin_key())
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

fn new_record(title: &str, description: &str) -> NewRecord {
    NewRecord {
        client_id: uuid::Uuid::new_v4(),
        fields: [
            ("title".to_string(), text(title)),
            ("description".to_string(), text(description)),
        ]
        .into_iter()
        .collect(),
        source_url: None,
        source_title: None,
        created_id: None,
        placement: None,
    }
}

/// A raw request to the simulator's API, with or without Fider's JSON
/// headers; the status and the body text.
async fn raw(
    sim: &FiderSim,
    method: reqwest::Method,
    path: &str,
    key: &str,
    json_headers: bool,
    body: &str,
) -> (u16, String) {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}/api/v1{path}", sim.base_url()))
        .header("Authorization", format!("Bearer {key}"))
        .body(body.to_string());
    if json_headers {
        req = req
            .header("Accept", "application/json")
            .header("Content-Type", "application/json");
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn listing_covers_every_status_and_duplicates_in_two_requests() {
    let sim = sim_with(12).await;
    let c = connector(&sim);
    let dup = sim.create_post("Dark mode for the editor", "dup").unwrap();
    sim.mark_duplicate(&dup, "1").unwrap();
    let page = c.list_changed(None, None).await.unwrap();
    assert_eq!(page.next_page, None, "Fider has no offsets: one page");
    assert_eq!(page.records.len(), 13, "every post, the duplicate included");
    assert_eq!(
        sim.requests_to("GET /posts"),
        2,
        "view=all plus the duplicates query"
    );
    let statuses: BTreeSet<String> = page.records.iter().map(|r| r.status.clone()).collect();
    for s in [
        "open",
        "planned",
        "started",
        "completed",
        "declined",
        "duplicate",
    ] {
        assert!(statuses.contains(s), "{s} missing from {statuses:?}");
    }
    let d = page.records.iter().find(|r| r.remote_id == dup).unwrap();
    assert_eq!(d.duplicate_of.as_deref(), Some("1"));
    // The sim's own default listing hides duplicates (view=all).
    let (_, body) = raw(
        &sim,
        reqwest::Method::GET,
        "/posts?limit=all",
        sim.admin_key(),
        true,
        "",
    )
    .await;
    let listed: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(listed.len(), 12);
    // Comments are read once per post whose count moved, not every pass.
    let with_comments = page
        .records
        .iter()
        .filter(|r| !r.comments.is_empty())
        .count();
    let reads = sim.requests_to("GET /posts/:number/comments");
    assert_eq!(reads as usize, with_comments);
    c.list_changed(None, None).await.unwrap();
    assert_eq!(
        sim.requests_to("GET /posts/:number/comments"),
        reads,
        "no re-read"
    );
    sim.add_comment("2", "Me too, please").unwrap();
    let again = c.list_changed(None, None).await.unwrap();
    assert_eq!(sim.requests_to("GET /posts/:number/comments"), reads + 1);
    let two = again.records.iter().find(|r| r.remote_id == "2").unwrap();
    assert!(two.comments.iter().any(|c| c.body == "Me too, please"));
}

#[tokio::test]
async fn records_leave_out_the_key_owners_vote_and_name_tags() {
    let sim = sim_with(0).await;
    let c = connector(&sim);
    let created = c
        .create(&new_record("Keyboard shortcuts everywhere", "please"))
        .await
        .unwrap();
    let n = created.remote_id.clone();
    assert_eq!(
        sim.post(&n).unwrap().votes,
        1,
        "Fider added the key owner's vote"
    );
    assert_eq!(created.votes, Some(0), "…which roundtrip does not count");
    sim.add_vote(&n).unwrap();
    assert_eq!(c.get(&n).await.unwrap().unwrap().votes, Some(1));
    let customer = sim.create_post("Customer idea here", "x").unwrap();
    assert_eq!(
        c.get(&customer).await.unwrap().unwrap().votes,
        Some(1),
        "a customer's own vote counts"
    );
    sim.add_tag(&n, "performance").unwrap();
    sim.add_tag(&n, "Dark Theme").unwrap();
    let r = c.get(&n).await.unwrap().unwrap();
    assert_eq!(
        r.labels.iter().cloned().collect::<Vec<_>>(),
        ["Dark Theme", "performance"],
        "by name, a tag made after the connector read the tags included"
    );
    assert_eq!(r.identifier.as_deref(), Some(format!("#{n}").as_str()));
    assert_eq!(r.url, Some(format!("{}/posts/{n}", sim.base_url())));
    // The URL survives a title edit (Fider redirects it to the new slug).
    c.update(
        &n,
        &update_of(&[("title", text("Keyboard shortcuts in every view"))]),
    )
    .await
    .unwrap();
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(r.url.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 307);
    assert!(
        resp.headers()["location"]
            .to_str()
            .unwrap()
            .ends_with("keyboard-shortcuts-in-every-view")
    );
}

#[tokio::test]
async fn edits_send_title_and_description_together_and_keep_the_response() {
    let sim = sim_with(0).await;
    let c = connector(&sim);
    let n = sim.create_post("Export to spreadsheet", "As CSV").unwrap();
    c.update(
        &n,
        &update_of(&[("title", text("Export to a spreadsheet"))]),
    )
    .await
    .unwrap();
    let p = sim.post(&n).unwrap();
    assert_eq!(
        (p.title.as_str(), p.description.as_str()),
        ("Export to a spreadsheet", "As CSV")
    );
    let with_text = Update {
        status_comment: Some("Shipping next week".into()),
        ..update_of(&[("status", text("planned"))])
    };
    c.update(&n, &with_text).await.unwrap();
    c.update(&n, &update_of(&[("status", text("started"))]))
        .await
        .unwrap();
    let p = sim.post(&n).unwrap();
    assert_eq!(p.status, "started");
    assert_eq!(
        p.response, "Shipping next week",
        "a status change keeps the staff response"
    );
    let before = sim.stats().notifications;
    let writes = sim.requests_to("PUT /posts/:number/status");
    c.update(&n, &update_of(&[("status", text("started"))]))
        .await
        .unwrap();
    assert_eq!(
        sim.requests_to("PUT /posts/:number/status"),
        writes,
        "nothing sent for the same status"
    );
    assert_eq!(sim.stats().notifications, before);
    let e = c
        .update(&n, &update_of(&[("status", text("duplicate"))]))
        .await
        .unwrap_err();
    assert_eq!(e.class, ErrorClass::Validation);
    assert!(e.message.contains("original post"), "{e}");
    let e = c
        .update(&n, &update_of(&[("status", text("in progress"))]))
        .await
        .unwrap_err();
    assert!(e.message.contains("not a Fider status"), "{e}");
}

#[tokio::test]
async fn a_duplicate_is_marked_with_its_original_and_its_voters_move() {
    let sim = sim_with(0).await;
    let c = connector(&sim);
    let original = sim.create_post("Single sign-on with Okta", "SSO").unwrap();
    let dup = sim.create_post("Okta SSO support please", "same").unwrap();
    sim.add_vote(&dup).unwrap();
    let update = Update {
        duplicate_of: Some(original.clone()),
        ..update_of(&[("status", text("declined"))])
    };
    c.update(&dup, &update).await.unwrap();
    let d = sim.post(&dup).unwrap();
    assert_eq!(d.status, "duplicate");
    assert_eq!(d.original, original.parse().ok());
    assert_eq!(
        sim.post(&original).unwrap().votes,
        2,
        "one vote per person after the move"
    );
    c.update(&dup, &update).await.unwrap();
    assert_eq!(
        sim.requests_to("PUT /posts/:number/status"),
        1,
        "a retry sends nothing"
    );
    let r = c.get(&dup).await.unwrap().unwrap();
    assert_eq!(r.duplicate_of.as_deref(), Some(original.as_str()));
}

#[tokio::test]
async fn refused_titles_are_validation_failures_that_say_why() {
    let sim = sim_with(0).await;
    let c = connector(&sim);
    let e = c.create(&new_record("Dark mode", "x")).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Validation);
    assert!(
        e.message
            .contains("'Dark mode' (9 bytes; Fider takes 10 to 100)"),
        "{e}"
    );
    let other = sim
        .create_post("Slack alerts, please", "from a customer")
        .unwrap();
    let e = c
        .create(&new_record("Slack alerts please!", "ours"))
        .await
        .unwrap_err();
    assert_eq!(e.class, ErrorClass::Validation, "{e}");
    assert!(e.message.contains("same URL slug"), "{e}");
    assert_eq!(sim.posts().len(), 1);
    let mine = c
        .create(&new_record("Slack notifications", "ours"))
        .await
        .unwrap();
    let e = c
        .update(
            &mine.remote_id,
            &update_of(&[("title", text("Slack alerts - please"))]),
        )
        .await
        .unwrap_err();
    assert_eq!(e.class, ErrorClass::Validation);
    assert!(e.message.contains("Fider refused the title"), "{e}");
    assert_eq!(sim.post(&other).unwrap().title, "Slack alerts, please");
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_found_not_repeated() {
    let sim = sim_with(0).await;
    let c = connector(&sim);
    let new = new_record("Offline mode for the app", "Works on a plane.");
    sim.lose_next_reply("POST /posts");
    let e = c.create(&new).await.unwrap_err();
    assert!(
        matches!(e.class, ErrorClass::Timeout | ErrorClass::Network),
        "{e}"
    );
    assert_eq!(sim.posts().len(), 1, "Fider made the post");
    assert!(c.create_is_idempotent());
    let found = c
        .find_created(&new)
        .await
        .unwrap()
        .expect("found by content");
    let again = c.create(&new).await.unwrap();
    assert_eq!(again.remote_id, found.remote_id);
    assert_eq!(sim.posts().len(), 1, "no second post");
    assert_eq!(
        sim.post(&again.remote_id).unwrap().description,
        "Works on a plane."
    );
}

#[tokio::test]
async fn deleted_posts_are_gone_and_deleting_twice_succeeds() {
    let sim = sim_with(0).await;
    let c = connector(&sim);
    let n = sim.create_post("Calendar integration", "x").unwrap();
    c.delete(&n).await.unwrap();
    assert!(sim.post(&n).is_none());
    assert_eq!(c.get(&n).await.unwrap(), None, "soft-deleted: 404");
    c.delete(&n).await.unwrap();
    assert_eq!(c.get("not-a-number").await.unwrap(), None);
    // The original of a duplicate cannot be deleted.
    let a = sim.create_post("Audit log for admins", "a").unwrap();
    let b = sim.create_post("Admin audit logging", "b").unwrap();
    sim.mark_duplicate(&b, &a).unwrap();
    let e = c.delete(&a).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Validation);
    assert!(e.message.contains("referenced by a duplicated post"), "{e}");
}

#[tokio::test]
async fn keys_are_judged_by_their_users_role() {
    let sim = sim_with(1).await;
    let admin = connector(&sim);
    admin.resolve().await.unwrap();
    let collaborator = connector_with(&sim, sim.collaborator_key());
    collaborator.resolve().await.unwrap();
    for key in ["no-such-key", roundtrip::sim::fider::VISITOR_KEY] {
        let e = connector_with(&sim, key).resolve().await.unwrap_err();
        assert_eq!(e.class, ErrorClass::Auth, "{key}: {e}");
        assert!(
            e.message.contains("API Key is invalid") && !e.message.contains(key),
            "{e}"
        );
    }
    // A collaborator edits and sets statuses, but may not delete or create tags.
    collaborator
        .update("1", &update_of(&[("status", text("planned"))]))
        .await
        .unwrap();
    let e = collaborator.delete("1").await.unwrap_err();
    assert_eq!(
        e.class,
        ErrorClass::Validation,
        "not a paused connector: {e}"
    );
    assert!(e.message.contains("administrator"), "{e}");
    let tags: BTreeSet<String> = ["Brand new tag".to_string()].into();
    let e = collaborator
        .update("1", &update_of(&[("tags", FieldValue::Set(tags.clone()))]))
        .await
        .unwrap_err();
    assert!(
        e.message.contains("creating the tag 'Brand new tag'"),
        "{e}"
    );
    admin
        .update("1", &update_of(&[("tags", FieldValue::Set(tags))]))
        .await
        .unwrap();
    assert!(sim.post("1").unwrap().tags.contains("Brand new tag"));
    // A blocked user's key is refused with 401.
    sim.set_key_blocked(sim.collaborator_key(), true);
    let e = collaborator.get("1").await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Auth, "{e}");
}

#[tokio::test]
async fn simulator_keeps_fiders_csrf_rule_and_error_shapes() {
    let sim = sim_with(1).await;
    let key = sim.admin_key().to_string();
    let body = r#"{"content":"hi"}"#;
    let (status, text) = raw(
        &sim,
        reqwest::Method::POST,
        "/posts/1/comments",
        &key,
        false,
        body,
    )
    .await;
    assert_eq!(status, 403, "a write without JSON headers");
    assert!(text.contains("<html>"), "answered with a page: {text}");
    let (status, text) = raw(
        &sim,
        reqwest::Method::POST,
        "/posts/1/comments",
        &key,
        true,
        body,
    )
    .await;
    assert_eq!(
        (
            status,
            serde_json::from_str::<Value>(&text).unwrap()["id"].is_i64()
        ),
        (200, true)
    );
    let (status, text) = raw(&sim, reqwest::Method::GET, "/posts/99", &key, true, "").await;
    assert_eq!((status, text.as_str()), (404, "{}"));
    let (status, text) = raw(
        &sim,
        reqwest::Method::POST,
        "/posts",
        &key,
        true,
        r#"{"title":"short"}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"errors":[{"field":"title","message":"Title needs to be more descriptive."}]})
    );
    let (status, _) = raw(&sim, reqwest::Method::POST, "/posts", "nope", true, "{}").await;
    assert_eq!(status, 400, "an unknown key is a 400, not a 401");
    // Unknown status names read as open, silently.
    let (status, _) = raw(
        &sim,
        reqwest::Method::PUT,
        "/posts/1/status",
        &key,
        true,
        r#"{"status":"paused"}"#,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(sim.post("1").unwrap().status, "open");
}

#[tokio::test]
async fn every_drifted_answer_is_a_schema_error() {
    let sim = sim_with(3).await;
    let c = connector(&sim);
    c.list_changed(None, None).await.unwrap();
    sim.set_faults(ApiFaults {
        drift: 1.0,
        ..ApiFaults::default()
    });
    for _ in 0..24 {
        let e = c.get("1").await.unwrap_err();
        assert_eq!(e.class, ErrorClass::Schema, "{e}");
        assert!(
            e.message.contains("API response shape changed: Fider"),
            "{}",
            e.message
        );
    }
    assert!(sim.stats().drifted >= 24);
}

#[tokio::test]
async fn server_errors_timeouts_and_lost_answers_are_classified() {
    let sim = sim_with(1).await;
    let c = connector(&sim);
    sim.set_faults(ApiFaults {
        server_error: 1.0,
        ..ApiFaults::default()
    });
    assert_eq!(c.get("1").await.unwrap_err().class, ErrorClass::Server);
    sim.set_faults(ApiFaults {
        rate_limited: 1.0,
        ..ApiFaults::default()
    });
    let e = c.get("1").await.unwrap_err();
    assert_eq!(
        (e.class, e.retry_after),
        (ErrorClass::RateLimited, Some(Duration::from_secs(1)))
    );
    sim.set_faults(ApiFaults {
        lost: 1.0,
        ..ApiFaults::default()
    });
    let e = c.add_comment("1", "lost answer").await.unwrap_err();
    assert!(
        matches!(e.class, ErrorClass::Timeout | ErrorClass::Network),
        "{e}"
    );
    assert_eq!(
        sim.comments("1")
            .iter()
            .filter(|c| c.content == "lost answer")
            .count(),
        1,
        "applied"
    );
    assert_eq!(sim.stats().lost, 1);
}

fn install_templates(sim: &FiderSim, receiver: &str, secret_in: &SecretIn) {
    for t in webhook_templates(receiver, secret_in, SECRET) {
        sim.add_webhook(t.kind, &t.url, &t.content, &t.headers)
            .unwrap();
    }
}

/// A receiver that records what it gets and answers `status`.
/// Waits until the simulator's webhook sender has tried every event so far,
/// so that a count taken afterwards is final.
async fn all_sent(sim: &FiderSim) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while sim.webhooks_pending() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the webhook sender did not finish in 10 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn receiver(
    status: u16,
) -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(HeaderMap, String, String)>>>,
) {
    use axum::routing::post;
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = got.clone();
    let app = axum::Router::new().route(
        "/{*path}",
        post(
            move |uri: axum::http::Uri, headers: HeaderMap, body: String| {
                let seen = seen.clone();
                async move {
                    seen.lock()
                        .unwrap()
                        .push((headers, uri.path().to_string(), body));
                    axum::http::StatusCode::from_u16(status).unwrap()
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), got)
}

#[tokio::test]
async fn templated_deliveries_verify_with_the_secret_and_name_the_post() {
    let sim = sim_with(0).await;
    let (url, got) = receiver(200).await;
    install_templates(&sim, &url, &SecretIn::Header("X-Roundtrip-Secret".into()));
    let c = connector(&sim);
    let n = sim.create_post("Webhooks for everything", "x").unwrap();
    sim.add_comment(&n, "first!").unwrap();
    sim.set_status(&n, "planned").unwrap();
    sim.set_title(&n, "Webhooks for every event").unwrap();
    sim.add_vote(&n).unwrap();
    sim.delete_post(&n).unwrap();
    let deliveries = loop {
        let d = got.lock().unwrap().clone();
        if d.len() >= 4 {
            break d;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    all_sent(&sim).await;
    assert_eq!(
        got.lock().unwrap().len(),
        4,
        "no webhook for edits or votes"
    );
    let mut events = Vec::new();
    for (headers, path, body) in &deliveries {
        assert_eq!(path, "/webhooks/fider");
        assert!(headers.get("x-roundtrip-secret").is_some());
        let hint = c
            .verify_webhook(headers, body.as_bytes(), chrono::Utc::now())
            .unwrap();
        assert_eq!(hint.record_id.as_deref(), Some(n.as_str()));
        events.push(hint.event.clone());
        let mut forged = headers.clone();
        forged.insert("x-roundtrip-secret", HeaderValue::from_static("guess"));
        assert_eq!(
            c.verify_webhook(&forged, body.as_bytes(), chrono::Utc::now()),
            Err(WebhookRejection::BadSecret)
        );
        let mut bare = headers.clone();
        bare.remove("x-roundtrip-secret");
        assert_eq!(
            c.verify_webhook(&bare, body.as_bytes(), chrono::Utc::now()),
            Err(WebhookRejection::MissingSecret)
        );
    }
    assert_eq!(
        events,
        ["new_post", "new_comment", "change_status", "delete_post"]
    );
    // A status set again to the same value fires nothing.
    assert!(sim.webhooks().iter().all(|w| w.enabled));
}

#[tokio::test]
async fn a_failed_delivery_turns_the_webhook_off_until_the_admin_turns_it_on() {
    let sim = sim_with(0).await;
    let (url, got) = receiver(503).await;
    install_templates(&sim, &url, &SecretIn::Path);
    let n = sim.create_post("Gantt chart view", "x").unwrap();
    loop {
        if sim.webhooks().iter().any(|w| w.failed) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let hooks = sim.webhooks();
    let new_post = hooks.iter().find(|w| w.kind == "new_post").unwrap();
    assert!(new_post.failed && !new_post.enabled, "{hooks:?}");
    assert!(
        hooks
            .iter()
            .filter(|w| w.kind != "new_post")
            .all(|w| w.enabled),
        "the others stay on"
    );
    assert_eq!(
        got.lock().unwrap()[0].1,
        format!("/webhooks/fider/{SECRET}"),
        "the secret in the path"
    );
    sim.create_post("Timeline chart view", "y").unwrap();
    all_sent(&sim).await;
    assert_eq!(got.lock().unwrap().len(), 1, "never retried, and off now");
    sim.set_webhook_enabled(new_post.id, true);
    sim.create_post("Roadmap chart view", "z").unwrap();
    loop {
        if got.lock().unwrap().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        sim.webhooks()
            .iter()
            .find(|w| w.id == new_post.id)
            .unwrap()
            .failed,
        "and off again"
    );
    let _ = n;
    // Without private targets allowed (Fider's default) a loopback URL fails.
    let strict = FiderSim::start(FiderSimConfig::default()).await.unwrap();
    install_templates(&strict, &url, &SecretIn::Path);
    strict.create_post("Private targets test", "x").unwrap();
    loop {
        if let Some(d) = strict.deliveries().first() {
            assert!(
                d.error.as_deref().unwrap().contains("private or internal"),
                "{d:?}"
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
