//! The in-process API: start a simulator on a port (0 = any free one), read
//! its state, make edits as a human in Linear would (which fire webhooks),
//! steer faults and quota, and read counters. Used by tests, the demo, the
//! benchmarks and `roundtrip sim`.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::engine::{Attribution, Credentials, Limits};
use super::error::SimError;
use super::model::{Comment, Issue, Time};
use super::oauth::{OAuthApp, OAuthState, OAuthStats};
use super::planning::{Cycle, Project, ProjectPatch};
use super::ratelimit::{Bucket, BucketView};
use super::seed::{ORG_ID, default_store, seed_id};
use super::server::{Counters, Shared, router};
use super::store::{IssueDraft, IssuePatch, Store, StoreError};
use super::webhooks::{Sender, WebhookSettings, WebhookStats};
use crate::sim::faults::{ApiFaults, Dice, WebhookFaults};

/// How to run a Linear simulator.
#[derive(Debug, Clone)]
pub struct LinearSimConfig {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Personal API key (`Authorization: <key>`).
    pub api_key: String,
    /// OAuth tokens (`Authorization: Bearer <token>`).
    pub access_tokens: Vec<String>,
    /// Webhook signing secret.
    pub webhook_secret: String,
    /// Where webhooks go; `None` = no webhooks.
    pub webhook_url: Option<String>,
    /// Injected API faults.
    pub faults: ApiFaults,
    /// Injected webhook faults.
    pub webhook_faults: WebhookFaults,
    /// Seed for every fault decision.
    pub seed: u64,
    /// Request budget per hour.
    pub requests_per_hour: u64,
    /// Complexity budget per hour.
    pub complexity_per_hour: u64,
    /// How long an empty budget takes to refill: an hour, as Linear; the
    /// demo compresses it so a quota burst recovers within seconds.
    pub quota_window: Duration,
    /// Delays before webhook retries (Linear: 1 min, 1 h, 6 h).
    pub webhook_retry_delays: Vec<Duration>,
    /// How long an injected timeout holds the answer.
    pub timeout_hold: Duration,
    /// HTTP status for AUTHENTICATION_ERROR (400 or 401; Linear shows both).
    pub auth_error_status: u16,
    /// The team's auto-archive period (`Team.autoArchivePeriod`): completed
    /// and canceled issues are archived by Linear itself after it. Linear's
    /// periods are months; tests shorten it to seconds. Zero disables it.
    pub auto_archive_period: Duration,
    /// How long after its project is completed or canceled a closed issue
    /// in it is archived (Linear: one month, whatever the team's period).
    pub project_archive_window: Duration,
    /// Client id of the simulated OAuth application.
    pub oauth_client_id: String,
    /// Client secret of the simulated OAuth application.
    pub oauth_client_secret: String,
    /// Callback URLs registered with the application.
    pub oauth_redirect_uris: Vec<String>,
    /// Lifetime of OAuth access tokens (Linear: 24 hours).
    pub token_ttl: Duration,
}

/// Where roundtrip's `auth linear` listens by default, registered with the
/// simulated application so the sandbox works without extra flags.
pub const DEFAULT_REDIRECT_URI: &str = "http://127.0.0.1:8789/callback";

impl Default for LinearSimConfig {
    fn default() -> Self {
        LinearSimConfig {
            port: 0,
            api_key: "lin_api_sim".into(),
            access_tokens: vec!["lin_oauth_sim".into()],
            webhook_secret: "lin_wh_sim".into(),
            webhook_url: None,
            faults: ApiFaults::default(),
            webhook_faults: WebhookFaults::default(),
            seed: 0,
            requests_per_hour: 2_500,
            complexity_per_hour: 3_000_000,
            quota_window: Duration::from_secs(3600),
            webhook_retry_delays: vec![
                Duration::from_secs(60),
                Duration::from_secs(3600),
                Duration::from_secs(6 * 3600),
            ],
            timeout_hold: Duration::from_secs(30),
            auth_error_status: 400,
            auto_archive_period: Duration::from_secs(6 * 30 * 86_400),
            project_archive_window: Duration::from_secs(30 * 86_400),
            oauth_client_id: "lin_oauth_client_sim".into(),
            oauth_client_secret: "lin_oauth_secret_sim".into(),
            oauth_redirect_uris: vec![DEFAULT_REDIRECT_URI.into()],
            token_ttl: Duration::from_secs(24 * 3600),
        }
    }
}

/// Counters of one simulator run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimCounters {
    /// POST /graphql received.
    pub requests: u64,
    /// RATELIMITED answers (budget or injected).
    pub rate_limited: u64,
    /// Injected 5xx answers.
    pub server_errors: u64,
    /// Injected timeouts.
    pub timeouts: u64,
    /// Requests refused with AUTHENTICATION_ERROR.
    pub auth_refused: u64,
    /// Webhook attempts answered 2xx.
    pub webhooks_delivered: u64,
    /// Webhook attempts that failed.
    pub webhooks_failed: u64,
    /// Webhooks dropped by the fault.
    pub webhooks_dropped: u64,
    /// Webhooks sent twice by the duplicate fault.
    pub webhooks_duplicated: u64,
    /// Webhooks given up after the last retry.
    pub webhooks_abandoned: u64,
    /// Executed mutations whose answer was lost.
    pub lost: u64,
    /// Answers replaced by a changed shape (the `drift` fault).
    pub drifted: u64,
}

/// A running Linear simulator.
pub struct LinearSim {
    shared: Arc<Shared>,
    settings: Arc<Mutex<WebhookSettings>>,
    stats: Arc<WebhookStats>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    sender: JoinHandle<()>,
    archiver: JoinHandle<()>,
}

/// The user scripted edits are made as (a human, not the API key's viewer).
pub const HUMAN_ID: u64 = 11;

impl LinearSim {
    /// Start serving on 127.0.0.1 with the default starting state.
    pub async fn start(cfg: LinearSimConfig) -> Result<LinearSim, SimError> {
        super::schema::schema()?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", cfg.port)).await?;
        let addr = listener.local_addr()?;
        let mut initial = default_store();
        let period =
            chrono::Duration::from_std(cfg.auto_archive_period).unwrap_or(chrono::Duration::zero());
        for t in &mut initial.teams {
            t.auto_archive_after = period;
        }
        initial.project_archive_after = chrono::Duration::from_std(cfg.project_archive_window)
            .unwrap_or_else(|_| super::planning::default_project_archive_window());
        let store = Arc::new(Mutex::new(initial));
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            store: store.clone(),
            limits: Mutex::new(Limits {
                requests: Bucket::with_window(cfg.requests_per_hour, cfg.quota_window),
                complexity: Bucket::with_window(cfg.complexity_per_hour, cfg.quota_window),
            }),
            creds: Credentials {
                api_key: cfg.api_key.clone(),
                access_tokens: cfg.access_tokens.clone(),
                auth_error_status: cfg.auth_error_status,
            },
            faults: Mutex::new(cfg.faults.clone()),
            timeout_hold: cfg.timeout_hold,
            dice: Dice::new(cfg.seed),
            counters: Counters::default(),
            changes: tx,
            oauth: Mutex::new(OAuthState::new(OAuthApp {
                client_id: cfg.oauth_client_id.clone(),
                client_secret: cfg.oauth_client_secret.clone(),
                redirect_uris: cfg.oauth_redirect_uris.clone(),
                token_ttl: cfg.token_ttl,
            })),
            attributions: Mutex::new(Vec::new()),
        });
        let settings = Arc::new(Mutex::new(WebhookSettings {
            url: cfg.webhook_url.clone(),
            secret: cfg.webhook_secret.clone(),
            retry_delays: cfg.webhook_retry_delays.clone(),
            faults: cfg.webhook_faults.clone(),
            webhook_id: seed_id(0x900),
            organization_id: ORG_ID.into(),
        }));
        let stats = Arc::new(WebhookStats::default());
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(|e| SimError::Client(e.to_string()))?;
        let sender = Sender {
            settings: settings.clone(),
            stats: stats.clone(),
            store,
            dice: Arc::new(Dice::new(cfg.seed.wrapping_add(1))),
            client,
        };
        let sender = tokio::spawn(sender.run(rx));
        let archiver = tokio::spawn(auto_archiver(
            shared.clone(),
            cfg.auto_archive_period,
            cfg.project_archive_window,
        ));
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let app = router(shared.clone());
        let server = tokio::spawn(async move {
            let res = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop_rx.await;
                })
                .await;
            if let Err(e) = res {
                tracing::warn!("linear simulator stopped: {e}");
            }
        });
        Ok(LinearSim {
            shared,
            settings,
            stats,
            addr,
            stop: Some(stop_tx),
            server: Some(server),
            sender,
            archiver,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:P/graphql`.
    pub fn graphql_url(&self) -> String {
        format!("http://{}/graphql", self.addr)
    }

    /// The accepted personal API key.
    pub fn api_key(&self) -> &str {
        &self.shared.creds.api_key
    }

    /// The webhook signing secret.
    pub fn webhook_secret(&self) -> String {
        self.lock_settings().secret.clone()
    }

    /// Sign webhooks with a new secret from now on (retries of earlier
    /// deliveries too), as `webhookRotateSecret` does in Linear.
    pub fn set_webhook_secret(&self, secret: &str) {
        self.lock_settings().secret = secret.to_string();
    }

    fn lock_oauth(&self) -> std::sync::MutexGuard<'_, OAuthState> {
        self.shared.oauth.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `http://127.0.0.1:P/oauth/authorize` (Linear: linear.app).
    pub fn oauth_authorize_url(&self) -> String {
        format!("http://{}/oauth/authorize", self.addr)
    }

    /// `http://127.0.0.1:P/oauth/token` (Linear: api.linear.app).
    pub fn oauth_token_url(&self) -> String {
        format!("http://{}/oauth/token", self.addr)
    }

    /// `http://127.0.0.1:P/oauth/revoke`.
    pub fn oauth_revoke_url(&self) -> String {
        format!("http://{}/oauth/revoke", self.addr)
    }

    /// The OAuth application's client id.
    pub fn oauth_client_id(&self) -> String {
        self.lock_oauth().app().client_id.clone()
    }

    /// The OAuth application's client secret.
    pub fn oauth_client_secret(&self) -> String {
        self.lock_oauth().app().client_secret.clone()
    }

    /// Register another callback URL with the OAuth application.
    pub fn register_redirect_uri(&self, uri: &str) {
        self.lock_oauth().register_redirect_uri(uri);
    }

    /// Change the lifetime of access tokens issued from now on.
    pub fn set_token_ttl(&self, ttl: Duration) {
        self.lock_oauth().set_token_ttl(ttl);
    }

    /// Expire every access token issued so far (refresh tokens stay valid).
    pub fn expire_access_tokens(&self) {
        self.lock_oauth().expire_access_tokens();
    }

    /// Revoke every OAuth grant, as removing the application from the
    /// workspace does.
    pub fn revoke_oauth_grants(&self) {
        self.lock_oauth().revoke_all();
    }

    /// Counters of the OAuth endpoints.
    pub fn oauth_stats(&self) -> OAuthStats {
        self.lock_oauth().stats()
    }

    /// Comments and attachments created with `createAsUser`, oldest first.
    pub fn attributions(&self) -> Vec<Attribution> {
        self.shared
            .attributions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Stop serving and wait for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self.sender.abort();
        self.archiver.abort();
    }

    fn lock_settings(&self) -> std::sync::MutexGuard<'_, WebhookSettings> {
        self.settings.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Read the state under the lock (keep the closure short).
    pub fn read<R>(&self, f: impl FnOnce(&Store) -> R) -> R {
        let s = self.shared.store.lock().unwrap_or_else(|p| p.into_inner());
        f(&s)
    }

    pub(super) fn write<R>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<R, StoreError>,
    ) -> Result<R, SimError> {
        let (r, changes) = {
            let mut s = self.shared.store.lock().unwrap_or_else(|p| p.into_inner());
            let r = f(&mut s);
            (r, std::mem::take(&mut s.pending))
        };
        self.shared.publish(changes);
        r.map_err(|e| SimError::NotFound(e.to_string()))
    }

    /// Every issue, archived and trashed included, in creation order.
    pub fn issues(&self) -> Vec<Issue> {
        self.read(|s| s.issues.clone())
    }

    /// One issue by UUID or identifier.
    pub fn issue(&self, id: &str) -> Option<Issue> {
        self.read(|s| s.issue(id).cloned())
    }

    /// Comments of an issue, oldest first.
    pub fn comments(&self, issue_id: &str) -> Vec<Comment> {
        self.read(|s| {
            let uuid = s.issue(issue_id).map(|i| i.id.clone()).unwrap_or_default();
            s.comments
                .iter()
                .filter(|c| c.issue_id == uuid)
                .cloned()
                .collect()
        })
    }

    pub(super) fn human() -> Option<String> {
        Some(seed_id(HUMAN_ID))
    }

    /// Team ENG, where scripted edits happen.
    fn first_team(s: &Store) -> Result<String, StoreError> {
        s.teams
            .first()
            .map(|t| t.id.clone())
            .ok_or(StoreError::NotFound("Team"))
    }

    fn state_id(s: &Store, issue_team: &str, name: &str) -> Result<String, StoreError> {
        s.state_named(issue_team, name)
            .map(|st| st.id.clone())
            .ok_or(StoreError::NotFound("WorkflowState"))
    }

    /// A human creates an issue in team ENG in the named state.
    pub fn create_issue(
        &self,
        title: &str,
        description: Option<&str>,
        state_name: &str,
    ) -> Result<Issue, SimError> {
        self.write(|s| {
            let team = Self::first_team(s)?;
            let state_id = Self::state_id(s, &team, state_name)?;
            s.create_issue(
                IssueDraft {
                    team_id: team,
                    title: title.into(),
                    description: description.map(str::to_string),
                    state_id: Some(state_id),
                    ..IssueDraft::default()
                },
                Self::human(),
            )
        })
    }

    pub(super) fn patch(
        &self,
        id: &str,
        f: impl FnOnce(&Store, &Issue) -> Result<IssuePatch, StoreError>,
    ) -> Result<Issue, SimError> {
        self.write(|s| {
            let issue = s.issue(id).cloned().ok_or(StoreError::NotFound("Issue"))?;
            let p = f(s, &issue)?;
            s.update_issue(id, p, Self::human())
        })
    }

    /// A human moves an issue to the named state (or first state of that type).
    pub fn set_state(&self, id: &str, state_name: &str) -> Result<Issue, SimError> {
        self.patch(id, |s, i| {
            Ok(IssuePatch {
                state_id: Some(Self::state_id(s, &i.team_id, state_name)?),
                ..IssuePatch::default()
            })
        })
    }

    /// A human retitles an issue.
    pub fn set_title(&self, id: &str, title: &str) -> Result<Issue, SimError> {
        self.patch(id, |_, _| {
            Ok(IssuePatch {
                title: Some(title.into()),
                ..IssuePatch::default()
            })
        })
    }

    /// A human rewrites an issue's description.
    pub fn set_description(&self, id: &str, description: Option<&str>) -> Result<Issue, SimError> {
        self.patch(id, |_, _| {
            Ok(IssuePatch {
                description: Some(description.map(str::to_string)),
                ..IssuePatch::default()
            })
        })
    }

    /// A human sets an issue's labels by name (unknown names are refused).
    pub fn set_labels(&self, id: &str, names: &[&str]) -> Result<Issue, SimError> {
        self.patch(id, |s, _| {
            let ids = names
                .iter()
                .map(|n| {
                    s.labels
                        .iter()
                        .find(|l| l.name.eq_ignore_ascii_case(n))
                        .map(|l| l.id.clone())
                        .ok_or(StoreError::NotFound("IssueLabel"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(IssuePatch {
                label_ids: Some(ids),
                ..IssuePatch::default()
            })
        })
    }

    /// A human adds one label (clicking it in Linear's label menu: the
    /// change is `addedLabelIds`, other labels stay as they are).
    pub fn add_label(&self, id: &str, name: &str) -> Result<Issue, SimError> {
        self.label_change(id, name, true)
    }

    /// A human removes one label (`removedLabelIds`).
    pub fn remove_label(&self, id: &str, name: &str) -> Result<Issue, SimError> {
        self.label_change(id, name, false)
    }

    fn label_change(&self, id: &str, name: &str, add: bool) -> Result<Issue, SimError> {
        self.patch(id, |s, _| {
            let label = s
                .labels
                .iter()
                .find(|l| l.name.eq_ignore_ascii_case(name))
                .map(|l| l.id.clone())
                .ok_or(StoreError::NotFound("IssueLabel"))?;
            Ok(if add {
                IssuePatch {
                    added_label_ids: vec![label],
                    ..IssuePatch::default()
                }
            } else {
                IssuePatch {
                    removed_label_ids: vec![label],
                    ..IssuePatch::default()
                }
            })
        })
    }

    /// A human comments on an issue.
    pub fn add_comment(&self, id: &str, body: &str) -> Result<Comment, SimError> {
        self.write(|s| s.create_comment(id, body.into(), None, Self::human()))
    }

    /// A human archives an issue.
    pub fn archive(&self, id: &str) -> Result<Issue, SimError> {
        self.write(|s| s.archive_issue(id, false, false, Self::human()))
    }

    /// A human deletes an issue (into the trash, as Linear does).
    pub fn delete(&self, id: &str) -> Result<Issue, SimError> {
        self.write(|s| s.archive_issue(id, true, false, Self::human()))
    }

    /// Deleted for good: after the 30-day trash period, `issue(id)` answers
    /// "Entity not found".
    pub fn delete_permanently(&self, id: &str) -> Result<Issue, SimError> {
        self.write(|s| s.archive_issue(id, true, true, Self::human()))
    }

    /// A human restores an archived or trashed issue.
    pub fn unarchive(&self, id: &str) -> Result<Issue, SimError> {
        self.write(|s| s.unarchive_issue(id, Self::human()))
    }

    /// A human marks `duplicate` a duplicate of `canonical`: the duplicate's
    /// attachments move to the canonical issue and it is canceled.
    pub fn mark_duplicate(&self, duplicate: &str, canonical: &str) -> Result<(), SimError> {
        self.write(|s| {
            s.create_relation(duplicate, canonical, "duplicate", Self::human())
                .map(|_| ())
        })
    }

    /// A human (or another integration) attaches a URL to an issue.
    pub fn attach_url(&self, id: &str, url: &str, title: &str) -> Result<(), SimError> {
        self.write(|s| {
            s.upsert_attachment(
                id,
                url.into(),
                Some(title.into()),
                None,
                None,
                Self::human(),
            )
            .map(|_| ())
        })
    }

    /// A human creates a project for team ENG (in the Backlog status).
    pub fn create_project(&self, name: &str) -> Result<Project, SimError> {
        self.write(|s| {
            let team = Self::first_team(s)?;
            s.create_project(name.into(), vec![team], None, None, Self::human())
        })
    }

    /// A human moves a project to the named status (or first of that type),
    /// e.g. "Completed".
    pub fn set_project_status(&self, id: &str, status: &str) -> Result<Project, SimError> {
        self.write(|s| {
            let status_id = s
                .project_status_named(status)
                .map(|st| st.id.clone())
                .ok_or(StoreError::NotFound("ProjectStatus"))?;
            s.update_project(
                id,
                ProjectPatch {
                    status_id: Some(status_id),
                    ..ProjectPatch::default()
                },
                Self::human(),
            )
        })
    }

    /// A human archives a project, and with it its issues.
    pub fn archive_project(&self, id: &str) -> Result<Project, SimError> {
        self.write(|s| s.archive_project(id, false, Self::human()))
    }

    /// A human restores a project, and the issues archived with it.
    pub fn unarchive_project(&self, id: &str) -> Result<Project, SimError> {
        self.write(|s| s.unarchive_project(id, Self::human()))
    }

    /// A project by id.
    pub fn project(&self, id: &str) -> Option<Project> {
        self.read(|s| s.project(id).cloned())
    }

    /// A human creates a cycle of team ENG running from `starts_at` to
    /// `ends_at`.
    pub fn create_cycle(&self, starts_at: Time, ends_at: Time) -> Result<Cycle, SimError> {
        self.write(|s| {
            let team = Self::first_team(s)?;
            s.create_cycle(&team, starts_at, ends_at, None, Self::human())
        })
    }

    /// A human moves a cycle's end (to now, say, to end it at once: it
    /// completes at the auto-archive's next tick).
    pub fn set_cycle_end(&self, id: &str, ends_at: Time) -> Result<Cycle, SimError> {
        self.write(|s| s.update_cycle(id, None, Some(ends_at), Self::human()))
    }

    /// A human archives a cycle (its issues are unlinked from it first).
    pub fn archive_cycle(&self, id: &str) -> Result<Cycle, SimError> {
        self.write(|s| s.archive_cycle(id, Self::human()))
    }

    /// A cycle by id.
    pub fn cycle(&self, id: &str) -> Option<Cycle> {
        self.read(|s| s.cycle(id).cloned())
    }

    /// A human puts an issue in a project (`None`: out of its project).
    pub fn set_project(&self, issue: &str, project: Option<&str>) -> Result<Issue, SimError> {
        self.patch(issue, |_, _| {
            Ok(IssuePatch {
                project_id: Some(project.map(str::to_string)),
                ..IssuePatch::default()
            })
        })
    }

    /// A human puts an issue in a cycle (`None`: out of its cycle).
    pub fn set_cycle(&self, issue: &str, cycle: Option<&str>) -> Result<Issue, SimError> {
        self.patch(issue, |_, _| {
            Ok(IssuePatch {
                cycle_id: Some(cycle.map(str::to_string)),
                ..IssuePatch::default()
            })
        })
    }

    /// Run the team's auto-archive now (it also runs on its own, a few
    /// times per period); returns how many issues it archived.
    pub fn run_auto_archive(&self) -> usize {
        let (n, changes) = {
            let mut s = self.shared.store.lock().unwrap_or_else(|p| p.into_inner());
            let n = s.auto_archive();
            (n, std::mem::take(&mut s.pending))
        };
        self.shared.publish(changes);
        n
    }

    /// Replace the API faults.
    pub fn set_faults(&self, faults: ApiFaults) {
        *self.shared.faults.lock().unwrap_or_else(|p| p.into_inner()) = faults;
    }

    /// Replace the webhook faults.
    pub fn set_webhook_faults(&self, faults: WebhookFaults) {
        self.lock_settings().faults = faults;
    }

    /// Point webhooks somewhere else (or turn them off).
    pub fn set_webhook_url(&self, url: Option<String>) {
        self.lock_settings().url = url;
    }

    /// Empty both budgets at once, as a burst of traffic would.
    pub fn exhaust_quota(&self) {
        let mut l = self.shared.limits.lock().unwrap_or_else(|p| p.into_inner());
        l.requests.exhaust();
        l.complexity.exhaust();
    }

    /// Set what is left of each budget (clamped to the limits).
    pub fn set_quota(&self, requests: u64, complexity: u64) {
        let mut l = self.shared.limits.lock().unwrap_or_else(|p| p.into_inner());
        l.requests.set_remaining(requests);
        l.complexity.set_remaining(complexity);
    }

    /// The budgets now: (requests, complexity).
    pub fn quota(&self) -> (BucketView, BucketView) {
        super::engine::views(&self.shared.limits)
    }

    /// Every field change and comment so far, in the order shared with the
    /// Canny simulator (see [`crate::sim::journal`]).
    pub fn journal(&self) -> Vec<crate::sim::journal::JournalEntry> {
        self.read(|s| s.journal.clone()).entries()
    }

    /// The `Linear-Delivery` ids of the webhooks the receiver acknowledged
    /// with 2xx, in order (see [`crate::sim::acks`]).
    pub fn acknowledged_deliveries(&self) -> Vec<String> {
        self.stats.acknowledged.ids()
    }

    /// Requests received for one GraphQL operation name (e.g.
    /// `RoundtripCommentCreate`), counted as they arrive.
    pub fn requests_to(&self, operation: &str) -> u64 {
        self.shared
            .counters
            .by_operation
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// Lose the answers to the next `n` requests of one operation: each is
    /// executed, but its answer is held past the client's timeout (what a
    /// dropped connection does to a write that already happened).
    pub fn lose_next_answers(&self, operation: &str, n: u32) {
        self.shared
            .counters
            .lose_answers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(operation.to_string(), n);
    }

    /// Request and webhook counters.
    pub fn counters(&self) -> SimCounters {
        let c = &self.shared.counters;
        let w = &self.stats;
        SimCounters {
            requests: c.requests.load(Ordering::Relaxed),
            rate_limited: c.rate_limited.load(Ordering::Relaxed),
            server_errors: c.server_errors.load(Ordering::Relaxed),
            timeouts: c.timeouts.load(Ordering::Relaxed),
            auth_refused: c.auth_refused.load(Ordering::Relaxed),
            webhooks_delivered: w.delivered.load(Ordering::Relaxed),
            webhooks_failed: w.failed.load(Ordering::Relaxed),
            webhooks_dropped: w.dropped.load(Ordering::Relaxed),
            webhooks_duplicated: w.duplicated.load(Ordering::Relaxed),
            webhooks_abandoned: w.abandoned.load(Ordering::Relaxed),
            lost: c.lost.load(Ordering::Relaxed),
            drifted: c.drifted.load(Ordering::Relaxed),
        }
    }
}

/// Complete ended cycles and archive due issues a few times per
/// auto-archive period or project window (at least every second), as
/// Linear's own background jobs do.
async fn auto_archiver(shared: Arc<Shared>, period: Duration, project_window: Duration) {
    let shortest = [period, project_window]
        .into_iter()
        .filter(|d| !d.is_zero())
        .min()
        .unwrap_or(Duration::from_secs(4));
    let tick = (shortest / 4).clamp(Duration::from_millis(20), Duration::from_secs(1));
    loop {
        tokio::time::sleep(tick).await;
        let changes = {
            let mut s = shared.store.lock().unwrap_or_else(|p| p.into_inner());
            s.auto_archive();
            std::mem::take(&mut s.pending)
        };
        shared.publish(changes);
    }
}

/// Run a simulator until `until` completes (for `roundtrip sim`): the caller
/// gets the running handle through `on_start` (to print URLs) first.
pub async fn serve(
    cfg: LinearSimConfig,
    on_start: impl FnOnce(&LinearSim),
    until: impl std::future::Future<Output = ()>,
) -> Result<(), SimError> {
    let sim = LinearSim::start(cfg).await?;
    on_start(&sim);
    until.await;
    sim.shutdown().await;
    Ok(())
}
