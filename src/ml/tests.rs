//! The online models on the default generators.

use super::*;
use crate::analytics::{AnalyzerConfig, Observation, StreamAnalyzer};
use crate::streams::*;

/// Events after warm-up, analysed, in deterministic order.
pub(super) fn observations(
    kind: StreamKind,
    n: u64,
    seed: u64,
    incident_rate: f64,
) -> Vec<Observation> {
    let mut g = Generator::new(
        kind,
        &GeneratorConfig {
            seed,
            incident_rate,
            ..Default::default()
        },
    );
    let mut a = StreamAnalyzer::new(kind, &AnalyzerConfig::default());
    (0..n)
        .map(|i| a.observe(&g.next_event(Timestamp(1_796_000_000_000 + i as i64 * 5))))
        .collect()
}

pub(super) fn inline(trees: usize) -> MlConfig {
    MlConfig {
        background: false,
        trees,
        refit_every: 6000,
        score_window: 1_000_000,
        ..MlConfig::default()
    }
}

#[test]
fn the_forest_beats_the_zscore_detector_on_fraud_and_sensor_incidents() {
    for kind in [StreamKind::Transaction, StreamKind::Sensor] {
        let mut m = StreamModel::new(kind, &inline(30));
        for o in observations(kind, 30_000, 11, 0.02) {
            m.observe(&o);
        }
        let s = m.snapshot();
        assert!(s.version >= 3, "{kind:?}: {}", s.status);
        assert!(
            s.forest.f1 > s.zscore.f1 + 0.2,
            "{kind:?}: forest F1 {:.3} (P {:.2} R {:.2}) vs z-score F1 {:.3}",
            s.forest.f1,
            s.forest.precision,
            s.forest.recall,
            s.zscore.f1
        );
        assert!(
            s.zscore.n == s.forest.n && s.forest.n > 20_000,
            "scored side by side on the same events"
        );
    }
}

/// Same seed ⇒ same training rows, bootstrap samples and refit points, and (our fitter draws
/// every tree from a random stream of its own) the same trees: the same predictions, to the
/// bit, in every process.
#[test]
fn same_seed_gives_the_same_predictions() {
    let obs = observations(StreamKind::Log, 8000, 5, 0.05);
    let predict = || {
        let mut m = StreamModel::new(
            StreamKind::Log,
            &MlConfig {
                refit_every: 2000,
                ..inline(10)
            },
        );
        obs.iter()
            .map(|o| {
                m.observe(o)
                    .prediction
                    .map(|p| (p.class, p.confidence.to_bits()))
            })
            .collect::<Vec<_>>()
    };
    let a = predict();
    assert!(a.iter().filter(|p| p.is_some()).count() > 5000);
    assert_eq!(a, predict());
}

#[test]
fn a_stream_with_one_class_has_no_model_and_says_so() {
    let mut m = StreamModel::new(StreamKind::Sensor, &inline(10));
    for o in observations(StreamKind::Sensor, 3000, 1, 0.0) {
        assert!(m.observe(&o).prediction.is_none());
    }
    let s = m.snapshot();
    assert_eq!(s.version, 0);
    assert!(s.status.contains("only one class"), "{}", s.status);
    assert_eq!(s.trees, 0);
}

/// Another producer's topic has no labels: no forest and no scores, and the regressor, which
/// needs none, is fitted anyway.
#[test]
fn a_stream_without_labels_gets_a_regressor_and_no_forest() {
    let mut m = StreamModel::new(StreamKind::Log, &inline(10));
    for mut o in observations(StreamKind::Log, 4000, 3, 0.02) {
        (o.incident, o.label_class) = (None, None);
        assert!(
            m.observe(&o).prediction.is_none(),
            "no forest without labels"
        );
    }
    let s = m.snapshot();
    assert_eq!((s.version, s.labelled, s.forest.n), (0, 0, 0));
    assert_eq!(s.status, "no labelled events yet");
    let r = s.regression.expect("a regressor fitted without labels");
    assert!(r.mae.is_finite() && r.mae > 0.0, "{r:?}");
}

/// On a label-free topic the card's model is the label-free detector: it scores events and
/// flags the odd ones, while every forest figure stays empty.
#[test]
fn a_stream_without_labels_is_scored_by_the_half_space_trees() {
    let mut m = StreamModel::new(StreamKind::Log, &inline(10));
    let (mut scored, mut flagged) = (0, 0);
    for mut o in observations(StreamKind::Log, 6000, 3, 0.02) {
        (o.incident, o.label_class) = (None, None);
        let v = m.observe(&o);
        scored += usize::from(v.anomaly.is_some());
        flagged += usize::from(v.anomalous());
    }
    let s = m.snapshot();
    assert_eq!((s.forest.n, s.anomaly.n, s.predictions), (0, 0, 0));
    assert!(scored >= 5000 && s.anomaly_last.is_some(), "{scored}");
    assert!(
        flagged > 0 && flagged < scored / 10,
        "{flagged} of {scored}"
    );
    assert_eq!(s.anomaly_flags, flagged as u64);
}

/// The models written to a file serve the next run at once, with the versions continuing;
/// a damaged file or one of another format is refused in one line.
#[test]
fn saved_models_come_back_and_a_damaged_file_is_refused() {
    let dir = std::env::temp_dir().join(format!("sw-models-{}", std::process::id()));
    let path = store::path_for(&dir, "dev.sensor-data");
    let obs = observations(StreamKind::Sensor, 6000, 5, 0.05);
    let mut m = StreamModel::new(StreamKind::Sensor, &inline(10)).with_store(path.clone());
    for o in &obs {
        m.observe(o);
    }
    m.save().unwrap();
    let saved = store::load(&path, StreamKind::Sensor).unwrap().unwrap();
    assert_eq!(saved, m.saved());
    let mut next = StreamModel::new(StreamKind::Sensor, &inline(10));
    next.restore(saved);
    assert_eq!(next.version(), m.version());
    let probe = &obs[5999];
    assert_eq!(
        next.observe(probe).prediction.map(|p| p.class),
        m.observe(probe).prediction.map(|p| p.class),
        "the restored forest serves from the first event"
    );
    assert!(
        store::load(&path, StreamKind::Log).is_err(),
        "another stream's file"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    for damaged in [
        text[..text.len() / 2].to_string(),
        text.replacen("\"format\":1", "\"format\":99", 1),
        text.replacen("\"right\":", "\"right\":9999999", 1),
    ] {
        std::fs::write(&path, &damaged).unwrap();
        let e = store::load(&path, StreamKind::Sensor)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("training starts afresh") && !e.contains('\n'),
            "{e}"
        );
    }
    std::fs::remove_file(&path).unwrap();
    assert!(store::load(&path, StreamKind::Sensor).unwrap().is_none());
    let _ = std::fs::remove_dir(&dir);
}

/// A model's classes are the labels as they are written on the wire, `normal` first.
#[test]
fn class_names_are_the_wire_labels_normal_first() {
    fn wire<L: Label + serde::Serialize>() -> Vec<String> {
        L::ALL
            .iter()
            .map(|l| {
                serde_json::to_string(l)
                    .unwrap_or_default()
                    .trim_matches('"')
                    .to_string()
            })
            .collect()
    }
    let expected = [
        (StreamKind::Sensor, wire::<SensorLabel>()),
        (StreamKind::Transaction, wire::<TransactionLabel>()),
        (StreamKind::Log, wire::<LogLabel>()),
    ];
    for (kind, names) in expected {
        assert_eq!(kind.label_names(), names, "{kind:?}");
        assert_eq!(kind.label_names()[0], "normal");
    }
}

/// A stream read a partition's run at a time, as a backlog is read: each partition holds its
/// own mix of entities (here services, with their own response times), so the mix changes
/// at every run. The key metric's test, per partition, sees no drift; one test over the
/// whole stream saw the runs as drifts (and each brought a refit forward).
#[test]
fn a_backlog_read_a_partition_at_a_time_is_not_a_drift() {
    const LANES: usize = 6;
    let kind = StreamKind::Log;
    let mut g = Generator::new(kind, &GeneratorConfig::default());
    let mut lanes: Vec<Vec<Event>> = vec![Vec::new(); LANES];
    for i in 0..120_000 {
        let e = g.next_event(Timestamp(1_796_000_000_000 + i * 5));
        let lane = e.key().bytes().map(usize::from).sum::<usize>() % LANES;
        lanes[lane].push(e);
    }
    let mut runs = Vec::new();
    for from in (0..)
        .step_by(4000)
        .take_while(|f| lanes.iter().any(|l| l.len() > *f))
    {
        for (lane, events) in lanes.iter().enumerate() {
            let run = events
                .get(from..(from + 4000).min(events.len()))
                .unwrap_or(&[]);
            runs.extend(run.iter().map(|e| (lane as u32, e)));
        }
    }
    let metric_drifts = |per_lane: bool| {
        let mut a = StreamAnalyzer::new(kind, &AnalyzerConfig::default());
        let mut m = StreamModel::new(kind, &inline(10));
        let lane = |l: u32| if per_lane { l } else { 0 };
        runs.iter()
            .map(|(l, e)| m.observe_in(&a.observe(e), lane(*l)).drift)
            .filter(|d| matches!(d, Some(drift::Drift::Metric(_))))
            .count()
    };
    assert_eq!(metric_drifts(true), 0);
    assert!(metric_drifts(false) > 10, "the runs drift as one series");
}

/// The alert quality the defaults reach on a seeded run (the figures BENCHMARKS.md records
/// come from `examples/alert_quality.rs` and the consumer's own summary); this fails when a
/// change costs precision or recall.
#[test]
fn default_alerts_are_precise_and_catch_the_incidents() {
    use crate::ml::replay::Replay;
    let replay = Replay {
        events: 20_000,
        rate: 200.0,
        seed: 11,
        start_ms: 1_796_000_000_000,
    };
    for kind in StreamKind::ALL {
        let q = replay
            .run(kind, &AnalyzerConfig::default(), |_, _| {})
            .expect("labelled");
        let (p, r) = (q.precision.unwrap_or(0.0), q.recall.unwrap_or(0.0));
        let per = q.alerts_per_incident.unwrap_or(f64::INFINITY);
        assert!(p >= 0.85, "{kind:?} precision {p:.3}: {q:?}");
        assert!(r >= 0.85, "{kind:?} recall {r:.3}: {q:?}");
        assert!(per <= 1.2, "{kind:?} {per:.2} alerts per incident: {q:?}");
    }
}
