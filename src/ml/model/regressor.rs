//! The regressor's own part of a stream's models: it learns what normal looks like (a
//! reservoir of normal rows), keeps its own refit cadence in normal events beside the
//! forest's, predicts the key metric with a band, and is scored on normal events.

use std::sync::Arc;

use ndarray::Array2;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::config::MlConfig;
use super::forest_fit::{MATURE_SHARE, RegressionRows};
use super::scorecard::RegressionSnapshot;
use crate::analytics::Observation;
use crate::ml::metrics::RegressionScores;
use crate::ml::regression::{RegressionChoice, RegressionSpec, Regressor};
use crate::ml::store::SavedRegressor;

pub(super) struct RegressorFit {
    pub(super) spec: RegressionSpec,
    rows: Vec<(Vec<f64>, f64)>,
    /// Normal, complete events seen (the reservoir's count).
    seen: u64,
    model: Option<Arc<(Regressor, RegressionChoice)>>,
    /// A drift asked for a refit that has not started yet (see `StreamModel::drifted`).
    pub(super) refit_now: bool,
    /// Fits started, and `seen` when the last started.
    fits: u32,
    fitted_at: u64,
    scores: RegressionScores,
    /// The last prediction and its band, in the metric's own units.
    last: (f64, f64),
}

impl RegressorFit {
    pub(super) fn new(spec: RegressionSpec, cfg: &MlConfig) -> Self {
        Self {
            spec,
            rows: Vec::new(),
            seen: 0,
            model: None,
            refit_now: false,
            fits: 0,
            fitted_at: 0,
            scores: RegressionScores::new(cfg.score_window),
            last: (0.0, 0.0),
        }
    }

    /// The prediction for row `x` and the event's actual value `y`, in the metric's own
    /// units, once there is a model.
    pub(super) fn predict(&mut self, x: &[f64], y: f64) -> Option<(f64, f64)> {
        let r = self.model.as_ref()?;
        let (pred, band) = r.0.predict(x);
        let (pred, actual) = (self.spec.natural(pred), self.spec.natural(y));
        self.last = (pred, band);
        Some((pred, actual))
    }

    /// Scores a prediction made for a normal event.
    pub(super) fn score(&mut self, pred: f64, actual: f64) {
        self.scores.record(pred, actual);
    }

    /// Learns what normal looks like: labelled incidents stay out, and so do rows with a
    /// value a message left out.
    pub(super) fn learn(
        &mut self,
        x: &[f64],
        y: f64,
        normal: bool,
        cap: usize,
        rng: &mut ChaCha8Rng,
    ) {
        let complete = y.is_finite() && x.iter().all(|v| v.is_finite());
        if !(normal && complete) {
            return;
        }
        self.seen += 1;
        if self.rows.len() < cap {
            self.rows.push((x.to_vec(), y));
        } else {
            let j = rng.gen_range(0..self.seen) as usize;
            if j < cap {
                self.rows[j] = (x.to_vec(), y);
            }
        }
    }

    /// The warm-up and refit rules, counted in the normal events it learns from: while
    /// young, each refit waits as many events as the last one had; then every
    /// `refit_every`, or once a third of the normal events seen came since (its buffer
    /// samples the whole stream, as the forest's does); on drift at once where it is the
    /// stream's only model (see `StreamModel::drifted`).
    pub(super) fn due(&self, cfg: &MlConfig) -> bool {
        let fresh = self.seen - self.fitted_at;
        if self.fits == 0 {
            return self.rows.len() >= cfg.warmup;
        }
        let interval = (cfg.refit_every as u64)
            .min(self.fitted_at.max(cfg.warmup as u64))
            .max(self.seen / MATURE_SHARE);
        fresh >= interval || (self.refit_now && fresh > 0)
    }

    /// The rows of a fit when one is due, counted as started. It is refitted on its own
    /// cadence, not with every forest: what normal looks like changes more slowly than which
    /// incidents the forest's buffer holds, and a fit with each forest would double its cost.
    pub(super) fn take_rows(&mut self, cfg: &MlConfig) -> RegressionRows {
        let rows = self.due(cfg).then(|| matrix(&self.rows)).flatten();
        if rows.is_some() {
            self.refit_now = false;
            self.fits += 1;
            self.fitted_at = self.seen;
        }
        rows
    }

    pub(super) fn install(&mut self, fitted: (Regressor, RegressionChoice)) {
        self.model = Some(Arc::new(fitted));
    }

    pub(super) fn restore(&mut self, saved: Option<SavedRegressor>) {
        self.model = saved.map(|r| {
            let choice = RegressionChoice {
                model: r.model.name(),
                holdout_mae_linear: r.holdout_mae_linear,
                holdout_mae_forest: r.holdout_mae_forest,
            };
            Arc::new((r.model, choice))
        });
        self.fits = u32::from(self.model.is_some());
    }

    pub(super) fn saved(&self) -> Option<SavedRegressor> {
        self.model.as_deref().map(|(m, c)| SavedRegressor {
            model: m.clone(),
            holdout_mae_linear: c.holdout_mae_linear,
            holdout_mae_forest: c.holdout_mae_forest,
        })
    }

    pub(super) fn snapshot(&self) -> Option<RegressionSnapshot> {
        let r = self.model.as_ref()?;
        let (mae, r2) = self.scores.scores();
        Some(RegressionSnapshot {
            target: self.spec.target_name,
            model: r.0.name(),
            mae,
            r2,
            holdout_mae_linear: r.1.holdout_mae_linear,
            holdout_mae_forest: r.1.holdout_mae_forest,
            last_prediction: self.last.0,
            last_band: self.last.1,
            fits: self.fits,
        })
    }
}

fn matrix(rows: &[(Vec<f64>, f64)]) -> RegressionRows {
    let d = rows.first()?.0.len();
    let x = Array2::from_shape_fn((rows.len(), d), |(i, j)| rows[i].0[j]);
    let y = rows.iter().map(|r| r.1).collect();
    Some((x, y))
}

/// Whether an event counts as normal for the regressor and its scores: labelled normal, or
/// without a label.
pub(super) fn is_normal(obs: &Observation) -> bool {
    obs.label_class.is_none_or(|c| c == 0)
}
