//! `roundtrip demo` end to end: the plain-text run converges except for the
//! deliberate conflicts and prints progress lines; in a real terminal (tmux)
//! the console opens on the Overview, switches views and quits cleanly with
//! the terminal restored. The tmux test fails with a message saying how to
//! install tmux when it is missing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test and tool code: a failed setup step should stop with its message

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_roundtrip"))
}

#[test]
fn no_console_run_converges_except_for_the_deliberate_conflicts() {
    no_console_run("canny", "closed", 16);
}

#[test]
fn no_console_run_with_fider_converges_except_for_the_deliberate_conflicts() {
    // Far shorter than the story: the run waits for the story's end.
    no_console_run("fider", "declined", 4);
}

/// The plain-text demo against `portal`, whose closing status the story's
/// broken mapping loses, asked to run `secs` seconds.
fn no_console_run(portal: &str, closed: &str, secs: u32) {
    let started = Instant::now();
    let out = Command::new(bin())
        .args([
            "demo",
            "--no-console",
            "--duration",
            &secs.to_string(),
            "--seed",
            "3",
            "--portal",
            portal,
        ])
        .output()
        .expect("demo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status.code()
    );
    let progress = stdout.lines().filter(|l| l.starts_with('[')).count();
    assert!(progress >= 3, "progress lines every few seconds:\n{stdout}");
    if secs < 10 {
        assert!(
            stdout.contains("the story is not over yet on this machine; letting it finish"),
            "a short --duration lets the story finish and says so:\n{stdout}"
        );
    }
    // The engine reads the exhaustion from Linear's answers (0 or the
    // handful refilled since), and the story says what it read.
    let seen = stdout
        .lines()
        .filter_map(|l| l.split("(roundtrip read ").nth(1))
        .filter_map(|q| q.split('/').next()?.parse::<u64>().ok())
        .min();
    assert!(
        seen.is_some_and(|n| n <= 10),
        "roundtrip saw the quota burst:\n{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l.contains("· Linear quota ")),
        "progress lines show the quota:\n{stdout}"
    );
    assert!(stdout.contains("\nresult: converged"), "{stdout}");
    let deliberate: usize = stdout
        .lines()
        .find_map(|l| l.strip_prefix("deliberate conflicts: "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("a 'deliberate conflicts: N' line");
    assert_eq!(
        deliberate,
        roundtrip::demo::DELIBERATE_CONFLICTS,
        "{stdout}"
    );
    assert!(stdout.contains("other conflicts: 0"), "{stdout}");
    let gap = format!("no Linear state for '{closed}'");
    for scene in [
        "approved",
        "5xx streak",
        "exhausts the Linear quota",
        "deletes",
        gap.as_str(),
        "operator restores",
    ] {
        assert!(stdout.contains(scene), "scene {scene:?} missing:\n{stdout}");
    }
    if portal == "canny" {
        orchestrated_workflow(&stdout);
    } else {
        assert!(
            !stdout.contains("moderation:"),
            "boards and moderation are Canny's:\n{stdout}"
        );
    }
    eprintln!("demo test took {:?}", started.elapsed());
}

/// The orchestrated workflow on Canny: a moderating second board, routing
/// by product area to two teams, and one changelog entry for the release.
fn orchestrated_workflow(stdout: &str) {
    for scene in [
        "wait for moderation on the Bugs board",
        "moderator approves 3 bug reports",
    ] {
        assert!(stdout.contains(scene), "scene {scene:?} missing:\n{stdout}");
    }
    assert!(
        stdout.contains("moderation: 3 bug reports held on the Bugs board until approved"),
        "{stdout}"
    );
    let routing = stdout
        .lines()
        .find_map(|l| l.strip_prefix("routing: "))
        .expect("a 'routing:' line");
    assert_eq!(routing.matches("→ PLAT-").count(), 2, "{routing}");
    assert_eq!(routing.matches("→ ENG-").count(), 1, "{routing}");
    assert!(stdout.contains("unrouted posts: 0"), "{stdout}");
    assert!(
        stdout.contains(
            "changelog: Release 2.4 completes: one changelog entry (published) links 2 posts"
        ),
        "{stdout}"
    );
}

/// A tmux server of our own (separate socket), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start() -> Tmux {
        let ok = Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            ok,
            "tmux is not installed: the real-terminal demo test needs it (apt-get install tmux; .ci/run installs it)"
        );
        let t = Tmux {
            socket: format!("rt-demo-{}", std::process::id()),
        };
        let out = t.run(&[
            "new-session",
            "-d",
            "-x",
            "100",
            "-y",
            "30",
            "-s",
            "t",
            "bash",
            "--norc",
            "--noprofile",
        ]);
        assert!(out.status.success(), "tmux new-session failed");
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
        self.run(&["send-keys", "-t", "t", keys]);
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "t"]).stdout).into_owned()
    }

    fn wait_for(&self, needle: &str, secs: u64) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(needle) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "timed out waiting for {needle:?}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

#[test]
fn demo_console_in_a_real_terminal_switches_views_and_quits_cleanly() {
    let t = Tmux::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    t.type_line(&format!(
        "{} demo --db {}; echo EXITED-$?",
        bin().display(),
        db.display()
    ));
    t.wait_for("roundtrip demo — what is happening", 20);
    t.keys("Escape");
    // The Overview, with the engine running against the demo's store.
    t.wait_for("┌ Quota", 10);
    // The deliberate conflicts arrive a few seconds in.
    t.wait_for("2:Conflicts 2", 30);
    t.keys("2");
    t.wait_for("(engineering", 10);
    t.keys("6");
    t.wait_for("demo:", 10);
    t.keys("1");
    t.wait_for("┌ Quota", 10);
    t.keys("q");
    let s = t.wait_for("\nEXITED-", 20);
    assert!(s.contains("\nEXITED-0"), "demo exit status:\n{s}");
    assert!(
        !s.contains("┌ Quota"),
        "the alternate screen is gone, the shell is back:\n{s}"
    );
    // The kept store holds what the engine did.
    let store = roundtrip::store::Store::open(&db, roundtrip::store::OpenMode::ReadOnly).unwrap();
    let summary = store.db().summary().unwrap();
    assert!(summary.links > 50, "{summary:?}");
    assert!(
        summary.heartbeat_ms.is_some(),
        "the engine heartbeat is recorded"
    );
    // The terminal is in cooked, echoing mode again.
    // The marker is computed by the shell, so the echoed command line itself
    // never matches: only the output does.
    t.type_line("stty -a | tr ' ;' '\\n\\n' | grep -E -x -- '-?(icanon|echo)' | tr '\\n' ' '; echo STTY-$((40+2))-DONE");
    let s = t.wait_for("STTY-42-DONE", 10);
    let line = s.lines().find(|l| l.contains("STTY-42-DONE")).unwrap_or("");
    assert!(line.contains("icanon") && !line.contains("-icanon"), "{s}");
    assert!(line.contains("echo") && !line.contains("-echo"), "{s}");
}
