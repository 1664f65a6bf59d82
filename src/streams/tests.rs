use std::collections::HashMap;

use super::*;
use crate::streams::transaction::Profile;

fn generate(kind: StreamKind, cfg: &GeneratorConfig, n: u64) -> Vec<Event> {
    let mut g = Generator::new(kind, cfg);
    (0..n)
        .map(|i| g.next_event(Timestamp(1_796_000_000_000 + i as i64 * 20)))
        .collect()
}

fn encode(events: &[Event]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in events {
        e.encode_into(&mut out);
        out.push(b'\n');
    }
    out
}

#[test]
fn same_seed_gives_identical_bytes_other_seed_does_not() {
    for kind in StreamKind::ALL {
        let cfg = GeneratorConfig {
            seed: 7,
            ..Default::default()
        };
        let a = encode(&generate(kind, &cfg, 5000));
        let b = encode(&generate(kind, &cfg, 5000));
        assert_eq!(a, b, "{kind:?}");
        let other = GeneratorConfig {
            seed: 8,
            ..Default::default()
        };
        assert_ne!(a, encode(&generate(kind, &other, 5000)), "{kind:?}");
    }
}

#[test]
fn fields_are_snake_case_with_rfc3339_timestamps() {
    let e = &generate(StreamKind::Sensor, &GeneratorConfig::default(), 1)[0];
    let mut bytes = Vec::new();
    e.encode_into(&mut bytes);
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    for f in [
        "sensor_id",
        "location",
        "temperature",
        "humidity",
        "pressure",
        "status",
        "timestamp",
        "seq",
        "label",
    ] {
        assert!(v.get(f).is_some(), "missing {f} in {v}");
    }
    assert_eq!(v["timestamp"], "2026-11-30T00:53:20.000Z");
}

#[test]
fn incident_share_matches_configured_rate() {
    for kind in StreamKind::ALL {
        for rate in [0.02, 0.10] {
            let cfg = GeneratorConfig {
                seed: 3,
                incident_rate: rate,
                ..Default::default()
            };
            let events = generate(kind, &cfg, 200_000);
            let incidents = events
                .iter()
                .filter(|e| e.is_incident() == Some(true))
                .count();
            let share = incidents as f64 / events.len() as f64;
            assert!(
                (share - rate).abs() < rate * 0.25,
                "{kind:?} rate {rate}: share {share}"
            );
        }
    }
}

#[test]
fn zero_incident_rate_gives_only_normal_events() {
    for kind in StreamKind::ALL {
        let cfg = GeneratorConfig {
            incident_rate: 0.0,
            ..Default::default()
        };
        assert!(
            generate(kind, &cfg, 20_000)
                .iter()
                .all(|e| e.is_incident() == Some(false))
        );
    }
}

#[test]
fn every_incident_kind_occurs() {
    for kind in StreamKind::ALL {
        let events = generate(kind, &GeneratorConfig::default(), 100_000);
        let mut seen: Vec<&str> = events.iter().filter_map(Event::label_name).collect();
        seen.sort_unstable();
        seen.dedup();
        let expected = match kind {
            StreamKind::Sensor => SensorLabel::ALL.len(),
            StreamKind::Transaction => TransactionLabel::ALL.len(),
            StreamKind::Log => LogLabel::ALL.len(),
        };
        assert_eq!(seen.len(), expected, "{kind:?}: {seen:?}");
    }
}

#[test]
fn customer_amounts_cluster_around_their_profile() {
    let cfg = GeneratorConfig {
        incident_rate: 0.0,
        ..Default::default()
    };
    let mut g = TransactionGenerator::new(&cfg);
    let medians: HashMap<String, f64> = g
        .profiles()
        .iter()
        .map(|p| (p.id.clone(), p.median_amount()))
        .collect();
    let mut log_ratio = Vec::new();
    let mut per_customer: HashMap<String, Vec<f64>> = HashMap::new();
    for i in 0..300_000u64 {
        let t = g.next_at(Timestamp(i as i64 * 20));
        log_ratio.push((t.amount / medians[&t.customer_id]).ln());
        per_customer
            .entry(t.customer_id)
            .or_default()
            .push(t.amount);
    }
    // Amounts are log-normal around each customer's own median: the log ratio centres on 0
    // and is far tighter than the spread of medians across customers (12..120).
    let mean = log_ratio.iter().sum::<f64>() / log_ratio.len() as f64;
    let sd =
        (log_ratio.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / log_ratio.len() as f64).sqrt();
    assert!(mean.abs() < 0.02, "mean log ratio {mean}");
    assert!(sd < 0.6, "sd of log ratio {sd}");
    let (cheap, dear) =
        g.profiles()
            .iter()
            .fold((None::<&Profile>, None::<&Profile>), |(lo, hi), p| {
                let lo = if lo.is_none_or(|l| p.mu < l.mu) {
                    Some(p)
                } else {
                    lo
                };
                let hi = if hi.is_none_or(|h| p.mu > h.mu) {
                    Some(p)
                } else {
                    hi
                };
                (lo, hi)
            });
    let median_of = |id: &str| {
        let mut v = per_customer[id].clone();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    assert!(median_of(&cheap.unwrap().id) * 4.0 < median_of(&dear.unwrap().id));
}

#[test]
fn velocity_fraud_is_a_burst_from_one_customer() {
    let cfg = GeneratorConfig {
        incident_rate: 0.05,
        ..Default::default()
    };
    let events = generate(StreamKind::Transaction, &cfg, 50_000);
    let mut bursts = 0;
    let mut i = 0;
    while i < events.len() {
        let Event::Transaction(t) = &events[i] else {
            unreachable!()
        };
        if t.label == Some(TransactionLabel::VelocityFraud) {
            let run = events[i..]
                .iter()
                .take_while(|e| matches!(e, Event::Transaction(x) if x.label == t.label && x.customer_id == t.customer_id))
                .count();
            assert!(run >= 6, "burst of {run}");
            bursts += 1;
            i += run;
        } else {
            i += 1;
        }
    }
    assert!(bursts > 10);
}

#[test]
fn sensors_keep_their_location_and_stuck_sensors_flatline() {
    let events = generate(
        StreamKind::Sensor,
        &GeneratorConfig {
            incident_rate: 0.05,
            ..Default::default()
        },
        50_000,
    );
    let mut loc: HashMap<&str, &str> = HashMap::new();
    let mut stuck_values: HashMap<&str, Vec<f64>> = HashMap::new();
    for e in &events {
        let Event::Sensor(s) = e else { unreachable!() };
        assert_eq!(
            *loc.entry(&s.sensor_id).or_insert(&s.location),
            s.location.as_str()
        );
        if s.label == Some(SensorLabel::Stuck) {
            stuck_values
                .entry(&s.sensor_id)
                .or_default()
                .push(s.temperature);
        }
    }
    assert!(!stuck_values.is_empty());
}

#[test]
fn start_probability_hits_the_share() {
    let p = start_probability(0.02, 10.0);
    let share = p * 10.0 / (1.0 + p * 10.0);
    assert!((share - 0.02).abs() < 1e-12);
    assert_eq!(start_probability(0.0, 10.0), 0.0);
}

/// Overwrites an event's text and numbers with arbitrary ones (`s`: its strings, `f`: its
/// floats), and its sequence number.
fn perturb(e: &mut Event, s: &[String], f: &[f64], seq: Option<u64>) {
    use compact_str::CompactString;
    match e {
        Event::Sensor(r) => {
            (r.sensor_id, r.location, r.producer_id) = (s[0].clone(), s[1].clone(), s[2].clone());
            (r.temperature, r.humidity, r.pressure) = (f[0], f[1], f[2]);
            r.status = sensor::SensorStatus::Other(CompactString::from(&s[3]));
            r.seq = seq;
        }
        Event::Transaction(t) => {
            (t.transaction_id, t.customer_id, t.currency) =
                (s[0].clone(), s[1].clone(), s[2].clone());
            (t.merchant, t.category, t.payment_method) = (s[3].clone(), s[4].clone(), s[5].clone());
            (t.location, t.producer_id, t.amount) = (s[6].clone(), s[7].clone(), f[0]);
            t.seq = seq;
        }
        Event::Log(l) => {
            (l.service, l.endpoint, l.message) = (s[0].clone(), s[1].clone(), s[2].clone());
            l.level = log::LogLevel::Other(CompactString::from(&s[3]));
            (l.producer_id, l.response_time_ms, l.seq) = (s[4].clone(), f[0], seq);
        }
    }
}

/// The derived form through serde_json: what the hand-written encoder must write.
fn serde_bytes(e: &Event) -> Vec<u8> {
    match e {
        Event::Sensor(x) => serde_json::to_vec(x),
        Event::Transaction(x) => serde_json::to_vec(x),
        Event::Log(x) => serde_json::to_vec(x),
    }
    .unwrap()
}

#[test]
fn every_generated_event_encodes_as_serde_json_would() {
    for kind in StreamKind::ALL {
        let cfg = GeneratorConfig {
            incident_rate: 0.3,
            ..Default::default()
        };
        for e in generate(kind, &cfg, 20_000) {
            let mut bytes = Vec::new();
            e.encode_into(&mut bytes);
            assert_eq!(bytes, serde_bytes(&e), "{e:?}");
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

    /// Any text (quotes, backslashes, control characters, any Unicode) and any number (NaN,
    /// infinities, subnormals) give serde_json's bytes.
    #[test]
    fn any_event_encodes_as_serde_json_would(
        kind in proptest::sample::select(StreamKind::ALL.to_vec()),
        at in 0u64..300,
        strings in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::prelude::any::<String>(),
                "[a-z\"\\\\\\x00-\\x1f\\x7f é€😀]{0,12}",
            ],
            8,
        ),
        floats in proptest::collection::vec(proptest::num::f64::ANY, 3),
        seq in proptest::option::of(proptest::prelude::any::<u64>()),
    ) {
        let mut e = generate(kind, &GeneratorConfig::default(), at + 1).pop().unwrap();
        perturb(&mut e, &strings, &floats, seq);
        let mut bytes = Vec::new();
        e.encode_into(&mut bytes);
        proptest::prop_assert_eq!(bytes, serde_bytes(&e));
    }
}
