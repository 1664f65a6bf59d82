//! `StreamAnalyzer`: everything the consumer computes for one stream. `observe(&Event)` runs
//! the stream's rules and rolling metrics and says what happened; `snapshot()` gives what a
//! screen or a report needs. It also keeps a live scorecard of every rule against the
//! generator's ground-truth labels.

use std::collections::VecDeque;

use serde::Serialize;

use super::alerts::{Alert, AlertBook, AlertQuality, Firing, QualityBook, Reason};
use super::config::AnalyzerConfig;
use super::features::FeatureVector;
use super::rolling::{BucketWindow, RecentValues, Stats, Window};
use super::rules::{MAX_METRICS, Rules, Sink};
use crate::streams::{Event, StreamKind, Timestamp};

/// Samples of each metric's rolling mean kept for sparklines (one per second of event time).
pub const HISTORY: usize = 240;

/// An alert's latest event is written down at most this often (event time).
const EVENT_EVERY_MS: i64 = 200;

/// What one event caused.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    /// Alerts that fired or resolved on this event (evidence joining an alert, and pending
    /// alerts, are not listed).
    pub changed: Vec<Alert>,
    /// The rules that fired on this event: each rule's bit (see the stream's rule enum).
    pub fired: u32,
    /// Whether the stream's z-score rule, the reference app's detector, fired.
    pub zscore_fired: bool,
    /// Context features for the models, in the stream's column order (see `features`).
    pub features: FeatureVector,
    /// Ground truth: `Some(true)` for a labelled incident.
    pub incident: Option<bool>,
    /// Index of the label among the stream's labels (0 = normal).
    pub label_class: Option<usize>,
}

impl Observation {
    pub fn flagged(&self) -> bool {
        self.fired != 0
    }

    /// Whether the stream's z-score rule fired.
    pub fn zscore_flagged(&self) -> bool {
        self.zscore_fired
    }
}

/// True/false positives of one rule against the labels, counted per event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct RuleScore {
    pub rule: &'static str,
    pub tp: u64,
    pub fp: u64,
    #[serde(rename = "fn")]
    pub fn_: u64,
    pub tn: u64,
}

impl RuleScore {
    pub fn record(&mut self, fired: bool, incident: bool) {
        match (fired, incident) {
            (true, true) => self.tp += 1,
            (true, false) => self.fp += 1,
            (false, true) => self.fn_ += 1,
            (false, false) => self.tn += 1,
        }
    }

    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// One stream-wide metric: a count window (the reference's deque), a time window, and the
/// history of the rolling mean with its min/max band for sparklines.
#[derive(Debug, Clone)]
struct Metric {
    name: &'static str,
    unit: &'static str,
    count: Window,
    time: BucketWindow,
    history: VecDeque<(f64, f64, f64)>,
}

/// A metric as a screen or report sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricSnapshot {
    pub name: &'static str,
    pub unit: &'static str,
    /// Over the last `window` events.
    pub rolling: Stats,
    /// Over the last `time_window` of event time, in buckets of a sixtieth of it (see
    /// `BucketWindow`).
    pub timed: Stats,
    pub last: f64,
    /// Rolling means, oldest first, one per second of event time.
    #[serde(skip)]
    pub history: Vec<f64>,
    /// Rolling min and max at the same instants.
    #[serde(skip)]
    pub band: Vec<(f64, f64)>,
}

/// Latency quantiles over the last 1,000 events.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Quantiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

/// Everything a screen needs about one stream, owned so that it can cross a channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamSnapshot {
    pub stream: StreamKind,
    pub events: u64,
    /// Events that carried a ground-truth label: the scorecard counts only these, and a
    /// topic without labels (another producer's) has none.
    pub labelled: u64,
    pub incidents: u64,
    pub entities: usize,
    pub event_rate: f64,
    pub metrics: Vec<MetricSnapshot>,
    pub latency: Option<Quantiles>,
    /// Alerts that fired since the start.
    pub alerts_total: u64,
    pub alerts_firing: usize,
    /// Firing, then pending, then resolved.
    #[serde(skip)]
    pub recent_alerts: Vec<Alert>,
    /// Alerts scored against the labels; `None` without labels.
    pub alert_quality: Option<AlertQuality>,
    /// Per rule, then `any` (an event flagged by at least one rule).
    pub scorecard: Vec<RuleScore>,
    pub last_event: Option<Timestamp>,
}

pub struct StreamAnalyzer {
    kind: StreamKind,
    rules: Rules,
    metrics: Vec<Metric>,
    alerts: AlertBook,
    quality: QualityBook,
    scores: Vec<RuleScore>,
    any: RuleScore,
    latency: Option<RecentValues>,
    events: u64,
    labelled: u64,
    incidents: u64,
    next_sample_ms: i64,
    last_event: Option<Timestamp>,
}

impl StreamAnalyzer {
    pub fn new(kind: StreamKind, cfg: &AnalyzerConfig) -> Self {
        let rules = Rules::new(kind, cfg);
        let metrics = rules
            .metrics()
            .iter()
            .map(|&(name, unit)| Metric {
                name,
                unit,
                count: Window::with_count(cfg.window),
                time: BucketWindow::new(cfg.time_window_ms),
                history: VecDeque::with_capacity(HISTORY),
            })
            .collect();
        let scores = rules
            .names()
            .iter()
            .map(|&rule| RuleScore {
                rule,
                ..Default::default()
            })
            .collect();
        Self {
            kind,
            metrics,
            alerts: AlertBook::new(kind, cfg.alerts.clone(), cfg.alert_history),
            quality: QualityBook::new(kind.label_names()),
            scores,
            any: RuleScore {
                rule: "any",
                ..Default::default()
            },
            latency: (kind == StreamKind::Log).then(|| RecentValues::new(1000)),
            rules,
            events: 0,
            labelled: 0,
            incidents: 0,
            next_sample_ms: i64::MIN,
            last_event: None,
        }
    }

    pub fn kind(&self) -> StreamKind {
        self.kind
    }

    /// Runs every rule and metric on one event. Events of another stream are ignored.
    pub fn observe(&mut self, event: &Event) -> Observation {
        let mut obs = Observation {
            incident: event.is_incident(),
            ..Default::default()
        };
        if event.kind() != self.kind {
            return obs;
        }
        let t = event.timestamp();
        self.alerts.heard(event.key(), t);
        let mut values = [f64::NAN; MAX_METRICS];
        let mut sink = Sink {
            book: &mut self.alerts,
        };
        obs.fired = self
            .rules
            .apply(event, &mut sink, &mut obs.features, &mut values);
        obs.zscore_fired = obs.fired & self.rules.zscore_bit() != 0;
        if obs.fired != 0
            && let Some(a) = self.alerts.open_alert_mut(event.key())
            && a.context
                .event_time
                .is_none_or(|e| t.millis() - e.millis() >= EVENT_EVERY_MS)
        {
            // For the alert's detail: events that gave evidence, a few a second at most.
            let mut json = Vec::new();
            event.encode_into(&mut json);
            a.context.event = String::from_utf8_lossy(&json).into_owned();
            a.context.event_time = Some(t);
        }
        obs.label_class = self.rules.label_class(event);
        if let Some(class) = obs.label_class {
            let book = &self.alerts;
            let open = |e: &str| book.open_alert(e);
            self.quality.observe(event.key(), t.millis(), class, open);
        }
        self.events += 1;
        self.last_event = Some(t.max(self.last_event.unwrap_or(t)));
        for (m, v) in self.metrics.iter_mut().zip(values) {
            if v.is_finite() {
                m.count.push(v, t.millis());
                m.time.push(v, t.millis());
            }
        }
        if let (Some(q), Event::Log(l)) = (&mut self.latency, event)
            && l.response_time_ms.is_finite()
        {
            q.push(l.response_time_ms);
        }
        self.sample_history(t.millis());
        self.score(&obs);
        self.drain_changes(&mut obs.changed);
        obs
    }

    /// Moves the alerts that fired or resolved into `into`, judging the resolved ones.
    fn drain_changes(&mut self, into: &mut Vec<Alert>) {
        for a in self.alerts.drain_changes() {
            if a.state == super::alerts::AlertState::Resolved {
                self.quality.judge(&a);
            }
            into.push(a);
        }
    }

    /// Called now and then with the wall time; when the stream is quiet, time moves on for
    /// its alerts all the same. Returns the alerts that resolved or fired.
    pub fn idle(&mut self, wall_ms: i64) -> Vec<Alert> {
        self.alerts.idle(wall_ms);
        let mut changed = Vec::new();
        self.drain_changes(&mut changed);
        changed
    }

    fn score(&mut self, obs: &Observation) {
        let Some(incident) = obs.incident else { return };
        self.labelled += 1;
        self.incidents += u64::from(incident);
        for (i, s) in self.scores.iter_mut().enumerate() {
            s.record(obs.fired & (1 << i) != 0, incident);
        }
        self.any.record(obs.flagged(), incident);
    }

    fn sample_history(&mut self, now_ms: i64) {
        if self.next_sample_ms == i64::MIN {
            self.next_sample_ms = now_ms;
        }
        if now_ms < self.next_sample_ms {
            return;
        }
        // One sample per second of event time; a gap does not backfill.
        self.next_sample_ms = now_ms - now_ms.rem_euclid(1000) + 1000;
        for m in &mut self.metrics {
            if m.count.is_empty() {
                continue;
            }
            if m.history.len() == HISTORY {
                m.history.pop_front();
            }
            let s = m.count.stats();
            m.history.push_back((s.mean, s.min, s.max));
        }
    }

    /// Files evidence from outside the rules (the models) into `changed`'s alerts: `reasons`
    /// is asked only when the detector is new to its alert. Alerts that fire or resolve
    /// go into `changed`.
    pub fn file_external(
        &mut self,
        f: Firing<'_>,
        message: impl FnOnce(&[Reason]) -> String,
        reasons: impl FnOnce() -> Vec<Reason>,
        changed: &mut Vec<Alert>,
    ) {
        let entity = f.entity;
        let mut why = None;
        let new = self.alerts.file(f, || {
            let r = reasons();
            let m = message(&r);
            why = Some(r);
            m
        });
        if let (true, Some(r)) = (new, why)
            && !r.is_empty()
        {
            self.alerts.set_reasons(entity, r);
        }
        self.drain_changes(changed);
    }

    /// The entity's open alert, to note what the models say about it.
    pub fn open_alert_mut(&mut self, entity: &str) -> Option<&mut Alert> {
        self.alerts.open_alert_mut(entity)
    }

    /// Every alert held: open ones, then resolved ones newest first.
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.history()
    }

    /// The alerts scored against the labels so far.
    pub fn alert_quality(&self) -> Option<AlertQuality> {
        self.quality.report(self.alerts.history())
    }

    pub fn clear_alerts(&mut self) {
        self.alerts.clear();
    }

    pub fn events(&self) -> u64 {
        self.events
    }

    /// Rule names in bit order.
    pub fn rule_names(&self) -> &'static [&'static str] {
        self.rules.names()
    }

    pub fn scorecard(&self) -> Vec<RuleScore> {
        let mut v = self.scores.clone();
        v.push(self.any);
        v
    }

    /// Names of the feature columns for this stream.
    pub fn feature_names(&self) -> &'static [&'static str] {
        self.rules.feature_names()
    }

    pub fn snapshot(&self) -> StreamSnapshot {
        self.snapshot_with_alerts(50)
    }

    pub fn snapshot_with_alerts(&self, alerts: usize) -> StreamSnapshot {
        let metrics = self.metrics.iter().map(metric_snapshot).collect::<Vec<_>>();
        StreamSnapshot {
            stream: self.kind,
            events: self.events,
            labelled: self.labelled,
            incidents: self.incidents,
            entities: self.rules.entities(),
            event_rate: metrics.first().map_or(0.0, |m| m.timed.rate_per_s),
            metrics,
            latency: self
                .latency
                .as_ref()
                .and_then(|q| q.quantiles([0.5, 0.95, 0.99]))
                .map(|[p50, p95, p99]| Quantiles { p50, p95, p99 }),
            alerts_total: self.alerts.total(),
            alerts_firing: self.alerts.firing(),
            recent_alerts: self.alerts.listing(alerts),
            alert_quality: self.alert_quality(),
            scorecard: self.scorecard(),
            last_event: self.last_event,
        }
    }
}

fn metric_snapshot(m: &Metric) -> MetricSnapshot {
    MetricSnapshot {
        name: m.name,
        unit: m.unit,
        rolling: m.count.stats(),
        timed: m.time.stats(),
        last: m.count.last().unwrap_or(0.0),
        history: m.history.iter().map(|h| h.0).collect(),
        band: m.history.iter().map(|h| (h.1, h.2)).collect(),
    }
}
