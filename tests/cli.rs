//! The binary's contract: help, completions, config errors with exit code 2,
//! status against empty and busy stores, secrets never printed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a failed setup step should stop with its message

use std::path::Path;
use std::process::Command;

use assert_cmd::prelude::*;
use roundtrip::domain::{JobStatus, Side};
use roundtrip::store::{Lane, NewJob, OpenMode, Store, StoreError, meta_keys, now_ms};

fn bin() -> Command {
    let mut c = Command::cargo_bin("roundtrip").unwrap();
    c.env_remove("ROUNDTRIP_DB");
    c
}

fn output(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const GOOD: &str = "[store]\npath = \"rt.db\"\n[linear]\nteam = \"ENG\"\napi_key_env = \"RT_TEST_LINEAR_KEY\"\nwebhook_secret_env = \"RT_TEST_LINEAR_SECRET\"\n[portal]\nboard = \"Feature Requests\"\napi_key_env = \"RT_TEST_CANNY_KEY\"\n";

fn write_config(dir: &Path, text: &str) -> std::path::PathBuf {
    let p = dir.join("roundtrip.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn help_lists_commands_and_version_works() {
    let (code, out, _) = output(bin().arg("--help"));
    assert_eq!(code, 0);
    for c in ["status", "completions", "config"] {
        assert!(out.contains(c), "{out}");
    }
    let (code, out, _) = output(bin().arg("--version"));
    assert_eq!(code, 0);
    assert!(out.starts_with("roundtrip "), "{out}");
    let (code, out, _) = output(bin().args(["status", "--help"]));
    assert_eq!(code, 0);
    assert!(out.contains("--json") && out.contains("--db"), "{out}");
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, _) = output(bin().args(["completions", shell]));
        assert_eq!(code, 0, "{shell}");
        assert!(
            out.contains("roundtrip") && out.contains("status"),
            "{shell}: {out}"
        );
    }
    let (code, _, _) = output(bin().args(["completions", "tcsh"]));
    assert_eq!(code, 2);
}

#[test]
fn config_errors_exit_2_with_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            format!("{GOOD}[sync]\nreconcile_interval = \"5x\"\n"),
            "roundtrip.toml:11: in [sync]: '5x' is not a duration",
        ),
        (
            format!("{GOOD}[sync]\nbogus_key = 1\n"),
            "unknown field `bogus_key`",
        ),
        (
            format!("{GOOD}[webhooks]\nmax_body_bytes = \"lots\"\n"),
            "invalid type: string \"lots\", expected usize",
        ),
        (
            "[linear]\nteam = \"ENG\"\n".to_string(),
            "missing field `portal`",
        ),
        ("this is = = not toml".to_string(), "roundtrip.toml:1:"),
    ];
    for (text, expected) in cases {
        let p = write_config(dir.path(), &text);
        let (code, _, err) = output(bin().args(["config", "check", "-c"]).arg(&p));
        assert_eq!(code, 2, "{text}\n{err}");
        assert!(err.contains(expected), "expected {expected:?} in {err:?}");
        assert_eq!(err.lines().count(), 1, "one sentence: {err}");
    }
}

#[test]
fn missing_env_var_is_named_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_config(dir.path(), GOOD);
    let (code, _, err) = output(
        bin()
            .args(["config", "check", "-c"])
            .arg(&p)
            .env("RT_TEST_LINEAR_KEY", "lin_api_secret_value")
            .env_remove("RT_TEST_LINEAR_SECRET")
            .env("RT_TEST_CANNY_KEY", "canny_secret_value"),
    );
    assert_eq!(code, 2);
    assert!(err.contains("linear.webhook_secret_env names the environment variable RT_TEST_LINEAR_SECRET, which is not set"), "{err}");
    assert!(!err.contains("secret_value"), "{err}");
    let (code, out, err) = output(
        bin()
            .args(["config", "check", "-c"])
            .arg(&p)
            .env("RT_TEST_LINEAR_KEY", "lin_api_secret_value")
            .env("RT_TEST_LINEAR_SECRET", "wh_secret_value")
            .env("RT_TEST_CANNY_KEY", "canny_secret_value"),
    );
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("secret_value"), "{out}");
}

#[test]
fn unreadable_config_and_bad_store_paths_are_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = output(
        bin()
            .args(["status", "--config"])
            .arg(dir.path().join("nope.toml")),
    );
    assert_eq!(code, 2);
    assert!(
        out.contains("cannot read config file") && out.contains("no such file"),
        "{out}"
    );
    assert!(err.is_empty(), "{err}");

    let (code, out, err) = output(
        bin()
            .args(["status", "--db"])
            .arg(dir.path().join("missing/rt.db")),
    );
    assert_eq!(code, 2);
    assert!(out.contains("does not exist"), "{out}");
    assert!(err.is_empty(), "{err}");

    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![b'x'; 4096]).unwrap();
    let (code, out, err) = output(bin().args(["status", "--db"]).arg(&junk));
    assert_eq!(code, 2);
    // `status` reports an unreadable store as its verdict, on stdout.
    assert!(out.starts_with("roundtrip is DOWN"), "{out}");
    assert!(out.contains("not a roundtrip store"), "{out}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn status_on_empty_and_live_stores() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rt.db");
    drop(Store::open(&db, OpenMode::Create).unwrap());
    let (code, out, _) = output(bin().args(["status", "--db"]).arg(&db));
    assert_eq!(code, 2, "an engine that never ran is down: {out}");
    assert!(out.contains("DOWN") && out.contains("never run"), "{out}");

    let store = Store::open(&db, OpenMode::Existing).unwrap();
    store
        .db()
        .set_meta(meta_keys::HEARTBEAT, &now_ms().to_string())
        .unwrap();
    let (code, out, _) = output(bin().args(["status", "--json", "--db"]).arg(&db));
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verdict"], "healthy");
    assert_eq!(
        v["summary"]["schema_version"],
        roundtrip::store::migrations::LATEST
    );
    assert_eq!(v["summary"]["jobs"]["failed"], 0);
}

#[test]
fn status_json_through_config_never_shows_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_config(dir.path(), GOOD);
    drop(Store::open(&dir.path().join("rt.db"), OpenMode::Create).unwrap());
    let (_, out, err) = output(
        bin()
            .args(["status", "--json", "--config"])
            .arg(&p)
            .env("RT_TEST_LINEAR_KEY", "lin_api_secret_value")
            .env("RT_TEST_LINEAR_SECRET", "wh_secret_value")
            .env("RT_TEST_CANNY_KEY", "canny_secret_value"),
    );
    assert!(out.contains("\"verdict\""), "{out} {err}");
    assert!(!out.contains("secret_value") && !err.contains("secret_value"));
    let (_, shown, _) = output(bin().args(["config", "show", "-c"]).arg(&p));
    assert!(
        shown.contains("RT_TEST_LINEAR_KEY") && !shown.contains("secret_value"),
        "{shown}"
    );
}

#[test]
fn status_reads_while_another_process_writes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rt.db");
    let mut writer = Store::open(&db, OpenMode::Create).unwrap();
    writer
        .db()
        .set_meta(meta_keys::HEARTBEAT, &now_ms().to_string())
        .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let handle = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                writer
                    .write(|db| {
                        for _ in 0..20 {
                            db.insert_job(&NewJob {
                                link_id: None,
                                target: Side::Portal,
                                kind: roundtrip::domain::JobKind::Update,
                                payload: "{}".into(),
                                reason: "load".into(),
                                lane: Lane::Live,
                                max_attempts: 3,
                            })?;
                        }
                        Ok::<_, StoreError>(())
                    })
                    .unwrap();
                n += 20;
            }
            n
        })
    };
    let mut last = 0;
    for _ in 0..5 {
        let (code, out, err) = output(bin().args(["status", "--json", "--db"]).arg(&db));
        assert!(code == 0 || code == 1, "{out} {err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let queued = v["summary"]["jobs"][JobStatus::Queued.as_str()]
            .as_i64()
            .unwrap();
        assert!(queued >= last, "counts only grow: {queued} < {last}");
        last = queued;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = handle.join().unwrap();
    assert!(written >= last);
}

/// `roundtrip sim` with `args`, running, and the connection line it printed.
fn start_sim(args: &[&str]) -> (std::process::Child, serde_json::Value) {
    use std::io::{BufRead, BufReader};
    let mut child = bin()
        .arg("sim")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, serde_json::from_str(&line).unwrap())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn sim_prints_its_urls_and_answers_on_them() {
    let (mut child, v) = start_sim(&["--posts", "3", "--seed", "7"]);
    let gql = v["linear"]["graphql_url"].as_str().unwrap().to_string();
    let canny = v["canny"]["base_url"].as_str().unwrap().to_string();
    assert!(
        gql.starts_with("http://127.0.0.1:") && gql.ends_with("/graphql"),
        "{gql}"
    );
    assert!(
        canny.starts_with("http://127.0.0.1:") && canny.ends_with("/api/v1"),
        "{canny}"
    );
    let (viewer, posts) = runtime().block_on(async {
        let http = reqwest::Client::new();
        let viewer: serde_json::Value = http
            .post(&gql)
            .header("Authorization", "lin_api_sim")
            .json(&serde_json::json!({"query": "{ viewer { id name } }"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let posts: serde_json::Value = http
            .post(format!("{canny}/posts/list"))
            .json(&serde_json::json!({"apiKey": "canny_sim_key", "limit": 10}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (viewer, posts)
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(viewer["data"]["viewer"]["id"].is_string(), "{viewer}");
    assert!(
        posts["posts"].as_array().is_some_and(|p| !p.is_empty()),
        "{posts}"
    );
}

#[test]
fn sim_rejects_a_bad_fault_spec() {
    let (code, _, err) = output(bin().args(["sim", "--faults", "linear:6xx=0.1"]));
    assert_eq!(code, 2);
    assert!(err.contains("bad --faults spec"), "{err}");
}

#[test]
fn sim_with_fider_serves_its_api_with_fiders_csrf_rule() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let port_arg = port.to_string();
    let (mut child, v) = start_sim(&[
        "--portal",
        "fider",
        "--posts",
        "3",
        "--seed",
        "7",
        "--fider-port",
        &port_arg,
    ]);
    let api = v["fider"]["api_url"].as_str().unwrap().to_string();
    let key = v["fider"]["admin_api_key"].as_str().unwrap().to_string();
    assert_eq!(api, format!("http://127.0.0.1:{port}/api/v1"));
    assert!(v.get("canny").is_none_or(|c| c.is_null()), "{v}");
    let (posts, csrf) = runtime().block_on(async {
        let http = reqwest::Client::new();
        let posts: serde_json::Value = http
            .get(format!("{api}/posts?limit=all"))
            .bearer_auth(&key)
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let csrf = http
            .post(format!("{api}/posts"))
            .bearer_auth(&key)
            .body("title=Without+the+JSON+headers")
            .send()
            .await
            .unwrap()
            .status();
        (posts, csrf)
    });
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(posts.as_array().map(Vec::len), Some(3), "{posts}");
    assert_eq!(csrf.as_u16(), 403, "a write without JSON headers");
}

const FIDER: &str = "[store]\npath = \"rt.db\"\n[linear]\nteam = \"ENG\"\napi_key_env = \"RT_TEST_LINEAR_KEY\"\nwebhook_secret_env = \"RT_TEST_LINEAR_SECRET\"\n[portal]\nkind = \"fider\"\napi_url = \"https://feedback.example.com\"\napi_key_env = \"RT_TEST_FIDER_KEY\"\nwebhook_secret_env = \"RT_TEST_FIDER_SECRET\"\n";

#[test]
fn fider_webhook_template_prints_four_webhooks_and_hides_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), FIDER);
    let template = |extra: &[&str]| {
        output(
            bin()
                .args(["config", "fider-webhook-template", "-c"])
                .arg(&cfg)
                .args(["--url", "https://sync.example.com"])
                .args(extra)
                .env("RT_TEST_FIDER_SECRET", "s3cret-value"),
        )
    };
    let (code, out, err) = template(&["--json"]);
    assert_eq!(code, 0, "{err}");
    let hooks: serde_json::Value = serde_json::from_str(&out).unwrap();
    let hooks = hooks.as_array().unwrap();
    let mut kinds: Vec<&str> = hooks.iter().map(|h| h["kind"].as_str().unwrap()).collect();
    kinds.sort();
    assert_eq!(
        kinds,
        ["change_status", "delete_post", "new_comment", "new_post"]
    );
    assert!(
        hooks.iter().all(|h| h["url"]
            .as_str()
            .unwrap()
            .starts_with("https://sync.example.com/webhooks/fider")),
        "{out}"
    );
    assert!(!out.contains("s3cret-value"), "{out}");
    assert!(out.contains("$RT_TEST_FIDER_SECRET"), "{out}");
    let (code, out, _) = template(&["--show-secret"]);
    assert_eq!(code, 0);
    assert!(out.contains("s3cret-value"), "{out}");
    assert!(out.contains("feedback.example.com/admin/webhooks"), "{out}");
    // A Canny config has no Fider webhooks: a usage error naming the field.
    let canny = write_config(dir.path(), GOOD);
    let (code, _, err) = output(
        bin()
            .args(["config", "fider-webhook-template", "-c"])
            .arg(&canny),
    );
    assert_eq!(code, 2);
    assert!(err.contains("[portal] kind"), "{err}");
}
