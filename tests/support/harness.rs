//! A whole roundtrip on loopback for engine and daemon tests: Linear's and
//! one portal's simulator (Canny's or Fider's, as the setup says), both
//! connectors, and the service (store writer, engine, webhook server) on a
//! temporary store, with the simulators' webhooks pointed at the service.
//! Tests that hold for any portal drive it through [`PortalSim`] and run
//! once per portal with [`portal_tests!`].

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use roundtrip::connector::Connector;
use roundtrip::connector::canny::{CannyConfig, CannyConnector};
use roundtrip::connector::fider::{FiderConfig, FiderConnector};
use roundtrip::connector::linear::{LinearConfig, LinearConnector};
use roundtrip::daemon::{Service, ServiceSpec};
pub use roundtrip::domain::PortalKind;
use roundtrip::domain::{Record, Side};
use roundtrip::engine::{Connectors, EngineOptions, Rules};
use roundtrip::sim::canny::{CannySim, CannySimConfig};
use roundtrip::sim::faults::{ApiFaults, WebhookFaults};
use roundtrip::sim::linear::{LinearSim, LinearSimConfig};

#[path = "pg.rs"]
pub mod pg;
#[path = "harness/portal.rs"]
pub mod portal;
#[path = "harness/routing.rs"]
mod routing;
#[allow(unused_imports)]
pub use portal::{CommentView, PortalSim, PostView, Stage};
use roundtrip::store::pg::PgTarget;
use roundtrip::store::{OpenMode, Store, StoreLocation};
use roundtrip::sync::{DeletePolicy, MassDeleteGuard, PortalCreateOptions};

pub struct Harness {
    pub linear: LinearSim,
    /// The portal's simulator, whichever it is.
    pub portal: PortalSim,
    pub linear_conn: Arc<LinearConnector>,
    /// The portal's connector as the engine sees it.
    pub portal_conn: Arc<dyn Connector>,
    pub service: Option<Service>,
    pub store_path: PathBuf,
    /// Where the service's store is: `store_path`, or a fresh PostgreSQL
    /// database when the setup (or `ROUNDTRIP_TEST_STORE=postgres`) asks.
    pub store: StoreLocation,
    pub options: EngineOptions,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<pg::PgDb>,
}

pub struct Setup {
    /// Which portal the harness runs against.
    pub portal: PortalKind,
    /// Fider: how long an announced change may wait for its webhook.
    pub webhook_silence: Duration,
    pub posts: usize,
    pub delete_policy: DeletePolicy,
    pub linear_faults: ApiFaults,
    pub portal_faults: ApiFaults,
    pub webhook_faults: WebhookFaults,
    pub seed: u64,
    pub reconcile_interval: Duration,
    pub linear_requests_per_hour: u64,
    pub store_path: Option<PathBuf>,
    /// Keep the store in a fresh PostgreSQL database.
    pub postgres: bool,
    pub mass_delete_guard: usize,
    /// Start the service with the harness (off: the test starts it, e.g. on
    /// a runtime of its own that it can kill).
    pub start_service: bool,
    /// Linear issues carrying this label get a portal post.
    pub create_in_portal_label: Option<String>,
    /// Injected latency on every Linear answer (keeps writes in flight).
    pub linear_latency: Duration,
    /// Attempts per job before it is dead.
    pub max_attempts: u32,
    /// The Linear team's auto-archive period.
    pub linear_auto_archive: Duration,
    /// How long after its project completes a closed issue is archived.
    pub linear_project_archive: Duration,
    /// The Canny company's statuses in board order.
    pub canny_statuses: Option<Vec<String>>,
    /// Whether the Canny plan has internal comments.
    pub canny_internal_comments: bool,
    /// Fider: customers' posts wait for a moderator.
    pub fider_moderation: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            portal: PortalKind::Canny,
            webhook_silence: Duration::from_secs(600),
            posts: 0,
            delete_policy: DeletePolicy::Unlink,
            linear_faults: ApiFaults::default(),
            portal_faults: ApiFaults::default(),
            webhook_faults: WebhookFaults::default(),
            seed: 7,
            reconcile_interval: Duration::from_secs(3600),
            linear_requests_per_hour: 100_000,
            store_path: None,
            postgres: false,
            mass_delete_guard: 20,
            start_service: true,
            create_in_portal_label: None,
            linear_latency: Duration::ZERO,
            max_attempts: 8,
            linear_auto_archive: Duration::from_secs(180 * 86_400),
            linear_project_archive: Duration::from_secs(30 * 86_400),
            canny_statuses: None,
            canny_internal_comments: true,
            fider_moderation: false,
        }
    }
}

pub fn options(setup: &Setup) -> EngineOptions {
    EngineOptions {
        rules: Rules {
            default_team: "ENG".into(),
            create_in_linear: roundtrip::config::default_create_rule(setup.portal),
            create_in_portal: match &setup.create_in_portal_label {
                Some(label) => PortalCreateOptions {
                    enabled: true,
                    label: label.clone(),
                },
                None => PortalCreateOptions::default(),
            },
            delete_policy: setup.delete_policy,
            guard: MassDeleteGuard {
                max_deletes: setup.mass_delete_guard,
                ..MassDeleteGuard::default()
            },
        },
        reconcile_interval: setup.reconcile_interval,
        max_attempts: setup.max_attempts,
        live_reserve: 0.2,
        portal: setup.portal,
        tick: Duration::from_millis(100),
        replica: Default::default(),
    }
}

impl Harness {
    pub async fn start(setup: Setup) -> Harness {
        let linear = LinearSim::start(LinearSimConfig {
            faults: ApiFaults {
                latency: setup.linear_latency.max(setup.linear_faults.latency),
                ..setup.linear_faults.clone()
            },
            webhook_faults: setup.webhook_faults.clone(),
            seed: setup.seed,
            requests_per_hour: setup.linear_requests_per_hour,
            webhook_retry_delays: vec![Duration::from_millis(200), Duration::from_millis(500)],
            timeout_hold: Duration::from_secs(3),
            auto_archive_period: setup.linear_auto_archive,
            project_archive_window: setup.linear_project_archive,
            ..LinearSimConfig::default()
        })
        .await
        .expect("linear sim");
        let mut lc = LinearConfig::new(linear.api_key(), "ENG", linear.webhook_secret());
        lc.api_url = linear.graphql_url();
        lc.timeout = Duration::from_secs(2);
        lc.attribution.portal_name = setup.portal.display_name().into();
        let linear_conn = Arc::new(LinearConnector::new(lc).expect("linear connector"));
        let (portal, portal_conn) = start_portal(&setup).await;
        let (dir, store_path) = match &setup.store_path {
            Some(p) => (None, p.clone()),
            None => {
                let d = tempfile::tempdir().expect("tempdir");
                let p = d.path().join("rt.db");
                (Some(d), p)
            }
        };
        let on_postgres = setup.postgres
            || ON_POSTGRES.try_with(|on| *on).unwrap_or(false)
            || std::env::var("ROUNDTRIP_TEST_STORE").is_ok_and(|v| v == "postgres");
        let (store, pg_db) = if on_postgres && setup.store_path.is_none() {
            let db = pg::fresh_db();
            let target = PgTarget::parse(&db.url, Some(db.password.clone())).expect("pg url");
            (StoreLocation::Postgres(Arc::new(target)), Some(db))
        } else {
            (StoreLocation::File(store_path.clone()), None)
        };
        let mut h = Harness {
            linear,
            portal,
            linear_conn,
            portal_conn,
            service: None,
            store_path,
            store,
            options: options(&setup),
            _dir: dir,
            _pg: pg_db,
        };
        if setup.start_service {
            h.start_service().await;
        }
        h
    }

    pub fn connectors(&self) -> Connectors {
        Connectors {
            linear: self.linear_conn.clone(),
            portal: self.portal_conn.clone(),
        }
    }

    /// What `Service::start` needs to run on this harness's store.
    pub fn spec(&self) -> ServiceSpec {
        ServiceSpec {
            store: self.store.clone(),
            connectors: self.connectors(),
            options: self.options.clone(),
            listen: "127.0.0.1:0".parse().expect("addr"),
            webhooks: roundtrip::webhook::WebhookOptions::default(),
        }
    }

    /// Point both simulators' webhooks at a service listening on `addr`.
    pub fn point_webhooks(&self, addr: std::net::SocketAddr) {
        self.linear
            .set_webhook_url(Some(format!("http://{addr}/webhooks/linear")));
        self.portal.point_webhooks(Some(addr));
    }

    /// The webhook server's address.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.service.as_ref().expect("service running").addr
    }

    /// Turn both simulators' webhooks off (a test that wants both sides'
    /// edits seen together by one reconcile), or back on.
    pub fn webhooks(&self, on: bool) {
        match on {
            true => self.point_webhooks(self.addr()),
            false => {
                self.linear.set_webhook_url(None);
                self.portal.point_webhooks(None);
            }
        }
    }

    /// A portal edit no webhook announces (Fider sends none for edits,
    /// tags or votes) reaches roundtrip by reconcile: run one pass for such
    /// a portal; Canny's webhooks announce edits, so nothing to do.
    pub async fn edits_reconciled(&self) {
        if self.portal.kind() == PortalKind::Fider {
            self.engine().reconcile_once().await.expect("reconcile");
        }
    }

    /// The Canny simulator, for tests of what only Canny does.
    pub fn canny(&self) -> &CannySim {
        match &self.portal {
            PortalSim::Canny(c) => c,
            PortalSim::Fider(_) => panic!("this test runs against Canny only"),
        }
    }

    /// The Fider simulator, for tests of what only Fider does.
    pub fn fider(&self) -> &roundtrip::sim::fider::FiderSim {
        match &self.portal {
            PortalSim::Fider(f) => f,
            PortalSim::Canny(_) => panic!("this test runs against Fider only"),
        }
    }

    pub async fn start_service(&mut self) {
        if std::env::var_os("RUST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .with_test_writer()
                .try_init();
        }
        let service = Service::start(self.spec()).await.expect("service");
        self.point_webhooks(service.addr);
        self.service = Some(service);
    }

    pub fn engine(&self) -> roundtrip::engine::Engine {
        self.service
            .as_ref()
            .expect("service running")
            .engine
            .clone()
    }

    /// Jobs queued or running plus deliveries not yet processed.
    pub fn backlog(&self) -> usize {
        let s = self.store();
        let db = s.db();
        let count = |status| {
            db.count_jobs(&roundtrip::store::JobFilter {
                status: Some(status),
                error_class: None,
            })
            .expect("count jobs") as usize
        };
        count(roundtrip::domain::JobStatus::Queued)
            + count(roundtrip::domain::JobStatus::Running)
            + db.pending_deliveries(1000).expect("inbox").len()
    }

    /// Wait until the reconcile pass the engine runs when it starts is
    /// over, so a test's own pass (or change) cannot race it.
    pub async fn wait_start_up_reconcile(&self) {
        eventually("the start-up reconcile pass", 20, async || {
            self.store()
                .db()
                .meta(roundtrip::store::meta_keys::LAST_RECONCILE)
                .expect("meta")
        })
        .await;
    }

    /// Wait until the portal simulator has sent every webhook so far and the
    /// engine has handled them: no late echo of an earlier write can then
    /// carry a change a test makes next.
    pub async fn wait_echoes_handled(&self) {
        eventually("the portal's webhooks to be sent", 20, async || {
            (self.portal.webhooks_pending() == 0).then_some(())
        })
        .await;
        self.wait_quiet(Duration::from_millis(300), 20).await;
    }

    /// Wait until nothing is queued, running or unprocessed for `calm`
    /// in a row (late echoes and webhook retries keep arriving briefly).
    pub async fn wait_quiet(&self, calm: Duration, secs: u64) {
        self.quiet_within(calm, secs)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// [`Harness::wait_quiet`], saying how much was left when time ran out.
    pub async fn quiet_within(&self, calm: Duration, secs: u64) -> Result<(), String> {
        let mut since: Option<tokio::time::Instant> = None;
        let mut left = 0;
        within("the engine to go quiet", secs, async || {
            left = self.backlog();
            if left > 0 {
                since = None;
                return None;
            }
            let t = *since.get_or_insert_with(tokio::time::Instant::now);
            (t.elapsed() >= calm).then_some(())
        })
        .await
        .map_err(|e| format!("{e} ({left} jobs and deliveries still pending)"))
    }

    pub async fn stop_service(&mut self) {
        if let Some(s) = self.service.take() {
            s.stop(Duration::from_secs(5)).await.expect("stop");
        }
    }

    /// The PostgreSQL database the store lives in, when it does.
    pub fn pg_db(&self) -> Option<&pg::PgDb> {
        self._pg.as_ref()
    }

    /// What `--db` takes for this harness's store: the file, or the
    /// PostgreSQL URL (with the test server's password in it).
    pub fn db_arg(&self) -> std::ffi::OsString {
        match &self._pg {
            Some(db) => db.url_with_password().into(),
            None => self.store_path.clone().into(),
        }
    }

    /// The store opened for reading and writing operator intents.
    pub fn store_rw(&self) -> Store {
        self.store.open(OpenMode::Existing).expect("store")
    }

    pub fn store(&self) -> Store {
        self.store.open(OpenMode::ReadOnly).expect("store")
    }

    /// Both sides in canonical form, read through the connectors.
    pub async fn linear_record(&self, id: &str) -> Option<Record> {
        self.linear_conn.get(id).await.expect("linear get")
    }

    pub async fn portal_record(&self, id: &str) -> Option<Record> {
        self.portal_conn.get(id).await.expect("portal get")
    }

    /// Every open conflict, oldest first.
    pub fn open_conflicts(&self) -> Vec<roundtrip::store::Conflict> {
        self.store()
            .db()
            .conflicts(
                &roundtrip::store::ConflictFilter {
                    status: Some(roundtrip::store::ConflictStatus::Open),
                    field: None,
                },
                roundtrip::store::Window::first(10_000),
            )
            .expect("conflicts")
    }

    /// The Linear issue linked to a portal post, once the link is active.
    pub fn linked_issue(&self, post_id: &str) -> Option<String> {
        self.store()
            .db()
            .link_by_remote(Side::Portal, post_id)
            .ok()
            .flatten()
            .and_then(|l| l.linear_id)
    }
}

impl Harness {
    /// A customer's post, approved on the portal and linked to its new
    /// Linear issue, with its first sync finished: (post, issue).
    pub async fn linked_pair(&self, title: &str) -> (String, String) {
        let post = self.portal.create_post(title, "Details from a customer.");
        self.portal.set_stage(&post, Stage::Planned);
        let issue = eventually("link to become active", 20, async || {
            self.linked_issue(&post)
        })
        .await;
        self.wait_settled(&post).await;
        (post, issue)
    }

    /// Wait until the post's link is active and has no write queued or in
    /// flight (its first sync finished).
    pub async fn wait_settled(&self, post: &str) {
        eventually("link settled", 10, async || {
            let s = self.store();
            let l = s.db().link_by_remote(Side::Portal, post).ok()??;
            (!s.db().link_has_pending_jobs(l.id).ok()?).then_some(())
        })
        .await;
    }
}

/// The secret the harness's Fider webhooks present.
pub const FIDER_SECRET: &str = "fider_wh_test";

/// Start the portal's simulator and connector the setup names.
async fn start_portal(setup: &Setup) -> (PortalSim, Arc<dyn Connector>) {
    match setup.portal {
        PortalKind::Canny => {
            let canny = CannySim::start(CannySimConfig {
                faults: setup.portal_faults.clone(),
                webhook_faults: setup.webhook_faults.clone(),
                seed: setup.seed,
                posts: setup.posts,
                timeout_hang: Duration::from_secs(3),
                statuses: setup
                    .canny_statuses
                    .clone()
                    .unwrap_or_else(|| CannySimConfig::default().statuses),
                internal_comments: setup.canny_internal_comments,
                ..CannySimConfig::default()
            })
            .await
            .expect("canny sim");
            let mut cc = CannyConfig::new(canny.base_url(), canny.api_key(), "Feature Requests");
            cc.request_timeout = Duration::from_secs(2);
            let conn = Arc::new(CannyConnector::new(cc).expect("canny connector"));
            (PortalSim::Canny(canny), conn)
        }
        PortalKind::Fider => {
            let fider =
                roundtrip::sim::fider::FiderSim::start(roundtrip::sim::fider::FiderSimConfig {
                    faults: setup.portal_faults.clone(),
                    webhook_faults: setup.webhook_faults.clone(),
                    seed: setup.seed,
                    posts: setup.posts,
                    timeout_hang: Duration::from_secs(3),
                    allow_private_targets: true,
                    moderation: setup.fider_moderation,
                    ..Default::default()
                })
                .await
                .expect("fider sim");
            let mut fc = FiderConfig::new(fider.base_url(), fider.admin_key(), FIDER_SECRET);
            fc.request_timeout = Duration::from_secs(2);
            fc.webhook_silence = setup.webhook_silence;
            let conn = Arc::new(FiderConnector::new(fc).expect("fider connector"));
            (PortalSim::Fider(fider), conn)
        }
    }
}

/// One test body, run once against each portal: `portal_tests!(name, …)`
/// makes `canny::name` and `fider::name`, each calling `name(kind)`.
#[macro_export]
macro_rules! portal_tests {
    ($($name:ident),+ $(,)?) => {
        mod canny {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::harness::PortalKind::Canny).await
                }
            )+
        }
        mod fider {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::harness::PortalKind::Fider).await
                }
            )+
        }
        /// The same tests with the store in PostgreSQL (Canny's portal).
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::support::harness::on_postgres(
                        super::$name($crate::support::harness::PortalKind::Canny),
                    )
                    .await
                }
            )+
        }
    };
}

tokio::task_local! {
    static ON_POSTGRES: bool;
}

/// Run a test with every harness it starts keeping its store in a fresh
/// PostgreSQL database.
pub async fn on_postgres<F: std::future::Future>(test: F) -> F::Output {
    ON_POSTGRES.scope(true, test).await
}

/// Poll `f` every 50 ms until it returns `Some`, or panic after `secs`.
pub async fn eventually<T>(what: &str, secs: u64, f: impl AsyncFnMut() -> Option<T>) -> T {
    within(what, secs, f)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Poll `f` every 50 ms until it returns `Some`; after `secs`, an error
/// naming what was awaited.
pub async fn within<T>(
    what: &str,
    secs: u64,
    mut f: impl AsyncFnMut() -> Option<T>,
) -> Result<T, String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return Ok(v);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("timed out after {secs}s waiting for: {what}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
