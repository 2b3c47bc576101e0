//! The simulator's starting state: an administrator and a collaborator who
//! each generated an API key, a visitor who did too (Fider refuses it), a
//! few customers, some public tags and `posts` sample posts whose votes
//! (each author's own included, as Fider adds it), comments, tags and
//! statuses are drawn from the seed.

use chrono::Duration;

use crate::sim::sample::{CUSTOMERS, REMARKS, TOPICS, base_time};

use super::model::{
    PostStatus, Role, SimComment, SimPost, SimResponse, SimTag, SimUser, State, slug,
};

/// The seeded administrator's name.
pub const ADMIN_NAME: &str = "Fiona Admin";
/// The seeded collaborator's name.
pub const COLLABORATOR_NAME: &str = "Colin Collaborator";
/// Names of the seeded tags.
pub const TAG_NAMES: [&str; 5] = ["bug", "ux", "integrations", "performance", "mobile"];
/// The seeded visitor's API key (Fider answers 400 "API Key is invalid").
pub const VISITOR_KEY: &str = "fider_sim_visitor_key";

/// Sample posts cycle through these: a third of them approved for Linear.
const STATUSES: [PostStatus; 6] = [
    PostStatus::Open,
    PostStatus::Open,
    PostStatus::Planned,
    PostStatus::Started,
    PostStatus::Completed,
    PostStatus::Declined,
];

fn user(s: &mut State, name: &str, role: Role, key: Option<&str>) -> i64 {
    let id = s.new_id();
    let first = name.split(' ').next().unwrap_or(name).to_lowercase();
    s.users.insert(
        id,
        SimUser {
            id,
            name: name.into(),
            email: format!("{first}@fider-sim.example"),
            role,
            blocked: false,
            api_key: key.map(String::from),
        },
    );
    id
}

/// Build the starting state.
pub fn initial_state(seed: u64, posts: usize, admin_key: &str, collaborator_key: &str) -> State {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut s = State::default();
    let t0 = base_time();
    let admin = user(&mut s, ADMIN_NAME, Role::Administrator, Some(admin_key));
    user(
        &mut s,
        COLLABORATOR_NAME,
        Role::Collaborator,
        Some(collaborator_key),
    );
    user(&mut s, "Vic Visitor", Role::Visitor, Some(VISITOR_KEY));
    let customers: Vec<i64> = CUSTOMERS
        .iter()
        .map(|n| user(&mut s, n, Role::Visitor, None))
        .collect();
    let mut tag_ids = Vec::new();
    for name in TAG_NAMES {
        let id = s.new_id();
        s.tags.insert(
            id,
            SimTag {
                id,
                name: name.into(),
                slug: slug(name),
                color: "3B82F6".into(),
                public: true,
            },
        );
        tag_ids.push(id);
    }
    for i in 0..posts {
        let created = t0 + Duration::hours(i as i64 + 1);
        let title = format!("{} #{}", TOPICS[i % TOPICS.len()], i + 1);
        let author = customers[rng.usize(..customers.len())];
        let status = STATUSES[i % STATUSES.len()];
        let id = s.new_id();
        s.posts.insert(
            id,
            SimPost {
                id,
                number: i as i64 + 1,
                slug: slug(&title),
                title,
                description: format!("Request {} from the sample data.", i + 1),
                created,
                user_id: author,
                status,
                response: (status != PostStatus::Open).then(|| SimResponse {
                    text: String::new(),
                    responded_at: created,
                    user_id: admin,
                }),
                original_id: None,
                approved: true,
            },
        );
        s.votes.insert((id, author), created);
        for c in customers.iter().filter(|c| **c != author) {
            if rng.bool() {
                s.votes.insert((id, *c), created);
            }
        }
        for _ in 0..rng.usize(0..=2) {
            s.post_tags
                .insert((id, tag_ids[rng.usize(..tag_ids.len())]));
        }
        for c in 0..rng.usize(0..=2) {
            let cid = s.new_id();
            s.comments.insert(
                cid,
                SimComment {
                    id: cid,
                    post_id: id,
                    user_id: customers[rng.usize(..customers.len())],
                    content: REMARKS[rng.usize(..REMARKS.len())].into(),
                    created: created + Duration::minutes(c as i64 + 1),
                    edited_at: None,
                    deleted_at: None,
                },
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_site() {
        let a = initial_state(42, 12, "a", "c");
        let b = initial_state(42, 12, "a", "c");
        assert_eq!(a.posts, b.posts);
        assert_eq!(a.votes, b.votes);
        assert_eq!(a.posts.len(), 12);
        assert!(
            a.posts
                .values()
                .all(|p| a.votes.contains_key(&(p.id, p.user_id)))
        );
        assert!(a.posts.values().all(|p| p.title.len() >= 10));
    }
}
