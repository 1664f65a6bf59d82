//! The regression forest: bootstrap samples, feature subsampling, CART on variance over
//! binned values (the classifier's bins, see `bins`), flat trees walked four at a time;
//! the prediction is the mean of the trees' leaves, their spread the uncertainty band.

use ndarray::{Array1, Array2};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::ml::bins::{Binned, MAX_BINS, bootstrap, partition};
use crate::ml::forest::walk_side_by_side;

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
pub(super) const REGRESSION_TREES: usize = 20;
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

    pub(super) fn validate(&self) -> Result<(), String> {
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
    use ndarray::{Array1, Array2};
    use rand::Rng;
    use rand_chacha::ChaCha8Rng;
    use rand_chacha::rand_core::SeedableRng;

    use super::*;

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
}
