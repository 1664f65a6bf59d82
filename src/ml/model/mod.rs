//! One stream's models over its life: the forest and its refits, the regressor, the two
//! label-free detectors, drift, the scorecard and the model files, each a part with one job
//! (`forest_fit`, `regressor`, `detectors`, `scorecard`, `persist`), and `StreamModel`,
//! which owns the parts and runs them in order for every event.
//!
//! Refits are counted in events, never in seconds, so a backlog read at full speed is learnt
//! from like the same events arriving live. In the background mode (live use) a fit runs on
//! its own thread while the old model serves, for a bounded number of labelled events (see
//! `forest_fit::stale_limit`); the event after that waits for the fit. Inline, fits run on
//! the caller's thread at exact event counts: a seeded run repeats.
//!
//! Every event is first predicted, then learnt from (prequential), for the forest and, side
//! by side, for the z-score rule and the label-free Half-Space Trees on the same labels.

mod config;
mod detectors;
mod forest_fit;
mod persist;
mod regressor;
mod scorecard;

use std::path::PathBuf;

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

use super::drift::{Drift, DriftWatch};
use super::forest::{Contribution, Prediction};
use super::hst;
use super::store::{self, SavedModels, StoreError};
use crate::analytics::{FEATURES, Observation};
use crate::streams::StreamKind;
use detectors::{HalfSpace, Residual};
use forest_fit::{FitJob, Fitted, ForestFit};
use persist::Persist;
use regressor::RegressorFit;
use scorecard::Scorecard;

pub use config::MlConfig;
pub use detectors::RESIDUAL_K;
pub use scorecard::{ModelSnapshot, RegressionSnapshot};

/// What the models made of one event.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Verdict {
    /// The forest's call, once there is a forest.
    pub prediction: Option<Prediction>,
    /// The Half-Space Trees' score in [0, 1], once they have a reference window.
    pub anomaly: Option<f64>,
    /// A drift this event completed (it brings the next refit forward).
    pub drift: Option<Drift>,
    /// The regressor's expectation of its target for this event, and the actual value.
    pub expected: Option<(f64, f64)>,
}

impl Verdict {
    /// Whether the label-free detector's own rule fires.
    pub fn anomalous(&self) -> bool {
        self.anomaly.is_some_and(|s| s > hst::ALERT_SCORE)
    }
}

/// One stream's models and what they are worth: each part does one job, and `observe_in`
/// is the order of the steps.
pub struct StreamModel {
    kind: StreamKind,
    cfg: MlConfig,
    /// One generator for both training reservoirs, so a seed gives the same rows.
    rng: ChaCha8Rng,
    fit: ForestFit,
    regressor: RegressorFit,
    residual: Residual,
    half_space: HalfSpace,
    drift: DriftWatch,
    card: Scorecard,
    store: Persist,
}

impl StreamModel {
    pub fn new(kind: StreamKind, cfg: &MlConfig) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        rng.set_stream(100 + kind as u64);
        Self {
            kind,
            cfg: cfg.clone(),
            rng,
            fit: ForestFit::new(cfg, kind.label_names().len()),
            regressor: RegressorFit::new(super::regression::RegressionSpec::for_stream(kind), cfg),
            residual: Residual::new(cfg.score_window),
            half_space: HalfSpace::new(
                cfg.seed.wrapping_add(kind as u64),
                &detectors::half_space_features(kind),
                cfg.score_window,
                scorecard::HISTORY,
            ),
            drift: DriftWatch::new(),
            card: Scorecard::new(cfg.score_window),
            store: Persist::default(),
        }
    }

    /// Predicts the event, scores the prediction against its label, then learns from it.
    pub fn observe(&mut self, obs: &Observation) -> Verdict {
        self.observe_in(obs, 0)
    }

    /// `observe` for an event from `lane`, an ordered part of the stream (its Kafka
    /// partition): the key metric's drift test runs per lane (see `drift`).
    pub fn observe_in(&mut self, obs: &Observation, lane: u32) -> Verdict {
        let overdue = self.fit.overdue(self.card.labelled);
        self.take_fit(overdue);
        self.card.events += 1;
        let prediction = self.fit.forest().map(|f| f.predict(&obs.features));
        if let Some(p) = &prediction {
            self.card.record_confidence(p.confidence);
        }
        let anomaly = self.half_space.observe(obs, self.card.events);
        let expected = self.regress(obs);
        let mut drift = self.watch_metric(obs, lane);
        if let Some(class) = obs.label_class {
            if let Some(p) = &prediction {
                self.card.score(p.class, class, obs.zscore_flagged());
                drift = drift.or(self.watch_error(p.class != class));
            }
            self.card.labelled += 1;
            self.fit.learn(obs, class, &mut self.rng);
        }
        self.maybe_fit();
        Verdict {
            prediction,
            anomaly,
            drift,
            expected,
        }
    }

    /// The regressor's prediction, its residual judged, then its learning; returns the
    /// prediction and the actual value.
    fn regress(&mut self, obs: &Observation) -> Option<(f64, f64)> {
        let mut buf = [0.0; FEATURES];
        let x = self.regressor.spec.row(&obs.features, &mut buf);
        let y = obs.features[self.regressor.spec.target];
        let normal = regressor::is_normal(obs);
        let expected = self.regressor.predict(x, y);
        if let Some((pred, actual)) = expected {
            let residual = (actual - pred).abs();
            if residual.is_finite() {
                let at = self.card.predictions;
                self.residual.judge(residual, obs.label_class, normal, at);
                if normal {
                    self.regressor.score(pred, actual);
                }
            }
        }
        self.regressor
            .learn(x, y, normal, self.cfg.buffer, &mut self.rng);
        expected
    }

    fn watch_metric(&mut self, obs: &Observation, lane: u32) -> Option<Drift> {
        if !self.cfg.drift {
            return None;
        }
        let v = obs.features[self.regressor.spec.target];
        let d = self.drift.metric(lane, v, self.card.events)?;
        self.drifted(d);
        Some(d)
    }

    fn watch_error(&mut self, wrong: bool) -> Option<Drift> {
        if !self.cfg.drift {
            return None;
        }
        self.drift.error.update(f64::from(u8::from(wrong)))?;
        self.drifted(Drift::Error);
        Some(Drift::Error)
    }

    fn drifted(&mut self, d: Drift) {
        let events = self.card.events;
        tracing::debug!(stream = self.kind.name(), events, drift = ?d, "drift");
        self.drift.count += 1;
        self.drift.last = Some(format!(
            "{} @{} v{}",
            d.describe(self.regressor.spec.target_name),
            events,
            self.fit.version
        ));
        self.fit.refit_now = true;
        // The regressor follows a drift only where it is the stream's model (a topic without
        // labels). On a labelled stream the key metric moves with the incidents, which the
        // regressor leaves out of what it learns; normal changes more slowly, and its own
        // cadence follows that. Refitting it at every drift doubled the regressor's fits on a
        // sensor backlog and barely moved its error (docs/perf-journal.md).
        self.regressor.refit_now |= self.card.labelled == 0;
    }

    /// The features that moved the forest most toward `class` for `x`, largest first.
    pub fn explain(&self, x: &[f64], class: usize) -> Vec<Contribution> {
        self.fit
            .forest()
            .map_or_else(Vec::new, |f| f.explain(x, class))
    }

    /// Fits the forest (and the regressor) once both classes are labelled; on a topic
    /// without labels, the regressor alone, which learns what normal looks like without them.
    fn maybe_fit(&mut self) {
        if self.fit.is_fitting() {
            return;
        }
        let labelled = self.card.labelled;
        let due = if self.fit.has_both() {
            self.fit.due(&self.cfg, labelled)
        } else {
            labelled == 0 && self.regressor.due(&self.cfg)
        };
        if !due {
            return;
        }
        let job = FitJob {
            kind: self.kind,
            labelled,
            classes: self.kind.label_names().len(),
            reg: self.regressor.take_rows(&self.cfg),
            spec: self.regressor.spec,
        };
        if let Some(fitted) = self.fit.start(job, &self.cfg) {
            self.install(fitted);
        }
    }

    /// Installs a fit that has ended since the last event (between events, when none come:
    /// the end of a backlog must not leave its last model unused), and writes refitted
    /// models once the store allows: the consumer calls this between batches, so no event
    /// pays for the clock or the channel.
    pub fn poll(&mut self) {
        self.store.collect();
        if self.store.unsaved {
            self.save_when_due();
        }
        self.take_fit(false);
    }

    /// Waits for a running fit and installs it (before the last snapshot and the save).
    pub fn settle(&mut self) {
        self.take_fit(true);
    }

    fn take_fit(&mut self, wait: bool) {
        if let Some(f) = self.fit.take(wait) {
            self.install(f);
        }
    }

    fn install(&mut self, mut f: Fitted) {
        self.fit.install(&mut f);
        if let Some(r) = f.regressor.take() {
            self.regressor.install(r);
        }
        self.store.unsaved = true;
        self.save_when_due();
    }

    /// Sends the models to `path` after refits and on `save` (see `persist`).
    pub fn with_store(mut self, path: PathBuf) -> Self {
        self.store = Persist::at(path);
        self
    }

    /// Starts from saved models: they serve at once, and versions continue from theirs.
    pub fn restore(&mut self, saved: SavedModels) {
        self.fit
            .restore(saved.version, saved.training_size, saved.forest);
        self.regressor.restore(saved.regressor);
        self.half_space.trees = saved.anomaly;
    }

    /// The models as they are now, for a file.
    pub fn saved(&self) -> SavedModels {
        SavedModels {
            format: store::FORMAT,
            stream: self.kind,
            version: self.fit.version,
            training_size: self.fit.training_size,
            forest: self.fit.forest().cloned(),
            regressor: self.regressor.saved(),
            anomaly: self.half_space.trees.clone(),
        }
    }

    /// Writes the models to the store now (on exit), after the write in flight: the last
    /// write to end is the newest models.
    pub fn save(&mut self) -> Result<(), StoreError> {
        self.store.finish();
        if !self.store.enabled() {
            return Ok(());
        }
        self.store.write_now(&self.saved())
    }

    fn save_when_due(&mut self) {
        if self.store.due() && self.store.enabled() {
            let saved = self.saved();
            self.store.write(saved, self.cfg.background, self.kind);
        }
    }

    /// The last failure to save the models, in one line.
    pub fn store_error(&self) -> Option<&str> {
        self.store.error.as_deref()
    }

    /// The name of the stream's key metric (the regressor's target, watched for drift).
    pub fn target_name(&self) -> &'static str {
        self.regressor.spec.target_name
    }

    pub fn version(&self) -> u32 {
        self.fit.version
    }

    pub fn is_fitting(&self) -> bool {
        self.fit.is_fitting()
    }

    /// Why there is no model yet, or that there is one.
    pub fn status(&self) -> String {
        if let Some(e) = &self.fit.last_error {
            return format!("error: {e}");
        }
        let labelled = self.card.labelled;
        match (self.fit.forest().is_some(), self.fit.is_fitting()) {
            (true, true) => "ready, refitting".into(),
            (true, false) => "ready".into(),
            (false, true) => "fitting the first model".into(),
            (false, false) if labelled == 0 => "no labelled events yet".into(),
            (false, false) if !self.fit.has_both() => {
                format!("no model: only one class seen in {labelled} labelled events")
            }
            (false, false) => format!("warming up: {labelled}/{} labelled events", self.cfg.warmup),
        }
    }

    pub fn snapshot(&self) -> ModelSnapshot {
        let names = self.kind.label_names();
        let (card, hs) = (&self.card, &self.half_space);
        ModelSnapshot {
            stream: self.kind,
            status: self.status(),
            version: self.fit.version,
            training_size: self.fit.training_size,
            fit_ms: self.fit.fit_ms,
            fitting: self.fit.is_fitting(),
            trees: self.fit.forest().map_or(0, |f| f.trees()),
            confidence_mean: card.confidence.mean(),
            last_confidence: card.last_confidence,
            confidence_history: card.confidence_history.iter().copied().collect(),
            forest: card.forest.binary(),
            zscore: card.zscore.binary(),
            residual: self.residual.scores.binary(),
            residual_flags: self.residual.flags,
            anomaly: hs.scores.binary(),
            anomaly_flags: hs.flags,
            anomaly_last: hs.last,
            anomaly_history: hs.history.iter().copied().collect(),
            drifts: self.drift.count,
            last_drift: self.drift.last.clone(),
            labelled: card.labelled,
            classes: names.to_vec(),
            confusion: card.forest.confusion(names.len()),
            regression: self.regressor.snapshot(),
            predictions: card.predictions,
        }
    }
}

#[cfg(test)]
mod tests;
