//! The desk's overlays: an alert's detail (its evidence as a timeline, the latest event as
//! JSON, the stream's rolling context, what the models said), the silence menu and the
//! silences list.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::alerts::span_text;
use super::theme::THEME;
use crate::tui::app::App;
use crate::tui::desk::{Matcher, Modal, SILENCE_CHOICES};
use streamwatch::analytics::Alert;

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let feed = app.feed();
    match &app.desk.modal {
        Modal::Detail(_) => {
            if let Some(a) = app.desk.target(&feed) {
                detail(app, a, frame, area);
            }
        }
        Modal::Silence(_, choice) => {
            if let Some(a) = app.desk.target(&feed) {
                silence_menu(a, *choice, frame, area);
            }
        }
        Modal::Silences(at) => silences(app, *at, frame, area),
        Modal::None | Modal::Filter => {}
    }
}

fn popup(area: Rect, width: u16, height: u16) -> Rect {
    let (width, height) = (width.min(area.width), height.min(area.height));
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

fn heading(text: &str) -> Line<'static> {
    Line::styled(text.to_string(), THEME.accent.patch(THEME.bold))
}

fn range(lo: f64, hi: f64) -> String {
    format!("{lo:.2}–{hi:.2}")
}

fn detail(app: &App, a: &Alert, frame: &mut Frame, area: Rect) {
    let mut lines = vec![
        Line::from(vec![
            Span::styled(
                format!("{} ", a.state.name().to_uppercase()),
                THEME.severity(a.severity),
            ),
            Span::raw(format!(
                "{}  {} on {}  lasting {}  fired by {} at {}{}",
                a.severity.name(),
                a.stream.name(),
                a.entity,
                span_text(a.duration_ms()),
                a.fired_by.unwrap_or("—"),
                a.fired_at.map_or("—".to_string(), |t| t.clock()),
                if app.desk.is_acked(a) {
                    "  (acknowledged)"
                } else {
                    ""
                },
            )),
        ]),
        Line::raw(a.message.clone()),
        Line::raw(""),
    ];
    lines.extend(evidence_lines(a));
    lines.extend(context_lines(app, a));
    lines.push(Line::styled(
        "a acknowledge · x silence · Esc back",
        THEME.dim,
    ));
    let p = popup(
        area,
        area.width.saturating_sub(4),
        area.height.saturating_sub(2),
    );
    frame.render_widget(Clear, p);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(THEME.overlay(" Alert ")),
        p,
    );
}

/// Each detector's evidence, then the latest firings as a timeline.
fn evidence_lines(a: &Alert) -> Vec<Line<'static>> {
    let mut lines = vec![heading("Evidence")];
    for e in &a.evidence {
        lines.push(Line::raw(format!(
            "  {:<14} {:>5}×  {:<8} worst {:.2}  expected {}",
            e.rule,
            e.count,
            e.severity.name(),
            e.value,
            range(e.expected.0, e.expected.1)
        )));
    }
    lines.push(heading("Timeline (latest firings)"));
    for m in a.timeline.iter().rev().take(8) {
        lines.push(Line::raw(format!(
            "  {}  {:<14} {:.2} against {}",
            m.time.clock(),
            m.rule,
            m.value,
            range(m.expected.0, m.expected.1)
        )));
    }
    lines
}

/// The stream's rolling statistics, what the models said, and the latest event.
fn context_lines(app: &App, a: &Alert) -> Vec<Line<'static>> {
    let mut lines = vec![heading("Rolling context (stream)")];
    if let Some(s) = app.stream_snapshot(a.stream) {
        for m in &s.metrics {
            let r = &m.rolling;
            lines.push(Line::raw(format!(
                "  {:<18} μ {:.2}  σ {:.2}  band {}",
                m.name,
                r.mean,
                r.std,
                range(r.mean - 2.0 * r.std, r.mean + 2.0 * r.std)
            )));
        }
    }
    lines.push(heading("Models"));
    let c = &a.context;
    lines.push(Line::raw(match c.forest {
        Some((class, share)) => format!("  forest: {class}, {:.0} % of the trees", share * 100.0),
        None => "  forest: no call yet".to_string(),
    }));
    for r in &a.reasons {
        lines.push(Line::raw(format!(
            "    {:<20} {:+.2}",
            r.feature, r.contribution
        )));
    }
    lines.push(Line::raw(match c.regression {
        Some((target, pred, actual)) => {
            format!("  regressor: {target} expected {pred:.2}, was {actual:.2}")
        }
        None => "  regressor: no expectation yet".to_string(),
    }));
    lines.push(heading("Latest event"));
    lines.push(Line::raw(if c.event.is_empty() {
        "  —".to_string()
    } else {
        format!("  {}", c.event)
    }));
    lines
}

fn silence_menu(a: &Alert, choice: usize, frame: &mut Frame, area: Rect) {
    let head = format!(
        " Silence alerts like {} on {} ({}):",
        a.rule,
        a.entity,
        a.stream.name()
    );
    let choices: Vec<String> = SILENCE_CHOICES
        .iter()
        .map(|(matcher, minutes)| {
            let what = match matcher {
                Matcher::EntityRule => format!("{} on {}", a.rule, a.entity),
                Matcher::StreamRule => format!("{} on every {} entity", a.rule, a.stream.name()),
            };
            format!("{what} for {}", span_text(minutes * 60_000))
        })
        .collect();
    let mut lines = vec![Line::raw(head)];
    lines.extend(menu(&choices, choice));
    lines.push(Line::styled(
        " j/k choose · Enter silence · Esc back",
        THEME.dim,
    ));
    overlay(frame, area, (64, " Silence "), lines);
}

fn silences(app: &App, at: usize, frame: &mut Frame, area: Rect) {
    let items: Vec<String> = app
        .desk
        .silences
        .iter()
        .map(|s| {
            let left = span_text(s.until_ms - app.wall_ms);
            format!("{}  ends in {left}", s.describe())
        })
        .collect();
    let mut lines = menu(&items, at);
    if lines.is_empty() {
        lines.push(Line::styled(" no silences", THEME.dim));
    }
    lines.push(Line::styled(
        " j/k choose · Enter ends it · Esc back",
        THEME.dim,
    ));
    overlay(frame, area, (72, " Silences "), lines);
}

/// A list with the cursor on `at`.
fn menu(items: &[String], at: usize) -> Vec<Line<'static>> {
    items
        .iter()
        .enumerate()
        .map(|(i, text)| {
            if i == at {
                Line::styled(format!("▶ {text}"), THEME.cursor)
            } else {
                Line::raw(format!("  {text}"))
            }
        })
        .collect()
}

/// `lines` in a bordered popup `width` wide, as high as they need.
fn overlay(
    frame: &mut Frame,
    area: Rect,
    (width, title): (u16, &'static str),
    lines: Vec<Line<'static>>,
) {
    let p = popup(area, width, lines.len() as u16 + 2);
    frame.render_widget(Clear, p);
    frame.render_widget(Paragraph::new(lines).block(THEME.overlay(title)), p);
}
