//! A stream's models over their life: when the forest and the regressor refit (young,
//! mature, on drift, where there are no labels), and how long an old model serves while its
//! successor fits.

use std::time::{Duration, Instant};

use super::forest_fit::stale_limit;
use super::*;
use crate::ml::regression;
use crate::ml::tests::{inline, observations};
use crate::streams::*;

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
    assert_eq!(stale_limit(0), 400);
    assert_eq!(stale_limit(20_000), 400);
    assert_eq!(stale_limit(25_600), 400);
    assert_eq!(stale_limit(64_000), 1_000);
    assert_eq!(stale_limit(333_334), 5_208);
}
