//! The demo's world: both simulators, both connectors and the service
//! (store writer, engine, webhook server) on loopback, wired exactly as a
//! deployment is, with the simulators' webhooks pointed at the service.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::connector::Connector;
use crate::connector::canny::{CannyConfig, CannyConnector};
use crate::connector::fider::{FiderConfig, FiderConnector};
use crate::connector::linear::{LinearConfig, LinearConnector};
use crate::daemon::{Service, ServiceSpec};
use crate::domain::PortalKind;
use crate::engine::{Connectors, EngineOptions, Rules};
use crate::sim::canny::{CannySim, CannySimConfig};
use crate::sim::fider::{FiderSim, FiderSimConfig};
use crate::sim::linear::{LinearSim, LinearSimConfig};
use crate::sync::{DeletePolicy, MassDeleteGuard, PortalCreateOptions};

use super::DemoError;
use super::portal::{DemoPortal, FIDER_SECRET};

/// Sample posts seeded on the portal.
pub const SEED_POSTS: usize = 200;
/// Linear requests per (compressed) quota window.
pub const LINEAR_REQUESTS: u64 = 900;
/// The compressed "hour": an exhausted Linear quota refills over this.
pub const QUOTA_WINDOW: Duration = Duration::from_secs(5);
/// Attempts before a job is dead: low, so a 5xx streak fills the dead-jobs
/// view within seconds instead of the production default's minutes.
pub const MAX_ATTEMPTS: u32 = 3;

/// Where the store lives and whether it outlives the demo.
#[derive(Debug)]
enum StoreDir {
    /// A temporary directory removed on stop.
    Temp(PathBuf),
    /// The operator's `--db` path, kept.
    Kept,
}

/// Everything the demo runs.
pub struct World {
    /// The Linear simulator.
    pub linear: Arc<LinearSim>,
    /// The portal simulator.
    pub portal: DemoPortal,
    /// Connectors as the engine uses them (the convergence check reads
    /// through them too).
    pub connectors: Connectors,
    /// The running service.
    pub service: Service,
    /// The store file.
    pub store_path: PathBuf,
    dir: StoreDir,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("service", &self.service)
            .field("store_path", &self.store_path)
            .finish()
    }
}

fn engine_options(portal: PortalKind) -> EngineOptions {
    EngineOptions {
        rules: Rules {
            default_team: "ENG".into(),
            create_in_linear: crate::config::default_create_rule(portal),
            create_in_portal: PortalCreateOptions::default(),
            delete_policy: DeletePolicy::Unlink,
            guard: MassDeleteGuard::default(),
        },
        reconcile_interval: Duration::from_secs(8),
        max_attempts: MAX_ATTEMPTS,
        live_reserve: 0.2,
        portal,
        tick: Duration::from_millis(250),
        replica: Default::default(),
    }
}

/// Make the demo's routed mapping the active one before the engine starts
/// (a kept store that already has it is left as it is).
fn install_routes(path: &Path, kind: PortalKind) -> Result<(), DemoError> {
    let doc = super::orchestration::demo_mapping(kind).to_toml();
    let mut store = crate::store::Store::open(path, crate::store::OpenMode::Create)
        .map_err(|e| DemoError::Sim(format!("opening the store: {e}")))?;
    store
        .write(|db| {
            let active = db.active_mapping()?;
            if active.is_some_and(|a| {
                crate::sync::Mapping::parse(&a.document).is_ok_and(|m| !m.routes.is_empty())
            }) {
                return Ok(());
            }
            let doc = crate::sync::stamp_version(&doc, db.next_mapping_version()?).unwrap_or(doc);
            db.add_mapping_version(&doc, crate::domain::Actor::Demo, "routes by product area")
                .map(|_| ())
        })
        .map_err(|e| DemoError::Sim(format!("installing the demo's routes: {e}")))
}

fn temp_store_dir() -> Result<PathBuf, DemoError> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir =
        std::env::temp_dir().join(format!("roundtrip-demo-{}-{nanos:08x}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|source| DemoError::Io {
        what: format!("creating {}", dir.display()),
        source,
    })?;
    Ok(dir)
}

impl World {
    /// Start the simulators and the service; `db` keeps the store there.
    pub async fn start(
        seed: u64,
        db: Option<&Path>,
        portal_kind: PortalKind,
    ) -> Result<World, DemoError> {
        let linear = LinearSim::start(LinearSimConfig {
            seed,
            requests_per_hour: LINEAR_REQUESTS,
            complexity_per_hour: 3_000_000,
            quota_window: QUOTA_WINDOW,
            webhook_retry_delays: vec![Duration::from_millis(300), Duration::from_secs(1)],
            timeout_hold: Duration::from_secs(3),
            ..LinearSimConfig::default()
        })
        .await
        .map_err(|e| DemoError::Sim(format!("Linear simulator: {e}")))?;
        let mut lc = LinearConfig::new(linear.api_key(), "ENG", linear.webhook_secret());
        lc.api_url = linear.graphql_url();
        lc.timeout = Duration::from_secs(2);
        lc.attribution.portal_name = portal_kind.display_name().into();
        let linear_conn = LinearConnector::new(lc)
            .map_err(|e| DemoError::Sim(format!("Linear connector: {e}")))?;
        let (portal, portal_conn) = start_portal(seed, portal_kind).await?;
        let connectors = Connectors {
            linear: Arc::new(linear_conn),
            portal: portal_conn,
        };
        let (store_path, dir) = match db {
            Some(p) => (p.to_path_buf(), StoreDir::Kept),
            None => {
                let d = temp_store_dir()?;
                (d.join("roundtrip-demo.db"), StoreDir::Temp(d))
            }
        };
        if let DemoPortal::Canny(canny) = &portal {
            super::orchestration::prepare(&linear, canny).map_err(DemoError::Sim)?;
            install_routes(&store_path, portal_kind)?;
        }
        let started = Service::start(ServiceSpec {
            store: store_path.clone().into(),
            connectors: connectors.clone(),
            options: engine_options(portal_kind),
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            webhooks: crate::webhook::WebhookOptions::default(),
        })
        .await;
        let service = match started {
            Ok(s) => s,
            Err(e) => {
                if let StoreDir::Temp(d) = &dir {
                    let _ = std::fs::remove_dir_all(d);
                }
                return Err(e.into());
            }
        };
        let world = World {
            linear: Arc::new(linear),
            portal,
            connectors,
            service,
            store_path,
            dir,
        };
        world.webhooks(true);
        Ok(world)
    }

    /// Point both simulators' webhooks at the service, or turn them off
    /// (the conflict scene: both edits must reach the engine together).
    pub fn webhooks(&self, on: bool) {
        let addr = self.service.addr;
        self.linear
            .set_webhook_url(on.then(|| format!("http://{addr}/webhooks/linear")));
        self.portal.webhooks(on.then_some(addr));
    }

    /// Stop the service (finishing in-flight work), the simulators, and
    /// remove the temporary store.
    pub async fn stop(self) -> Result<(), DemoError> {
        let World {
            linear,
            portal,
            service,
            dir,
            ..
        } = self;
        linear.set_webhook_url(None);
        portal.webhooks(None);
        let stopped = service.stop(Duration::from_secs(5)).await;
        if let Ok(l) = Arc::try_unwrap(linear) {
            l.shutdown().await;
        }
        portal.shutdown().await;
        if let StoreDir::Temp(d) = dir {
            let _ = std::fs::remove_dir_all(&d);
        }
        stopped.map_err(DemoError::from)
    }
}

/// The portal's simulator, seeded with the sample posts, and its connector.
async fn start_portal(
    seed: u64,
    kind: PortalKind,
) -> Result<(DemoPortal, Arc<dyn Connector>), DemoError> {
    Ok(match kind {
        PortalKind::Canny => {
            let canny = CannySim::start(CannySimConfig {
                seed,
                posts: SEED_POSTS,
                timeout_hang: Duration::from_secs(3),
                ..CannySimConfig::default()
            })
            .await
            .map_err(|e| DemoError::Sim(format!("Canny simulator: {e}")))?;
            let mut cc = CannyConfig::new(canny.base_url(), canny.api_key(), "Feature Requests");
            cc.request_timeout = Duration::from_secs(2);
            let conn = CannyConnector::new(cc)
                .map_err(|e| DemoError::Sim(format!("Canny connector: {e}")))?;
            (DemoPortal::Canny(Arc::new(canny)), Arc::new(conn))
        }
        PortalKind::Fider => {
            let fider = FiderSim::start(FiderSimConfig {
                seed,
                posts: SEED_POSTS,
                timeout_hang: Duration::from_secs(3),
                allow_private_targets: true,
                ..FiderSimConfig::default()
            })
            .await
            .map_err(|e| DemoError::Sim(format!("Fider simulator: {e}")))?;
            let mut fc = FiderConfig::new(fider.base_url(), fider.admin_key(), FIDER_SECRET);
            fc.request_timeout = Duration::from_secs(2);
            let conn = FiderConnector::new(fc)
                .map_err(|e| DemoError::Sim(format!("Fider connector: {e}")))?;
            (DemoPortal::Fider(Arc::new(fider)), Arc::new(conn))
        }
    })
}
