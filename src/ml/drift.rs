//! Concept drift: the Page–Hinkley test, a sequential test for a lasting change in the mean
//! of a series. The trainer runs one on the forest's prequential error (a model that stops
//! fitting the data) and one on the stream's key metric (the data itself moving), and
//! refits when either fires, instead of waiting for the next scheduled refit.
//!
//! The statistic is the cumulative deviation from the running mean, less a tolerance δ per
//! step; drift is declared when it rises more than λ above its lowest point (an increase)
//! or, for a two-sided test, falls λ below its highest (a decrease). After a detection the
//! test starts afresh.

use serde::{Deserialize, Serialize};

use crate::analytics::rolling::Window;

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

/// The drift detectors of one stream, and the key metric's scale.
#[derive(Debug, Clone)]
pub(super) struct DriftWatch {
    pub(super) error: PageHinkley,
    pub(super) metric: PageHinkley,
    /// The metric's first values, until they set `unit`.
    scale: Window,
    /// Their mean and spread: the origin and unit of the metric test, fixed once known.
    unit: Option<(f64, f64)>,
    pub(super) count: u64,
    pub(super) last: Option<String>,
}

/// Values of the key metric that set its scale before the metric test starts.
const DRIFT_SCALE_SAMPLES: usize = 1000;

impl DriftWatch {
    pub(super) fn new() -> Self {
        Self {
            // The 0/1 error: a rise of a few points over a few hundred events.
            error: PageHinkley::new(0.005, 50.0, 500, false),
            // The metric in units of its spread: a lasting shift of half a spread or more.
            metric: PageHinkley::new(0.5, 200.0, 500, true),
            scale: Window::with_count(DRIFT_SCALE_SAMPLES),
            unit: None,
            count: 0,
            last: None,
        }
    }

    pub(super) fn metric(&mut self, v: f64, at: u64) -> Option<Drift> {
        if !v.is_finite() {
            return None;
        }
        let Some((mean, std)) = self.unit else {
            self.scale.push(v, at as i64);
            if self.scale.len() == DRIFT_SCALE_SAMPLES {
                self.unit = Some(self.scale.mean_std());
            }
            return None;
        };
        self.metric
            .update((v - mean) / std.max(1e-9))
            .map(Drift::Metric)
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
