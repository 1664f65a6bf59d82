//! Our own fitter for the classification forest, fast enough to refit every few thousand
//! events: 32–50 trees of depth 10 on the 4,000-row buffer in tens of milliseconds, where
//! linfa-trees' exact split search took over a second.
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
use super::forest::{FlatForest, ForestParams, MAX_CLASSES};

/// Bins per feature: a byte per value. 64 bins lost a tenth of the sensor forest's F1 to
/// coarse thresholds in the tails; 255 costs half as much time again and loses little.
pub(super) const MAX_BINS: usize = 255;
/// Fewest bootstrap rows on each side of a split (linfa's `min_weight_leaf(2)`).
const MIN_LEAF: u32 = 2;

/// The training matrix binned: `codes[f * rows + i]` is row `i`'s bin in feature `f`, and a
/// code `c` means the value lies below `cuts[f][c]` (or above every cut when `c` is the
/// number of cuts).
pub(super) struct Binned {
    rows: usize,
    codes: Vec<u8>,
    pub(super) cuts: Vec<Vec<f64>>,
}

impl Binned {
    /// Each column is sorted once, with its rows: the cut points come from the sorted
    /// values, and a sweep up them gives every row its code (a binary search per value and
    /// a stable sort of the values alone were a fifth of a fit).
    pub(super) fn new(x: &Array2<f64>) -> Self {
        let rows = x.nrows();
        let mut codes = vec![0u8; rows * x.ncols()];
        let mut cuts = Vec::with_capacity(x.ncols());
        let (mut order, mut sorted) = (Vec::with_capacity(rows), Vec::with_capacity(rows));
        for (f, column) in x.columns().into_iter().enumerate() {
            let out = &mut codes[f * rows..(f + 1) * rows];
            order.clear();
            order.extend(
                column
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.is_finite())
                    .map(|(i, &v)| (ordered(v), i as u32)),
            );
            order.sort_unstable_by_key(|&(k, _)| k);
            sorted.clear();
            sorted.extend(order.iter().map(|&(k, _)| unordered(k)));
            let c = cut_points(&sorted);
            let mut code = 0;
            for (&v, &(_, i)) in sorted.iter().zip(&order) {
                while code < c.len() && v >= c[code] {
                    code += 1;
                }
                out[i as usize] = code as u8;
            }
            // A value left out of the cuts: NaN (never in a training row, see the trainer)
            // lands above every cut, right, as the compiled forest sends it; so does +inf.
            for (v, o) in column.iter().zip(out.iter_mut()) {
                if !v.is_finite() {
                    *o = code_of(&c, *v);
                }
            }
            cuts.push(c);
        }
        Self { rows, codes, cuts }
    }

    pub(super) fn column(&self, f: usize) -> &[u8] {
        &self.codes[f * self.rows..(f + 1) * self.rows]
    }
}

/// A finite value as an integer in the same order (`f64::total_cmp`'s).
fn ordered(v: f64) -> u64 {
    let b = v.to_bits();
    if b >> 63 == 1 { !b } else { b | 1 << 63 }
}

/// The value `ordered` made `k` from.
fn unordered(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// The bin of `v` among `cuts`: how many cut points it is at or above (NaN: all of them).
fn code_of(cuts: &[f64], v: f64) -> u8 {
    cuts.partition_point(|cut| v.is_nan() || v >= *cut) as u8
}

/// Up to `MAX_BINS - 1` cut points at the quantiles of sorted values, each halfway between
/// two neighbouring distinct values (every gap when there are few distinct values).
fn cut_points(sorted: &[f64]) -> Vec<f64> {
    let n = sorted.len();
    let mut cuts: Vec<f64> = Vec::new();
    let mut push = |lo: f64, hi: f64| {
        let mid = lo + (hi - lo) / 2.0;
        if lo < hi && cuts.last().is_none_or(|&l| mid > l) {
            cuts.push(mid);
        }
    };
    let distinct = sorted.windows(2).filter(|w| w[0] < w[1]).count() + usize::from(n > 0);
    if distinct <= MAX_BINS {
        sorted.windows(2).for_each(|w| push(w[0], w[1]));
        return cuts;
    }
    for q in 1..MAX_BINS {
        // The first value at or above the quantile, and the largest value below it.
        let at = sorted[q * n / MAX_BINS];
        let below = sorted.partition_point(|v| *v < at);
        if below > 0 {
            push(sorted[below - 1], at);
        }
    }
    cuts
}

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

/// Each tree's bootstrap draws this share of the rows (with replacement): half the work of
/// a full-size sample, and more varied trees; the forest's F1 held (BENCHMARKS.md, "Fits
/// that keep up with a backlog").
pub(super) const SAMPLE_SHARE: f64 = 0.5;

/// Rows in each tree's bootstrap sample of `n` rows (at least one).
fn sample_size(n: u32) -> u32 {
    ((f64::from(n) * SAMPLE_SHARE).ceil() as u32).clamp(1, n.max(1))
}

/// One tree's bootstrap sample of `weight.len()` rows, `sample_size` draws by `draw`:
/// `weight[i]` becomes how many draws picked row `i`, and the rows picked at least once are
/// returned in order (a tree visits each once, counted by its draws).
pub(super) fn bootstrap(weight: &mut [u32], mut draw: impl FnMut() -> usize) -> Vec<u32> {
    weight.fill(0);
    for _ in 0..sample_size(weight.len() as u32) {
        weight[draw()] += 1;
    }
    (0..weight.len() as u32)
        .filter(|&i| weight[i as usize] > 0)
        .collect()
}

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

/// Moves the rows for which `left` holds to the front; returns how many there are.
pub(super) fn partition(rows: &mut [u32], left: impl Fn(u32) -> bool) -> usize {
    let mut m = 0;
    for j in 0..rows.len() {
        if left(rows[j]) {
            rows.swap(m, j);
            m += 1;
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy as _;

    #[test]
    fn cut_points_sit_between_distinct_values() {
        assert_eq!(cut_points(&[1.0, 1.0, 2.0, 4.0]), vec![1.5, 3.0]);
        assert!(cut_points(&[3.0, 3.0]).is_empty());
        assert!(cut_points(&[]).is_empty());
        let many: Vec<f64> = (0..10_000).map(f64::from).collect();
        let cuts = cut_points(&many);
        assert_eq!(cuts.len(), MAX_BINS - 1);
        assert!(cuts.windows(2).all(|w| w[0] < w[1]));
        assert!(cuts.iter().all(|c| c.fract() == 0.5), "{cuts:?}");
    }

    #[test]
    fn a_code_is_the_side_of_each_cut() {
        let x = Array2::from_shape_vec((5, 1), vec![1.0, 2.0, 2.0, 3.0, f64::NAN]).unwrap();
        let b = Binned::new(&x);
        assert_eq!(b.cuts[0], vec![1.5, 2.5]);
        assert_eq!(b.column(0), &[0, 1, 1, 2, 2]);
    }

    proptest::proptest! {
        /// Binning by one sort and a sweep gives each value the bin a search of the cut
        /// points gives it, ties, signed zeros and non-finite values included.
        #[test]
        fn every_value_gets_the_bin_a_search_gives(
            column in proptest::collection::vec(
                proptest::prop_oneof![
                    8 => (-40i32..40).prop_map(|v| f64::from(v) / 4.0),
                    4 => proptest::num::f64::NORMAL | proptest::num::f64::ZERO,
                    1 => proptest::prop_oneof![
                        proptest::strategy::Just(f64::NAN),
                        proptest::strategy::Just(f64::INFINITY),
                        proptest::strategy::Just(f64::NEG_INFINITY),
                    ],
                ],
                0..700,
            )
        ) {
            let n = column.len();
            let x = Array2::from_shape_vec((n, 2), column.iter().flat_map(|&v| [v, -v]).collect())
                .unwrap();
            let b = Binned::new(&x);
            proptest::prop_assert_eq!(b.cuts.len(), 2);
            for f in 0..2 {
                let mut sorted: Vec<f64> =
                    x.column(f).iter().copied().filter(|v| v.is_finite()).collect();
                sorted.sort_by(f64::total_cmp);
                let cuts = cut_points(&sorted);
                let codes: Vec<u8> = x.column(f).iter().map(|&v| code_of(&cuts, v)).collect();
                proptest::prop_assert_eq!(&b.cuts[f], &cuts);
                proptest::prop_assert_eq!(b.column(f), &codes[..]);
            }
        }
    }
}

#[cfg(test)]
mod forest_tests {
    use super::*;
    use crate::ml::forest;

    fn data(n: usize, seed: u64) -> (Array2<f64>, Array1<usize>) {
        forest::tests::data_with_noise(n, seed, 0.03)
    }

    fn params(seed: u64) -> ForestParams {
        ForestParams {
            trees: 30,
            max_depth: 10,
            feature_fraction: 0.8,
            seed,
        }
    }

    fn accuracy(f: &FlatForest, x: &Array2<f64>, y: &Array1<usize>) -> f64 {
        let right = x
            .rows()
            .into_iter()
            .zip(y)
            .filter(|(r, c)| f.predict(r.as_slice().unwrap_or(&[])).class == **c)
            .count();
        right as f64 / y.len() as f64
    }

    #[test]
    fn as_accurate_as_linfas_exact_search() {
        let (x, y) = data(1500, 1);
        let (tx, ty) = data(2000, 2);
        let ours = fit(&x, &y, &params(7), 3).unwrap();
        let linfa = FlatForest::compile(&forest::fit(&x, &y, &params(7)).unwrap(), 3);
        let (a, b) = (accuracy(&ours, &tx, &ty), accuracy(&linfa, &tx, &ty));
        assert!(a >= b - 0.02, "ours {a:.3}, linfa {b:.3}");
        assert!(a > 0.85, "{a}");
    }

    #[test]
    fn sorting_small_nodes_finds_the_histograms_splits() {
        let (x, y) = data(2000, 8);
        let by_histogram = fit_sorting_below(&x, &y, &params(3), 3, 0).unwrap();
        let by_sorting = fit_sorting_below(&x, &y, &params(3), 3, usize::MAX).unwrap();
        assert_eq!(by_histogram, by_sorting);
        assert_eq!(fit(&x, &y, &params(3), 3).unwrap(), by_sorting);
    }

    #[test]
    fn the_same_seed_gives_the_same_forest_another_seed_another() {
        let (x, y) = data(800, 3);
        assert_eq!(
            fit(&x, &y, &params(5), 3).unwrap(),
            fit(&x, &y, &params(5), 3).unwrap()
        );
        assert_ne!(
            fit(&x, &y, &params(5), 3).unwrap(),
            fit(&x, &y, &params(6), 3).unwrap()
        );
    }

    #[test]
    fn contributions_add_up_to_the_mean_leaf_share() {
        let (x, y) = data(1500, 4);
        let f = fit(&x, &y, &params(1), 3).unwrap();
        for row in data(50, 5).0.rows() {
            let r = row.as_slice().unwrap_or(&[]);
            let p = f.predict(r);
            let parts = f.explain(r, p.class);
            let total: f64 = f.base_share(p.class) + parts.iter().map(|c| c.value).sum::<f64>();
            let leaves = f.mean_leaf_share(r, p.class);
            assert!((total - leaves).abs() < 1e-4, "{total} vs {leaves}");
            assert!(
                parts
                    .windows(2)
                    .all(|w| w[0].value.abs() >= w[1].value.abs())
            );
        }
        // The class-2 rule reads x0 and x3 only: they explain a confident class-2 call.
        let p = f.predict(&[3.0, 0.0, 0.0, 2.0, 0.0, 0.0]);
        assert_eq!(p.class, 2);
        let top: Vec<usize> = f.explain(&[3.0, 0.0, 0.0, 2.0, 0.0, 0.0], 2)[..2]
            .iter()
            .map(|c| c.feature)
            .collect();
        assert!(top.contains(&0), "{top:?}");
    }

    #[test]
    fn a_forest_survives_a_round_trip_and_a_damaged_one_is_refused() {
        let (x, y) = data(500, 6);
        let f = fit(&x, &y, &params(2), 3).unwrap();
        let json = serde_json::to_string(&f).unwrap();
        let back: FlatForest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, f);
        assert!(back.validate().is_ok());
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let x = Array2::zeros((3, 2));
        assert!(fit(&x, &Array1::from(vec![0, 1]), &params(0), 2).is_err());
        assert!(fit(&x, &Array1::from(vec![0, 1, 5]), &params(0), 2).is_err());
        let one_class = fit(&x, &Array1::from(vec![0, 0, 0]), &params(0), 2).unwrap();
        assert_eq!(one_class.predict(&[1.0, 1.0]).class, 0);
    }
}
