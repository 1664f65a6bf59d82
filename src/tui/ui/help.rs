//! The `?` overlay, generated from the keybinding table.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::theme::THEME;
use crate::tui::keys::BINDINGS;

pub fn render(frame: &mut Frame, area: Rect) {
    let height = (BINDINGS.len() as u16 + 4).min(area.height);
    let width = 72.min(area.width);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let mut lines: Vec<Line> = BINDINGS
        .iter()
        .map(|b| {
            Line::from(vec![
                Span::styled(format!(" {:>10}  ", b.keys), THEME.accent.patch(THEME.bold)),
                Span::raw(b.description),
            ])
        })
        .collect();
    lines.push(Line::styled(
        "  mouse wheel scrolls alerts · any key closes this",
        THEME.dim,
    ));
    let block = THEME.overlay(" Help — keys ");
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
