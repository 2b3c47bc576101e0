//! What routing decides for the engine, as pure functions over the route
//! table: whether a portal post without an issue is held, unrouted,
//! waiting for its route's gate or to be created (and where), what a
//! create carries from its route, and whether a post whose issue exists
//! now belongs elsewhere (a re-route: move the issue, or ask).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::domain::{FieldValue, Placement, Record};

use super::create::PlannedCreate;
use super::routing::{ReroutePolicy, Route, RouteTarget, Routing, route_post};

/// What happens to a portal post that has no issue yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum Admission {
    /// A moderating board holds the post for approval: nothing of it is
    /// synced until the portal shows it.
    Held,
    /// No route takes the post: shown as unrouted, never silently dropped.
    Unrouted {
        /// Why each route passed it by.
        why: String,
    },
    /// A route takes it, but its gate has not approved it yet.
    Waiting {
        /// The route.
        route: String,
        /// Which keys matched, and what the gate waits for.
        why: String,
    },
    /// Create its issue where the route says.
    Create {
        /// The route.
        route: String,
        /// Which keys matched, and why it is approved.
        why: String,
        /// Team, project and assignee.
        placement: Placement,
    },
}

impl RouteTarget {
    /// The team, project and assignee this target names.
    pub fn placement(&self) -> Placement {
        Placement {
            team: self.team.clone(),
            project: self.project.clone(),
            assignee: self.assignee.clone(),
        }
    }
}

/// Decide what to do with a portal post that has no issue yet.
pub fn admit(routes: &[Route], post: &Record) -> Admission {
    if post.held {
        return Admission::Held;
    }
    let routing = route_post(routes, post);
    match (&routing, routing.index().and_then(|i| routes.get(i))) {
        (Routing::Routed { approved: true, .. }, Some(route)) => Admission::Create {
            route: route.name.clone(),
            why: routing.explain(),
            placement: route.target.placement(),
        },
        (Routing::Routed { name, .. }, _) => Admission::Waiting {
            route: name.clone(),
            why: routing.explain(),
        },
        (Routing::Unrouted { why }, _) => Admission::Unrouted { why: why.clone() },
    }
}

/// Put a route's choices on a planned create: its placement, its labels
/// (added to the post's tags) and its priority (over the mapping's).
pub fn place_create(create: &mut PlannedCreate, route: &Route) {
    if !route.target.labels.is_empty() {
        let mut labels: BTreeSet<String> = match create.fields.get("labels") {
            Some(FieldValue::Set(s)) => s.clone(),
            _ => BTreeSet::new(),
        };
        for l in &route.target.labels {
            if !labels.iter().any(|have| have.eq_ignore_ascii_case(l)) {
                labels.insert(l.clone());
            }
        }
        create
            .fields
            .insert("labels".into(), FieldValue::Set(labels));
    }
    if let Some(p) = route.target.priority {
        create
            .fields
            .insert("priority".into(), FieldValue::Number(p));
    }
}

/// Where a link's issue was put, as the store remembers it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placed {
    /// The route that put it there.
    pub route: String,
    /// Team key (`None`: the configured team).
    pub team: Option<String>,
    /// Project name.
    pub project: Option<String>,
}

impl Placed {
    /// "API bugs → PLAT / Reliability".
    pub fn describe(&self) -> String {
        let p = Placement {
            team: self.team.clone(),
            project: self.project.clone(),
            assignee: None,
        };
        format!("{} → {}", self.route, p.describe())
    }
}

/// What a linked post's current routing means for its issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum Reroute {
    /// Same route (or no route takes it any more: the issue stays where it
    /// is, it is never dropped or duplicated).
    Stay,
    /// Another route, with the same team and project: only the route the
    /// link is recorded under changes.
    Relabel {
        /// Where it is now, under the new route's name.
        to: Placed,
        /// Why.
        why: String,
    },
    /// Another route with another team or project, whose policy moves it.
    Move {
        /// Where it was.
        from: Placed,
        /// Where it goes.
        to: Placed,
        /// The team, project and assignee to move the issue to.
        placement: Placement,
        /// Why.
        why: String,
    },
    /// Another route with another team or project, whose policy asks an
    /// operator first.
    Ask {
        /// Where it is.
        from: Placed,
        /// Where the new route would put it.
        to: Placed,
        /// Why.
        why: String,
    },
}

fn same_key(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.trim().eq_ignore_ascii_case(b.trim()),
        (None, None) => true,
        _ => false,
    }
}

/// Decide whether a linked post now belongs to another route. `current`
/// is where its issue was placed; `default_team` is the configured team
/// (what a route naming no team means), so naming it explicitly is not a
/// move.
pub fn reroute(routes: &[Route], post: &Record, current: &Placed, default_team: &str) -> Reroute {
    let routing = route_post(routes, post);
    let Some(route) = routing.index().and_then(|i| routes.get(i)) else {
        return Reroute::Stay;
    };
    if route.name.eq_ignore_ascii_case(&current.route) {
        return Reroute::Stay;
    }
    let team = |t: Option<&str>| t.unwrap_or(default_team).to_string();
    let to = Placed {
        route: route.name.clone(),
        team: route.target.team.clone(),
        project: route.target.project.clone(),
    };
    let same_place = same_key(
        Some(&team(current.team.as_deref())),
        Some(&team(to.team.as_deref())),
    ) && same_key(current.project.as_deref(), to.project.as_deref());
    let why = format!(
        "{}; it was placed by route '{}'",
        routing.explain(),
        current.route
    );
    if same_place {
        return Reroute::Relabel { to, why };
    }
    match route.reroute {
        ReroutePolicy::Move => Reroute::Move {
            from: current.clone(),
            placement: route.target.placement(),
            to,
            why,
        },
        ReroutePolicy::Ask => Reroute::Ask {
            from: current.clone(),
            to,
            why,
        },
    }
}
