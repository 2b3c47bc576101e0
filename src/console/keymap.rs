//! The one key table. Key dispatch, the hint bar, every dialog's key line
//! and title, the `?` help panel and the README's key table all read
//! [`BINDINGS`], so what the screen says a key does is what it does, and
//! `--read-only` hides an action everywhere by the same flag that refuses
//! it.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::command::COMMANDS;
use super::types::{Cmd, Ctx, ViewId};

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
    /// Place in the hint bar: 1 is kept longest when the bar is short, 0
    /// means help only.
    pub hint: u8,
}

const fn b(
    ctx: Ctx,
    keys: &'static [Key],
    shown: &'static str,
    label: &'static str,
    cmd: Cmd,
    hint: u8,
) -> Binding {
    Binding {
        ctx,
        keys,
        shown,
        label,
        cmd,
        mutating: false,
        hint,
    }
}

/// A binding that writes to the store.
const fn w(
    ctx: Ctx,
    keys: &'static [Key],
    shown: &'static str,
    label: &'static str,
    cmd: Cmd,
    hint: u8,
) -> Binding {
    Binding {
        mutating: true,
        ..b(ctx, keys, shown, label, cmd, hint)
    }
}

use Key::{Ctrl, Plain};
use KeyCode::{BackTab, Down, End, Enter, Esc, Home, Left, PageDown, PageUp, Right, Tab, Up};

const fn c(ch: char) -> Key {
    Plain(KeyCode::Char(ch))
}

const OV: Ctx = Ctx::View(ViewId::Overview);
const CF: Ctx = Ctx::View(ViewId::Conflicts);
const JB: Ctx = Ctx::View(ViewId::Jobs);
const MP: Ctx = Ctx::View(ViewId::Mappings);
const LG: Ctx = Ctx::View(ViewId::Log);
const G: Ctx = Ctx::Global;
const Q: Ctx = Ctx::Confirm;
const PR: Ctx = Ctx::Prompt;
const CL: Ctx = Ctx::Command;
const PK: Ctx = Ctx::Picker;
const PN: Ctx = Ctx::Panel;
const ED: Ctx = Ctx::Editor;

/// Every key binding of the console. Dialog contexts come first: they take
/// keys before anything else.
pub const BINDINGS: &[Binding] = &[
    b(Q, &[c('y'), Plain(Enter)], "y/⏎", "yes", Cmd::Yes, 1),
    b(Q, &[c('n'), Plain(Esc)], "n/Esc", "no", Cmd::No, 1),
    b(PR, &[Plain(Enter)], "⏎", "search", Cmd::Submit, 1),
    b(PR, &[Plain(Esc)], "Esc", "cancel", Cmd::Back, 1),
    b(PR, &[Plain(Up)], "↑", "older", Cmd::HistoryPrev, 3),
    b(PR, &[Plain(Down)], "↓", "newer", Cmd::HistoryNext, 3),
    b(CL, &[Plain(Enter)], "⏎", "run", Cmd::Submit, 1),
    b(CL, &[Plain(Esc)], "Esc", "cancel", Cmd::Back, 1),
    b(CL, &[Plain(Tab)], "Tab", "complete", Cmd::Complete, 2),
    b(CL, &[Plain(Up)], "↑", "older", Cmd::HistoryPrev, 3),
    b(CL, &[Plain(Down)], "↓", "newer", Cmd::HistoryNext, 3),
    b(PK, &[Plain(Enter)], "⏎", "choose", Cmd::Submit, 1),
    b(PK, &[Plain(Esc), c('q')], "Esc", "cancel", Cmd::Back, 1),
    b(PK, &[c('j'), Plain(Down)], "j/↓", "down", Cmd::Down, 2),
    b(PK, &[c('k'), Plain(Up)], "k/↑", "up", Cmd::Up, 2),
    b(PK, &[c('g'), Plain(Home)], "g", "first", Cmd::Top, 0),
    b(PK, &[c('G'), Plain(End)], "G", "last", Cmd::Bottom, 0),
    b(
        PN,
        &[Plain(Esc), c('q'), Plain(Enter)],
        "Esc",
        "close",
        Cmd::Back,
        1,
    ),
    b(PN, &[c('j'), Plain(Down)], "j/↓", "down", Cmd::Down, 2),
    b(PN, &[c('k'), Plain(Up)], "k/↑", "up", Cmd::Up, 2),
    b(
        PN,
        &[Plain(PageDown), c(' ')],
        "PgDn",
        "page down",
        Cmd::PageDown,
        3,
    ),
    b(PN, &[Plain(PageUp)], "PgUp", "page up", Cmd::PageUp, 3),
    b(PN, &[c('y')], "y", "copy", Cmd::Copy, 4),
    b(PN, &[c('g'), Plain(Home)], "g", "top", Cmd::Top, 0),
    b(PN, &[c('G'), Plain(End)], "G", "end", Cmd::Bottom, 0),
    w(ED, &[Ctrl('s')], "^S", "save", Cmd::Save, 1),
    b(ED, &[Ctrl('e')], "^E", "validate", Cmd::Validate, 2),
    b(ED, &[Ctrl('p')], "^P", "preview", Cmd::Preview, 2),
    b(ED, &[Plain(Esc)], "Esc", "close", Cmd::Back, 1),
    // Views.
    b(OV, &[c('c')], "c", "open conflicts", Cmd::GoConflicts, 2),
    b(OV, &[c('f')], "f", "failed + dead jobs", Cmd::GoProblems, 2),
    w(CF, &[c('P')], "P", "take portal", Cmd::TakePortal, 2),
    w(CF, &[c('L')], "L", "take Linear", Cmd::TakeLinear, 2),
    w(CF, &[c('B')], "B", "keep base", Cmd::KeepBase, 3),
    w(CF, &[c('e')], "e", "edit merged", Cmd::EditMerged, 3),
    w(CF, &[c(' ')], "space", "mark", Cmd::ToggleMark, 4),
    w(CF, &[c('A')], "A", "always one side…", Cmd::Always, 5),
    b(CF, &[c('s')], "s", "open/resolved", Cmd::ConflictStatus, 5),
    w(JB, &[c('r')], "r", "retry", Cmd::Retry, 2),
    w(JB, &[c('R')], "R", "retry all matching", Cmd::RetryAll, 3),
    w(JB, &[c('x')], "x", "cancel job", Cmd::Cancel, 4),
    b(JB, &[c('s')], "s", "status…", Cmd::StatusFilter, 3),
    b(JB, &[c('c')], "c", "error class…", Cmd::ClassFilter, 5),
    w(MP, &[c('e')], "e", "edit", Cmd::EditMapping, 2),
    b(MP, &[c('v')], "v", "validate", Cmd::Validate, 3),
    b(MP, &[c('p')], "p", "preview", Cmd::Preview, 3),
    w(MP, &[c('r')], "r", "roll back to version", Cmd::Rollback, 4),
    b(LG, &[c('s')], "s", "level…", Cmd::LevelFilter, 3),
    // Everywhere.
    b(G, &[Plain(Enter)], "⏎", "details", Cmd::Open, 3),
    b(G, &[Plain(Esc)], "Esc", "back", Cmd::Back, 0),
    b(G, &[c('/')], "/", "search", Cmd::Search, 4),
    b(G, &[c('n')], "n", "next match", Cmd::NextMatch, 0),
    b(G, &[c('N')], "N", "previous match", Cmd::PrevMatch, 0),
    b(G, &[c(':')], ":", "command", Cmd::CommandLine, 6),
    b(G, &[c('?')], "?", "help", Cmd::Help, 1),
    b(G, &[c('q'), Ctrl('c')], "q", "quit", Cmd::Quit, 2),
    b(G, &[c('y')], "y", "copy", Cmd::Copy, 7),
    b(G, &[c('o')], "o", "URLs", Cmd::Urls, 7),
    b(G, &[c('S')], "S", "sort…", Cmd::Sort, 8),
    b(G, &[Plain(Tab)], "Tab", "next view", Cmd::NextView, 0),
    b(
        G,
        &[Plain(BackTab)],
        "S-Tab",
        "previous view",
        Cmd::PrevView,
        0,
    ),
    b(G, &[c('1')], "1", "Overview", Cmd::Go(ViewId::Overview), 0),
    b(
        G,
        &[c('2')],
        "2",
        "Conflicts",
        Cmd::Go(ViewId::Conflicts),
        0,
    ),
    b(G, &[c('3')], "3", "Jobs", Cmd::Go(ViewId::Jobs), 0),
    b(G, &[c('4')], "4", "Links", Cmd::Go(ViewId::Links), 0),
    b(G, &[c('5')], "5", "Mappings", Cmd::Go(ViewId::Mappings), 0),
    b(G, &[c('6')], "6", "Log", Cmd::Go(ViewId::Log), 0),
    b(G, &[c('k'), Plain(Up)], "k/↑", "up", Cmd::Up, 0),
    b(G, &[c('j'), Plain(Down)], "j/↓", "down", Cmd::Down, 0),
    b(
        G,
        &[c('h'), Plain(Left)],
        "h/←",
        "scroll text left",
        Cmd::Left,
        0,
    ),
    b(
        G,
        &[c('l'), Plain(Right)],
        "l/→",
        "scroll text right",
        Cmd::Right,
        0,
    ),
    b(G, &[Plain(PageUp)], "PgUp", "page up", Cmd::PageUp, 0),
    b(G, &[Plain(PageDown)], "PgDn", "page down", Cmd::PageDown, 0),
    b(G, &[c('g'), Plain(Home)], "g", "first", Cmd::Top, 0),
    b(G, &[c('G'), Plain(End)], "G", "last", Cmd::Bottom, 0),
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

/// The hint-bar entries for these contexts, most important first (ties in
/// table order).
pub fn hints(ctxs: &[Ctx], read_only: bool) -> Vec<&'static Binding> {
    let mut out: Vec<&'static Binding> = ctxs
        .iter()
        .flat_map(|ctx| {
            BINDINGS
                .iter()
                .filter(move |b| b.ctx == *ctx && b.hint > 0 && available(b, read_only))
        })
        .collect();
    out.sort_by_key(|b| b.hint);
    out
}

/// A dialog's own key line ("y/⏎ yes · n/Esc no"), in table order.
pub fn key_line(ctx: Ctx, read_only: bool) -> String {
    BINDINGS
        .iter()
        .filter(|b| b.ctx == ctx && b.hint > 0 && available(b, read_only))
        .map(|b| format!("{} {}", b.shown, b.label))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// How the key for `cmd` is written in `ctx` (falling back to the global
/// binding), for text that names a key ("press e to write one").
pub fn shown(ctx: Ctx, cmd: Cmd) -> &'static str {
    BINDINGS
        .iter()
        .find(|b| b.ctx == ctx && b.cmd == cmd)
        .or_else(|| {
            BINDINGS
                .iter()
                .find(|b| b.ctx == Ctx::Global && b.cmd == cmd)
        })
        .map_or("?", |b| b.shown)
}

/// Contexts in help-panel order.
pub fn help_order() -> Vec<Ctx> {
    let mut order: Vec<Ctx> = vec![Ctx::Global];
    order.extend(ViewId::ALL.iter().map(|v| Ctx::View(*v)));
    order.extend([
        Ctx::Editor,
        Ctx::Picker,
        Ctx::Prompt,
        Ctx::Command,
        Ctx::Confirm,
        Ctx::Panel,
    ]);
    order
}

/// Every context with its available bindings, in help-panel order.
pub fn help(read_only: bool) -> Vec<(Ctx, Vec<&'static Binding>)> {
    help_order()
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

/// The key table and the `:` command table as Markdown, for the README (a
/// test keeps them equal).
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
                    "yes, after asking (hidden in --read-only)"
                } else {
                    ""
                }
            ));
        }
    }
    out.push_str("\n| `:` command | does | acts on |\n|---|---|---|\n");
    for c in COMMANDS {
        out.push_str(&format!(
            "| `{}{}{}` | {} | {} |\n",
            c.name,
            if c.args.is_empty() { "" } else { " " },
            c.args.replace('|', "\\|"),
            c.does,
            match (c.on, c.args.is_empty()) {
                (Some(v), _) => format!(
                    "the ids given, else the selection in {} (only when on screen)",
                    v.title()
                ),
                (None, false) => "what it names".to_string(),
                (None, true) => "–".to_string(),
            }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_unique_within_its_context() {
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
    fn view_keys_do_not_shadow_movement() {
        // A view binding shadows a global one with the same key; none of the
        // keys a vim user moves with may be taken by a view.
        for b in BINDINGS.iter().filter(|b| matches!(b.ctx, Ctx::View(_))) {
            for k in b.keys {
                assert!(
                    ![
                        'h', 'j', 'k', 'l', 'g', 'G', 'n', 'N', 'q', 'y', 'o', '?', '/', ':'
                    ]
                    .iter()
                    .any(|ch| *k == c(*ch)),
                    "{:?} takes {k:?}",
                    b.ctx
                );
            }
        }
    }

    #[test]
    fn writes_need_shift_or_a_letter_vim_never_moves_with() {
        let motions = ['h', 'j', 'k', 'l', 'w', 'b', 'p', 'y', 'd', 'u'];
        for b in BINDINGS.iter().filter(|b| b.mutating) {
            for k in b.keys {
                assert!(
                    !motions.iter().any(|ch| *k == c(*ch)),
                    "{} writes on {k:?}",
                    b.label
                );
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

    #[test]
    fn help_and_quit_lead_the_hint_bar() {
        let h = hints(&[Ctx::View(ViewId::Conflicts), Ctx::Global], false);
        assert_eq!(h[0].cmd, Cmd::Help);
        assert!(h.iter().take(4).any(|b| b.cmd == Cmd::Quit));
        assert_eq!(key_line(Ctx::Confirm, false), "y/⏎ yes · n/Esc no");
        assert_eq!(shown(Ctx::View(ViewId::Overview), Cmd::GoProblems), "f");
    }
}
