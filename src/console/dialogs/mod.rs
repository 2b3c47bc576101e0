//! Dialogs drawn over the views, one file each, all implementing
//! [`Dialog`]: the top dialog takes every key first and answers with an
//! [`Outcome`] — stay, close, or close and ask the app for an [`Action`] —
//! instead of reaching into the app. Their key lines and titles come from
//! the keymap.
//!
//! [`Action`]: super::types::Action

pub mod confirm;
pub mod editor;
pub mod help;
pub mod job;
pub mod panel;
pub mod picker;
pub mod prompt;
pub mod timeline;
pub mod urls;

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders};

use super::keymap;
use super::mapping_check::MappingChecker;
use super::theme::Theme;
use super::types::{Cmd, Ctx, Outcome};
use crate::store::Db;

/// What a dialog may read while handling a key.
#[derive(Clone, Copy)]
pub struct DialogCx<'a> {
    /// The store, for reading (checks, previews).
    pub db: Db<'a>,
    /// Validates and previews mapping documents.
    pub checker: &'a dyn MappingChecker,
    /// `--read-only`.
    pub read_only: bool,
    /// "Now" (ms).
    pub now: i64,
}

/// What a dialog draws with.
#[derive(Clone, Copy)]
pub struct DrawCx<'a> {
    /// Styles.
    pub theme: &'a Theme,
    /// `--read-only`.
    pub read_only: bool,
}

/// A dialog over the views.
pub trait Dialog {
    /// The key context it takes keys in (may change with its state).
    fn ctx(&self) -> Ctx;
    /// Handle a key; `cmd` is what the keymap made of it in [`Dialog::ctx`].
    fn on_key(&mut self, key: KeyEvent, cmd: Option<Cmd>, cx: &DialogCx<'_>) -> Outcome;
    /// Draw over `area` (the screen between the title and status bars).
    fn draw(&mut self, f: &mut Frame<'_>, area: Rect, cx: &DrawCx<'_>);
    /// Insert pasted text (input dialogs).
    fn paste(&mut self, text: &str) {
        let _ = text;
    }
    /// Scroll by the mouse wheel (text dialogs).
    fn scroll(&mut self, down: bool) {
        let _ = down;
    }
    /// The concrete dialog, for tests that look inside.
    fn as_any(&self) -> &dyn std::any::Any;
}

/// A bordered panel with a title. A question also carries its keys from
/// the keymap at the bottom ("y/⏎ yes · n/Esc no"), so the answer is read
/// where the question is; every other dialog's keys are in the hint bar.
pub fn panel<'a>(title: &str, ctx: Ctx, cx: &DrawCx<'_>) -> Block<'a> {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(cx.theme.title)
        .title(Span::styled(format!(" {title} "), cx.theme.title));
    if ctx == Ctx::Confirm {
        let keys = keymap::key_line(ctx, cx.read_only);
        block.title_bottom(Line::from(Span::styled(format!(" {keys} "), cx.theme.key)))
    } else {
        block
    }
}

/// A bordered panel with just a title.
pub fn plain<'a>(title: &str, cx: &DrawCx<'_>) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(cx.theme.dim)
        .title(Span::styled(format!(" {title} "), cx.theme.title))
}

/// A rect of at most `w`×`h` centred in `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}
