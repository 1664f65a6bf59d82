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
use serde::{Deserialize, Serialize};

use super::MlError;
use super::forest::walk_side_by_side;
use super::grow::{Binned, MAX_BINS, bootstrap, partition};
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Regressor {
    /// Least squares, its predictions held to the targets' training range (a log-scale
    /// target extrapolated far past it is an absurd amount once exponentiated).
    Linear {
        weights: Vec<f64>,
        intercept: f64,
        low: f64,
        high: f64,
    },
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

    /// Checks a regressor read from a file against `inputs` columns: every child after its
    /// parent and in range (so a walk ends), weights one per input.
    pub fn validate(&self, inputs: usize) -> Result<(), String> {
        match self {
            Regressor::Linear {
                weights, low, high, ..
            } if weights.len() == inputs && low <= high => Ok(()),
            Regressor::Linear { .. } => Err("the linear regressor has the wrong width".into()),
            Regressor::Forest(f) => f.validate(),
        }
    }

    /// Prediction and uncertainty (spread across trees; 0 for the linear model).
    pub fn predict(&self, x: &[f64]) -> (f64, f64) {
        match self {
            Regressor::Linear {
                weights,
                intercept,
                low,
                high,
            } => (
                (intercept + weights.iter().zip(x).map(|(w, v)| w * v).sum::<f64>())
                    .clamp(*low, *high),
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
    let forest = Regressor::Forest(RegressionForest::fit(
        &xt,
        &yt,
        REGRESSION_TREES,
        8,
        0.7,
        seed,
    ));
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
    let (low, high) = y
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    Ok(Regressor::Linear {
        weights: fitted.params().to_vec(),
        intercept: fitted.intercept(),
        low,
        high,
    })
}

/// A small random-forest regressor on flat trees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressionForest {
    nodes: Vec<RNode>,
    roots: Vec<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct RNode {
    feature: u32,
    value: f64,
    left: u32,
    right: u32,
}

const RLEAF: u32 = u32::MAX;

impl RNode {
    /// The child `x` goes to from this split (a value `x` lacks, like NaN, goes right).
    #[inline]
    fn next(&self, x: &[f64]) -> u32 {
        let xv = x.get(self.feature as usize).copied().unwrap_or(f64::NAN);
        // A conditional move: the side is data, not a pattern (see `forest::Node::child`).
        std::hint::select_unpredictable(xv < self.value, self.left, self.right)
    }
}

/// Trees of the regression forest: 20 predicted within the 30's error on the buffer's
/// holdout, at two thirds of the cost per event and per fit.
const REGRESSION_TREES: usize = 20;
const MIN_LEAF: usize = 5;

impl RegressionForest {
    /// Bootstrap samples, `feature_fraction` of the inputs tried at each node, splits chosen
    /// on binned values (see `grow`): tens of milliseconds for the 4,000-row buffer.
    pub fn fit(
        x: &Array2<f64>,
        y: &Array1<f64>,
        trees: usize,
        depth: usize,
        feature_fraction: f64,
        seed: u64,
    ) -> Self {
        Self::fit_sorting_below(x, y, (trees, depth, feature_fraction), seed, SORT_BELOW)
    }

    /// `fit`, with nodes of fewer than `sort_below` rows split by sorting.
    fn fit_sorting_below(
        x: &Array2<f64>,
        y: &Array1<f64>,
        (trees, depth, feature_fraction): (usize, usize, f64),
        seed: u64,
        sort_below: usize,
    ) -> Self {
        let mut f = Self {
            nodes: Vec::new(),
            roots: Vec::new(),
        };
        let n = x.nrows();
        let d = x.ncols().max(1);
        let k = ((x.ncols() as f64 * feature_fraction).ceil() as usize).clamp(1, d);
        let data = Binned::new(x);
        let mut g = Grower {
            data: &data,
            y: y.as_slice().map_or_else(|| y.to_vec(), <[f64]>::to_vec),
            k,
            features: (0..x.ncols()).collect(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            weight: vec![0; n],
            bins: Box::new([(0, 0.0); MAX_BINS]),
            keys: Vec::new(),
            steps: Vec::with_capacity(MAX_BINS),
            sort_below,
        };
        for _ in 0..trees {
            let mut idx = bootstrap(&mut g.weight, || g.rng.gen_range(0..n));
            let root = g.grow(&mut f, &mut idx, depth);
            f.roots.push(root);
        }
        f
    }

    fn validate(&self) -> Result<(), String> {
        let n = self.nodes.len();
        let bad_root = self.roots.is_empty() || self.roots.iter().any(|&r| r as usize >= n);
        let bad_node = self.nodes.iter().enumerate().any(|(i, node)| {
            node.feature != RLEAF
                && !(node.left as usize > i
                    && node.right as usize > i
                    && (node.left as usize) < n
                    && (node.right as usize) < n)
        });
        if bad_root || bad_node {
            return Err("the regression forest is malformed".into());
        }
        Ok(())
    }

    /// Mean of the trees' leaf values, and their standard deviation.
    pub fn predict(&self, x: &[f64]) -> (f64, f64) {
        let n = self.roots.len().max(1) as f64;
        let (mut s, mut s2) = (0.0, 0.0);
        // The trees walked side by side, as the classification forest's; the leaves are
        // summed in tree order all the same.
        walk_side_by_side(
            &self.roots,
            |i| self.child(i, x),
            |i| {
                let v = self.nodes[i].value;
                s += v;
                s2 += v * v;
            },
        );
        let mean = s / n;
        (mean, (s2 / n - mean * mean).max(0.0).sqrt())
    }

    /// The child a split at node `i` sends `x` to (`None` at a leaf).
    #[inline]
    fn child(&self, i: usize, x: &[f64]) -> Option<usize> {
        let node = &self.nodes[i];
        (node.feature != RLEAF).then(|| node.next(x) as usize)
    }

    /// The value of the leaf `x` reaches from `root`, one tree alone.
    #[cfg(test)]
    fn leaf_value(&self, root: u32, x: &[f64]) -> f64 {
        let mut i = root as usize;
        while let Some(child) = self.child(i, x) {
            i = child;
        }
        self.nodes[i].value
    }
}

/// One regression forest's growth: the binned rows, the targets and the random stream.
struct Grower<'a> {
    data: &'a Binned,
    y: Vec<f64>,
    k: usize,
    features: Vec<usize>,
    rng: ChaCha8Rng,
    /// How many times this tree's bootstrap drew each row: a node's rows are those drawn,
    /// each visited once and counted this many times.
    weight: Vec<u32>,
    /// Scratch: per bin (rows, sum of targets); a small node's rows as sort keys;
    /// (code, rows, sum) per code present.
    bins: Box<[(u32, f64); MAX_BINS]>,
    keys: Vec<u32>,
    steps: Vec<(u8, u32, f64)>,
    sort_below: usize,
}

impl Grower<'_> {
    fn grow(&mut self, f: &mut RegressionForest, idx: &mut [u32], depth: usize) -> u32 {
        let at = f.nodes.len() as u32;
        let (drawn, total) = self.sums(idx);
        let mean = total / f64::from(drawn.max(1));
        f.nodes.push(RNode {
            feature: RLEAF,
            value: mean,
            left: 0,
            right: 0,
        });
        if depth == 0 || (drawn as usize) < 2 * MIN_LEAF {
            return at;
        }
        let Some((feature, code)) = self.best_split(idx, drawn, total) else {
            return at;
        };
        let column = self.data.column(feature);
        let mid = partition(idx, |i| column[i as usize] <= code);
        let (l, r) = idx.split_at_mut(mid);
        let left = self.grow(f, l, depth - 1);
        let right = self.grow(f, r, depth - 1);
        f.nodes[at as usize] = RNode {
            feature: feature as u32,
            value: self.data.cuts[feature][code as usize],
            left,
            right,
        };
        at
    }

    /// The split over `k` random features that most reduces the squared error: per code
    /// present the count and sum of targets, then every cut point in one pass.
    fn best_split(&mut self, idx: &[u32], drawn: u32, total: f64) -> Option<(usize, u8)> {
        let d = self.features.len();
        for i in 0..self.k.min(d) {
            let j = self.rng.gen_range(i..d);
            self.features.swap(i, j);
        }
        let mut best: Option<(f64, usize, u8)> = None;
        for k in 0..self.k.min(d) {
            let f = self.features[k];
            let cuts = self.data.cuts[f].len();
            if cuts == 0 {
                continue;
            }
            self.fill_steps(idx, f);
            let (mut nl, mut left) = (0usize, 0.0);
            for &(code, count, sum) in &self.steps {
                nl += count as usize;
                left += sum;
                // Left are the codes up to this one; past the last cut nothing is right.
                let nr = drawn as usize - nl;
                if usize::from(code) >= cuts || nl < MIN_LEAF || nr < MIN_LEAF {
                    continue;
                }
                let (nlf, nrf) = (nl as f64, nr as f64);
                // Maximising sum²/n of both sides minimises the squared error.
                let gain = left * left / nlf + (total - left).powi(2) / nrf;
                if best.is_none_or(|b| gain > b.0) {
                    best = Some((gain, f, code));
                }
            }
        }
        best.map(|(_, f, c)| (f, c))
    }

    /// Draws among `idx`, and the sum of their targets.
    fn sums(&self, idx: &[u32]) -> (u32, f64) {
        idx.iter().fold((0, 0.0), |(n, s), &i| {
            let (i, w) = (i as usize, self.weight[i as usize]);
            (n + w, s + f64::from(w) * self.y[i])
        })
    }

    /// (code, draws, sum of targets) per code of feature `f` present among `idx`, in code
    /// order: from a histogram for a large node, by sorting for a small one (fewer rows than
    /// bins, where clearing and sweeping 255 bins would cost more than the rows). Either way
    /// each code's sum adds its rows in `idx` order, so both give the same splits.
    fn fill_steps(&mut self, idx: &[u32], f: usize) {
        let column = self.data.column(f);
        self.steps.clear();
        if idx.len() < self.sort_below.min(1 << 16) {
            // Keys of code and place in `idx`: sorted, rows of one code stay in `idx` order.
            self.keys.clear();
            self.keys.extend(
                idx.iter()
                    .enumerate()
                    .map(|(j, &i)| u32::from(column[i as usize]) << 16 | j as u32),
            );
            self.keys.sort_unstable();
            for &key in &self.keys {
                let i = idx[(key & 0xffff) as usize] as usize;
                let (code, w) = ((key >> 16) as u8, self.weight[i]);
                let wy = f64::from(w) * self.y[i];
                match self.steps.last_mut() {
                    Some(s) if s.0 == code => {
                        s.1 += w;
                        s.2 += wy;
                    }
                    _ => self.steps.push((code, w, wy)),
                }
            }
            return;
        }
        let bins = self.data.cuts[f].len() + 1;
        self.bins[..bins].iter_mut().for_each(|b| *b = (0, 0.0));
        for &i in idx {
            let (i, b) = (i as usize, &mut self.bins[column[i as usize] as usize]);
            b.0 += self.weight[i];
            b.1 += f64::from(self.weight[i]) * self.y[i];
        }
        let present = self.bins[..bins]
            .iter()
            .enumerate()
            .filter(|(_, b)| b.0 > 0);
        self.steps
            .extend(present.map(|(code, &(count, sum))| (code as u8, count, sum)));
    }
}

/// Nodes with fewer rows than this find their splits by sorting instead of a histogram
/// (at most 65,536: a row's place in its node is 16 bits of its sort key).
const SORT_BELOW: usize = 128;

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

    /// Walking four trees side by side gives the same mean and spread, to the bit, as
    /// walking each alone, for tree counts that are and are not a multiple of four; rows
    /// shorter than the inputs (a value left out) go right.
    #[test]
    fn side_by_side_walks_predict_as_one_tree_at_a_time() {
        let mut rng = ChaCha8Rng::seed_from_u64(21);
        let x: Array2<f64> = Array2::from_shape_fn((900, 3), |_| rng.gen_range(-3.0..3.0));
        let y = Array1::from_iter(x.rows().into_iter().map(|r| r[0] * r[1] + r[2].sin()));
        for trees in [8, 13] {
            let f = RegressionForest::fit(&x, &y, trees, 6, 0.7, 4);
            for _ in 0..300 {
                let len = rng.gen_range(1..=3);
                let row: Vec<f64> = (0..len).map(|_| rng.gen_range(-4.0..4.0)).collect();
                let leaves: Vec<f64> = f.roots.iter().map(|&r| f.leaf_value(r, &row)).collect();
                let n = leaves.len() as f64;
                let s: f64 = leaves.iter().sum();
                let s2: f64 = leaves.iter().map(|v| v * v).sum();
                let mean = s / n;
                let one = (mean, (s2 / n - mean * mean).max(0.0).sqrt());
                assert_eq!(f.predict(&row), one, "{trees} trees, {row:?}");
            }
        }
    }

    #[test]
    fn small_nodes_split_by_sorting_as_by_histogram() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let x = Array2::from_shape_fn((1500, 4), |(_, j)| {
            // Few distinct values in one column, many in the others.
            let v: f64 = rng.gen_range(0.0..10.0);
            if j == 3 { v.round() } else { v }
        });
        let y = Array1::from_iter(x.rows().into_iter().map(|r| r[0] * r[1] + r[3]));
        let shape = (12, 8, 0.7);
        let sorted = RegressionForest::fit_sorting_below(&x, &y, shape, 4, usize::MAX);
        let binned = RegressionForest::fit_sorting_below(&x, &y, shape, 4, 0);
        let mixed = RegressionForest::fit(&x, &y, 12, 8, 0.7, 4);
        assert_eq!(sorted, binned);
        assert_eq!(mixed, binned);
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
