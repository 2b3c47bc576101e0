//! Routing: which Linear team (and project, labels, assignee, priority) a
//! portal post belongs to, decided by an ordered table of routes in the
//! mapping document — first match wins — and each route's approval gate
//! (which of its posts become Linear issues). Pure: the engine, `mapping
//! preview` and the console's dry run all ask the same question here and
//! get the same answer with the same explanation.
//!
//! The route model is portal-generic: a route matches on board, category
//! (a product area), tags, status and votes, whatever the portal calls
//! them; a portal without boards or categories leaves those empty, so
//! routes on tags work everywhere.

use serde::{Deserialize, Serialize};

use crate::domain::Record;

use super::create::CreateRule;

/// Which posts a route takes. Every key given must match; a list means
/// "any of"; names compare without regard to case. Nothing given matches
/// every post.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteWhen {
    /// Board names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub board: Vec<String>,
    /// Category (product area) names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub category: Vec<String>,
    /// Tags: the post carries at least one of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Portal statuses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub status: Vec<String>,
    /// A vote range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub votes: Option<VoteRange>,
}

/// A range of vote counts: `at_least <= votes < below`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoteRange {
    /// Lowest count included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_least: Option<i64>,
    /// First count excluded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below: Option<i64>,
}

impl VoteRange {
    fn contains(&self, votes: i64) -> bool {
        self.at_least.is_none_or(|a| votes >= a) && self.below.is_none_or(|b| votes < b)
    }

    fn describe(&self) -> String {
        match (self.at_least, self.below) {
            (Some(a), Some(b)) => format!("{a} to {} votes", b - 1),
            (Some(a), None) => format!("at least {a} votes"),
            (None, Some(b)) => format!("fewer than {b} votes"),
            (None, None) => "any vote count".into(),
        }
    }
}

impl RouteWhen {
    /// True when no key is given: the route takes every post.
    pub fn is_catch_all(&self) -> bool {
        self.board.is_empty()
            && self.category.is_empty()
            && self.tags.is_empty()
            && self.status.is_empty()
            && self.votes.is_none()
    }
}

/// Where a routed post's issue goes in Linear. `team: None` is the team of
/// `[linear] team` in the config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteTarget {
    /// Team key ("PLAT").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Project name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Labels put on the new issue (besides the post's tags).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Email of the Linear user the issue is assigned to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// Priority of the new issue (0 none, 1 urgent … 4 low).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
}

impl RouteTarget {
    /// "team PLAT, project Reliability" for explanations and the timeline.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!(
            "team {}",
            self.team.as_deref().unwrap_or("(the configured team)")
        )];
        if let Some(p) = &self.project {
            parts.push(format!("project {p}"));
        }
        if let Some(a) = &self.assignee {
            parts.push(format!("assignee {a}"));
        }
        parts.join(", ")
    }
}

/// What happens to an existing issue when its post comes to match another
/// route (its category, tags or board changed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReroutePolicy {
    /// Open a conflict: an operator decides whether the issue moves.
    /// Moving an issue to another team drops its cycle, team labels and
    /// projects the new team is not in, so the default asks first.
    #[default]
    Ask,
    /// Move the issue to the route's team and project.
    Move,
}

impl ReroutePolicy {
    /// Every policy, in documentation order.
    pub const ALL: [ReroutePolicy; 2] = [ReroutePolicy::Ask, ReroutePolicy::Move];

    /// The word used in the document.
    pub fn as_str(self) -> &'static str {
        match self {
            ReroutePolicy::Ask => "ask",
            ReroutePolicy::Move => "move",
        }
    }
}

/// How a changelog groups the posts shipped together: one entry per
/// cycle or per project.
pub use crate::domain::GroupKind as ChangelogGroup;

/// The type a changelog entry is filed under (Canny's `new`, `improved`,
/// `fixed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryType {
    /// Something new.
    New,
    /// Something better.
    Improved,
    /// A fix.
    Fixed,
}

impl EntryType {
    /// Every type.
    pub const ALL: [EntryType; 3] = [EntryType::New, EntryType::Improved, EntryType::Fixed];

    /// The word used in the document and sent to the portal.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryType::New => "new",
            EntryType::Improved => "improved",
            EntryType::Fixed => "fixed",
        }
    }
}

/// The changelog entry a route's shipped posts go into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangelogRule {
    /// One entry per cycle or per project.
    pub per: ChangelogGroup,
    /// Published at once (true) or kept as a draft for a person to publish.
    pub publish: bool,
    /// The entry's title; `{cycle}`, `{project}` and `{group}` are filled in.
    pub title: String,
    /// The entry's type, if any.
    pub kind: Option<EntryType>,
}

/// The default changelog title.
pub const DEFAULT_CHANGELOG_TITLE: &str = "Shipped in {group}";

/// What a route does when its issue ships (reaches a completed state),
/// besides the status change the mapping already makes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloseLoop {
    /// A public comment on the post, from a template with the issue's
    /// fields ("Shipped in {cycle}: {url}").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The changelog entry the post is listed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changelog: Option<ChangelogRule>,
}

impl CloseLoop {
    /// True when shipping does nothing beyond the status change.
    pub fn is_empty(&self) -> bool {
        self.comment.is_none() && self.changelog.is_none()
    }
}

/// Placeholders a ship comment may use.
pub const COMMENT_PLACEHOLDERS: [&str; 8] = [
    "identifier",
    "title",
    "url",
    "cycle",
    "project",
    "team",
    "post_title",
    "post_url",
];

/// Placeholders a changelog title may use.
pub const TITLE_PLACEHOLDERS: [&str; 3] = ["group", "cycle", "project"];

/// One `[[routes]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Its name, shown in previews, the timeline and conflicts.
    pub name: String,
    /// Which posts it takes.
    pub when: RouteWhen,
    /// Which of them are approved (become Linear issues): the moderation
    /// gate of the route.
    pub approve: CreateRule,
    /// Where their issues go.
    pub target: RouteTarget,
    /// What happens when a post with an issue comes to match this route.
    pub reroute: ReroutePolicy,
    /// What shipping does.
    pub close: CloseLoop,
}

/// The name the implicit route (no `[[routes]]` in the mapping) goes by.
pub const IMPLICIT_ROUTE: &str = "create_in_linear_when";

impl Route {
    /// The single route a mapping without `[[routes]]` behaves as: every
    /// post, approved by `[sync] create_in_linear_when`, to the configured
    /// team.
    pub fn implicit(rule: &CreateRule) -> Route {
        Route {
            name: IMPLICIT_ROUTE.into(),
            when: RouteWhen::default(),
            approve: rule.clone(),
            target: RouteTarget::default(),
            reroute: ReroutePolicy::Ask,
            close: CloseLoop::default(),
        }
    }

    /// Whether this route's `when` takes the post, and why (or why not).
    pub fn matches(&self, post: &Record) -> (bool, String) {
        match_when(&self.when, post)
    }

    /// Whether the route's gate approves the post, and why (or why not).
    pub fn approves(&self, post: &Record) -> (bool, String) {
        approval(&self.approve, post)
    }
}

fn eq(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

fn any_of(list: &[String]) -> String {
    match list {
        [one] => one.clone(),
        many => format!("one of {}", many.join(", ")),
    }
}

/// Check every key of `when` against the post; the explanation names each
/// key that matched, or the first one that did not.
fn match_when(when: &RouteWhen, post: &Record) -> (bool, String) {
    if when.is_catch_all() {
        return (true, "takes every post".into());
    }
    let mut why = Vec::new();
    let scalar = |key: &str, wanted: &[String], value: Option<&str>| -> Result<String, String> {
        match value {
            Some(v) if wanted.iter().any(|w| eq(w, v)) => Ok(format!("{key} {v}")),
            Some(v) => Err(format!("{key} is {v}, not {}", any_of(wanted))),
            None => Err(format!("the post has no {key} ({} wanted)", any_of(wanted))),
        }
    };
    let mut check = |r: Result<String, String>| match r {
        Ok(s) => {
            why.push(s);
            None
        }
        Err(e) => Some(e),
    };
    if !when.board.is_empty()
        && let Some(e) = check(scalar("board", &when.board, post.board.as_deref()))
    {
        return (false, e);
    }
    if !when.category.is_empty()
        && let Some(e) = check(scalar("category", &when.category, post.category.as_deref()))
    {
        return (false, e);
    }
    if !when.status.is_empty()
        && let Some(e) = check(scalar("status", &when.status, Some(post.status.as_str())))
    {
        return (false, e);
    }
    if !when.tags.is_empty() {
        let hit = when
            .tags
            .iter()
            .find(|t| post.labels.iter().any(|l| eq(l, t)));
        let r = match hit {
            Some(t) => Ok(format!("tag {t}")),
            None => Err(format!("the post has no tag {}", any_of(&when.tags))),
        };
        if let Some(e) = check(r) {
            return (false, e);
        }
    }
    if let Some(range) = &when.votes {
        let votes = post.votes.unwrap_or(0);
        let r = if range.contains(votes) {
            Ok(format!("{votes} votes ({})", range.describe()))
        } else {
            Err(format!("{votes} votes, not {}", range.describe()))
        };
        if let Some(e) = check(r) {
            return (false, e);
        }
    }
    (true, why.join(", "))
}

/// The approval gate: the post's status is listed, or it carries a listed
/// tag (the rule of `create_in_linear_when`).
fn approval(rule: &CreateRule, post: &Record) -> (bool, String) {
    let status = post.status.trim();
    if rule.status.iter().any(|s| eq(s, status)) {
        return (true, format!("approved: status {status}"));
    }
    if let Some(t) = rule
        .tags
        .iter()
        .find(|t| post.labels.iter().any(|l| eq(l, t)))
    {
        return (true, format!("approved: tag {t}"));
    }
    let mut needs = Vec::new();
    if !rule.status.is_empty() {
        needs.push(format!("status {}", any_of(&rule.status)));
    }
    if !rule.tags.is_empty() {
        needs.push(format!("tag {}", any_of(&rule.tags)));
    }
    let needs = if needs.is_empty() {
        "nothing approves posts on this route".to_string()
    } else {
        format!("needs {}", needs.join(" or "))
    };
    (
        false,
        format!("waits for approval: status {status}, {needs}"),
    )
}

/// The answer for one post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Routing {
    /// The first route that takes the post.
    Routed {
        /// Its position in the table.
        index: usize,
        /// Its name.
        name: String,
        /// Which keys matched, and the earlier routes that did not.
        why: String,
        /// Whether its gate approves the post now.
        approved: bool,
        /// Why (or why not).
        approval: String,
    },
    /// No route takes the post.
    Unrouted {
        /// Why each route passed it by.
        why: String,
    },
}

impl Routing {
    /// The route's index, if routed.
    pub fn index(&self) -> Option<usize> {
        match self {
            Routing::Routed { index, .. } => Some(*index),
            Routing::Unrouted { .. } => None,
        }
    }

    /// The route's name, if routed.
    pub fn name(&self) -> Option<&str> {
        match self {
            Routing::Routed { name, .. } => Some(name),
            Routing::Unrouted { .. } => None,
        }
    }

    /// Routed and approved: the post should have a Linear issue.
    pub fn approved(&self) -> bool {
        matches!(self, Routing::Routed { approved: true, .. })
    }

    /// One sentence: "route 'API bugs' (board Bugs, category API);
    /// approved: status planned" or "matches no route: …".
    pub fn explain(&self) -> String {
        match self {
            Routing::Routed {
                name,
                why,
                approval,
                ..
            } => format!("route '{name}' ({why}); {approval}"),
            Routing::Unrouted { why } => format!("matches no route: {why}"),
        }
    }
}

/// Route one post: the first route whose `when` takes it, with its gate's
/// verdict. Earlier routes that passed it by are named in the explanation
/// (why not), so "first match wins" is visible.
pub fn route_post(routes: &[Route], post: &Record) -> Routing {
    let mut passed = Vec::new();
    for (index, route) in routes.iter().enumerate() {
        let (hit, why) = route.matches(post);
        if hit {
            let (approved, approval) = route.approves(post);
            let why = if passed.is_empty() {
                why
            } else {
                format!("{why}; not {}", passed.join("; not "))
            };
            return Routing::Routed {
                index,
                name: route.name.clone(),
                why,
                approved,
                approval,
            };
        }
        passed.push(format!("'{}': {why}", route.name));
    }
    Routing::Unrouted {
        why: if passed.is_empty() {
            "the mapping has no routes".into()
        } else {
            passed.join("; ")
        },
    }
}

/// The routes a mapping syncs with: its own `[[routes]]`, or the implicit
/// single route when it has none.
pub fn effective_routes(routes: &[Route], implicit: &CreateRule) -> Vec<Route> {
    if routes.is_empty() {
        vec![Route::implicit(implicit)]
    } else {
        routes.to_vec()
    }
}

/// Fill `{name}` placeholders from `values`; unknown names are left as
/// written (the mapping check refuses them before this runs).
pub fn render_template(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let key = &after[..close];
                match values.iter().find(|(k, _)| *k == key) {
                    Some((_, v)) => out.push_str(v),
                    None => {
                        out.push('{');
                        out.push_str(key);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The `{name}` placeholders a template uses.
pub fn placeholders(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        out.push(after[..close].to_string());
        rest = &after[close + 1..];
    }
    out
}
