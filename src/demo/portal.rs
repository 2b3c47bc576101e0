//! The demo's portal: Canny's or Fider's simulator, with the people on it
//! the story makes act (customers posting, commenting and voting, admins
//! moving, tagging, retitling and deleting posts) and the portal's words
//! for the stages the story moves posts through.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::connector::fider::{SecretIn, webhook_templates};
use crate::domain::PortalKind;
use crate::sim::canny::CannySim;
use crate::sim::faults::ApiFaults;
use crate::sim::fider::FiderSim;

/// The shared secret the demo's Fider webhooks present.
pub const FIDER_SECRET: &str = "fider_wh_demo";

/// A post as the story sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoPost {
    /// Remote id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Status, in the portal's words.
    pub status: String,
}

/// The portal simulator the demo runs.
#[derive(Debug, Clone)]
pub enum DemoPortal {
    /// Canny's.
    Canny(Arc<CannySim>),
    /// Fider's.
    Fider(Arc<FiderSim>),
}

impl DemoPortal {
    /// Which product.
    pub fn kind(&self) -> PortalKind {
        match self {
            DemoPortal::Canny(_) => PortalKind::Canny,
            DemoPortal::Fider(_) => PortalKind::Fider,
        }
    }

    /// Where posts wait for triage ("under review" on Canny).
    pub fn triage_status(&self) -> &'static str {
        match self {
            DemoPortal::Canny(_) => "under review",
            DemoPortal::Fider(_) => "open",
        }
    }

    /// The closing status the story's broken mapping lost.
    pub fn closed_status(&self) -> &'static str {
        match self {
            DemoPortal::Canny(_) => "closed",
            DemoPortal::Fider(_) => "declined",
        }
    }

    /// Every post.
    pub fn posts(&self) -> Vec<DemoPost> {
        match self {
            DemoPortal::Canny(c) => c
                .posts()
                .into_iter()
                .map(|p| DemoPost {
                    id: p.id,
                    title: p.title,
                    status: p.status,
                })
                .collect(),
            DemoPortal::Fider(f) => f
                .posts()
                .into_iter()
                .map(|p| DemoPost {
                    id: p.number.to_string(),
                    title: p.title,
                    status: p.status,
                })
                .collect(),
        }
    }

    /// One post.
    pub fn post(&self, id: &str) -> Option<DemoPost> {
        self.posts().into_iter().find(|p| p.id == id)
    }

    /// An admin moves a post; whether it worked.
    pub fn set_status(&self, id: &str, status: &str) -> bool {
        match self {
            DemoPortal::Canny(c) => c.set_status(id, status).is_ok(),
            DemoPortal::Fider(f) => f.set_status(id, status).is_ok(),
        }
    }

    /// An admin retitles a post.
    pub fn set_title(&self, id: &str, title: &str) -> bool {
        match self {
            DemoPortal::Canny(c) => c.set_title(id, title).is_ok(),
            DemoPortal::Fider(f) => f.set_title(id, title).is_ok(),
        }
    }

    /// A customer comments.
    pub fn add_comment(&self, id: &str, text: &str) -> bool {
        match self {
            DemoPortal::Canny(c) => c.add_comment(id, text).is_ok(),
            DemoPortal::Fider(f) => f.add_comment(id, text).is_ok(),
        }
    }

    /// A customer votes.
    pub fn add_vote(&self, id: &str) -> bool {
        match self {
            DemoPortal::Canny(c) => c.add_vote(id).is_ok(),
            DemoPortal::Fider(f) => f.add_vote(id).is_ok(),
        }
    }

    /// An admin tags a post.
    pub fn add_tag(&self, id: &str, tag: &str) -> bool {
        match self {
            DemoPortal::Canny(c) => c.add_tag(id, tag).is_ok(),
            DemoPortal::Fider(f) => f.add_tag(id, tag).is_ok(),
        }
    }

    /// An admin deletes a post.
    pub fn delete_post(&self, id: &str) -> bool {
        match self {
            DemoPortal::Canny(c) => c.delete_post(id).is_ok(),
            DemoPortal::Fider(f) => f.delete_post(id).is_ok(),
        }
    }

    /// Replace the API faults.
    pub fn set_faults(&self, faults: ApiFaults) {
        match self {
            DemoPortal::Canny(c) => c.set_faults(faults),
            DemoPortal::Fider(f) => f.set_faults(faults),
        }
    }

    /// Point the portal's webhooks at the service on `addr`, or turn them
    /// off. Fider's are the four webhooks `roundtrip config
    /// fider-webhook-template` prints, switched on and off as an admin does.
    pub fn webhooks(&self, addr: Option<SocketAddr>) {
        match (self, addr) {
            (DemoPortal::Canny(c), a) => {
                c.set_webhook_url(a.map(|a| format!("http://{a}/webhooks/canny")))
            }
            (DemoPortal::Fider(f), Some(a)) => {
                if f.webhooks().is_empty() {
                    let header = SecretIn::Header(crate::config::DEFAULT_SECRET_HEADER.into());
                    for t in webhook_templates(&format!("http://{a}"), &header, FIDER_SECRET) {
                        let _ = f.add_webhook(t.kind, &t.url, &t.content, &t.headers);
                    }
                }
                f.set_all_webhooks_enabled(true);
            }
            (DemoPortal::Fider(f), None) => f.set_all_webhooks_enabled(false),
        }
    }

    /// Stop the simulator, if nothing else holds it.
    pub async fn shutdown(self) {
        match self {
            DemoPortal::Canny(c) => {
                if let Ok(c) = Arc::try_unwrap(c) {
                    c.shutdown().await;
                }
            }
            DemoPortal::Fider(f) => {
                if let Ok(f) = Arc::try_unwrap(f) {
                    f.shutdown().await;
                }
            }
        }
    }
}
