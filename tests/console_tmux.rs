//! The real binary in a real terminal: tmux runs `roundtrip console` on a
//! seeded store, keys retry a failed job and resolve a conflict, and the test
//! checks the store and that the terminal was restored — after `q`, after a
//! panic inside a view, and after SIGTERM. Skipped with a message when tmux
//! is not installed (CI installs it).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a failed setup step should stop with its message

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use roundtrip::domain::{ErrorClass, FieldValue, JobStatus, Side};
use roundtrip::store::{
    ConflictStatus, Lane, LinkState, NewAttempt, NewConflict, NewJob, OpenMode, Resolution, Store,
    Window, meta_keys, now_ms,
};

static N: AtomicUsize = AtomicUsize::new(0);

fn have_tmux() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("tmux is not installed; skipping the real-terminal console test");
    }
    ok
}

/// A tmux server of our own (separate socket), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(env: &[(&str, &str)]) -> Tmux {
        let socket = format!(
            "rt-console-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let t = Tmux { socket };
        let mut args = vec!["new-session", "-d", "-x", "100", "-y", "30", "-s", "t"];
        let envs: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        for e in &envs {
            args.push("-e");
            args.push(e);
        }
        args.extend(["bash", "--norc", "--noprofile"]);
        let out = t.run(&args);
        assert!(
            out.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("tmux runs")
    }

    fn type_line(&self, line: &str) {
        self.run(&["send-keys", "-t", "t", "-l", line]);
        self.run(&["send-keys", "-t", "t", "Enter"]);
    }

    fn keys(&self, keys: &str) {
        self.run(&["send-keys", "-t", "t", "-l", keys]);
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "t"]).stdout).into_owned()
    }

    fn wait_for(&self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(needle) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "timed out waiting for {needle:?}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Ask the shell in the pane whether the terminal is in sane (cooked,
    /// echoing) mode again.
    fn assert_sane_tty(&self) {
        // The marker is computed by the shell, so only the output matches,
        // never the echoed command line.
        self.type_line("clear; stty -a | tr ' ;' '\\n\\n' | grep -E -x -- '-?(icanon|echo)' | tr '\\n' ' '; echo STTY-$((40+2))-DONE");
        let s = self.wait_for("STTY-42-DONE");
        let line = s.lines().find(|l| l.contains("STTY-42-DONE")).unwrap_or("");
        assert!(
            line.contains("icanon") && !line.contains("-icanon"),
            "not canonical: {s}"
        );
        assert!(
            line.contains("echo") && !line.contains("-echo"),
            "echo off: {s}"
        );
    }

    fn pane_child_pid(&self) -> Option<String> {
        let shell = String::from_utf8_lossy(
            &self
                .run(&["list-panes", "-t", "t", "-F", "#{pane_pid}"])
                .stdout,
        )
        .trim()
        .to_string();
        let out = Command::new("pgrep").args(["-P", &shell]).output().ok()?;
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .map(str::to_string)
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

fn seed(path: &Path) -> (i64, i64) {
    let mut store = Store::open(path, OpenMode::Create).unwrap();
    store
        .write(|db| -> Result<(i64, i64), roundtrip::store::StoreError> {
            let link = db.insert_link(
                Some("post_1"),
                Some("ENG-1"),
                None,
                LinkState::Active,
                "Dark mode",
                &Default::default(),
            )?;
            let job = db.insert_job(&NewJob {
                link_id: Some(link),
                target: Side::Linear,
                kind: roundtrip::domain::JobKind::Update,
                payload: "{}".into(),
                reason: "portal changed title".into(),
                lane: Lane::Live,
                max_attempts: 3,
            })?;
            db.record_attempt(
                job,
                &NewAttempt {
                    started_at: now_ms(),
                    duration_ms: 40,
                    http_status: Some(400),
                    error_class: Some(ErrorClass::Validation),
                    message: Some("title too long".into()),
                    request_id: Some("req-1".into()),
                },
                JobStatus::Failed,
                now_ms(),
            )?;
            let conflict = db.open_conflict(&NewConflict {
                link_id: link,
                field: "title".into(),
                base: FieldValue::Text("Dark mode".into()),
                portal: FieldValue::Text("Dark mode please".into()),
                linear: FieldValue::Text("Dark theme".into()),
                portal_changed_at: Some(now_ms()),
                linear_changed_at: Some(now_ms()),
            })?;
            db.set_meta(meta_keys::HEARTBEAT, &now_ms().to_string())?;
            Ok((job, conflict))
        })
        .unwrap()
}

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_roundtrip"))
}

#[test]
fn retry_and_resolve_in_a_real_terminal_then_restore() {
    if !have_tmux() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rt.db");
    let (job, conflict) = seed(&db);
    let t = Tmux::start(&[]);
    t.type_line(&format!(
        "{} console --db {}; echo EXITED-$?",
        bin().display(),
        db.display()
    ));
    t.wait_for("Overview");
    t.keys("3");
    t.wait_for("validation");
    t.keys("r");
    t.wait_for("requeued 1 job");
    t.keys("2");
    t.wait_for("Dark theme");
    t.keys("l");
    t.wait_for("conflict 1 resolved (title on link #1)");
    t.keys("q");
    let s = t.wait_for("EXITED-0");
    assert!(
        !s.contains("Overview"),
        "alternate screen still shown:\n{s}"
    );
    t.assert_sane_tty();

    let store = Store::open(&db, OpenMode::ReadOnly).unwrap();
    let db = store.db();
    assert_eq!(db.job(job).unwrap().unwrap().status, JobStatus::Queued);
    let c = db.conflict(conflict).unwrap().unwrap();
    assert_eq!(c.status, ConflictStatus::Resolved);
    assert_eq!(c.resolution, Some(Resolution::Linear));
    let audit = db.audit(Window::last(10)).unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.actor == roundtrip::domain::Actor::Operator)
            .count(),
        2
    );
}

#[test]
fn terminal_is_restored_after_a_panic_inside_a_view() {
    if !have_tmux() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rt.db");
    seed(&db);
    let t = Tmux::start(&[
        ("ROUNDTRIP_CONSOLE_TEST_PANIC", "1"),
        ("RUST_BACKTRACE", "0"),
    ]);
    t.type_line(&format!(
        "{} console --db {}; echo EXITED-$?",
        bin().display(),
        db.display()
    ));
    t.wait_for("Overview");
    t.keys("!");
    let s = t.wait_for("EXITED-101");
    assert!(s.contains("test panic inside a view"), "{s}");
    assert!(
        !s.contains("1:Overview"),
        "alternate screen still shown:\n{s}"
    );
    t.assert_sane_tty();
}

#[test]
fn terminal_is_restored_after_sigterm() {
    if !have_tmux() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rt.db");
    seed(&db);
    let t = Tmux::start(&[]);
    t.type_line(&format!(
        "{} console --db {} --read-only; echo EXITED-$?",
        bin().display(),
        db.display()
    ));
    t.wait_for("READ-ONLY");
    let pid = t.pane_child_pid().expect("console pid");
    let ok = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(ok.success());
    let s = t.wait_for("EXITED-");
    assert!(
        !s.contains("1:Overview"),
        "alternate screen still shown:\n{s}"
    );
    t.assert_sane_tty();
}

#[test]
fn missing_or_foreign_store_is_a_clear_message_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.db");
    let out = Command::new(bin())
        .args(["console", "--db"])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no store at"), "{err}");

    let junk = dir.path().join("junk.db");
    std::fs::write(
        &junk,
        "this is not sqlite, just text that is long enough to be read",
    )
    .unwrap();
    let out = Command::new(bin())
        .args(["console", "--db"])
        .arg(&junk)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a roundtrip store"));

    let newer = dir.path().join("newer.db");
    drop(Store::open(&newer, OpenMode::Create).unwrap());
    rusqlite::Connection::open(&newer)
        .unwrap()
        .pragma_update(None, "user_version", 999)
        .unwrap();
    let out = Command::new(bin())
        .args(["console", "--read-only", "--db"])
        .arg(&newer)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("newer than this roundtrip"));
}
