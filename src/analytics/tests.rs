//! Detector tests on generated streams with known incidents.

use std::collections::{HashMap, VecDeque};

use super::*;
use crate::streams::*;

fn run(kind: StreamKind, n: u64, seed: u64) -> Vec<(Event, Observation)> {
    let mut g = Generator::new(
        kind,
        &GeneratorConfig {
            seed,
            ..Default::default()
        },
    );
    let mut a = StreamAnalyzer::new(kind, &AnalyzerConfig::default());
    (0..n)
        .map(|i| {
            let e = g.next_event(Timestamp(1_796_000_000_000 + i as i64 * 5));
            let o = a.observe(&e);
            (e, o)
        })
        .collect()
}

fn bit(a: &StreamAnalyzer, rule: &str) -> u32 {
    1 << a.rule_names().iter().position(|r| *r == rule).unwrap()
}

#[test]
fn every_sensor_spike_beyond_5_sigma_is_alerted() {
    let probe = StreamAnalyzer::new(StreamKind::Sensor, &AnalyzerConfig::default());
    let (z, thr) = (bit(&probe, "zscore"), bit(&probe, "threshold"));
    let mut history: HashMap<String, VecDeque<f64>> = HashMap::new();
    let (mut checked, mut seed) = (0, 1);
    while checked < 30 {
        for (e, o) in run(StreamKind::Sensor, 40_000, seed) {
            let Event::Sensor(s) = &e else { unreachable!() };
            let h = history.entry(s.sensor_id.clone()).or_default();
            if s.label == Some(SensorLabel::Spike) && h.len() >= 50 {
                let n = h.len() as f64;
                let mean = h.iter().sum::<f64>() / n;
                let sd = (h.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
                if (s.temperature - mean).abs() > 5.0 * sd {
                    checked += 1;
                    assert!(
                        o.fired & (z | thr) != 0,
                        "spike on {} ({:.2} vs {mean:.2} ± {sd:.2}) not alerted",
                        s.sensor_id,
                        s.temperature
                    );
                }
            }
            if s.label == Some(SensorLabel::Normal) {
                h.push_back(s.temperature);
                if h.len() > 100 {
                    h.pop_front();
                }
            }
        }
        history.clear();
        seed += 1;
    }
}

#[test]
fn every_velocity_burst_is_caught_and_is_one_alert() {
    let probe = StreamAnalyzer::new(StreamKind::Transaction, &AnalyzerConfig::default());
    let vel = bit(&probe, "velocity");
    let events = run(StreamKind::Transaction, 60_000, 2);
    let mut bursts = 0;
    let mut i = 0;
    while i < events.len() {
        let Event::Transaction(t) = &events[i].0 else {
            unreachable!()
        };
        if t.label != Some(TransactionLabel::VelocityFraud) {
            i += 1;
            continue;
        }
        let run: Vec<&(Event, Observation)> = events[i..]
            .iter()
            .take_while(|(e, _)| matches!(e, Event::Transaction(x) if x.label == t.label && x.customer_id == t.customer_id))
            .collect();
        assert!(
            run.iter().any(|(_, o)| o.fired & vel != 0),
            "burst of {} by {} not caught",
            run.len(),
            t.customer_id
        );
        let fired: Vec<_> = run
            .iter()
            .flat_map(|(_, o)| &o.changed)
            .filter(|a| a.state == AlertState::Firing && a.entity == t.customer_id)
            .collect();
        // One alert, whichever detector fired it first (a burst at night is odd hours too).
        assert_eq!(fired.len(), 1, "burst by {} fired {fired:?}", t.customer_id);
        bursts += 1;
        i += run.len();
    }
    assert!(bursts >= 10, "only {bursts} bursts");
}

#[test]
fn an_incident_is_one_alert_not_a_flood() {
    // Every labelled incident run on one entity (drift, stuck, error bursts...) fires at most
    // one alert: every detector's firings join it as evidence.
    for kind in StreamKind::ALL {
        let events = run(kind, 40_000, 3);
        let mut fired: HashMap<String, usize> = HashMap::new();
        let mut prev_label: HashMap<String, Option<&'static str>> = HashMap::new();
        for (e, o) in &events {
            let key = e.key().to_string();
            // Multi-event incidents; single-event ones (a spike, a large amount) are each
            // their own incident and two on one entity may well be two alerts.
            let single = [
                "normal",
                "spike",
                "large_amount",
                "location_fraud",
                "odd_hours_fraud",
            ];
            let label = e.label_name().filter(|l| !single.contains(l));
            if prev_label.get(&key).copied().flatten() != label {
                fired.remove(&key);
            }
            prev_label.insert(key.clone(), label);
            if label.is_none() {
                continue;
            }
            for a in o.changed.iter().filter(|a| a.state == AlertState::Firing) {
                let n = fired.entry(a.entity.clone()).or_default();
                *n += 1;
                assert!(
                    *n <= 1,
                    "{kind:?} {label:?} on {key}: {n} alerts fired, the latest {a:?}"
                );
            }
        }
    }
}

#[test]
fn snapshot_reports_rolling_stats_and_a_scorecard() {
    let mut a = StreamAnalyzer::new(StreamKind::Log, &AnalyzerConfig::default());
    let mut g = Generator::new(StreamKind::Log, &GeneratorConfig::default());
    for i in 0..5000u64 {
        a.observe(&g.next_event(Timestamp(1_796_000_000_000 + i as i64 * 5)));
    }
    let s = a.snapshot();
    assert_eq!(s.events, 5000);
    let rt = &s.metrics[0];
    assert_eq!(rt.name, "response_time_ms");
    assert_eq!(rt.rolling.count, 100);
    assert!(rt.rolling.min <= rt.rolling.mean && rt.rolling.mean <= rt.rolling.max);
    assert!(
        !rt.history.is_empty(),
        "sparkline history sampled each second of event time"
    );
    let q = s.latency.unwrap();
    assert!(q.p50 <= q.p95 && q.p95 <= q.p99);
    assert_eq!(s.scorecard.last().unwrap().rule, "any");
    let total: u64 = s.scorecard[0].tp + s.scorecard[0].fp + s.scorecard[0].fn_ + s.scorecard[0].tn;
    assert_eq!(total, 5000);
}

#[test]
fn events_of_another_stream_are_ignored() {
    let mut a = StreamAnalyzer::new(StreamKind::Sensor, &AnalyzerConfig::default());
    let mut g = Generator::new(StreamKind::Log, &GeneratorConfig::default());
    let o = a.observe(&g.next_event(Timestamp(0)));
    assert_eq!(o.fired, 0);
    assert_eq!(a.events(), 0);
}
