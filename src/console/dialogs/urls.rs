//! Both sides of a link: each record's id and URL as last seen, so an
//! operator can open the post and the issue (`y` copies both URLs).

use ratatui::text::{Line, Span};

use super::panel::PanelDialog;
use crate::console::theme::Theme;
use crate::store::{Link, StoredRecord};

/// The URLs panel.
pub fn dialog(
    link: &Link,
    portal: Option<&StoredRecord>,
    linear: Option<&StoredRecord>,
    theme: &Theme,
) -> PanelDialog {
    let url = |r: Option<&StoredRecord>| r.and_then(|r| r.record.url.clone());
    let mut lines = Vec::new();
    let mut urls = Vec::new();
    for (side, id, rec) in [
        ("portal", link.portal_id.as_deref(), portal),
        ("Linear", link.linear_name(), linear),
    ] {
        lines.push(Line::from(vec![
            Span::styled(format!("{side:<7}"), theme.header),
            Span::raw(id.unwrap_or("not created yet").to_string()),
        ]));
        match url(rec) {
            Some(u) => {
                lines.push(Line::from(format!("       {u}")));
                urls.push(u);
            }
            None => lines.push(Line::from(Span::styled(
                "       no URL seen yet".to_string(),
                theme.dim,
            ))),
        }
    }
    if let Some(uuid) = link
        .linear_id
        .as_deref()
        .filter(|u| Some(*u) != link.linear_name())
    {
        lines.push(Line::from(vec![
            Span::styled("issue id ".to_string(), theme.dim),
            Span::raw(uuid.to_string()),
        ]));
    }
    let mut d = PanelDialog::new(format!("{} · {}", link.label(), link.title), lines);
    d.indent = 7;
    d.copy = Some(urls.join("\n"));
    d
}
