//! The simulator's starting state (DESIGN.md section 9): board "Feature
//! Requests", one admin (the `changerID` scripts rely on), a few customers,
//! some tags and `posts` sample posts whose votes, comments and tags are
//! drawn from the seed, so every run with the same seed starts identical.

use chrono::Duration;

use super::model::{SimBoard, SimComment, SimPost, SimTag, SimUser, State, slug};

/// Name of the seeded board.
pub const BOARD_NAME: &str = "Feature Requests";
/// Name of the seeded admin user.
pub const ADMIN_NAME: &str = "Ada Admin";
/// Names of the seeded tags.
pub const TAG_NAMES: [&str; 5] = ["bug", "ux", "integrations", "performance", "mobile"];

use crate::sim::sample::{CUSTOMERS, REMARKS, TOPICS, base_time};

/// Who is on the company before roundtrip looks for an admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct People {
    /// Customers created before the admin (they come first in `users/list`).
    pub users_before_admin: usize,
    /// Whether there is an admin at all.
    pub admin: bool,
}

impl Default for People {
    fn default() -> Self {
        People {
            users_before_admin: 0,
            admin: true,
        }
    }
}

/// Build the starting state; `statuses` is the company's status list in
/// board order.
pub fn initial_state(
    seed: u64,
    posts: usize,
    statuses: Vec<String>,
    site_url: String,
    people: &People,
) -> State {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut s = State {
        id_prefix: (seed as u32) ^ 0x6a11_0000,
        statuses,
        internal_comments: true,
        site_url,
        ..State::default()
    };
    let t0 = base_time();
    let board_id = s.new_id();
    s.boards.insert(
        board_id.clone(),
        SimBoard {
            id: board_id.clone(),
            name: BOARD_NAME.into(),
            created: t0,
            moderated: false,
        },
    );
    for n in 0..people.users_before_admin {
        let id = s.new_id();
        s.users.insert(
            id.clone(),
            SimUser {
                id,
                name: format!("Early Customer {n}"),
                email: Some(format!("early{n}@customer.example")),
                is_admin: false,
                created: t0,
            },
        );
    }
    if people.admin {
        let admin = s.new_id();
        s.users.insert(
            admin.clone(),
            SimUser {
                id: admin.clone(),
                name: ADMIN_NAME.into(),
                email: Some("ada@sim.example".into()),
                is_admin: true,
                created: t0,
            },
        );
    }
    let mut customers = Vec::new();
    for name in CUSTOMERS {
        let id = s.new_id();
        let first = name.split(' ').next().unwrap_or(name).to_lowercase();
        s.users.insert(
            id.clone(),
            SimUser {
                id: id.clone(),
                name: name.into(),
                email: Some(format!("{first}@customer.example")),
                is_admin: false,
                created: t0,
            },
        );
        customers.push(id);
    }
    let mut tag_ids = Vec::new();
    for name in TAG_NAMES {
        let id = s.new_id();
        s.tags.insert(
            id.clone(),
            SimTag {
                id: id.clone(),
                board_id: board_id.clone(),
                name: name.into(),
                created: t0,
            },
        );
        tag_ids.push(id);
    }
    for i in 0..posts {
        let created = t0 + Duration::hours(i as i64 + 1);
        let title = format!("{} #{}", TOPICS[i % TOPICS.len()], i + 1);
        let author = customers[rng.usize(..customers.len())].clone();
        let voters: Vec<String> = customers.iter().filter(|_| rng.bool()).cloned().collect();
        let mut tags: Vec<String> = Vec::new();
        for _ in 0..rng.usize(0..=2) {
            let t = tag_ids[rng.usize(..tag_ids.len())].clone();
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
        let id = s.new_id();
        for v in &voters {
            let vid = s.new_id();
            s.votes.insert((id.clone(), v.clone()), (vid, created));
        }
        for c in 0..rng.usize(0..=2) {
            let cid = s.new_id();
            s.insert_comment(SimComment {
                id: cid,
                post_id: id.clone(),
                author_id: customers[rng.usize(..customers.len())].clone(),
                value: REMARKS[rng.usize(..REMARKS.len())].into(),
                internal: false,
                parent_id: None,
                image_urls: Vec::new(),
                created: created + Duration::minutes(c as i64 + 1),
            });
        }
        s.insert_post(SimPost {
            id,
            board_id: board_id.clone(),
            author_id: Some(author),
            by_id: None,
            url_name: slug(&title),
            details: format!("Request {} from the sample data.", i + 1),
            title,
            status: s.statuses[i % s.statuses.len().clamp(1, 6)].clone(),
            tag_ids: tags,
            voter_ids: voters,
            created,
            status_changed_at: created,
            eta: None,
            image_urls: Vec::new(),
            custom_fields: Vec::new(),
            linear_issue_ids: Vec::new(),
            merge_history: Vec::new(),
            category_id: None,
            jira_issues: Vec::new(),
            unlisted: false,
            awaiting_approval: false,
        });
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_state() {
        let st = || {
            super::super::model::BUILTIN_STATUSES
                .map(String::from)
                .to_vec()
        };
        let a = initial_state(42, 20, st(), "https://x".into(), &People::default());
        let b = initial_state(42, 20, st(), "https://x".into(), &People::default());
        assert_eq!(a.posts, b.posts);
        assert_eq!(a.posts.len(), 20);
        assert!(a.users.values().filter(|u| u.is_admin).count() == 1);
        assert!(a.posts.values().any(|p| p.status == "closed"));
        let c = initial_state(43, 20, st(), "https://x".into(), &People::default());
        assert_ne!(
            a.posts
                .values()
                .map(|p| p.voter_ids.len())
                .collect::<Vec<_>>(),
            c.posts
                .values()
                .map(|p| p.voter_ids.len())
                .collect::<Vec<_>>()
        );
    }
}
