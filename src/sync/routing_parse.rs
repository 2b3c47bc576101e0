//! Reading `[[routes]]` from the mapping document and checking each route
//! on its own and against the routes above it, every error at its line:
//! unknown keys, empty names, a gate that approves nothing, a priority
//! Linear does not have, template placeholders nothing fills in, and a
//! route no post can ever reach (first match wins, so a route below a
//! catch-all, or below a route with the same `when`, is dead).

use serde::Deserialize;
use toml::Spanned;

use super::create::CreateRule;
use super::mapping_parse::Ctx;
use super::routing::{
    COMMENT_PLACEHOLDERS, ChangelogGroup, ChangelogRule, CloseLoop, DEFAULT_CHANGELOG_TITLE,
    EntryType, ReroutePolicy, Route, RouteTarget, RouteWhen, TITLE_PLACEHOLDERS, VoteRange,
    placeholders,
};

type S<T> = Spanned<T>;

/// A name or a list of names (`board = "Bugs"` or `board = ["Bugs", "Ideas"]`).
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRoute {
    name: Option<S<String>>,
    when: Option<S<RawWhen>>,
    approve: Option<S<RawApprove>>,
    linear: Option<S<RawTarget>>,
    reroute: Option<S<ReroutePolicy>>,
    close: Option<S<RawClose>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWhen {
    board: Option<S<OneOrMany>>,
    category: Option<S<OneOrMany>>,
    tags: Option<S<OneOrMany>>,
    status: Option<S<OneOrMany>>,
    votes: Option<S<VoteRange>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApprove {
    status: Option<S<OneOrMany>>,
    tags: Option<S<OneOrMany>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    team: Option<S<String>>,
    project: Option<S<String>>,
    labels: Option<S<OneOrMany>>,
    assignee: Option<S<String>>,
    priority: Option<S<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClose {
    comment: Option<S<String>>,
    changelog: Option<S<RawChangelog>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChangelog {
    per: S<ChangelogGroup>,
    publish: Option<bool>,
    title: Option<S<String>>,
    #[serde(rename = "type")]
    kind: Option<EntryType>,
}

/// Names from a one-or-many value, each checked non-empty.
fn names(ctx: &mut Ctx<'_>, path: &str, raw: Option<&S<OneOrMany>>) -> Vec<String> {
    let Some(raw) = raw else {
        return Vec::new();
    };
    let line = ctx.line(raw);
    ctx.lines.insert(path.to_string(), line);
    let list = match raw.get_ref() {
        OneOrMany::One(s) => vec![s.clone()],
        OneOrMany::Many(v) => v.clone(),
    };
    if list.is_empty() {
        ctx.err(
            line,
            format!("{path}: an empty list matches nothing; leave the key out instead"),
        );
    }
    for n in &list {
        if n.trim().is_empty() {
            ctx.err(line, format!("{path}: names must not be empty"));
        }
    }
    list
}

/// Build every route; errors go into `ctx`.
pub(super) fn build_routes(ctx: &mut Ctx<'_>, raw: &[S<RawRoute>]) -> Vec<Route> {
    let mut out: Vec<(Route, usize)> = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        if let Some(route) = build_route(ctx, i, r) {
            let line = ctx.lines.get(&format!("routes.{i}")).copied().unwrap_or(1);
            check_reachable(ctx, &out, &route, line);
            out.push((route, line));
        }
    }
    out.into_iter().map(|(r, _)| r).collect()
}

fn build_route(ctx: &mut Ctx<'_>, i: usize, raw: &S<RawRoute>) -> Option<Route> {
    let r = raw.get_ref();
    let path = format!("routes[{}]", i + 1);
    let header = r
        .name
        .as_ref()
        .map_or_else(|| ctx.line(raw), |n| ctx.line(n));
    ctx.lines.insert(format!("routes.{i}"), header);
    let name = match &r.name {
        Some(n) if !n.get_ref().trim().is_empty() => n.get_ref().trim().to_string(),
        _ => {
            ctx.err(
                header,
                format!(
                    "{path}: every route needs a name (name = \"…\"), shown in previews, the timeline and conflicts"
                ),
            );
            return None;
        }
    };
    let path = format!("route '{name}'");
    let when = r
        .when
        .as_ref()
        .map(|w| build_when(ctx, i, &path, w))
        .unwrap_or_default();
    let approve = match &r.approve {
        Some(a) => build_approve(ctx, i, &path, a),
        None => {
            ctx.err(
                header,
                format!(
                    "{path}: needs approve = {{ status = [...] }} (or tags): which of its posts become Linear issues"
                ),
            );
            CreateRule::default()
        }
    };
    let target = r
        .linear
        .as_ref()
        .map(|t| build_target(ctx, i, &path, t))
        .unwrap_or_default();
    let close = r
        .close
        .as_ref()
        .map(|c| build_close(ctx, i, &path, c))
        .unwrap_or_default();
    Some(Route {
        name,
        when,
        approve,
        target,
        reroute: r
            .reroute
            .as_ref()
            .map_or(ReroutePolicy::Ask, |p| *p.get_ref()),
        close,
    })
}

fn build_when(ctx: &mut Ctx<'_>, i: usize, path: &str, raw: &S<RawWhen>) -> RouteWhen {
    let w = raw.get_ref();
    let key = |k: &str| format!("routes.{i}.when.{k}");
    let votes = w.votes.as_ref().map(|v| {
        let line = ctx.line(v);
        ctx.lines.insert(key("votes"), line);
        let range = *v.get_ref();
        if range.at_least.is_some_and(|a| a < 0) {
            ctx.err(
                line,
                format!("{path}: when.votes.at_least must not be negative"),
            );
        }
        if let (Some(a), Some(b)) = (range.at_least, range.below)
            && b <= a
        {
            ctx.err(
                line,
                format!("{path}: when.votes.below ({b}) must be above at_least ({a})"),
            );
        }
        range
    });
    RouteWhen {
        board: names(ctx, &key("board"), w.board.as_ref()),
        category: names(ctx, &key("category"), w.category.as_ref()),
        tags: names(ctx, &key("tags"), w.tags.as_ref()),
        status: names(ctx, &key("status"), w.status.as_ref()),
        votes,
    }
}

fn build_approve(ctx: &mut Ctx<'_>, i: usize, path: &str, raw: &S<RawApprove>) -> CreateRule {
    let a = raw.get_ref();
    let line = ctx.line(raw);
    let rule = CreateRule {
        status: names(
            ctx,
            &format!("routes.{i}.approve.status"),
            a.status.as_ref(),
        ),
        tags: names(ctx, &format!("routes.{i}.approve.tags"), a.tags.as_ref()),
    };
    if rule.status.is_empty() && rule.tags.is_empty() {
        ctx.err(
            line,
            format!(
                "{path}: approve names no status and no tag, so none of its posts would ever become a Linear issue"
            ),
        );
    }
    rule
}

fn build_target(ctx: &mut Ctx<'_>, i: usize, path: &str, raw: &S<RawTarget>) -> RouteTarget {
    let t = raw.get_ref();
    let text = |ctx: &mut Ctx<'_>, key: &str, v: &Option<S<String>>| -> Option<String> {
        let v = v.as_ref()?;
        let line = ctx.line(v);
        ctx.lines.insert(format!("routes.{i}.linear.{key}"), line);
        let s = v.get_ref().trim().to_string();
        if s.is_empty() {
            ctx.err(
                line,
                format!("{path}: linear.{key} must not be empty (leave it out for the default)"),
            );
            return None;
        }
        Some(s)
    };
    let team = text(ctx, "team", &t.team);
    let project = text(ctx, "project", &t.project);
    let assignee = text(ctx, "assignee", &t.assignee);
    if let (Some(a), Some(v)) = (&assignee, &t.assignee)
        && !a.contains('@')
    {
        let line = ctx.line(v);
        ctx.err(
            line,
            format!("{path}: linear.assignee '{a}' is not an email; name the Linear user by email"),
        );
    }
    let priority = t.priority.as_ref().map(|p| {
        let line = ctx.line(p);
        let v = *p.get_ref();
        if !(0..=4).contains(&v) {
            ctx.err(
                line,
                format!(
                    "{path}: linear.priority {v} is not a Linear priority (0 none, 1 urgent … 4 low)"
                ),
            );
        }
        v
    });
    RouteTarget {
        team,
        project,
        labels: names(ctx, &format!("routes.{i}.linear.labels"), t.labels.as_ref()),
        assignee,
        priority,
    }
}

/// Refuse placeholders nothing fills in.
fn check_placeholders(ctx: &mut Ctx<'_>, line: usize, what: &str, text: &str, allowed: &[&str]) {
    for p in placeholders(text) {
        if !allowed.contains(&p.as_str()) {
            ctx.err(
                line,
                format!(
                    "{what}: '{{{p}}}' is not a placeholder (available: {})",
                    allowed
                        .iter()
                        .map(|a| format!("{{{a}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
    }
}

fn build_close(ctx: &mut Ctx<'_>, i: usize, path: &str, raw: &S<RawClose>) -> CloseLoop {
    let c = raw.get_ref();
    let comment = c.comment.as_ref().and_then(|t| {
        let line = ctx.line(t);
        ctx.lines.insert(format!("routes.{i}.close.comment"), line);
        let text = t.get_ref().clone();
        if text.trim().is_empty() {
            ctx.err(
                line,
                format!("{path}: close.comment is empty; leave it out for no comment"),
            );
            return None;
        }
        check_placeholders(
            ctx,
            line,
            &format!("{path}: close.comment"),
            &text,
            &COMMENT_PLACEHOLDERS,
        );
        Some(text)
    });
    let changelog = c.changelog.as_ref().map(|raw| {
        let line = ctx.line(raw);
        ctx.lines
            .insert(format!("routes.{i}.close.changelog"), line);
        let ch = raw.get_ref();
        let per = *ch.per.get_ref();
        let title = ch
            .title
            .as_ref()
            .map_or(DEFAULT_CHANGELOG_TITLE.to_string(), |t| t.get_ref().clone());
        let title_line = ch.title.as_ref().map_or(line, |t| ctx.line(t));
        if title.trim().is_empty() {
            ctx.err(
                title_line,
                format!("{path}: close.changelog.title must not be empty"),
            );
        }
        let allowed: Vec<&str> = TITLE_PLACEHOLDERS
            .iter()
            .copied()
            .filter(|p| *p == "group" || *p == per.as_str())
            .collect();
        check_placeholders(
            ctx,
            title_line,
            &format!(
                "{path}: close.changelog.title (one entry per {})",
                per.as_str()
            ),
            &title,
            &allowed,
        );
        ChangelogRule {
            per,
            publish: ch.publish.unwrap_or(false),
            title,
            kind: ch.kind,
        }
    });
    CloseLoop { comment, changelog }
}

/// First match wins: a route below a catch-all, or below a route with the
/// same `when`, can never take a post.
fn check_reachable(ctx: &mut Ctx<'_>, above: &[(Route, usize)], route: &Route, line: usize) {
    let shadow = above
        .iter()
        .find(|(r, _)| r.when.is_catch_all() || same_when(&r.when, &route.when));
    if let Some((r, at)) = shadow {
        let why = if r.when.is_catch_all() {
            "takes every post"
        } else {
            "has the same `when`"
        };
        ctx.err(
            line,
            format!(
                "route '{}' can never match: route '{}' (line {at}) above it {why}, and the first match wins; move it up or narrow the other",
                route.name, r.name
            ),
        );
    }
    if let Some((r, at)) = above
        .iter()
        .find(|(r, _)| r.name.eq_ignore_ascii_case(&route.name))
    {
        ctx.err(
            line,
            format!(
                "route '{}': the name is already used by the route at line {at} ('{}'); names must be unique",
                route.name, r.name
            ),
        );
    }
}

fn lower(v: &[String]) -> Vec<String> {
    let mut out: Vec<String> = v.iter().map(|s| s.trim().to_lowercase()).collect();
    out.sort();
    out.dedup();
    out
}

fn same_when(a: &RouteWhen, b: &RouteWhen) -> bool {
    lower(&a.board) == lower(&b.board)
        && lower(&a.category) == lower(&b.category)
        && lower(&a.tags) == lower(&b.tags)
        && lower(&a.status) == lower(&b.status)
        && a.votes == b.votes
}
