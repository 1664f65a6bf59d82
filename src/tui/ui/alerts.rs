//! The alerts panel: newest first, coloured by severity, with repeat counts; scrollable.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph};

use super::severity_style;
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
    let block = Block::new()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(Color::DarkGray))
        .title(title)
        .title_bottom(Line::from(hint).right_aligned());
    let rows = area.height.saturating_sub(2) as usize;
    let lines: Vec<Line> = all
        .iter()
        .skip(app.alert_scroll)
        .take(rows)
        .map(line)
        .collect();
    let body = if lines.is_empty() {
        vec![Line::styled(
            "no alerts yet",
            Style::new().fg(Color::DarkGray),
        )]
    } else {
        lines
    };
    frame.render_widget(Paragraph::new(body).block(block), area);
}

fn line(l: &AlertLine<'_>) -> Line<'static> {
    match *l {
        AlertLine::Stream(a) => {
            let time = a.first_seen.to_string();
            let repeat = if a.count > 1 {
                format!(" ×{}", a.count)
            } else {
                String::new()
            };
            Line::from(vec![
                Span::styled(
                    format!("{} ", &time[11..19]),
                    Style::new().fg(Color::DarkGray),
                ),
                Span::styled(
                    format!("{:<8} ", a.severity.name()),
                    severity_style(a.severity),
                ),
                Span::styled(
                    format!("{:<11} {:<12} ", a.stream.name(), a.rule),
                    Style::new().fg(Color::Cyan),
                ),
                Span::raw(a.message.clone()),
                Span::styled(repeat, Style::new().fg(Color::Magenta)),
            ])
        }
        AlertLine::System(p) => {
            let (message, severity) = (&p.message, &p.severity);
            let s = p.uptime.as_secs();
            Line::from(vec![
                Span::styled(
                    format!("+{:02}:{:02}:{:02} ", s / 3600, s / 60 % 60, s % 60),
                    Style::new().fg(Color::DarkGray),
                ),
                Span::styled(
                    format!("{:<8} ", severity.name()),
                    severity_style(*severity),
                ),
                Span::styled(
                    format!("{:<24} ", "streamwatch"),
                    Style::new().fg(Color::Cyan),
                ),
                Span::raw(message.clone()),
            ])
        }
    }
}
