//! Alert quality against the generators' labels, computed by the consumer as it runs: how
//! many alerts were about a real incident (precision), how many incidents got an alert
//! (recall), and how many alerts one incident caused.
//!
//! Definitions (shared with the issue that asked for them): an *incident* is a maximal run
//! of one entity's events labelled other than normal, runs closer than `MERGE_MS` of event
//! time merged; an alert is *true* when its span, widened by `MERGE_MS` each side, overlaps
//! an incident of its entity. Only alerts that fired count. Alerts without an entity's
//! incident to match (drift, no data) are counted apart: the generators label no silence.

use std::collections::VecDeque;

use compact_str::CompactString;
use hashbrown::{HashMap, HashSet};
use serde::Serialize;

use super::{Alert, AlertState, Scope};

/// Runs closer than this merge into one incident; an alert's span is widened by it.
pub const MERGE_MS: i64 = 2_000;
/// Incidents older than this (event time) are settled: no alert can match them any more.
const HORIZON_MS: i64 = 600_000;

#[derive(Debug, Clone, Copy)]
struct Incident {
    start: i64,
    end: i64,
    class: usize,
    detected: bool,
}

#[derive(Debug, Clone, Default)]
struct Truth {
    incidents: VecDeque<Incident>,
}

/// Per incident kind: how many there were and how many an alert caught.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KindRecall {
    pub kind: &'static str,
    pub incidents: u64,
    pub detected: u64,
}

/// The figures, as the summary and the TUI's panel show them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertQuality {
    /// Alerts that fired about an entity.
    pub alerts: u64,
    pub true_alerts: u64,
    pub precision: Option<f64>,
    pub incidents: u64,
    pub detected: u64,
    pub recall: Option<f64>,
    /// True alerts per detected incident.
    pub alerts_per_incident: Option<f64>,
    /// Drift and no-data alerts, which no label can judge.
    pub other_alerts: u64,
    pub by_kind: Vec<KindRecall>,
}

#[derive(Debug, Clone)]
pub struct QualityBook {
    kinds: &'static [&'static str],
    truth: HashMap<CompactString, Truth>,
    /// Entities whose latest event was labelled an incident: few, so that a normal event's
    /// check is cheap.
    in_run: HashSet<CompactString>,
    /// Incidents by start, oldest first, to settle them in order.
    order: VecDeque<(i64, CompactString)>,
    clock: i64,
    /// Settled and judged so far.
    alerts: u64,
    true_alerts: u64,
    other_alerts: u64,
    incidents: Vec<u64>,
    detected: Vec<u64>,
    labelled: bool,
}

impl QualityBook {
    /// `kinds`: the stream's label names, normal first.
    pub fn new(kinds: &'static [&'static str]) -> Self {
        Self {
            kinds,
            truth: HashMap::new(),
            in_run: HashSet::new(),
            order: VecDeque::new(),
            clock: i64::MIN,
            alerts: 0,
            true_alerts: 0,
            other_alerts: 0,
            incidents: vec![0; kinds.len()],
            detected: vec![0; kinds.len()],
            labelled: false,
        }
    }

    /// One labelled event of `entity`: `class` 0 is normal. `open` finds an entity's alert
    /// still open, to judge the incidents it covers before they are settled.
    pub fn observe<'a>(
        &mut self,
        entity: &str,
        t: i64,
        class: usize,
        open: impl Fn(&str) -> Option<&'a Alert>,
    ) {
        self.labelled = true;
        self.clock = self.clock.max(t);
        if class == 0 {
            if !self.in_run.is_empty() {
                self.in_run.remove(entity);
            }
            return;
        }
        let in_run = self.in_run.contains(entity);
        if !self.truth.contains_key(entity) {
            self.truth
                .insert(CompactString::new(entity), Truth::default());
        }
        let Some(tr) = self.truth.get_mut(entity) else {
            return;
        };
        match tr.incidents.back_mut() {
            Some(last) if in_run || t - last.end <= MERGE_MS => {
                last.end = last.end.max(t);
                last.start = last.start.min(t);
            }
            _ => {
                tr.incidents.push_back(Incident {
                    start: t,
                    end: t,
                    class,
                    detected: false,
                });
                self.order.push_back((t, CompactString::new(entity)));
            }
        }
        if !in_run {
            self.in_run.insert(CompactString::new(entity));
        }
        self.settle(open);
    }

    /// Judges an alert that has resolved: whether it was about an incident (`None` when it
    /// is not judged: it never fired, or no label can judge it).
    pub fn judge(&mut self, a: &Alert) -> Option<bool> {
        if a.fired_at.is_none() || a.state != AlertState::Resolved {
            return None;
        }
        if !judgeable(a) {
            self.other_alerts += 1;
            return None;
        }
        self.alerts += 1;
        let (lo, hi) = span(a);
        let mut hit = false;
        if let Some(tr) = self.truth.get_mut(a.entity.as_str()) {
            for i in tr
                .incidents
                .iter_mut()
                .filter(|i| i.end >= lo && i.start <= hi)
            {
                hit = true;
                i.detected = true;
            }
        }
        self.true_alerts += u64::from(hit);
        Some(hit)
    }

    /// Counts incidents past the horizon and forgets them; an alert still open (a long or
    /// flapping one) that covers one has caught it.
    fn settle<'a>(&mut self, open: impl Fn(&str) -> Option<&'a Alert>) {
        let horizon = self.clock.saturating_sub(HORIZON_MS);
        while self.order.front().is_some_and(|(t, _)| *t < horizon) {
            let Some((_, entity)) = self.order.pop_front() else {
                break;
            };
            let Some(tr) = self.truth.get_mut(&entity) else {
                continue;
            };
            if let Some(i) = tr.incidents.pop_front() {
                let covered = open(&entity).is_some_and(|a| {
                    let (lo, hi) = span(a);
                    a.fired_at.is_some() && i.end >= lo && i.start <= hi
                });
                self.incidents[i.class] += 1;
                self.detected[i.class] += u64::from(i.detected || covered);
            }
            if tr.incidents.is_empty() && !self.in_run.contains(&entity) {
                self.truth.remove(&entity);
            }
        }
    }

    /// The figures now: settled ones plus the incidents not yet settled, with the alerts
    /// still open (`live`) judged as they stand.
    pub fn report<'a>(&self, live: impl Iterator<Item = &'a Alert>) -> Option<AlertQuality> {
        if !self.labelled {
            return None;
        }
        let (mut alerts, mut true_alerts, mut other) =
            (self.alerts, self.true_alerts, self.other_alerts);
        let mut caught: HashSet<(&str, i64)> = HashSet::new();
        for a in live.filter(|a| a.fired_at.is_some() && a.state != AlertState::Resolved) {
            if !judgeable(a) {
                other += 1;
                continue;
            }
            alerts += 1;
            let (lo, hi) = span(a);
            let Some(tr) = self.truth.get(a.entity.as_str()) else {
                continue;
            };
            let mut hit = false;
            for i in tr.incidents.iter().filter(|i| i.end >= lo && i.start <= hi) {
                hit = true;
                caught.insert((a.entity.as_str(), i.start));
            }
            true_alerts += u64::from(hit);
        }
        let (mut incidents, mut detected) = (self.incidents.clone(), self.detected.clone());
        for (entity, tr) in &self.truth {
            for i in &tr.incidents {
                incidents[i.class] += 1;
                detected[i.class] +=
                    u64::from(i.detected || caught.contains(&(entity.as_str(), i.start)));
            }
        }
        let (n, d): (u64, u64) = (incidents.iter().sum(), detected.iter().sum());
        Some(AlertQuality {
            alerts,
            true_alerts,
            precision: ratio(true_alerts, alerts),
            incidents: n,
            detected: d,
            recall: ratio(d, n),
            alerts_per_incident: ratio(true_alerts, d),
            other_alerts: other,
            by_kind: (1..self.kinds.len())
                .map(|k| KindRecall {
                    kind: self.kinds[k],
                    incidents: incidents[k],
                    detected: detected[k],
                })
                .collect(),
        })
    }
}

fn judgeable(a: &Alert) -> bool {
    a.scope == Scope::Entity && a.rule != super::NODATA && a.rule != "drift"
}

fn span(a: &Alert) -> (i64, i64) {
    (
        a.first_seen.millis() - MERGE_MS,
        a.last_seen.millis() + MERGE_MS,
    )
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}
