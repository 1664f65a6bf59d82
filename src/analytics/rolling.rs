//! Rolling windows that update in O(1) per event, exact where it can be and numerically
//! stable where it cannot.
//!
//! * Moments (count, sum, mean, std) use a two-stack sliding aggregate: new values fold into
//!   a running Welford aggregate, old values leave by popping precomputed suffix aggregates,
//!   and aggregates combine with Chan's formula. Nothing is ever subtracted, so there is no
//!   cancellation when large values leave a window of small ones. Values are folded in
//!   relative to a pivot (a recent value, renewed whenever the front stack is rebuilt), so a
//!   small spread at an offset near 1e9 keeps all its digits.
//! * Min and max use monotonic deques: exact.
//! * Quantiles keep the window sorted (binary-search insert and remove), exact over the window.
//!
//! A window is bounded by count, by time span, or both.

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
        let (na, nb, nf) = (a.n as f64, b.n as f64, n as f64);
        let delta = b.mean - a.mean;
        Self {
            n,
            sum: a.sum + b.sum,
            mean: a.mean + delta * nb / nf,
            m2: a.m2 + b.m2 + delta * delta * na * nb / nf,
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
}

/// Most values a time window holds (a minute at 3,000 events/s).
pub const MAX_SPAN_VALUES: usize = 180_000;

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

/// A rolling window of f64 values with event times in milliseconds.
#[derive(Debug, Clone)]
pub struct Window {
    bounds: Bounds,
    /// Values in arrival order with their time and arrival index.
    values: VecDeque<(f64, i64)>,
    /// Suffix aggregates of the oldest `front.len()` values; last = all of them.
    front: Vec<Moments>,
    /// Aggregate of the values newer than the front.
    back: Moments,
    mins: VecDeque<(u64, f64)>,
    maxs: VecDeque<(u64, f64)>,
    /// Arrival index of the next value; the oldest is `next - values.len()`.
    next: u64,
    /// Moments are of `x - pivot`.
    pivot: f64,
}

impl Window {
    pub fn new(bounds: Bounds) -> Self {
        let cap = bounds.count.unwrap_or(64).min(1024);
        Self {
            bounds,
            values: VecDeque::with_capacity(cap),
            front: Vec::with_capacity(cap),
            back: Moments::default(),
            mins: VecDeque::new(),
            maxs: VecDeque::new(),
            next: 0,
            pivot: f64::NAN,
        }
    }

    pub fn with_count(n: usize) -> Self {
        Self::new(Bounds::count(n))
    }

    /// Adds a value observed at `time_ms` and evicts what falls out of the bounds.
    pub fn push(&mut self, x: f64, time_ms: i64) {
        let i = self.next;
        self.next += 1;
        if self.values.is_empty() {
            self.pivot = x;
            self.front.clear();
            self.back = Moments::default();
        }
        self.values.push_back((x, time_ms));
        self.back.push(x - self.pivot);
        while self.mins.back().is_some_and(|&(_, v)| v >= x) {
            self.mins.pop_back();
        }
        self.mins.push_back((i, x));
        while self.maxs.back().is_some_and(|&(_, v)| v <= x) {
            self.maxs.pop_back();
        }
        self.maxs.push_back((i, x));
        self.evict(time_ms);
    }

    /// Evicts values older than the span relative to `now_ms` (also called by `push`).
    pub fn evict(&mut self, now_ms: i64) {
        if let Some(cap) = self.bounds.count {
            while self.values.len() > cap {
                self.pop_oldest();
            }
        }
        if let Some(span) = self.bounds.span_ms {
            while self.values.front().is_some_and(|&(_, t)| t < now_ms - span) {
                self.pop_oldest();
            }
        }
    }

    fn pop_oldest(&mut self) {
        if self.values.pop_front().is_none() {
            return;
        }
        if self.front.is_empty() {
            self.flip();
        }
        self.front.pop();
        if self.front.is_empty() && self.values.is_empty() {
            self.back = Moments::default();
        }
        let oldest = self.next - self.values.len() as u64;
        while self.mins.front().is_some_and(|&(i, _)| i < oldest) {
            self.mins.pop_front();
        }
        while self.maxs.front().is_some_and(|&(i, _)| i < oldest) {
            self.maxs.pop_front();
        }
    }

    /// Moves every value (still including the one being popped, which is at the old front
    /// position) into the front stack as suffix aggregates. `values` already lost the popped
    /// one, so it is rebuilt from `back`'s members: the popped value plus `values`.
    fn flip(&mut self) {
        // The popped value's aggregate is irrelevant once popped: build suffixes of the
        // remaining values plus a placeholder that `pop_oldest` removes right away.
        self.front.clear();
        if let Some(&(newest, _)) = self.values.back() {
            self.pivot = newest;
        }
        let mut acc = Moments::default();
        for &(x, _) in self.values.iter().rev() {
            acc = Moments::merge(&Moments::of(x - self.pivot), &acc);
            self.front.push(acc);
        }
        self.front.push(acc);
        self.back = Moments::default();
    }

    /// Moments of the window in absolute terms.
    fn moments(&self) -> Moments {
        let m = match self.front.last() {
            Some(f) => Moments::merge(f, &self.back),
            None => self.back,
        };
        if m.n == 0 {
            return m;
        }
        Moments {
            n: m.n,
            sum: m.sum + m.n as f64 * self.pivot,
            mean: m.mean + self.pivot,
            m2: m.m2,
        }
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

    /// Mean and standard deviation in one pass over the aggregates.
    pub fn mean_std(&self) -> (f64, f64) {
        let m = self.moments();
        (m.mean, m.std())
    }

    pub fn std(&self) -> f64 {
        self.moments().std()
    }

    pub fn min(&self) -> Option<f64> {
        self.mins.front().map(|&(_, v)| v)
    }

    pub fn max(&self) -> Option<f64> {
        self.maxs.front().map(|&(_, v)| v)
    }

    pub fn last(&self) -> Option<f64> {
        self.values.back().map(|&(v, _)| v)
    }

    /// Values in arrival order (for reference computations and quantile rebuilds).
    pub fn values(&self) -> impl ExactSizeIterator<Item = f64> + '_ {
        self.values.iter().map(|&(v, _)| v)
    }

    /// Values per second between the oldest and the newest value's time.
    pub fn rate_per_s(&self) -> f64 {
        match (self.values.front(), self.values.back()) {
            (Some(&(_, a)), Some(&(_, b))) if b > a => {
                (self.values.len() - 1) as f64 * 1000.0 / (b - a) as f64
            }
            _ => 0.0,
        }
    }

    pub fn stats(&self) -> Stats {
        let m = self.moments();
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

/// Exact quantiles over a count window, kept sorted: O(log n) search and an O(n) memmove
/// per update, which for the window sizes used here (≤ a few thousand) is tens of ns.
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
        let at = self.sorted.partition_point(|v| *v < x);
        self.sorted.insert(at, x);
        if self.order.len() > self.cap
            && let Some(old) = self.order.pop_front()
        {
            let at = self.sorted.partition_point(|v| *v < old);
            self.sorted.remove(at);
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
        if self.sorted.is_empty() {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * self.sorted.len() as f64).ceil() as usize;
        Some(self.sorted[rank.saturating_sub(1).min(self.sorted.len() - 1)])
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
        let (sum, mean, std, min, max) = naive(window);
        let abs_sum: f64 = window.iter().map(|x| x.abs()).sum();
        let s = w.stats();
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
        fn quantiles_match_sorting(xs in proptest::collection::vec(-1e6..1e6f64, 1..300), cap in 1..120usize, q in 0.0..=1.0f64) {
            let mut w = QuantileWindow::new(cap);
            for (i, &x) in xs.iter().enumerate() {
                w.push(x);
                let lo = (i + 1).saturating_sub(cap);
                let mut sorted = xs[lo..=i].to_vec();
                sorted.sort_by(f64::total_cmp);
                let rank = ((q * sorted.len() as f64).ceil() as usize).max(1);
                prop_assert_eq!(w.quantile(q), Some(sorted[rank - 1]));
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
    fn rate_counts_values_per_second() {
        let mut w = Window::new(Bounds::span_ms(60_000));
        for i in 0..101 {
            w.push(1.0, i * 100);
        }
        assert!((w.rate_per_s() - 10.0).abs() < 1e-9);
    }
}
