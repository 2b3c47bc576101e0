//! The terminal operations console (`roundtrip console`): a ratatui app an
//! on-call engineer opens over SSH against a running daemon's store.
//!
//! Shape: [`types`] is the leaf vocabulary (views, key commands, actions,
//! dialog outcomes) every other module shares; [`keymap`] is the one key
//! table; each view in [`views`] implements [`views::View`] and each dialog
//! in [`dialogs`] implements [`dialogs::Dialog`], both answering keys with
//! an [`types::Action`] instead of acting; [`app`] carries actions out,
//! writing only through [`effects`] and the operator-actions module. The
//! loop redraws when an event arrives, when the store's `data_version`
//! moved, or when the clock changed something on screen (a heartbeat age,
//! the verdict), and tables hold only a keyset window of rows, so the
//! console stays instant and current on a big installation.

pub mod app;
pub mod bench;
pub mod clock;
pub mod command;
pub mod dialogs;
pub mod effects;
pub mod keymap;
pub mod mapping_check;
pub mod pager;
pub mod theme;
pub mod tui;
pub mod types;
pub mod ui;
pub mod views;
pub mod wrap;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossterm::event;

use crate::store::{OpenMode, Store, StoreError, StoreLocation};
use app::App;
use clock::Clock;
use theme::Theme;

/// How often the idle loop asks SQLite whether another process committed.
pub const STORE_TICK: Duration = Duration::from_millis(250);

/// How often the idle loop re-evaluates what the clock changes on screen
/// (heartbeat age, the verdict, "resets in"): a dead engine shows DOWN at
/// most this long after `status` would say so.
pub const CLOCK_TICK: Duration = Duration::from_millis(500);

/// Env var enabling the hidden `!` key that panics inside a view (used by
/// the test that checks the terminal is restored after a panic).
pub const TEST_PANIC_ENV: &str = "ROUNDTRIP_CONSOLE_TEST_PANIC";

/// Why the console could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The store is missing, locked, too new or broken.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The terminal failed.
    #[error("terminal error: {0}")]
    Io(#[from] std::io::Error),
    /// The terminal went away (hung up, closed) without a signal.
    #[error("the terminal went away")]
    TerminalGone,
}

/// Polls that return long before their timeout with no event, in a row,
/// before the console decides its terminal is gone (a closed tty never
/// blocks; without this the console would spin instead of exiting).
const MAX_EMPTY_WAKEUPS: u32 = 200;

/// Open the store the console works on: read-only mode never writes, not
/// even a migration.
pub fn open_store(store: &StoreLocation, read_only: bool) -> Result<Store, StoreError> {
    store.open(if read_only {
        OpenMode::ReadOnly
    } else {
        OpenMode::Existing
    })
}

/// Run the console on the store at `path` until the operator quits or a
/// SIGHUP/SIGTERM/SIGINT arrives. `banner` is shown in the title bar (the
/// demo uses it to say what it is doing). The terminal is restored on every
/// exit path, including panics.
pub fn run(
    store: &StoreLocation,
    read_only: bool,
    banner: Option<String>,
) -> Result<(), ConsoleError> {
    run_with_intro(store, read_only, banner, None)
}

/// [`run`], opening with a text panel (title, lines) over the Overview that
/// Esc closes: the demo's first-run explanation of what is happening and
/// which keys to try.
pub fn run_with_intro(
    location: &StoreLocation,
    read_only: bool,
    banner: Option<String>,
    intro: Option<(String, Vec<String>)>,
) -> Result<(), ConsoleError> {
    let store = open_store(location, read_only)?;
    let mut app = App::new(store, read_only, Clock::System, Theme::from_env())?;
    app.banner = banner;
    if let Some((title, lines)) = intro {
        app.dialogs
            .push(Box::new(dialogs::panel::PanelDialog::text(title, lines)));
    }
    app.panic_key = std::env::var_os(TEST_PANIC_ENV).is_some();
    let stop = tui::termination_flag()?;
    tui::spawn_watchdog(stop.clone());
    let mut term = tui::enter()?;
    let result = event_loop(&mut term, &mut app, &stop);
    tui::restore();
    result
}

fn event_loop(
    term: &mut tui::Term,
    app: &mut App,
    stop: &std::sync::atomic::AtomicBool,
) -> Result<(), ConsoleError> {
    let mut dirty = true;
    let mut empty_wakeups: u32 = 0;
    let mut next_store = Instant::now() + STORE_TICK;
    let mut next_clock = Instant::now() + CLOCK_TICK;
    let mut fresh = ui::Freshness::new(term.size()?);
    loop {
        if stop.load(Ordering::SeqCst) || app.quit {
            return Ok(());
        }
        for text in std::mem::take(&mut app.clipboard) {
            tui::copy_to_clipboard(&text)?;
        }
        if dirty {
            let frame = term.draw(|f| ui::draw(f, app))?;
            // A resize shows up here too: the next check compares at the
            // new size.
            fresh.shown(frame.buffer);
            dirty = false;
        }
        let deadline = next_store.min(next_clock);
        let timeout = deadline.saturating_duration_since(Instant::now());
        let polled_at = Instant::now();
        if event::poll(timeout)? {
            empty_wakeups = 0;
            dirty |= app.on_event(event::read()?);
            // Drain what is already queued (held keys, wheel bursts) before
            // drawing once.
            while event::poll(Duration::ZERO)? {
                dirty |= app.on_event(event::read()?);
            }
        } else if timeout > Duration::from_millis(5) && polled_at.elapsed() < timeout / 4 {
            // "Nothing to read" long before the timeout: the tty is closed.
            empty_wakeups += 1;
        } else {
            empty_wakeups = 0;
        }
        if empty_wakeups > MAX_EMPTY_WAKEUPS {
            return Err(ConsoleError::TerminalGone);
        }
        let now = Instant::now();
        if now >= next_store {
            next_store = now + STORE_TICK;
            match app.poll_store() {
                Ok(changed) => dirty |= changed,
                Err(e) => {
                    app.error(format!("store: {e}"));
                    dirty = true;
                }
            }
        }
        if now >= next_clock {
            next_clock = now + CLOCK_TICK;
            if !dirty {
                dirty = fresh.changed(app);
            }
        }
    }
}

#[cfg(test)]
mod tests;
