//! Publishing changelog entries: every open changelog group (a cycle or
//! project that shipped posts) is checked on Linear now and then; once it
//! has completed, its one entry is queued as a job on the portal — at most
//! once, guarded by the group's state — and a group whose cycle or project
//! went away without completing is dropped with a log line.

use crate::domain::{GroupState, JobKind, ReleaseGroup, Side};
use crate::store::{ChangelogState, Lane, Level, NewJob};
use crate::sync::ChangelogRule;
use crate::sync::close_loop::{ShippedPost, changelog_entry};

use super::payload::JobPayload;
use super::{Engine, EngineError};

/// Groups checked per pass.
const GROUPS_PER_PASS: usize = 50;

impl Engine {
    /// Check open changelog groups; queue the entry of each completed one.
    /// Returns how many entries were queued.
    pub async fn check_changelogs(&self) -> Result<usize, EngineError> {
        let groups = self
            .inner
            .writer
            .run(|db| db.open_changelog_groups(GROUPS_PER_PASS))
            .await?;
        let mut queued = 0;
        for g in groups {
            let group = ReleaseGroup {
                kind: g.kind,
                id: g.remote_id.clone(),
                name: g.name.clone(),
            };
            let conn = self.inner.connectors.linear.clone();
            let state = self
                .call(Side::Linear, Lane::Backfill, || conn.group_state(&group))
                .await?;
            let max_attempts = i64::from(self.inner.opts.max_attempts);
            let done = self
                .inner
                .writer
                .run(move |db| match state {
                    GroupState::Open => Ok(false),
                    GroupState::Gone => {
                        if db.set_changelog_state(g.id, ChangelogState::Open, ChangelogState::Dropped, None)? {
                            db.log_event(
                                Level::Warn,
                                "changelog",
                                &format!(
                                    "{} {} is gone without completing: no changelog entry for its {} posts",
                                    g.kind,
                                    g.name,
                                    db.changelog_posts(g.id)?.len()
                                ),
                            )?;
                        }
                        Ok(false)
                    }
                    GroupState::Completed => {
                        let Ok(rule) = serde_json::from_str::<ChangelogRule>(&g.settings) else {
                            return Ok(false);
                        };
                        if !db.set_changelog_state(g.id, ChangelogState::Open, ChangelogState::Queued, None)? {
                            return Ok(false);
                        }
                        let posts: Vec<ShippedPost> = db
                            .changelog_posts(g.id)?
                            .into_iter()
                            .map(|p| ShippedPost {
                                id: p.portal_id,
                                title: p.title,
                                url: p.url,
                            })
                            .collect();
                        let entry = changelog_entry(&rule, &g.name, &posts);
                        let reason = format!(
                            "{} {} completed: its changelog entry '{}' links {} posts",
                            g.kind,
                            g.name,
                            entry.title,
                            posts.len()
                        );
                        let payload = JobPayload::Changelog {
                            group_id: g.id,
                            entry,
                        };
                        db.insert_job(&NewJob {
                            link_id: None,
                            target: Side::Portal,
                            kind: JobKind::Changelog,
                            payload: payload.to_json(),
                            reason: reason.clone(),
                            lane: Lane::Live,
                            max_attempts,
                        })?;
                        db.log_event(Level::Info, "changelog", &reason)?;
                        Ok(true)
                    }
                })
                .await?;
            if done {
                queued += 1;
            }
        }
        if queued > 0 {
            self.inner.scheduler.wake.notify_one();
        }
        Ok(queued)
    }
}
