//! The race property harness (issue CONVERGENCE): randomized concurrent
//! edits of titles, descriptions, statuses, labels and comments on both
//! sides of many links, with random gaps, over loopback against both
//! simulators — then the invariants, checked from the simulators' journals
//! (every field change and comment in one order across both, and who made
//! it) and the store:
//!
//! 1. every edit survives on both sides, or is shown in a conflict, or was
//!    replaced by a later edit of the same person's side — the one
//!    exception being a portal edit that landed inside roundtrip's
//!    read-to-write window on the portal, which Canny gives no evidence of
//!    (counted and reported, never silent) — for labels, the window a lost
//!    answer widens to the retry delay (the retry repeats a tag change the
//!    person undid after the lost attempt had landed);
//! 2. no write carries a value its source side never set (nothing stale
//!    written back, labels only added or removed where the other side did);
//! 3. no duplicate comment, copy of a copy, issue or post;
//! 4. both sides agree on every field (or a conflict is open for it);
//! 5. API requests stay within a bound proportional to the edits.
//!
//! Used by `tests/race.rs` (short runs in the suite) and
//! `examples/race.rs` (`cargo run --release --example race -- --minutes N`).

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use roundtrip::domain::{ErrorClass, JobKind, Record, Side};
use roundtrip::sim::faults::{ApiFaults, WebhookFaults};
use roundtrip::sim::journal::{JournalEntry, JournalKind, JournalValue};
use roundtrip::store::{ConflictFilter, ConflictStatus, JobFilter, Window};
use roundtrip::sync::{Mapping, codec};

use super::harness::{Harness, Setup, within};

/// One run's shape.
#[derive(Debug, Clone)]
pub struct RaceConfig {
    /// Linked pairs edited.
    pub links: usize,
    /// Edits made, across all links and both sides.
    pub edits: usize,
    /// Gaps between edits are uniform in `0..=max_gap`.
    pub max_gap: Duration,
    /// API 5xx and 429 answers and duplicated, reordered webhooks.
    pub faults: bool,
    /// Seed of the edit generator and the simulators' dice.
    pub seed: u64,
    /// Latency of every API answer (real APIs take tens of milliseconds;
    /// it keeps the engine's reads and writes in flight while people edit).
    pub latency: Duration,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct RaceReport {
    /// Edits made.
    pub edits: usize,
    /// Requests both simulators answered during the edits and until quiet.
    pub requests: u64,
    /// Portal edits replaced inside the portal's read-to-write window.
    pub window_losses: usize,
    /// Conflicts open at the end (each shows the edits it holds).
    pub conflicts: usize,
    /// Wall time of the run.
    pub elapsed: Duration,
}

/// The bound on API requests: per edit, a webhook read of the changed
/// record and of its linked record, the re-read before the write, the
/// write itself (a few requests on the portal), and the echo's reads.
pub const REQUESTS_PER_EDIT: u64 = 15;
/// Requests allowed beyond the per-edit bound (reconcile listings, retries).
pub const REQUESTS_FIXED: u64 = 100;

const LABELS: [&str; 3] = ["alpha", "beta", "gamma"];
const PORTAL_STATUSES: [&str; 4] = ["under review", "planned", "in progress", "complete"];
const LINEAR_STATES: [&str; 4] = ["Backlog", "Todo", "In Progress", "Done"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Title,
    Description,
    Status,
    Label,
    Comment,
}

/// Run one race and check its invariants; `Err` names every violation.
pub async fn run(cfg: &RaceConfig) -> Result<RaceReport, String> {
    let t0 = Instant::now();
    let faults = |on: bool| ApiFaults {
        server_error: if on { 0.05 } else { 0.0 },
        latency: cfg.latency,
        ..ApiFaults::default()
    };
    let mut h = Harness::start(Setup {
        seed: cfg.seed,
        max_attempts: 40,
        ..Setup::default()
    })
    .await;
    let links = make_links(&h, cfg.links).await?;
    h.wait_quiet(Duration::from_millis(300), 30).await;
    h.linear.set_faults(faults(false));
    h.canny().set_faults(faults(false));
    if cfg.faults {
        h.linear.set_faults(faults(true));
        h.canny().set_faults(ApiFaults {
            rate_limited: 0.005,
            ..faults(true)
        });
        let wf = WebhookFaults {
            duplicate: 0.1,
            reorder: true,
            ..WebhookFaults::default()
        };
        h.linear.set_webhook_faults(wf.clone());
        h.canny().set_webhook_faults(wf);
    }
    let start = roundtrip::sim::journal::next_seq();
    let requests_before = h.linear.counters().requests + h.canny().stats().requests;

    let mut people = People::new(cfg.seed);
    while people.edits < cfg.edits {
        people.step(&h, &links, cfg.max_gap, cfg.edits).await?;
    }

    h.linear.set_faults(ApiFaults::default());
    h.canny().set_faults(ApiFaults::default());
    h.linear.set_webhook_faults(WebhookFaults::default());
    h.canny().set_webhook_faults(WebhookFaults::default());
    h.wait_quiet(Duration::from_millis(500), 120).await;
    h.engine()
        .reconcile_once()
        .await
        .map_err(|e| e.to_string())?;
    h.wait_quiet(Duration::from_millis(500), 120).await;
    let requests = h.linear.counters().requests + h.canny().stats().requests - requests_before;

    let mut report = check(&h, &links, start).await?;
    report.edits = cfg.edits;
    report.requests = requests;
    let bound = REQUESTS_PER_EDIT * cfg.edits as u64 + REQUESTS_FIXED;
    h.stop_service().await;
    report.elapsed = t0.elapsed();
    if requests > bound {
        return Err(format!(
            "{requests} API requests for {} edits (bound {bound})",
            cfg.edits
        ));
    }
    Ok(report)
}

/// `n` planned posts, each linked to the Linear issue roundtrip creates for
/// it, and the labels the edits use: `(post, issue)` pairs. Needs a running
/// roundtrip pointed at the harness's simulators.
pub async fn make_links(h: &Harness, n: usize) -> Result<Vec<(String, String)>, String> {
    let mut posts = Vec::new();
    for i in 0..n {
        let post = h
            .canny()
            .create_post(&format!("Race {i}"), &format!("Initial details {i}"))
            .map_err(|e| e.to_string())?;
        h.canny()
            .set_status(&post, "planned")
            .map_err(|e| e.to_string())?;
        posts.push(post);
    }
    let mut links = Vec::new();
    for post in posts {
        let issue = within("a new post's Linear issue", 30, async || {
            h.linked_issue(&post)
        })
        .await?;
        links.push((post, issue));
    }
    for name in LABELS {
        h.linear_conn
            .create_label(name)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(links)
}

/// The people editing both sides: a seeded generator of edits of titles,
/// descriptions, statuses, labels and comments on random links, most of
/// them answered from the other side of the same link moments later.
pub struct People {
    rng: fastrand::Rng,
    /// Edits made so far.
    pub edits: usize,
}

impl People {
    /// The same seed makes the same edits in the same order.
    pub fn new(seed: u64) -> People {
        People {
            rng: fastrand::Rng::with_seed(seed),
            edits: 0,
        }
    }

    /// One edit, maybe its answer from the other side, then a gap of up to
    /// `max_gap`; never more than `limit` edits in all.
    pub async fn step(
        &mut self,
        h: &Harness,
        links: &[(String, String)],
        max_gap: Duration,
        limit: usize,
    ) -> Result<(), String> {
        let rng = &mut self.rng;
        let (post, issue) = &links[rng.usize(..links.len())];
        let side = if rng.bool() {
            Side::Portal
        } else {
            Side::Linear
        };
        let kind = kind_of(rng);
        edit(h, side, kind, self.edits, post, issue, rng)?;
        self.edits += 1;
        // Most edits are answered from the other side of the same link
        // moments later — the races the engine must get right.
        if self.edits < limit && rng.u32(..100) < 60 {
            let second = if rng.bool() { kind } else { kind_of(rng) };
            tokio::time::sleep(Duration::from_millis(rng.u64(..=60))).await;
            edit(h, side.other(), second, self.edits, post, issue, rng)?;
            self.edits += 1;
        }
        let gap = rng.u64(..=max_gap.as_millis() as u64);
        tokio::time::sleep(Duration::from_millis(gap)).await;
        Ok(())
    }
}

fn kind_of(rng: &mut fastrand::Rng) -> Kind {
    match rng.u32(..100) {
        0..25 => Kind::Title,
        25..45 => Kind::Description,
        45..60 => Kind::Status,
        60..85 => Kind::Label,
        _ => Kind::Comment,
    }
}

/// One person's edit on one side.
fn edit(
    h: &Harness,
    side: Side,
    kind: Kind,
    n: usize,
    post: &str,
    issue: &str,
    rng: &mut fastrand::Rng,
) -> Result<(), String> {
    let r = match (side, kind) {
        (Side::Portal, Kind::Title) => h.canny().set_title(post, &format!("title {n} (portal)")),
        (Side::Linear, Kind::Title) => h
            .linear
            .set_title(issue, &format!("title {n} (Linear)"))
            .map(|_| ())
            .map_err(|e| roundtrip::sim::canny::CannySimError::Rejected(e.to_string())),
        (Side::Portal, Kind::Description) => h
            .canny()
            .set_details(post, &format!("details {n} (portal)")),
        (Side::Linear, Kind::Description) => h
            .linear
            .set_description(issue, Some(&format!("details {n} (Linear)")))
            .map(|_| ())
            .map_err(|e| roundtrip::sim::canny::CannySimError::Rejected(e.to_string())),
        (Side::Portal, Kind::Status) => h
            .canny()
            .set_status(post, PORTAL_STATUSES[rng.usize(..PORTAL_STATUSES.len())]),
        (Side::Linear, Kind::Status) => h
            .linear
            .set_state(issue, LINEAR_STATES[rng.usize(..LINEAR_STATES.len())])
            .map(|_| ())
            .map_err(|e| roundtrip::sim::canny::CannySimError::Rejected(e.to_string())),
        (Side::Portal, Kind::Label) => {
            let name = LABELS[rng.usize(..LABELS.len())];
            let has = h
                .canny()
                .post(post)
                .is_some_and(|p| p.tags.iter().any(|t| t.eq_ignore_ascii_case(name)));
            if has {
                h.canny().remove_tag(post, name)
            } else {
                h.canny().add_tag(post, name)
            }
        }
        (Side::Linear, Kind::Label) => {
            let name = LABELS[rng.usize(..LABELS.len())];
            let has = linear_labels(h, issue).contains(name);
            if has {
                h.linear.remove_label(issue, name)
            } else {
                h.linear.add_label(issue, name)
            }
            .map(|_| ())
            .map_err(|e| roundtrip::sim::canny::CannySimError::Rejected(e.to_string()))
        }
        (Side::Portal, Kind::Comment) => h
            .canny()
            .add_comment(post, &format!("comment {n} (portal)"))
            .map(|_| ()),
        (Side::Linear, Kind::Comment) => h
            .linear
            .add_comment(issue, &format!("comment {n} (Linear)"))
            .map(|_| ())
            .map_err(|e| roundtrip::sim::canny::CannySimError::Rejected(e.to_string())),
    };
    r.map_err(|e| format!("edit {n} ({side} {kind:?}) was refused: {e}"))
}

fn linear_labels(h: &Harness, issue: &str) -> BTreeSet<String> {
    h.linear.read(|s| {
        s.issue(issue).map_or_else(BTreeSet::new, |i| {
            i.label_ids
                .iter()
                .filter_map(|id| s.label(id).map(|l| l.name.to_lowercase()))
                .collect()
        })
    })
}

/// The field on the other side that mirrors `field`.
fn mirror_field(side: Side, field: &str) -> &'static str {
    match (side, field) {
        (Side::Portal, "details") => "description",
        (Side::Linear, "description") => "details",
        (Side::Portal, "status") => "state",
        (Side::Linear, "state") => "status",
        (Side::Portal, "tags") => "labels",
        (Side::Linear, "labels") => "tags",
        _ => "title",
    }
}

/// The mapping field a vendor field belongs to.
fn mapping_field(field: &str) -> &'static str {
    match field {
        "details" | "description" => "description",
        "status" | "state" => "status",
        "tags" | "labels" => "labels",
        _ => "title",
    }
}

/// The canonical status (portal vocabulary) of a status or state name.
fn canonical_status(m: &Mapping, side: Side, name: &str) -> Option<String> {
    let f = m.field("status")?;
    let r = Record {
        status: name.to_string(),
        ..Record::default()
    };
    match codec::read(m, f, side, &r) {
        Ok(roundtrip::domain::FieldValue::Text(t)) => Some(t),
        _ => None,
    }
}

struct Journals {
    portal: Vec<JournalEntry>,
    linear: Vec<JournalEntry>,
}

impl Journals {
    fn of(&self, side: Side) -> &[JournalEntry] {
        match side {
            Side::Portal => &self.portal,
            Side::Linear => &self.linear,
        }
    }
}

fn field_change(e: &JournalEntry) -> Option<(&'static str, &JournalValue, &JournalValue)> {
    match &e.kind {
        JournalKind::Field {
            field,
            before,
            after,
        } => Some((field, before, after)),
        _ => None,
    }
}

/// The portal's label window, widened by a lost answer: roundtrip's write
/// toggled `name` on the post, its answer was lost (`lost_writes`: the
/// payloads of the link's portal writes with an attempt of unknown
/// outcome; one must plan this very toggle), the person's last edit of the
/// label undid it (`want`), and the retry, which re-read tags matching its
/// plan, made the same toggle again. Canny keeps no trace that tells "my
/// earlier attempt landed and was undone" from "it never landed", so the
/// retry cannot know; the loss is counted, not hidden.
fn retry_replaced_portal_label(
    portal: &[&JournalEntry],
    name: &str,
    want: bool,
    lost_writes: &[serde_json::Value],
) -> bool {
    let has = |v: &serde_json::Value| {
        v["value"]
            .as_array()
            .is_some_and(|a| a.iter().any(|t| t.as_str() == Some(name)))
    };
    let planned = lost_writes.iter().any(|w| {
        let to = &w["update"]["fields"]["tags"];
        to.is_object() && has(to) != want && has(&w["expect"]["tags"]) == want
    });
    let toggles: Vec<(u64, bool, bool)> = portal
        .iter()
        .filter_map(|e| match field_change(e) {
            Some((_, JournalValue::Set(b), JournalValue::Set(a)))
                if b.contains(name) != a.contains(name) =>
            {
                Some((e.seq, a.contains(name), e.by_api))
            }
            _ => None,
        })
        .collect();
    let Some(p) = toggles.iter().rposition(|t| !t.2) else {
        return false;
    };
    let before = toggles[..p].iter().rev().find(|t| t.2);
    let after: Vec<_> = toggles[p + 1..].iter().collect();
    planned
        && toggles[p].1 == want
        && before.is_some_and(|t| t.1 != want)
        && after.len() == 1
        && after[0].1 != want
}

fn as_text(v: &JournalValue) -> Option<&str> {
    match v {
        JournalValue::Text(t) => Some(t.trim_end()),
        JournalValue::Set(_) => None,
    }
}

/// Check invariants 1–4 over the journal entries after `start` (a
/// [`roundtrip::sim::journal::next_seq`] taken before the edits) and the
/// store; `Err` names every violation.
pub async fn check(
    h: &Harness,
    links: &[(String, String)],
    start: u64,
) -> Result<RaceReport, String> {
    let mapping = Mapping::default_canny_linear();
    let j = Journals {
        portal: h
            .canny()
            .journal()
            .into_iter()
            .filter(|e| e.seq > start)
            .collect(),
        linear: h
            .linear
            .journal()
            .into_iter()
            .filter(|e| e.seq > start)
            .collect(),
    };
    let store = h.store();
    let db = store.db();
    let open = db
        .conflicts(
            &ConflictFilter {
                status: Some(ConflictStatus::Open),
                field: None,
            },
            Window::first(10_000),
        )
        .map_err(|e| e.to_string())?;
    let mut errors: Vec<String> = Vec::new();
    let mut report = RaceReport {
        conflicts: open.len(),
        ..RaceReport::default()
    };
    if h.linear.issues().len() != links.len() || h.canny().posts().len() != links.len() {
        errors.push(format!(
            "{} issues and {} posts for {} links",
            h.linear.issues().len(),
            h.canny().posts().len(),
            links.len()
        ));
    }
    let jobs = db
        .jobs(&JobFilter::default(), Window::first(100_000))
        .map_err(|e| e.to_string())?;
    for (post, issue) in links {
        let errors_before = errors.len();
        let link = db
            .link_by_remote(Side::Portal, post)
            .map_err(|e| e.to_string())?
            .ok_or("link vanished")?;
        let audit = db
            .audit_for_link(link.id, Window::last(100_000))
            .map_err(|e| e.to_string())?;
        let conflict = |field: &str| {
            open.iter()
                .find(|c| c.link_id == link.id && c.field == field)
        };
        let ids = |side: Side| match side {
            Side::Portal => post.as_str(),
            Side::Linear => issue.as_str(),
        };
        let entries = |side: Side| -> Vec<&JournalEntry> {
            j.of(side)
                .iter()
                .filter(|e| e.record == ids(side))
                .collect()
        };
        // Portal writes of this link with an attempt whose outcome is
        // unknown (timed out, or cut short by a kill): the only writes that
        // may repeat a change a person undid in between.
        let mut lost_writes: Vec<serde_json::Value> = Vec::new();
        for job in jobs.iter().filter(|j| {
            j.link_id == Some(link.id) && j.target == Side::Portal && j.kind == JobKind::Update
        }) {
            let attempts = db.attempts(job.id).map_err(|e| e.to_string())?;
            if attempts.iter().any(|a| {
                matches!(
                    a.error_class,
                    Some(ErrorClass::Timeout | ErrorClass::Network)
                )
            }) {
                lost_writes.push(serde_json::from_str(&job.payload).map_err(|e| e.to_string())?);
            }
        }
        let p_rec = h.portal_record(post).await.ok_or("post vanished")?;
        let l_rec = h.linear_record(issue).await.ok_or("issue vanished")?;

        // 4. Both sides agree, or a conflict is open for the field.
        for name in ["title", "description", "status", "labels"] {
            let f = mapping.field(name).ok_or("mapping field")?;
            let a = codec::read(&mapping, f, Side::Portal, &p_rec);
            let b = codec::read(&mapping, f, Side::Linear, &l_rec);
            if a != b && conflict(name).is_none() {
                errors.push(format!(
                    "link {}: {name} differs with no conflict: portal {a:?}, Linear {b:?}",
                    link.id
                ));
            }
        }

        for side in [Side::Portal, Side::Linear] {
            let mine = entries(side);
            let theirs = entries(side.other());
            // 1. Every text edit survives, is shown, or was superseded.
            for (k, e) in mine.iter().enumerate() {
                let Some((field, _, after)) = field_change(e) else {
                    continue;
                };
                let (Some(v), false) = (as_text(after), e.by_api) else {
                    continue;
                };
                if !matches!(field, "title" | "details" | "description") {
                    continue;
                }
                let mfield = mapping_field(field);
                let shown = conflict(mfield).is_some_and(|c| {
                    let val = match side {
                        Side::Portal => &c.portal,
                        Side::Linear => &c.linear,
                    };
                    *val == roundtrip::domain::FieldValue::Text(v.to_string())
                });
                let recovered = audit.iter().any(|a| {
                    a.action == roundtrip::domain::AuditAction::Conflict
                        && a.field.as_deref() == Some(mfield)
                        && a.before.as_deref() == Some(v)
                });
                let next = mine[k + 1..]
                    .iter()
                    .find(|n| field_change(n).is_some_and(|(f, _, _)| f == field));
                let propagated_before = |limit: u64| {
                    theirs.iter().any(|t| {
                        t.by_api
                            && t.seq < limit
                            && field_change(t).is_some_and(|(f, _, a)| {
                                f == mirror_field(side, field) && as_text(a) == Some(v)
                            })
                    })
                };
                match next {
                    Some(n) if !n.by_api => {} // the person changed it again
                    Some(n) => {
                        // The portal window: roundtrip read the post after its
                        // previous write to it and before this edit, and its
                        // next write replaced the edit. (Which read belongs to
                        // which write cannot be told from outside, so this
                        // errs on the side of tolerating; the Linear side,
                        // where `updatedFrom` closes the window, has none.)
                        let last_write = mine
                            .iter()
                            .rev()
                            .find(|r| r.by_api && r.seq < e.seq && field_change(r).is_some())
                            .map_or(0, |r| r.seq);
                        let window = side == Side::Portal
                            && mine.iter().any(|r| {
                                r.by_api
                                    && r.kind == JournalKind::Read
                                    && r.seq > last_write
                                    && r.seq < e.seq
                            });
                        if propagated_before(n.seq) || shown || recovered {
                        } else if window {
                            report.window_losses += 1;
                        } else {
                            errors.push(format!(
                                "link {}: {side} {field} edit '{v}' was replaced by roundtrip without being synced or shown",
                                link.id
                            ));
                        }
                    }
                    None => {
                        if !(propagated_before(u64::MAX) || shown) {
                            errors.push(format!(
                                "link {}: {side} {field} edit '{v}' (the last one) is neither on the other side nor in a conflict",
                                link.id
                            ));
                        }
                    }
                }
            }
            // 2. No write carries a value its source never set.
            for w in mine.iter().filter(|w| w.by_api) {
                let Some((field, before, after)) = field_change(w) else {
                    continue;
                };
                let source_field = mirror_field(side, field);
                let human_before = |ok: &dyn Fn(&JournalValue, &JournalValue) -> bool| {
                    theirs.iter().any(|t| {
                        !t.by_api
                            && t.seq < w.seq
                            && field_change(t)
                                .is_some_and(|(f, b, a)| f == source_field && ok(b, a))
                    })
                };
                let fine = match (field, before, after) {
                    ("title" | "details" | "description", _, JournalValue::Text(v)) => {
                        human_before(&|_, a| as_text(a) == Some(v.trim_end()))
                    }
                    ("status" | "state", _, JournalValue::Text(v)) => {
                        let want = canonical_status(&mapping, side, v);
                        human_before(&|_, a| {
                            as_text(a).and_then(|s| canonical_status(&mapping, side.other(), s))
                                == want
                        })
                    }
                    (_, JournalValue::Set(b), JournalValue::Set(a)) => {
                        a.difference(b).all(|x| {
                            human_before(&|hb, ha| match (hb, ha) {
                                (JournalValue::Set(hb), JournalValue::Set(ha)) => {
                                    ha.contains(x) && !hb.contains(x)
                                }
                                _ => false,
                            })
                        }) && b.difference(a).all(|x| {
                            human_before(&|hb, ha| match (hb, ha) {
                                (JournalValue::Set(hb), JournalValue::Set(ha)) => {
                                    hb.contains(x) && !ha.contains(x)
                                }
                                _ => false,
                            })
                        })
                    }
                    _ => true,
                };
                if !fine {
                    errors.push(format!(
                        "link {}: roundtrip wrote {field} {after:?} to {side}, which {} never set",
                        link.id,
                        side.other()
                    ));
                }
            }
            // 3. Each comment is copied exactly once and never back.
            for c in &mine {
                let JournalKind::Comment { body, .. } = &c.kind else {
                    continue;
                };
                // A copy of a copy would contain the original's text on the
                // original's own side: counted as `back` below.
                if c.by_api {
                    continue;
                }
                let copies = theirs
                    .iter()
                    .filter(|t| {
                        t.by_api
                            && matches!(&t.kind, JournalKind::Comment { body: b, .. } if b.contains(body.as_str()))
                    })
                    .count();
                let back = mine
                    .iter()
                    .filter(|t| {
                        t.by_api
                            && matches!(&t.kind, JournalKind::Comment { body: b, .. } if b.contains(body.as_str()))
                    })
                    .count();
                if copies != 1 || back != 0 {
                    errors.push(format!(
                        "link {}: {side} comment '{body}' has {copies} copies on {} and {back} on its own side",
                        link.id,
                        side.other()
                    ));
                }
            }
        }

        // 1 for labels: each label ends as the later side's last add or
        // remove left it, when that side had seen the other side's last one
        // (it reached it through roundtrip first); two last edits made
        // without seeing each other are concurrent, and the set merge may
        // keep either.
        for name in LABELS {
            let last = |side: Side| -> Option<(u64, bool)> {
                entries(side)
                    .iter()
                    .filter(|e| !e.by_api)
                    .filter_map(|e| match field_change(e) {
                        Some((_, JournalValue::Set(b), JournalValue::Set(a)))
                            if b.contains(name) != a.contains(name) =>
                        {
                            Some((e.seq, a.contains(name)))
                        }
                        _ => None,
                    })
                    .next_back()
            };
            let reached = |to: Side, after: u64, before: u64, present: bool| {
                entries(to).iter().any(|e| {
                    e.by_api
                        && e.seq > after
                        && e.seq < before
                        && matches!(field_change(e), Some((_, JournalValue::Set(b), JournalValue::Set(a)))
                            if a.contains(name) == present && b.contains(name) != present)
                })
            };
            let want = match (last(Side::Portal), last(Side::Linear)) {
                (None, None) => continue,
                (Some((_, w)), None) | (None, Some((_, w))) => w,
                (Some(p), Some(l)) => {
                    let (later_side, later, earlier) = if p.0 > l.0 {
                        (Side::Portal, p, l)
                    } else {
                        (Side::Linear, l, p)
                    };
                    if later.1 == earlier.1 || reached(later_side, earlier.0, later.0, earlier.1) {
                        later.1
                    } else {
                        continue; // concurrent: either outcome is a merge
                    }
                }
            };
            let on_portal = p_rec.labels.iter().any(|t| t.eq_ignore_ascii_case(name));
            let on_linear = l_rec.labels.iter().any(|t| t.eq_ignore_ascii_case(name));
            if on_portal != want || on_linear != want {
                if on_portal == on_linear
                    && retry_replaced_portal_label(&entries(Side::Portal), name, want, &lost_writes)
                {
                    report.window_losses += 1;
                    continue;
                }
                errors.push(format!(
                    "link {}: label '{name}' should be {} after its last edit (portal {on_portal}, Linear {on_linear})",
                    link.id,
                    if want { "present" } else { "absent" }
                ));
            }
        }
        if errors.len() > errors_before && std::env::var_os("RACE_JOURNAL").is_some() {
            let mine: Vec<JournalEntry> = j
                .portal
                .iter()
                .filter(|e| e.record == *post)
                .chain(j.linear.iter().filter(|e| e.record == *issue))
                .cloned()
                .collect();
            let mut mine = mine;
            mine.sort_by_key(|e| e.seq);
            let trail: Vec<String> = audit
                .iter()
                .map(|a| {
                    format!(
                        "{} {} {:?} {:?} {:?}→{:?} {}",
                        a.at, a.action, a.side, a.field, a.before, a.after, a.reason
                    )
                })
                .collect();
            errors.push(format!(
                "journal of link {}:\n{}\naudit:\n{}",
                link.id,
                describe(&mine),
                trail.join("\n")
            ));
        }
    }
    if errors.is_empty() {
        Ok(report)
    } else {
        Err(errors.join("\n"))
    }
}

/// The journal entries of a run, for a failure report.
pub fn describe(entries: &[JournalEntry]) -> String {
    let mut by_record: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for e in entries {
        by_record.entry(&e.record).or_default().push(format!(
            "{} {} {:?}",
            e.seq,
            if e.by_api { "api" } else { "person" },
            e.kind
        ));
    }
    by_record
        .into_iter()
        .map(|(r, lines)| format!("{r}:\n  {}", lines.join("\n  ")))
        .collect::<Vec<_>>()
        .join("\n")
}
