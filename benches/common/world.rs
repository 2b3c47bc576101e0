//! Both simulators, both connectors and a store on loopback, with many
//! linked pairs already in sync (seeded in-process, then listed once through
//! the real connectors so the store holds exactly what the APIs return).
//! Copied in spirit from `tests/support/harness.rs`; benches do not import
//! from tests.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use roundtrip::connector::canny::{CannyConfig, CannyConnector};
use roundtrip::connector::linear::{LinearConfig, LinearConnector};
use roundtrip::domain::Side;
use roundtrip::engine::{Connectors, Engine, EngineOptions, Rules};
use roundtrip::sim::canny::{CannySim, CannySimConfig};
use roundtrip::sim::linear::{LinearSim, LinearSimConfig};
use roundtrip::store::{OpenMode, SeedLink, Store, StoreError, Writer, now_ms};
use roundtrip::sync::{
    CreateRule, DeletePolicy, Mapping, MassDeleteGuard, PortalCreateOptions, agreed_snapshot,
};

/// Simulators, connectors and a store path.
pub struct World {
    pub linear: LinearSim,
    pub canny: CannySim,
    pub linear_conn: Arc<LinearConnector>,
    pub canny_conn: Arc<CannyConnector>,
    pub store_path: PathBuf,
    /// The store: `store_path`, or a fresh PostgreSQL database when
    /// `ROUNDTRIP_BENCH_PG_URL` is set.
    pub store: super::pg::BenchStore,
    _dir: tempfile::TempDir,
}

/// Engine options for benches: nothing is created on either side (the
/// pairs are linked up front), reconcile only when asked.
pub fn options() -> EngineOptions {
    EngineOptions {
        rules: Rules {
            default_team: "ENG".into(),
            create_in_linear: CreateRule {
                status: Vec::new(),
                tags: Vec::new(),
            },
            create_in_portal: PortalCreateOptions::default(),
            delete_policy: DeletePolicy::Unlink,
            guard: MassDeleteGuard::default(),
        },
        reconcile_interval: Duration::from_secs(3600),
        max_attempts: 8,
        live_reserve: 0.2,
        portal: roundtrip::domain::PortalKind::Canny,
        tick: Duration::from_millis(100),
        replica: Default::default(),
    }
}

impl World {
    /// Start both simulators (no webhooks yet) with honest, roomy quotas.
    pub async fn start(canny_page_size: usize, linear_requests_per_hour: u64) -> World {
        let linear = LinearSim::start(LinearSimConfig {
            requests_per_hour: linear_requests_per_hour,
            complexity_per_hour: 1_000_000_000_000,
            webhook_retry_delays: vec![Duration::from_millis(200), Duration::from_millis(500)],
            ..LinearSimConfig::default()
        })
        .await
        .expect("linear sim");
        let canny = CannySim::start(CannySimConfig::default())
            .await
            .expect("canny sim");
        let mut lc = LinearConfig::new(linear.api_key(), "ENG", linear.webhook_secret());
        lc.api_url = linear.graphql_url();
        let linear_conn = Arc::new(LinearConnector::new(lc).expect("linear connector"));
        let mut cc = CannyConfig::new(canny.base_url(), canny.api_key(), "Feature Requests");
        cc.page_size = canny_page_size;
        let canny_conn = Arc::new(CannyConnector::new(cc).expect("canny connector"));
        let dir = tempfile::tempdir_in(std::env::temp_dir()).expect("tempdir");
        let store_path = dir.path().join("rt.db");
        let store = super::pg::bench_store("rt", dir.path());
        World {
            linear,
            canny,
            linear_conn,
            canny_conn,
            store_path,
            store,
            _dir: dir,
        }
    }

    pub fn connectors(&self) -> Connectors {
        Connectors {
            linear: self.linear_conn.clone(),
            portal: self.canny_conn.clone(),
        }
    }

    /// Create `n` posts and `n` matching issues in-process (no webhooks),
    /// store both sides through one reconcile pass, then link them pairwise
    /// with the base snapshot both sides agree on. Returns (post id, issue
    /// id) pairs. The writer is closed and joined before returning.
    pub async fn seed_linked(&self, n: usize) -> Vec<(String, String)> {
        for i in 0..n {
            let title = format!("Bench request #{i}");
            let details = format!("Customers asked for item {i}.");
            self.canny
                .create_post(&title, &details)
                .expect("seed canny post");
            self.linear
                .create_issue(&title, Some(&details), "Triage")
                .expect("seed linear issue");
        }
        let (writer, thread) =
            Writer::spawn(self.store.location.open(OpenMode::Create).expect("store"))
                .expect("writer");
        let engine = Engine::new(writer.clone(), self.connectors(), options(), None)
            .await
            .expect("engine");
        engine.reconcile_once().await.expect("seeding reconcile");
        let pairs = writer
            .run(move |db| {
                let by_title = |side: Side| -> Result<HashMap<String, _>, StoreError> {
                    let mut m = HashMap::new();
                    for id in db.live_record_ids(side)? {
                        if let Some(r) = db.record(side, &id)? {
                            m.insert(r.record.title.clone(), r.record);
                        }
                    }
                    Ok(m)
                };
                let portal = by_title(Side::Portal)?;
                let linear = by_title(Side::Linear)?;
                let mapping = Mapping::default_canny_linear();
                let now = now_ms();
                let mut pairs = Vec::new();
                let mut seeds = Vec::new();
                for i in 0..n {
                    let title = format!("Bench request #{i}");
                    let (Some(p), Some(l)) = (portal.get(&title), linear.get(&title)) else {
                        continue;
                    };
                    let base: BTreeMap<_, _> =
                        agreed_snapshot(&mapping, p, l).into_iter().collect();
                    pairs.push((p.remote_id.clone(), l.remote_id.clone()));
                    seeds.push(SeedLink {
                        portal_id: Some(p.remote_id.clone()),
                        linear_id: Some(l.remote_id.clone()),
                        title,
                        base,
                        at: now,
                    });
                }
                db.bulk_links(seeds)?;
                Ok(pairs)
            })
            .await
            .expect("link pairs");
        assert_eq!(pairs.len(), n, "every seeded pair was listed and linked");
        drop(engine);
        writer.close();
        drop(writer);
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .expect("join")
            .expect("writer");
        pairs
    }

    /// Open the store read-only.
    pub fn store(&self) -> Store {
        self.store.location.open(OpenMode::ReadOnly).expect("store")
    }
}

impl World {
    /// One portal record through the connector (must exist).
    pub async fn canny_conn_get(&self, id: &str) -> roundtrip::domain::Record {
        use roundtrip::connector::Connector;
        self.canny_conn
            .get(id)
            .await
            .expect("canny get")
            .expect("post exists")
    }

    /// One Linear record through the connector (must exist).
    pub async fn linear_conn_get(&self, id: &str) -> roundtrip::domain::Record {
        use roundtrip::connector::Connector;
        self.linear_conn
            .get(id)
            .await
            .expect("linear get")
            .expect("issue exists")
    }
}
