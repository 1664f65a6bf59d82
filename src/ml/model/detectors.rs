//! The two detectors that learn no labels, each scored against the labels it does not
//! learn from: the regressor's residual (an event far from what normal predicts) and the
//! Half-Space Trees (an event in a sparse corner of the feature space).

use std::collections::VecDeque;

use super::scorecard::push_bounded;
use crate::analytics::Observation;
use crate::analytics::rolling::Window;
use crate::ml::hst::{self, HalfSpaceTrees};
use crate::ml::metrics::Prequential;

/// A residual this many times the typical one flags an event.
pub const RESIDUAL_K: f64 = 4.0;

/// Residuals of normal events that set the typical one before the rule can fire.
const RESIDUAL_WARMUP: usize = 50;

/// The regressor's residual as a detector: |actual − predicted| above `RESIDUAL_K` × the
/// mean absolute residual of recent normal events.
pub(super) struct Residual {
    scale: Window,
    pub(super) flags: u64,
    pub(super) scores: Prequential,
}

impl Residual {
    pub(super) fn new(score_window: usize) -> Self {
        Self {
            scale: Window::with_count(1000),
            flags: 0,
            scores: Prequential::new(score_window),
        }
    }

    /// Judges one residual; a normal event's residual joins the typical ones (`at` orders
    /// them).
    pub(super) fn judge(&mut self, residual: f64, label: Option<usize>, normal: bool, at: u64) {
        let typical = self.scale.mean();
        let flagged = self.scale.len() >= RESIDUAL_WARMUP && residual > RESIDUAL_K * typical;
        self.flags += u64::from(flagged);
        if let Some(class) = label {
            self.scores
                .record(usize::from(flagged), usize::from(class != 0));
        }
        if normal {
            self.scale.push(residual, at as i64);
        }
    }
}

/// The label-free Half-Space Trees: its score rule against the labels, how often it fired,
/// its last score and the history of its recent mean.
pub(super) struct HalfSpace {
    pub(super) trees: HalfSpaceTrees,
    pub(super) scores: Prequential,
    pub(super) flags: u64,
    pub(super) last: Option<f64>,
    mean: Window,
    pub(super) history: VecDeque<f64>,
}

impl HalfSpace {
    pub(super) fn new(seed: u64, features: &[usize], score_window: usize, history: usize) -> Self {
        Self {
            trees: HalfSpaceTrees::on(seed, features),
            scores: Prequential::new(score_window),
            flags: 0,
            last: None,
            mean: Window::with_count(500),
            history: VecDeque::with_capacity(history),
        }
    }

    /// The event's score, learnt from and scored against its label when it has one
    /// (`events`: the stream's event count, this one included).
    pub(super) fn observe(&mut self, obs: &Observation, events: u64) -> Option<f64> {
        let score = self.trees.score_and_learn(&obs.features)?;
        let flagged = score > hst::ALERT_SCORE;
        self.flags += u64::from(flagged);
        self.last = Some(score);
        self.mean.push(score, events as i64);
        if events.is_multiple_of(50) {
            push_bounded(&mut self.history, self.mean.mean());
        }
        if let Some(class) = obs.label_class {
            self.scores
                .record(usize::from(flagged), usize::from(class != 0));
        }
        Some(score)
    }
}

/// The columns the half-space trees of a stream split on: for sensors, what makes a reading
/// unusual for its own sensor (its z-scores, its distance from its mean, a flat run, its
/// status), not the raw readings, whose spread is mostly the sensors' different baselines.
/// Empty: every column.
pub(super) fn half_space_features(kind: crate::streams::StreamKind) -> Vec<usize> {
    use crate::analytics::SensorFeature as F;
    use crate::named::Named;
    match kind {
        crate::streams::StreamKind::Sensor => [
            F::ZTemperature,
            F::ZHumidity,
            F::ZPressure,
            F::TempMinusMean,
            F::FlatRun,
            F::Status,
        ]
        .map(Named::index)
        .to_vec(),
        _ => Vec::new(),
    }
}
