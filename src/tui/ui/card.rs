//! One stream's panel on the overview.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline, Widget};

use super::theme::THEME;
use super::{fmt_num, spark_data, state_span};
use crate::kafka::producer::StreamDelivery;
use crate::tui::app::App;
use streamwatch::analytics::{Alert, MetricSnapshot, StreamSnapshot};
use streamwatch::ml::ModelSnapshot;
use streamwatch::streams::StreamKind;

pub struct StreamCard<'a> {
    kind: StreamKind,
    delivery: StreamDelivery,
    produced: f64,
    snapshot: Option<&'a StreamSnapshot>,
    model: Option<&'a ModelSnapshot>,
    latest: Option<&'a Alert>,
    selected: bool,
    compact: bool,
}

impl<'a> StreamCard<'a> {
    pub fn new(app: &'a App, kind: StreamKind, compact: bool) -> Self {
        let snapshot = app.stream_snapshot(kind);
        Self {
            kind,
            delivery: app.delivery[kind],
            produced: app.produced_rate[kind],
            snapshot,
            model: app.model_snapshot(kind),
            latest: snapshot.and_then(|s| s.recent_alerts.first()),
            selected: app.selected == kind,
            compact,
        }
    }

    fn main_metric(&self) -> Option<&'a MetricSnapshot> {
        self.snapshot.and_then(|s| s.metrics.first())
    }

    fn title(&self) -> Line<'static> {
        let key = self.kind.index() + 1;
        Line::from(vec![
            Span::styled(
                format!(" {key} {} ", title_case(self.kind.name())),
                THEME.accent,
            ),
            state_span(self.delivery.state, self.delivery.rate),
            Span::raw(format!("  {} ev/s ", fmt_num(self.produced))),
        ])
    }

    fn metric_line(&self) -> Line<'static> {
        match self.main_metric() {
            Some(m) => Line::from(format!(
                "{} {} {}  μ {}  σ {}",
                m.name,
                fmt_num(m.last),
                m.unit,
                fmt_num(m.rolling.mean),
                fmt_num(m.rolling.std)
            )),
            None => Line::styled("waiting for events…", THEME.dim),
        }
    }

    fn model_line(&self) -> Line<'static> {
        match self.model {
            Some(m) if m.labelled == 0 => Line::styled("no labelled events yet", THEME.dim),
            Some(m) if m.version > 0 => {
                let conf = m.last_confidence.unwrap_or(m.confidence_mean);
                Line::from(vec![
                    Span::raw("confidence "),
                    Span::styled(format!("{conf:.2}"), THEME.confidence(conf)),
                    Span::raw(format!(
                        "  F1 forest {:.2} · z {:.2}",
                        m.forest.f1, m.zscore.f1
                    )),
                ])
            }
            Some(m) => Line::styled(m.status.clone(), THEME.dim),
            None => Line::styled("model: waiting", THEME.dim),
        }
    }

    fn alert_line(&self) -> Line<'static> {
        match self.latest {
            Some(a) => Line::from(vec![
                Span::styled(format!("▲ {} ", a.rule), THEME.severity(a.severity)),
                Span::raw(a.message.clone()),
            ]),
            None => Line::styled("no alerts", THEME.dim),
        }
    }
}

pub fn title_case(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

impl Widget for &StreamCard<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let block = THEME.panel(self.title(), self.selected);
        let inner = block.inner(area);
        block.render(area, buf);
        if self.compact {
            let [top, spark] =
                Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                    .areas(inner);
            Paragraph::new(vec![
                self.metric_line(),
                self.model_line(),
                self.alert_line(),
            ])
            .render(top, buf);
            self.render_spark(spark, buf);
            return;
        }
        let [metric, spark, model, alert] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(1),
            Constraint::Length(1),
            Constraint::Length(2),
        ])
        .areas(inner);
        Paragraph::new(self.metric_line()).render(metric, buf);
        self.render_spark(spark, buf);
        Paragraph::new(self.model_line()).render(model, buf);
        Paragraph::new(self.alert_line())
            .wrap(ratatui::widgets::Wrap { trim: true })
            .render(alert, buf);
    }
}

impl StreamCard<'_> {
    fn render_spark(&self, area: Rect, buf: &mut Buffer) {
        let Some(m) = self.main_metric() else { return };
        let data = spark_data(&m.history, area.width as usize);
        Sparkline::default()
            .data(&data)
            .max(100)
            .style(THEME.good)
            .render(area, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::producer::RunState;
    use ratatui::style::Style;
    use streamwatch::analytics::{AnalyzerConfig, StreamAnalyzer};
    use streamwatch::streams::{Event, SensorReading, Timestamp};

    /// Five readings, one a second, of a sensor warming by a degree each time.
    fn warming() -> StreamSnapshot {
        let mut a = StreamAnalyzer::new(StreamKind::Sensor, &AnalyzerConfig::default());
        for i in 0..5 {
            a.observe(&Event::Sensor(SensorReading {
                sensor_id: "sensor-001".into(),
                temperature: 20.0 + f64::from(i),
                humidity: 40.0,
                pressure: 1010.0,
                timestamp: Timestamp(1_796_000_000_000 + i64::from(i) * 1000),
                ..SensorReading::default()
            }));
        }
        a.snapshot()
    }

    fn card(snapshot: Option<&StreamSnapshot>) -> StreamCard<'_> {
        StreamCard {
            kind: StreamKind::Sensor,
            delivery: StreamDelivery::idle(RunState::Running, 200.0),
            produced: 199.0,
            snapshot,
            model: None,
            latest: None,
            selected: true,
            compact: false,
        }
    }

    /// Renders into a buffer of `w`×`h`; the second buffer has its styles reset, for
    /// comparing text.
    fn render(c: &StreamCard<'_>, w: u16, h: u16) -> (Buffer, Buffer) {
        let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
        c.render(buf.area, &mut buf);
        let mut plain = buf.clone();
        plain.set_style(plain.area, Style::reset());
        (buf, plain)
    }

    #[test]
    fn a_card_draws_the_last_value_its_rolling_stats_and_the_means_as_bars() {
        let s = warming();
        let (buf, plain) = render(&card(Some(&s)), 44, 8);
        assert_eq!(
            plain,
            Buffer::with_lines([
                "╭ 1 Sensor ● running @200/s  199 ev/s ─────╮",
                "│temperature 24.0 °C  μ 22.0  σ 1.41       │",
                "│   ▄█                                     │",
                "│ ▄███                                     │",
                "│model: waiting                            │",
                "│no alerts                                 │",
                "│                                          │",
                "╰──────────────────────────────────────────╯",
            ])
        );
        assert_eq!(
            buf[(0, 0)].style().fg,
            THEME.border_focus.fg,
            "focused border"
        );
        assert_eq!(buf[(5, 3)].style().fg, THEME.good.fg, "sparkline");
        assert_eq!(buf[(1, 4)].style().fg, THEME.dim.fg, "no model yet");
    }

    #[test]
    fn a_card_before_any_event_says_so() {
        let mut c = card(None);
        c.selected = false;
        let (buf, plain) = render(&c, 44, 7);
        assert_eq!(
            plain,
            Buffer::with_lines([
                "╭ 1 Sensor ● running @200/s  199 ev/s ─────╮",
                "│waiting for events…                       │",
                "│                                          │",
                "│model: waiting                            │",
                "│no alerts                                 │",
                "│                                          │",
                "╰──────────────────────────────────────────╯",
            ])
        );
        assert_eq!(buf[(0, 0)].style().fg, THEME.border.fg);
    }
}
