//! The random-forest classifier: fitted with linfa-ensemble (bootstrap + feature subsampling
//! over linfa-trees decision trees), then compiled into one flat array of nodes so that
//! predicting one event is a few hundred predictable loads instead of an `Array2` round trip.
//!
//! The flat form is exactly linfa's trees: same splits (`x < threshold` goes left, NaN goes
//! right), same leaves, features mapped back from each tree's subsample to the full vector.

use linfa::prelude::*;
use linfa_ensemble::{RandomForest, RandomForestParams};
use linfa_trees::{DecisionTree, TreeNode};
use ndarray::{Array1, Array2};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

use super::MlError;

/// Most classes a stream has (transactions: normal + 5 fraud kinds).
pub const MAX_CLASSES: usize = 8;
const LEAF: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Node {
    /// Feature index, or `LEAF`.
    feature: u32,
    /// Split threshold; for a leaf, the class.
    value: f64,
    left: u32,
    right: u32,
}

/// A forest as one contiguous node array.
#[derive(Debug, Clone, PartialEq)]
pub struct FlatForest {
    nodes: Vec<Node>,
    roots: Vec<u32>,
    classes: usize,
}

/// One prediction: the majority class, the share of trees that voted for it, the share that
/// voted for any incident class, and the full vote distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    pub class: usize,
    pub confidence: f64,
    pub incident_share: f64,
    pub distribution: [f64; MAX_CLASSES],
}

impl Prediction {
    pub fn is_incident(&self) -> bool {
        self.class != 0
    }
}

/// Forest hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForestParams {
    pub trees: usize,
    pub max_depth: usize,
    pub feature_fraction: f64,
    pub seed: u64,
}

/// Fits a forest with linfa on rows `x` and classes `y` (< `MAX_CLASSES`).
pub fn fit(
    x: &Array2<f64>,
    y: &Array1<usize>,
    p: &ForestParams,
) -> Result<RandomForest<f64, usize>, MlError> {
    if x.nrows() == 0 || x.nrows() != y.len() {
        return Err(MlError::Data(format!(
            "{} rows for {} labels",
            x.nrows(),
            y.len()
        )));
    }
    if y.iter().any(|&c| c >= MAX_CLASSES) {
        return Err(MlError::Data(format!("a class is not below {MAX_CLASSES}")));
    }
    let data = Dataset::new(x.clone(), y.clone());
    let tree = DecisionTree::<f64, usize>::params()
        .max_depth(Some(p.max_depth))
        .min_weight_leaf(2.0);
    RandomForestParams::new_fixed_rng(tree, ChaCha8Rng::seed_from_u64(p.seed))
        .ensemble_size(p.trees.max(1))
        .bootstrap_proportion(1.0)
        .feature_proportion(p.feature_fraction.clamp(0.05, 1.0))
        .fit(&data)
        .map_err(|e| MlError::Fit(e.to_string()))
}

impl FlatForest {
    /// Compiles linfa's trees; `classes` is the number of classes of the stream.
    pub fn compile(forest: &RandomForest<f64, usize>, classes: usize) -> Self {
        let mut f = Self {
            nodes: Vec::new(),
            roots: Vec::new(),
            classes: classes.clamp(1, MAX_CLASSES),
        };
        for (tree, features) in forest.models.iter().zip(&forest.model_features) {
            let root = f.push(tree.root_node(), features);
            f.roots.push(root);
        }
        f
    }

    fn push(&mut self, node: &TreeNode<f64, usize>, features: &[usize]) -> u32 {
        let at = self.nodes.len() as u32;
        if let Some(class) = node.prediction() {
            self.nodes.push(Node {
                feature: LEAF,
                value: class as f64,
                left: 0,
                right: 0,
            });
            return at;
        }
        let (feature, threshold, _) = node.split();
        self.nodes.push(Node {
            feature: features.get(feature).copied().unwrap_or(0) as u32,
            value: threshold,
            left: 0,
            right: 0,
        });
        let children = node.children();
        let left = children
            .first()
            .and_then(|c| c.as_deref())
            .map(|c| self.push(c, features));
        let right = children
            .get(1)
            .and_then(|c| c.as_deref())
            .map(|c| self.push(c, features));
        // A split without children never comes out of linfa; treat it as a normal leaf.
        let n = &mut self.nodes[at as usize];
        match (left, right) {
            (Some(l), Some(r)) => (n.left, n.right) = (l, r),
            _ => {
                *n = Node {
                    feature: LEAF,
                    value: 0.0,
                    left: 0,
                    right: 0,
                }
            }
        }
        at
    }

    pub fn trees(&self) -> usize {
        self.roots.len()
    }

    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The class each tree votes for, in tree order.
    pub fn tree_votes<'a>(&'a self, x: &'a [f64]) -> impl Iterator<Item = usize> + 'a {
        self.roots.iter().map(move |&r| self.walk(r, x))
    }

    #[inline]
    fn walk(&self, mut i: u32, x: &[f64]) -> usize {
        loop {
            let n = &self.nodes[i as usize];
            if n.feature == LEAF {
                return n.value as usize;
            }
            let v = x.get(n.feature as usize).copied().unwrap_or(f64::NAN);
            i = if v < n.value { n.left } else { n.right };
        }
    }

    pub fn predict(&self, x: &[f64]) -> Prediction {
        let mut votes = [0u32; MAX_CLASSES];
        for c in self.tree_votes(x) {
            votes[c.min(MAX_CLASSES - 1)] += 1;
        }
        let n = self.roots.len().max(1) as f64;
        let mut class = 0;
        for (c, &v) in votes.iter().enumerate() {
            if v > votes[class] {
                class = c;
            }
        }
        let distribution = votes.map(|v| f64::from(v) / n);
        Prediction {
            class,
            confidence: distribution[class],
            incident_share: 1.0 - distribution[0],
            distribution,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Axis;
    use rand::Rng;

    fn data(n: usize, seed: u64) -> (Array2<f64>, Array1<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = Array2::from_shape_fn((n, 6), |_| rng.gen_range(-3.0..3.0));
        let y = x
            .rows()
            .into_iter()
            .map(|r| {
                if r[0] + 0.5 * r[3] > 1.5 {
                    2
                } else if r[1] * r[2] > 1.0 {
                    1
                } else {
                    0
                }
            })
            .collect();
        (x, y)
    }

    #[test]
    fn flat_forest_gives_exactly_linfas_votes() {
        let (x, y) = data(600, 1);
        let p = ForestParams {
            trees: 15,
            max_depth: 8,
            feature_fraction: 0.7,
            seed: 9,
        };
        let forest = fit(&x, &y, &p).unwrap();
        let flat = FlatForest::compile(&forest, 3);
        let (test, _) = data(400, 2);
        let subsets: Vec<Array2<f64>> = forest
            .model_features
            .iter()
            .map(|f| test.select(Axis(1), f))
            .collect();
        let per_tree: Vec<Array1<usize>> = forest
            .models
            .iter()
            .zip(&subsets)
            .map(|(m, s)| m.predict(s))
            .collect();
        for (i, row) in test.rows().into_iter().enumerate() {
            let ours: Vec<usize> = flat.tree_votes(row.as_slice().unwrap()).collect();
            let linfa: Vec<usize> = per_tree.iter().map(|p| p[i]).collect();
            assert_eq!(ours, linfa, "row {i}");
        }
        // And the ensemble's majority matches wherever the vote is not tied.
        let majority = forest.predict(&test);
        for (i, row) in test.rows().into_iter().enumerate() {
            let pred = flat.predict(row.as_slice().unwrap());
            let mut d = pred.distribution;
            d.sort_by(|a, b| b.total_cmp(a));
            if d[0] > d[1] {
                assert_eq!(pred.class, majority[i], "row {i}");
            }
        }
    }

    #[test]
    fn confidence_is_the_vote_share() {
        let (x, y) = data(400, 3);
        let p = ForestParams {
            trees: 11,
            max_depth: 6,
            feature_fraction: 0.5,
            seed: 1,
        };
        let flat = FlatForest::compile(&fit(&x, &y, &p).unwrap(), 3);
        for row in data(200, 4).0.rows() {
            let r = row.as_slice().unwrap();
            let pred = flat.predict(r);
            let share = flat.tree_votes(r).filter(|&c| c == pred.class).count() as f64 / 11.0;
            assert!((0.0..=1.0).contains(&pred.confidence));
            assert_eq!(pred.confidence, share);
            assert!((pred.distribution.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let x = Array2::zeros((3, 2));
        assert!(
            fit(
                &x,
                &Array1::from(vec![0, 1]),
                &ForestParams {
                    trees: 2,
                    max_depth: 2,
                    feature_fraction: 1.0,
                    seed: 0
                }
            )
            .is_err()
        );
        assert!(
            fit(
                &x,
                &Array1::from(vec![0, 1, 99]),
                &ForestParams {
                    trees: 2,
                    max_depth: 2,
                    feature_fraction: 1.0,
                    seed: 0
                }
            )
            .is_err()
        );
    }
}
