//! Applying adoption (see `sync::adopt`): on the engine's first reconcile,
//! for `roundtrip adopt`, and whenever a post arrives that the portal's own
//! Linear integration already links to an issue roundtrip knows. An adopted
//! pair is linked with a base of only the values both sides agree on and merged at
//! once, so each field's policy decides the rest (Linear's status flows to the
//! post; a title they disagree on becomes a conflict) — nothing is created.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::{Actor, AuditAction, Record, RemoteError, Side};
use crate::store::{Db, Lane, Level, LinkState, NewAudit, Result as StoreResult, Window};
use crate::sync::adopt::url_prefix;
use crate::sync::{AdoptPair, AdoptPlan, agreed_snapshot, plan_adoption};

use super::link_sync::{Applied, MergeSettings, sync_link};
use super::{Connectors, Engine, EngineError};

/// What an adoption pass did (or, dry, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AdoptReport {
    /// The plan: pairs and skipped candidates with reasons.
    pub plan: AdoptPlan,
    /// Pairs actually linked (0 on a dry run).
    pub linked: usize,
    /// Jobs the first merge of the new links planned.
    pub jobs: usize,
}

/// Link one planned pair in the store (both records already stored) and
/// merge it; the audit entry names `actor` (the engine on its own, the
/// operator for `roundtrip adopt`). `None` when either side got a link
/// meanwhile.
pub fn link_pair(
    db: Db<'_>,
    merge: &MergeSettings,
    pair: &AdoptPair,
    actor: Actor,
    now: DateTime<Utc>,
) -> StoreResult<Option<(i64, Applied)>> {
    if db.link_by_remote(Side::Portal, &pair.portal_id)?.is_some()
        || db.link_by_remote(Side::Linear, &pair.linear_id)?.is_some()
    {
        return Ok(None);
    }
    let (Some(portal), Some(linear)) = (
        db.record(Side::Portal, &pair.portal_id)?,
        db.record(Side::Linear, &pair.linear_id)?,
    ) else {
        return Ok(None);
    };
    let base = agreed_snapshot(&merge.mapping, &portal.record, &linear.record);
    let id = db.insert_link(
        Some(&pair.portal_id),
        Some(&pair.linear_id),
        None,
        LinkState::Active,
        &pair.title,
        &base,
    )?;
    let reason = format!(
        "adopted an existing link: {} (nothing was created)",
        pair.why()
    );
    db.append_audit(&NewAudit {
        link_id: Some(id),
        reason: reason.clone(),
        ..NewAudit::new(actor, AuditAction::Adopt)
    })?;
    db.log_event(
        Level::Info,
        "adopt",
        &format!(
            "linked post '{}' and {}: {reason}",
            pair.title,
            pair.linear_key.as_deref().unwrap_or(&pair.linear_id)
        ),
    )?;
    let Some(link) = db.link(id)? else {
        return Ok(Some((id, Applied::default())));
    };
    let mut histories = Default::default();
    let applied = sync_link(db, merge, &mut histories, &link, Lane::Backfill, now)?;
    Ok(Some((id, applied)))
}

/// A post that arrives unlinked but already names its issue through the
/// portal's own Linear integration is adopted, never given a new issue.
/// `Some` when the record was handled here (linked, or left alone because its issue is
/// elsewhere), `None` to go on with the creation rules.
pub fn adopt_native_link(
    db: Db<'_>,
    merge: &MergeSettings,
    side: Side,
    record: &Record,
    now: DateTime<Utc>,
) -> StoreResult<Option<Applied>> {
    if side != Side::Portal || record.linked_ids.is_empty() {
        return Ok(None);
    }
    let mut issues = Vec::new();
    for key in &record.linked_ids {
        if let Some(id) = db.record_id_by_key(Side::Linear, key)?
            && let Some(stored) = db.record(Side::Linear, &id)?
        {
            issues.push(stored.record);
        }
    }
    let bare = |url: &str| vec![crate::sync::adopt::bare_url(url)];
    let plan = plan_adoption(std::slice::from_ref(record), &issues, &[], bare, |s, id| {
        db.link_by_remote(s, id).ok().flatten().is_some()
    });
    if let Some(pair) = plan.pairs.first() {
        let linked = link_pair(db, merge, pair, Actor::Engine, now)?;
        return Ok(Some(linked.map(|(_, a)| a).unwrap_or_default()));
    }
    let why = plan.skipped.first().map_or_else(
        || {
            format!(
                "the portal links it to {}, which roundtrip has not read",
                record.linked_ids.join(", ")
            )
        },
        |s| s.why.clone(),
    );
    db.log_event(
        Level::Info,
        "adopt",
        &format!(
            "post '{}' is linked by the portal's own Linear integration; not creating an issue: {why}",
            record.title
        ),
    )?;
    Ok(Some(Applied::default()))
}

/// Every live stored record of one side.
fn stored(db: Db<'_>, side: Side) -> StoreResult<Vec<Record>> {
    let mut out = Vec::new();
    let mut window = Window::first(2_000);
    loop {
        let page = db.records(side, window)?;
        let Some(last) = page.last().map(|r| r.id) else {
            return Ok(out);
        };
        out.extend(
            page.into_iter()
                .filter(|r| r.deleted_at.is_none())
                .map(|r| r.record),
        );
        window = Window::first(2_000).after(last);
    }
}

/// The `(url, issue id)` attachments Linear has for the portal's post URLs.
async fn attachments(
    connectors: &Connectors,
    posts: &[Record],
) -> Result<Vec<(String, String)>, RemoteError> {
    let mut prefixes: Vec<String> = posts
        .iter()
        .filter_map(|p| p.url.as_deref().and_then(url_prefix))
        .collect();
    prefixes.sort();
    prefixes.dedup();
    let mut out = Vec::new();
    for prefix in prefixes {
        out.extend(connectors.linear.records_linking(&prefix).await?);
    }
    Ok(out)
}

/// Read every record of one side through its connector (a full listing).
async fn list_all(connectors: &Connectors, side: Side) -> Result<Vec<Record>, RemoteError> {
    let conn = connectors.side(side);
    let mut out = Vec::new();
    let mut page = None;
    loop {
        let p = conn.list_changed(None, page).await?;
        out.extend(p.records);
        match p.next_page {
            Some(next) => page = Some(next),
            None => return Ok(out),
        }
    }
}

/// `roundtrip adopt`'s reading step: both sides listed live and Linear's
/// attachments for the portal's URLs, planned against the links in `db`.
pub async fn plan_live(
    connectors: &Connectors,
    linked: impl Fn(Side, &str) -> bool,
) -> Result<(AdoptPlan, Vec<Record>, Vec<Record>), RemoteError> {
    let posts = list_all(connectors, Side::Portal).await?;
    let issues = list_all(connectors, Side::Linear).await?;
    let att = attachments(connectors, &posts).await?;
    let forms = |url: &str| connectors.portal.url_forms(url);
    let plan = plan_adoption(&posts, &issues, &att, forms, linked);
    Ok((plan, posts, issues))
}

impl Engine {
    /// Adopt existing links among the records already in the store (the
    /// first reconcile has just listed both sides). `dry_run` only plans.
    pub async fn adopt_stored(&self, dry_run: bool) -> Result<AdoptReport, EngineError> {
        let (posts, issues, links) = self
            .inner
            .writer
            .run(|db| {
                let posts = stored(db, Side::Portal)?;
                let issues = stored(db, Side::Linear)?;
                let mut links = std::collections::HashSet::new();
                for p in &posts {
                    if db.link_by_remote(Side::Portal, &p.remote_id)?.is_some() {
                        links.insert((Side::Portal, p.remote_id.clone()));
                    }
                }
                for i in &issues {
                    if db.link_by_remote(Side::Linear, &i.remote_id)?.is_some() {
                        links.insert((Side::Linear, i.remote_id.clone()));
                    }
                }
                Ok((posts, issues, links))
            })
            .await?;
        let connectors = self.inner.connectors.clone();
        let candidates: Vec<Record> = posts
            .iter()
            .filter(|p| !links.contains(&(Side::Portal, p.remote_id.clone())))
            .cloned()
            .collect();
        let att = self
            .call(Side::Linear, Lane::Backfill, || async {
                attachments(&connectors, &candidates).await
            })
            .await?;
        let forms = |url: &str| connectors.portal.url_forms(url);
        let plan = plan_adoption(&candidates, &issues, &att, forms, |s, id| {
            links.contains(&(s, id.to_string()))
        });
        if dry_run || plan.pairs.is_empty() {
            return Ok(AdoptReport {
                plan,
                ..AdoptReport::default()
            });
        }
        let pairs = plan.pairs.clone();
        let merge = self.merge_settings();
        let now = Utc::now();
        let (linked, jobs) = self
            .inner
            .writer
            .run(move |db| {
                let (mut linked, mut jobs) = (0, 0);
                for pair in &pairs {
                    if let Some((_, a)) = link_pair(db, &merge, pair, Actor::Engine, now)? {
                        linked += 1;
                        jobs += a.jobs;
                    }
                }
                Ok((linked, jobs))
            })
            .await?;
        if jobs > 0 {
            self.inner.scheduler.wake.notify_one();
        }
        Ok(AdoptReport { plan, linked, jobs })
    }
}
