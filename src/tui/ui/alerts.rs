//! The alerts panel: firing alerts first, then pending (in a stream's view), then resolved
//! (dimmed); each line with its state, how long the incident has lasted, severity, stream,
//! entity, one line of summary and how much evidence it holds. A cursor marks the alert that
//! Enter opens; problems of the app itself are pinned on top.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::theme::THEME;
use crate::tui::app::{AlertLine, App};
use crate::tui::desk::Modal;
use streamwatch::analytics::{Alert, AlertState};
use streamwatch::streams::StreamKind;

pub fn render(app: &App, stream: Option<StreamKind>, frame: &mut Frame, area: Rect) {
    let all = app.alert_lines(stream);
    let problems = app.problems.len();
    let firing = all
        .iter()
        .filter(|l| matches!(l, AlertLine::Stream(a) if a.state == AlertState::Firing))
        .count();
    let silenced = app.silenced_count(stream);
    let name = stream.map_or("Alerts".to_string(), |k| format!("{} alerts", k.name()));
    let mut title = format!(" {name}: {firing} firing ");
    if silenced > 0 {
        title.push_str(&format!("· {silenced} silenced "));
    }
    let filter = match (&app.desk.modal, app.desk.filter.as_str()) {
        (Modal::Filter, f) => format!(" /{f}▏ "),
        (_, "") => String::new(),
        (_, f) => format!(" filter: {f} (Esc clears) "),
    };
    let block = THEME
        .panel(title, false)
        .title_bottom(Line::from(filter).right_aligned());
    let rows = area.height.saturating_sub(2) as usize;
    let cursor = problems + app.desk.cursor;
    // Scrolled so that the cursor stays in sight.
    let skip = (cursor + 1).saturating_sub(rows);
    let lines: Vec<Line> = all
        .iter()
        .enumerate()
        .skip(skip)
        .take(rows)
        .map(|(i, l)| {
            let line = line(app, l);
            if i == cursor && matches!(l, AlertLine::Stream(_)) {
                line.patch_style(THEME.cursor)
            } else {
                line
            }
        })
        .collect();
    let body = if lines.is_empty() {
        vec![Line::styled("no alerts", THEME.dim)]
    } else {
        lines
    };
    frame.render_widget(Paragraph::new(body).block(block), area);
}

/// `12s`, `3m05s`, `2h10m`.
pub fn span_text(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s / 60 % 60),
    }
}

/// The state as a word (colour is not the only mark: `NO_COLOR` keeps the words).
fn state_word(app: &App, a: &Alert) -> (&'static str, Style) {
    if app.desk.is_acked(a) {
        return ("ACKED", THEME.dim);
    }
    match (a.state, a.flapping) {
        (AlertState::Firing, true) => ("FLAPPING", THEME.severity(a.severity)),
        (AlertState::Firing, false) => ("FIRING", THEME.severity(a.severity)),
        (AlertState::Pending, _) => ("pending", THEME.accent),
        (AlertState::Resolved, _) => ("resolved", THEME.dim),
    }
}

fn line(app: &App, l: &AlertLine<'_>) -> Line<'static> {
    match *l {
        AlertLine::Stream(a) => alert_line(app, a),
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

fn alert_line(app: &App, a: &Alert) -> Line<'static> {
    let (word, style) = state_word(app, a);
    let resolved = a.state == AlertState::Resolved;
    let body = if resolved {
        THEME.dim
    } else {
        Style::default()
    };
    let evidence = match a.detectors() {
        1 => format!(" ({}×)", a.count),
        n => format!(" ({} detectors, {}×)", n, a.count),
    };
    Line::from(vec![
        Span::styled(format!("{word:<8} "), style),
        Span::styled(format!("{:>6} ", span_text(a.duration_ms())), THEME.dim),
        Span::styled(
            format!("{:<8} ", a.severity.name()),
            if resolved {
                THEME.dim
            } else {
                THEME.severity(a.severity)
            },
        ),
        Span::styled(
            format!("{:<11} {:<13} ", a.stream.name(), a.entity),
            if resolved { THEME.dim } else { THEME.accent },
        ),
        Span::styled(a.message.clone(), body),
        Span::styled(evidence, THEME.mark),
    ])
}
