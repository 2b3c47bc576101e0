//! The chaos soak (issue HARDEN, point 8): the real `roundtrip run` daemon,
//! in a process of its own, on a config pointing at both simulators (which
//! run in this process), while
//!
//! * the race harness's people edit both sides of every link concurrently,
//!   the same fields included ([`super::race::People`]);
//! * the weather changes every few seconds: API 5xx answers, timeouts,
//!   lost answers (the write applied, the answer never arrives), 429 bursts
//!   on one side, webhooks dropped, duplicated, reordered and delayed;
//! * the daemon is SIGKILLed at random moments and restarted on the same
//!   store (and a new port, so deliveries in flight fail and are retried
//!   or dropped, as a crash does to them).
//!
//! Then the weather clears, the daemon is restarted once more (its first
//! reconcile repairs what dropped webhooks missed), and once it is quiet and
//! stopped with SIGTERM the checks run:
//!
//! 1. the race checker ([`super::race::check`]): both sides equal on every
//!    mapped field or a conflict open for it, every person's edit on the
//!    other side or in a conflict, no write of a value its source never
//!    set, no duplicate record or comment on either side;
//! 2. every delivery a simulator saw acknowledged with 2xx is in the inbox,
//!    processed;
//! 3. no job gave up (dead) or stopped for an operator (failed);
//! 4. the store passes SQLite's full `integrity_check` and roundtrip's own
//!    quick check.
//!
//! A failure names the seed, every violation, and keeps the store and the
//! daemon's log for inspection. Used by `tests/soak.rs` (one short soak)
//! and `examples/soak.rs` (`cargo run --release --example soak -- --minutes N`).

#![allow(dead_code)]

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use roundtrip::domain::{JobStatus, Side};
use roundtrip::sim::faults::{ApiFaults, WebhookFaults};
use roundtrip::store::{
    ConflictFilter, ConflictStatus, JobFilter, OpenMode, Store, Window, meta_keys, now_ms,
};

use super::harness::{Harness, Setup, within};
use super::race::{self, People};

/// How to start `roundtrip`: the program and the arguments before `run`.
#[derive(Debug, Clone)]
pub struct DaemonProgram {
    /// The executable.
    pub program: PathBuf,
    /// Arguments placed before `run --config FILE`.
    pub args: Vec<String>,
}

/// One soak's shape.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// Linked pairs edited.
    pub links: usize,
    /// How long people edit (and the daemon is killed).
    pub edit_for: Duration,
    /// Gaps between edits are uniform in `0..=max_gap`.
    pub max_gap: Duration,
    /// Time between kills is uniform in this range.
    pub kill_every: (Duration, Duration),
    /// How long the daemon stays dead after a kill, at most.
    pub max_downtime: Duration,
    /// The chaos lasts past `edit_for` until the daemon was killed this
    /// often (and every fault was injected at least once), so a slow
    /// machine makes the soak longer, never weaker.
    pub min_kills: usize,
    /// Seed of the edits, the weather, the kills and the simulators' dice.
    pub seed: u64,
    /// Latency of every API answer.
    pub latency: Duration,
    /// The daemon to run.
    pub daemon: DaemonProgram,
    /// Print a progress line this often (to stderr).
    pub progress: Option<Duration>,
}

/// What was injected into one simulator, from its counters.
#[derive(Debug, Clone, Default)]
pub struct Injected {
    /// API requests answered.
    pub requests: u64,
    /// 5xx answers (the Canny simulator counts timeouts here too).
    pub server_errors: u64,
    /// Requests held past the client's timeout (`None`: counted with the
    /// 5xx answers, as the Canny simulator does).
    pub timeouts: Option<u64>,
    /// 429 / RATELIMITED answers.
    pub rate_limited: u64,
    /// Applied writes whose answer was lost.
    pub lost: u64,
    /// Webhook deliveries dropped.
    pub dropped: u64,
    /// Webhook deliveries sent twice.
    pub duplicated: u64,
    /// Webhook attempts acknowledged with 2xx.
    pub acknowledged: usize,
    /// Delivery ids acknowledged more than once (duplicates and retries).
    pub acknowledged_twice: usize,
    /// Webhook attempts that failed (refused, connection refused while the
    /// daemon was down, no answer).
    pub failed: u64,
}

/// What a soak did and what survived it.
#[derive(Debug, Clone, Default)]
pub struct SoakReport {
    /// The seed.
    pub seed: u64,
    /// Edits people made.
    pub edits: usize,
    /// Records people created during the soak (each must end linked).
    pub births: usize,
    /// Links edited.
    pub links: usize,
    /// SIGKILLs.
    pub kills: usize,
    /// SIGKILLs that struck while a write job was claimed (in flight).
    pub kills_mid_write: usize,
    /// Weather changes, by weather.
    pub weather: BTreeMap<&'static str, usize>,
    /// Faults and webhooks on the Linear side.
    pub linear: Injected,
    /// Faults and webhooks on the portal side.
    pub portal: Injected,
    /// Deliveries in the inbox at the end (all processed).
    pub inbox: usize,
    /// Conflicts open at the end.
    pub conflicts: usize,
    /// Write jobs run in all.
    pub jobs: usize,
    /// Most attempts any one job took (kills and 429 answers count).
    pub most_attempts: i64,
    /// Portal edits replaced inside the read-to-write window Canny gives
    /// no evidence of (see the race harness).
    pub window_losses: usize,
    /// Time spent editing.
    pub edit_time: Duration,
    /// Time from the end of the edits until both sides were quiet.
    pub settle_time: Duration,
    /// Wall time of the whole soak.
    pub elapsed: Duration,
}

impl fmt::Display for SoakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = |i: &Injected| {
            format!(
                "{} requests, {} 5xx{}, {} 429, {} lost answers; webhooks {} acknowledged ({} ids twice), {} failed, {} dropped, {} duplicated",
                i.requests,
                i.server_errors,
                i.timeouts
                    .map_or_else(|| " or timeouts".to_string(), |t| format!(", {t} timeouts")),
                i.rate_limited,
                i.lost,
                i.acknowledged,
                i.acknowledged_twice,
                i.failed,
                i.dropped,
                i.duplicated
            )
        };
        let weather: Vec<String> = self
            .weather
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        write!(
            f,
            "seed {}: {} edits on {} links and {} records created in {:.0}s; {} SIGKILLs ({} mid-write); weather {}\n  Linear: {}\n  portal: {}\n  settled in {:.1}s; {} deliveries in the inbox, all processed; {} write jobs (at most {} attempts for one); {} conflicts open; {} portal window losses; {:.0}s in all",
            self.seed,
            self.edits,
            self.links,
            self.births,
            self.edit_time.as_secs_f64(),
            self.kills,
            self.kills_mid_write,
            weather.join(", "),
            side(&self.linear),
            side(&self.portal),
            self.settle_time.as_secs_f64(),
            self.inbox,
            self.jobs,
            self.most_attempts,
            self.conflicts,
            self.window_losses,
            self.elapsed.as_secs_f64()
        )
    }
}

/// Run one soak and check what survived; `Err` names the seed, every
/// violation and where the store and the daemon's log were kept.
pub async fn run(cfg: &SoakConfig) -> Result<SoakReport, String> {
    let t0 = Instant::now();
    let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
    let h = Harness::start(Setup {
        seed: cfg.seed,
        store_path: Some(dir.path().join("rt.db")),
        start_service: false,
        ..Setup::default()
    })
    .await;
    let mut daemon = Daemon::new(cfg.daemon.clone(), dir.path());
    let outcome = soak(&h, &mut daemon, cfg).await;
    daemon.kill();
    match outcome {
        Ok(mut report) => {
            report.elapsed = t0.elapsed();
            Ok(report)
        }
        Err(e) => {
            let log = daemon.log_tail(40);
            let kept = dir.keep();
            Err(format!(
                "soak with seed {} failed:\n{e}\nstore and daemon log kept in {}\nlast lines of the daemon's log:\n{log}",
                cfg.seed,
                kept.display()
            ))
        }
    }
}

async fn soak(h: &Harness, daemon: &mut Daemon, cfg: &SoakConfig) -> Result<SoakReport, String> {
    let mut report = SoakReport {
        seed: cfg.seed,
        links: cfg.links,
        ..SoakReport::default()
    };
    daemon.start(h).await?;
    let links = race::make_links(h, cfg.links).await?;
    h.linear_conn
        .create_label(PORTAL_LABEL)
        .await
        .map_err(|e| e.to_string())?;
    h.quiet_within(Duration::from_millis(300), 60).await?;
    let start = roundtrip::sim::journal::next_seq();

    let t_edits = Instant::now();
    let until = t_edits + cfg.edit_for;
    let mut people = People::new(cfg.seed);
    let mut births = Births::new(cfg.seed);
    let mut links = links;
    let calm = Cell::new(false);
    let born = Cell::new(0);
    let edits = async {
        while !calm.get() {
            if births.due() {
                births.give(h)?;
                born.set(births.born);
            } else {
                people.step(h, &links, cfg.max_gap, usize::MAX).await?;
            }
            // A new pair joins the edited ones once it is linked.
            births.adopt(h, &mut links);
        }
        Ok::<_, String>(())
    };
    let storm = async {
        let r = chaos(h, daemon, cfg, until, &born, &mut report).await;
        calm.set(true);
        r
    };
    let (edited, storm) = tokio::join!(edits, storm);
    report.edits = people.edits;
    report.edit_time = t_edits.elapsed();
    storm?;
    edited?;

    // Clear skies: no faults, one more restart (its first reconcile
    // repairs what dropped webhooks missed), quiet, no more deliveries,
    // quiet again, a graceful stop.
    let t_settle = Instant::now();
    Weather::Clear.apply(h, cfg.latency);
    daemon.kill();
    let restarted = now_ms();
    daemon.start(h).await?;
    within("a reconcile pass after the last restart", 120, async || {
        let last = h.store().db().meta_i64(meta_keys::LAST_RECONCILE).ok()??;
        (last >= restarted).then_some(())
    })
    .await?;
    // Bounded by the longest backoff a job can be given (10 minutes), so a
    // job that failed often is waited for, not reported stuck.
    h.quiet_within(Duration::from_secs(1), 700).await?;
    daemon.check_alive()?;
    silence_webhooks(h);
    h.quiet_within(Duration::from_millis(1500), 60).await?;
    report.settle_time = t_settle.elapsed();
    daemon.stop().await?;

    let mut errors = Vec::new();
    births.adopt(h, &mut links);
    report.births = births.born;
    for unborn in &births.waiting {
        errors.push(format!(
            "{unborn:?}, created by a person during the soak, never got its counterpart"
        ));
    }
    match race::check(h, &links, start).await {
        Ok(r) => {
            report.conflicts = r.conflicts;
            report.window_losses = r.window_losses;
        }
        Err(violations) => {
            // The report still says how many conflicts were open.
            report.conflicts = h
                .store()
                .db()
                .conflicts(
                    &ConflictFilter {
                        status: Some(ConflictStatus::Open),
                        field: None,
                    },
                    Window::first(1_000_000),
                )
                .map_or(0, |c| c.len());
            errors.push(violations);
        }
    }
    report.linear = injected_linear(h);
    report.portal = injected_portal(h);
    let store = Store::open(&h.store_path, OpenMode::ReadOnly).map_err(|e| e.to_string())?;
    report.inbox = check_acknowledged(&store, h, &mut errors)?;
    (report.jobs, report.most_attempts) = check_jobs(&store, &mut errors)?;
    check_integrity(&store, &h.store_path, &mut errors);
    if errors.is_empty() {
        Ok(report)
    } else {
        Err(format!("{report}\n{}", errors.join("\n")))
    }
}

/// A record a person created during the soak, waiting for roundtrip to
/// create its counterpart.
#[derive(Debug, Clone)]
enum Unborn {
    /// A post put in a status that the create rule copies to Linear.
    Post(String),
    /// A Linear issue given the label that the create rule copies to the
    /// portal.
    Issue(String),
}

/// People creating records now and then: a planned post, or a Linear issue
/// labelled for the portal — so creates, too, are struck by kills and lost
/// answers.
struct Births {
    rng: fastrand::Rng,
    /// Created, not linked yet.
    waiting: Vec<Unborn>,
    /// Created in all.
    born: usize,
}

/// The label that makes a Linear issue a portal post.
const PORTAL_LABEL: &str = "feedback";

impl Births {
    fn new(seed: u64) -> Births {
        Births {
            rng: fastrand::Rng::with_seed(seed ^ 0x00b1_2745),
            waiting: Vec::new(),
            born: 0,
        }
    }

    /// Whether the next step is a creation (one in twenty).
    fn due(&mut self) -> bool {
        self.rng.u32(..20) == 0
    }

    fn give(&mut self, h: &Harness) -> Result<(), String> {
        self.born += 1;
        let n = self.born;
        let unborn = if self.rng.bool() {
            Unborn::Post(create_planned_post(
                h,
                &format!("Born {n} (portal)"),
                &format!("Details of born {n}"),
            )?)
        } else {
            let issue = h
                .linear
                .create_issue(
                    &format!("Born {n} (Linear)"),
                    Some(&format!("Description of born {n}")),
                    "Backlog",
                )
                .map_err(|e| format!("creating an issue: {e}"))?;
            // The person sets each mapped field, so the journal holds the
            // values roundtrip's portal copy may carry.
            h.linear
                .set_state(&issue.id, "Todo")
                .and_then(|_| h.linear.add_label(&issue.id, PORTAL_LABEL))
                .map_err(|e| format!("labelling an issue: {e}"))?;
            Unborn::Issue(issue.id)
        };
        self.waiting.push(unborn);
        Ok(())
    }

    /// Move every created record that is linked now into `links`.
    fn adopt(&mut self, h: &Harness, links: &mut Vec<(String, String)>) {
        let store = h.store();
        let db = store.db();
        self.waiting.retain(|u| {
            let (side, id) = match u {
                Unborn::Post(id) => (Side::Portal, id),
                Unborn::Issue(id) => (Side::Linear, id),
            };
            match db.link_by_remote(side, id).ok().flatten() {
                Some(roundtrip::store::Link {
                    portal_id: Some(p),
                    linear_id: Some(l),
                    ..
                }) => {
                    links.push((p, l));
                    false
                }
                _ => true,
            }
        });
    }
}

/// The kills and the weather, until `until` and until everything was tried
/// (see [`untried`]); the daemon is running when it returns. An error if
/// something still was not tried long after `until`.
async fn chaos(
    h: &Harness,
    daemon: &mut Daemon,
    cfg: &SoakConfig,
    until: Instant,
    born: &Cell<usize>,
    report: &mut SoakReport,
) -> Result<(), String> {
    let give_up = until + cfg.edit_for.max(Duration::from_secs(60)) * 2;
    let mut rng = fastrand::Rng::with_seed(cfg.seed ^ 0x5eed_c4a0_5000);
    let mut weather_rng = fastrand::Rng::with_seed(cfg.seed ^ 0x00c4_a05e_ed00);
    let mut forecast = Weather::forecast(&mut weather_rng);
    let between = |rng: &mut fastrand::Rng, (lo, hi): (Duration, Duration)| {
        let (lo, hi) = (
            lo.as_millis() as u64,
            hi.as_millis().max(lo.as_millis()) as u64,
        );
        Duration::from_millis(rng.u64(lo..=hi))
    };
    let mut next_kill = Instant::now() + between(&mut rng, cfg.kill_every);
    let mut next_weather = Instant::now();
    let mut next_progress = cfg.progress.map(|p| Instant::now() + p);
    loop {
        let now = Instant::now();
        if now >= until {
            let missing = untried(h, cfg, born.get(), report);
            if missing.is_empty() {
                return Ok(());
            }
            if now >= give_up {
                return Err(format!(
                    "after {:.0}s of chaos these were still never tried: {}",
                    (now + cfg.edit_for - until).as_secs_f64(),
                    missing.join(", ")
                ));
            }
        }
        if now >= next_weather {
            let w = forecast.next().unwrap_or(Weather::Drizzle);
            w.apply(h, cfg.latency);
            *report.weather.entry(w.name()).or_default() += 1;
            next_weather =
                now + between(&mut rng, (Duration::from_secs(1), Duration::from_secs(4)));
        }
        if now >= next_kill {
            if writes_in_flight(&h.store_path) {
                report.kills_mid_write += 1;
            }
            daemon.kill();
            report.kills += 1;
            let down = between(&mut rng, (Duration::ZERO, cfg.max_downtime));
            tokio::time::sleep(down).await;
            daemon.start(h).await?;
            next_kill = Instant::now() + between(&mut rng, cfg.kill_every);
        }
        daemon.check_alive()?;
        if let (Some(at), Some(every)) = (next_progress, cfg.progress)
            && now >= at
        {
            eprintln!(
                "soak seed {}: {:.0}s left, {} kills, {} Linear / {} portal API requests",
                cfg.seed,
                until.saturating_duration_since(now).as_secs_f64(),
                report.kills,
                h.linear.counters().requests,
                h.canny().stats().requests
            );
            next_progress = Some(at + every);
        }
        let wake = [next_kill, next_weather, until]
            .into_iter()
            .chain(next_progress)
            .min()
            .unwrap_or(until);
        let nap = wake
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(200));
        tokio::time::sleep(nap).await;
    }
}

/// What the soak promises to try and has not tried yet: the kills, every
/// spell of weather, and each fault on each side at least once.
fn untried(h: &Harness, cfg: &SoakConfig, born: usize, report: &SoakReport) -> Vec<String> {
    let mut missing = Vec::new();
    if report.kills < cfg.min_kills {
        missing.push(format!("{} of {} kills", report.kills, cfg.min_kills));
    }
    for w in Weather::ALL {
        if !report.weather.contains_key(w.name()) {
            missing.push(format!("the weather \"{}\"", w.name()));
        }
    }
    if born == 0 {
        missing.push("a record created during the soak".into());
    }
    let (l, p) = (injected_linear(h), injected_portal(h));
    for (side, i) in [("Linear", &l), ("portal", &p)] {
        let faults = [
            ("5xx answer", i.server_errors),
            ("timeout", i.timeouts.unwrap_or(1)),
            ("429 answer", i.rate_limited),
            ("lost answer", i.lost),
            ("dropped webhook", i.dropped),
            ("duplicated webhook", i.duplicated),
        ];
        for (what, n) in faults {
            if n == 0 {
                missing.push(format!("a {side} {what}"));
            }
        }
    }
    missing
}

/// Whether a write job is claimed right now (a kill would strike it
/// between sending and recording).
fn writes_in_flight(store: &Path) -> bool {
    Store::open(store, OpenMode::ReadOnly)
        .ok()
        .and_then(|s| {
            s.db()
                .count_jobs(&JobFilter {
                    status: Some(JobStatus::Running),
                    error_class: None,
                })
                .ok()
        })
        .is_some_and(|n| n > 0)
}

/// The faults of one spell of weather.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Weather {
    /// No faults (only latency).
    Clear,
    /// A few API faults and webhook losses.
    Drizzle,
    /// Many of them.
    Storm,
    /// One side answers most requests 429.
    RateLimitBurst(Side),
    /// Webhooks arrive late and shuffled.
    SlowWebhooks,
}

impl Weather {
    /// Every kind of bad weather.
    const ALL: [Weather; 5] = [
        Weather::Drizzle,
        Weather::Storm,
        Weather::RateLimitBurst(Side::Linear),
        Weather::RateLimitBurst(Side::Portal),
        Weather::SlowWebhooks,
    ];

    /// Every kind of bad weather, in a seeded shuffle: each comes once in
    /// every five spells, so even a short soak sees them all.
    fn forecast(rng: &mut fastrand::Rng) -> impl Iterator<Item = Weather> {
        let mut deck = Vec::new();
        std::iter::from_fn(move || {
            if deck.is_empty() {
                deck = Weather::ALL.to_vec();
                rng.shuffle(&mut deck);
            }
            deck.pop()
        })
    }

    fn name(self) -> &'static str {
        match self {
            Weather::Clear => "clear",
            Weather::Drizzle => "drizzle",
            Weather::Storm => "storm",
            Weather::RateLimitBurst(Side::Linear) => "Linear 429 burst",
            Weather::RateLimitBurst(Side::Portal) => "portal 429 burst",
            Weather::SlowWebhooks => "slow webhooks",
        }
    }

    /// (Linear API, portal API, webhooks).
    fn faults(self, latency: Duration) -> (ApiFaults, ApiFaults, WebhookFaults) {
        let api = |server_error, timeout, lost| ApiFaults {
            server_error,
            timeout,
            lost,
            latency,
            ..ApiFaults::default()
        };
        let hooks = |drop, duplicate, delay| WebhookFaults {
            drop,
            duplicate,
            reorder: true,
            delay,
        };
        let drizzle = (
            api(0.03, 0.005, 0.05),
            api(0.03, 0.005, 0.05),
            hooks(0.05, 0.1, Duration::ZERO),
        );
        let burst = ApiFaults {
            rate_limited: 0.8,
            ..api(0.0, 0.0, 0.0)
        };
        match self {
            Weather::Clear => (
                api(0.0, 0.0, 0.0),
                api(0.0, 0.0, 0.0),
                WebhookFaults::default(),
            ),
            Weather::Drizzle => drizzle,
            Weather::Storm => (
                api(0.15, 0.02, 0.15),
                api(0.15, 0.02, 0.15),
                hooks(0.2, 0.2, Duration::ZERO),
            ),
            Weather::RateLimitBurst(Side::Linear) => (burst, drizzle.1, drizzle.2),
            Weather::RateLimitBurst(Side::Portal) => (drizzle.0, burst, drizzle.2),
            Weather::SlowWebhooks => (
                drizzle.0,
                drizzle.1,
                hooks(0.0, 0.1, Duration::from_millis(250)),
            ),
        }
    }

    fn apply(self, h: &Harness, latency: Duration) {
        let (linear, portal, hooks) = self.faults(latency);
        h.linear.set_faults(linear);
        h.linear.set_webhook_faults(hooks.clone());
        set_portal_faults(h, portal, hooks);
    }
}

/// The daemon process: started on a fresh port each time, its stderr
/// appended to one log file.
struct Daemon {
    program: DaemonProgram,
    dir: PathBuf,
    child: Option<Child>,
    port: u16,
    starts: usize,
}

impl Daemon {
    fn new(program: DaemonProgram, dir: &Path) -> Daemon {
        Daemon {
            program,
            dir: dir.to_path_buf(),
            child: None,
            port: 0,
            starts: 0,
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("daemon.log")
    }

    fn config_path(&self) -> PathBuf {
        self.dir.join("roundtrip.toml")
    }

    /// Start on a new port and wait (bounded) until it answers `/healthz`;
    /// then point both simulators' webhooks at it.
    async fn start(&mut self, h: &Harness) -> Result<(), String> {
        self.port = free_port()?;
        self.starts += 1;
        let config = format!(
            "[store]\npath = \"{store}\"\n\
             [linear]\napi_url = \"{linear}\"\nteam = \"ENG\"\ntimeout = \"2s\"\n\
             {portal}\
             [webhooks]\nlisten = \"127.0.0.1:{port}\"\nintegrity_check_interval = \"20s\"\n\
             [sync]\nreconcile_interval = \"15s\"\nmax_attempts = 40\ncreate_in_portal_label = \"{label}\"\n",
            store = h.store_path.display(),
            linear = h.linear.graphql_url(),
            portal = portal_config(h),
            port = self.port,
            label = PORTAL_LABEL,
        );
        std::fs::write(self.config_path(), config).map_err(|e| format!("config: {e}"))?;
        let mut log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| format!("daemon log: {e}"))?;
        let _ = writeln!(log, "---- start {} on port {}", self.starts, self.port);
        let mut cmd = Command::new(&self.program.program);
        cmd.args(&self.program.args)
            .arg("run")
            .arg("--config")
            .arg(self.config_path())
            .current_dir(&self.dir)
            .env("LINEAR_API_KEY", h.linear.api_key())
            .env("LINEAR_WEBHOOK_SECRET", h.linear.webhook_secret())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        for (k, v) in portal_env(h) {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("starting {}: {e}", self.program.program.display()))?;
        self.child = Some(child);
        let url = format!("http://127.0.0.1:{}/healthz", self.port);
        let http = reqwest::Client::new();
        let mut exited = None;
        let answered = within("the daemon to answer /healthz", 30, async || {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                exited = Some(status);
                return Some(false);
            }
            http.get(&url).send().await.ok().map(|_| true)
        })
        .await?;
        if !answered {
            self.child = None;
            return Err(format!(
                "the daemon exited at start {} ({exited:?})",
                self.starts
            ));
        }
        h.linear.set_webhook_url(Some(format!(
            "http://127.0.0.1:{}/webhooks/linear",
            self.port
        )));
        set_portal_webhook_url(
            h,
            Some(format!(
                "http://127.0.0.1:{}/webhooks/{}",
                self.port, PORTAL_PATH
            )),
        );
        Ok(())
    }

    /// SIGKILL, and reap it.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// An error if the daemon died by itself.
    fn check_alive(&mut self) -> Result<(), String> {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(Some(status))) => {
                self.child = None;
                Err(format!("the daemon died by itself ({status})"))
            }
            Some(Ok(None)) => Ok(()),
            Some(Err(e)) => Err(format!("cannot watch the daemon: {e}")),
            None => Err("the daemon is not running".into()),
        }
    }

    /// SIGTERM, and wait (bounded) for a clean exit.
    async fn stop(&mut self) -> Result<(), String> {
        let Some(child) = self.child.as_mut() else {
            return Err("the daemon is not running".into());
        };
        let pid =
            rustix::process::Pid::from_raw(child.id() as i32).ok_or("the daemon has no pid")?;
        rustix::process::kill_process(pid, rustix::process::Signal::TERM)
            .map_err(|e| format!("SIGTERM: {e}"))?;
        let status = within("the daemon to stop after SIGTERM", 30, async || {
            self.child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
        })
        .await?;
        self.child = None;
        if status.success() {
            Ok(())
        } else {
            Err(format!("the daemon stopped with {status} after SIGTERM"))
        }
    }

    fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// Every acknowledged delivery is in the inbox and processed; returns the
/// inbox's size.
pub fn check_acknowledged(
    store: &Store,
    h: &Harness,
    errors: &mut Vec<String>,
) -> Result<usize, String> {
    let inbox = store
        .db()
        .deliveries(Window::first(10_000_000))
        .map_err(|e| e.to_string())?;
    let stored: HashMap<(Side, &str), bool> = inbox
        .iter()
        .map(|d| ((d.source, d.delivery_id.as_str()), d.processed_at.is_some()))
        .collect();
    for (side, acked) in [
        (Side::Linear, h.linear.acknowledged_deliveries()),
        (Side::Portal, portal_acknowledged(h)),
    ] {
        let mut missing = Vec::new();
        let mut unprocessed = Vec::new();
        for id in &acked {
            match stored.get(&(side, id.as_str())) {
                None => missing.push(id.as_str()),
                Some(false) => unprocessed.push(id.as_str()),
                Some(true) => {}
            }
        }
        missing.dedup();
        unprocessed.dedup();
        if !missing.is_empty() {
            errors.push(format!(
                "{} {side} deliveries were acknowledged with 2xx but are not in the inbox: {}",
                missing.len(),
                sample(&missing)
            ));
        }
        if !unprocessed.is_empty() {
            errors.push(format!(
                "{} {side} deliveries were acknowledged but never processed: {}",
                unprocessed.len(),
                sample(&unprocessed)
            ));
        }
    }
    Ok(inbox.len())
}

fn sample(ids: &[&str]) -> String {
    let mut s = ids.iter().take(5).copied().collect::<Vec<_>>().join(", ");
    if ids.len() > 5 {
        s.push_str(", …");
    }
    s
}

/// No job gave up, waits for an operator or is left undone; returns how
/// many jobs ran and the most attempts one took.
pub fn check_jobs(store: &Store, errors: &mut Vec<String>) -> Result<(usize, i64), String> {
    for status in [
        JobStatus::Dead,
        JobStatus::Failed,
        JobStatus::Queued,
        JobStatus::Running,
    ] {
        let jobs = store
            .db()
            .jobs(
                &JobFilter {
                    status: Some(status),
                    error_class: None,
                },
                Window::first(20),
            )
            .map_err(|e| e.to_string())?;
        if !jobs.is_empty() {
            let list: Vec<String> = jobs
                .iter()
                .map(|j| {
                    format!(
                        "job {} ({:?} on link {:?}): {:?}",
                        j.id, j.kind, j.link_id, j.last_error
                    )
                })
                .collect();
            errors.push(format!(
                "{} {status:?} jobs at the end:\n  {}",
                jobs.len(),
                list.join("\n  ")
            ));
        }
    }
    let all = store
        .db()
        .jobs(&JobFilter::default(), Window::first(10_000_000))
        .map_err(|e| e.to_string())?;
    let most = all.iter().map(|j| j.attempts).max().unwrap_or(0);
    Ok((all.len(), most))
}

/// SQLite's full integrity check and roundtrip's quick check both pass.
fn check_integrity(store: &Store, path: &Path, errors: &mut Vec<String>) {
    let quick = store.quick_check();
    if !quick.ok {
        errors.push(format!("the store fails its quick check: {}", quick.detail));
    }
    let full: Result<Vec<String>, _> =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .and_then(|c| {
                let mut stmt = c.prepare("PRAGMA integrity_check")?;
                stmt.query_map([], |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            });
    match full {
        Ok(rows) if rows == ["ok"] => {}
        Ok(rows) => errors.push(format!("integrity_check: {}", rows.join("; "))),
        Err(e) => errors.push(format!("integrity_check could not run: {e}")),
    }
}

fn injected_linear(h: &Harness) -> Injected {
    let c = h.linear.counters();
    let (acknowledged, acknowledged_twice) = acks(&h.linear.acknowledged_deliveries());
    Injected {
        requests: c.requests,
        server_errors: c.server_errors,
        timeouts: Some(c.timeouts),
        rate_limited: c.rate_limited,
        lost: c.lost,
        dropped: c.webhooks_dropped,
        duplicated: c.webhooks_duplicated,
        acknowledged,
        acknowledged_twice,
        failed: c.webhooks_failed,
    }
}

/// (attempts acknowledged, ids acknowledged more than once).
fn acks(ids: &[String]) -> (usize, usize) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for id in ids {
        *seen.entry(id).or_default() += 1;
    }
    (ids.len(), seen.values().filter(|n| **n > 1).count())
}

// The portal: everything that names Canny is below, so a second portal
// needs only these.

/// The URL path segment of the portal's webhook endpoint.
const PORTAL_PATH: &str = "canny";

fn portal_config(h: &Harness) -> String {
    format!(
        "[portal]\napi_url = \"{}\"\nboard = \"Feature Requests\"\ntimeout = \"2s\"\n",
        h.canny().base_url()
    )
}

fn create_planned_post(h: &Harness, title: &str, details: &str) -> Result<String, String> {
    let post = h
        .canny()
        .create_post(title, details)
        .map_err(|e| format!("creating a post: {e}"))?;
    h.canny()
        .set_status(&post, "planned")
        .map_err(|e| format!("planning a post: {e}"))?;
    Ok(post)
}

fn portal_env(h: &Harness) -> Vec<(&'static str, String)> {
    vec![("CANNY_API_KEY", h.canny().api_key().to_string())]
}

fn set_portal_faults(h: &Harness, api: ApiFaults, hooks: WebhookFaults) {
    h.canny().set_faults(api);
    h.canny().set_webhook_faults(hooks);
}

fn set_portal_webhook_url(h: &Harness, url: Option<String>) {
    h.canny().set_webhook_url(url);
}

fn portal_acknowledged(h: &Harness) -> Vec<String> {
    h.canny().acknowledged_deliveries()
}

fn silence_webhooks(h: &Harness) {
    h.linear.set_webhook_url(None);
    set_portal_webhook_url(h, None);
}

fn injected_portal(h: &Harness) -> Injected {
    let s = h.canny().stats();
    let (acknowledged, acknowledged_twice) = acks(&portal_acknowledged(h));
    Injected {
        requests: s.requests,
        server_errors: s.faults,
        timeouts: None,
        rate_limited: s.rate_limited,
        lost: s.lost,
        dropped: s.webhooks_dropped,
        duplicated: s.webhooks_duplicated,
        acknowledged,
        acknowledged_twice,
        failed: s.webhooks_failed,
    }
}
