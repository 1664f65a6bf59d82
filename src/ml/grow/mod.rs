//! Our own fitter for the classification forest, fast enough to refit every few thousand
//! events: a binned split search instead of linfa-trees' exact one, which took too long to
//! refit a stream as it flows (the fit times are in BENCHMARKS.md and docs/perf-journal.md).
//!
//! Each feature is binned once per fit into at most 255 quantile bins (a byte per
//! value, column by column); every node then finds its best Gini split from per-bin class
//! counts, one pass over its rows per candidate feature, instead of sorting them. Thresholds
//! are midpoints between neighbouring training values, so the compiled trees split raw
//! values exactly as a sorted search would at those cut points. Each tree draws a bootstrap
//! sample and, at every node, a random subset of the features (Breiman's forest). Tree `t`
//! has its own random stream derived from the seed, so a fit is the same for a seed in
//! every process.

use ndarray::{Array1, Array2};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

use super::MlError;
use super::bins::{Binned, MAX_BINS, bootstrap, partition};
use super::forest::{FlatForest, ForestParams, MAX_CLASSES};

/// Fewest bootstrap rows on each side of a split (linfa's `min_weight_leaf(2)`).
const MIN_LEAF: u32 = 2;

/// Class counts of one node's rows, per bin of one feature (a bin for every byte, so a
/// code indexes it unchecked).
type Histogram = [[u32; MAX_CLASSES]; 256];

/// A row's class in the low bits of its packed draws (`Grower::drawn`).
const CLASS_BITS: u32 = MAX_CLASSES.trailing_zeros();
const CLASS_MASK: u32 = (1 << CLASS_BITS) - 1;
const _: () = assert!(MAX_CLASSES.is_power_of_two() && MAX_BINS < 256);

/// A chosen split: left are the rows whose code is at most `code`.
struct Split {
    feature: usize,
    code: u8,
}

/// One tree's growth: the rows it was dealt, its random stream, and scratch space.
struct Grower<'a> {
    data: &'a Binned,
    classes: usize,
    depth: usize,
    per_node: usize,
    rng: ChaCha8Rng,
    /// Per row, how many times the bootstrap drew it, above its class (`CLASS_BITS`): the
    /// tree's rows are those drawn at least once, each visited once and counted this many
    /// times, and one load gives both.
    drawn: Vec<u32>,
    features: Vec<usize>,
    hist: Box<Histogram>,
    /// Scratch: class counts per code present, and a small node's rows as sort keys.
    steps: Vec<(u8, [u32; MAX_CLASSES])>,
    keys: Vec<u64>,
    sort_below: usize,
}

/// The sweep over one feature's codes in order: left of each code present, the split's
/// purity against the best so far. Σ c² of each side is kept as the rows move left, in
/// integers (exact, as the f64 sums were), so a step costs a pass over the classes.
struct Scan {
    rows: u32,
    classes: usize,
    /// Class counts left of the sweep, and the node's.
    left: [u32; MAX_CLASSES],
    counts: [u32; MAX_CLASSES],
    n_left: u32,
    sq_left: u64,
    sq_right: u64,
    best_score: f64,
    best_code: Option<u8>,
}

impl Scan {
    fn new(counts: &[u32; MAX_CLASSES], rows: u32, classes: usize, best: f64) -> Self {
        Self {
            rows,
            classes,
            left: [0; MAX_CLASSES],
            counts: *counts,
            n_left: 0,
            sq_left: 0,
            sq_right: counts[..classes].iter().map(|&c| u64::from(c).pow(2)).sum(),
            best_score: best,
            best_code: None,
        }
    }

    /// Moves the rows of `code` to the left side and scores the split after it (the split
    /// after the last code present leaves the right side empty and is never taken).
    fn step(&mut self, code: u8, at: &[u32; MAX_CLASSES]) {
        let classes = self.classes;
        let sides = self.left[..classes].iter_mut().zip(&self.counts[..classes]);
        for ((left, &count), &moved) in sides.zip(&at[..classes]) {
            let (a, l) = (u64::from(moved), u64::from(*left));
            let r = u64::from(count) - l;
            // (l + a)² − l² and (r − a)² − r²
            self.sq_left += (2 * l + a) * a;
            self.sq_right -= (2 * r - a) * a;
            *left += moved;
            self.n_left += moved;
        }
        let n_right = self.rows - self.n_left;
        if self.n_left < MIN_LEAF || n_right < MIN_LEAF {
            return;
        }
        // Through i64: one instruction to f64 where u64 takes several (the sums are far
        // below 2^53, so both are exact).
        let score = self.sq_left as i64 as f64 / f64::from(self.n_left)
            + self.sq_right as i64 as f64 / f64::from(n_right);
        if score > self.best_score {
            self.best_score = score;
            self.best_code = Some(code);
        }
    }
}

/// Nodes with fewer rows than this find their splits by sorting instead of a histogram.
const SORT_BELOW: usize = 256;

/// Fits `p.trees` trees on rows `x` with classes `y` (< `MAX_CLASSES`) into a flat forest
/// of `classes` classes.
pub fn fit(
    x: &Array2<f64>,
    y: &Array1<usize>,
    p: &ForestParams,
    classes: usize,
) -> Result<FlatForest, MlError> {
    fit_sorting_below(x, y, p, classes, SORT_BELOW)
}

/// `fit`, with nodes of fewer than `sort_below` rows split by sorting (the same splits as
/// the histogram's, found faster when a node has fewer rows than there are bins).
fn fit_sorting_below(
    x: &Array2<f64>,
    y: &Array1<usize>,
    p: &ForestParams,
    classes: usize,
    sort_below: usize,
) -> Result<FlatForest, MlError> {
    if x.nrows() == 0 || x.nrows() != y.len() {
        return Err(MlError::Data(format!(
            "{} rows for {} labels",
            x.nrows(),
            y.len()
        )));
    }
    if x.ncols() == 0 {
        return Err(MlError::Data("rows without features".into()));
    }
    if x.nrows() > u32::MAX as usize {
        return Err(MlError::Data(format!("{} rows are too many", x.nrows())));
    }
    let classes = classes.clamp(1, MAX_CLASSES);
    if y.iter().any(|&c| c >= classes) {
        return Err(MlError::Data(format!("a class is not below {classes}")));
    }
    let data = Binned::new(x);
    let labels: Vec<u8> = y.iter().map(|&c| c as u8).collect();
    let d = x.ncols().max(1);
    let per_node = ((d as f64 * p.feature_fraction.clamp(0.05, 1.0)).ceil() as usize).clamp(1, d);
    let trees = p.trees.max(1);
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, MAX_THREADS.min(trees));
    let setup = Setup {
        data: &data,
        y: &labels,
        classes,
        depth: p.max_depth,
        per_node,
        seed: p.seed,
        sort_below,
    };
    // Trees are independent (each its own random stream): split them over the cores, then
    // join the parts in tree order, so the forest is the same on any number of cores.
    let chunk = trees.div_ceil(threads);
    let parts: Vec<FlatForest> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..trees)
            .step_by(chunk)
            .map(|from| {
                let setup = &setup;
                scope.spawn(move || setup.grow_trees(from..(from + chunk).min(trees)))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| FlatForest::empty(classes)))
            .collect()
    });
    let mut forest = FlatForest::empty(classes);
    for part in parts {
        forest.append(part);
    }
    if forest.trees() != trees {
        return Err(MlError::Fit("a tree-growing thread failed".into()));
    }
    Ok(forest)
}

/// Threads a fit uses at most (the consumer needs a core too; on this 2-core machine a fit
/// runs on both only while the consumer waits for it).
const MAX_THREADS: usize = 2;

/// What every tree of one fit shares.
struct Setup<'a> {
    data: &'a Binned,
    y: &'a [u8],
    classes: usize,
    depth: usize,
    per_node: usize,
    seed: u64,
    sort_below: usize,
}

impl Setup<'_> {
    fn grow_trees(&self, trees: std::ops::Range<usize>) -> FlatForest {
        let mut forest = FlatForest::empty(self.classes);
        let n = self.data.rows as u32;
        for t in trees {
            let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
            rng.set_stream(t as u64);
            let mut drawn = vec![0u32; n as usize];
            let mut rows = bootstrap(&mut drawn, || rng.gen_range(0..n) as usize);
            for (d, &c) in drawn.iter_mut().zip(self.y) {
                *d = *d << CLASS_BITS | u32::from(c);
            }
            let mut g = Grower {
                data: self.data,
                classes: self.classes,
                depth: self.depth,
                per_node: self.per_node,
                rng,
                drawn,
                features: (0..self.data.cuts.len()).collect(),
                hist: Box::new([[0; MAX_CLASSES]; 256]),
                steps: Vec::with_capacity(MAX_BINS),
                keys: Vec::new(),
                sort_below: self.sort_below,
            };
            let root = g.grow(&mut forest, &mut rows, 0);
            forest.add_root(root);
        }
        forest
    }
}

impl Grower<'_> {
    /// Grows the subtree of `rows` into the forest in pre-order; returns its root's index.
    /// Sizes are in bootstrap draws (a row drawn twice counts twice).
    fn grow(&mut self, forest: &mut FlatForest, rows: &mut [u32], depth: usize) -> u32 {
        let counts = self.counts(rows);
        let drawn: u32 = counts.iter().sum();
        let share = distribution(&counts, drawn as usize);
        let majority = majority(&counts);
        let pure = counts.iter().filter(|&&c| c > 0).count() <= 1;
        if depth >= self.depth || pure || drawn < 2 * MIN_LEAF {
            return forest.push_leaf(majority, share);
        }
        let Some(split) = self.best_split(rows, &counts, drawn) else {
            return forest.push_leaf(majority, share);
        };
        let column = self.data.column(split.feature);
        let mid = partition(rows, |i| column[i as usize] <= split.code);
        let threshold = self.data.cuts[split.feature][split.code as usize];
        let at = forest.push_split(split.feature, threshold, share);
        let (left, right) = rows.split_at_mut(mid);
        self.grow(forest, left, depth + 1);
        let right = self.grow(forest, right, depth + 1);
        forest.set_right(at, right);
        at
    }

    fn counts(&self, rows: &[u32]) -> [u32; MAX_CLASSES] {
        let mut counts = [0u32; MAX_CLASSES];
        for &i in rows {
            let d = self.drawn[i as usize];
            counts[(d & CLASS_MASK) as usize] += d >> CLASS_BITS;
        }
        counts
    }

    /// The split of a random subset of the features that most lowers the Gini impurity,
    /// if any lowers it.
    fn best_split(
        &mut self,
        rows: &[u32],
        counts: &[u32; MAX_CLASSES],
        drawn: u32,
    ) -> Option<Split> {
        let d = self.features.len();
        for i in 0..self.per_node {
            let j = self.rng.gen_range(i..d);
            self.features.swap(i, j);
        }
        let n = f64::from(drawn);
        // Σ c² / n of a side: larger is purer; a split must beat the node itself.
        let mut best_score = purity(counts, self.classes, n) + 1e-9;
        let mut best = None;
        for k in 0..self.per_node {
            let f = self.features[k];
            let cuts = self.data.cuts[f].len();
            if cuts == 0 {
                continue;
            }
            // Class counts per code present, in code order: from the histogram for a large
            // node, from its rows sorted by code for a small one (fewer rows than bins, where
            // clearing and scanning 255 bins would cost more than the rows).
            let mut scan = Scan::new(counts, drawn, self.classes, best_score);
            if rows.len() < self.sort_below {
                let steps = self.sorted_steps(rows, f);
                for (code, at) in &steps {
                    scan.step(*code, at);
                }
                self.steps = steps;
            } else {
                self.histogram(rows, f);
                for (code, at) in self.hist[..=cuts].iter().enumerate() {
                    if at[..self.classes].iter().any(|&c| c > 0) {
                        scan.step(code as u8, at);
                    }
                }
            }
            if let Some(code) = scan.best_code {
                best_score = scan.best_score;
                best = Some(Split { feature: f, code });
            }
        }
        best
    }

    /// Class counts per code present among `rows` in feature `f`, by sorting the rows' codes.
    fn sorted_steps(&mut self, rows: &[u32], f: usize) -> Vec<(u8, [u32; MAX_CLASSES])> {
        let column = self.data.column(f);
        // code · class · draws in one integer: sorting the keys orders the rows by code.
        self.keys.clear();
        self.keys.extend(rows.iter().map(|&i| {
            let (code, d) = (column[i as usize], self.drawn[i as usize]);
            u64::from(code) << 40 | u64::from(d & CLASS_MASK) << 32 | u64::from(d >> CLASS_BITS)
        }));
        self.keys.sort_unstable();
        let mut steps = std::mem::take(&mut self.steps);
        steps.clear();
        for &key in &self.keys {
            let (code, class, draws) = ((key >> 40) as u8, (key >> 32) as u8, key as u32);
            if steps.last().is_none_or(|s| s.0 != code) {
                steps.push((code, [0; MAX_CLASSES]));
            }
            if let Some(s) = steps.last_mut() {
                s.1[usize::from(class)] += draws;
            }
        }
        steps
    }

    fn histogram(&mut self, rows: &[u32], f: usize) {
        let bins = self.data.cuts[f].len() + 1;
        self.hist[..bins]
            .iter_mut()
            .for_each(|h| *h = [0; MAX_CLASSES]);
        let column = self.data.column(f);
        for &i in rows {
            let (code, d) = (column[i as usize], self.drawn[i as usize]);
            self.hist[usize::from(code)][(d & CLASS_MASK) as usize] += d >> CLASS_BITS;
        }
    }
}

/// Σ c² / n over the classes: n × (1 − Gini).
fn purity(counts: &[u32; MAX_CLASSES], classes: usize, n: f64) -> f64 {
    counts[..classes]
        .iter()
        .map(|&c| f64::from(c) * f64::from(c))
        .sum::<f64>()
        / n.max(1.0)
}

/// The most frequent class (the lowest on a tie).
fn majority(counts: &[u32; MAX_CLASSES]) -> usize {
    let mut best = 0;
    for (c, &v) in counts.iter().enumerate() {
        if v > counts[best] {
            best = c;
        }
    }
    best
}

fn distribution(counts: &[u32; MAX_CLASSES], n: usize) -> [f32; MAX_CLASSES] {
    counts.map(|c| c as f32 / n.max(1) as f32)
}

#[cfg(test)]
mod tests;
