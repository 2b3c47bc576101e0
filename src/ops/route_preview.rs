//! The routing half of a mapping dry run: for each portal post the store
//! has seen, which route would take it and why, and what that means — an
//! issue created (or still waiting for its route's gate), a post held by
//! moderation, a post no route takes, or a linked post whose issue would
//! move (or ask first). `mapping preview`, its `--json` and the console's
//! dry run all show this list.

use serde::Serialize;

use crate::domain::Side;
use crate::store::{Db, LinkState, StoreError, Window, meta_keys};
use crate::sync::{Admission, Mapping, Reroute, admit, reroute, route_post};

/// Posts read per store page.
const PAGE: usize = 500;

/// What the routes would do with one post. The words are a stable JSON
/// contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteVerdict {
    /// Approved: its issue would be created where the route says.
    Create,
    /// Routed, waiting for its route's gate.
    Waiting,
    /// Held by a moderating board: never synced until approved.
    Held,
    /// No route takes it.
    Unrouted,
    /// Linked, and staying where its issue is.
    Stays,
    /// Linked, and another route now takes it with the same team and
    /// project: only the route it is recorded under changes.
    Relabel,
    /// Linked, and its issue would move.
    Move,
    /// Linked, and a conflict would ask whether its issue moves.
    Ask,
}

impl RouteVerdict {
    /// The word shown in previews.
    pub fn as_str(self) -> &'static str {
        match self {
            RouteVerdict::Create => "create",
            RouteVerdict::Waiting => "waiting",
            RouteVerdict::Held => "held",
            RouteVerdict::Unrouted => "unrouted",
            RouteVerdict::Stays => "stays",
            RouteVerdict::Relabel => "relabel",
            RouteVerdict::Move => "move",
            RouteVerdict::Ask => "ask",
        }
    }
}

/// One post of the routing preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteRow {
    /// The post's portal id.
    pub portal_id: String,
    /// Its title.
    pub title: String,
    /// The route that takes it, if any.
    pub route: Option<String>,
    /// What would happen.
    pub verdict: RouteVerdict,
    /// Why: which keys matched, the routes above that did not, the gate.
    pub why: String,
}

impl RouteRow {
    /// "p-1 'Export fails' → API bugs [create]: route 'API bugs' (…)".
    pub fn describe(&self) -> String {
        format!(
            "{} '{}' → {} [{}]: {}",
            self.portal_id,
            self.title,
            self.route.as_deref().unwrap_or("no route"),
            self.verdict.as_str(),
            self.why
        )
    }
}

/// The routing preview of a mapping.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RoutePreview {
    /// Posts looked at (not deleted).
    pub posts_examined: usize,
    /// Posts no route takes.
    pub unrouted: usize,
    /// The first `limit` rows.
    pub rows: Vec<RouteRow>,
}

impl RoutePreview {
    /// "4 posts examined, 1 unrouted".
    pub fn summary(&self) -> String {
        format!(
            "{} post{} examined, {} unrouted",
            self.posts_examined,
            if self.posts_examined == 1 { "" } else { "s" },
            self.unrouted
        )
    }
}

/// Route every portal post the store has seen under `mapping`'s routes;
/// `None` when the mapping has no `[[routes]]` (the config's
/// `create_in_linear_when` decides alone). A route naming no team means
/// the configured team, as the engine last recorded it.
pub fn route_preview(
    db: Db<'_>,
    mapping: &Mapping,
    limit: usize,
) -> Result<Option<RoutePreview>, StoreError> {
    if mapping.routes.is_empty() {
        return Ok(None);
    }
    let default_team = db.meta(meta_keys::LINEAR_TEAM)?.unwrap_or_default();
    let default_team = default_team.as_str();
    let routes = &mapping.routes;
    let mut out = RoutePreview::default();
    let mut window = Window::first(PAGE);
    loop {
        let page = db.records(Side::Portal, window)?;
        let Some(last) = page.last() else { break };
        window = window.after(last.id);
        for stored in &page {
            if stored.deleted_at.is_some() || stored.record.deleted {
                continue;
            }
            let post = &stored.record;
            out.posts_examined += 1;
            let routing = route_post(routes, post);
            let link = db
                .link_by_remote(Side::Portal, &post.remote_id)?
                .filter(|l| l.state == LinkState::Active);
            let (verdict, why) = match link {
                Some(link) => {
                    let placed = db.link_route(link.id)?.unwrap_or_default();
                    match reroute(routes, post, &placed, default_team) {
                        Reroute::Stay => (RouteVerdict::Stays, routing.explain()),
                        Reroute::Relabel { why, .. } => (RouteVerdict::Relabel, why),
                        Reroute::Move { why, .. } => (RouteVerdict::Move, why),
                        Reroute::Ask { why, .. } => (RouteVerdict::Ask, why),
                    }
                }
                None => match admit(routes, post) {
                    Admission::Held => (
                        RouteVerdict::Held,
                        "held by its board for moderation: not synced until approved".into(),
                    ),
                    Admission::Unrouted { why } => {
                        (RouteVerdict::Unrouted, format!("matches no route: {why}"))
                    }
                    Admission::Waiting { why, .. } => (RouteVerdict::Waiting, why),
                    Admission::Create { why, .. } => (RouteVerdict::Create, why),
                },
            };
            if verdict == RouteVerdict::Unrouted {
                out.unrouted += 1;
            }
            if out.rows.len() < limit {
                out.rows.push(RouteRow {
                    portal_id: post.remote_id.clone(),
                    title: post.title.clone(),
                    route: routing.name().map(str::to_string),
                    verdict,
                    why,
                });
            }
        }
    }
    Ok(Some(out))
}
