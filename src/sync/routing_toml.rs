//! Rendering routes back into the mapping document, one `[[routes]]` table
//! each with inline tables, in the shape the README documents, so
//! `Mapping::parse(m.to_toml())` gives the routes back.

use std::fmt::Write as _;

use super::routing::{
    ChangelogRule, DEFAULT_CHANGELOG_TITLE, ReroutePolicy, Route, RouteTarget, RouteWhen,
};

fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn names(v: &[String]) -> String {
    match v {
        [one] => q(one),
        many => format!(
            "[{}]",
            many.iter().map(|s| q(s)).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn inline(parts: Vec<String>) -> String {
    if parts.is_empty() {
        "{}".into()
    } else {
        format!("{{ {} }}", parts.join(", "))
    }
}

fn when(w: &RouteWhen) -> String {
    let mut parts = Vec::new();
    for (key, list) in [
        ("board", &w.board),
        ("category", &w.category),
        ("tags", &w.tags),
        ("status", &w.status),
    ] {
        if !list.is_empty() {
            parts.push(format!("{key} = {}", names(list)));
        }
    }
    if let Some(v) = &w.votes {
        let mut range = Vec::new();
        if let Some(a) = v.at_least {
            range.push(format!("at_least = {a}"));
        }
        if let Some(b) = v.below {
            range.push(format!("below = {b}"));
        }
        parts.push(format!("votes = {}", inline(range)));
    }
    inline(parts)
}

fn target(t: &RouteTarget) -> String {
    let mut parts = Vec::new();
    if let Some(team) = &t.team {
        parts.push(format!("team = {}", q(team)));
    }
    if !t.labels.is_empty() {
        let list: Vec<String> = t.labels.iter().map(|s| q(s)).collect();
        parts.push(format!("labels = [{}]", list.join(", ")));
    }
    if let Some(a) = &t.assignee {
        parts.push(format!("assignee = {}", q(a)));
    }
    if let Some(p) = &t.project {
        parts.push(format!("project = {}", q(p)));
    }
    if let Some(p) = t.priority {
        parts.push(format!("priority = {p}"));
    }
    inline(parts)
}

fn changelog(c: &ChangelogRule) -> String {
    let mut parts = vec![
        format!("per = {}", q(c.per.as_str())),
        format!("publish = {}", c.publish),
    ];
    if c.title != DEFAULT_CHANGELOG_TITLE {
        parts.push(format!("title = {}", q(&c.title)));
    }
    if let Some(k) = c.kind {
        parts.push(format!("type = {}", q(k.as_str())));
    }
    inline(parts)
}

/// Append the routes to a rendered mapping document.
pub(super) fn render_routes(out: &mut String, routes: &[Route]) {
    if routes.is_empty() {
        return;
    }
    out.push_str(
        "\n# Routes, in order: the first route whose `when` takes a post decides where its\n\
         # issue goes; `approve` is the route's gate (which posts become Linear issues).\n",
    );
    for r in routes {
        out.push('\n');
        let _ = writeln!(out, "[[routes]]");
        let _ = writeln!(out, "name = {}", q(&r.name));
        let _ = writeln!(out, "when = {}", when(&r.when));
        let mut approve = Vec::new();
        if !r.approve.status.is_empty() {
            approve.push(format!("status = {}", names(&r.approve.status)));
        }
        if !r.approve.tags.is_empty() {
            approve.push(format!("tags = {}", names(&r.approve.tags)));
        }
        let _ = writeln!(out, "approve = {}", inline(approve));
        let _ = writeln!(out, "linear = {}", target(&r.target));
        if r.reroute != ReroutePolicy::Ask {
            let _ = writeln!(out, "reroute = {}", q(r.reroute.as_str()));
        }
        let mut close = Vec::new();
        if let Some(c) = &r.close.comment {
            close.push(format!("comment = {}", q(c)));
        }
        if let Some(c) = &r.close.changelog {
            close.push(format!("changelog = {}", changelog(c)));
        }
        if !close.is_empty() {
            let _ = writeln!(out, "close = {}", inline(close));
        }
    }
}
