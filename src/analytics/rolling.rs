//! Rolling windows that update in O(1) per event, exact where they can be and numerically
//! stable where they cannot.
//!
//! * `SlidingMoments` keeps count, sum, mean and std of a FIFO of values with a two-stack
//!   sliding aggregate: new values fold into a running Welford aggregate, old values leave by
//!   popping precomputed suffix aggregates, and aggregates combine with Chan's formula.
//!   Nothing is ever subtracted, so there is no cancellation when large values leave a window
//!   of small ones. Values are folded in relative to a pivot (a recent value, renewed whenever
//!   the front stack is rebuilt), so a small spread at an offset near 1e9 keeps all its digits.
//!   The z-score baselines need nothing more.
//! * `Window` adds event times and exact min and max (monotonic deques), bounded by count, by
//!   time span, or both: the reference app's `deque(maxlen=100)` with statistics in O(1).
//! * `BucketWindow` is the time window for long spans at any rate: fixed-width buckets, each
//!   with its own moments, min and max, so memory is bounded by span / width however many
//!   events arrive (an exact 60 s window at 100k events/s would hold six million values).
//! * `QuantileWindow` keeps the window sorted (binary search, one shift per update), exact.

use std::collections::VecDeque;

/// Count, sum and centred second moment of a set of values.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Moments {
    pub n: u64,
    pub sum: f64,
    pub mean: f64,
    pub m2: f64,
}

impl Moments {
    pub fn of(x: f64) -> Self {
        Self {
            n: 1,
            sum: x,
            mean: x,
            m2: 0.0,
        }
    }

    /// Chan et al.: the moments of the union of two disjoint sets.
    pub fn merge(a: &Self, b: &Self) -> Self {
        if a.n == 0 {
            return *b;
        }
        if b.n == 0 {
            return *a;
        }
        let n = a.n + b.n;
        // b's share of the union: one division per merge.
        let w = b.n as f64 / n as f64;
        let delta = b.mean - a.mean;
        Self {
            n,
            sum: a.sum + b.sum,
            mean: a.mean + delta * w,
            m2: a.m2 + b.m2 + delta * delta * a.n as f64 * w,
        }
    }

    /// Welford's update with one value.
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        self.sum += x;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
    }

    /// Population variance (numpy's default, as in the reference app).
    pub fn variance(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            (self.m2 / self.n as f64).max(0.0)
        }
    }

    pub fn std(&self) -> f64 {
        self.variance().sqrt()
    }

    /// The same moments with every value shifted by `by`.
    fn shifted(self, by: f64) -> Self {
        if self.n == 0 {
            return self;
        }
        Self {
            n: self.n,
            sum: self.sum + self.n as f64 * by,
            mean: self.mean + by,
            m2: self.m2,
        }
    }
}

/// A FIFO of values with their moments in O(1) per push and pop (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct SlidingMoments {
    values: VecDeque<f64>,
    /// Suffix aggregates of the oldest `front.len()` values; last = all of them.
    front: Vec<Moments>,
    /// Aggregate of the values newer than the front.
    back: Moments,
    /// Moments are of `x - pivot`.
    pivot: f64,
}

impl SlidingMoments {
    pub fn with_capacity(cap: usize) -> Self {
        Self {
            values: VecDeque::with_capacity(cap),
            front: Vec::with_capacity(cap),
            ..Self::default()
        }
    }

    pub fn push(&mut self, x: f64) {
        if self.values.is_empty() {
            self.pivot = x;
            self.front.clear();
            self.back = Moments::default();
        }
        self.values.push_back(x);
        self.back.push(x - self.pivot);
    }

    /// Removes the oldest value.
    pub fn pop(&mut self) -> Option<f64> {
        let x = self.values.pop_front()?;
        if self.front.is_empty() {
            self.flip();
        }
        self.front.pop();
        if self.values.is_empty() {
            self.front.clear();
            self.back = Moments::default();
        }
        Some(x)
    }

    /// Moves every value into the front stack as suffix aggregates, relative to a new pivot
    /// (the newest value). `values` already lost the value being popped, so a placeholder
    /// stands for it on top of the stack, for `pop` to remove.
    fn flip(&mut self) {
        self.front.clear();
        if let Some(&newest) = self.values.back() {
            self.pivot = newest;
        }
        let mut acc = Moments::default();
        for &x in self.values.iter().rev() {
            acc = Moments::merge(&Moments::of(x - self.pivot), &acc);
            self.front.push(acc);
        }
        self.front.push(acc);
        self.back = Moments::default();
    }

    /// Moments of the values in absolute terms.
    pub fn moments(&self) -> Moments {
        match self.front.last() {
            Some(f) => Moments::merge(f, &self.back),
            None => self.back,
        }
        .shifted(self.pivot)
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn mean(&self) -> f64 {
        self.moments().mean
    }

    pub fn std(&self) -> f64 {
        self.moments().std()
    }

    /// Mean and standard deviation in one pass over the aggregates.
    pub fn mean_std(&self) -> (f64, f64) {
        let m = self.moments();
        (m.mean, m.std())
    }

    pub fn last(&self) -> Option<f64> {
        self.values.back().copied()
    }

    /// Values in arrival order.
    pub fn values(&self) -> impl ExactSizeIterator<Item = f64> + '_ {
        self.values.iter().copied()
    }
}

/// Exact running min and max of a FIFO: monotonic deques of (arrival index, value).
#[derive(Debug, Clone, Default)]
struct Extremes {
    mins: VecDeque<(u64, f64)>,
    maxs: VecDeque<(u64, f64)>,
}

impl Extremes {
    fn push(&mut self, i: u64, x: f64) {
        while self.mins.back().is_some_and(|&(_, v)| v >= x) {
            self.mins.pop_back();
        }
        self.mins.push_back((i, x));
        while self.maxs.back().is_some_and(|&(_, v)| v <= x) {
            self.maxs.pop_back();
        }
        self.maxs.push_back((i, x));
    }

    /// Forgets values that arrived before index `oldest`.
    fn expire(&mut self, oldest: u64) {
        while self.mins.front().is_some_and(|&(i, _)| i < oldest) {
            self.mins.pop_front();
        }
        while self.maxs.front().is_some_and(|&(i, _)| i < oldest) {
            self.maxs.pop_front();
        }
    }

    fn min(&self) -> Option<f64> {
        self.mins.front().map(|&(_, v)| v)
    }

    fn max(&self) -> Option<f64> {
        self.maxs.front().map(|&(_, v)| v)
    }
}

/// What bounds a window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// At most this many values (None: unbounded by count).
    pub count: Option<usize>,
    /// Only values whose time is within this many milliseconds of the newest.
    pub span_ms: Option<i64>,
}

impl Bounds {
    pub fn count(n: usize) -> Self {
        Self {
            count: Some(n.max(1)),
            span_ms: None,
        }
    }

    pub fn span_ms(ms: i64) -> Self {
        Self {
            count: None,
            span_ms: Some(ms.max(1)),
        }
    }
}

/// Current statistics of a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Stats {
    pub count: u64,
    pub mean: f64,
    pub std: f64,
    pub min: f64,
    pub max: f64,
    pub sum: f64,
    /// Values per second over the window's time extent (0 with fewer than two values).
    pub rate_per_s: f64,
}

/// Values per second for `n` values spread from `first` to `last` (ms).
fn rate(n: u64, first: i64, last: i64) -> f64 {
    if n >= 2 && last > first {
        (n - 1) as f64 * 1000.0 / (last - first) as f64
    } else {
        0.0
    }
}

/// A rolling window of f64 values with event times in milliseconds.
#[derive(Debug, Clone)]
pub struct Window {
    bounds: Bounds,
    moments: SlidingMoments,
    times: VecDeque<i64>,
    extremes: Extremes,
    /// Arrival index of the next value; the oldest is `next - len()`.
    next: u64,
}

impl Window {
    pub fn new(bounds: Bounds) -> Self {
        let cap = bounds.count.unwrap_or(64).min(1024);
        Self {
            bounds,
            moments: SlidingMoments::with_capacity(cap),
            times: VecDeque::with_capacity(cap),
            extremes: Extremes::default(),
            next: 0,
        }
    }

    pub fn with_count(n: usize) -> Self {
        Self::new(Bounds::count(n))
    }

    /// Adds a value observed at `time_ms` and evicts what falls out of the bounds.
    pub fn push(&mut self, x: f64, time_ms: i64) {
        self.moments.push(x);
        self.times.push_back(time_ms);
        self.extremes.push(self.next, x);
        self.next += 1;
        self.evict(time_ms);
    }

    /// Evicts values older than the span relative to `now_ms` (also called by `push`).
    pub fn evict(&mut self, now_ms: i64) {
        if let Some(cap) = self.bounds.count {
            while self.len() > cap {
                self.pop_oldest();
            }
        }
        if let Some(span) = self.bounds.span_ms {
            while self.times.front().is_some_and(|&t| t < now_ms - span) {
                self.pop_oldest();
            }
        }
    }

    fn pop_oldest(&mut self) {
        if self.moments.pop().is_some() {
            self.times.pop_front();
            self.extremes.expire(self.next - self.len() as u64);
        }
    }

    pub fn len(&self) -> usize {
        self.moments.len()
    }

    pub fn is_empty(&self) -> bool {
        self.moments.is_empty()
    }

    pub fn mean(&self) -> f64 {
        self.moments.mean()
    }

    /// Mean and standard deviation in one pass over the aggregates.
    pub fn mean_std(&self) -> (f64, f64) {
        self.moments.mean_std()
    }

    pub fn std(&self) -> f64 {
        self.moments.std()
    }

    pub fn min(&self) -> Option<f64> {
        self.extremes.min()
    }

    pub fn max(&self) -> Option<f64> {
        self.extremes.max()
    }

    pub fn last(&self) -> Option<f64> {
        self.moments.last()
    }

    /// Values in arrival order (for reference computations and quantile rebuilds).
    pub fn values(&self) -> impl ExactSizeIterator<Item = f64> + '_ {
        self.moments.values()
    }

    /// Values per second between the oldest and the newest value's time.
    pub fn rate_per_s(&self) -> f64 {
        match (self.times.front(), self.times.back()) {
            (Some(&a), Some(&b)) => rate(self.len() as u64, a, b),
            _ => 0.0,
        }
    }

    pub fn stats(&self) -> Stats {
        let m = self.moments.moments();
        Stats {
            count: m.n,
            mean: m.mean,
            std: m.std(),
            min: self.min().unwrap_or(0.0),
            max: self.max().unwrap_or(0.0),
            sum: m.sum,
            rate_per_s: self.rate_per_s(),
        }
    }
}

/// Buckets a `BucketWindow` divides its span into (fewer for spans under 60 ms).
pub const BUCKETS_PER_SPAN: i64 = 60;

/// One bucket of a `BucketWindow`: the values whose time falls in it, their moments taken
/// relative to the bucket's first value (so a small spread at a large offset keeps its
/// digits, as in `SlidingMoments`).
#[derive(Debug, Clone, Copy)]
struct Bucket {
    pivot: f64,
    moments: Moments,
    min: f64,
    max: f64,
    first_t: i64,
    last_t: i64,
}

impl Bucket {
    const EMPTY: Bucket = Bucket {
        pivot: 0.0,
        moments: Moments {
            n: 0,
            sum: 0.0,
            mean: 0.0,
            m2: 0.0,
        },
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
        first_t: i64::MAX,
        last_t: i64::MIN,
    };

    fn add(&mut self, x: f64, t: i64) {
        if self.moments.n == 0 {
            self.pivot = x;
        }
        self.moments.push(x - self.pivot);
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        self.first_t = self.first_t.min(t);
        self.last_t = self.last_t.max(t);
    }
}

/// A time window at bucket granularity: the values whose time falls in the newest bucket
/// (the one holding the newest time seen) or the `span_buckets` before it, which together
/// cover the span. It always covers at least the span and less than two buckets more (one
/// when the span is a multiple of the width, as 60 s is of 1 s), and moves a bucket at a time.
/// Count, sum, min and max are exact over those values; mean and std are Welford per bucket,
/// merged with Chan's formula. A value older than the window is not counted.
#[derive(Debug, Clone)]
pub struct BucketWindow {
    width_ms: i64,
    /// Buckets before the newest one that the window keeps.
    span_buckets: i64,
    /// Contiguous buckets, oldest first; `buckets[k]` covers index `first + k`.
    buckets: VecDeque<Bucket>,
    first: i64,
}

impl BucketWindow {
    pub fn new(span_ms: i64) -> Self {
        let span_ms = span_ms.max(1);
        let width_ms = (span_ms + BUCKETS_PER_SPAN - 1) / BUCKETS_PER_SPAN;
        let span_buckets = (span_ms + width_ms - 1) / width_ms;
        Self {
            width_ms,
            span_buckets,
            buckets: VecDeque::with_capacity(span_buckets as usize + 1),
            first: 0,
        }
    }

    /// Bucket width in milliseconds.
    pub fn width_ms(&self) -> i64 {
        self.width_ms
    }

    /// Buckets kept before the newest one.
    pub fn span_buckets(&self) -> i64 {
        self.span_buckets
    }

    pub fn push(&mut self, x: f64, time_ms: i64) {
        let b = time_ms.div_euclid(self.width_ms);
        let newest = self.first + self.buckets.len() as i64 - 1;
        if self.buckets.is_empty() || b > newest + self.span_buckets {
            self.buckets.clear();
            self.first = b;
        } else if b < newest - self.span_buckets {
            return; // older than the window
        }
        while b < self.first {
            self.buckets.push_front(Bucket::EMPTY);
            self.first -= 1;
        }
        while self.first + (self.buckets.len() as i64) <= b {
            self.buckets.push_back(Bucket::EMPTY);
        }
        while self.buckets.len() as i64 > self.span_buckets + 1 {
            self.buckets.pop_front();
            self.first += 1;
        }
        if let Some(bucket) = self.buckets.get_mut((b - self.first) as usize) {
            bucket.add(x, time_ms);
        }
    }

    pub fn len(&self) -> usize {
        self.buckets.iter().map(|b| b.moments.n as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Statistics over the window. Bucket moments are merged relative to the oldest bucket's
    /// pivot: nearby values differ exactly (Sterbenz), so no digits are lost to the offset.
    pub fn stats(&self) -> Stats {
        let mut filled = self.buckets.iter().filter(|b| b.moments.n > 0);
        let Some(oldest) = filled.next() else {
            return Stats::default();
        };
        let pivot = oldest.pivot;
        let mut m = oldest.moments;
        let (mut min, mut max) = (oldest.min, oldest.max);
        let (mut first, mut last) = (oldest.first_t, oldest.last_t);
        for b in filled {
            m = Moments::merge(&m, &b.moments.shifted(b.pivot - pivot));
            min = min.min(b.min);
            max = max.max(b.max);
            first = first.min(b.first_t);
            last = last.max(b.last_t);
        }
        let m = m.shifted(pivot);
        Stats {
            count: m.n,
            mean: m.mean,
            std: m.std(),
            min,
            max,
            sum: m.sum,
            rate_per_s: rate(m.n, first, last),
        }
    }
}

/// Exact quantiles over a count window, kept sorted: O(log n) search and one shift of the
/// values between the leaving and the arriving one per update.
#[derive(Debug, Clone)]
pub struct QuantileWindow {
    cap: usize,
    order: VecDeque<f64>,
    sorted: Vec<f64>,
}

impl QuantileWindow {
    pub fn new(cap: usize) -> Self {
        let cap = cap.max(1);
        Self {
            cap,
            order: VecDeque::with_capacity(cap + 1),
            sorted: Vec::with_capacity(cap + 1),
        }
    }

    pub fn push(&mut self, x: f64) {
        if x.is_nan() {
            return;
        }
        self.order.push_back(x);
        let old = match self.order.len() > self.cap {
            true => self.order.pop_front(),
            false => None,
        };
        let Some(old) = old else {
            let at = self.sorted.partition_point(|v| *v < x);
            self.sorted.insert(at, x);
            return;
        };
        // Replace `old` by `x`, shifting only the values between the two positions.
        let from = self.sorted.partition_point(|v| *v < old);
        let to = self.sorted.partition_point(|v| *v < x);
        if to > from {
            self.sorted.copy_within(from + 1..to, from);
            self.sorted[to - 1] = x;
        } else {
            self.sorted.copy_within(to..from, to + 1);
            self.sorted[to] = x;
        }
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The q-quantile (0..=1), nearest-rank; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        nearest_rank(&self.sorted, q)
    }
}

/// The q-quantile of sorted values by nearest rank; `None` when empty.
fn nearest_rank(sorted: &[f64], q: f64) -> Option<f64> {
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.saturating_sub(1).min(sorted.len().checked_sub(1)?))
        .copied()
}

/// The last `cap` values with quantiles computed when asked: O(1) per value, a sort per
/// query. For latency percentiles that every event updates and only a screen or report reads,
/// a few times a second; `QuantileWindow` is for quantiles read on every event.
#[derive(Debug, Clone)]
pub struct RecentValues {
    cap: usize,
    values: VecDeque<f64>,
}

impl RecentValues {
    pub fn new(cap: usize) -> Self {
        let cap = cap.max(1);
        Self {
            cap,
            values: VecDeque::with_capacity(cap + 1),
        }
    }

    pub fn push(&mut self, x: f64) {
        if x.is_nan() {
            return;
        }
        self.values.push_back(x);
        if self.values.len() > self.cap {
            self.values.pop_front();
        }
    }

    /// The nearest-rank quantile for each of `qs`; `None` when empty.
    pub fn quantiles<const N: usize>(&self, qs: [f64; N]) -> Option<[f64; N]> {
        let mut sorted: Vec<f64> = self.values.iter().copied().collect();
        sorted.sort_unstable_by(f64::total_cmp);
        let mut out = [0.0; N];
        for (o, q) in out.iter_mut().zip(qs) {
            *o = nearest_rank(&sorted, q)?;
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Two passes over the window, shifted by its first value so that the reference itself
    /// does not lose the small spread of large numbers.
    fn naive(values: &[f64]) -> (f64, f64, f64, f64, f64) {
        let n = values.len() as f64;
        let sum: f64 = values.iter().sum();
        let x0 = values[0];
        let shifted_mean = values.iter().map(|x| x - x0).sum::<f64>() / n;
        let mean = x0 + shifted_mean;
        let var = values
            .iter()
            .map(|x| (x - x0 - shifted_mean).powi(2))
            .sum::<f64>()
            / n;
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (sum, mean, var.sqrt(), min, max)
    }

    /// Relative error against the scale of the numbers involved.
    fn close(a: f64, b: f64, scale: f64) -> bool {
        (a - b).abs() <= 1e-9 * scale.max(b.abs()).max(f64::MIN_POSITIVE)
    }

    fn check_against_naive(w: &Window, window: &[f64]) -> Result<(), TestCaseError> {
        check_stats(w.stats(), window)
    }

    fn check_stats(s: Stats, window: &[f64]) -> Result<(), TestCaseError> {
        let (sum, mean, std, min, max) = naive(window);
        let abs_sum: f64 = window.iter().map(|x| x.abs()).sum();
        prop_assert_eq!(s.count as usize, window.len());
        prop_assert_eq!(s.min, min);
        prop_assert_eq!(s.max, max);
        prop_assert!(
            close(s.sum, sum, abs_sum * 1e-6),
            "sum {} vs {}",
            s.sum,
            sum
        );
        prop_assert!(
            close(s.mean, mean, abs_sum / window.len() as f64 * 1e-6),
            "mean {} vs {}",
            s.mean,
            mean
        );
        let spread = max - min;
        prop_assert!(
            close(s.std, std, spread),
            "std {} vs {} (spread {})",
            s.std,
            std,
            spread
        );
        Ok(())
    }

    fn stream() -> impl Strategy<Value = Vec<f64>> {
        let offset = prop_oneof![Just(0.0), Just(1e9), Just(-3e6), -1e6..1e6f64];
        let spread = prop_oneof![Just(0.0), Just(1e-3), Just(1.0), Just(1e4)];
        (
            offset,
            spread,
            proptest::collection::vec(-1.0..1.0f64, 1..400),
        )
            .prop_map(|(o, s, xs)| xs.into_iter().map(|x| o + s * x).collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn count_window_matches_naive(xs in stream(), cap in prop_oneof![Just(1usize), Just(2), Just(3), Just(100), 1..64usize]) {
            let mut w = Window::with_count(cap);
            for (i, &x) in xs.iter().enumerate() {
                w.push(x, i as i64);
                let lo = (i + 1).saturating_sub(cap);
                check_against_naive(&w, &xs[lo..=i])?;
            }
        }

        #[test]
        fn time_window_matches_naive(xs in stream(), gaps in proptest::collection::vec(0i64..50, 400), span in 1i64..300) {
            let mut w = Window::new(Bounds::span_ms(span));
            let mut times = Vec::new();
            let mut t = 0;
            for (i, &x) in xs.iter().enumerate() {
                t += gaps[i];
                times.push(t);
                w.push(x, t);
                let lo = times.iter().position(|&ti| ti >= t - span).unwrap_or(i);
                check_against_naive(&w, &xs[lo..=i])?;
            }
        }

        #[test]
        fn mixed_magnitudes_leave_no_residue(small in proptest::collection::vec(-1.0..1.0f64, 10..50), big in 1e8..1e12f64) {
            // Large values pass through a window of small ones; once they leave, the small
            // spread must be exact again (subtracting them back out would cancel).
            let mut w = Window::with_count(small.len());
            for (i, x) in small.iter().chain(std::iter::repeat_n(&big, 5)).chain(small.iter()).enumerate() {
                w.push(*x, i as i64);
            }
            check_against_naive(&w, &small)?;
        }

        #[test]
        fn bucket_window_matches_naive(
            xs in stream(),
            steps in proptest::collection::vec(-200i64..400, 400),
            span in prop_oneof![1i64..100, 100i64..6000],
        ) {
            // Time mostly moves forward, sometimes back (late events), sometimes far ahead.
            let mut w = BucketWindow::new(span);
            let (width, kept_buckets) = (w.width_ms(), w.span_buckets());
            prop_assert!(width * kept_buckets >= span && width * (kept_buckets - 1) < span);
            let mut times = Vec::new();
            let mut t = 1_000_000i64;
            let mut newest = i64::MIN;
            for (i, &x) in xs.iter().enumerate() {
                t += if steps[i] == 399 { span * 3 } else { steps[i] };
                times.push(t);
                w.push(x, t);
                newest = newest.max(t.div_euclid(width));
                let kept: Vec<usize> = (0..=i)
                    .filter(|&j| times[j].div_euclid(width) >= newest - kept_buckets)
                    .collect();
                let values: Vec<f64> = kept.iter().map(|&j| xs[j]).collect();
                let s = w.stats();
                if values.is_empty() {
                    prop_assert_eq!(s, Stats::default());
                    continue;
                }
                check_stats(s, &values)?;
                let first = kept.iter().map(|&j| times[j]).min().unwrap();
                let last = kept.iter().map(|&j| times[j]).max().unwrap();
                prop_assert_eq!(s.rate_per_s, rate(values.len() as u64, first, last));
            }
        }

        #[test]
        fn quantiles_match_sorting(
            xs in proptest::collection::vec(prop_oneof![-1e6..1e6f64, (0..5i32).prop_map(f64::from)], 1..300),
            cap in 1..120usize,
            q in 0.0..=1.0f64,
        ) {
            let mut w = QuantileWindow::new(cap);
            let mut r = RecentValues::new(cap);
            for (i, &x) in xs.iter().enumerate() {
                w.push(x);
                let lo = (i + 1).saturating_sub(cap);
                let mut sorted = xs[lo..=i].to_vec();
                sorted.sort_by(f64::total_cmp);
                let rank = ((q * sorted.len() as f64).ceil() as usize).max(1);
                prop_assert_eq!(w.quantile(q), Some(sorted[rank - 1]));
                r.push(x);
                prop_assert_eq!(r.quantiles([q]), Some([sorted[rank - 1]]));
            }
        }
    }

    #[test]
    fn constant_stream_has_zero_std() {
        let mut w = Window::with_count(100);
        for i in 0..1000 {
            w.push(1e9 + 0.5, i);
        }
        assert_eq!(w.std(), 0.0);
        assert_eq!(w.mean(), 1e9 + 0.5);
    }

    #[test]
    fn bucket_window_covers_the_span_and_at_most_a_bucket_more() {
        let mut w = BucketWindow::new(60_000);
        for t in (0..120_000).step_by(10) {
            w.push(1.0, t);
        }
        let n = w.stats().count;
        assert!((6_000..=6_100).contains(&n), "{n} values of 10 ms each");
        assert_eq!(w.len() as u64, n);
    }

    #[test]
    fn rate_counts_values_per_second() {
        let mut w = Window::new(Bounds::span_ms(60_000));
        for i in 0..101 {
            w.push(1.0, i * 100);
        }
        assert!((w.rate_per_s() - 10.0).abs() < 1e-9);
    }
}
