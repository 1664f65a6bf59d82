//! The view of one data type: every metric's rolling statistics and sparkline with its
//! min/max band, the model card with the forest's confidence, partition lag and the stream's
//! alerts.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Gauge, Paragraph, Sparkline};

use super::card::title_case;
use super::theme::THEME;
use super::{alerts, fmt_int, fmt_num, spark_data, state_span};
use crate::tui::app::App;
use streamwatch::analytics::{MetricSnapshot, StreamSnapshot};
use streamwatch::ml::ModelSnapshot;
use streamwatch::streams::StreamKind;

pub fn render(app: &App, k: StreamKind, frame: &mut Frame, area: Rect) {
    let alerts_h = if area.height >= 30 {
        area.height / 3
    } else {
        5
    };
    let [top, bottom] =
        Layout::vertical([Constraint::Min(8), Constraint::Length(alerts_h)]).areas(area);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(top);
    let snap = app.stream_snapshot(k);
    render_metrics(app, k, snap, frame, left);
    render_model(app, k, snap, app.model_snapshot(k), frame, right);
    alerts::render(app, Some(k), frame, bottom);
}

fn panel(title: Line<'static>) -> Block<'static> {
    THEME.panel(title, false)
}

fn render_metrics(
    app: &App,
    k: StreamKind,
    snap: Option<&StreamSnapshot>,
    frame: &mut Frame,
    area: Rect,
) {
    let d = app.delivery[k];
    let title = Line::from(vec![
        Span::styled(
            format!(" {} ", title_case(k.name())),
            THEME.accent.patch(THEME.bold),
        ),
        state_span(d.state, d.rate),
        Span::raw(format!(
            "  produced {} ev/s ",
            fmt_num(app.produced_rate[k])
        )),
    ]);
    let block = panel(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(snap) = snap else {
        frame.render_widget(Paragraph::new("waiting for events…"), inner);
        return;
    };
    let mut rows = vec![Constraint::Length(1)];
    rows.extend(
        snap.metrics
            .iter()
            .map(|_| Constraint::Ratio(1, snap.metrics.len() as u32)),
    );
    let areas = Layout::vertical(rows).split(inner);
    let incidents = if snap.labelled > 0 {
        format!("incidents {}", fmt_int(snap.incidents))
    } else {
        "no labels".to_string()
    };
    let summary = format!(
        "events {}  rate {} ev/s  entities {}  {incidents}  alerts {}",
        fmt_int(snap.events),
        fmt_num(snap.event_rate),
        snap.entities,
        fmt_int(snap.alerts_total)
    );
    let summary = match &snap.latency {
        Some(q) => format!(
            "{summary}  p50/95/99 {}/{}/{} ms",
            fmt_num(q.p50),
            fmt_num(q.p95),
            fmt_num(q.p99)
        ),
        None => summary,
    };
    frame.render_widget(Paragraph::new(summary), areas[0]);
    for (m, a) in snap.metrics.iter().zip(areas.iter().skip(1)) {
        render_metric(m, frame, *a);
    }
}

fn render_metric(m: &MetricSnapshot, frame: &mut Frame, area: Rect) {
    let [text, spark] = Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(area);
    let r = &m.rolling;
    let band = m.band.last().map_or(String::new(), |(lo, hi)| {
        format!("  band {}–{}", fmt_num(*lo), fmt_num(*hi))
    });
    let lines = vec![
        Line::from(vec![
            Span::styled(format!("{} ", m.name), THEME.bold),
            Span::styled(format!("{} {}", fmt_num(m.last), m.unit), THEME.good),
            Span::styled(band, THEME.dim),
        ]),
        Line::from(format!(
            "μ {}  σ {}  min {}  max {}  Σ {}  n {}",
            fmt_num(r.mean),
            fmt_num(r.std),
            fmt_num(r.min),
            fmt_num(r.max),
            fmt_num(r.sum),
            r.count
        )),
    ];
    frame.render_widget(Paragraph::new(lines), text);
    let data = spark_data(&m.history, spark.width as usize);
    frame.render_widget(
        Sparkline::default().data(&data).max(100).style(THEME.good),
        spark,
    );
}

fn render_model(
    app: &App,
    k: StreamKind,
    snap: Option<&StreamSnapshot>,
    model: Option<&ModelSnapshot>,
    frame: &mut Frame,
    area: Rect,
) {
    let lag_rows =
        app.shown
            .as_ref()
            .map_or(0, |s| s.health.lag.iter().filter(|l| l.stream == k).count()) as u16;
    let [card, quality, conf, lag] = Layout::vertical([
        Constraint::Min(7),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Length(lag_rows.min(6) + 2),
    ])
    .areas(area);
    render_model_card(snap, model, frame, card);
    render_quality(snap, frame, quality);
    render_confidence(model, frame, conf);
    render_lag(app, k, frame, lag);
}

/// The alerts scored against the labels, as a model card scores a model: precision,
/// incident recall, alerts per incident, and the incident kinds missed.
fn render_quality(snap: Option<&StreamSnapshot>, frame: &mut Frame, area: Rect) {
    let block = panel(Line::from(" Alert quality "));
    let Some(q) = snap.and_then(|s| s.alert_quality.as_ref()) else {
        let text = Line::styled("no labels: alerts cannot be scored", THEME.dim);
        frame.render_widget(Paragraph::new(text).block(block), area);
        return;
    };
    let f = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.2}"));
    let missed: Vec<String> = q
        .by_kind
        .iter()
        .filter(|k| k.detected < k.incidents)
        .map(|k| format!("{} {}/{}", k.kind, k.detected, k.incidents))
        .collect();
    let lines = vec![
        Line::from(format!(
            "alerts {}  precision {}  {} per incident",
            fmt_int(q.alerts),
            f(q.precision),
            f(q.alerts_per_incident)
        )),
        Line::from(format!(
            "incidents {}  recall {}",
            fmt_int(q.incidents),
            f(q.recall)
        )),
        if missed.is_empty() {
            Line::styled("every incident kind caught", THEME.dim)
        } else {
            Line::styled(format!("caught: {}", missed.join(", ")), THEME.dim)
        },
    ];
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn render_model_card(
    snap: Option<&StreamSnapshot>,
    model: Option<&ModelSnapshot>,
    frame: &mut Frame,
    area: Rect,
) {
    let block = panel(Line::from(" Random forest "));
    let Some(m) = model else {
        frame.render_widget(
            Paragraph::new("model: waiting for events").block(block),
            area,
        );
        return;
    };
    let mut lines = if m.labelled == 0 {
        unlabelled_lines(m)
    } else {
        scored_lines(snap, m)
    };
    if let Some(d) = &m.last_drift {
        lines.push(Line::styled(format!("drift: {d}"), THEME.mark));
    }
    if let Some(r) = &m.regression {
        lines.push(Line::from(format!(
            "regression: {} by the {} model",
            r.target, r.model
        )));
        lines.push(Line::from(format!(
            "  MAE {}  R² {:.2}  last {}±{}",
            fmt_num(r.mae),
            r.r2,
            fmt_num(r.last_prediction),
            fmt_num(r.last_band)
        )));
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// A topic without ground truth (another producer's): no forest and no scores; the
/// label-free detector is the model.
fn unlabelled_lines(m: &ModelSnapshot) -> Vec<Line<'static>> {
    let detector = match m.anomaly_last {
        Some(score) => format!(
            "half-space trees: score {score:.2} · {} flagged",
            fmt_int(m.anomaly_flags)
        ),
        None => "half-space trees: learning the first windows".into(),
    };
    vec![
        Line::from(detector),
        Line::styled("no labelled events: the forest and", THEME.dim),
        Line::styled("scores need ground truth (a `label`", THEME.dim),
        Line::styled("field); rules, z-scores, the regressor", THEME.dim),
        Line::styled("and half-space trees run without it", THEME.dim),
    ]
}

/// The forest, its scores beside the rules', against the labels.
fn scored_lines(snap: Option<&StreamSnapshot>, m: &ModelSnapshot) -> Vec<Line<'static>> {
    let mut lines = vec![
        Line::from(format!(
            "model v{} · {} trees · trained on {} · fit {:.0} ms",
            m.version,
            m.trees,
            fmt_int(m.training_size as u64),
            m.fit_ms
        )),
        Line::styled(m.status.clone(), THEME.dim),
        Line::from(vec![Span::styled(
            format!("{:<9}{:>9}{:>8}{:>7}", "", "precision", "recall", "F1"),
            THEME.bold,
        )]),
        score_row(
            "forest",
            m.forest.precision,
            m.forest.recall,
            m.forest.f1,
            THEME.good,
        ),
        score_row(
            "z-score",
            m.zscore.precision,
            m.zscore.recall,
            m.zscore.f1,
            THEME.warn,
        ),
        score_row(
            "residual",
            m.residual.precision,
            m.residual.recall,
            m.residual.f1,
            THEME.mark,
        ),
        score_row(
            "no-label",
            m.anomaly.precision,
            m.anomaly.recall,
            m.anomaly.f1,
            THEME.dim,
        ),
    ];
    if let Some(any) = snap.and_then(|s| s.scorecard.last()) {
        lines.push(score_row(
            "all rules",
            any.precision(),
            any.recall(),
            any.f1(),
            THEME.accent,
        ));
    }
    lines
}

fn score_row(name: &str, p: f64, r: f64, f1: f64, style: Style) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{name:<9}"), style),
        Span::raw(format!("{p:>9.2}{r:>8.2}{f1:>7.2}")),
    ])
}

fn render_confidence(model: Option<&ModelSnapshot>, frame: &mut Frame, area: Rect) {
    let block = panel(Line::from(" Confidence "));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(m) = model.filter(|m| m.version > 0) else {
        frame.render_widget(Paragraph::new("no model yet"), inner);
        return;
    };
    let [gauge, spark] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    let c = m
        .last_confidence
        .unwrap_or(m.confidence_mean)
        .clamp(0.0, 1.0);
    frame.render_widget(
        Gauge::default()
            .ratio(c)
            .label(format!("{c:.2} (mean {:.2})", m.confidence_mean))
            .gauge_style(THEME.confidence(c)),
        gauge,
    );
    let data = spark_data(&m.confidence_history, spark.width as usize);
    frame.render_widget(
        Sparkline::default().data(&data).max(100).style(THEME.mark),
        spark,
    );
}

fn render_lag(app: &App, k: StreamKind, frame: &mut Frame, area: Rect) {
    let block = panel(Line::from(" Consumer lag "));
    let lines: Vec<Line> = app
        .shown
        .as_ref()
        .map(|s| {
            s.health
                .lag
                .iter()
                .filter(|l| l.stream == k)
                .map(|l| {
                    Line::from(format!(
                        "{} [{}]  high {}  lag {}",
                        l.topic,
                        l.partition,
                        fmt_int(l.high.max(0) as u64),
                        fmt_int(l.lag as u64)
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
