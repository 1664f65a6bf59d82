//! Drawing. `draw` reads `&App` and never mutates it; each panel is a function or a widget
//! that takes the state it shows.

mod alerts;
mod card;
mod desk;
mod help;
mod stream;
pub mod theme;

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::app::{App, View};
use super::keys;
use crate::kafka::consumer::{ConsumerSnapshot, Health};
use crate::kafka::producer::RunState;
use streamwatch::streams::{StreamKind, Timestamp};
use theme::THEME;

/// Below this size the screen asks for a larger terminal.
pub const MIN_WIDTH: u16 = 70;
pub const MIN_HEIGHT: u16 = 20;

pub fn draw(app: &App, frame: &mut Frame) {
    draw_screen(app, frame);
    if app.no_colour {
        theme::without_colour(frame.buffer_mut());
    }
}

fn draw_screen(app: &App, frame: &mut Frame) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(frame, area);
        return;
    }
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    render_header(app, frame, header);
    match app.view {
        View::Overview => render_overview(app, frame, body),
        View::Stream(k) => stream::render(app, k, frame, body),
    }
    render_footer(app, frame, footer);
    desk::render(app, frame, body);
    if app.help {
        help::render(frame, body);
    }
}

fn too_small(frame: &mut Frame, area: Rect) {
    let text = format!(
        "streamwatch needs at least {MIN_WIDTH}×{MIN_HEIGHT}; this terminal is {}×{}.\nEnlarge the terminal (q quits).",
        area.width, area.height
    );
    let p = Paragraph::new(text)
        .alignment(Alignment::Center)
        .wrap(Wrap { trim: true });
    let y = area.height / 2;
    frame.render_widget(
        p,
        Rect {
            x: area.x,
            y: area.y + y.saturating_sub(1),
            width: area.width,
            height: 3.min(area.height),
        },
    );
}

fn render_header(app: &App, frame: &mut Frame, area: Rect) {
    let snap = app.shown.as_deref();
    let health = snap.map(|s| &s.health);
    let produced: f64 = app.produced_rate.values().sum();
    let consumed = snap.map_or(0.0, |s| s.events_per_s);
    let lag = health.map_or(0, |h| h.total_lag());
    let lag_s = health.map_or(0.0, |h| h.lag_s());
    let queued: u64 = app.delivery.values().map(|d| d.in_flight).sum();
    let ingest = snap.map(|s| s.ingest.clone()).unwrap_or_default();
    let line1 = header_line1(app, snap, health);
    let err = health
        .and_then(|h| h.last_error.clone())
        .or_else(|| app.producer_error.clone());
    // Most important first, so that 80 columns show the rates, the lag and the loss.
    let mut spans = vec![
        Span::raw(format!(
            " produced {} ev/s  consumed {} ev/s  lag {} ({lag_s:.1} s)  ",
            fmt_num(produced),
            fmt_num(consumed),
            fmt_int(lag as u64)
        )),
        Span::styled(
            format!(
                "lost {}  dup {}",
                fmt_int(ingest.lost),
                fmt_int(ingest.duplicates)
            ),
            if ingest.lost + ingest.duplicates > 0 {
                THEME.bad
            } else {
                Style::new()
            },
        ),
        Span::styled(
            format!("  rejects {}", fmt_int(ingest.rejected)),
            if ingest.rejected > 0 {
                THEME.warn
            } else {
                Style::new()
            },
        ),
    ];
    spans.extend(
        app.sink_trouble
            .as_ref()
            .map(|t| Span::styled(format!("  {t}"), THEME.bad)),
    );
    if let Some(e) = snap.and_then(|s| s.e2e.recent) {
        spans.push(Span::raw(format!(
            "  e2e p50 {} p99 {} ms",
            fmt_num(e.p50),
            fmt_num(e.p99)
        )));
    }
    // The producer's messages the broker has not acknowledged, once they are more than the
    // few milliseconds of batching in flight: an outage's back-pressure.
    if queued >= QUEUED_SHOWN {
        spans.push(Span::styled(
            format!("  queued {}", fmt_int(queued)),
            THEME.warn,
        ));
    }
    if let Some(e) = err {
        spans.push(Span::styled(format!("   ⚠ {e}"), THEME.bad));
    }
    frame.render_widget(Paragraph::new(vec![line1, Line::from(spans)]), area);
}

/// The header's first line: the broker, its state, uptime, the group, frozen.
fn header_line1(
    app: &App,
    snap: Option<&ConsumerSnapshot>,
    health: Option<&Health>,
) -> Line<'static> {
    let (dot, state) = broker_state(health);
    let kind = if app.embedded { "embedded" } else { "cluster" };
    let secs = app.uptime.as_secs();
    Line::from(vec![
        Span::styled(" streamwatch ", THEME.brand),
        Span::raw(format!("  {kind} {} ", app.broker)),
        dot,
        Span::raw(format!(
            " {state}   uptime {:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )),
        Span::styled(membership(snap), THEME.accent),
        if app.frozen {
            Span::styled(
                "   ❄ FROZEN (space resumes)",
                THEME.accent.patch(THEME.bold),
            )
        } else {
            Span::raw("")
        },
    ])
}

/// Unacknowledged messages from which the header shows them.
const QUEUED_SHOWN: u64 = 1_000;

/// The broker's state: up with its round trip, down since when, or still connecting.
fn broker_state(health: Option<&Health>) -> (Span<'static>, String) {
    match health {
        Some(h) if h.is_down() => (
            Span::styled("●", THEME.bad),
            h.down_since_ms.map_or_else(
                || "down".to_string(),
                |t| format!("down since {} UTC", Timestamp(t).clock()),
            ),
        ),
        Some(h) if h.brokers > 0 && h.brokers_up == h.brokers => (
            Span::styled("●", THEME.good),
            format!("up, rtt {:.1} ms", h.rtt_ms),
        ),
        Some(h) if h.brokers > 0 => (
            Span::styled("●", THEME.bad),
            format!("{}/{} brokers up", h.brokers_up, h.brokers),
        ),
        _ => (Span::styled("●", THEME.warn), "connecting".to_string()),
    }
}

/// The consumer group, and for a member with part of the partitions, which: stream-wide
/// figures are then this member's share.
fn membership(snap: Option<&ConsumerSnapshot>) -> String {
    match snap.map(|s| &s.membership) {
        Some(m) if !m.group.is_empty() => format!("   {}", m.describe()),
        _ => String::new(),
    }
}

fn render_overview(app: &App, frame: &mut Frame, area: Rect) {
    let wide = area.width >= 110;
    let card_h = if wide { 9 } else { 5 };
    let cards_h = if wide { card_h } else { card_h * 3 };
    let [cards, rest] = Layout::vertical([
        Constraint::Length(cards_h.min(area.height.saturating_sub(4))),
        Constraint::Min(3),
    ])
    .areas(area);
    let rects: Vec<Rect> = if wide {
        Layout::horizontal([Constraint::Ratio(1, StreamKind::COUNT as u32); StreamKind::COUNT])
            .split(cards)
            .to_vec()
    } else {
        Layout::vertical([Constraint::Length(card_h); StreamKind::COUNT])
            .split(cards)
            .to_vec()
    };
    for (k, r) in StreamKind::ALL.iter().zip(rects) {
        let c = card::StreamCard::new(app, *k, !wide);
        frame.render_widget(&c, r);
    }
    alerts::render(app, None, frame, rest);
}

/// The keys from the key table, then the stream the keys act on.
fn render_footer(app: &App, frame: &mut Frame, area: Rect) {
    let mut spans = Vec::new();
    for (k, d) in keys::footer() {
        spans.push(Span::styled(format!(" {k} "), THEME.key));
        spans.push(Span::raw(format!(" {d} ")));
    }
    let focus = app.focus();
    spans.push(Span::styled(format!("  [{}]", focus.name()), THEME.accent));
    // What ctrl-s wrote, for ten seconds, in place of the keys.
    if let Some((note, at)) = &app.saved_note
        && app.uptime.saturating_sub(*at).as_secs() < 10
    {
        spans = vec![Span::styled(format!(" {note}"), THEME.accent)];
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

pub fn state_span(state: RunState, rate: f64) -> Span<'static> {
    match state {
        RunState::Running => Span::styled(format!("● running {}", rate_label(rate)), THEME.good),
        RunState::Paused => Span::styled("‖ paused", THEME.warn),
        RunState::Stopped => Span::styled("■ stopped", THEME.bad),
    }
}

pub fn rate_label(rate: f64) -> String {
    if rate <= 0.0 {
        "max".into()
    } else {
        format!("@{}/s", fmt_num(rate))
    }
}

/// 1234 → "1,234"; 12345.6 → "12.3k".
pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    match v.abs() {
        a if a >= 1e6 => format!("{:.1}M", v / 1e6),
        a if a >= 1e4 => format!("{:.1}k", v / 1e3),
        a if a >= 100.0 => format!("{v:.0}"),
        a if a >= 10.0 => format!("{v:.1}"),
        _ => format!("{v:.2}"),
    }
}

pub fn fmt_int(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Scales the last `width` values to sparkline bar heights (0..=8 levels over their range).
pub fn spark_data(values: &[f64], width: usize) -> Vec<u64> {
    let tail = &values[values.len().saturating_sub(width)..];
    let (lo, hi) = tail
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    tail.iter()
        .map(|&v| {
            if hi > lo {
                1 + ((v - lo) / (hi - lo) * 99.0).round() as u64
            } else {
                50
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::buffer::Buffer;
    use ratatui::widgets::{Sparkline, Widget};

    #[test]
    fn numbers_keep_three_significant_figures_and_thousands_get_commas() {
        let cases = [
            (0.0, "0.00"),
            (1.23456, "1.23"),
            (42.42, "42.4"),
            (199.7, "200"),
            (12_345.6, "12.3k"),
            (-2_500_000.0, "-2.5M"),
            (f64::NAN, "–"),
        ];
        for (v, text) in cases {
            assert_eq!(fmt_num(v), text, "{v}");
        }
        assert_eq!(fmt_int(0), "0");
        assert_eq!(fmt_int(999), "999");
        assert_eq!(fmt_int(1_234_567), "1,234,567");
    }

    #[test]
    fn spark_data_scales_the_newest_values_to_their_range() {
        assert_eq!(spark_data(&[5.0, 10.0, 15.0], 10), [1, 51, 100]);
        assert_eq!(
            spark_data(&[0.0, 5.0, 10.0, 15.0], 2),
            [1, 100],
            "the newest only"
        );
        assert_eq!(
            spark_data(&[7.0, 7.0], 5),
            [50, 50],
            "a flat line sits mid-height"
        );
        assert!(spark_data(&[], 5).is_empty());
    }

    #[test]
    fn a_sparkline_of_spark_data_fills_its_rows() {
        let data = spark_data(&[1.0, 2.0, 3.0, 4.0], 4);
        let mut buf = Buffer::empty(Rect::new(0, 0, 4, 2));
        Sparkline::default()
            .data(&data)
            .max(100)
            .render(buf.area, &mut buf);
        assert_eq!(buf, Buffer::with_lines(["  ▂█", " ▅██"]));
    }
}
