//! The one key table. The hint bar, the `?` help screen and key dispatch all
//! read [`BINDINGS`], so what the screen says a key does is what it does, and
//! `--read-only` hides an action from both places by the same flag that
//! refuses it.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::ViewId;

/// Where a binding applies: everywhere, in one view, or in a dialog layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ctx {
    /// Any view (when no dialog is open).
    Global,
    /// A single view.
    View(ViewId),
    /// The text editor layer (mapping or merged value).
    Editor,
    /// A yes/no confirmation.
    Confirm,
    /// A one-line prompt (filter or command line).
    Prompt,
}

impl Ctx {
    /// Heading used in the help screen.
    pub fn title(self) -> &'static str {
        match self {
            Ctx::Global => "Everywhere",
            Ctx::View(v) => v.title(),
            Ctx::Editor => "Editor",
            Ctx::Confirm => "Confirm dialog",
            Ctx::Prompt => "Filter / command line",
        }
    }
}

/// What a key asks for; the app and the views interpret these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    /// Leave the console.
    Quit,
    /// Show the help layer.
    Help,
    /// Next view.
    NextView,
    /// Previous view.
    PrevView,
    /// Jump to a view.
    Go(ViewId),
    /// Selection up one row.
    Up,
    /// Selection down one row.
    Down,
    /// One page up.
    PageUp,
    /// One page down.
    PageDown,
    /// First row.
    Top,
    /// Last row.
    Bottom,
    /// Open the selected item.
    Open,
    /// Close or go back.
    Back,
    /// Filter or search the current view.
    Filter,
    /// Open the `:` command line.
    CommandLine,
    /// Overview: jump to open conflicts.
    GoConflicts,
    /// Overview: jump to failed jobs.
    GoFailedJobs,
    /// Conflicts: mark or unmark for a bulk resolve.
    ToggleSelect,
    /// Conflicts: keep the portal's value.
    TakePortal,
    /// Conflicts: keep Linear's value.
    TakeLinear,
    /// Conflicts: restore the base value.
    KeepBase,
    /// Conflicts: edit a merged value.
    EditMerged,
    /// Conflicts: always let the portal win for this field (new mapping version).
    AlwaysPortal,
    /// Conflicts: always let Linear win for this field (new mapping version).
    AlwaysLinear,
    /// Jobs: retry the selected job.
    Retry,
    /// Jobs: retry every job matching the filter.
    RetryAll,
    /// Jobs: cancel the selected job.
    Cancel,
    /// Jobs: cycle the status filter.
    CycleStatus,
    /// Jobs: cycle the error-class filter.
    CycleClass,
    /// Mappings: edit the active mapping.
    EditMapping,
    /// Mappings: validate the shown document.
    Validate,
    /// Mappings: dry-run preview of the shown document.
    Preview,
    /// Mappings: make the selected version active again.
    Rollback,
    /// Log: cycle the minimum level.
    CycleLevel,
    /// Editor: save (apply a mapping, resolve with the merged value).
    Save,
    /// Confirm: yes.
    Yes,
    /// Confirm: no.
    No,
    /// Prompt: submit.
    Submit,
}

/// A key pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A key without Ctrl/Alt (Shift allowed, so `G` and `?` match).
    Plain(KeyCode),
    /// Ctrl plus a letter.
    Ctrl(char),
}

impl Key {
    fn matches(self, ev: &KeyEvent) -> bool {
        match self {
            Key::Plain(code) => {
                ev.code == code
                    && !ev
                        .modifiers
                        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
            }
            Key::Ctrl(c) => {
                ev.modifiers.contains(KeyModifiers::CONTROL) && ev.code == KeyCode::Char(c)
            }
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// Where it applies.
    pub ctx: Ctx,
    /// Keys that trigger it.
    pub keys: &'static [Key],
    /// How the keys are written on screen.
    pub shown: &'static str,
    /// What it does, a few words.
    pub label: &'static str,
    /// The command.
    pub cmd: Cmd,
    /// Changes the store: hidden and refused in `--read-only`.
    pub mutating: bool,
    /// Shown in the one-line hint bar (everything is in help).
    pub hint: bool,
}

const fn b(
    ctx: Ctx,
    keys: &'static [Key],
    shown: &'static str,
    label: &'static str,
    cmd: Cmd,
    mutating: bool,
    hint: bool,
) -> Binding {
    Binding {
        ctx,
        keys,
        shown,
        label,
        cmd,
        mutating,
        hint,
    }
}

use Key::{Ctrl, Plain};
use KeyCode::{BackTab, Down, End, Enter, Esc, Home, PageDown, PageUp, Tab, Up};

const fn c(ch: char) -> Key {
    Plain(KeyCode::Char(ch))
}

const OV: Ctx = Ctx::View(ViewId::Overview);
const CF: Ctx = Ctx::View(ViewId::Conflicts);
const JB: Ctx = Ctx::View(ViewId::Jobs);
const MP: Ctx = Ctx::View(ViewId::Mappings);
const LG: Ctx = Ctx::View(ViewId::Log);
const G: Ctx = Ctx::Global;

/// Every key binding of the console.
pub const BINDINGS: &[Binding] = &[
    // Dialog layers first: they take keys before anything else.
    b(
        Ctx::Confirm,
        &[c('y'), Plain(Enter)],
        "y/⏎",
        "yes",
        Cmd::Yes,
        false,
        true,
    ),
    b(
        Ctx::Confirm,
        &[c('n'), Plain(Esc)],
        "n/Esc",
        "no",
        Cmd::No,
        false,
        true,
    ),
    b(
        Ctx::Prompt,
        &[Plain(Enter)],
        "⏎",
        "apply",
        Cmd::Submit,
        false,
        true,
    ),
    b(
        Ctx::Prompt,
        &[Plain(Esc)],
        "Esc",
        "cancel",
        Cmd::Back,
        false,
        true,
    ),
    b(
        Ctx::Editor,
        &[Ctrl('s')],
        "^S",
        "save/apply",
        Cmd::Save,
        true,
        true,
    ),
    b(
        Ctx::Editor,
        &[Ctrl('e')],
        "^E",
        "validate",
        Cmd::Validate,
        false,
        true,
    ),
    b(
        Ctx::Editor,
        &[Ctrl('p')],
        "^P",
        "preview",
        Cmd::Preview,
        false,
        true,
    ),
    b(
        Ctx::Editor,
        &[Plain(Esc)],
        "Esc",
        "close",
        Cmd::Back,
        false,
        true,
    ),
    // Views.
    b(
        OV,
        &[c('c')],
        "c",
        "open conflicts",
        Cmd::GoConflicts,
        false,
        true,
    ),
    b(
        OV,
        &[c('f')],
        "f",
        "failed jobs",
        Cmd::GoFailedJobs,
        false,
        true,
    ),
    b(
        CF,
        &[c(' ')],
        "space",
        "select",
        Cmd::ToggleSelect,
        true,
        true,
    ),
    b(
        CF,
        &[c('p')],
        "p",
        "take portal",
        Cmd::TakePortal,
        true,
        true,
    ),
    b(
        CF,
        &[c('l')],
        "l",
        "take Linear",
        Cmd::TakeLinear,
        true,
        true,
    ),
    b(CF, &[c('b')], "b", "keep base", Cmd::KeepBase, true, true),
    b(
        CF,
        &[c('e')],
        "e",
        "edit merged",
        Cmd::EditMerged,
        true,
        true,
    ),
    b(
        CF,
        &[c('P')],
        "P",
        "always portal for field",
        Cmd::AlwaysPortal,
        true,
        false,
    ),
    b(
        CF,
        &[c('L')],
        "L",
        "always Linear for field",
        Cmd::AlwaysLinear,
        true,
        false,
    ),
    b(JB, &[c('r')], "r", "retry", Cmd::Retry, true, true),
    b(
        JB,
        &[c('R')],
        "R",
        "retry all matching",
        Cmd::RetryAll,
        true,
        true,
    ),
    b(JB, &[c('x')], "x", "cancel", Cmd::Cancel, true, true),
    b(
        JB,
        &[c('s')],
        "s",
        "status filter",
        Cmd::CycleStatus,
        false,
        true,
    ),
    b(
        JB,
        &[c('c')],
        "c",
        "class filter",
        Cmd::CycleClass,
        false,
        true,
    ),
    b(MP, &[c('e')], "e", "edit", Cmd::EditMapping, true, true),
    b(MP, &[c('v')], "v", "validate", Cmd::Validate, false, true),
    b(MP, &[c('p')], "p", "preview", Cmd::Preview, false, true),
    b(
        MP,
        &[c('r')],
        "r",
        "roll back to version",
        Cmd::Rollback,
        true,
        true,
    ),
    b(LG, &[c('l')], "l", "level", Cmd::CycleLevel, false, true),
    // Everywhere.
    b(G, &[Plain(Enter)], "⏎", "open", Cmd::Open, false, true),
    b(G, &[Plain(Esc)], "Esc", "back", Cmd::Back, false, false),
    b(G, &[c('/')], "/", "filter", Cmd::Filter, false, true),
    b(G, &[c(':')], ":", "command", Cmd::CommandLine, false, true),
    b(G, &[c('?')], "?", "help", Cmd::Help, false, true),
    b(G, &[c('q'), Ctrl('c')], "q", "quit", Cmd::Quit, false, true),
    b(
        G,
        &[Plain(Tab)],
        "Tab",
        "next view",
        Cmd::NextView,
        false,
        false,
    ),
    b(
        G,
        &[Plain(BackTab)],
        "S-Tab",
        "previous view",
        Cmd::PrevView,
        false,
        false,
    ),
    b(
        G,
        &[c('1')],
        "1",
        "Overview",
        Cmd::Go(ViewId::Overview),
        false,
        false,
    ),
    b(
        G,
        &[c('2')],
        "2",
        "Conflicts",
        Cmd::Go(ViewId::Conflicts),
        false,
        false,
    ),
    b(
        G,
        &[c('3')],
        "3",
        "Jobs",
        Cmd::Go(ViewId::Jobs),
        false,
        false,
    ),
    b(
        G,
        &[c('4')],
        "4",
        "Links",
        Cmd::Go(ViewId::Links),
        false,
        false,
    ),
    b(
        G,
        &[c('5')],
        "5",
        "Mappings",
        Cmd::Go(ViewId::Mappings),
        false,
        false,
    ),
    b(G, &[c('6')], "6", "Log", Cmd::Go(ViewId::Log), false, false),
    b(G, &[c('k'), Plain(Up)], "k/↑", "up", Cmd::Up, false, false),
    b(
        G,
        &[c('j'), Plain(Down)],
        "j/↓",
        "down",
        Cmd::Down,
        false,
        false,
    ),
    b(
        G,
        &[Plain(PageUp)],
        "PgUp",
        "page up",
        Cmd::PageUp,
        false,
        false,
    ),
    b(
        G,
        &[Plain(PageDown)],
        "PgDn",
        "page down",
        Cmd::PageDown,
        false,
        false,
    ),
    b(
        G,
        &[c('g'), Plain(Home)],
        "g",
        "first",
        Cmd::Top,
        false,
        false,
    ),
    b(
        G,
        &[c('G'), Plain(End)],
        "G",
        "last",
        Cmd::Bottom,
        false,
        false,
    ),
];

/// Whether a binding is shown and usable in this mode.
pub fn available(b: &Binding, read_only: bool) -> bool {
    !(b.mutating && read_only)
}

/// The binding a key triggers in the given contexts (searched in order).
/// Mutating bindings are returned in read-only mode too, so the caller can
/// say why nothing happened.
pub fn lookup(ctxs: &[Ctx], ev: &KeyEvent) -> Option<&'static Binding> {
    ctxs.iter().find_map(|ctx| {
        BINDINGS
            .iter()
            .find(|b| b.ctx == *ctx && b.keys.iter().any(|k| k.matches(ev)))
    })
}

/// The hint bar's entries for these contexts.
pub fn hints(ctxs: &[Ctx], read_only: bool) -> Vec<&'static Binding> {
    ctxs.iter()
        .flat_map(|ctx| {
            BINDINGS
                .iter()
                .filter(move |b| b.ctx == *ctx && b.hint && available(b, read_only))
        })
        .collect()
}

/// Every context with its available bindings, in help-screen order.
pub fn help(read_only: bool) -> Vec<(Ctx, Vec<&'static Binding>)> {
    let mut order: Vec<Ctx> = vec![Ctx::Global];
    order.extend(ViewId::ALL.iter().map(|v| Ctx::View(*v)));
    order.extend([Ctx::Editor, Ctx::Confirm, Ctx::Prompt]);
    order
        .into_iter()
        .map(|ctx| {
            let rows = BINDINGS
                .iter()
                .filter(|b| b.ctx == ctx && available(b, read_only))
                .collect::<Vec<_>>();
            (ctx, rows)
        })
        .filter(|(_, rows)| !rows.is_empty())
        .collect()
}

/// The key table as Markdown, for the README (a test keeps them equal).
pub fn markdown() -> String {
    let mut out = String::from("| where | keys | does | changes the store |\n|---|---|---|---|\n");
    for (ctx, rows) in help(false) {
        for b in rows {
            let keys = b.shown.replace('|', "\\|");
            out.push_str(&format!(
                "| {} | `{keys}` | {} | {} |\n",
                ctx.title(),
                b.label,
                if b.mutating {
                    "yes (hidden in --read-only)"
                } else {
                    ""
                }
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_view_key_is_unique_within_its_context() {
        for (i, a) in BINDINGS.iter().enumerate() {
            for other in &BINDINGS[i + 1..] {
                if a.ctx == other.ctx {
                    for k in a.keys {
                        assert!(!other.keys.contains(k), "{k:?} bound twice in {:?}", a.ctx);
                    }
                }
            }
        }
    }

    #[test]
    fn read_only_hides_mutating_bindings() {
        let all = help(false).iter().map(|(_, r)| r.len()).sum::<usize>();
        let ro = help(true).iter().map(|(_, r)| r.len()).sum::<usize>();
        assert!(ro < all);
        for (_, rows) in help(true) {
            assert!(rows.iter().all(|b| !b.mutating));
        }
        assert!(
            hints(&[Ctx::View(ViewId::Jobs), Ctx::Global], true)
                .iter()
                .all(|b| b.cmd != Cmd::Retry)
        );
    }
}
