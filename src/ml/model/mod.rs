//! The online lifecycle of one stream's models: a bounded, class-balanced training buffer
//! (reservoir sampling per class); the first fit after a warm-up with both normal and
//! incident events present; a refit every N labelled events, sooner when drift is
//! detected. Refits are counted in events, never in seconds, so a backlog read at full speed
//! is learnt from like the same events arriving live.
//!
//! In the background mode (live use) a fit runs on its own thread while the old model
//! serves, for at most 400 labelled events (1/64 of those seen, on a long stream); the event
//! after that waits for the fit. So model staleness is bounded in events, not seconds: a
//! backlog read at full speed gets models as fresh as a slow stream does, and pays for them
//! in throughput when the data outruns the fits.
//! Inline, fits run on the caller's thread at exact event counts: a seeded run repeats.
//!
//! Every event is first predicted, then learnt from (prequential), for the forest and, side
//! by side, for the z-score rule and the label-free Half-Space Trees on the same labels.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::{Duration, Instant};

use ndarray::{Array1, Array2};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use serde::Serialize;

use super::MlError;
use super::drift::{Drift, DriftWatch};
use super::forest::{Contribution, FlatForest, ForestParams, Prediction};
use super::grow;
use super::hst::{self, HalfSpaceTrees};
use super::metrics::{BinaryScores, Prequential, RegressionScores};
use super::regression::{self, RegressionChoice, RegressionSpec, Regressor};
use super::reservoir::{ClassReservoir, Row};
use super::store::{self, SavedModels, SavedRegressor, StoreError};
use crate::analytics::rolling::Window;
use crate::analytics::{FEATURES, Observation};
use crate::streams::StreamKind;

/// Model settings (the binary maps its config file onto this).
#[derive(Debug, Clone, PartialEq)]
pub struct MlConfig {
    pub trees: usize,
    pub max_depth: usize,
    pub feature_fraction: f64,
    pub buffer: usize,
    pub warmup: usize,
    pub refit_every: usize,
    pub seed: u64,
    /// Fit on a background thread (live use). When false, fits run inline at fixed event
    /// counts, which makes predictions reproducible for a seed (tests and benchmarks).
    pub background: bool,
    /// Events in the sliding window of the prequential scores.
    pub score_window: usize,
    /// Refit when the forest's error or the stream's key metric drifts.
    pub drift: bool,
}

impl Default for MlConfig {
    fn default() -> Self {
        Self {
            trees: 32,
            max_depth: 10,
            feature_fraction: 0.5,
            buffer: 4000,
            warmup: 500,
            refit_every: 3000,
            seed: 42,
            background: true,
            score_window: 20_000,
            drift: true,
        }
    }
}

/// What a fit hands back.
struct Fitted {
    forest: Option<FlatForest>,
    regressor: Option<(Regressor, RegressionChoice)>,
    rows: usize,
    fit_ms: f64,
    error: Option<String>,
}

/// The model card a screen or report shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSnapshot {
    pub stream: StreamKind,
    pub status: String,
    pub version: u32,
    pub training_size: usize,
    pub fit_ms: f64,
    pub fitting: bool,
    pub trees: usize,
    pub confidence_mean: f64,
    pub last_confidence: Option<f64>,
    #[serde(skip)]
    pub confidence_history: Vec<f64>,
    pub forest: BinaryScores,
    pub zscore: BinaryScores,
    /// The regressor's residual as a detector: |actual − predicted| above
    /// `RESIDUAL_K` × the mean absolute residual of normal events.
    pub residual: BinaryScores,
    pub residual_flags: u64,
    /// The label-free detector (Half-Space Trees): its score rule against the labels, how
    /// often it fired, its last score and the mean of its recent scores.
    pub anomaly: BinaryScores,
    pub anomaly_flags: u64,
    pub anomaly_last: Option<f64>,
    #[serde(skip)]
    pub anomaly_history: Vec<f64>,
    /// Drift detections so far and the latest, in words.
    pub drifts: u64,
    pub last_drift: Option<String>,
    /// Events with a ground-truth label seen so far: without them there is no forest and
    /// no score.
    pub labelled: u64,
    pub classes: Vec<&'static str>,
    pub confusion: Vec<Vec<u64>>,
    pub regression: Option<RegressionSnapshot>,
    pub predictions: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegressionSnapshot {
    pub target: &'static str,
    pub model: &'static str,
    pub mae: f64,
    pub r2: f64,
    pub holdout_mae_linear: f64,
    pub holdout_mae_forest: f64,
    pub last_prediction: f64,
    pub last_band: f64,
    /// Regressor fits started so far.
    pub fits: u32,
}

/// What the models made of one event.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Verdict {
    /// The forest's call, once there is a forest.
    pub prediction: Option<Prediction>,
    /// The Half-Space Trees' score in [0, 1], once they have a reference window.
    pub anomaly: Option<f64>,
    /// A drift this event completed (it brings the next refit forward).
    pub drift: Option<Drift>,
}

impl Verdict {
    /// Whether the label-free detector's own rule fires.
    pub fn anomalous(&self) -> bool {
        self.anomaly.is_some_and(|s| s > hst::ALERT_SCORE)
    }
}

pub struct StreamModel {
    kind: StreamKind,
    cfg: MlConfig,
    rng: ChaCha8Rng,
    buffer: ClassReservoir,
    reg_rows: Vec<(Vec<f64>, f64)>,
    reg_seen: u64,
    spec: RegressionSpec,
    forest: Option<Arc<FlatForest>>,
    regressor: Option<Arc<(Regressor, RegressionChoice)>>,
    pending: Option<Receiver<Fitted>>,
    version: u32,
    training_size: usize,
    fit_ms: f64,
    since_fit: usize,
    /// A drift asked for a refit that has not started yet: the forest's, and the
    /// regressor's (see `drifted`).
    refit_now: bool,
    reg_refit_now: bool,
    /// Regressor fits started and `reg_seen` when the last started (the regressor keeps its
    /// own cadence, in normal events, beside the forest's).
    reg_fits: u32,
    reg_fitted_at: u64,
    last_error: Option<String>,
    scores: Prequential,
    zscores: Prequential,
    residual_scores: Prequential,
    residual_scale: Window,
    residual_flags: u64,
    reg_scores: RegressionScores,
    anomaly: HalfSpaceTrees,
    anomaly_scores: Prequential,
    anomaly_flags: u64,
    anomaly_last: Option<f64>,
    anomaly_mean: Window,
    anomaly_history: VecDeque<f64>,
    drift: DriftWatch,
    confidence: Window,
    confidence_history: VecDeque<f64>,
    last_conf: Option<f64>,
    last_reg: (f64, f64),
    predictions: u64,
    labelled: u64,
    events: u64,
    /// Where the models are saved, the write in flight, when the last write started,
    /// whether a refit since then is not written yet, and the last failure.
    store: Option<PathBuf>,
    saving: Option<Receiver<Result<(), StoreError>>>,
    saved_at: Option<Instant>,
    unsaved: bool,
    store_error: Option<String>,
}

/// Model writes after refits start at most this often; the last models are written on exit
/// (`save`). A backlog refits every few milliseconds, and a write of each (~0.8 MB of JSON
/// for a 50-tree forest, ~0.5 MB at 32) was 6 % of a short backlog's CPU, for models the next refit
/// replaced before the write ended.
const SAVE_EVERY: Duration = Duration::from_secs(1);

/// Labelled events a model serves while its successor fits, at most (see `collect_fit`)...
const STALE_EVENTS: usize = 400;

/// ... or 1/this of the labelled events seen, once that is more (see `stale_limit`).
const STALE_SHARE: u64 = 64;

/// How many labelled events a model may serve while its successor fits, once `labelled`
/// have been seen: 400 for the first 25,600, then 1/64 of them. A long stream refits after
/// a sixteenth (on a drift) to a half of what it had seen; being late by a sixty-fourth of
/// it changes little in what the serving model knows, and a backlog read at full speed no
/// longer waits for every fit (a million-event run: 125k → 141k events/s, medians of three).
pub(super) fn stale_limit(labelled: u64) -> usize {
    STALE_EVENTS.max(usize::try_from(labelled / STALE_SHARE).unwrap_or(usize::MAX))
}

/// A mature model is refitted once `refit_every` labelled events, and 1/this of all those
/// seen, came after its fit: the stream has grown by half since. The training buffer
/// samples the whole stream, so a third of its rows are then new. At 1/4 (before), a
/// quarter were, and a long stream was fitted half as often again for nearly the same
/// model: over six seeds the forests' F1 was the same (mean of the three streams 0.854
/// both), and a million-event backlog read 14 % faster, the fits being the cost.
const MATURE_SHARE: u64 = 3;

/// A drift brings the next refit forward to when 1/this of the labelled events seen have
/// come since the last fit (at once when they have): the buffer samples the whole stream,
/// so about that share of its rows is then from after the drift. Sensors drift as one of
/// their incident kinds, several times per 20,000 readings: a refit at every one of them
/// was most of a long backlog's CPU, and learnt from a handful of new rows each.
const DRIFT_SHARE: usize = 16;

/// A residual this many times the typical one flags an event.
pub const RESIDUAL_K: f64 = 4.0;

/// Confidence samples kept for the sparkline.
const CONFIDENCE_HISTORY: usize = 240;

impl StreamModel {
    pub fn new(kind: StreamKind, cfg: &MlConfig) -> Self {
        let classes = class_names(kind).len();
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        rng.set_stream(100 + kind as u64);
        Self {
            kind,
            cfg: cfg.clone(),
            rng,
            buffer: ClassReservoir::new(cfg.buffer, classes),
            reg_rows: Vec::new(),
            reg_seen: 0,
            spec: RegressionSpec::for_stream(kind),
            forest: None,
            regressor: None,
            pending: None,
            version: 0,
            training_size: 0,
            fit_ms: 0.0,
            since_fit: 0,
            refit_now: false,
            reg_refit_now: false,
            reg_fits: 0,
            reg_fitted_at: 0,
            last_error: None,
            scores: Prequential::new(cfg.score_window),
            zscores: Prequential::new(cfg.score_window),
            residual_scores: Prequential::new(cfg.score_window),
            residual_scale: Window::with_count(1000),
            residual_flags: 0,
            reg_scores: RegressionScores::new(cfg.score_window),
            anomaly: HalfSpaceTrees::new(cfg.seed.wrapping_add(kind as u64)),
            anomaly_scores: Prequential::new(cfg.score_window),
            anomaly_flags: 0,
            anomaly_last: None,
            anomaly_mean: Window::with_count(500),
            anomaly_history: VecDeque::with_capacity(CONFIDENCE_HISTORY),
            drift: DriftWatch::new(),
            confidence: Window::with_count(500),
            confidence_history: VecDeque::with_capacity(CONFIDENCE_HISTORY),
            last_conf: None,
            last_reg: (0.0, 0.0),
            predictions: 0,
            labelled: 0,
            events: 0,
            store: None,
            saving: None,
            saved_at: None,
            unsaved: false,
            store_error: None,
        }
    }

    /// Predicts the event, scores the prediction against its label, then learns from it.
    pub fn observe(&mut self, obs: &Observation) -> Verdict {
        self.observe_in(obs, 0)
    }

    /// `observe` for an event from `lane`, an ordered part of the stream (its Kafka
    /// partition): the key metric's drift test runs per lane (see `drift`).
    pub fn observe_in(&mut self, obs: &Observation, lane: u32) -> Verdict {
        self.collect_fit();
        self.events += 1;
        let prediction = self.forest.as_ref().map(|f| f.predict(&obs.features));
        if let Some(p) = &prediction {
            self.record_confidence(p.confidence);
        }
        let anomaly = self.detect(obs);
        self.regress(obs);
        let mut drift = self.watch_metric(obs, lane);
        if let Some(class) = obs.label_class {
            if let Some(p) = &prediction {
                self.scores.record(p.class, class);
                self.zscores
                    .record(usize::from(obs.zscore_flagged()), usize::from(class != 0));
                drift = drift.or(self.watch_error(p.class != class));
            }
            self.learn(obs, class);
        }
        self.maybe_fit();
        Verdict {
            prediction,
            anomaly,
            drift,
        }
    }

    fn record_confidence(&mut self, confidence: f64) {
        self.predictions += 1;
        self.last_conf = Some(confidence);
        self.confidence.push(confidence, self.predictions as i64);
        if self.predictions.is_multiple_of(50) {
            push_bounded(&mut self.confidence_history, self.confidence.mean());
        }
    }

    /// The Half-Space Trees' score, scored against the label when there is one.
    fn detect(&mut self, obs: &Observation) -> Option<f64> {
        let score = self.anomaly.score_and_learn(&obs.features)?;
        let flagged = score > hst::ALERT_SCORE;
        self.anomaly_flags += u64::from(flagged);
        self.anomaly_last = Some(score);
        self.anomaly_mean.push(score, self.events as i64);
        if self.events.is_multiple_of(50) {
            push_bounded(&mut self.anomaly_history, self.anomaly_mean.mean());
        }
        if let Some(class) = obs.label_class {
            self.anomaly_scores
                .record(usize::from(flagged), usize::from(class != 0));
        }
        Some(score)
    }

    fn watch_metric(&mut self, obs: &Observation, lane: u32) -> Option<Drift> {
        if !self.cfg.drift {
            return None;
        }
        let d = self
            .drift
            .metric(lane, obs.features[self.spec.target], self.events)?;
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
        tracing::debug!(stream = self.kind.name(), events = self.events, drift = ?d, "drift");
        self.drift.count += 1;
        self.drift.last = Some(format!(
            "{} @{} v{}",
            d.describe(self.spec.target_name),
            self.events,
            self.version
        ));
        self.refit_now = true;
        // The regressor follows a drift only where it is the stream's model (a topic without
        // labels). On a labelled stream the key metric moves with the incidents, which the
        // regressor leaves out of what it learns; normal changes more slowly, and its own
        // cadence follows that. Refitting it at every drift made about twice the regressor
        // fits on a sensor backlog, and moved its error by a hundredth.
        self.reg_refit_now |= self.labelled == 0;
    }

    /// The features that moved the forest most toward `class` for `x`, largest first.
    pub fn explain(&self, x: &[f64], class: usize) -> Vec<Contribution> {
        self.forest
            .as_ref()
            .map_or_else(Vec::new, |f| f.explain(x, class))
    }

    fn regress(&mut self, obs: &Observation) {
        let mut buf = [0.0; FEATURES];
        let x = self.spec.row(&obs.features, &mut buf);
        let y = obs.features[self.spec.target];
        if let Some(r) = &self.regressor {
            let (pred, band) = r.0.predict(x);
            let (pred, actual) = (self.spec.natural(pred), self.spec.natural(y));
            self.last_reg = (pred, band);
            let residual = (actual - pred).abs();
            if residual.is_finite() {
                let scale = self.residual_scale.mean();
                let flagged = self.residual_scale.len() >= 50 && residual > RESIDUAL_K * scale;
                self.residual_flags += u64::from(flagged);
                if let Some(class) = obs.label_class {
                    self.residual_scores
                        .record(usize::from(flagged), usize::from(class != 0));
                }
                if obs.label_class.is_none_or(|c| c == 0) {
                    self.reg_scores.record(pred, actual);
                    self.residual_scale.push(residual, self.predictions as i64);
                }
            }
        }
        // The regressor learns what normal looks like: labelled incidents stay out, and so do
        // rows with a value a message left out.
        let complete = y.is_finite() && x.iter().all(|v| v.is_finite());
        if obs.label_class.is_none_or(|c| c == 0) && complete {
            self.reg_seen += 1;
            let cap = self.cfg.buffer;
            if self.reg_rows.len() < cap {
                self.reg_rows.push((x.to_vec(), y));
            } else {
                let j = self.rng.gen_range(0..self.reg_seen) as usize;
                if j < cap {
                    self.reg_rows[j] = (x.to_vec(), y);
                }
            }
        }
    }

    fn learn(&mut self, obs: &Observation, class: usize) {
        self.labelled += 1;
        // A row with a value a message left out is scored but not learnt from.
        if !obs.features.iter().all(|v| v.is_finite()) {
            return;
        }
        self.since_fit += 1;
        self.buffer.insert(
            Row {
                x: obs.features,
                class,
            },
            &mut self.rng,
        );
    }

    /// Fits the forest (and the regressor) once both classes are labelled; on a topic
    /// without labels, the regressor alone, which learns what normal looks like without them.
    fn maybe_fit(&mut self) {
        if self.pending.is_some() {
            return;
        }
        let due = if self.buffer.has_both() {
            self.forest_due()
        } else {
            self.labelled == 0 && self.regression_due()
        };
        if due {
            self.start_fit();
        }
    }

    fn forest_due(&self) -> bool {
        if self.version == 0 {
            self.labelled as usize >= self.cfg.warmup
        } else {
            let interval = self.refit_interval();
            let after_drift = (self.labelled as usize / DRIFT_SHARE).clamp(1, interval);
            self.since_fit >= interval || (self.refit_now && self.since_fit >= after_drift)
        }
    }

    /// Labelled events between refits: while the model is young each refit waits as many
    /// events as the last one was trained on (500, 1,000, 2,000, …), so the early models,
    /// fitted on a handful of incidents, are soon replaced; then every `refit_every`.
    fn refit_interval(&self) -> usize {
        if self.young() {
            self.cfg
                .refit_every
                .min(self.training_size.max(self.cfg.warmup))
        } else {
            // A third of what was seen, once that is more: a long stream is not refitted
            // every few thousand events for ever (drift still brings a refit forward).
            self.cfg
                .refit_every
                .max((self.labelled / MATURE_SHARE) as usize)
        }
    }

    /// A model trained on less than half a buffer of rows.
    fn young(&self) -> bool {
        self.training_size < self.cfg.buffer / 2
    }

    /// The forest's warm-up and refit rules, counted in the normal events it learns from:
    /// while young, each refit waits as many events as the last one had; then every
    /// `refit_every`, or once a third of the normal events seen came since (its
    /// buffer samples the whole stream, as the forest's does); on drift at once where it is
    /// the stream's only model (see `drifted`).
    fn regression_due(&self) -> bool {
        let fresh = self.reg_seen - self.reg_fitted_at;
        if self.reg_fits == 0 {
            return self.reg_rows.len() >= self.cfg.warmup;
        }
        let interval = (self.cfg.refit_every as u64)
            .min(self.reg_fitted_at.max(self.cfg.warmup as u64))
            .max(self.reg_seen / MATURE_SHARE);
        fresh >= interval || (self.reg_refit_now && fresh > 0)
    }

    fn start_fit(&mut self) {
        let (x, y) = self.buffer.matrix();
        let params = ForestParams {
            trees: self.cfg.trees,
            max_depth: self.cfg.max_depth,
            feature_fraction: self.cfg.feature_fraction,
            seed: self.cfg.seed.wrapping_add(u64::from(self.version)),
        };
        // The regressor learns what normal looks like, which changes more slowly than which
        // incidents the buffer holds: it is refitted on its own cadence (every `refit_every`
        // normal events, and on drift), not with every forest, whose fit it would double.
        let reg = self
            .regression_due()
            .then(|| reg_matrix(&self.reg_rows))
            .flatten();
        if reg.is_some() {
            self.reg_refit_now = false;
            self.reg_fits += 1;
            self.reg_fitted_at = self.reg_seen;
        }
        let (spec, classes) = (self.spec, class_names(self.kind).len());
        tracing::debug!(
            stream = self.kind.name(),
            labelled = self.labelled,
            since_fit = self.since_fit,
            drift = self.refit_now,
            regression = reg.is_some(),
            "fit"
        );
        self.since_fit = 0;
        self.refit_now = false;
        let job = move || fit_all(&x, &y, &params, classes, reg, &spec);
        if self.cfg.background {
            let (tx, rx) = mpsc::channel();
            let spawned = std::thread::Builder::new()
                .name(format!("fit-{}", self.kind.name()))
                .spawn(move || {
                    yield_to_the_consumer();
                    let _ = tx.send(job());
                });
            match spawned {
                Ok(_) => self.pending = Some(rx),
                Err(e) => self.last_error = Some(format!("cannot start a fit thread: {e}")),
            }
        } else {
            self.install(job());
        }
    }

    fn collect_fit(&mut self) {
        // Staleness is bounded in events, so a backlog read at full speed is judged by models
        // as fresh as when events arrive slowly: a model serves at most `stale_limit` labelled
        // events while its successor fits (at a few thousand events per second the fit is
        // done before that; a backlog read at full speed waits for it). The first model too:
        // no model is the stalest of all, and a short backlog read before the first fit's
        // thread got a core was otherwise judged by none.
        let overdue = self.since_fit >= stale_limit(self.labelled);
        self.take_fit(overdue);
    }

    /// Installs a fit that has ended since the last event (between events, when none come:
    /// the end of a backlog must not leave its last model unused), and writes refitted
    /// models once `SAVE_EVERY` allows: the consumer calls this between batches, so no
    /// event pays for the clock or the channel.
    pub fn poll(&mut self) {
        self.collect_save();
        if self.unsaved {
            self.save_when_due();
        }
        self.take_fit(false);
    }

    /// Waits for a running fit and installs it (before the last snapshot and the save).
    pub fn settle(&mut self) {
        self.take_fit(true);
    }

    fn take_fit(&mut self, wait: bool) {
        let Some(rx) = &self.pending else { return };
        let got = if wait {
            rx.recv().map_err(|_| TryRecvError::Disconnected)
        } else {
            rx.try_recv()
        };
        match got {
            Ok(f) => {
                self.pending = None;
                self.install(f);
            }
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => {
                self.pending = None;
                self.last_error = Some("a fit thread died".into());
            }
        }
    }

    fn install(&mut self, f: Fitted) {
        self.last_error = f.error;
        if let Some(forest) = f.forest {
            self.forest = Some(Arc::new(forest));
            self.version += 1;
            self.training_size = f.rows;
            self.fit_ms = f.fit_ms;
        }
        if let Some(r) = f.regressor {
            self.regressor = Some(Arc::new(r));
        }
        self.unsaved = true;
        self.save_when_due();
    }

    /// Sends the models to `path` after refits (see `SAVE_EVERY`) and on `save` (see `store`).
    pub fn with_store(mut self, path: PathBuf) -> Self {
        self.store = Some(path);
        self
    }

    /// Starts from saved models: they serve at once, and versions continue from theirs.
    pub fn restore(&mut self, saved: SavedModels) {
        self.version = saved.version;
        self.training_size = saved.training_size;
        self.forest = saved.forest.map(Arc::new);
        self.regressor = saved.regressor.map(|r| {
            let choice = RegressionChoice {
                model: r.model.name(),
                holdout_mae_linear: r.holdout_mae_linear,
                holdout_mae_forest: r.holdout_mae_forest,
            };
            Arc::new((r.model, choice))
        });
        self.reg_fits = u32::from(self.regressor.is_some());
        self.anomaly = saved.anomaly;
    }

    /// The models as they are now, for a file.
    pub fn saved(&self) -> SavedModels {
        SavedModels {
            format: store::FORMAT,
            stream: self.kind,
            version: self.version,
            training_size: self.training_size,
            forest: self.forest.as_deref().cloned(),
            regressor: self.regressor.as_deref().map(|(m, c)| SavedRegressor {
                model: m.clone(),
                holdout_mae_linear: c.holdout_mae_linear,
                holdout_mae_forest: c.holdout_mae_forest,
            }),
            anomaly: self.anomaly.clone(),
        }
    }

    /// Writes the models to the store now (on exit), after the write in flight: the last
    /// write to end is the newest models.
    pub fn save(&mut self) -> Result<(), StoreError> {
        if let Some(rx) = self.saving.take() {
            let _ = rx.recv();
        }
        self.unsaved = false;
        match &self.store {
            Some(path) => self.saved().save(path),
            None => Ok(()),
        }
    }

    /// Writes refitted models once the last write has ended and `SAVE_EVERY` has passed
    /// since it started.
    fn save_when_due(&mut self) {
        let recent = self.saved_at.is_some_and(|t| t.elapsed() < SAVE_EVERY);
        if self.saving.is_some() || recent {
            return;
        }
        self.unsaved = false;
        self.saved_at = Some(Instant::now());
        self.save_in_background();
    }

    /// After a refit: written on a thread of its own when fitting in the background (the
    /// consumer only copies the models), inline otherwise.
    fn save_in_background(&mut self) {
        let Some(path) = self.store.clone() else {
            return;
        };
        let saved = self.saved();
        if !self.cfg.background {
            self.store_error = saved.save(&path).err().map(|e| e.to_string());
            return;
        }
        let (tx, rx) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name(format!("save-{}", self.kind.name()))
            .spawn(move || {
                let _ = tx.send(saved.save(&path));
            });
        self.saving = spawned.is_ok().then_some(rx);
    }

    fn collect_save(&mut self) {
        let Some(rx) = &self.saving else { return };
        match rx.try_recv() {
            Ok(r) => {
                self.store_error = r.err().map(|e| e.to_string());
                self.saving = None;
            }
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => self.saving = None,
        }
    }

    /// The last failure to save the models, in one line.
    pub fn store_error(&self) -> Option<&str> {
        self.store_error.as_deref()
    }

    /// The name of the stream's key metric (the regressor's target, watched for drift).
    pub fn target_name(&self) -> &'static str {
        self.spec.target_name
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    pub fn is_fitting(&self) -> bool {
        self.pending.is_some()
    }

    /// Why there is no model yet, or that there is one.
    pub fn status(&self) -> String {
        if let Some(e) = &self.last_error {
            return format!("error: {e}");
        }
        match (self.forest.is_some(), self.pending.is_some()) {
            (true, true) => "ready, refitting".into(),
            (true, false) => "ready".into(),
            (false, true) => "fitting the first model".into(),
            (false, false) if self.labelled == 0 => "no labelled events yet".into(),
            (false, false) if !self.buffer.has_both() => {
                format!(
                    "no model: only one class seen in {} labelled events",
                    self.labelled
                )
            }
            (false, false) => format!(
                "warming up: {}/{} labelled events",
                self.labelled, self.cfg.warmup
            ),
        }
    }

    pub fn snapshot(&self) -> ModelSnapshot {
        let names = class_names(self.kind);
        ModelSnapshot {
            stream: self.kind,
            status: self.status(),
            version: self.version,
            training_size: self.training_size,
            fit_ms: self.fit_ms,
            fitting: self.pending.is_some(),
            trees: self.forest.as_ref().map_or(0, |f| f.trees()),
            confidence_mean: self.confidence.mean(),
            last_confidence: self.last_conf,
            confidence_history: self.confidence_history.iter().copied().collect(),
            forest: self.scores.binary(),
            zscore: self.zscores.binary(),
            residual: self.residual_scores.binary(),
            residual_flags: self.residual_flags,
            anomaly: self.anomaly_scores.binary(),
            anomaly_flags: self.anomaly_flags,
            anomaly_last: self.anomaly_last,
            anomaly_history: self.anomaly_history.iter().copied().collect(),
            drifts: self.drift.count,
            last_drift: self.drift.last.clone(),
            labelled: self.labelled,
            classes: names.to_vec(),
            confusion: self.scores.confusion(names.len()),
            regression: self.regressor.as_ref().map(|r| {
                let (mae, r2) = self.reg_scores.scores();
                RegressionSnapshot {
                    target: self.spec.target_name,
                    model: r.0.name(),
                    mae,
                    r2,
                    holdout_mae_linear: r.1.holdout_mae_linear,
                    holdout_mae_forest: r.1.holdout_mae_forest,
                    last_prediction: self.last_reg.0,
                    last_band: self.last_reg.1,
                    fits: self.reg_fits,
                }
            }),
            predictions: self.predictions,
        }
    }
}

/// Lowers the calling thread's priority (and that of the threads it starts: the fit's tree
/// growers), so that a background fit takes what the consumer leaves of the cores instead
/// of delaying events. Nice 19, the lowest: three streams fitting at once run nine such
/// threads, which at nice 10 weighed together about as much as the consumer's thread.
/// Linux only; elsewhere fits run as they are.
fn yield_to_the_consumer() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on the calling thread's own id; failure changes nothing.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 19);
    }
}

fn push_bounded(history: &mut VecDeque<f64>, v: f64) {
    if history.len() == CONFIDENCE_HISTORY {
        history.pop_front();
    }
    history.push_back(v);
}

fn reg_matrix(rows: &[(Vec<f64>, f64)]) -> Option<(Array2<f64>, Array1<f64>)> {
    let d = rows.first()?.0.len();
    let x = Array2::from_shape_fn((rows.len(), d), |(i, j)| rows[i].0[j]);
    let y = rows.iter().map(|r| r.1).collect();
    Some((x, y))
}

/// Fits the forest and, beside it on another thread, the regressor.
fn fit_all(
    x: &Array2<f64>,
    y: &Array1<usize>,
    params: &ForestParams,
    classes: usize,
    reg: Option<(Array2<f64>, Array1<f64>)>,
    spec: &RegressionSpec,
) -> Fitted {
    let start = Instant::now();
    let (forest, regressor) = std::thread::scope(|scope| {
        let regressor =
            scope.spawn(|| reg.map(|(rx, ry)| regression::fit_best(&rx, &ry, spec, params.seed)));
        // Without labelled rows (a topic without labels) there is no forest to fit.
        let forest = (!y.is_empty()).then(|| grow::fit(x, y, params, classes));
        let regressor = regressor
            .join()
            .unwrap_or_else(|_| Some(Err(MlError::Fit("the regression thread failed".into()))));
        (forest, regressor)
    });
    let fit_ms = start.elapsed().as_secs_f64() * 1000.0;
    let mut error = None;
    let forest = forest.and_then(|f| f.map_err(|e| error = Some(e.to_string())).ok());
    let regressor = match regressor {
        Some(Ok(r)) => Some(r),
        Some(Err(MlError::Data(_))) | None => None,
        Some(Err(e)) => {
            error = Some(e.to_string());
            None
        }
    };
    Fitted {
        forest,
        regressor,
        rows: x.nrows(),
        fit_ms,
        error,
    }
}

/// The class names of a stream's labels, normal first.
pub fn class_names(kind: StreamKind) -> &'static [&'static str] {
    match kind {
        StreamKind::Sensor => &["normal", "spike", "drift", "stuck", "dropout"],
        StreamKind::Transaction => &[
            "normal",
            "large_amount",
            "velocity_fraud",
            "location_fraud",
            "odd_hours_fraud",
            "card_testing",
        ],
        StreamKind::Log => &["normal", "error_burst", "latency_degradation", "5xx_storm"],
    }
}
