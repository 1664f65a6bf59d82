//! Prequential evaluation (predict first, then learn) over a sliding window: accuracy,
//! precision, recall, F1 and a confusion matrix for classifiers; MAE and R² for regressors.

use std::collections::VecDeque;

use serde::Serialize;

use super::forest::MAX_CLASSES;

/// Binary scores (incident vs normal) of one detector over the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct BinaryScores {
    pub n: u64,
    pub tp: u64,
    pub fp: u64,
    #[serde(rename = "fn")]
    pub fn_: u64,
    pub tn: u64,
    pub accuracy: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl BinaryScores {
    fn from_counts(tp: u64, fp: u64, fn_: u64, tn: u64) -> Self {
        let div = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let (precision, recall) = (div(tp, tp + fp), div(tp, tp + fn_));
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        let n = tp + fp + fn_ + tn;
        Self {
            n,
            tp,
            fp,
            fn_,
            tn,
            accuracy: div(tp + tn, n),
            precision,
            recall,
            f1,
        }
    }
}

/// Sliding-window confusion of predicted vs true class.
#[derive(Debug, Clone)]
pub struct Prequential {
    cap: usize,
    pairs: VecDeque<(u8, u8)>,
    matrix: [[u64; MAX_CLASSES]; MAX_CLASSES],
}

impl Prequential {
    pub fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            pairs: VecDeque::new(),
            matrix: [[0; MAX_CLASSES]; MAX_CLASSES],
        }
    }

    /// Records a prediction against the truth (class 0 = normal).
    pub fn record(&mut self, predicted: usize, truth: usize) {
        let (p, t) = (
            predicted.min(MAX_CLASSES - 1) as u8,
            truth.min(MAX_CLASSES - 1) as u8,
        );
        self.pairs.push_back((p, t));
        self.matrix[t as usize][p as usize] += 1;
        if self.pairs.len() > self.cap
            && let Some((op, ot)) = self.pairs.pop_front()
        {
            self.matrix[ot as usize][op as usize] -= 1;
        }
    }

    /// Incident-vs-normal scores over the window.
    pub fn binary(&self) -> BinaryScores {
        let (mut tp, mut fp, mut fn_, mut tn) = (0, 0, 0, 0);
        for (t, row) in self.matrix.iter().enumerate() {
            for (p, &n) in row.iter().enumerate() {
                match (p != 0, t != 0) {
                    (true, true) => tp += n,
                    (true, false) => fp += n,
                    (false, true) => fn_ += n,
                    (false, false) => tn += n,
                }
            }
        }
        BinaryScores::from_counts(tp, fp, fn_, tn)
    }

    /// Rows: true class; columns: predicted class; first `classes` of each.
    pub fn confusion(&self, classes: usize) -> Vec<Vec<u64>> {
        let k = classes.min(MAX_CLASSES);
        self.matrix[..k].iter().map(|r| r[..k].to_vec()).collect()
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// Sliding-window MAE and R² of a regressor.
#[derive(Debug, Clone)]
pub struct RegressionScores {
    cap: usize,
    pairs: VecDeque<(f64, f64)>,
}

impl RegressionScores {
    pub fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(2),
            pairs: VecDeque::new(),
        }
    }

    pub fn record(&mut self, predicted: f64, truth: f64) {
        if !(predicted.is_finite() && truth.is_finite()) {
            return;
        }
        self.pairs.push_back((predicted, truth));
        if self.pairs.len() > self.cap {
            self.pairs.pop_front();
        }
    }

    /// (MAE, R²) over the window; computed on demand, at snapshot rate.
    pub fn scores(&self) -> (f64, f64) {
        let n = self.pairs.len() as f64;
        if n < 2.0 {
            return (0.0, 0.0);
        }
        let mae = self.pairs.iter().map(|(p, t)| (p - t).abs()).sum::<f64>() / n;
        let mean = self.pairs.iter().map(|(_, t)| t).sum::<f64>() / n;
        let ss_tot: f64 = self.pairs.iter().map(|(_, t)| (t - mean).powi(2)).sum();
        let ss_res: f64 = self.pairs.iter().map(|(p, t)| (t - p).powi(2)).sum();
        (
            mae,
            if ss_tot > 0.0 {
                1.0 - ss_res / ss_tot
            } else {
                0.0
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_scores_from_the_window() {
        let mut p = Prequential::new(4);
        p.record(1, 1); // tp
        p.record(0, 2); // fn
        p.record(3, 0); // fp
        p.record(0, 0); // tn
        let s = p.binary();
        assert_eq!((s.tp, s.fp, s.fn_, s.tn), (1, 1, 1, 1));
        assert!((s.f1 - 0.5).abs() < 1e-12);
        p.record(0, 0); // evicts the tp
        assert_eq!(p.binary().tp, 0);
        assert_eq!(p.confusion(3)[2][0], 1);
    }

    #[test]
    fn regression_scores() {
        let mut r = RegressionScores::new(100);
        for i in 0..50 {
            r.record(i as f64 + 1.0, i as f64);
        }
        let (mae, r2) = r.scores();
        assert!((mae - 1.0).abs() < 1e-12);
        assert!(r2 > 0.99);
    }
}
