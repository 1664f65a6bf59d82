//! The lifecycle (pending → firing → resolved, flapping, no data) and the quality figures'
//! definitions, on hand-made firings.

use super::*;
use crate::streams::{StreamKind, Timestamp};

const S: StreamKind = StreamKind::Sensor;

fn firing<'a>(entity: &'a str, rule: &'static str, severity: Severity, t: i64) -> Firing<'a> {
    Firing {
        stream: S,
        entity,
        rule,
        severity,
        value: 1.0,
        expected: (0.0, 0.5),
        time: Timestamp(t),
    }
}

fn book() -> AlertBook {
    AlertBook::new(S, AlertPolicy::default(), 100)
}

fn file(b: &mut AlertBook, entity: &str, rule: &'static str, sev: Severity, t: i64) {
    b.heard(entity, Timestamp(t));
    b.file(firing(entity, rule, sev, t), || {
        format!("{rule} on {entity}")
    });
}

fn states(b: &mut AlertBook) -> Vec<(String, AlertState)> {
    b.drain_changes().map(|a| (a.entity, a.state)).collect()
}

#[test]
fn a_warning_alone_stays_pending_and_is_dropped_unsent() {
    let mut b = book();
    file(&mut b, "s1", "zscore", Severity::Warning, 0);
    assert_eq!(b.listing(10)[0].state, AlertState::Pending);
    b.heard("s2", Timestamp(60_000));
    assert!(states(&mut b).is_empty(), "a pending alert is never sent");
    assert!(b.listing(10).is_empty(), "dropped after resolve_after");
    assert_eq!(b.total(), 0);
}

#[test]
fn a_critical_firing_fires_then_resolves_after_quiet() {
    let mut b = book();
    file(&mut b, "s1", "zscore", Severity::Critical, 1_000);
    assert_eq!(states(&mut b), vec![("s1".into(), AlertState::Firing)]);
    // More evidence of other detectors joins the one alert.
    file(&mut b, "s1", "consecutive", Severity::Critical, 1_100);
    file(&mut b, "s1", "zscore", Severity::Warning, 3_000);
    assert!(states(&mut b).is_empty());
    let a = &b.listing(1)[0];
    assert_eq!((a.count, a.detectors()), (3, 2));
    b.heard("s2", Timestamp(3_000 + 5_000 + 300));
    let resolved: Vec<Alert> = b.drain_changes().collect();
    assert_eq!(resolved.len(), 1);
    let r = &resolved[0];
    assert_eq!(r.state, AlertState::Resolved);
    assert_eq!(r.duration_ms(), 2_000, "first to last evidence");
    assert_eq!(b.total(), 1);
}

#[test]
fn two_detectors_on_two_events_fire_but_one_event_read_twice_does_not() {
    let mut b = book();
    file(&mut b, "s1", "zscore", Severity::Warning, 0);
    file(&mut b, "s1", "p95_latency", Severity::Warning, 0);
    assert!(states(&mut b).is_empty(), "one event, two readings of it");
    file(&mut b, "s1", "p95_latency", Severity::Warning, 100);
    assert_eq!(states(&mut b), vec![("s1".into(), AlertState::Firing)]);
}

#[test]
fn evidence_lasting_for_fires_and_a_gap_restarts_the_run() {
    let p = AlertPolicy::default();
    let mut b = book();
    // Sparse firings, more than run_gap apart: never a run.
    for i in 0..4 {
        file(
            &mut b,
            "s1",
            "zscore",
            Severity::Warning,
            i * (p.run_gap_ms + 100),
        );
    }
    assert!(states(&mut b).is_empty());
    let mut b = book();
    let step = p.for_ms / i64::from(p.for_count);
    for i in 0..=i64::from(p.for_count) {
        file(&mut b, "s1", "zscore", Severity::Warning, i * step);
    }
    assert_eq!(states(&mut b), vec![("s1".into(), AlertState::Firing)]);
}

#[test]
fn evidence_rules_never_fire_and_page_rules_fire_at_once() {
    let mut b = book();
    for t in 0..50 {
        file(&mut b, "s1", "half_space", Severity::Critical, t * 100);
    }
    assert!(states(&mut b).is_empty());
    file(&mut b, "s2", "offline", Severity::Warning, 5_000);
    assert_eq!(states(&mut b), vec![("s2".into(), AlertState::Firing)]);
}

#[test]
fn a_stream_entry_wins_over_the_rule_and_the_config_over_both() {
    let mut p = AlertPolicy::default();
    assert_eq!(p.class(StreamKind::Log, "zscore"), RuleClass::Evidence);
    assert_eq!(p.class(StreamKind::Sensor, "zscore"), RuleClass::Alert);
    p.rules.insert("zscore".into(), RuleClass::Page);
    assert_eq!(p.class(StreamKind::Sensor, "zscore"), RuleClass::Page);
    assert_eq!(p.class(StreamKind::Log, "zscore"), RuleClass::Page);
    p.rules.insert("log.zscore".into(), RuleClass::Alert);
    assert_eq!(p.class(StreamKind::Log, "zscore"), RuleClass::Alert);
}

#[test]
fn an_alert_that_keeps_resolving_is_held_firing_as_flapping() {
    let p = AlertPolicy::default();
    let mut b = book();
    let mut t = 0;
    let mut resolved = 0;
    for _ in 0..p.flap_count + 2 {
        file(&mut b, "s1", "offline", Severity::Critical, t);
        t += p.resolve_after_ms + 1_000;
        b.heard("s2", Timestamp(t));
        resolved += b
            .drain_changes()
            .filter(|a| a.state == AlertState::Resolved)
            .count();
    }
    assert_eq!(resolved, p.flap_count - 1, "the next resolve is held");
    let a = &b.listing(1)[0];
    assert!(a.flapping && a.state == AlertState::Firing, "{a:?}");
    b.heard("s2", Timestamp(t + p.flap_hold_ms + 1_000));
    let last: Vec<Alert> = b.drain_changes().collect();
    assert_eq!(last.len(), 1);
    assert!(last[0].flapping && last[0].state == AlertState::Resolved);
}

#[test]
fn a_steady_entity_gone_silent_raises_no_data_until_it_reports_again() {
    let mut b = book();
    for i in 0..100 {
        b.heard("s1", Timestamp(i * 100));
        b.heard("s2", Timestamp(i * 100 + 50));
    }
    // s1 stops; s2 goes on.
    for i in 100..200 {
        b.heard("s2", Timestamp(i * 100 + 50));
    }
    let fired: Vec<Alert> = b.drain_changes().collect();
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!((fired[0].entity.as_str(), fired[0].rule), ("s1", NODATA));
    assert_eq!(fired[0].state, AlertState::Firing);
    b.heard("s1", Timestamp(20_100));
    let back: Vec<Alert> = b.drain_changes().collect();
    assert_eq!((back.len(), back[0].state), (1, AlertState::Resolved));
}

#[test]
fn a_stream_gone_silent_is_one_alert_not_one_per_entity() {
    let mut b = book();
    let names = ["s1", "s2", "s3", "s4"];
    for i in 0..100 {
        for (k, n) in names.iter().enumerate() {
            b.heard(n, Timestamp(i * 100 + k as i64));
        }
    }
    b.idle(0);
    b.idle(30_000);
    let fired: Vec<Alert> = b.drain_changes().collect();
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!((fired[0].scope, fired[0].rule), (Scope::Stream, NODATA));
    assert!(
        fired[0].message.contains("sensor stream"),
        "{}",
        fired[0].message
    );
    // The stream comes back: resolved, and the others are not taken for silent meanwhile.
    for (k, n) in names.iter().enumerate() {
        b.heard(n, Timestamp(40_000 + k as i64 * 300));
    }
    let back: Vec<(Scope, AlertState)> = b.drain_changes().map(|a| (a.scope, a.state)).collect();
    assert_eq!(back, vec![(Scope::Stream, AlertState::Resolved)]);
}

#[test]
fn a_quiet_stream_resolves_on_wall_time() {
    let mut b = book();
    file(&mut b, "s1", "offline", Severity::Critical, 1_000);
    assert_eq!(states(&mut b).len(), 1);
    b.idle(50_000);
    b.idle(52_000);
    assert!(
        states(&mut b).is_empty(),
        "events came since the first call"
    );
    b.idle(60_000);
    assert_eq!(states(&mut b), vec![("s1".into(), AlertState::Resolved)]);
}

/// A resolved alert on `entity` spanning `first..=last`.
fn resolved(entity: &str, first: i64, last: i64) -> Alert {
    let mut b = book();
    file(&mut b, entity, "offline", Severity::Critical, first);
    file(&mut b, entity, "offline", Severity::Critical, last);
    b.heard("other", Timestamp(last + 60_000));
    b.drain_changes()
        .find(|a| a.state == AlertState::Resolved)
        .expect("resolved")
}

#[test]
fn quality_follows_the_definitions() {
    let kinds: &'static [&'static str] = &["normal", "spike", "drift"];
    let mut q = QualityBook::new(kinds);
    let none = |_: &str| None;
    // s1: incident events at 0 and 1,500 with a normal one between merge (< 2 s apart);
    // another at 10,000 is a second incident.
    for (t, c) in [
        (0, 1),
        (500, 0),
        (1_500, 1),
        (2_000, 0),
        (10_000, 2),
        (10_100, 0),
    ] {
        q.observe("s1", t, c, none);
    }
    q.observe("s2", 0, 0, none);
    // An alert 1.9 s after the first incident ends is true (widened by 2 s); one on s2 is
    // not; the second incident has no alert.
    assert_eq!(q.judge(&resolved("s1", 3_400, 3_400)), Some(true));
    assert_eq!(q.judge(&resolved("s2", 0, 100)), Some(false));
    let r = q.report(std::iter::empty()).expect("labelled");
    assert_eq!(
        (r.alerts, r.true_alerts, r.incidents, r.detected),
        (2, 1, 2, 1)
    );
    assert_eq!(r.precision, Some(0.5));
    assert_eq!(r.recall, Some(0.5));
    assert_eq!(r.alerts_per_incident, Some(1.0));
    assert_eq!(r.by_kind[0].kind, "spike");
    assert_eq!((r.by_kind[0].incidents, r.by_kind[0].detected), (1, 1));
    assert_eq!((r.by_kind[1].incidents, r.by_kind[1].detected), (1, 0));
}

#[test]
fn quality_counts_no_data_apart_and_is_none_without_labels() {
    let kinds: &'static [&'static str] = &["normal", "spike"];
    let mut q = QualityBook::new(kinds);
    assert!(q.report(std::iter::empty()).is_none());
    q.observe("s1", 0, 0, |_| None);
    let mut a = resolved("s1", 0, 0);
    a.rule = NODATA;
    assert_eq!(q.judge(&a), None);
    let r = q.report(std::iter::empty()).expect("labelled");
    assert_eq!((r.alerts, r.other_alerts, r.precision), (0, 1, None));
}

#[test]
fn after_an_outage_the_backlog_lives_on_its_own_time() {
    let mut b = book();
    for i in 0..100 {
        for n in ["s1", "s2", "s3"] {
            b.heard(n, Timestamp(i * 100));
        }
    }
    // The broker is gone for a minute: wall time moves the clock, the stream is silent.
    b.idle(0);
    b.idle(60_000);
    let silent: Vec<Alert> = b.drain_changes().collect();
    assert_eq!(silent.len(), 1, "{silent:?}");
    assert_eq!(silent[0].scope, Scope::Stream);
    // It comes back with what was written meanwhile, stamped from where it stopped.
    for i in 100..300 {
        for n in ["s1", "s2", "s3"] {
            b.heard(n, Timestamp(i * 100));
        }
        if i == 150 {
            file(&mut b, "s2", "offline", Severity::Critical, i * 100);
        }
    }
    let changes: Vec<(String, Scope, AlertState)> = b
        .drain_changes()
        .map(|a| (a.entity, a.scope, a.state))
        .collect();
    assert_eq!(
        changes,
        vec![
            (String::new(), Scope::Stream, AlertState::Resolved),
            ("s2".into(), Scope::Entity, AlertState::Firing),
            ("s2".into(), Scope::Entity, AlertState::Resolved),
        ],
        "the stream's silence ends once, no entity is taken for silent, and the backlog's \
         alert lasts its own time"
    );
}
