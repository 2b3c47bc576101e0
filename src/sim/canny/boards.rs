//! Scripted admin and customer actions around boards: a second board, a
//! board that moderates new posts and the admin approving one, posting on
//! a given board in a given category, moving a post between categories or
//! boards — and a look at the changelog entries made. Boards, moderation
//! and moving a post to another board are admin-UI settings and actions
//! (the API the published clients copy has no endpoint for them); moving a
//! category goes through `posts/change_category` like an API client.
//! Canny documents no webhook for a category or board change, an approval
//! or a changelog entry, so none is sent — except `post.created`, which a
//! held post sends when it is approved (UNVERIFIED).

use chrono::{DateTime, Utc};
use serde_json::json;

use super::model::SimBoard;
use super::ops::Event;
use super::render;
use super::shared::lock;
use super::sim::{CannySim, CannySimError};

/// A changelog entry as the simulator holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct EntrySnapshot {
    /// Canny's id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Markdown details.
    pub details: String,
    /// Linked posts, by id.
    pub post_ids: Vec<String>,
    /// `draft`, `scheduled` or `published`.
    pub status: String,
    /// Types (`new`, `improved`, `fixed`).
    pub types: Vec<String>,
    /// When it was created.
    pub created: DateTime<Utc>,
}

fn rejected(msg: &str) -> CannySimError {
    CannySimError::Rejected(msg.into())
}

impl CannySim {
    /// The id of the board with this name.
    pub fn board_named(&self, name: &str) -> Option<String> {
        lock(&self.shared().state)
            .boards
            .values()
            .find(|b| b.name.eq_ignore_ascii_case(name))
            .map(|b| b.id.clone())
    }

    /// An admin creates a board; returns its id (an existing board of that
    /// name is returned as is).
    pub fn create_board(&self, name: &str) -> String {
        if let Some(id) = self.board_named(name) {
            return id;
        }
        let mut state = lock(&self.shared().state);
        let id = state.new_id();
        state.boards.insert(
            id.clone(),
            SimBoard {
                id: id.clone(),
                name: name.into(),
                created: Utc::now(),
                moderated: false,
            },
        );
        state.touch();
        id
    }

    /// An admin turns moderation of new posts on or off for a board.
    pub fn moderate_board(&self, board: &str, on: bool) -> Result<(), CannySimError> {
        let mut state = lock(&self.shared().state);
        let b = state
            .boards
            .get_mut(board)
            .ok_or_else(|| rejected("invalid board id"))?;
        b.moderated = on;
        state.touch();
        Ok(())
    }

    /// An admin creates a category on a board; returns its id.
    pub fn create_category_on(&self, board: &str, name: &str) -> Result<String, CannySimError> {
        let reply = self.run("categories/create", json!({"boardID": board, "name": name}))?;
        reply["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| rejected("no category id"))
    }

    fn category_named(&self, board: &str, name: &str) -> Option<String> {
        lock(&self.shared().state)
            .categories
            .values()
            .find(|c| c.board_id == board && c.name.eq_ignore_ascii_case(name))
            .map(|c| c.id.clone())
    }

    /// A customer posts on `board`, in `category` (created on the board if
    /// it has none of that name); returns the post's id. On a moderating
    /// board the post waits for approval.
    pub fn create_post_on(
        &self,
        board: &str,
        title: &str,
        details: &str,
        category: Option<&str>,
    ) -> Result<String, CannySimError> {
        let author = self.customer_ids().into_iter().next().unwrap_or_default();
        let mut args =
            json!({"authorID": author, "boardID": board, "title": title, "details": details});
        if let Some(name) = category {
            let id = match self.category_named(board, name) {
                Some(id) => id,
                None => self.create_category_on(board, name)?,
            };
            args["categoryID"] = json!(id);
        }
        let reply = self.run("posts/create", args)?;
        reply["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| rejected("no id in reply"))
    }

    /// Whether a post waits for a moderator.
    pub fn is_awaiting_approval(&self, post: &str) -> bool {
        lock(&self.shared().state)
            .posts
            .get(post)
            .is_some_and(|p| p.awaiting_approval)
    }

    /// An admin approves a held post: it becomes public (listed, counted)
    /// and `post.created` is sent.
    pub fn approve_post(&self, post: &str) -> Result<(), CannySimError> {
        let event = {
            let mut state = lock(&self.shared().state);
            let mut p = state
                .posts
                .get(post)
                .cloned()
                .ok_or_else(|| rejected("invalid post id"))?;
            if !p.awaiting_approval {
                return Ok(());
            }
            p.awaiting_approval = false;
            p.unlisted = false;
            state.insert_post(p);
            state.posts.get(post).map(|p| Event {
                kind: "post.created",
                object_type: "post",
                object: render::post(&state, p),
            })
        };
        self.shared().emit(event.into_iter().collect());
        Ok(())
    }

    /// An admin moves a post to another category of its board (created
    /// there if missing; `None` clears it), with `posts/change_category`.
    pub fn set_category(&self, post: &str, category: Option<&str>) -> Result<(), CannySimError> {
        let board = lock(&self.shared().state)
            .posts
            .get(post)
            .map(|p| p.board_id.clone())
            .ok_or_else(|| rejected("invalid post id"))?;
        let id = match category {
            Some(name) => Some(match self.category_named(&board, name) {
                Some(id) => id,
                None => self.create_category_on(&board, name)?,
            }),
            None => None,
        };
        self.run(
            "posts/change_category",
            json!({"postID": post, "categoryID": id}),
        )
        .map(|_| ())
    }

    /// An admin moves a post to another board (the admin UI's "move post").
    /// Categories belong to a board, so the post loses its category; its
    /// tags are kept (UNVERIFIED).
    pub fn move_post_to_board(&self, post: &str, board: &str) -> Result<(), CannySimError> {
        let mut state = lock(&self.shared().state);
        if !state.boards.contains_key(board) {
            return Err(rejected("invalid board id"));
        }
        let mut p = state
            .posts
            .get(post)
            .cloned()
            .ok_or_else(|| rejected("invalid post id"))?;
        p.board_id = board.to_string();
        p.category_id = None;
        state.insert_post(p);
        Ok(())
    }

    /// Every changelog entry, oldest first.
    pub fn entries(&self) -> Vec<EntrySnapshot> {
        let state = lock(&self.shared().state);
        let mut out: Vec<EntrySnapshot> = state
            .entries
            .values()
            .map(|e| EntrySnapshot {
                id: e.id.clone(),
                title: e.title.clone(),
                details: e.details.clone(),
                post_ids: e.post_ids.clone(),
                status: match (e.published_at, e.scheduled_for) {
                    (Some(_), _) => "published".into(),
                    (None, Some(_)) => "scheduled".into(),
                    (None, None) => "draft".into(),
                },
                types: e.types.clone(),
                created: e.created,
            })
            .collect();
        out.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
        out
    }
}
