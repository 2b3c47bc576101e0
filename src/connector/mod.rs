//! The one trait every remote system is reached through. The engine only sees
//! `dyn Connector`; Linear (GraphQL), Canny and Fider (REST) implement it in
//! their own modules, each also offering its vendor-specific operations
//! directly.

pub mod canny;
pub mod fider;
mod fields;
pub mod linear;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use http::HeaderMap;

use crate::domain::{
    ChangeKind, ChangelogDraft, Comment, GroupState, NewRecord, QuotaSample, Record, ReleaseGroup,
    RemoteError, ShipInfo, Side, Update,
};

/// One page of records from a reconcile listing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangedPage {
    /// Records on this page, in the canonical form.
    pub records: Vec<Record>,
    /// Opaque cursor for the next page; `None` when this was the last page.
    pub next_page: Option<String>,
}

/// What a verified webhook tells the engine: which record may have changed.
/// Payload bodies are never trusted as the record's state; the engine re-reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryHint {
    /// The remote's delivery id (Linear-Delivery, Canny nonce); duplicates are
    /// dropped on this id.
    pub delivery_id: String,
    /// The vendor's event name (e.g. "Issue", "post.status_changed").
    pub event: String,
    /// The record (issue/post) the event is about, if the payload names one.
    pub record_id: Option<String>,
    /// True when the event says the record was removed.
    pub removed: bool,
    /// For an update that reports what it replaced (Linear's
    /// `updatedFrom`): the values before and after, as a small JSON object
    /// the connector's [`Connector::update_evidence`] reads back — never the
    /// whole body. `None` for everything else.
    pub evidence: Option<String>,
}

/// What a landed update reported back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// The record's update time after the write, when the remote reports
    /// it (Linear); its own webhook carries the same time, which is how that
    /// webhook is told apart from a person's edit.
    pub updated_at: Option<DateTime<Utc>>,
}

/// The previous values a webhook reports for an update (Linear's
/// `updatedFrom`), in record field names ("title", "description", "state",
/// "priority"): evidence of what a write replaced.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateEvidence {
    /// The record updated.
    pub record_id: String,
    /// Its update time after the change.
    pub updated_at: DateTime<Utc>,
    /// Fields the change replaced, with their values before it.
    pub previous: std::collections::BTreeMap<String, crate::domain::FieldValue>,
    /// The same fields' values after it (what the webhook's `data` holds).
    pub current: std::collections::BTreeMap<String, crate::domain::FieldValue>,
}

/// Why a webhook request was refused before anything was stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookRejection {
    /// A signature header was absent.
    #[error("missing signature header {0}")]
    MissingSignature(&'static str),
    /// The signature did not match.
    #[error("signature does not match")]
    BadSignature,
    /// The timestamp is outside the accepted window.
    #[error("timestamp outside the accepted window")]
    Stale,
    /// The nonce was seen before (replay).
    #[error("nonce already used")]
    Replayed,
    /// The body is not the JSON the vendor sends.
    #[error("malformed payload: {0}")]
    Malformed(String),
    /// A delivery authenticated by a shared secret came without it.
    #[error("missing shared secret")]
    MissingSecret,
    /// The shared secret did not match.
    #[error("shared secret does not match")]
    BadSecret,
}

/// For a remote whose webhooks announce only some changes and may switch
/// themselves off (Fider turns a webhook off after one failed delivery):
/// which webhook should have announced each kind of change reconcile finds,
/// so health can warn when one stays silent, and how to turn it back on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookWatch {
    /// The product's name for messages ("Fider").
    pub vendor: String,
    /// The event name a delivery of each webhook carries, per kind of
    /// change it announces; kinds not listed are never announced.
    pub events: Vec<(ChangeKind, &'static str)>,
    /// How long a change reconcile found may wait for its webhook's next
    /// delivery before health warns.
    pub grace: Duration,
    /// What to do about it, ending the warning.
    pub advice: String,
}

impl WebhookWatch {
    /// The webhook (event name) that announces changes of `kind`.
    pub fn event_for(&self, kind: ChangeKind) -> Option<&'static str> {
        self.events
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, e)| *e)
    }

    /// Whether `event` is one of the watched webhooks'.
    pub fn watches(&self, event: &str) -> bool {
        self.events.iter().any(|(_, e)| *e == event)
    }
}

/// What the routes ask a connector to cover besides its configuration:
/// the Linear teams and portal boards they name, so reconcile lists them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Linear team keys.
    pub teams: Vec<String>,
    /// Portal board names.
    pub boards: Vec<String>,
}

fn unsupported(side: Side, what: &str) -> RemoteError {
    RemoteError::new(
        crate::domain::ErrorClass::Validation,
        format!("{side} has no {what}"),
    )
}

/// A remote system roundtrip syncs with.
/// The longest window in which a vendor's signed delivery is accepted
/// again: Canny's 5-minute timestamp age plus 1 minute of clock skew
/// (Linear's is 60 s; Fider signs nothing and dates nothing, its deliveries
/// are only hints that are re-read).
pub fn longest_replay_window() -> Duration {
    let canny = canny::MAX_AGE + canny::MAX_FUTURE;
    let linear = Duration::from_millis(linear::webhook::MAX_SKEW_MS as u64);
    canny
        .to_std()
        .unwrap_or(Duration::from_secs(360))
        .max(linear)
}

#[async_trait]
pub trait Connector: Send + Sync {
    /// Which side of a link this connector serves.
    fn side(&self) -> Side;

    /// The name deliveries from this remote arrive under: the webhook
    /// route `/webhooks/<name>` and the `source` label of the metrics
    /// ("linear", "canny", "fider").
    fn webhook_source(&self) -> &'static str;

    /// Every address a link elsewhere (a Linear attachment) may use for the
    /// record at `url`, so adoption finds it by any of them: the bare URL,
    /// plus any other address the remote serves the same record at.
    fn url_forms(&self, url: &str) -> Vec<String> {
        vec![crate::sync::adopt::bare_url(url)]
    }

    /// List records changed since `since` (Linear filters by updatedAt; the
    /// portal, which has no update time, lists everything and the engine
    /// compares content hashes). `page` is the cursor from the previous call.
    async fn list_changed(
        &self,
        since: Option<DateTime<Utc>>,
        page: Option<String>,
    ) -> Result<ChangedPage, RemoteError>;

    /// Fetch one record with its comments. `Ok(None)` means the remote
    /// confirmed it does not exist (deleted), not a transient failure.
    async fn get(&self, remote_id: &str) -> Result<Option<Record>, RemoteError>;

    /// Create a record. Must be safe to retry with the same `client_id`.
    async fn create(&self, new: &NewRecord) -> Result<Record, RemoteError>;

    /// Whether [`Connector::create`] itself completes an earlier attempt
    /// with the same `client_id` (finding the record and finishing every
    /// step the interrupted attempt may have skipped), so a retry should call
    /// `create` again rather than [`Connector::find_created`].
    fn create_is_idempotent(&self) -> bool {
        false
    }

    /// Look for a record an earlier attempt of `create` may already have made
    /// (by client id or source URL), so a retry can complete instead of
    /// duplicating.
    async fn find_created(&self, new: &NewRecord) -> Result<Option<Record>, RemoteError>;

    /// The id the remote gave a create of `client_id` in this process, even
    /// if the create as a whole then failed (a later step did): the engine
    /// keeps it with the job so the retry finds the record by id. Remotes
    /// whose creates carry the client id themselves answer `None`.
    fn created_id(&self, _client_id: &uuid::Uuid) -> Option<String> {
        None
    }

    /// Read one record's fields for a write about to be sent, as cheaply as
    /// the remote allows (comments may be left out). `Ok(None)`: it is gone.
    async fn get_fields(&self, remote_id: &str) -> Result<Option<Record>, RemoteError> {
        self.get(remote_id).await
    }

    /// [`Connector::get_fields`] for several records, in as few requests as
    /// the remote allows; records that are gone are left out.
    async fn get_fields_many(&self, ids: &[String]) -> Result<Vec<Record>, RemoteError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(r) = self.get_fields(id).await? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Apply field updates to one record: `fields` replace values, `deltas`
    /// add and remove set members.
    async fn update(&self, remote_id: &str, update: &Update) -> Result<Written, RemoteError>;

    /// Apply several updates in as few requests as the remote allows. The
    /// outer error means the whole request failed; inner results are per item.
    async fn update_many(
        &self,
        items: &[(String, Update)],
    ) -> Result<Vec<Result<Written, RemoteError>>, RemoteError> {
        let mut out = Vec::with_capacity(items.len());
        for (id, update) in items {
            out.push(self.update(id, update).await);
        }
        Ok(out)
    }

    /// Delete (or trash/archive, as the remote calls it) one record.
    async fn delete(&self, remote_id: &str) -> Result<(), RemoteError>;

    /// Post a comment on a record.
    async fn add_comment(&self, remote_id: &str, body: &str) -> Result<Comment, RemoteError>;

    /// Post a comment carrying a client-chosen id where the remote takes one
    /// (Linear's `CommentCreateInput.id`), so a retry cannot post it twice.
    async fn add_comment_with_id(
        &self,
        remote_id: &str,
        body: &str,
        _client_id: uuid::Uuid,
    ) -> Result<Comment, RemoteError> {
        self.add_comment(remote_id, body).await
    }

    /// Find a comment an earlier attempt may have posted: by its client id,
    /// or (where the remote takes none) by its exact text.
    async fn find_comment(
        &self,
        remote_id: &str,
        client_id: uuid::Uuid,
        body: &str,
    ) -> Result<Option<Comment>, RemoteError> {
        let wanted = body.trim_end();
        let client = client_id.to_string();
        Ok(self.get(remote_id).await?.and_then(|r| {
            r.comments
                .into_iter()
                .find(|c| c.remote_id == client || c.body.trim_end() == wanted)
        }))
    }

    /// The part of `update` that a write of ours made to `remote_id` at or
    /// after `since`, by the remote's own record of changes (Linear's issue
    /// history). A retry after a lost answer asks first: a change that
    /// landed and was since undone by a person must not be made again.
    /// `Ok(None)`: this remote keeps no such record, so a write whose answer
    /// was lost cannot be told from one that never arrived.
    async fn landed_since(
        &self,
        _remote_id: &str,
        _since: DateTime<Utc>,
        _update: &Update,
    ) -> Result<Option<Update>, RemoteError> {
        Ok(None)
    }

    /// What a verified webhook body says an update replaced (Linear's
    /// `updatedFrom`); `None` for other events and for remotes that send no
    /// previous values (Canny).
    async fn update_evidence(&self, _body: &str) -> Option<UpdateEvidence> {
        None
    }

    /// Leave a note for the team on a record, somewhere customers never read
    /// (an internal comment on the portal; a comment on Linear, which only
    /// the workspace sees). `Ok(None)`: the remote has no such place, so
    /// nothing was posted — a note is never made public instead.
    async fn add_private_note(
        &self,
        _remote_id: &str,
        _body: &str,
    ) -> Result<Option<Comment>, RemoteError> {
        Ok(None)
    }

    /// Make every voter of `from` a voter of `to` as well (a duplicate's
    /// post closing in favour of the canonical one); returns how many were
    /// added. Must be safe to repeat: a voter already on `to` is never
    /// counted twice. Remotes without votes refuse it.
    async fn copy_voters(&self, _from: &str, _to: &str) -> Result<usize, RemoteError> {
        Err(RemoteError::new(
            crate::domain::ErrorClass::Validation,
            format!("{} records have no voters to copy", self.side()),
        ))
    }

    /// Records on this side that link to URLs starting with `prefix` (Linear
    /// issues carrying a portal post's URL as an attachment), as
    /// `(url, remote id)` pairs: how existing links are found and adopted.
    /// Remotes without such links answer none.
    async fn records_linking(&self, _prefix: &str) -> Result<Vec<(String, String)>, RemoteError> {
        Ok(Vec::new())
    }

    /// Cover what the active routes name (teams, boards) from now on.
    fn set_scope(&self, _scope: &Scope) {}

    /// Where a record shipped: the cycle and project (Linear).
    /// `Ok(None)`: it is gone. Remotes without them refuse it.
    async fn shipped_in(&self, _remote_id: &str) -> Result<Option<ShipInfo>, RemoteError> {
        Err(unsupported(self.side(), "cycles or projects"))
    }

    /// Whether a cycle or project has completed (Linear).
    async fn group_state(&self, _group: &ReleaseGroup) -> Result<GroupState, RemoteError> {
        Err(unsupported(self.side(), "cycles or projects"))
    }

    /// Publish a changelog entry linking the posts shipped together
    /// (portal); returns the entry's id. Must be safe to repeat after a
    /// lost answer: an entry an earlier attempt made is found, not made
    /// again. Portals without a changelog refuse it.
    async fn publish_changelog(&self, _entry: &ChangelogDraft) -> Result<String, RemoteError> {
        Err(unsupported(self.side(), "changelog"))
    }

    /// Verify a webhook request (signature, timestamp, replay) before anything
    /// is parsed or stored, and say which record it is about. A body that
    /// is not JSON must be refused as [`WebhookRejection::Malformed`]: the
    /// webhook server stores verified bodies without parsing them again.
    fn verify_webhook(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<DeliveryHint, WebhookRejection>;

    /// Verify a delivery that arrived at `/webhooks/<source>/<path>`: a
    /// remote that authenticates by a secret in the URL reads it from
    /// `path`. Remotes without one refuse every such request.
    fn verify_webhook_path(
        &self,
        _path: &str,
        _headers: &HeaderMap,
        _body: &[u8],
        _now: DateTime<Utc>,
    ) -> Result<DeliveryHint, WebhookRejection> {
        Err(WebhookRejection::BadSecret)
    }

    /// The remote's webhooks may miss changes or fall silent on their own
    /// (see [`WebhookWatch`]); `None` for remotes whose every change is
    /// announced and whose deliveries are retried.
    fn webhook_watch(&self) -> Option<WebhookWatch> {
        None
    }

    /// The webhook server could not accept a delivery this connector
    /// verified (the store refused it): forget anything `verify_webhook`
    /// recorded about it, so the sender's retry is not taken for a replay.
    fn delivery_not_accepted(&self, _hint: &DeliveryHint) {}

    /// Rate-limit readings from the most recent responses, drained by the
    /// engine into the store.
    fn take_quota_samples(&self) -> Vec<QuotaSample>;

    /// The same readings, each with the cost the remote charged for the
    /// request it came from (Linear's `X-Complexity`), so a budget can
    /// charge complexity per request. Remotes without such a header: `None`.
    fn take_quota_samples_with_cost(&self) -> Vec<(QuotaSample, Option<i64>)> {
        self.take_quota_samples()
            .into_iter()
            .map(|s| (s, None))
            .collect()
    }
}

/// `Retry-After` as seconds or an HTTP date; a date in the past is no wait.
pub(crate) fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let raw = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = DateTime::parse_from_rfc2822(raw).ok()?.with_timezone(&Utc);
    (when - now).to_std().ok().or(Some(Duration::ZERO))
}
