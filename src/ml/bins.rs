//! What both forest fitters share (the classifier's in `grow`, the regressor's in
//! `regression`): the training matrix binned once per fit, a byte per value, each tree's
//! bootstrap sample, and the partition of a node's rows by a split.

use ndarray::Array2;

/// Bins per feature: a byte per value. Fewer bins lost sensor F1 to coarse thresholds in
/// the tails; 255 costs a little more time and loses little (docs/perf-journal.md).
pub(super) const MAX_BINS: usize = 255;

/// The training matrix binned: `codes[f * rows + i]` is row `i`'s bin in feature `f`, and a
/// code `c` means the value lies below `cuts[f][c]` (or above every cut when `c` is the
/// number of cuts).
pub(super) struct Binned {
    pub(super) rows: usize,
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

/// Each tree's bootstrap draws this share of the rows (with replacement): half the work of
/// a full-size sample, and more varied trees; the forest's F1 held (docs/perf-journal.md).
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
