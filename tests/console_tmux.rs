//! The real binary in a real terminal: tmux runs `roundtrip console` on a
//! seeded store, keys retry a failed job and resolve a conflict, and the test
//! checks the store and that the terminal was restored — after `q`, after a
//! panic inside a view, and after SIGTERM. Fails with a message saying how
//! to install tmux when it is missing (CI installs it).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a failed setup step should stop with its message

mod support {
    pub mod pg;
}

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

/// The real-terminal tests need tmux; without it they fail and say how to
/// get it, never pass unchecked.
fn require_tmux() {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "tmux is not installed: the real-terminal console tests need it (apt-get install tmux; .ci/run installs it)"
    );
}

/// A tmux server of our own (separate socket), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(env: &[(&str, &str)]) -> Tmux {
        Tmux::start_sized(100, 30, env)
    }

    fn start_sized(w: u16, h: u16, env: &[(&str, &str)]) -> Tmux {
        let socket = format!(
            "rt-console-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let t = Tmux { socket };
        let (w, h) = (w.to_string(), h.to_string());
        let mut args = vec!["new-session", "-d", "-x", &w, "-y", &h, "-s", "t"];
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
        // Let applications set tmux buffers with OSC 52 (the console's copy).
        t.run(&["set-option", "-s", "set-clipboard", "on"]);
        t
    }

    fn key(&self, name: &str) {
        self.run(&["send-keys", "-t", "t", name]);
    }

    /// Press Escape and wait until `shown` has left the screen: a key sent
    /// right after a lone Escape can reach the console as Alt+key.
    fn escape_from(&self, shown: &str) {
        self.key("Escape");
        let start = Instant::now();
        loop {
            let s = self.screen();
            if !s.contains(shown) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "timed out waiting for {shown:?} to close; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn console(&self, db: &Path) {
        self.type_line(&format!(
            "{} console --db {}; echo EXITED-$?",
            bin().display(),
            db.display()
        ));
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
        self.wait_for_within(needle, Duration::from_secs(20))
    }

    fn wait_for_within(&self, needle: &str, limit: Duration) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(needle) {
                return s;
            }
            assert!(
                start.elapsed() < limit,
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

/// The failed job's error: longer than any table column.
const LONG_ERROR: &str = "creating the Linear issue failed: Argument Validation Error: title must be at most 255 characters (got 312); shorten the post title or map a shorter field";

fn seed(path: &Path) -> (i64, i64) {
    seed_with_heartbeat(path, now_ms())
}

/// A store with one link (post_1 ↔ ENG-1) holding a failed job, a conflict,
/// plus a dead job and two more links whose records carry Linear keys.
fn seed_with_heartbeat(path: &Path, heartbeat: i64) -> (i64, i64) {
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
                    message: Some(LONG_ERROR.into()),
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
            let dead = db.insert_job(&NewJob {
                link_id: Some(link),
                target: Side::Portal,
                kind: roundtrip::domain::JobKind::Comment,
                payload: "{}".into(),
                reason: "Linear comment".into(),
                lane: Lane::Live,
                max_attempts: 1,
            })?;
            db.record_attempt(
                dead,
                &NewAttempt {
                    started_at: now_ms(),
                    duration_ms: 30,
                    http_status: Some(503),
                    error_class: Some(ErrorClass::Server),
                    message: Some("503 Service Unavailable".into()),
                    request_id: None,
                },
                JobStatus::Dead,
                now_ms(),
            )?;
            for (i, t) in [(2, "SSO with Okta"), (3, "Export reports as CSV")] {
                let uuid = format!("5b1c3d2e-0000-4000-8000-00000000000{i}");
                db.upsert_record(
                    Side::Linear,
                    &roundtrip::domain::Record {
                        remote_id: uuid.clone(),
                        identifier: Some(format!("ENG-{i}")),
                        title: t.into(),
                        ..Default::default()
                    },
                )?;
                db.insert_link(
                    Some(&format!("post_{i}")),
                    Some(&uuid),
                    None,
                    LinkState::Active,
                    t,
                    &Default::default(),
                )?;
            }
            db.set_meta(meta_keys::HEARTBEAT, &heartbeat.to_string())?;
            Ok((job, conflict))
        })
        .unwrap()
}

/// A seeded store and the console running on it in its own tmux server
/// (`None`, with a message, when tmux is not installed).
struct Session {
    db: PathBuf,
    t: Tmux,
    job: i64,
    conflict: i64,
    _dir: tempfile::TempDir,
}

fn session(w: u16, h: u16, heartbeat: i64) -> Session {
    require_tmux();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rt.db");
    let (job, conflict) = seed_with_heartbeat(&db, heartbeat);
    let t = Tmux::start_sized(w, h, &[]);
    t.console(&db);
    Session {
        db,
        t,
        job,
        conflict,
        _dir: dir,
    }
}

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_roundtrip"))
}

/// From the Overview: retry the failed job (Jobs, last row, `r`) and
/// resolve the conflict by taking Linear's title (Conflicts, `L`, `y`).
fn retry_the_failed_job_and_take_linear(t: &Tmux, job: i64) {
    t.keys("3");
    t.wait_for("validation");
    t.keys("G");
    t.keys("r");
    t.wait_for(&format!("requeued 1 job ({job})"));
    t.keys("2");
    t.wait_for("Dark theme");
    t.keys("L");
    t.wait_for("Resolve conflict #1: take Linear?");
    t.keys("y");
    t.wait_for("conflict 1 resolved (title on post_1 ↔ ENG-1)");
}

#[test]
fn retry_and_resolve_in_a_real_terminal_then_restore() {
    require_tmux();
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
    retry_the_failed_job_and_take_linear(&t, job);
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

/// The same operator actions on a PostgreSQL store: the console finds it
/// by URL (password from PGPASSWORD, never on the command line), and its
/// writes land in PostgreSQL.
#[test]
fn retry_and_resolve_on_a_postgresql_store() {
    require_tmux();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("seed.db");
    let (job, conflict) = seed(&file);
    let pg = support::pg::fresh_db();
    let target = roundtrip::store::pg::PgTarget::parse(&pg.url, Some(pg.password.clone())).unwrap();
    roundtrip::store::pg::copy_store(&Store::open(&file, OpenMode::ReadOnly).unwrap(), &target)
        .unwrap();
    let t = Tmux::start(&[("PGPASSWORD", pg.password.as_str())]);
    t.type_line(&format!(
        "{} console --db {}; echo EXITED-$?",
        bin().display(),
        pg.url
    ));
    let s = t.wait_for("Overview");
    assert!(
        !s.contains(&pg.password),
        "the password is never shown:\n{s}"
    );
    retry_the_failed_job_and_take_linear(&t, job);
    t.keys("q");
    t.wait_for("EXITED-0");
    t.assert_sane_tty();

    let store = Store::open_postgres(&target, OpenMode::ReadOnly).unwrap();
    let db = store.db();
    assert_eq!(db.job(job).unwrap().unwrap().status, JobStatus::Queued);
    let c = db.conflict(conflict).unwrap().unwrap();
    assert_eq!(
        (c.status, c.resolution),
        (ConflictStatus::Resolved, Some(Resolution::Linear))
    );
}

#[test]
fn terminal_is_restored_after_a_panic_inside_a_view() {
    require_tmux();
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
    require_tmux();
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

#[test]
fn a_dead_engine_shows_down_within_two_seconds_without_a_keypress() {
    // The engine "died" 22 s ago: `status` calls it DOWN once its heartbeat
    // is 30 s old, 8 s from now. Nobody touches the keyboard.
    let beat = now_ms() - 22_000;
    let sess = session(100, 30, beat);
    let Session { db, t, .. } = &sess;
    t.wait_for("● DEGRADED");
    let stale_at = beat + roundtrip::health::HEARTBEAT_STALE_MS;
    let s = t.wait_for_within("● DOWN", Duration::from_secs(30));
    let late_ms = now_ms() - stale_at;
    eprintln!("DOWN shown {late_ms} ms after the heartbeat went stale");
    assert!(
        late_ms <= 2_000,
        "DOWN appeared {late_ms} ms after the heartbeat went stale:\n{s}"
    );
    assert!(
        s.contains("engine heartbeat is 30s old") || s.contains("engine heartbeat is 31s old"),
        "{s}"
    );
    // The same verdict as `roundtrip status`.
    let out = Command::new(bin())
        .args(["status", "--db"])
        .arg(db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "status says down too");
    t.keys("q");
    t.wait_for("EXITED-0");
}

#[test]
fn problems_first_deliberate_writes_and_commands_on_the_view_on_screen() {
    let sess = session(100, 30, now_ms());
    let Session {
        db,
        t,
        job,
        conflict,
        ..
    } = &sess;
    let (job, conflict) = (*job, *conflict);
    t.wait_for("2 failed + dead jobs (1 failed, 1 dead)");
    // `f` lands on exactly what the Overview counted.
    t.keys("f");
    let s = t.wait_for("Jobs failed + dead");
    assert!(s.contains(&format!("#{job} ")) && s.contains("#2 "), "{s}");
    assert!(s.contains(" 1/2 "), "{s}");
    // `:resolve` typed while the Overview is on screen touches nothing.
    t.keys("2");
    t.wait_for("Dark theme");
    t.keys("1");
    t.keys(":");
    t.wait_for(": command");
    t.type_line("resolve linear");
    t.wait_for("Conflicts view, which is not on screen");
    // Resolving asks, says what goes where, and a no writes nothing.
    t.keys("2");
    t.keys("L");
    let q = t.wait_for("Resolve conflict #1: take Linear?");
    assert!(
        q.contains("Linear's 'Dark theme' is written to the portal"),
        "{q}"
    );
    t.keys("n");
    t.wait_for("not done: take Linear for conflict #1");
    t.keys("L");
    t.wait_for("Resolve conflict #1");
    t.keys("y");
    t.wait_for("conflict 1 resolved (title on post_1 ↔ ENG-1)");
    t.keys("q");
    t.wait_for("EXITED-0");
    let store = Store::open(db, OpenMode::ReadOnly).unwrap();
    let c = store.db().conflict(conflict).unwrap().unwrap();
    assert_eq!(c.resolution, Some(Resolution::Linear));
}

#[test]
fn details_search_by_key_copy_and_an_editor_that_asks_before_discarding() {
    let sess = session(100, 30, now_ms());
    let t = &sess.t;
    t.wait_for("Overview");
    // Enter on a job shows its whole error, wrapped.
    t.keys("3");
    t.wait_for("Jobs failed + dead");
    t.keys("G");
    t.key("Enter");
    let s = t.wait_for("Attempts (1, oldest first)");
    let flat = s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("shorten the post title or map a shorter field"),
        "{s}"
    );
    t.escape_from("Attempts (1, oldest first)");
    // Search by the Linear key, then copy it (OSC 52 sets tmux's buffer).
    t.keys("4");
    t.keys("/");
    t.wait_for("/ search");
    t.type_line("ENG-2");
    let s = t.wait_for("search \"ENG-2\"");
    assert!(
        s.contains("SSO with Okta") && !s.contains("Export reports"),
        "{s}"
    );
    t.keys("y");
    t.wait_for("copied to the clipboard: ENG-2");
    let buffer = String::from_utf8_lossy(&t.run(&["show-buffer"]).stdout).into_owned();
    assert_eq!(buffer.trim(), "ENG-2");
    // The editor asks before throwing an edit away.
    t.keys("5");
    t.keys("e");
    t.wait_for("Edit mapping");
    t.keys("x");
    t.key("Escape");
    t.wait_for("Discard your changes?");
    t.keys("n");
    t.wait_for("not saved; still editing");
    t.key("Escape");
    t.wait_for("Discard your changes?");
    t.keys("y");
    t.wait_for("changes discarded");
    t.keys("q");
    t.wait_for("EXITED-0");
}

#[test]
fn a_60_by_18_terminal_keeps_help_and_the_verdict_visible() {
    let sess = session(60, 18, now_ms());
    let t = &sess.t;
    let s = t.wait_for("? help");
    let lines: Vec<&str> = s.lines().collect();
    assert!(lines[0].contains("● DEGRADED"), "{s}");
    assert!(lines[0].contains("1:Overview"), "{s}");
    let last = lines.iter().rev().find(|l| !l.trim().is_empty()).unwrap();
    assert!(last.trim_end().ends_with("? help"), "{s}");
    assert!(s.contains("failed + dead jobs"), "{s}");
    t.keys("?");
    let h = t.wait_for("more lines");
    assert!(h.contains("Everywhere"), "{h}");
    t.escape_from("more lines");
    t.keys("3");
    let j = t.wait_for("Jobs failed + dead");
    assert!(j.lines().next().unwrap().contains("3:Jobs"), "{j}");
    t.keys("q");
    t.wait_for("EXITED-0");
}
