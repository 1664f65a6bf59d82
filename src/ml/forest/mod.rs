//! The random-forest classifier as one flat array of nodes, so that predicting one event is
//! a few hundred predictable loads instead of an `Array2` round trip. Our fitter (`grow`)
//! writes it directly, with each node's class shares for explanations; a forest fitted with
//! linfa-ensemble (the reference the fitter is checked against) compiles into the same form:
//! same splits (`x < threshold` goes left, NaN goes right), same leaves, features mapped back
//! from each tree's subsample to the full vector.
//!
//! A forest explains a prediction by the path each tree takes: every split moves the share of
//! the predicted class among the training rows from the parent's to the child's, and that move
//! is credited to the split's feature (per-feature contributions, averaged over the trees).

use serde::{Deserialize, Serialize};

mod reference;

pub use reference::fit;

/// Most classes a stream has (transactions: normal + 5 fraud kinds).
pub const MAX_CLASSES: usize = 8;
const LEAF: u32 = u32::MAX;
/// The share of trees that must vote for an incident class to call an incident. Above a
/// half: the trees learn from a buffer with as many incidents as normal events, where the
/// streams have a few in a hundred, so their incident votes run high: this share gave the
/// best F1 on every stream, and a half called too many normal payments fraud
/// (docs/perf-journal.md).
pub const INCIDENT_SHARE: f64 = 0.6;
/// Widest feature vector a compiled forest accepts.
const MAX_WIDTH: usize = 64;

/// 16 bytes, in pre-order: a split's left child is the next node, so only the right child's
/// index is stored. A leaf has `feature == LEAF` and its class in `value`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Node {
    value: f64,
    right: u32,
    feature: u32,
}

impl Node {
    /// Where `x` goes from this split, at index `at`: the next node (left) when its feature
    /// is below the threshold, else the stored right child (NaN goes right).
    #[inline]
    fn child(self, at: usize, x: &[f64]) -> usize {
        // Which way a row goes is data, not a pattern the branch predictor can learn: a
        // conditional move instead of a jump that is mispredicted about half the time.
        std::hint::select_unpredictable(
            x[self.feature as usize] < self.value,
            at + 1,
            self.right as usize,
        )
    }
}

/// Trees walked side by side (see `walk_side_by_side`).
const LANES: usize = 4;

/// Walks the trees from `roots` down to their leaves, four at a time, a level of each in
/// turn: the four node loads are independent, so their cache misses overlap instead of
/// following one another down one tree. `next(i)` is the child a split at node `i` sends the
/// row to (`None` at a leaf); `leaf` gets each tree's leaf, in tree order. Both forests
/// predict through it.
#[inline]
pub(super) fn walk_side_by_side(
    roots: &[u32],
    next: impl Fn(usize) -> Option<usize>,
    mut leaf: impl FnMut(usize),
) {
    let mut groups = roots.chunks_exact(LANES);
    for group in &mut groups {
        let mut at: [usize; LANES] = std::array::from_fn(|k| group[k] as usize);
        loop {
            let mut moved = false;
            for i in &mut at {
                // A lane at its leaf stays there.
                if let Some(child) = next(*i) {
                    *i = child;
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
        at.into_iter().for_each(&mut leaf);
    }
    for &r in groups.remainder() {
        let mut i = r as usize;
        while let Some(child) = next(i) {
            i = child;
        }
        leaf(i);
    }
}

/// A forest as one contiguous node array.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlatForest {
    nodes: Vec<Node>,
    roots: Vec<u32>,
    classes: usize,
    /// One more than the highest feature index any split reads.
    width: usize,
    /// Per node, the share of each class among the training rows that reached it (beside
    /// the nodes, so that prediction loads 16 bytes per node). Empty for a compiled linfa
    /// forest, which does not keep them.
    shares: Vec<[f32; MAX_CLASSES]>,
}

/// One feature's part in a prediction: how much it moved the predicted class's share.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Contribution {
    pub feature: usize,
    pub value: f64,
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

impl FlatForest {
    /// A forest without trees, for a fitter to fill.
    pub(super) fn empty(classes: usize) -> Self {
        Self {
            nodes: Vec::new(),
            roots: Vec::new(),
            classes: classes.clamp(1, MAX_CLASSES),
            width: 0,
            shares: Vec::new(),
        }
    }

    pub(super) fn push_leaf(&mut self, class: usize, shares: [f32; MAX_CLASSES]) -> u32 {
        self.shares.push(shares);
        self.nodes.push(Node {
            value: class as f64,
            right: 0,
            feature: LEAF,
        });
        self.nodes.len() as u32 - 1
    }

    /// A split whose left subtree follows it; its right child is set when written.
    pub(super) fn push_split(
        &mut self,
        feature: usize,
        threshold: f64,
        shares: [f32; MAX_CLASSES],
    ) -> u32 {
        let feature = feature.min(MAX_WIDTH - 1);
        self.width = self.width.max(feature + 1);
        self.shares.push(shares);
        self.nodes.push(Node {
            value: threshold,
            right: 0,
            feature: feature as u32,
        });
        self.nodes.len() as u32 - 1
    }

    pub(super) fn set_right(&mut self, at: u32, right: u32) {
        if let Some(n) = self.nodes.get_mut(at as usize) {
            n.right = right;
        }
    }

    pub(super) fn add_root(&mut self, root: u32) {
        self.roots.push(root);
    }

    /// Adds another forest's trees after this one's.
    pub(super) fn append(&mut self, other: FlatForest) {
        let offset = self.nodes.len() as u32;
        self.width = self.width.max(other.width);
        self.nodes.extend(other.nodes.into_iter().map(|n| Node {
            right: if n.feature == LEAF {
                0
            } else {
                n.right + offset
            },
            ..n
        }));
        self.shares.extend(other.shares);
        self.roots
            .extend(other.roots.into_iter().map(|r| r + offset));
    }

    /// Checks a forest read from a file: every index in range and every step forward (so a
    /// walk ends), classes and features within bounds.
    pub fn validate(&self) -> Result<(), String> {
        let n = self.nodes.len();
        if self.classes == 0 || self.classes > MAX_CLASSES || self.width > MAX_WIDTH {
            return Err("classes or width out of range".into());
        }
        if !self.shares.is_empty() && self.shares.len() != n {
            return Err("class shares do not match the nodes".into());
        }
        if self.roots.is_empty() || self.roots.iter().any(|&r| r as usize >= n) {
            return Err("a tree root is out of range".into());
        }
        for (i, node) in self.nodes.iter().enumerate() {
            let ok = if node.feature == LEAF {
                node.value >= 0.0 && (node.value as usize) < self.classes
            } else {
                (node.feature as usize) < self.width
                    && i + 1 < n
                    && (node.right as usize) > i + 1
                    && (node.right as usize) < n
            };
            if !ok {
                return Err(format!("node {i} is malformed"));
            }
        }
        Ok(())
    }

    /// Each feature's contribution to the share of `class` along the trees' paths for `x`,
    /// largest first (only features that moved it). Empty without per-node shares.
    pub fn explain(&self, x: &[f64], class: usize) -> Vec<Contribution> {
        if self.shares.len() != self.nodes.len() || class >= MAX_CLASSES {
            return Vec::new();
        }
        let mut buf = [f64::NAN; MAX_WIDTH];
        let x = self.row(x, &mut buf);
        let mut parts = [0.0f64; MAX_WIDTH];
        for &r in &self.roots {
            let mut i = r as usize;
            while let Some(n) = self.nodes.get(i).filter(|n| n.feature != LEAF) {
                let next = n.child(i, x);
                let moved = self.shares[next][class] - self.shares[i][class];
                parts[n.feature as usize] += f64::from(moved);
                i = next;
            }
        }
        let trees = self.roots.len().max(1) as f64;
        let mut out: Vec<Contribution> = parts
            .iter()
            .enumerate()
            .filter(|(_, v)| **v != 0.0)
            .map(|(feature, v)| Contribution {
                feature,
                value: v / trees,
            })
            .collect();
        out.sort_by(|a, b| b.value.abs().total_cmp(&a.value.abs()));
        out
    }

    /// The share of `class` among the training rows at the roots, averaged over the trees:
    /// where the contributions start from.
    pub fn base_share(&self, class: usize) -> f64 {
        let trees = self.roots.len().max(1) as f64;
        self.roots
            .iter()
            .filter_map(|&r| self.shares.get(r as usize))
            .map(|s| f64::from(s.get(class).copied().unwrap_or(0.0)))
            .sum::<f64>()
            / trees
    }

    /// The share of `class` in the leaves `x` reaches, averaged over the trees (what
    /// `base_share` plus the contributions add up to).
    pub fn mean_leaf_share(&self, x: &[f64], class: usize) -> f64 {
        let mut buf = [f64::NAN; MAX_WIDTH];
        let x = self.row(x, &mut buf);
        let trees = self.roots.len().max(1) as f64;
        self.roots
            .iter()
            .filter_map(|&r| self.shares.get(self.leaf(r, x)))
            .map(|s| f64::from(s.get(class).copied().unwrap_or(0.0)))
            .sum::<f64>()
            / trees
    }

    pub fn trees(&self) -> usize {
        self.roots.len()
    }

    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The class each tree votes for, in tree order.
    pub fn tree_votes(&self, x: &[f64]) -> Vec<usize> {
        let mut buf = [f64::NAN; MAX_WIDTH];
        let x = self.row(x, &mut buf);
        self.roots.iter().map(|&r| self.walk(r, x)).collect()
    }

    /// `x`, or a copy padded with NaN (which goes right, as in linfa) when it is shorter than
    /// the features the trees read.
    fn row<'a>(&self, x: &'a [f64], buf: &'a mut [f64; MAX_WIDTH]) -> &'a [f64] {
        if x.len() >= self.width {
            return x;
        }
        let n = x.len().min(MAX_WIDTH);
        buf[..n].copy_from_slice(&x[..n]);
        &buf[..]
    }

    #[inline]
    fn walk(&self, root: u32, x: &[f64]) -> usize {
        self.nodes[self.leaf(root, x)].value as usize
    }

    /// The index of the leaf `x` reaches from `root`.
    #[inline]
    fn leaf(&self, root: u32, x: &[f64]) -> usize {
        let nodes = &self.nodes[..];
        let mut i = root as usize;
        loop {
            let n = nodes[i];
            if n.feature == LEAF {
                return i;
            }
            i = n.child(i, x);
        }
    }

    /// Each tree's vote for `x`, counted per class (trees walked side by side).
    fn votes(&self, x: &[f64]) -> [u32; MAX_CLASSES] {
        let mut votes = [0u32; MAX_CLASSES];
        let nodes = &self.nodes[..];
        walk_side_by_side(
            &self.roots,
            |i| {
                let n = nodes[i];
                (n.feature != LEAF).then(|| n.child(i, x))
            },
            |i| votes[(nodes[i].value as usize).min(MAX_CLASSES - 1)] += 1,
        );
        votes
    }

    pub fn predict(&self, x: &[f64]) -> Prediction {
        let mut buf = [f64::NAN; MAX_WIDTH];
        let x = self.row(x, &mut buf);
        let votes = self.votes(x);
        let n = self.roots.len().max(1) as f64;
        let distribution = votes.map(|v| f64::from(v) / n);
        // Normal or not is the call that matters: an incident when `INCIDENT_SHARE` of the
        // trees vote for one of the incident classes (whichever has most votes among them),
        // even if no single incident class outvotes "normal".
        let mut class = 0;
        if 1.0 - distribution[0] >= INCIDENT_SHARE {
            class = 1;
            for (c, &v) in votes.iter().enumerate().skip(1) {
                if v > votes[class] {
                    class = c;
                }
            }
        }
        Prediction {
            class,
            confidence: distribution[class],
            incident_share: 1.0 - distribution[0],
            distribution,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
