//! What a stream's models are worth so far, counted as the events pass: the forest's and
//! the z-score rule's prequential scores on the same labels, the forest's confidence and
//! its history, and the event counts; and the model card a screen or report shows.

use std::collections::VecDeque;

use serde::Serialize;

use crate::analytics::rolling::Window;
use crate::ml::metrics::{BinaryScores, Prequential};
use crate::streams::StreamKind;

/// Samples kept for the confidence and anomaly-score sparklines.
pub(super) const HISTORY: usize = 240;

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

/// The forest's and the z-score rule's scores, the forest's confidence, the counts.
pub(super) struct Scorecard {
    pub(super) forest: Prequential,
    pub(super) zscore: Prequential,
    pub(super) confidence: Window,
    pub(super) confidence_history: VecDeque<f64>,
    pub(super) last_confidence: Option<f64>,
    /// Forest predictions, events with a label, events.
    pub(super) predictions: u64,
    pub(super) labelled: u64,
    pub(super) events: u64,
}

impl Scorecard {
    pub(super) fn new(score_window: usize) -> Self {
        Self {
            forest: Prequential::new(score_window),
            zscore: Prequential::new(score_window),
            confidence: Window::with_count(500),
            confidence_history: VecDeque::with_capacity(HISTORY),
            last_confidence: None,
            predictions: 0,
            labelled: 0,
            events: 0,
        }
    }

    pub(super) fn record_confidence(&mut self, confidence: f64) {
        self.predictions += 1;
        self.last_confidence = Some(confidence);
        self.confidence.push(confidence, self.predictions as i64);
        if self.predictions.is_multiple_of(50) {
            push_bounded(&mut self.confidence_history, self.confidence.mean());
        }
    }

    /// Scores the forest's call and the z-score rule's on a labelled event.
    pub(super) fn score(&mut self, predicted: usize, class: usize, zscore_flagged: bool) {
        self.forest.record(predicted, class);
        self.zscore
            .record(usize::from(zscore_flagged), usize::from(class != 0));
    }
}

pub(super) fn push_bounded(history: &mut VecDeque<f64>, v: f64) {
    if history.len() == HISTORY {
        history.pop_front();
    }
    history.push_back(v);
}
