//! One regressor per stream, with a target worth predicting:
//! sensor → temperature from humidity, pressure, time of day and the sensor's baselines;
//! transaction → the amount a customer usually spends (the residual is an anomaly signal);
//! log → response time from service, endpoint, status and recent load.
//!
//! Two candidates are fitted on the same rows, linfa-linear's least squares and a small
//! random-forest regressor (bootstrap, feature subsampling, CART on variance; prediction is
//! the mean of leaf values, the spread across trees an uncertainty band), and the one with
//! the lower held-out error serves.

use linfa::prelude::*;
use linfa_linear::LinearRegression;
use ndarray::{Array1, Array2};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use serde::Serialize;

use super::MlError;
use crate::analytics::FEATURES;
use crate::streams::StreamKind;

/// The regressors' input columns per stream, by name.
mod inputs {
    use crate::analytics::{LogFeature as L, SensorFeature as S, TransactionFeature as T};

    pub const SENSOR_INPUTS: &[usize] = &[
        S::Humidity.index(),
        S::Pressure.index(),
        S::Hour.index(),
        S::TempMean.index(),
        S::HumidityMean.index(),
    ];
    pub const TRANSACTION_INPUTS: &[usize] = &[
        T::CustomerTxns.index(),
        T::LocalHour.index(),
        T::Category.index(),
        T::Payment.index(),
        T::CustomerLogMean.index(),
        T::CustomerLogStd.index(),
    ];
    pub const LOG_INPUTS: &[usize] = &[
        L::Service.index(),
        L::Endpoint.index(),
        L::StatusCode.index(),
        L::ErrorShare.index(),
        L::MsSinceLast.index(),
        L::Hour.index(),
    ];
}

/// Which feature columns feed the regressor and which one it predicts (column positions,
/// written through the stream's feature enum).
#[derive(Debug, Clone, Copy)]
pub struct RegressionSpec {
    pub target: usize,
    /// Whether the target column is a natural log (predictions are reported as exp()).
    pub log_target: bool,
    pub inputs: &'static [usize],
    pub target_name: &'static str,
}

impl RegressionSpec {
    pub fn for_stream(kind: StreamKind) -> Self {
        use crate::analytics::{LogFeature as L, SensorFeature as S, TransactionFeature as T};
        use inputs::*;
        match kind {
            StreamKind::Sensor => Self {
                target: S::Temperature.index(),
                log_target: false,
                inputs: SENSOR_INPUTS,
                target_name: "temperature",
            },
            StreamKind::Transaction => Self {
                target: T::LogAmount.index(),
                log_target: true,
                inputs: TRANSACTION_INPUTS,
                target_name: "amount",
            },
            StreamKind::Log => Self {
                target: L::LogLatency.index(),
                log_target: true,
                inputs: LOG_INPUTS,
                target_name: "response_time_ms",
            },
        }
    }

    /// The input columns of `f`, written into `buf` (no allocation on the per-event path).
    pub fn row<'b>(&self, f: &[f64; FEATURES], buf: &'b mut [f64; FEATURES]) -> &'b [f64] {
        let n = self.inputs.len().min(FEATURES);
        for (slot, &i) in buf.iter_mut().zip(&self.inputs[..n]) {
            *slot = f[i];
        }
        &buf[..n]
    }

    /// The target in natural units.
    pub fn natural(&self, v: f64) -> f64 {
        if self.log_target { v.exp() } else { v }
    }
}

/// A fitted regressor.
#[derive(Debug, Clone)]
pub enum Regressor {
    Linear { weights: Vec<f64>, intercept: f64 },
    Forest(RegressionForest),
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RegressionChoice {
    pub model: &'static str,
    pub holdout_mae_linear: f64,
    pub holdout_mae_forest: f64,
}

impl Regressor {
    pub fn name(&self) -> &'static str {
        match self {
            Regressor::Linear { .. } => "linear",
            Regressor::Forest(_) => "forest",
        }
    }

    /// Prediction and uncertainty (spread across trees; 0 for the linear model).
    pub fn predict(&self, x: &[f64]) -> (f64, f64) {
        match self {
            Regressor::Linear { weights, intercept } => (
                intercept + weights.iter().zip(x).map(|(w, v)| w * v).sum::<f64>(),
                0.0,
            ),
            Regressor::Forest(f) => f.predict(x),
        }
    }
}

/// Fits both candidates on 80 % of the rows and keeps the one with the lower MAE on the
/// other 20 % (in the target's natural units).
pub fn fit_best(
    x: &Array2<f64>,
    y: &Array1<f64>,
    spec: &RegressionSpec,
    seed: u64,
) -> Result<(Regressor, RegressionChoice), MlError> {
    let n = x.nrows();
    if n < 20 {
        return Err(MlError::Data(format!(
            "{n} rows are too few for a regression"
        )));
    }
    let cut = n * 4 / 5;
    let (xt, yt) = (
        x.slice(ndarray::s![..cut, ..]).to_owned(),
        y.slice(ndarray::s![..cut]).to_owned(),
    );
    // Least squares fails on collinear or constant columns; the forest does not.
    let linear = fit_linear(&xt, &yt).ok();
    let forest = Regressor::Forest(RegressionForest::fit(&xt, &yt, 30, 8, 0.7, seed));
    let mae = |m: &Regressor| {
        (cut..n)
            .map(|i| {
                let row: Vec<f64> = x.row(i).to_vec();
                (spec.natural(m.predict(&row).0) - spec.natural(y[i])).abs()
            })
            .sum::<f64>()
            / (n - cut) as f64
    };
    let (ml, mf) = (linear.as_ref().map_or(f64::INFINITY, mae), mae(&forest));
    let choice = RegressionChoice {
        model: if mf <= ml { "forest" } else { "linear" },
        holdout_mae_linear: ml,
        holdout_mae_forest: mf,
    };
    Ok(match linear {
        Some(l) if ml < mf => (l, choice),
        _ => (forest, choice),
    })
}

fn fit_linear(x: &Array2<f64>, y: &Array1<f64>) -> Result<Regressor, MlError> {
    let fitted = LinearRegression::new()
        .fit(&Dataset::new(x.clone(), y.clone()))
        .map_err(|e| MlError::Fit(e.to_string()))?;
    Ok(Regressor::Linear {
        weights: fitted.params().to_vec(),
        intercept: fitted.intercept(),
    })
}

/// A small random-forest regressor on flat trees.
#[derive(Debug, Clone)]
pub struct RegressionForest {
    nodes: Vec<RNode>,
    roots: Vec<u32>,
}

#[derive(Debug, Clone, Copy)]
struct RNode {
    feature: u32,
    value: f64,
    left: u32,
    right: u32,
}

const RLEAF: u32 = u32::MAX;
const MIN_LEAF: usize = 5;

impl RegressionForest {
    pub fn fit(
        x: &Array2<f64>,
        y: &Array1<f64>,
        trees: usize,
        depth: usize,
        feature_fraction: f64,
        seed: u64,
    ) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut f = Self {
            nodes: Vec::new(),
            roots: Vec::new(),
        };
        let n = x.nrows();
        let k = ((x.ncols() as f64 * feature_fraction).ceil() as usize).clamp(1, x.ncols().max(1));
        for _ in 0..trees {
            let mut idx: Vec<usize> = (0..n).map(|_| rng.gen_range(0..n)).collect();
            let root = f.grow(x, y, &mut idx, depth, k, &mut rng);
            f.roots.push(root);
        }
        f
    }

    fn grow(
        &mut self,
        x: &Array2<f64>,
        y: &Array1<f64>,
        idx: &mut [usize],
        depth: usize,
        k: usize,
        rng: &mut ChaCha8Rng,
    ) -> u32 {
        let at = self.nodes.len() as u32;
        let mean = idx.iter().map(|&i| y[i]).sum::<f64>() / idx.len().max(1) as f64;
        self.nodes.push(RNode {
            feature: RLEAF,
            value: mean,
            left: 0,
            right: 0,
        });
        if depth == 0 || idx.len() < 2 * MIN_LEAF {
            return at;
        }
        let Some((feature, threshold)) = best_split(x, y, idx, k, rng) else {
            return at;
        };
        let mid = partition(idx, |i| x[[i, feature]] < threshold);
        if mid < MIN_LEAF || idx.len() - mid < MIN_LEAF {
            return at;
        }
        let (l, r) = idx.split_at_mut(mid);
        let left = self.grow(x, y, l, depth - 1, k, rng);
        let right = self.grow(x, y, r, depth - 1, k, rng);
        self.nodes[at as usize] = RNode {
            feature: feature as u32,
            value: threshold,
            left,
            right,
        };
        at
    }

    /// Mean of the trees' leaf values, and their standard deviation.
    pub fn predict(&self, x: &[f64]) -> (f64, f64) {
        let n = self.roots.len().max(1) as f64;
        let (mut s, mut s2) = (0.0, 0.0);
        for &r in &self.roots {
            let mut i = r;
            let v = loop {
                let node = &self.nodes[i as usize];
                if node.feature == RLEAF {
                    break node.value;
                }
                let xv = x.get(node.feature as usize).copied().unwrap_or(f64::NAN);
                i = if xv < node.value {
                    node.left
                } else {
                    node.right
                };
            };
            s += v;
            s2 += v * v;
        }
        let mean = s / n;
        (mean, (s2 / n - mean * mean).max(0.0).sqrt())
    }
}

/// The split over `k` random features that most reduces the squared error.
fn best_split(
    x: &Array2<f64>,
    y: &Array1<f64>,
    idx: &[usize],
    k: usize,
    rng: &mut ChaCha8Rng,
) -> Option<(usize, f64)> {
    let d = x.ncols();
    let mut features: Vec<usize> = (0..d).collect();
    for i in 0..k.min(d) {
        let j = rng.gen_range(i..d);
        features.swap(i, j);
    }
    let total: f64 = idx.iter().map(|&i| y[i]).sum();
    let n = idx.len() as f64;
    let mut best: Option<(f64, usize, f64)> = None;
    let mut order: Vec<(f64, f64)> = Vec::with_capacity(idx.len());
    for &f in &features[..k.min(d)] {
        order.clear();
        order.extend(idx.iter().map(|&i| (x[[i, f]], y[i])));
        order.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut left = 0.0;
        for j in 0..order.len() - 1 {
            left += order[j].1;
            if order[j].0 == order[j + 1].0 || j + 1 < MIN_LEAF || order.len() - j - 1 < MIN_LEAF {
                continue;
            }
            let nl = (j + 1) as f64;
            // Maximising sum²/n of both sides minimises the squared error.
            let gain = left * left / nl + (total - left).powi(2) / (n - nl);
            if best.is_none_or(|b| gain > b.0) {
                best = Some((gain, f, (order[j].0 + order[j + 1].0) / 2.0));
            }
        }
    }
    best.map(|(_, f, t)| (f, t))
}

/// Moves the items for which `left` holds to the front; returns how many there are.
fn partition(idx: &mut [usize], left: impl Fn(usize) -> bool) -> usize {
    let mut m = 0;
    for j in 0..idx.len() {
        if left(idx[j]) {
            idx.swap(m, j);
            m += 1;
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forest_learns_a_step_function_linear_learns_a_line() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let x = Array2::from_shape_fn((800, 2), |_| rng.gen_range(0.0..10.0));
        let step = Array1::from_iter(
            x.rows()
                .into_iter()
                .map(|r| if r[0] > 5.0 { 10.0 } else { 0.0 }),
        );
        let spec = RegressionSpec {
            target: 0,
            log_target: false,
            inputs: &[],
            target_name: "t",
        };
        let (m, choice) = fit_best(&x, &step, &spec, 1).unwrap();
        assert_eq!(m.name(), "forest", "{choice:?}");
        let line = Array1::from_iter(x.rows().into_iter().map(|r| 3.0 * r[0] - 2.0 * r[1] + 1.0));
        let (m, choice) = fit_best(&x, &line, &spec, 1).unwrap();
        assert_eq!(m.name(), "linear", "{choice:?}");
        assert!((m.predict(&[1.0, 1.0]).0 - 2.0).abs() < 1e-6);
    }

    #[test]
    fn forest_spread_is_an_uncertainty_band() {
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        let x = Array2::from_shape_fn((500, 1), |_| rng.gen_range(0.0..1.0));
        let y = Array1::from_iter(
            x.column(0)
                .iter()
                .map(|v| v * 10.0 + rng.gen_range(-1.0..1.0)),
        );
        let f = RegressionForest::fit(&x, &y, 20, 6, 1.0, 3);
        let (mean, spread) = f.predict(&[0.5]);
        assert!((mean - 5.0).abs() < 1.0, "{mean}");
        assert!(spread > 0.0 && spread < 2.0, "{spread}");
    }
}
