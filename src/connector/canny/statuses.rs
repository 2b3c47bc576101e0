//! The statuses a reconcile names in `posts/list`'s `status` filter. Canny
//! hides posts whose status is not named (and complete/closed by default), and
//! a company may define custom statuses, so the list is the six built-in
//! statuses, the configured custom ones, and every status roundtrip has seen:
//! on a post it read, or in v2 `status_changes/list` (read at the start of
//! each full listing, newest first, until the newest change of the previous
//! pass).

use std::sync::Mutex;

use serde_json::json;

use super::api::CannyConnector;
use super::wire::{CursorPage, StatusChange};
use crate::domain::RemoteError;

/// Status changes per v2 page.
const CHANGES_PAGE: usize = 100;

/// Known status names, in the order first seen (configured ones first).
#[derive(Debug, Default)]
pub struct Statuses {
    known: Mutex<Vec<String>>,
    newest_change: Mutex<Option<String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Statuses {
    /// Start from the configured statuses.
    pub fn new(configured: &[String]) -> Statuses {
        let s = Statuses::default();
        for c in configured {
            s.learn(c);
        }
        s
    }

    /// Remember a status (no-op when known or blank).
    pub fn learn(&self, status: &str) {
        let status = status.trim();
        if status.is_empty() {
            return;
        }
        let mut known = lock(&self.known);
        if !known.iter().any(|k| k == status) {
            known.push(status.to_string());
        }
    }

    /// Every known status, in order.
    pub fn all(&self) -> Vec<String> {
        lock(&self.known).clone()
    }

    /// The `status` argument naming every known status.
    pub fn filter(&self) -> String {
        lock(&self.known).join(",")
    }
}

impl CannyConnector {
    /// Learn the statuses used since the previous pass from v2
    /// `status_changes/list`. Returns how many new statuses were found.
    pub async fn discover_statuses(&self) -> Result<usize, RemoteError> {
        let before = self.statuses.all().len();
        let stop_at = lock(&self.statuses.newest_change).clone();
        // Statuses are the company's, not a board's: every board's changes.
        let mut cursor: Option<String> = None;
        let mut newest: Option<String> = None;
        'pages: loop {
            let mut args = json!({ "limit": CHANGES_PAGE });
            if let Some(c) = &cursor {
                args["cursor"] = json!(c);
            }
            let page: CursorPage<StatusChange> =
                self.client.call_v2("status_changes/list", args).await?;
            for change in &page.items {
                if stop_at.as_deref() == Some(change.id.as_str()) {
                    break 'pages;
                }
                newest.get_or_insert_with(|| change.id.clone());
                if let Some(s) = &change.status {
                    self.statuses.learn(s);
                }
            }
            match page
                .cursor
                .filter(|_| page.has_next_page && !page.items.is_empty())
            {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        if newest.is_some() {
            *lock(&self.statuses.newest_change) = newest;
        }
        Ok(self.statuses.all().len() - before)
    }

    /// Every status the connector lists posts in.
    pub fn known_statuses(&self) -> Vec<String> {
        self.statuses.all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learning_keeps_order_and_skips_blanks_and_repeats() {
        let s = Statuses::new(&["open".into(), "closed".into()]);
        s.learn("beta");
        s.learn("open");
        s.learn("  ");
        assert_eq!(s.filter(), "open,closed,beta");
    }
}
