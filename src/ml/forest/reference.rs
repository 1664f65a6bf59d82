//! The reference forest: linfa-ensemble's random forest of linfa-trees' exact split search,
//! which the tests and benchmarks hold our fitter (`grow`) to, compiled into our flat form
//! (same splits, same leaves, features mapped back from each tree's subsample).

use linfa::prelude::*;
use linfa_ensemble::{RandomForest, RandomForestParams};
use linfa_trees::{DecisionTree, TreeNode};
use ndarray::{Array1, Array2};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

use super::{FlatForest, ForestParams, LEAF, MAX_CLASSES, MAX_WIDTH, Node};
use crate::ml::MlError;

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
        let mut f = Self::empty(classes);
        for (tree, features) in forest.models.iter().zip(&forest.model_features) {
            let root = f.push(tree.root_node(), features);
            f.roots.push(root);
        }
        f
    }

    fn push(&mut self, node: &TreeNode<f64, usize>, features: &[usize]) -> u32 {
        let at = self.nodes.len() as u32;
        let leaf = |class: usize| Node {
            value: class as f64,
            right: 0,
            feature: LEAF,
        };
        if let Some(class) = node.prediction() {
            self.nodes.push(leaf(class));
            return at;
        }
        let (feature, threshold, _) = node.split();
        let feature = features
            .get(feature)
            .copied()
            .unwrap_or(0)
            .min(MAX_WIDTH - 1);
        self.width = self.width.max(feature + 1);
        self.nodes.push(Node {
            value: threshold,
            right: 0,
            feature: feature as u32,
        });
        let children = node.children();
        let (Some(l), Some(r)) = (
            children.first().and_then(|c| c.as_deref()),
            children.get(1).and_then(|c| c.as_deref()),
        ) else {
            // A split without children never comes out of linfa; treat it as a normal leaf.
            self.nodes[at as usize] = leaf(0);
            return at;
        };
        self.push(l, features);
        let right = self.push(r, features);
        self.nodes[at as usize].right = right;
        at
    }
}
