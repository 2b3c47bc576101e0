//! Either portal's simulator behind one face, for tests that hold for any
//! portal: people on the site create, edit, comment, vote, tag, move and
//! delete posts, and the test reads posts back — in the portal's own status
//! names, picked by [`Stage`].

use std::collections::BTreeSet;
use std::net::SocketAddr;

use roundtrip::connector::fider::{SecretIn, webhook_templates};
use roundtrip::sim::canny::CannySim;
use roundtrip::sim::faults::{ApiFaults, WebhookFaults};
use roundtrip::sim::fider::FiderSim;

use super::{FIDER_SECRET, PortalKind};

/// Where a post stands, whatever the portal calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// New, not looked at.
    Open,
    /// On the roadmap.
    Planned,
    /// Being built.
    Started,
    /// Shipped.
    Done,
    /// Turned down.
    Closed,
}

impl Stage {
    const ALL: [Stage; 5] = [
        Stage::Open,
        Stage::Planned,
        Stage::Started,
        Stage::Done,
        Stage::Closed,
    ];

    /// The portal's name for it.
    pub fn name(self, kind: PortalKind) -> &'static str {
        match (kind, self) {
            (_, Stage::Open) => "open",
            (_, Stage::Planned) => "planned",
            (PortalKind::Canny, Stage::Started) => "in progress",
            (PortalKind::Canny, Stage::Done) => "complete",
            (PortalKind::Canny, Stage::Closed) => "closed",
            (PortalKind::Fider, Stage::Started) => "started",
            (PortalKind::Fider, Stage::Done) => "completed",
            (PortalKind::Fider, Stage::Closed) => "declined",
        }
    }
}

/// A post as a test reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostView {
    /// Its remote id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Body.
    pub details: String,
    /// Status, in the portal's words.
    pub status: String,
    /// The status as a stage, when it is one.
    pub stage: Option<Stage>,
    /// Tag names.
    pub tags: BTreeSet<String>,
    /// Its URL.
    pub url: String,
}

/// A comment as a test reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentView {
    /// Its remote id.
    pub id: String,
    /// Text.
    pub body: String,
    /// Admin-only (Canny's internal comments; Fider has none).
    pub internal: bool,
}

/// The portal's simulator.
pub enum PortalSim {
    /// Canny's.
    Canny(CannySim),
    /// Fider's.
    Fider(FiderSim),
}

impl PortalSim {
    /// Which portal.
    pub fn kind(&self) -> PortalKind {
        match self {
            PortalSim::Canny(_) => PortalKind::Canny,
            PortalSim::Fider(_) => PortalKind::Fider,
        }
    }

    fn stage_of(&self, status: &str) -> Option<Stage> {
        Stage::ALL
            .into_iter()
            .find(|s| s.name(self.kind()) == status)
    }

    /// A customer posts an idea; its id.
    pub fn create_post(&self, title: &str, details: &str) -> String {
        match self {
            PortalSim::Canny(c) => c.create_post(title, details).expect("create post"),
            PortalSim::Fider(f) => f.create_post(title, details).expect("create post"),
        }
    }

    /// An admin moves the post.
    pub fn set_stage(&self, id: &str, stage: Stage) {
        let name = stage.name(self.kind());
        match self {
            PortalSim::Canny(c) => c.set_status(id, name).expect("set status"),
            PortalSim::Fider(f) => f.set_status(id, name).expect("set status"),
        }
    }

    /// An admin edits the title.
    pub fn set_title(&self, id: &str, title: &str) {
        match self {
            PortalSim::Canny(c) => c.set_title(id, title).expect("set title"),
            PortalSim::Fider(f) => f.set_title(id, title).expect("set title"),
        }
    }

    /// An admin edits the body.
    pub fn set_details(&self, id: &str, details: &str) {
        match self {
            PortalSim::Canny(c) => c.set_details(id, details).expect("set details"),
            PortalSim::Fider(f) => f.set_description(id, details).expect("set description"),
        }
    }

    /// A customer comments; the comment's id.
    pub fn add_comment(&self, id: &str, text: &str) -> String {
        match self {
            PortalSim::Canny(c) => c.add_comment(id, text).expect("comment"),
            PortalSim::Fider(f) => f.add_comment(id, text).expect("comment"),
        }
    }

    /// A customer votes.
    pub fn add_vote(&self, id: &str) {
        match self {
            PortalSim::Canny(c) => c.add_vote(id).expect("vote"),
            PortalSim::Fider(f) => f.add_vote(id).expect("vote"),
        }
    }

    /// An admin tags the post.
    pub fn add_tag(&self, id: &str, tag: &str) {
        match self {
            PortalSim::Canny(c) => c.add_tag(id, tag).expect("tag"),
            PortalSim::Fider(f) => f.add_tag(id, tag).expect("tag"),
        }
    }

    /// An admin deletes the post.
    pub fn delete_post(&self, id: &str) {
        match self {
            PortalSim::Canny(c) => c.delete_post(id).expect("delete"),
            PortalSim::Fider(f) => f.delete_post(id).expect("delete"),
        }
    }

    /// One post, if it exists.
    pub fn post(&self, id: &str) -> Option<PostView> {
        self.posts().into_iter().find(|p| p.id == id)
    }

    /// Every post.
    pub fn posts(&self) -> Vec<PostView> {
        match self {
            PortalSim::Canny(c) => c
                .posts()
                .into_iter()
                .map(|p| PostView {
                    stage: self.stage_of(&p.status),
                    id: p.id,
                    title: p.title,
                    details: p.details,
                    status: p.status,
                    tags: p.tags,
                    url: p.url,
                })
                .collect(),
            PortalSim::Fider(f) => f
                .posts()
                .into_iter()
                .map(|p| PostView {
                    stage: self.stage_of(&p.status),
                    id: p.number.to_string(),
                    title: p.title,
                    details: p.description,
                    status: p.status,
                    tags: p.tags,
                    url: p.url,
                })
                .collect(),
        }
    }

    /// Comments on a post, oldest first, admin-only ones included.
    pub fn comments(&self, id: &str) -> Vec<CommentView> {
        match self {
            PortalSim::Canny(c) => c
                .comments(id)
                .into_iter()
                .map(|c| CommentView {
                    id: c.id,
                    body: c.value,
                    internal: c.internal,
                })
                .collect(),
            PortalSim::Fider(f) => f
                .comments(id)
                .into_iter()
                .map(|c| CommentView {
                    id: c.id.to_string(),
                    body: c.content,
                    internal: false,
                })
                .collect(),
        }
    }

    /// Point the portal's webhooks at roundtrip's webhook server on
    /// `addr`, or turn them off. Fider's are the four templates
    /// `roundtrip config fider-webhook-template` prints, as an admin pastes
    /// them; turning them off and on is the admin's Enabled switch.
    pub fn point_webhooks(&self, addr: Option<SocketAddr>) {
        match (self, addr) {
            (PortalSim::Canny(c), a) => {
                c.set_webhook_url(a.map(|a| format!("http://{a}/webhooks/canny")))
            }
            (PortalSim::Fider(f), Some(a)) => {
                f.remove_webhooks();
                let header = SecretIn::Header(roundtrip::config::DEFAULT_SECRET_HEADER.into());
                for t in webhook_templates(&format!("http://{a}"), &header, FIDER_SECRET) {
                    f.add_webhook(t.kind, &t.url, &t.content, &t.headers)
                        .expect("webhook");
                }
            }
            (PortalSim::Fider(f), None) => f.set_all_webhooks_enabled(false),
        }
    }

    /// Replace the API faults.
    pub fn set_faults(&self, faults: ApiFaults) {
        match self {
            PortalSim::Canny(c) => c.set_faults(faults),
            PortalSim::Fider(f) => f.set_faults(faults),
        }
    }

    /// Replace the webhook faults.
    pub fn set_webhook_faults(&self, faults: WebhookFaults) {
        match self {
            PortalSim::Canny(c) => c.set_webhook_faults(faults),
            PortalSim::Fider(f) => f.set_webhook_faults(faults),
        }
    }

    /// Lose the answer of the next post creation after making the post.
    pub fn lose_next_create(&self) {
        match self {
            PortalSim::Canny(c) => c.lose_next_reply("posts/create"),
            PortalSim::Fider(f) => f.lose_next_reply("POST /posts"),
        }
    }

    /// Answers lost after the write was applied.
    pub fn lost(&self) -> u64 {
        match self {
            PortalSim::Canny(c) => c.stats().lost,
            PortalSim::Fider(f) => f.stats().lost,
        }
    }

    /// Injected 5xx answers and timeouts.
    pub fn faults(&self) -> u64 {
        match self {
            PortalSim::Canny(c) => c.stats().faults,
            PortalSim::Fider(f) => f.stats().faults,
        }
    }

    /// Webhook deliveries the drop fault swallowed.
    /// Events whose webhooks the simulator has not yet tried to send.
    pub fn webhooks_pending(&self) -> u64 {
        match self {
            PortalSim::Canny(c) => c.webhooks_pending(),
            PortalSim::Fider(f) => f.webhooks_pending(),
        }
    }

    pub fn webhooks_dropped(&self) -> u64 {
        match self {
            PortalSim::Canny(c) => c.stats().webhooks_dropped,
            PortalSim::Fider(f) => f.stats().webhooks_dropped,
        }
    }

    /// Status changes that told the post's voters (Canny:
    /// `shouldNotifyVoters`; Fider tells subscribers of every change).
    pub fn notifications(&self) -> u64 {
        match self {
            PortalSim::Canny(c) => c.stats().voter_notifications,
            PortalSim::Fider(f) => f.stats().notifications,
        }
    }
}
