//! Anomaly detection without labels: Half-Space Trees (Tan, Ting & Liu, 2011), a streaming
//! detector that needs no fitting pass, so it works on any topic from its first few hundred
//! events, at a few hundred nanoseconds per event.
//!
//! Each tree splits a random workspace around the (normalised) feature space in half at
//! every level, on a random feature. The trees count how many events of the last window
//! fell in each node (the reference mass) while counting the current window's; an event's
//! mass is the reference count of the deepest node on its path that still holds enough
//! events, scaled by 2^depth (the node's share of the space). Events in sparse regions get
//! a small mass. The score is 1 / (1 + mass / TYPICAL_MASS), the mass per tree and window
//! in units of an even spread: near 1 for an event in space no recent event visited, near 0
//! in the thick of the data.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::analytics::FEATURES;

/// Trees, levels and window: River's defaults (the paper's 25 trees scored the same on our
/// streams at 2.5 times the cost per event).
pub const TREES: usize = 10;
pub const HEIGHT: usize = 8;
pub const WINDOW: u32 = 250;
/// A node with fewer reference events than this share of the window ends the walk.
const SIZE_LIMIT: f64 = 0.1;
/// The mass per tree and window (in units of an even spread) that scores 0.5: the thick
/// of our streams' data lies at 20–80, their incidents mostly below 3.
const TYPICAL_MASS: f64 = 6.0;
/// An event scoring above this (a mass below the typical one) is an anomaly for the
/// detector's own alert rule.
pub const ALERT_SCORE: f64 = 0.5;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Node {
    feature: u8,
    split: f32,
    reference: u32,
    latest: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HalfSpaceTrees {
    /// Per tree, a complete binary tree in heap order (children of `i` at 2i+1, 2i+2).
    nodes: Vec<Node>,
    /// The feature ranges learnt from the first window, for normalising.
    low: [f64; FEATURES],
    span: [f64; FEATURES],
    /// Events of the current window; the first window only learns the ranges.
    in_window: u32,
    windows: u64,
    first: Vec<[f64; FEATURES]>,
}

const PER_TREE: usize = (1 << (HEIGHT + 1)) - 1;

impl HalfSpaceTrees {
    pub fn new(seed: u64) -> Self {
        let all: Vec<usize> = (0..FEATURES).collect();
        Self::on(seed, &all)
    }

    /// Trees that split only on the `features` columns (all of them when empty).
    pub fn on(seed: u64, features: &[usize]) -> Self {
        let all: Vec<usize>;
        let features = if features.is_empty() {
            all = (0..FEATURES).collect();
            &all
        } else {
            features
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(7);
        let mut nodes = Vec::with_capacity(TREES * PER_TREE);
        for _ in 0..TREES {
            // The random workspace: around a point s in [0, 1], ±2·max(s, 1 − s) per feature.
            let mut low = [0.0; FEATURES];
            let mut high = [0.0; FEATURES];
            for q in 0..FEATURES {
                let s: f64 = rng.r#gen();
                let half = 2.0 * s.max(1.0 - s);
                (low[q], high[q]) = (s - half, s + half);
            }
            let start = nodes.len();
            nodes.resize(start + PER_TREE, Node::default());
            let mut space = Space {
                low: &mut low,
                high: &mut high,
                features,
            };
            build(&mut nodes[start..], 0, &mut space, &mut rng);
        }
        Self {
            nodes,
            low: [0.0; FEATURES],
            span: [1.0; FEATURES],
            in_window: 0,
            windows: 0,
            first: Vec::with_capacity(WINDOW as usize),
        }
    }

    /// Scores `x` against the reference window (None until there is one), then counts it
    /// into the current window.
    pub fn score_and_learn(&mut self, x: &[f64; FEATURES]) -> Option<f64> {
        if self.windows == 0 {
            self.first.push(*x);
            self.in_window += 1;
            if self.in_window >= WINDOW {
                self.learn_ranges();
                self.in_window = 0;
                self.windows = 1;
            }
            return None;
        }
        let z: [f64; FEATURES] = std::array::from_fn(|q| (x[q] - self.low[q]) / self.span[q]);
        let scoring = self.windows >= 2;
        // One walk per tree both scores and learns: the score's path (down to the first node
        // with too little reference mass) is the start of the learning one (down to a leaf).
        let limit = SIZE_LIMIT * f64::from(WINDOW);
        let mut mass = 0.0;
        for tree in self.nodes.chunks_exact_mut(PER_TREE) {
            let (mut i, mut depth, mut scored) = (0, 0, !scoring);
            loop {
                let node = &mut tree[i];
                if !scored && (2 * i + 1 >= PER_TREE || f64::from(node.reference) < limit) {
                    mass += f64::from(node.reference) * f64::from(1u32 << depth);
                    scored = true;
                }
                node.latest += 1;
                if 2 * i + 1 >= PER_TREE {
                    break;
                }
                i = child(node, &z, i);
                depth += 1;
            }
        }
        let score =
            scoring.then(|| 1.0 / (1.0 + mass / (TREES as f64 * f64::from(WINDOW) * TYPICAL_MASS)));
        self.in_window += 1;
        if self.in_window >= WINDOW {
            for n in &mut self.nodes {
                (n.reference, n.latest) = (n.latest, 0);
            }
            self.in_window = 0;
            self.windows += 1;
        }
        score
    }

    fn learn_ranges(&mut self) {
        for q in 0..FEATURES {
            let values = self.first.iter().map(|r| r[q]).filter(|v| v.is_finite());
            let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
            let span = hi - lo;
            (self.low[q], self.span[q]) = if span.is_finite() && span > 0.0 {
                (lo, span)
            } else if lo.is_finite() {
                (lo - 0.5, 1.0)
            } else {
                (0.0, 1.0)
            };
        }
        self.first = Vec::new();
    }

    /// Checks a detector read from a file.
    pub fn validate(&self) -> Result<(), String> {
        if self.nodes.len() != TREES * PER_TREE {
            return Err("the half-space trees have the wrong shape".into());
        }
        if self
            .nodes
            .iter()
            .any(|n| usize::from(n.feature) >= FEATURES)
        {
            return Err("a half-space tree reads a feature out of range".into());
        }
        if self.span.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err("a feature range is empty".into());
        }
        Ok(())
    }

    /// Whether the detector has a reference window to score against.
    pub fn is_ready(&self) -> bool {
        self.windows >= 2
    }
}

impl Default for Node {
    fn default() -> Self {
        Self {
            feature: 0,
            split: 0.0,
            reference: 0,
            latest: 0,
        }
    }
}

fn child(n: &Node, z: &[f64; FEATURES], i: usize) -> usize {
    // NaN (a value the message left out) goes right.
    if z[usize::from(n.feature)] < f64::from(n.split) {
        2 * i + 1
    } else {
        2 * i + 2
    }
}

/// A tree's workspace while it is built, and the columns it may split on.
struct Space<'a> {
    low: &'a mut [f64; FEATURES],
    high: &'a mut [f64; FEATURES],
    features: &'a [usize],
}

fn build(tree: &mut [Node], i: usize, sp: &mut Space<'_>, rng: &mut ChaCha8Rng) {
    if 2 * i + 1 >= tree.len() {
        return;
    }
    let q = sp.features[rng.gen_range(0..sp.features.len())];
    let mid = (sp.low[q] + sp.high[q]) / 2.0;
    tree[i].feature = q as u8;
    tree[i].split = mid as f32;
    let saved = sp.high[q];
    sp.high[q] = mid;
    build(tree, 2 * i + 1, sp, rng);
    sp.high[q] = saved;
    let saved = sp.low[q];
    sp.low[q] = mid;
    build(tree, 2 * i + 2, sp, rng);
    sp.low[q] = saved;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normal(rng: &mut ChaCha8Rng) -> [f64; FEATURES] {
        // Bell-shaped around 10·q (a sum of three uniforms), like a sensor's readings.
        std::array::from_fn(|q| {
            10.0 * q as f64 + (0..3).map(|_| rng.gen_range(-1.0..1.0)).sum::<f64>()
        })
    }

    #[test]
    fn a_spike_scores_high_the_crowd_low() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut h = HalfSpaceTrees::new(1);
        let mut scores = Vec::new();
        for _ in 0..2_000 {
            scores.extend(h.score_and_learn(&normal(&mut rng)));
        }
        assert!(h.is_ready());
        assert_eq!(scores.len(), 2_000 - 2 * WINDOW as usize);
        let typical = scores.iter().sum::<f64>() / scores.len() as f64;
        // An event unlike the others in most respects (a spike moves a reading, its
        // z-score, its distance from the mean…) scores above the alert line; one unlike them
        // in a few scores above nearly all of them.
        let mut few = normal(&mut rng);
        for q in [0, 3, 5, 8, 11, 14] {
            few[q] += 20.0;
        }
        let few = h.score_and_learn(&few).unwrap_or(0.0);
        let mut sorted = scores.clone();
        sorted.sort_by(f64::total_cmp);
        assert!(few > sorted[sorted.len() * 99 / 100], "{few:.3}");
        let spike = normal(&mut rng).map(|v| v + 20.0);
        let s = h.score_and_learn(&spike).unwrap_or(0.0);
        assert!((0.0..=1.0).contains(&s) && (0.0..=1.0).contains(&typical));
        assert!(s > ALERT_SCORE, "spike {s:.3}");
        assert!(typical < 0.5, "typical {typical:.3}");
        let flagged = scores.iter().filter(|&&s| s > ALERT_SCORE).count();
        assert!(
            flagged * 100 < scores.len(),
            "{flagged} of {}",
            scores.len()
        );
    }

    #[test]
    fn the_same_seed_scores_the_same_and_a_file_round_trips() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let rows: Vec<_> = (0..800).map(|_| normal(&mut rng)).collect();
        let (mut a, mut b) = (HalfSpaceTrees::new(9), HalfSpaceTrees::new(9));
        for r in &rows {
            assert_eq!(a.score_and_learn(r), b.score_and_learn(r));
        }
        let back: HalfSpaceTrees =
            serde_json::from_str(&serde_json::to_string(&a).unwrap_or_default()).unwrap();
        assert_eq!(back, a);
        assert!(back.validate().is_ok());
    }
}
