//! The scripted "day in the life", time-compressed so it plays out in about
//! twenty seconds, then a light trickle of edits until the demo stops. Every
//! scene is an edit a human makes on the portal or in Linear (through the
//! simulators' scripted edits, which fire the same webhooks as the real
//! products) or a fault the simulators inject; the engine does the rest.

use std::time::Duration;

use crate::domain::{ErrorClass, JobStatus};
use crate::sim::faults::ApiFaults;
use crate::store::{JobFilter, Level};

use super::stage::{Pair, Stage, lock, mapping_without_closed};

/// Deliberate conflicts the story opens (titles edited on both sides).
pub const DELIBERATE_CONFLICTS: usize = 2;
/// Posts approved during the 5xx streak: their creates go dead.
pub const STREAK_CREATES: usize = 3;

const BEAT: Duration = Duration::from_millis(1_200);

/// Play the story; returns when it is told to stop.
pub async fn run(mut stage: Stage, seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    if !scripted(&mut stage, &mut rng).await {
        return;
    }
    lock(&stage.log).finished = true;
    stage
        .chapter("the story is over; a light trickle of edits keeps going".into())
        .await;
    while stage.pause(Duration::from_millis(1_500)).await {
        follow_mapping_fix(&stage).await;
        trickle(&stage, &mut rng).await;
    }
}

async fn scripted(stage: &mut Stage, rng: &mut fastrand::Rng) -> bool {
    // A mapping version that lost its "closed" row (the mapping problem).
    let doc = mapping_without_closed(&stage.portal);
    let closed = stage.portal.closed_status();
    if let Ok(v) = stage
        .writer
        .run(move |db| {
            let doc = crate::sync::stamp_version(&doc, db.next_mapping_version()?).unwrap_or(doc);
            db.add_mapping_version(
                &doc,
                crate::domain::Actor::Demo,
                &format!("tidied status table (the '{closed}' row went missing)"),
            )
        })
        .await
    {
        lock(&stage.log).broken_mapping = Some(v);
    }
    stage
        .chapter(format!(
            "{} posts on the board; planned and in-progress ones are being created in Linear",
            stage.portal.posts().len()
        ))
        .await;
    if !stage.initial_sync(Duration::from_secs(15)).await {
        return false;
    }
    let linked = stage.pairs().await;
    stage
        .chapter(format!(
            "initial sync done: {} posts linked to Linear issues",
            linked.len()
        ))
        .await;
    approve(stage, rng, 4, "morning triage").await;
    if !super::orchestration::moderation_and_routing(stage).await {
        return false;
    }
    if !stage.pause(BEAT).await {
        return false;
    }
    linear_progress(stage, rng).await;
    if !stage.pause(BEAT).await {
        return false;
    }
    comments_and_votes(stage, rng).await;
    if !super::orchestration::release(stage).await {
        return false;
    }
    if !stage.pause(BEAT).await {
        return false;
    }
    mapping_gap(stage, rng).await;
    if !stage.pause(BEAT).await {
        return false;
    }
    conflicts(stage, rng).await;
    if !stage.pause(BEAT).await {
        return false;
    }
    if !server_error_streak(stage, rng).await {
        return false;
    }
    quota_burst(stage, rng).await;
    if !stage.pause(BEAT).await {
        return false;
    }
    delete_post(stage, rng).await;
    if !stage.pause(BEAT).await {
        return false;
    }
    if stage.plays_operator {
        fix_mapping(stage).await;
    }
    true
}

/// Posts waiting for triage an admin moves to planned; returns their ids.
async fn approve(stage: &Stage, rng: &mut fastrand::Rng, n: usize, why: &str) -> Vec<String> {
    let triage = stage.portal.triage_status();
    let mut candidates: Vec<String> = stage
        .portal
        .posts()
        .into_iter()
        .filter(|p| p.status == triage)
        .map(|p| p.id)
        .collect();
    rng.shuffle(&mut candidates);
    let chosen: Vec<String> = candidates.into_iter().take(n).collect();
    let mut titles = Vec::new();
    for id in &chosen {
        if stage.portal.set_status(id, "planned") {
            titles.push(stage.portal.post(id).map(|p| p.title).unwrap_or_default());
        }
    }
    stage.edited(titles.len() as u64);
    stage
        .chapter(format!(
            "{why}: admin approved {} posts ({}) → planned; each becomes one Linear issue",
            titles.len(),
            titles.join(", ")
        ))
        .await;
    chosen
}

fn pick(rng: &mut fastrand::Rng, pairs: &mut Vec<Pair>, n: usize) -> Vec<Pair> {
    rng.shuffle(pairs);
    let k = n.min(pairs.len());
    pairs.drain(..k).collect()
}

async fn linear_progress(stage: &Stage, rng: &mut fastrand::Rng) {
    let mut pairs = stage.pairs().await;
    let moves = [
        ("In Progress", 3usize),
        ("Done", 2),
        ("In Review", 1),
        ("Canceled", 1),
    ];
    let mut done = Vec::new();
    for (state, n) in moves {
        for p in pick(rng, &mut pairs, n) {
            if let Ok(i) = stage.linear.set_state(&p.issue, state) {
                done.push(format!("{} → {state}", i.identifier));
            }
        }
    }
    stage.edited(done.len() as u64);
    stage
        .chapter(format!(
            "engineers move issues in Linear ({}); the portal statuses follow, voters of completed ones are notified",
            done.join(", ")
        ))
        .await;
}

async fn comments_and_votes(stage: &Stage, rng: &mut fastrand::Rng) {
    let mut pairs = stage.pairs().await;
    let mut n = 0;
    for p in pick(rng, &mut pairs, 2) {
        n += u64::from(
            stage
                .portal
                .add_comment(&p.post, "Our whole support team is waiting for this!"),
        );
    }
    for p in pick(rng, &mut pairs, 2) {
        n += u64::from(
            stage
                .linear
                .add_comment(&p.issue, "Design is done, picking this up next sprint.")
                .is_ok(),
        );
    }
    for p in pick(rng, &mut pairs, 4) {
        n += u64::from(stage.portal.add_vote(&p.post));
    }
    for (p, tag) in pick(rng, &mut pairs, 2)
        .into_iter()
        .zip(["bug", "performance"])
    {
        n += u64::from(stage.portal.add_tag(&p.post, tag));
    }
    stage.edited(n);
    let portal = stage.portal.kind().display_name();
    stage
        .chapter(format!(
            "comments both ways (customers on {portal}, engineers on Linear), new votes and tags"
        ))
        .await;
}

async fn mapping_gap(stage: &Stage, rng: &mut fastrand::Rng) {
    let mut pairs = stage.pairs().await;
    let Some(p) = pick(rng, &mut pairs, 1).pop() else {
        return;
    };
    let closed = stage.portal.closed_status();
    if !stage.portal.set_status(&p.post, closed) {
        return;
    }
    lock(&stage.log).gap_link = Some(p.link);
    stage.edited(1);
    let title = stage
        .portal
        .post(&p.post)
        .map(|x| x.title)
        .unwrap_or_default();
    stage
        .chapter(format!(
            "admin closes '{title}' on the portal; mapping version 2 has no Linear state for '{closed}', so the engine \
             refused it and the version before stays in force (the Overview says why; answer it in Mappings: roll back)"
        ))
        .await;
}

async fn conflicts(stage: &Stage, rng: &mut fastrand::Rng) {
    let mut pairs = stage.pairs().await;
    let chosen = pick(rng, &mut pairs, DELIBERATE_CONFLICTS);
    // Both edits must reach the engine together: hold the webhooks, edit
    // both sides, let one reconcile see both, then deliver again.
    stage.linear.set_webhook_url(None);
    stage.portal.webhooks(None);
    let mut titles = Vec::new();
    for p in &chosen {
        let Some(post) = stage.portal.post(&p.post) else {
            continue;
        };
        let base = post.title.clone();
        let a = stage
            .portal
            .set_title(&p.post, &format!("{base} (customer wording)"));
        let b = stage
            .linear
            .set_title(&p.issue, &format!("{base} (engineering wording)"));
        if a && b.is_ok() {
            lock(&stage.log).conflict_links.push(p.link);
            titles.push(base);
        }
    }
    stage.edited(2 * titles.len() as u64);
    let _ = stage.engine.reconcile_once().await;
    let addr = stage.webhook_addr;
    stage
        .linear
        .set_webhook_url(Some(format!("http://{addr}/webhooks/linear")));
    stage.portal.webhooks(Some(addr));
    stage
        .chapter(format!(
            "the same titles edited differently on both sides ({}): conflicts wait for the operator",
            titles.join(", ")
        ))
        .await;
}

async fn server_error_streak(stage: &mut Stage, rng: &mut fastrand::Rng) -> bool {
    let dead_before = stage.jobs_in(JobStatus::Dead).await;
    stage.linear.set_faults(ApiFaults {
        server_error: 1.0,
        ..ApiFaults::default()
    });
    stage
        .chapter("Linear starts answering 500 to everything (a 5xx streak)".into())
        .await;
    approve(stage, rng, STREAK_CREATES, "during the outage").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(8);
    while stage.jobs_in(JobStatus::Dead).await < dead_before + STREAK_CREATES as i64
        && std::time::Instant::now() < deadline
    {
        if !stage.pause(Duration::from_millis(200)).await {
            stage.linear.set_faults(ApiFaults::default());
            return false;
        }
    }
    stage.linear.set_faults(ApiFaults::default());
    let dead = stage.jobs_in(JobStatus::Dead).await - dead_before;
    stage
        .chapter(format!(
            "Linear recovers; {dead} jobs went dead after {} attempts each",
            super::world::MAX_ATTEMPTS
        ))
        .await;
    if stage.plays_operator {
        let n = stage
            .writer
            .run(|db| {
                db.retry_matching(&JobFilter {
                    status: Some(JobStatus::Dead),
                    error_class: Some(ErrorClass::Server),
                })
            })
            .await
            .unwrap_or(0);
        stage.engine.scheduler().wake.notify_one();
        stage
            .chapter(format!(
                "operator retries the {n} dead jobs (console: Jobs view, R); they succeed"
            ))
            .await;
    }
    true
}

async fn quota_burst(stage: &Stage, rng: &mut fastrand::Rng) {
    stage.linear.exhaust_quota();
    let mut pairs = stage.pairs().await;
    let mut n = 0;
    for p in pick(rng, &mut pairs, 6) {
        n += u64::from(stage.portal.add_vote(&p.post));
    }
    for (p, tag) in pick(rng, &mut pairs, 3)
        .into_iter()
        .zip(["integrations", "mobile", "ux"])
    {
        n += u64::from(stage.portal.add_tag(&p.post, tag));
    }
    stage.edited(n);
    let seen = match stage.linear_quota_seen(10, Duration::from_secs(3)).await {
        Some((left, limit)) => format!(" (roundtrip read {left}/{limit} left)"),
        None => " (roundtrip read no quota yet)".to_string(),
    };
    stage
        .chapter(format!(
            "a burst of traffic exhausts the Linear quota{seen}; {n} new edits wait for the reset instead of failing"
        ))
        .await;
}

async fn delete_post(stage: &Stage, rng: &mut fastrand::Rng) {
    let mut pairs = stage.pairs().await;
    let Some(p) = pick(rng, &mut pairs, 1).pop() else {
        return;
    };
    let title = stage
        .portal
        .post(&p.post)
        .map(|x| x.title)
        .unwrap_or_default();
    if stage.portal.delete_post(&p.post) {
        lock(&stage.log).deleted_post = Some(p.post.clone());
        stage.edited(1);
        stage
            .chapter(format!(
                "admin deletes '{title}' on the portal: the link is removed and the Linear issue gets a note (delete policy: unlink)"
            ))
            .await;
    }
}

async fn fix_mapping(stage: &Stage) {
    let broken = lock(&stage.log).broken_mapping;
    let answered = stage
        .writer
        .run(|db| {
            let Some(active) = db.active_mapping()? else {
                return Ok(None);
            };
            let report = crate::ops::mapping::rollback(db, active.version)?;
            Ok((!report.changed.is_empty()).then_some(active.version))
        })
        .await;
    if let (Ok(Some(v)), Some(broken)) = (answered, broken) {
        stage
            .chapter(format!(
                "operator restores the mapping: version {v}, which keeps \"{}\" = \"Canceled\", stays in force and the refusal of version {broken} is answered",
                stage.portal.closed_status()
            ))
            .await;
    }
    // Give the engine a tick to load it, then re-merge the held-back link.
    tokio::time::sleep(Duration::from_millis(600)).await;
    follow_mapping_fix(stage).await;
}

/// Once a mapping version other than the broken one is active, re-merge the
/// link the gap held back: a new mapping applies from the next merge on, and
/// nothing else would touch that link again.
async fn follow_mapping_fix(stage: &Stage) {
    let (broken, gap, fixed) = {
        let l = lock(&stage.log);
        (l.broken_mapping, l.gap_link, l.gap_fixed)
    };
    let (Some(broken), Some(link), false) = (broken, gap, fixed) else {
        return;
    };
    let active = stage
        .writer
        .run(|db| db.active_mapping())
        .await
        .ok()
        .flatten()
        .map(|m| m.version);
    if active.is_none_or(|v| v == broken) {
        return;
    }
    if stage.engine.remerge(link).await.is_ok() {
        lock(&stage.log).gap_fixed = true;
        let msg = format!("demo: mapping fixed; link {link} merged again");
        let _ = stage
            .writer
            .run(move |db| db.log_event(Level::Info, "demo", &msg))
            .await;
    }
}

async fn trickle(stage: &Stage, rng: &mut fastrand::Rng) {
    let mut pairs = stage.pairs().await;
    let Some(p) = pick(rng, &mut pairs, 1).pop() else {
        return;
    };
    let ok = match rng.u8(0..4) {
        0 => stage.portal.add_vote(&p.post),
        1 => stage
            .portal
            .add_comment(&p.post, "Still very much wanted here."),
        2 => stage
            .linear
            .add_comment(&p.issue, "Small progress update: tests are green.")
            .is_ok(),
        _ => {
            // Work moves forward: a planned item gets started.
            let planned = stage
                .portal
                .post(&p.post)
                .is_some_and(|x| x.status == "planned");
            planned && stage.linear.set_state(&p.issue, "In Progress").is_ok()
        }
    };
    stage.edited(u64::from(ok));
}
