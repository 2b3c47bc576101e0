//! Semantic styles. Views ask for "selected" or "error", never for a colour,
//! so the mono theme used under `NO_COLOR` only has to keep the meaning:
//! selection stays visible through `REVERSED`, emphasis through `BOLD`.

use ratatui::style::{Color, Modifier, Style};

/// The styles every view draws with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// Plain text.
    pub text: Style,
    /// Secondary text: times, ids, hints.
    pub dim: Style,
    /// Panel titles and the active tab.
    pub title: Style,
    /// Table headers.
    pub header: Style,
    /// The selected row.
    pub selected: Style,
    /// Rows marked for a bulk action.
    pub marked: Style,
    /// Good news.
    pub ok: Style,
    /// Needs attention.
    pub warn: Style,
    /// Broken.
    pub error: Style,
    /// Key names in the hint bar.
    pub key: Style,
    /// Gauge fill.
    pub gauge: Style,
    /// Text matching the search.
    pub highlight: Style,
    /// Where a conflict side differs from the base.
    pub changed: Style,
    /// Whether colours are used at all.
    pub color: bool,
}

impl Theme {
    /// Colour theme for terminals that allow it.
    pub fn color() -> Theme {
        Theme {
            text: Style::new(),
            dim: Style::new().fg(Color::DarkGray),
            title: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            header: Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            selected: Style::new()
                .bg(Color::Blue)
                .fg(Color::White)
                .add_modifier(Modifier::BOLD),
            marked: Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
            ok: Style::new().fg(Color::Green),
            warn: Style::new().fg(Color::Yellow),
            error: Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            key: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            gauge: Style::new().fg(Color::Green).bg(Color::Black),
            highlight: Style::new()
                .bg(Color::Yellow)
                .fg(Color::Black)
                .add_modifier(Modifier::BOLD),
            changed: Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            color: true,
        }
    }

    /// No colours at all: modifiers carry the meaning.
    pub fn mono() -> Theme {
        let plain = Style::new();
        let bold = Style::new().add_modifier(Modifier::BOLD);
        Theme {
            text: plain,
            dim: plain,
            title: bold,
            header: bold.add_modifier(Modifier::UNDERLINED),
            selected: Style::new().add_modifier(Modifier::REVERSED),
            marked: bold,
            ok: plain,
            warn: bold,
            error: bold,
            key: bold,
            gauge: Style::new().add_modifier(Modifier::REVERSED),
            highlight: Style::new().add_modifier(Modifier::UNDERLINED | Modifier::BOLD),
            changed: Style::new().add_modifier(Modifier::UNDERLINED),
            color: false,
        }
    }

    /// Mono when `NO_COLOR` is set to anything non-empty (no-color.org).
    pub fn from_env() -> Theme {
        match std::env::var_os("NO_COLOR") {
            Some(v) if !v.is_empty() => Theme::mono(),
            _ => Theme::color(),
        }
    }
}
