//! Finding the admin roundtrip acts as (`changerID`, `authorID`): only admins
//! may change a post's status. A public board has tens of thousands of
//! users, so the lookup never reads them all: a configured id or email is
//! checked with one `users/retrieve`, otherwise v2 `users/list` is paged only
//! until the first admin. No admin at all is a configuration error that says
//! which setting to fill in.

use serde_json::json;

use super::api::{CannyConnector, validation};
use super::wire::{CannyUser, CursorPage};
use crate::domain::{ErrorClass, RemoteError};

/// Users per v2 `users/list` page (Canny's documented maximum).
const USERS_PAGE: usize = 100;

/// The sentence every "no usable admin" error ends with.
const HINT: &str = "set [portal] admin_email (or admin_id) to a Canny admin";

impl CannyConnector {
    /// The admin used as `changerID`/`authorID`, looked up once.
    pub async fn admin_id(&self) -> Result<String, RemoteError> {
        self.admin_id
            .get_or_try_init(|| self.find_admin())
            .await
            .cloned()
    }

    async fn find_admin(&self) -> Result<String, RemoteError> {
        if let Some(id) = self.cfg.admin_id.clone() {
            return self
                .check_admin(json!({ "id": id }), &format!("admin_id '{id}'"))
                .await;
        }
        if let Some(email) = self.cfg.admin_email.clone() {
            return self
                .check_admin(json!({ "email": email }), &format!("admin_email '{email}'"))
                .await;
        }
        self.first_admin().await
    }

    /// `users/retrieve` the configured user and insist it is an admin.
    async fn check_admin(
        &self,
        args: serde_json::Value,
        what: &str,
    ) -> Result<String, RemoteError> {
        let user: CannyUser = match self.client.call("users/retrieve", args).await {
            Ok(u) => u,
            Err(e) if e.class == ErrorClass::Validation || e.class == ErrorClass::NotFound => {
                return Err(validation(format!(
                    "[portal] {what} is not a Canny user ({}); {HINT}",
                    e.message
                )));
            }
            Err(e) => return Err(e),
        };
        if !user.is_admin {
            return Err(validation(format!(
                "[portal] {what} is the Canny user '{}', who is not an admin; {HINT}",
                user.name
            )));
        }
        Ok(user.id)
    }

    /// Page v2 `users/list` until the first admin; stop there.
    async fn first_admin(&self) -> Result<String, RemoteError> {
        let mut cursor: Option<String> = None;
        loop {
            let mut args = json!({ "limit": USERS_PAGE });
            if let Some(c) = &cursor {
                args["cursor"] = json!(c);
            }
            let page: CursorPage<CannyUser> = self.client.call_v2("users/list", args).await?;
            if let Some(admin) = page.items.iter().find(|u| u.is_admin) {
                return Ok(admin.id.clone());
            }
            match page
                .cursor
                .filter(|_| page.has_next_page && !page.items.is_empty())
            {
                Some(next) => cursor = Some(next),
                None => {
                    return Err(validation(format!(
                        "this Canny company has no admin user (roundtrip changes statuses as an admin); {HINT}"
                    )));
                }
            }
        }
    }
}
