//! The demo's orchestrated workflow: a second board (Bugs, moderating new
//! posts) and a second Linear team (PLAT, Platform), routes by product
//! area, a moderation step, and a release (a PLAT cycle) whose changelog
//! entry links every post shipped in it.

use std::time::Duration;

use crate::domain::PortalKind;
use crate::sim::canny::CannySim;
use crate::sim::linear::LinearSim;
use crate::sync::Mapping;

use super::portal::DemoPortal;
use super::stage::{Stage, lock};

/// The second board.
pub const BUGS_BOARD: &str = "Bugs";
/// The second team.
pub const PLATFORM_TEAM: &str = "PLAT";
/// The release (a PLAT cycle) the story ships.
pub const RELEASE: &str = "Release 2.4";
/// Who Platform's routed bugs are assigned to.
pub const PLATFORM_ASSIGNEE: &str = "ada@example.com";

/// The demo's routes: API and performance bugs to Platform (assigned,
/// labelled, re-routed by moving, closing the loop with a comment and the
/// release's changelog entry), other bugs and every feature request to ENG.
const ROUTES: &str = r#"
[[routes]]
name = "API bugs to Platform"
when = { board = "Bugs", category = ["API", "Performance"] }
approve = { status = ["planned", "in progress"] }
linear = { team = "PLAT", labels = ["Bug"], assignee = "ada@example.com" }
reroute = "move"
close = { comment = "Shipped in {cycle}: {url}", changelog = { per = "cycle", publish = true, title = "{cycle}", type = "fixed" } }

[[routes]]
name = "other bugs"
when = { board = "Bugs" }
approve = { status = ["planned"] }
linear = { team = "ENG", labels = ["Bug"] }

[[routes]]
name = "feature requests"
when = {}
approve = { status = ["planned", "in progress"] }
"#;

/// The bug reports customers file during the story: (title, category).
const BUG_REPORTS: [(&str, &str); 3] = [
    ("Export API returns 500 for large reports", "API"),
    ("Search takes 10 seconds on big workspaces", "Performance"),
    ("Settings page button overlaps on mobile", "UI"),
];

/// The portal's default mapping, with the demo's routes on Canny (boards,
/// categories, moderation and the changelog are Canny's).
pub fn demo_mapping(kind: PortalKind) -> Mapping {
    let default = Mapping::default_for(kind);
    if kind != PortalKind::Canny {
        return default;
    }
    let doc = format!("{}{ROUTES}", default.to_toml());
    Mapping::parse(&doc).unwrap_or(default)
}

/// The Canny simulator, when the demo runs on Canny.
fn canny(stage: &Stage) -> Option<std::sync::Arc<CannySim>> {
    match &stage.portal {
        DemoPortal::Canny(c) => Some(c.clone()),
        DemoPortal::Fider(_) => None,
    }
}

/// Set the simulators up for the workflow: the Platform team with its
/// member, its running release cycle, and the moderating Bugs board.
pub fn prepare(linear: &LinearSim, canny: &CannySim) -> Result<(), String> {
    linear
        .create_team(PLATFORM_TEAM, "Platform", &[PLATFORM_ASSIGNEE])
        .map_err(|e| format!("creating team {PLATFORM_TEAM}: {e}"))?;
    let now = chrono::Utc::now();
    linear
        .create_cycle_for(
            PLATFORM_TEAM,
            RELEASE,
            now - chrono::Duration::days(7),
            now + chrono::Duration::days(7),
        )
        .map_err(|e| format!("creating cycle {RELEASE}: {e}"))?;
    let bugs = canny.create_board(BUGS_BOARD);
    canny
        .moderate_board(&bugs, true)
        .map_err(|e| format!("moderating board {BUGS_BOARD}: {e}"))?;
    Ok(())
}

/// Customers file bug reports on the moderating board (held, not synced);
/// the moderator approves them and triages them to planned, and each goes
/// to the team its product area's route names.
pub async fn moderation_and_routing(stage: &mut Stage) -> bool {
    let Some(canny) = canny(stage) else {
        return true;
    };
    let Some(bugs) = canny.board_named(BUGS_BOARD) else {
        return true;
    };
    let mut held = Vec::new();
    for (title, category) in BUG_REPORTS {
        if let Ok(id) =
            canny.create_post_on(&bugs, title, "Reported by a customer.", Some(category))
        {
            held.push(id);
        }
    }
    stage.edited(held.len() as u64);
    lock(&stage.log).held_posts = held.len();
    stage
        .chapter(format!(
            "{} bug reports wait for moderation on the {BUGS_BOARD} board; held posts are never synced",
            held.len()
        ))
        .await;
    if !stage.pause(Duration::from_millis(300)).await {
        return false;
    }
    for id in &held {
        let _ = canny.approve_post(id);
        let _ = canny.set_status(id, "planned");
    }
    stage.edited(2 * held.len() as u64);
    lock(&stage.log).bug_posts = held.clone();
    stage
        .chapter(format!(
            "moderator approves {} bug reports → planned: API and Performance go to {PLATFORM_TEAM} (assigned {PLATFORM_ASSIGNEE}), UI to ENG",
            held.len()
        ))
        .await;
    true
}

/// Platform ships its routed bugs in the release; the release completes
/// and its one changelog entry links every post shipped in it.
pub async fn release(stage: &mut Stage) -> bool {
    let Some(canny) = canny(stage) else {
        return true;
    };
    let posts = lock(&stage.log).bug_posts.clone();
    let Some(cycle) = stage.linear.read(|s| {
        s.cycles
            .iter()
            .find(|c| c.name.as_deref() == Some(RELEASE))
            .map(|c| c.id.clone())
    }) else {
        return true;
    };
    let plat = stage.linear.team(PLATFORM_TEAM).map(|t| t.id);
    let mut shipped = 0;
    for post in &posts {
        let issue = stage
            .writer
            .run({
                let post = post.clone();
                move |db| db.link_by_remote(crate::domain::Side::Portal, &post)
            })
            .await
            .ok()
            .flatten()
            .and_then(|l| l.linear_id);
        let Some(issue) = issue else { continue };
        let in_plat = stage.linear.issue(&issue).map(|i| Some(i.team_id) == plat);
        if in_plat != Some(true) {
            continue;
        }
        if stage.linear.set_cycle(&issue, Some(&cycle)).is_ok()
            && stage.linear.set_state(&issue, "Done").is_ok()
        {
            shipped += 1;
        }
    }
    stage.edited(2 * shipped);
    stage
        .chapter(format!(
            "{PLATFORM_TEAM} ships {shipped} routed bugs in {RELEASE}: each post is told \"Shipped in {RELEASE}\""
        ))
        .await;
    // The release completes once its posts' loops are closed; the story
    // goes on meanwhile.
    let mut bg = stage.clone();
    tokio::spawn(async move {
        complete_release(&mut bg, &canny, &cycle, shipped as usize).await;
    });
    true
}

/// Wait until the shipped posts are listed in the release's changelog
/// group, end the cycle, and report its one entry once it is out.
async fn complete_release(stage: &mut Stage, canny: &CannySim, cycle: &str, shipped: usize) {
    for _ in 0..100 {
        let listed = stage
            .writer
            .run(|db| {
                let groups = db.changelog_groups(10)?;
                match groups.iter().find(|g| g.name == RELEASE) {
                    Some(g) => Ok(db.changelog_posts(g.id)?.len()),
                    None => Ok(0),
                }
            })
            .await
            .unwrap_or(0);
        if listed >= shipped {
            break;
        }
        if !stage.pause(Duration::from_millis(100)).await {
            return;
        }
    }
    let _ = stage
        .linear
        .set_cycle_end(cycle, chrono::Utc::now() - chrono::Duration::seconds(1));
    stage.linear.run_auto_archive();
    let _ = stage.engine.check_changelogs().await;
    for _ in 0..100 {
        let entry = canny.entries().into_iter().find(|e| e.title == RELEASE);
        if let Some(e) = entry {
            let line = format!(
                "{RELEASE} completes: one changelog entry ({}) links {} posts",
                e.status,
                e.post_ids.len()
            );
            lock(&stage.log).changelog = Some(line.clone());
            stage.chapter(line).await;
            return;
        }
        if !stage.pause(Duration::from_millis(100)).await {
            return;
        }
    }
}
