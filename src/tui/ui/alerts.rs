//! The alerts panel: newest first, coloured by severity, with repeat counts; scrollable.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::theme::THEME;
use crate::tui::app::{AlertLine, App};
use streamwatch::streams::StreamKind;

pub fn render(app: &App, stream: Option<StreamKind>, frame: &mut Frame, area: Rect) {
    let all = app.alert_lines(stream);
    let total = all.len();
    let title = match stream {
        Some(k) => format!(" {} alerts ({total}) ", k.name()),
        None => format!(" Alerts ({total}) "),
    };
    let hint = if app.alert_scroll > 0 {
        format!(" ↑ {} newer ", app.alert_scroll)
    } else {
        String::new()
    };
    let block = THEME
        .panel(title, false)
        .title_bottom(Line::from(hint).right_aligned());
    let rows = area.height.saturating_sub(2) as usize;
    let lines: Vec<Line> = all
        .iter()
        .skip(app.alert_scroll)
        .take(rows)
        .map(line)
        .collect();
    let body = if lines.is_empty() {
        vec![Line::styled("no alerts yet", THEME.dim)]
    } else {
        lines
    };
    frame.render_widget(Paragraph::new(body).block(block), area);
}

fn line(l: &AlertLine<'_>) -> Line<'static> {
    match *l {
        AlertLine::Stream(a) => {
            let repeat = if a.count > 1 {
                format!(" ×{}", a.count)
            } else {
                String::new()
            };
            Line::from(vec![
                Span::styled(format!("{} ", a.first_seen.clock()), THEME.dim),
                Span::styled(
                    format!("{:<8} ", a.severity.name()),
                    THEME.severity(a.severity),
                ),
                Span::styled(
                    format!("{:<11} {:<12} ", a.stream.name(), a.rule),
                    THEME.accent,
                ),
                Span::raw(a.message.clone()),
                Span::styled(repeat, THEME.mark),
            ])
        }
        AlertLine::System(p) => {
            let (message, severity) = (&p.message, &p.severity);
            let s = p.uptime.as_secs();
            Line::from(vec![
                Span::styled(
                    format!("+{:02}:{:02}:{:02} ", s / 3600, s / 60 % 60, s % 60),
                    THEME.dim,
                ),
                Span::styled(
                    format!("{:<8} ", severity.name()),
                    THEME.severity(*severity),
                ),
                Span::styled(format!("{:<24} ", "streamwatch"), THEME.accent),
                Span::raw(message.clone()),
            ])
        }
    }
}
