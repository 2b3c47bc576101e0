//! Scripted "people on the site": what a customer or an admin does in
//! Fider's UI, run through the same route code as API calls, so each fires
//! the same webhooks (or none, as for edits and votes). The demo and tests
//! use them to make changes roundtrip did not make.

use chrono::Utc;
use serde_json::{Value, json};

use super::model::{Role, SimUser, State};
use super::ops::{self, ApiError, Outcome};
use super::shared::lock;
use super::sim::{FiderSim, FiderSimError};

fn refused(e: &ApiError) -> FiderSimError {
    FiderSimError::Rejected(match e {
        ApiError::Validation(items) => items
            .iter()
            .map(|(f, m)| {
                if f.is_empty() {
                    m.clone()
                } else {
                    format!("{f}: {m}")
                }
            })
            .collect::<Vec<_>>()
            .join("; "),
        ApiError::Unauthorized => "401".into(),
        ApiError::Forbidden => "403".into(),
        ApiError::NotFound => "404 (no such post)".into(),
    })
}

fn number(n: &str) -> Result<i64, FiderSimError> {
    n.parse()
        .map_err(|_| FiderSimError::Rejected(format!("'{n}' is not a post number")))
}

impl FiderSim {
    /// Run a route as `who` and queue its webhooks.
    fn act(
        &self,
        who: Who,
        f: impl FnOnce(&mut State, Option<&SimUser>) -> Result<Outcome, ApiError>,
    ) -> Result<Value, FiderSimError> {
        let outcome = {
            let mut s = lock(&self.shared().state);
            let user = who.pick(&mut s);
            f(&mut s, Some(&user)).map_err(|e| refused(&e))?
        };
        self.shared().emit(outcome.events);
        Ok(outcome.reply)
    }

    /// A customer posts an idea; returns its number (fires `new_post`).
    pub fn create_post(&self, title: &str, description: &str) -> Result<String, FiderSimError> {
        let v = self.act(Who::Customer, |s, u| {
            ops::create_post(
                s,
                u,
                &json!({"title": title, "description": description}),
                Utc::now(),
            )
        })?;
        Ok(v["number"].as_i64().unwrap_or_default().to_string())
    }

    /// An admin changes the status, keeping the response text (fires
    /// `change_status` when it changed).
    pub fn set_status(&self, post: &str, status: &str) -> Result<(), FiderSimError> {
        let n = number(post)?;
        let text = self.post(post).map(|p| p.response).unwrap_or_default();
        self.act(Who::Admin, |s, u| {
            ops::set_response(
                s,
                u,
                n,
                &json!({"status": status, "text": text}),
                Utc::now(),
            )
        })
        .map(|_| ())
    }

    /// An admin marks the post a duplicate of `original` (its voters move).
    pub fn mark_duplicate(&self, post: &str, original: &str) -> Result<(), FiderSimError> {
        let (n, o) = (number(post)?, number(original)?);
        self.act(Who::Admin, |s, u| {
            ops::set_response(
                s,
                u,
                n,
                &json!({"status": "duplicate", "originalNumber": o}),
                Utc::now(),
            )
        })
        .map(|_| ())
    }

    fn edit(
        &self,
        post: &str,
        title: Option<&str>,
        description: Option<&str>,
    ) -> Result<(), FiderSimError> {
        let n = number(post)?;
        let now = self
            .post(post)
            .ok_or_else(|| FiderSimError::Rejected("404 (no such post)".into()))?;
        let body = json!({
            "title": title.unwrap_or(&now.title),
            "description": description.unwrap_or(&now.description),
        });
        self.act(Who::Admin, |s, u| {
            ops::update_post(s, u, n, &body, Utc::now())
        })
        .map(|_| ())
    }

    /// An admin edits the title (no webhook).
    pub fn set_title(&self, post: &str, title: &str) -> Result<(), FiderSimError> {
        self.edit(post, Some(title), None)
    }

    /// An admin edits the description (no webhook).
    pub fn set_description(&self, post: &str, description: &str) -> Result<(), FiderSimError> {
        self.edit(post, None, Some(description))
    }

    /// A customer comments; returns the comment id (fires `new_comment`).
    pub fn add_comment(&self, post: &str, text: &str) -> Result<String, FiderSimError> {
        let n = number(post)?;
        let v = self.act(Who::Customer, |s, u| {
            ops::add_comment(s, u, n, &json!({"content": text}), Utc::now())
        })?;
        Ok(v["id"].as_i64().unwrap_or_default().to_string())
    }

    /// A customer who has not voted yet votes (a new customer is made when
    /// all have); no webhook.
    pub fn add_vote(&self, post: &str) -> Result<(), FiderSimError> {
        let n = number(post)?;
        self.act(Who::NewVoter(n), |s, u| {
            ops::vote(s, u, n, true, Utc::now())
        })
        .map(|_| ())
    }

    /// An admin tags the post, creating the tag if needed; no webhook.
    pub fn add_tag(&self, post: &str, tag: &str) -> Result<(), FiderSimError> {
        let n = number(post)?;
        let slug = super::model::slug(tag);
        self.act(Who::Admin, |s, u| {
            if s.tag_by_slug(&slug).is_none() {
                ops::create_tag(
                    s,
                    u,
                    &json!({"name": tag, "color": "3B82F6", "isPublic": true}),
                )?;
            }
            ops::assign_tag(s, u, n, &slug, true)
        })
        .map(|_| ())
    }

    /// An admin untags the post; no webhook.
    pub fn remove_tag(&self, post: &str, tag: &str) -> Result<(), FiderSimError> {
        let n = number(post)?;
        let slug = super::model::slug(tag);
        self.act(Who::Admin, |s, u| ops::assign_tag(s, u, n, &slug, false))
            .map(|_| ())
    }

    /// A moderator approves a post waiting in moderation (Fider Pro's
    /// `POST /api/v1/admin/moderation/posts/:id/approve`). No webhook: none
    /// of Fider's four types is for approvals (UNVERIFIED whether approval
    /// fires `new_post`; without it, reconcile is what finds the post).
    pub fn approve_post(&self, post: &str) -> Result<(), FiderSimError> {
        let n = number(post)?;
        let mut s = lock(&self.shared().state);
        let p = s
            .posts
            .values_mut()
            .find(|p| p.number == n && p.status != super::model::PostStatus::Deleted)
            .ok_or_else(|| FiderSimError::Rejected("404 (no such post)".into()))?;
        p.approved = true;
        Ok(())
    }

    /// Whether a post waits in moderation.
    pub fn is_awaiting_approval(&self, post: &str) -> bool {
        let Ok(n) = number(post) else { return false };
        lock(&self.shared().state)
            .post_by_number(n)
            .is_some_and(|p| !p.approved)
    }

    /// An admin deletes the post (fires `delete_post`).
    pub fn delete_post(&self, post: &str) -> Result<(), FiderSimError> {
        let n = number(post)?;
        self.act(Who::Admin, |s, u| {
            ops::delete_post(s, u, n, &json!({}), Utc::now())
        })
        .map(|_| ())
    }

    /// Block or unblock the user an API key belongs to (their key is then
    /// refused with 401).
    pub fn set_key_blocked(&self, key: &str, blocked: bool) {
        let mut s = lock(&self.shared().state);
        for u in s
            .users
            .values_mut()
            .filter(|u| u.api_key.as_deref() == Some(key))
        {
            u.blocked = blocked;
        }
    }
}

/// Who a scripted edit acts as.
enum Who {
    /// The seeded administrator.
    Admin,
    /// The first seeded customer.
    Customer,
    /// A customer who has not voted for this post (made when needed).
    NewVoter(i64),
}

impl Who {
    fn pick(&self, s: &mut State) -> SimUser {
        let customers: Vec<SimUser> = s
            .users
            .values()
            .filter(|u| u.role == Role::Visitor && u.api_key.is_none())
            .cloned()
            .collect();
        match self {
            Who::Admin => s
                .users
                .values()
                .find(|u| u.role == Role::Administrator)
                .cloned(),
            Who::Customer => customers.first().cloned(),
            Who::NewVoter(n) => {
                let post = s.post_by_number(*n).map(|p| p.id);
                customers
                    .into_iter()
                    .find(|c| post.is_some_and(|p| !s.votes.contains_key(&(p, c.id))))
            }
        }
        .unwrap_or_else(|| {
            let id = s.new_id();
            let u = SimUser {
                id,
                name: format!("Voter {id}"),
                email: format!("voter{id}@fider-sim.example"),
                role: Role::Visitor,
                blocked: false,
                api_key: None,
            };
            s.users.insert(id, u.clone());
            u
        })
    }
}
