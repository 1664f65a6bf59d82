//! The online models on the default generators.

use std::time::{Duration, Instant};

use super::*;
use crate::analytics::{AnalyzerConfig, Observation, StreamAnalyzer};
use crate::streams::*;

/// Events after warm-up, analysed, in deterministic order.
fn observations(kind: StreamKind, n: u64, seed: u64, incident_rate: f64) -> Vec<Observation> {
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

fn inline(trees: usize) -> MlConfig {
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

/// Same seed ⇒ same training rows, bootstrap samples and refit points, and (with the patched
/// linfa-trees, whose sums and ties no longer depend on `HashMap` order) the same trees: the
/// same predictions, to the bit, in every process.
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

/// Where the regressor is the stream's only model (no labels), a shift of the key metric
/// refits it before its next scheduled refit; the same shift on a labelled stream refits
/// the forest and leaves the regressor to its cadence (the incidents that move the metric
/// are not what it learns).
#[test]
fn a_metric_shift_refits_the_regressor_only_where_there_are_no_labels() {
    let target = regression::RegressionSpec::for_stream(StreamKind::Sensor).target;
    let obs = observations(StreamKind::Sensor, 20_000, 6, 0.02);
    let reg_fits = |m: &StreamModel| m.snapshot().regression.map_or(0, |r| r.fits);
    let run = |labels: bool| {
        let mut m = StreamModel::new(StreamKind::Sensor, &inline(10));
        let mut events = obs.iter().map(|o| {
            let mut o = o.clone();
            if !labels {
                (o.incident, o.label_class) = (None, None);
            }
            o
        });
        // Up to a regressor fit past the metric test's warm-up (1,500 events): the next is
        // due no sooner than as many normal events again.
        let (mut seen, mut fits) = (0, 0);
        loop {
            m.observe(&events.next().expect("the regressor refits"));
            seen += 1;
            let now = reg_fits(&m);
            if now > fits && seen >= 2000 {
                break;
            }
            fits = now;
        }
        fits = reg_fits(&m);
        let before = m.snapshot();
        // Readings 15 degrees warmer, for less than the regressor's cadence.
        for mut o in events.take(seen * 4 / 5) {
            o.features[target] += 15.0;
            m.observe(&o);
        }
        let after = m.snapshot();
        assert!(after.drifts > before.drifts, "{labels}: {after:?}");
        if labels {
            assert!(
                after.version > before.version,
                "the forest refits on the drift"
            );
        }
        reg_fits(&m) - fits
    };
    assert!(run(false) > 0, "the label-free regressor follows the shift");
    assert_eq!(
        run(true),
        0,
        "the labelled stream's regressor keeps its cadence"
    );
}

/// A mature regressor refits once `refit_every` normal events, and a third of those seen,
/// came since its last fit (after half as many again as it was fitted at): its buffer
/// samples the whole stream, so a refit after a smaller share would learn from nearly the
/// same rows (a long backlog fitted it every few thousand events for ever). Its refits ride
/// on the forest's, here every 1,000 events: that is the slack.
#[test]
fn a_mature_regressor_refits_once_the_normal_stream_grew_by_half() {
    let spec = regression::RegressionSpec::for_stream(StreamKind::Sensor);
    // A buffer the forest never half fills keeps it young, refitting every 1,000 events.
    let cfg = MlConfig {
        refit_every: 1000,
        buffer: 100_000,
        ..inline(10)
    };
    let mut m = StreamModel::new(StreamKind::Sensor, &cfg);
    let (mut normal, mut fits, mut at) = (0u64, 0, Vec::new());
    for o in observations(StreamKind::Sensor, 40_000, 7, 0.02) {
        let mut row = [0.0; crate::analytics::FEATURES];
        let complete = o.features[spec.target].is_finite()
            && spec
                .row(&o.features, &mut row)
                .iter()
                .all(|v| v.is_finite());
        if o.label_class.is_none_or(|c| c == 0) && complete {
            normal += 1;
        }
        m.observe(&o);
        let now = m.snapshot().regression.map_or(0, |r| r.fits);
        if now > fits {
            fits = now;
            at.push(normal);
        }
    }
    let mature: Vec<_> = at.windows(2).filter(|w| w[0] >= 12_000).collect();
    assert!(mature.len() >= 2, "{at:?}");
    for w in mature {
        let gap = w[1] - w[0];
        assert!(gap + 2 >= w[0] / 2, "refitted too soon: {at:?}");
        assert!(gap <= w[0] / 2 + 1_500, "refitted too late: {at:?}");
    }
}

/// A mature forest (trained on half a buffer or more) refits once `refit_every` labelled
/// events, and a third of those seen, came since its fit (after half as many again as it
/// was fitted at), drift aside: refits after a quarter learnt from a buffer three quarters
/// the same, fitted half as often again.
#[test]
fn a_mature_forest_refits_once_the_labelled_stream_grew_by_half() {
    let cfg = MlConfig {
        refit_every: 1000,
        buffer: 800,
        drift: false,
        ..inline(4)
    };
    let mut m = StreamModel::new(StreamKind::Sensor, &cfg);
    let (mut labelled, mut version, mut at) = (0u64, 0, Vec::new());
    for o in observations(StreamKind::Sensor, 40_000, 7, 0.02) {
        labelled += u64::from(o.label_class.is_some());
        m.observe(&o);
        let now = m.snapshot().version;
        if now > version {
            version = now;
            at.push(labelled);
        }
    }
    let mature: Vec<_> = at.windows(2).filter(|w| w[0] >= 4_000).collect();
    assert!(mature.len() >= 2, "{at:?}");
    for w in mature {
        let gap = w[1] - w[0];
        assert!(gap.abs_diff(w[0] / 2) <= 2, "{at:?}");
    }
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

/// A shift in what the labels mean (the incidents of one kind suddenly look normal, and the
/// forest keeps calling them normal) is drift: the forest refits long before its next
/// scheduled refit, and says why.
#[test]
fn drift_triggers_a_refit() {
    let cfg = MlConfig {
        refit_every: 1_000_000,
        ..inline(10)
    };
    let mut m = StreamModel::new(StreamKind::Transaction, &cfg);
    let obs = observations(StreamKind::Transaction, 12_000, 4, 0.05);
    for o in &obs[..8000] {
        m.observe(o);
    }
    let before = m.snapshot();
    // Refits so far are the young buffer's doubling ones; none is due for a million events.
    let mut flipped = 0;
    for o in &obs[8000..] {
        let mut o = o.clone();
        // From here on, normal payments are labelled as fraud: the forest is now wrong
        // on nearly every event.
        if o.label_class == Some(0) {
            o.label_class = Some(1);
            o.incident = Some(true);
            flipped += 1;
        }
        m.observe(&o);
    }
    let after = m.snapshot();
    assert!(flipped > 3000);
    assert!(after.drifts > before.drifts, "{after:?}");
    assert!(after.version > before.version, "drift refits");
    let why = after.last_drift.unwrap_or_default();
    assert!(why.contains("error rate rose"), "{why}");
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

/// While a fit runs the consumer goes on: the next `STALE_EVENTS` (400) labelled events are
/// each observed at once, judged by the model there was (none, for the first fit); the one
/// after that waits for the fit, the first one too, so that a backlog read faster than any
/// fit gets its first model where live events would.
#[test]
fn a_refit_does_not_block_observe_within_its_staleness_bound() {
    let obs = observations(StreamKind::Transaction, 40_000, 2, 0.05);
    // A deliberately slow forest, fitted in the background.
    let cfg = MlConfig {
        background: true,
        trees: 400,
        max_depth: 20,
        warmup: 500,
        refit_every: 1_000_000,
        ..MlConfig::default()
    };
    let mut m = StreamModel::new(StreamKind::Transaction, &cfg);
    let mut it = obs.iter();
    while !m.is_fitting() {
        m.observe(it.next().expect("the first fit starts within the stream"));
    }
    let mut during = 0;
    let mut slowest = Duration::ZERO;
    for o in it.by_ref().take(400) {
        let t = Instant::now();
        m.observe(o);
        slowest = slowest.max(t.elapsed());
        during += usize::from(m.is_fitting());
    }
    assert!(
        during >= 300,
        "the fit finished after {during} events; make it slower"
    );
    assert!(
        slowest < Duration::from_millis(200),
        "an observe took {slowest:?} while fitting"
    );
    assert_eq!(
        m.version(),
        u32::from(during < 400),
        "no model until the fit is done"
    );
    // The next event waits for the fit and is judged by its forest.
    assert!(
        m.observe(it.next().expect("more events"))
            .prediction
            .is_some()
    );
    assert_eq!(m.version(), 1, "the new model was swapped in");
}

/// The staleness bound: 400 labelled events while a stream is young, then 1/64 of those
/// seen (the 60,000-event run of three streams never leaves the first).
#[test]
fn the_staleness_bound_grows_with_the_stream() {
    assert_eq!(model::stale_limit(0), 400);
    assert_eq!(model::stale_limit(20_000), 400);
    assert_eq!(model::stale_limit(25_600), 400);
    assert_eq!(model::stale_limit(64_000), 1_000);
    assert_eq!(model::stale_limit(333_334), 5_208);
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
