//! One module per view, each implementing [`View`]: it owns its state,
//! reloads it from the store, answers key commands (returning an
//! [`Action`] when it wants anything outside itself), and draws into the
//! area it is given, recording mouse targets as it goes. Views never see
//! the app, the dialogs or each other.

pub mod common;
pub mod conflicts;
pub mod jobs;
pub mod links;
pub mod log;
pub mod mappings;
pub mod overview;

use ratatui::Frame;
use ratatui::layout::Rect;

use super::mapping_check::MappingChecker;
use super::theme::Theme;
use super::types::{Action, Cmd, Hit, Selection, ViewId, ViewMsg};
use crate::health::Health;
use crate::store::{Db, StoreError, Summary};

/// What a view may read while handling a key or reloading.
#[derive(Clone, Copy)]
pub struct Load<'a> {
    /// The store, for reading.
    pub db: Db<'a>,
    /// "Now" (ms).
    pub now: i64,
    /// Validates and previews mapping documents.
    pub checker: &'a dyn MappingChecker,
}

/// What a draw call needs besides the view's own state. Drawing never
/// touches the store, so a redraw on the clock tick costs no I/O.
pub struct Paint<'a> {
    /// Styles.
    pub theme: &'a Theme,
    /// "Now" for ages.
    pub now: i64,
    /// Mouse targets being recorded.
    pub hits: &'a mut Vec<(Rect, Hit)>,
    /// Latest counters.
    pub summary: Option<&'a Summary>,
    /// Latest verdict.
    pub health: Option<&'a Health>,
}

/// A view of the console.
pub trait View {
    /// Which view this is.
    fn id(&self) -> ViewId;
    /// Re-read what the view shows (the store changed, or it came on screen).
    fn reload(&mut self, cx: &Load<'_>) -> Result<(), StoreError>;
    /// Answer a key command; `Some(action)` asks the app for something.
    fn on_cmd(&mut self, cmd: Cmd, cx: &Load<'_>) -> Result<Option<Action>, StoreError>;
    /// Apply a filter or order chosen in a picker or by a jump.
    fn on_msg(&mut self, msg: ViewMsg, cx: &Load<'_>) -> Result<(), StoreError> {
        let _ = (msg, cx);
        Ok(())
    }
    /// Draw into `area`.
    fn draw(&mut self, f: &mut Frame<'_>, area: Rect, cx: &mut Paint<'_>);
    /// The `/` prompt's title for this view, or `None` when `/` does nothing.
    fn search_prompt(&self) -> Option<&'static str> {
        None
    }
    /// The current search text (to edit it again).
    fn search_text(&self) -> String {
        String::new()
    }
    /// Search or find `text` (empty clears it); an error is shown to the
    /// operator as is.
    fn search(&mut self, text: &str, cx: &Load<'_>) -> Result<Option<Action>, String> {
        let _ = (text, cx);
        Ok(None)
    }
    /// Select the row at index `i` of the loaded window (a mouse click).
    fn select_row(&mut self, i: usize) {
        let _ = i;
    }
    /// What a `:` command without ids acts on while this view is on screen.
    fn selection(&self) -> Selection {
        Selection::None
    }
    /// Whether a key that works everywhere does something here, so the hint
    /// bar never offers a key the view ignores.
    fn offers(&self, cmd: Cmd) -> bool {
        match cmd {
            Cmd::Search | Cmd::NextMatch | Cmd::PrevMatch => self.search_prompt().is_some(),
            _ => true,
        }
    }
}

/// Every view's state, one field each so tests can read them; the app
/// reaches the one on screen through [`Views::get_mut`] only.
#[derive(Default)]
pub struct Views {
    /// Overview.
    pub overview: overview::OverviewView,
    /// Conflicts.
    pub conflicts: conflicts::ConflictsView,
    /// Jobs.
    pub jobs: jobs::JobsView,
    /// Links.
    pub links: links::LinksView,
    /// Mappings.
    pub mappings: mappings::MappingsView,
    /// Log.
    pub log: log::LogView,
}

impl Views {
    /// The view with this id.
    pub fn get(&self, id: ViewId) -> &dyn View {
        match id {
            ViewId::Overview => &self.overview,
            ViewId::Conflicts => &self.conflicts,
            ViewId::Jobs => &self.jobs,
            ViewId::Links => &self.links,
            ViewId::Mappings => &self.mappings,
            ViewId::Log => &self.log,
        }
    }

    /// The view with this id, to change.
    pub fn get_mut(&mut self, id: ViewId) -> &mut dyn View {
        match id {
            ViewId::Overview => &mut self.overview,
            ViewId::Conflicts => &mut self.conflicts,
            ViewId::Jobs => &mut self.jobs,
            ViewId::Links => &mut self.links,
            ViewId::Mappings => &mut self.mappings,
            ViewId::Log => &mut self.log,
        }
    }
}
