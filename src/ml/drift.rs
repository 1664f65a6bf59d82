//! Concept drift: the Page–Hinkley test, a sequential test for a lasting change in the mean
//! of a series. The trainer runs one on the forest's prequential error (a model that stops
//! fitting the data) and, per partition, one on the stream's key metric (the data itself
//! moving), and refits when either fires, instead of waiting for the next scheduled refit.
//!
//! The statistic is the cumulative deviation from the running mean, less a tolerance δ per
//! step; drift is declared when it rises more than λ above its lowest point (an increase)
//! or, for a two-sided test, falls λ below its highest (a decrease). After a detection the
//! test starts afresh.

use serde::{Deserialize, Serialize};

use crate::analytics::rolling::Moments;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageHinkley {
    /// Changes smaller than this (in the series' units) are tolerated.
    delta: f64,
    /// How far the cumulative deviation must move to declare drift.
    lambda: f64,
    /// Observations before any detection (the mean needs a few to settle).
    min_samples: u64,
    two_sided: bool,
    n: u64,
    mean: f64,
    up: f64,
    up_min: f64,
    down: f64,
    down_max: f64,
}

/// Which way the mean moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shift {
    Up,
    Down,
}

impl PageHinkley {
    pub fn new(delta: f64, lambda: f64, min_samples: u64, two_sided: bool) -> Self {
        Self {
            delta,
            lambda,
            min_samples,
            two_sided,
            n: 0,
            mean: 0.0,
            up: 0.0,
            up_min: 0.0,
            down: 0.0,
            down_max: 0.0,
        }
    }

    /// Adds one value; says whether (and which way) the mean has shifted. Non-finite values
    /// are skipped.
    pub fn update(&mut self, x: f64) -> Option<Shift> {
        if !x.is_finite() {
            return None;
        }
        self.n += 1;
        self.mean += (x - self.mean) / self.n as f64;
        self.up += x - self.mean - self.delta;
        self.up_min = self.up_min.min(self.up);
        self.down += x - self.mean + self.delta;
        self.down_max = self.down_max.max(self.down);
        if self.n < self.min_samples {
            return None;
        }
        let shift = if self.up - self.up_min > self.lambda {
            Some(Shift::Up)
        } else if self.two_sided && self.down_max - self.down > self.lambda {
            Some(Shift::Down)
        } else {
            None
        };
        if shift.is_some() {
            self.reset();
        }
        shift
    }

    pub fn reset(&mut self) {
        *self = Self::new(self.delta, self.lambda, self.min_samples, self.two_sided);
    }

    pub fn samples(&self) -> u64 {
        self.n
    }
}

/// What drifted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drift {
    /// The forest's prequential error rose.
    Error,
    /// The stream's key metric moved up or down.
    Metric(Shift),
}

impl Drift {
    pub fn describe(self, metric: &str) -> String {
        match self {
            Drift::Error => "the forest's error rate rose".into(),
            Drift::Metric(Shift::Up) => format!("{metric} shifted up"),
            Drift::Metric(Shift::Down) => format!("{metric} shifted down"),
        }
    }
}

/// The drift detectors of one stream.
#[derive(Debug, Clone)]
pub(super) struct DriftWatch {
    pub(super) error: PageHinkley,
    /// The key metric's test, one per lane (an ordered part of the stream: a Kafka
    /// partition). Order holds only within a partition, and each holds its own mix of
    /// entities (keys pin them), so one test over a stream read a partition's run at a time
    /// saw the mix change at every run: a long backlog declared drift after drift, and none
    /// of them was the data moving (docs/perf-journal.md, "Drift tested per partition"). A
    /// lasting change of the stream shows in every lane.
    lanes: Vec<MetricLane>,
    /// The stream's event count at the last key-metric drift declared.
    declared: Option<u64>,
    pub(super) count: u64,
    pub(super) last: Option<String>,
}

/// Values of the key metric that set a lane's scale before its test starts.
const DRIFT_SCALE_SAMPLES: u64 = 1000;

/// Lanes with a test of their own; a higher lane shares the last one.
const MAX_LANES: usize = 1024;

/// A shift of the whole stream fires every lane's test, each after a few hundred of its
/// own events: lanes that fire within this many events per lane of a declared drift are
/// that drift, not new ones.
const SAME_DRIFT_PER_LANE: u64 = 1000;

/// A value counts as this many spreads from the origin at most. A drift is the bulk of the
/// series moving, not a burst of wild values: incidents (spikes, dropouts, slow requests)
/// come in bursts, and a backlog read a partition at a time brings them in runs. Unclipped,
/// a long backlog declared hundreds of sensor drifts, each bringing a refit forward (most of
/// its fits); clipped, none, and a lasting shift of two spreads is still found within a few
/// hundred events (docs/perf-journal.md, "Drift tested per partition").
const METRIC_CLIP: f64 = 3.0;

/// The key metric's test on one lane, in units of the spread of the lane's first values.
#[derive(Debug, Clone)]
struct MetricLane {
    test: PageHinkley,
    /// The lane's first values, until they set `unit`.
    first: Moments,
    /// Their mean and spread: the origin and unit of the test, fixed once known.
    unit: Option<(f64, f64)>,
}

impl MetricLane {
    fn new() -> Self {
        Self {
            // A lasting shift of half a spread or more.
            test: PageHinkley::new(0.5, 200.0, 500, true),
            first: Moments::default(),
            unit: None,
        }
    }

    fn update(&mut self, v: f64) -> Option<Shift> {
        let Some((mean, std)) = self.unit else {
            self.first.push(v);
            if self.first.n == DRIFT_SCALE_SAMPLES {
                self.unit = Some((self.first.mean, self.first.std()));
            }
            return None;
        };
        let z = (v - mean) / std.max(1e-9);
        self.test.update(z.clamp(-METRIC_CLIP, METRIC_CLIP))
    }
}

impl DriftWatch {
    pub(super) fn new() -> Self {
        Self {
            // The 0/1 error: a rise of a few points over a few hundred events.
            error: PageHinkley::new(0.005, 50.0, 500, false),
            lanes: Vec::new(),
            declared: None,
            count: 0,
            last: None,
        }
    }

    /// The key metric's value `v` of the stream's event number `at`, from `lane`.
    pub(super) fn metric(&mut self, lane: u32, v: f64, at: u64) -> Option<Drift> {
        if !v.is_finite() {
            return None;
        }
        let i = (lane as usize).min(MAX_LANES - 1);
        if i >= self.lanes.len() {
            self.lanes.resize_with(i + 1, MetricLane::new);
        }
        let shift = self.lanes[i].update(v)?;
        let window = SAME_DRIFT_PER_LANE * self.lanes.len() as u64;
        if self.declared.is_some_and(|d| at.saturating_sub(d) < window) {
            return None;
        }
        self.declared = Some(at);
        Some(Drift::Metric(shift))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;
    use rand_chacha::ChaCha8Rng;
    use rand_chacha::rand_core::SeedableRng;

    fn noisy(rng: &mut ChaCha8Rng, mean: f64) -> f64 {
        mean + rng.gen_range(-1.0..1.0)
    }

    #[test]
    fn a_steady_series_does_not_drift_a_shifted_one_does_soon() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut ph = PageHinkley::new(0.1, 50.0, 30, true);
        assert!((0..20_000).all(|_| ph.update(noisy(&mut rng, 5.0)).is_none()));
        let at = (0..2_000).position(|_| ph.update(noisy(&mut rng, 6.5)).is_some());
        assert!(at.is_some_and(|i| i < 200), "{at:?}");
        let mut ph = PageHinkley::new(0.1, 50.0, 30, true);
        (0..5_000).for_each(|_| {
            ph.update(noisy(&mut rng, 5.0));
        });
        let down = (0..2_000).find_map(|_| ph.update(noisy(&mut rng, 3.5)));
        assert_eq!(down, Some(Shift::Down));
    }

    /// Calm readings with bursts of wild ones (an incident's spikes, a third of a burst
    /// off the scale): no drift; then the bulk moving by two spreads: a drift, soon.
    #[test]
    fn bursts_of_wild_values_are_not_a_drift_a_lasting_shift_is() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut watch = DriftWatch::new();
        let mut at = 0;
        let mut feed = |watch: &mut DriftWatch, v: f64| {
            at += 1;
            watch.metric(0, v, at)
        };
        for _ in 0..DRIFT_SCALE_SAMPLES {
            feed(&mut watch, noisy(&mut rng, 20.0));
        }
        for round in 0..40 {
            for _ in 0..2000 {
                assert_eq!(
                    feed(&mut watch, noisy(&mut rng, 20.0)),
                    None,
                    "calm {round}"
                );
            }
            for i in 0..300 {
                let v = if i % 3 == 0 {
                    500.0
                } else {
                    noisy(&mut rng, 20.0)
                };
                assert_eq!(feed(&mut watch, v), None, "burst {round}");
            }
        }
        // The spread of `noisy` is 0.58: two spreads up.
        let found = (0..1000).position(|_| feed(&mut watch, noisy(&mut rng, 21.15)).is_some());
        assert!(found.is_some_and(|i| i < 400), "{found:?}");
    }

    /// Six partitions read in turn, then all of them two spreads up: each lane's test fires,
    /// and the stream's drift is declared once.
    #[test]
    fn a_shift_of_every_partition_is_one_drift() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut watch = DriftWatch::new();
        let mut declared = 0;
        for round in 0..8000u64 {
            let mean = if round < 4000 { 20.0 } else { 21.15 };
            for lane in 0..6 {
                let at = round * 6 + u64::from(lane);
                declared += usize::from(watch.metric(lane, noisy(&mut rng, mean), at).is_some());
            }
        }
        assert_eq!(declared, 1);
        assert!(
            watch.lanes.iter().all(|l| l.test.samples() < 4000),
            "every lane fired"
        );
    }

    #[test]
    fn one_sided_ignores_a_fall_and_nan_is_skipped() {
        let mut ph = PageHinkley::new(0.005, 5.0, 30, false);
        (0..1000).for_each(|_| {
            ph.update(0.5);
        });
        assert!((0..1000).all(|_| ph.update(0.0).is_none()));
        assert!(ph.update(f64::NAN).is_none());
        assert!((0..1000).any(|_| ph.update(1.0).is_some()));
    }
}
