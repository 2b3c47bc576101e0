//! Scripted "human on the portal" edits: what a customer or an admin does
//! in Canny's UI, run through the same endpoint code as API calls so they
//! fire the same signed webhooks. The demo and tests use them to make
//! changes roundtrip did not make.

use chrono::Utc;
use serde_json::{Map, Value, json};

use super::args::Args;
use super::model::{MergedPost, SimJiraIssue, SimUser};
use super::ops::Event;
use super::others::comment_event;
use super::render;
use super::shared::lock;
use super::sim::{CannySim, CannySimError};

impl CannySim {
    pub(super) fn run(&self, endpoint: &str, args: Value) -> Result<Value, CannySimError> {
        let map = match args {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        match self.shared().apply(endpoint, &Args(map)) {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(CannySimError::Rejected(e.message)),
            None => Err(CannySimError::Rejected(format!("no endpoint {endpoint}"))),
        }
    }

    fn first_customer(&self) -> String {
        self.customer_ids().into_iter().next().unwrap_or_default()
    }

    /// A customer posts a new idea; returns its id (fires `post.created`).
    pub fn create_post(&self, title: &str, details: &str) -> Result<String, CannySimError> {
        let reply = self.run(
            "posts/create",
            json!({"authorID": self.first_customer(), "boardID": self.board_id(), "title": title, "details": details}),
        )?;
        reply["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| CannySimError::Rejected("no id in reply".into()))
    }

    /// An admin changes the status (fires `post.status_changed`).
    pub fn set_status(&self, post_id: &str, status: &str) -> Result<(), CannySimError> {
        self.run(
            "posts/change_status",
            json!({"postID": post_id, "changerID": self.admin_id(), "status": status, "shouldNotifyVoters": false}),
        )
        .map(|_| ())
    }

    /// An admin edits the title (fires `post.edited`).
    pub fn set_title(&self, post_id: &str, title: &str) -> Result<(), CannySimError> {
        self.run("posts/update", json!({"postID": post_id, "title": title}))
            .map(|_| ())
    }

    /// An admin edits the details (fires `post.edited`).
    pub fn set_details(&self, post_id: &str, details: &str) -> Result<(), CannySimError> {
        self.run(
            "posts/update",
            json!({"postID": post_id, "details": details}),
        )
        .map(|_| ())
    }

    /// A customer comments; returns the comment id (fires `comment.created`).
    pub fn add_comment(&self, post_id: &str, text: &str) -> Result<String, CannySimError> {
        let reply = self.run(
            "comments/create",
            json!({"authorID": self.first_customer(), "postID": post_id, "value": text}),
        )?;
        reply["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| CannySimError::Rejected("no id in reply".into()))
    }

    /// The comment's author edits it (fires `comment.edited`).
    pub fn edit_comment(&self, comment_id: &str, text: &str) -> Result<(), CannySimError> {
        let event = {
            let mut state = lock(&self.shared().state);
            let c = state
                .comments
                .get_mut(comment_id)
                .ok_or_else(|| CannySimError::Rejected("invalid comment id".into()))?;
            c.value = text.to_string();
            state.touch();
            comment_event(&state, "comment.edited", comment_id)
        };
        self.shared().emit(event.into_iter().collect());
        Ok(())
    }

    /// A customer who has not voted yet upvotes the post (a new customer
    /// account is made when all have); fires `vote.created`.
    pub fn add_vote(&self, post_id: &str) -> Result<(), CannySimError> {
        let voter = {
            let mut state = lock(&self.shared().state);
            let voted: Vec<String> = state
                .posts
                .get(post_id)
                .ok_or_else(|| CannySimError::Rejected("invalid post id".into()))?
                .voter_ids
                .clone();
            let free = state
                .users
                .values()
                .find(|u| !u.is_admin && !voted.contains(&u.id))
                .map(|u| u.id.clone());
            match free {
                Some(id) => id,
                None => {
                    let id = state.new_id();
                    let n = state.users.len();
                    state.users.insert(
                        id.clone(),
                        SimUser {
                            id: id.clone(),
                            name: format!("Voter {n}"),
                            email: Some(format!("voter{n}@customer.example")),
                            is_admin: false,
                            created: Utc::now(),
                        },
                    );
                    id
                }
            }
        };
        self.run("votes/create", json!({"postID": post_id, "voterID": voter}))
            .map(|_| ())
    }

    /// The most recent voter withdraws their vote (fires `vote.deleted`).
    pub fn remove_vote(&self, post_id: &str) -> Result<(), CannySimError> {
        let voter = lock(&self.shared().state)
            .posts
            .get(post_id)
            .and_then(|p| p.voter_ids.last().cloned())
            .ok_or_else(|| CannySimError::Rejected("no vote to remove".into()))?;
        self.run("votes/delete", json!({"postID": post_id, "voterID": voter}))
            .map(|_| ())
    }

    /// An admin deletes the post (fires `post.deleted`).
    pub fn delete_post(&self, post_id: &str) -> Result<(), CannySimError> {
        self.run("posts/delete", json!({"postID": post_id}))
            .map(|_| ())
    }

    fn tag_id(&self, name: &str) -> Result<String, CannySimError> {
        let reply = self.run(
            "tags/create",
            json!({"boardID": self.board_id(), "name": name}),
        )?;
        reply["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| CannySimError::Rejected("no tag id".into()))
    }

    /// An admin tags the post, creating the tag if needed (fires `post.tag_added`).
    pub fn add_tag(&self, post_id: &str, tag: &str) -> Result<(), CannySimError> {
        let tag_id = self.tag_id(tag)?;
        self.run("posts/add_tag", json!({"postID": post_id, "tagID": tag_id}))
            .map(|_| ())
    }

    /// An admin untags the post (fires `post.tag_removed`).
    pub fn remove_tag(&self, post_id: &str, tag: &str) -> Result<(), CannySimError> {
        let tag_id = self.tag_id(tag)?;
        self.run(
            "posts/remove_tag",
            json!({"postID": post_id, "tagID": tag_id}),
        )
        .map(|_| ())
    }

    /// An admin links a Jira issue (fires `post.jira_issue_linked`).
    pub fn link_jira(&self, post_id: &str, key: &str) -> Result<(), CannySimError> {
        self.jira(post_id, key, true)
    }

    /// An admin unlinks a Jira issue (fires `post.jira_issue_unlinked`).
    pub fn unlink_jira(&self, post_id: &str, key: &str) -> Result<(), CannySimError> {
        self.jira(post_id, key, false)
    }

    fn jira(&self, post_id: &str, key: &str, link: bool) -> Result<(), CannySimError> {
        let event = {
            let mut state = lock(&self.shared().state);
            let jira_id = format!("{}", 10_000 + state.next_id);
            state.touch();
            let post = state
                .posts
                .get_mut(post_id)
                .ok_or_else(|| CannySimError::Rejected("invalid post id".into()))?;
            let issue = if link {
                let issue = SimJiraIssue {
                    id: jira_id,
                    key: key.to_string(),
                };
                post.jira_issues.push(issue.clone());
                issue
            } else {
                let pos = post
                    .jira_issues
                    .iter()
                    .position(|j| j.key == key)
                    .ok_or_else(|| CannySimError::Rejected("issue not linked".into()))?;
                post.jira_issues.remove(pos)
            };
            let mut object = state
                .posts
                .get(post_id)
                .map_or(Value::Null, |p| render::post(&state, p));
            if let Value::Object(m) = &mut object {
                m.insert(
                    "issue".into(),
                    json!({"id": issue.id, "key": issue.key, "status": "To Do", "summary": key, "description": "", "url": format!("https://jira.example/browse/{key}")}),
                );
            }
            Event {
                kind: if link {
                    "post.jira_issue_linked"
                } else {
                    "post.jira_issue_unlinked"
                },
                object_type: "post",
                object,
            }
        };
        self.shared().emit(vec![event]);
        Ok(())
    }

    /// An admin links the post to a Linear issue with Canny's own Linear
    /// integration (`linear.linkedIssueIDs` gains `issue`: an id or key).
    /// Canny documents no webhook for it.
    pub fn link_linear(&self, post_id: &str, issue: &str) -> Result<(), CannySimError> {
        let mut state = lock(&self.shared().state);
        state.touch();
        let post = state
            .posts
            .get_mut(post_id)
            .ok_or_else(|| CannySimError::Rejected("invalid post id".into()))?;
        if !post.linear_issue_ids.iter().any(|i| i == issue) {
            post.linear_issue_ids.push(issue.to_string());
        }
        Ok(())
    }

    /// An admin merges `merged` into `into`: the merged post's votes (one per
    /// voter) and comments move to `into`, which records it in
    /// `mergeHistory`, and the merged post is gone on its own
    /// (`posts/retrieve` answers "invalid post id"). Canny documents no
    /// webhook for a merge, so none is sent.
    pub fn merge_posts(&self, merged: &str, into: &str) -> Result<(), CannySimError> {
        let mut state = lock(&self.shared().state);
        if merged == into || !state.posts.contains_key(into) {
            return Err(CannySimError::Rejected("invalid post id".into()));
        }
        let gone = state
            .posts
            .get(merged)
            .cloned()
            .ok_or_else(|| CannySimError::Rejected("invalid post id".into()))?;
        let moved: Vec<_> = state
            .comments
            .values()
            .filter(|c| c.post_id == merged)
            .cloned()
            .collect();
        let votes: Vec<_> = state
            .votes
            .iter()
            .filter(|((p, _), _)| p == merged)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        state.remove_post(merged);
        for mut c in moved {
            c.post_id = into.to_string();
            state.insert_comment(c);
        }
        for ((_, voter), vote) in votes {
            let key = (into.to_string(), voter.clone());
            if state.votes.contains_key(&key) {
                continue;
            }
            state.votes.insert(key, vote);
            if let Some(p) = state.posts.get_mut(into) {
                p.voter_ids.push(voter);
            }
        }
        let now = Utc::now();
        if let Some(p) = state.posts.get_mut(into) {
            p.merge_history.push(MergedPost {
                merged_at: now,
                id: gone.id,
                title: gone.title,
                details: gone.details,
                image_urls: gone.image_urls,
                created: gone.created,
            });
        }
        state.touch();
        Ok(())
    }

    /// Create a category on the board; returns its id.
    pub fn create_category(&self, name: &str) -> Result<String, CannySimError> {
        let reply = self.run(
            "categories/create",
            json!({"boardID": self.board_id(), "name": name}),
        )?;
        reply["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| CannySimError::Rejected("no category id".into()))
    }
}
