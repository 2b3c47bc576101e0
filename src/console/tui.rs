//! Terminal setup and the one restore path. Quit, the error path, the panic
//! hook and SIGHUP/SIGTERM/SIGINT all end in [`restore`], which is safe to
//! call more than once, so an operator's SSH session is never left in raw
//! mode on the alternate screen.

use std::io::{self, Stdout, Write};
use std::sync::Arc;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// The terminal type the console draws on.
pub type Term = Terminal<CrosstermBackend<Stdout>>;

static ACTIVE: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// Enter raw mode and the alternate screen with mouse capture, after
/// installing the panic hook that undoes it.
pub fn enter() -> io::Result<Term> {
    install_panic_hook();
    enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    let mut out = io::stdout();
    if let Err(e) = execute!(out, EnterAlternateScreen, EnableMouseCapture, cursor::Hide) {
        restore();
        return Err(e);
    }
    match Terminal::new(CrosstermBackend::new(out)) {
        Ok(t) => Ok(t),
        Err(e) => {
            restore();
            Err(e)
        }
    }
}

/// Put the terminal back: leave the alternate screen, stop mouse capture,
/// show the cursor, leave raw mode. Does nothing when not active.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let mut out = io::stdout();
        // Best effort: every step runs even if an earlier one fails.
        let _ = execute!(out, DisableMouseCapture, LeaveAlternateScreen, cursor::Show);
        let _ = disable_raw_mode();
        let _ = out.flush();
    }
}

fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

/// Set when SIGHUP, SIGTERM or SIGINT arrives; the event loop checks it on
/// every tick and leaves through the normal restore path.
pub fn termination_flag() -> io::Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
    ] {
        signal_hook::flag::register(sig, Arc::clone(&flag))?;
    }
    Ok(flag)
}

/// A watchdog for the one way the console can hang: crossterm's reader
/// loops forever on a tty that reads EOF (a hung-up SSH session, a killed
/// tmux server), so the event loop never sees the stop flag again. Every
/// 500 ms this thread checks whether a termination signal has been pending
/// for over a second, or whether our parent died; if so it restores the
/// terminal and exits the process (the store is WAL: an exit at any point
/// leaves it consistent).
pub fn spawn_watchdog(stop: Arc<AtomicBool>) {
    #[cfg(unix)]
    let parent = std::os::unix::process::parent_id();
    let _ = std::thread::Builder::new()
        .name("console-watchdog".into())
        .spawn(move || {
            let mut stopping_since: Option<std::time::Instant> = None;
            loop {
                std::thread::sleep(std::time::Duration::from_millis(500));
                #[cfg(unix)]
                let orphaned = std::os::unix::process::parent_id() != parent;
                #[cfg(not(unix))]
                let orphaned = false;
                if stop.load(Ordering::SeqCst) {
                    let since = *stopping_since.get_or_insert_with(std::time::Instant::now);
                    if since.elapsed() < std::time::Duration::from_secs(1) && !orphaned {
                        continue;
                    }
                } else if !orphaned {
                    continue;
                }
                restore();
                std::process::exit(if orphaned { 1 } else { 0 });
            }
        });
}

/// Put text on the operator's clipboard with OSC 52, which terminals (and
/// tmux with `set-clipboard on`) honour even over SSH, where no local
/// clipboard tool could reach.
pub fn copy_to_clipboard(text: &str) -> io::Result<()> {
    let mut out = io::stdout();
    out.write_all(osc52(text).as_bytes())?;
    out.flush()
}

/// The OSC 52 sequence that sets the clipboard to `text`.
pub fn osc52(text: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    format!("\x1b]52;c;{encoded}\x07")
}
