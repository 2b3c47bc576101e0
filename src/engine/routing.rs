//! Routing in the engine: a portal post without an issue is admitted by
//! the route table (held posts are skipped, unrouted ones noted for
//! `status` and the console, approved ones created where their route
//! says); a linked post that comes to match another route has its issue
//! moved or a conflict opened — never a second issue, whichever read
//! stored the post's new routing (every sync of a link the engine acts on
//! decides its route again). The decisions are
//! the pure core's (`sync::admit`, `sync::reroute`); this module stores
//! and enqueues what they say, inside the caller's transaction.

use chrono::{DateTime, Utc};

use crate::domain::{Actor, AuditAction, FieldValue, Placement, Record, Side, Update};
use crate::store::Result as StoreResult;
use crate::store::{Conflict, Db, Lane, Level, Link, LinkState, NewAudit, NewConflict, Resolution};
use crate::sync::{
    Admission, Placed, Reroute, Route, admit, effective_routes, place_create, plan_create, reroute,
};

use super::link_sync::{Applied, Histories, MergeSettings, enqueue, sync_link};
use super::payload::JobPayload;
use super::records::Rules;

/// The field name re-route conflicts are opened under.
pub const ROUTE_FIELD: &str = "route";

fn routes_of(merge: &MergeSettings, rules: &Rules) -> Vec<Route> {
    effective_routes(&merge.mapping.routes, &rules.create_in_linear)
}

/// A portal post with no link: create its issue if its route approves it.
pub fn admit_post(
    db: Db<'_>,
    merge: &MergeSettings,
    rules: &Rules,
    record: &Record,
    lane: Lane,
) -> StoreResult<Applied> {
    let routes = routes_of(merge, rules);
    let (route_name, why, placement) = match admit(&routes, record) {
        Admission::Held => {
            db.clear_unrouted(&record.remote_id)?;
            return Ok(Applied::default());
        }
        Admission::Unrouted { why } => {
            if db.mark_unrouted(&record.remote_id, &record.title, &why)? {
                db.log_event(
                    Level::Warn,
                    "routing",
                    &format!("portal post '{}' matches no route: {why}", record.title),
                )?;
            }
            return Ok(Applied::default());
        }
        Admission::Waiting { .. } => {
            db.clear_unrouted(&record.remote_id)?;
            return Ok(Applied::default());
        }
        Admission::Create {
            route,
            why,
            placement,
        } => (route, why, placement),
    };
    db.clear_unrouted(&record.remote_id)?;
    let Some(route) = routes.iter().find(|r| r.name == route_name) else {
        return Ok(Applied::default());
    };
    let client_id = uuid::Uuid::new_v4();
    let mut planned = plan_create(&merge.mapping, record, Side::Portal, client_id);
    place_create(&mut planned, route);
    let client = client_id.to_string();
    let link_id = db.insert_link(
        Some(&record.remote_id),
        None,
        Some(&client),
        crate::store::LinkState::Pending,
        &record.title,
        &std::collections::BTreeMap::new(),
    )?;
    let placed = Placed {
        route: route.name.clone(),
        team: placement.team.clone(),
        project: placement.project.clone(),
    };
    db.set_link_route(link_id, &placed)?;
    let reason = format!(
        "portal post '{}': {why}: creating the Linear issue in {}",
        record.title,
        placement_or_default(&placement, rules)
    );
    let mut new = planned.to_new_record();
    if placement != Placement::default() {
        new.placement = Some(placement);
    }
    let payload = JobPayload::Create {
        record: new,
        base: planned.base.clone(),
    };
    enqueue(db, merge, link_id, Side::Linear, &payload, &reason, lane)?;
    db.append_audit(&NewAudit {
        link_id: Some(link_id),
        side: Some(Side::Linear),
        after: Some(placed.describe()),
        reason: reason.clone(),
        ..NewAudit::new(Actor::Engine, AuditAction::Route)
    })?;
    db.append_audit(&NewAudit {
        link_id: Some(link_id),
        side: Some(Side::Linear),
        reason,
        ..NewAudit::new(Actor::Engine, AuditAction::PlanCreate)
    })?;
    Ok(Applied {
        jobs: 1,
        ..Applied::default()
    })
}

fn placement_or_default(p: &Placement, rules: &Rules) -> String {
    let team = p.team.as_deref().unwrap_or(&rules.default_team);
    let mut out = format!("team {team}");
    if let Some(project) = &p.project {
        out.push_str(&format!(", project {project}"));
    }
    if let Some(a) = &p.assignee {
        out.push_str(&format!(", assigned to {a}"));
    }
    out
}

/// Merge a link the engine acts on, after deciding its route again from
/// the stored post. Canny sends no webhook for a board or category change,
/// and the read that stores such a change need not be one that acts on the
/// post (the refresh of a linked post when its issue is read, a write's
/// re-read): the next listing then finds the post unchanged. Deciding the
/// route on every sync of the link, from what is stored, leaves no path by
/// which a re-route is missed; a route that still holds costs nothing.
pub fn sync_routed_link(
    db: Db<'_>,
    merge: &MergeSettings,
    rules: &Rules,
    histories: &mut Histories,
    link: &Link,
    lane: Lane,
    now: DateTime<Utc>,
) -> StoreResult<Applied> {
    let routed = route_stored_post(db, merge, rules, link, lane)?;
    let merged = sync_link(db, merge, histories, link, lane, now)?;
    Ok(routed.and(merged))
}

/// Re-route an active link by its stored post. A held post is not public
/// (nothing of it syncs) and a deleted one is the delete policy's.
fn route_stored_post(
    db: Db<'_>,
    merge: &MergeSettings,
    rules: &Rules,
    link: &Link,
    lane: Lane,
) -> StoreResult<Applied> {
    if merge.mapping.routes.is_empty() || link.state != LinkState::Active {
        return Ok(Applied::default());
    }
    let Some(portal_id) = &link.portal_id else {
        return Ok(Applied::default());
    };
    let Some(stored) = db.record(Side::Portal, portal_id)? else {
        return Ok(Applied::default());
    };
    if stored.record.held || stored.record.deleted || stored.deleted_at.is_some() {
        return Ok(Applied::default());
    }
    reroute_link(db, merge, rules, link, &stored.record, lane)
}

/// A linked post whose routing may have changed (board, category, tags,
/// status, votes): move its issue, open a conflict, or just record the new
/// route.
fn reroute_link(
    db: Db<'_>,
    merge: &MergeSettings,
    rules: &Rules,
    link: &Link,
    post: &Record,
    lane: Lane,
) -> StoreResult<Applied> {
    let mut applied = Applied::default();
    if merge.mapping.routes.is_empty() {
        return Ok(applied);
    }
    let routes = routes_of(merge, rules);
    let Some(current) = db.link_route(link.id)? else {
        // A link made before routing (or adopted): recorded under the
        // route that takes it now, where its issue is.
        if let Some(name) = crate::sync::route_post(&routes, post).name() {
            let team = match &link.linear_id {
                Some(id) => db.record(Side::Linear, id)?.and_then(|r| r.record.team),
                None => None,
            };
            db.set_link_route(
                link.id,
                &Placed {
                    route: name.to_string(),
                    team,
                    project: None,
                },
            )?;
        }
        return Ok(applied);
    };
    let audit = |reason: &str, before: &Placed, after: &Placed| NewAudit {
        link_id: Some(link.id),
        side: Some(Side::Linear),
        field: Some(ROUTE_FIELD.into()),
        before: Some(before.describe()),
        after: Some(after.describe()),
        reason: reason.to_string(),
        ..NewAudit::new(Actor::Engine, AuditAction::Reroute)
    };
    match reroute(&routes, post, &current, &rules.default_team) {
        Reroute::Stay => {}
        Reroute::Relabel { to, why } => {
            db.set_link_route(link.id, &to)?;
            db.append_audit(&audit(&why, &current, &to))?;
        }
        Reroute::Move {
            from,
            to,
            placement,
            why,
        } => {
            let Some(issue) = link.linear_id.clone() else {
                return Ok(applied);
            };
            let reason = format!(
                "portal post '{}' re-routed: {why}: moving the issue to {}",
                post.title,
                placement_or_default(&placement, rules)
            );
            enqueue_move(db, merge, link.id, issue, placement, &reason, lane)?;
            db.set_link_route(link.id, &to)?;
            db.append_audit(&audit(&reason, &from, &to))?;
            db.log_event(Level::Info, "routing", &reason)?;
            applied.jobs = 1;
        }
        Reroute::Ask { from, to, why } => {
            let open = db
                .open_conflicts_for_link(link.id)?
                .into_iter()
                .any(|c| c.field == ROUTE_FIELD);
            if open {
                return Ok(applied);
            }
            db.open_conflict(&NewConflict {
                link_id: link.id,
                field: ROUTE_FIELD.into(),
                base: FieldValue::Text(from.describe()),
                portal: FieldValue::Text(to.describe()),
                linear: FieldValue::Text(from.describe()),
                portal_changed_at: None,
                linear_changed_at: None,
            })?;
            let reason = format!(
                "portal post '{}' now matches another route: {why}; take the portal side to move the issue, Linear to leave it",
                post.title
            );
            db.append_audit(&audit(&reason, &from, &to))?;
            db.log_event(Level::Warn, "routing", &reason)?;
            applied.conflicts = 1;
        }
    }
    Ok(applied)
}

fn enqueue_move(
    db: Db<'_>,
    merge: &MergeSettings,
    link_id: i64,
    issue: String,
    placement: Placement,
    reason: &str,
    lane: Lane,
) -> StoreResult<i64> {
    let payload = JobPayload::Update {
        remote_id: issue,
        update: Update {
            placement: Some(placement),
            ..Update::default()
        },
        base: std::collections::BTreeMap::new(),
        expect: std::collections::BTreeMap::new(),
        carried_by: std::collections::BTreeMap::new(),
        source: None,
    };
    enqueue(db, merge, link_id, Side::Linear, &payload, reason, lane)
}

/// An operator decided a re-route conflict: the portal side moves the
/// issue where the post's route says now; Linear (or base) leaves it
/// where it is, recorded under the new route so it is not asked again.
pub fn apply_route_resolution(
    db: Db<'_>,
    merge: &MergeSettings,
    rules: &Rules,
    c: &Conflict,
    link: &Link,
) -> StoreResult<String> {
    let routes = routes_of(merge, rules);
    let post = match &link.portal_id {
        Some(id) => db.record(Side::Portal, id)?.map(|r| r.record),
        None => None,
    };
    let (Some(post), Some(current)) = (post, db.link_route(link.id)?) else {
        return Ok("nothing to apply: the post or its placement is gone".into());
    };
    let routing = crate::sync::route_post(&routes, &post);
    let Some(route) = routing.index().and_then(|i| routes.get(i)) else {
        return Ok("nothing to apply: no route takes the post any more".into());
    };
    let to = Placed {
        route: route.name.clone(),
        team: route.target.team.clone(),
        project: route.target.project.clone(),
    };
    if matches!(c.resolution, Some(Resolution::Portal)) {
        let Some(issue) = link.linear_id.clone() else {
            return Ok("nothing to apply: the link has no issue".into());
        };
        let placement = route.target.placement();
        let reason = format!(
            "operator moved the issue to {} (route '{}')",
            placement_or_default(&placement, rules),
            route.name
        );
        enqueue_move(db, merge, link.id, issue, placement, &reason, Lane::Live)?;
        db.set_link_route(link.id, &to)?;
        return Ok(reason);
    }
    let stays = Placed {
        route: route.name.clone(),
        ..current
    };
    db.set_link_route(link.id, &stays)?;
    Ok(format!(
        "operator left the issue where it is ({}), now under route '{}'",
        placement_or_default(
            &Placement {
                team: stays.team.clone(),
                project: stays.project.clone(),
                assignee: None,
            },
            rules
        ),
        route.name
    ))
}

/// A linked issue reached a completed state: once per link, close the loop
/// its route asks for (a comment on the post, a place in the changelog).
pub fn maybe_ship(
    db: Db<'_>,
    merge: &MergeSettings,
    link: &Link,
    issue: &Record,
) -> StoreResult<Applied> {
    let mut applied = Applied::default();
    if issue.status_type.as_deref() != Some("completed") {
        return Ok(applied);
    }
    let Some(placed) = db.link_route(link.id)? else {
        return Ok(applied);
    };
    let Some(route) = merge
        .mapping
        .routes
        .iter()
        .find(|r| r.name.eq_ignore_ascii_case(&placed.route))
    else {
        return Ok(applied);
    };
    if route.close.is_empty() {
        return Ok(applied);
    }
    let Some(post_id) = link.portal_id.clone() else {
        return Ok(applied);
    };
    if !db.mark_link_shipped(link.id)? {
        return Ok(applied);
    }
    let post = db.record(Side::Portal, &post_id)?.map(|r| r.record);
    let payload = JobPayload::Ship {
        post_title: post
            .as_ref()
            .map_or_else(|| link.title.clone(), |p| p.title.clone()),
        post_url: post.and_then(|p| p.url),
        post_id,
        issue_id: issue.remote_id.clone(),
        route: route.name.clone(),
        comment: route.close.comment.clone(),
        changelog: route.close.changelog.clone(),
    };
    let reason = format!(
        "'{}' shipped ({}): closing the loop of route '{}'",
        link.title,
        issue.identifier.as_deref().unwrap_or(&issue.remote_id),
        route.name
    );
    enqueue(
        db,
        merge,
        link.id,
        Side::Portal,
        &payload,
        &reason,
        Lane::Live,
    )?;
    applied.jobs = 1;
    Ok(applied)
}
