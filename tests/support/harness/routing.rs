//! The Linear side routing tests route to, and reading where a post's issue
//! landed: teams PLAT and APP besides ENG, each with its member, and
//! PLAT's project Reliability; the route table stored before the engine
//! starts, so no post is ever routed by the default.

use roundtrip::sim::linear::model::Issue;
use roundtrip::store::{OpenMode, meta_keys};

use super::{Harness, PortalKind, eventually};

impl Harness {
    /// Teams PLAT (ada@example.com) and APP (grace@example.com), and the
    /// project Reliability of PLAT.
    pub fn add_routing_teams(&self) {
        self.linear
            .create_team("PLAT", "Platform", &["ada@example.com"])
            .expect("team PLAT");
        self.linear
            .create_team("APP", "Apps", &["grace@example.com"])
            .expect("team APP");
        self.linear
            .create_project_for("Reliability", &["PLAT"])
            .expect("project Reliability");
    }

    /// Store `doc` as the active mapping of a store syncing `kind`, before
    /// the service starts.
    pub fn apply_mapping_first(&self, kind: PortalKind, doc: &str) {
        let mut store = self.store.open(OpenMode::Create).expect("store");
        let report = store
            .write(|db| {
                db.set_meta(meta_keys::PORTAL_KIND, kind.as_str())?;
                roundtrip::ops::mapping::apply(db, doc, "routes")
            })
            .expect("apply");
        assert_eq!(report.exit_code(), 0, "{}", report.headline);
    }

    /// The Linear user id of a member, by email.
    pub fn linear_user_id(&self, email: &str) -> String {
        self.linear.read(|s| {
            s.users
                .iter()
                .find(|u| u.email == email)
                .map(|u| u.id.clone())
                .expect("a Linear user with that email")
        })
    }

    /// The id of a Linear project, by name.
    pub fn linear_project_id(&self, name: &str) -> String {
        self.linear
            .read(|s| {
                s.projects
                    .iter()
                    .find(|p| p.name == name)
                    .map(|p| p.id.clone())
            })
            .expect("a Linear project with that name")
    }

    /// The Linear issue a post's link leads to, once it exists.
    pub async fn issue_of(&self, post: &str) -> Issue {
        let id = eventually("the post's issue", 20, async || self.linked_issue(post)).await;
        eventually("the issue", 10, async || self.linear.issue(&id)).await
    }
}
