//! Closing the loop, the pure part: the text of a route's ship comment
//! from its template and where the issue shipped, and the one changelog
//! entry of a completed cycle or project listing every post shipped in it.

use crate::domain::{ChangelogDraft, GroupKind, ShipInfo};

use super::routing::{ChangelogRule, render_template};

fn group_name(info: &ShipInfo, kind: GroupKind) -> String {
    let g = match kind {
        GroupKind::Cycle => info.cycle.as_ref(),
        GroupKind::Project => info.project.as_ref(),
    };
    g.map_or_else(|| format!("no {}", kind.as_str()), |g| g.name.clone())
}

/// The ship comment: the template with the issue's fields filled in
/// (`{identifier}`, `{title}`, `{url}`, `{cycle}`, `{project}`, `{team}`,
/// `{post_title}`, `{post_url}`).
pub fn ship_comment(
    template: &str,
    info: &ShipInfo,
    post_title: &str,
    post_url: Option<&str>,
) -> String {
    let cycle = group_name(info, GroupKind::Cycle);
    let project = group_name(info, GroupKind::Project);
    render_template(
        template,
        &[
            ("identifier", &info.identifier),
            ("title", post_title),
            ("url", &info.url),
            ("cycle", &cycle),
            ("project", &project),
            ("team", &info.team),
            ("post_title", post_title),
            ("post_url", post_url.unwrap_or("")),
        ],
    )
}

/// A shipped post, as a changelog entry lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippedPost {
    /// Its portal id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its URL.
    pub url: Option<String>,
}

/// The entry of one completed cycle or project: its title from the rule's
/// template, a markdown list of the posts, and the posts linked to it.
pub fn changelog_entry(rule: &ChangelogRule, group: &str, posts: &[ShippedPost]) -> ChangelogDraft {
    let title = render_template(&rule.title, &[("group", group), (rule.per.as_str(), group)]);
    let mut details = format!("Shipped in {group}:\n\n");
    for p in posts {
        match &p.url {
            Some(u) if !u.is_empty() => details.push_str(&format!("- [{}]({u})\n", p.title)),
            _ => details.push_str(&format!("- {}\n", p.title)),
        }
    }
    ChangelogDraft {
        title,
        details,
        post_ids: posts.iter().map(|p| p.id.clone()).collect(),
        publish: rule.publish,
        kind: rule.kind.map(|k| k.as_str().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ReleaseGroup;
    use crate::sync::routing::EntryType;

    fn info() -> ShipInfo {
        ShipInfo {
            identifier: "PLAT-7".into(),
            url: "https://linear.app/x/issue/PLAT-7".into(),
            team: "PLAT".into(),
            cycle: Some(ReleaseGroup {
                kind: GroupKind::Cycle,
                id: "c1".into(),
                name: "Cycle 12".into(),
            }),
            project: None,
        }
    }

    #[test]
    fn the_comment_template_is_filled_from_the_issue() {
        assert_eq!(
            ship_comment(
                "Shipped in {cycle} ({project}): {url} for '{post_title}'",
                &info(),
                "Export",
                None
            ),
            "Shipped in Cycle 12 (no project): https://linear.app/x/issue/PLAT-7 for 'Export'"
        );
    }

    #[test]
    fn one_entry_lists_every_post_of_the_group() {
        let rule = ChangelogRule {
            per: GroupKind::Cycle,
            publish: true,
            title: "Fixed in {cycle}".into(),
            kind: Some(EntryType::Fixed),
        };
        let posts = [
            ShippedPost {
                id: "p1".into(),
                title: "Export".into(),
                url: Some("https://c/p/export".into()),
            },
            ShippedPost {
                id: "p2".into(),
                title: "Search".into(),
                url: None,
            },
        ];
        let e = changelog_entry(&rule, "Cycle 12", &posts);
        assert_eq!(e.title, "Fixed in Cycle 12");
        assert_eq!(
            e.details,
            "Shipped in Cycle 12:\n\n- [Export](https://c/p/export)\n- Search\n"
        );
        assert_eq!(e.post_ids, vec!["p1", "p2"]);
        assert!(e.publish);
        assert_eq!(e.kind.as_deref(), Some("fixed"));
    }
}
