//! Anomaly detectors: building blocks that each answer one question about the newest value.
//! They know nothing of streams or entities; `analyzer` wires them per entity and per stream.

use std::collections::VecDeque;

use super::rolling::{QuantileWindow, SlidingMoments};

/// z-score against a rolling baseline, with a warm-up before it may fire and the option to
/// keep flagged values out of the baseline (so one incident does not hide the next). A long
/// run of flagged values is accepted into the baseline anyway: that is a level shift, not an
/// incident, and the detector must not stay blind to the new normal.
#[derive(Debug, Clone)]
pub struct ZScore {
    window: SlidingMoments,
    cap: usize,
    threshold: f64,
    warmup: usize,
    exclude: bool,
    excluded_run: usize,
}

/// The z-score of a value and whether it crosses the threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZOutcome {
    pub z: f64,
    pub anomalous: bool,
    pub mean: f64,
    pub std: f64,
}

impl ZScore {
    pub fn new(window: usize, threshold: f64, warmup: usize, exclude: bool) -> Self {
        Self {
            window: SlidingMoments::with_capacity(window.max(1) + 1),
            cap: window.max(1),
            threshold,
            warmup,
            exclude,
            excluded_run: 0,
        }
    }

    /// Scores `x` against the baseline, then learns from it (unless excluded). A value that
    /// is not there (not finite: a metric a message left out) scores 0 and teaches nothing.
    pub fn observe(&mut self, x: f64) -> ZOutcome {
        if !x.is_finite() {
            let (mean, std) = self.window.mean_std();
            return ZOutcome {
                z: 0.0,
                anomalous: false,
                mean,
                std,
            };
        }
        let out = self.score(x);
        if !out.anomalous {
            self.excluded_run = 0;
        } else if self.exclude && self.excluded_run < self.window_cap() / 2 {
            self.excluded_run += 1;
            return out;
        }
        // Normal values, and anomalous ones once the run is long enough to be a level
        // shift, join the baseline.
        self.window.push(x);
        if self.window.len() > self.cap {
            self.window.pop();
        }
        out
    }

    /// The z-score of `x` against the current baseline, without learning from it.
    pub fn score(&self, x: f64) -> ZOutcome {
        let (mean, std) = self.window.mean_std();
        if self.window.len() < self.warmup.max(2) {
            return ZOutcome {
                z: 0.0,
                anomalous: false,
                mean,
                std,
            };
        }
        // A flat baseline still has measurement resolution; without a floor any change
        // from a constant signal would score infinity.
        let floor = (mean.abs() * 1e-6).max(1e-6);
        let z = (x - mean) / std.max(floor);
        ZOutcome {
            z,
            anomalous: z.abs() >= self.threshold,
            mean,
            std,
        }
    }

    fn window_cap(&self) -> usize {
        self.window.len().max(self.warmup).max(2)
    }

    pub fn baseline(&self) -> &SlidingMoments {
        &self.window
    }
}

/// Static bounds from configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl Threshold {
    /// The bound crossed, if any.
    pub fn breach(&self, x: f64) -> Option<f64> {
        match (self.min, self.max) {
            (Some(lo), _) if x < lo => Some(lo),
            (_, Some(hi)) if x > hi => Some(hi),
            _ => None,
        }
    }
}

/// Counts consecutive `true`s.
#[derive(Debug, Clone, Copy, Default)]
pub struct Run {
    pub len: u32,
}

impl Run {
    pub fn step(&mut self, hit: bool) -> u32 {
        self.len = if hit { self.len + 1 } else { 0 };
        self.len
    }
}

/// Times a `Velocity` keeps: counts saturate here, well above the thresholds it is used with
/// (5 transactions in 10 s, critical at 10), and the times stay inline in the entity's state.
pub const VELOCITY_CAP: usize = 16;

/// How many events fell within the last `span_ms` (e.g. a customer's transaction velocity),
/// from a ring of the latest `VELOCITY_CAP` event times.
#[derive(Debug, Clone, Copy, Default)]
pub struct Velocity {
    times: [i64; VELOCITY_CAP],
    len: usize,
    next: usize,
}

impl Velocity {
    /// Records an event at `t` and returns the count within `span_ms` up to it (out-of-order
    /// times are fine: later ones do not count).
    pub fn record(&mut self, t: i64, span_ms: i64) -> usize {
        self.times[self.next] = t;
        self.next = (self.next + 1) % VELOCITY_CAP;
        self.len = (self.len + 1).min(VELOCITY_CAP);
        self.kept()
            .filter(|&f| f >= t.saturating_sub(span_ms) && f <= t)
            .count()
    }

    /// The count within `span_ms` of `t` without recording.
    pub fn count(&self, t: i64, span_ms: i64) -> usize {
        self.kept()
            .filter(|&f| f >= t.saturating_sub(span_ms))
            .count()
    }

    fn kept(&self) -> impl Iterator<Item = i64> + '_ {
        self.times[..self.len].iter().copied()
    }
}

/// A share of "bad" events over the last `window` events, compared with its own slow
/// baseline (EWMA, learnt only while the share is not alarming).
#[derive(Debug, Clone)]
pub struct ShareVsBaseline {
    recent: VecDeque<bool>,
    cap: usize,
    bad: usize,
    baseline: Option<f64>,
    alpha: f64,
}

impl ShareVsBaseline {
    pub fn new(window: usize) -> Self {
        Self {
            recent: VecDeque::with_capacity(window.max(1) + 1),
            cap: window.max(1),
            bad: 0,
            baseline: None,
            alpha: 0.01,
        }
    }

    /// Records one event; returns (current share, baseline, alarm).
    pub fn observe(&mut self, bad: bool, min_share: f64, factor: f64) -> (f64, f64, bool) {
        self.recent.push_back(bad);
        self.bad += usize::from(bad);
        if self.recent.len() > self.cap && self.recent.pop_front() == Some(true) {
            self.bad -= 1;
        }
        let share = self.share();
        let base = self.baseline.unwrap_or(share);
        let full = self.recent.len() >= 20;
        let alarm = full && share >= min_share && share >= base * factor;
        if full && !alarm {
            self.baseline = Some(base + self.alpha * (share - base));
        }
        (share, base, alarm)
    }

    pub fn share(&self) -> f64 {
        if self.recent.is_empty() {
            0.0
        } else {
            self.bad as f64 / self.recent.len() as f64
        }
    }
}

/// A rolling quantile compared with its own slow baseline: latency degradation.
#[derive(Debug, Clone)]
pub struct QuantileVsBaseline {
    window: QuantileWindow,
    q: f64,
    baseline: Option<f64>,
    alpha: f64,
}

impl QuantileVsBaseline {
    pub fn new(window: usize, q: f64) -> Self {
        Self {
            window: QuantileWindow::new(window),
            q,
            baseline: None,
            alpha: 0.01,
        }
    }

    /// Records a value; returns (current quantile, baseline, alarm).
    /// The quantile and its baseline after `x`, and whether the quantile is `factor` times
    /// the baseline. A value that is not there changes nothing and does not alarm.
    pub fn observe(&mut self, x: f64, factor: f64) -> (f64, f64, bool) {
        if !x.is_finite() {
            let cur = self.window.quantile(self.q).unwrap_or(f64::NAN);
            return (cur, self.baseline.unwrap_or(cur), false);
        }
        self.window.push(x);
        let cur = self.window.quantile(self.q).unwrap_or(x);
        let base = self.baseline.unwrap_or(cur);
        let full = self.window.len() >= 40;
        let alarm = full && cur > base * factor;
        if full && !alarm {
            self.baseline = Some(base + self.alpha * (cur - base));
        }
        (cur, base, alarm)
    }

    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.window.quantile(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zscore_waits_for_warmup_then_flags_outliers() {
        let mut z = ZScore::new(100, 3.0, 30, true);
        for i in 0..29 {
            assert!(!z.observe(if i % 2 == 0 { 10.0 } else { 11.0 }).anomalous);
        }
        assert!(!z.observe(10.5).anomalous);
        let out = z.observe(20.0);
        assert!(out.anomalous && out.z > 3.0, "{out:?}");
    }

    #[test]
    fn excluded_outliers_do_not_hide_the_next_one() {
        let mut z = ZScore::new(8, 3.0, 5, true);
        for i in 0..50 {
            z.observe(10.0 + (i % 5) as f64 * 0.1);
        }
        assert!(z.observe(30.0).anomalous);
        assert!(z.observe(30.0).anomalous, "second spike still flagged");
        let mut naive = ZScore::new(8, 3.0, 5, false);
        for i in 0..50 {
            naive.observe(10.0 + (i % 5) as f64 * 0.1);
        }
        naive.observe(30.0);
        assert!(
            !naive.observe(30.0).anomalous,
            "without exclusion the first spike widens the baseline"
        );
    }

    #[test]
    fn a_level_shift_is_eventually_accepted() {
        let mut z = ZScore::new(40, 3.0, 10, true);
        for i in 0..40 {
            z.observe(10.0 + (i % 3) as f64 * 0.1);
        }
        let flagged = (0..200)
            .filter(|i| z.observe(50.0 + (i % 3) as f64 * 0.1).anomalous)
            .count();
        assert!(flagged < 60, "flagged {flagged} of 200 after the shift");
    }

    #[test]
    fn threshold_reports_the_bound() {
        let t = Threshold {
            min: Some(5.0),
            max: Some(35.0),
        };
        assert_eq!(t.breach(36.0), Some(35.0));
        assert_eq!(t.breach(4.0), Some(5.0));
        assert_eq!(t.breach(20.0), None);
    }

    #[test]
    fn velocity_stays_bounded_when_time_goes_backwards() {
        let mut v = Velocity::default();
        for i in 0..10_000 {
            v.record(1_000_000 - i, 5000);
        }
        assert_eq!(v.count(0, i64::MAX), VELOCITY_CAP);
    }

    #[test]
    fn velocity_saturates_at_its_cap() {
        let mut v = Velocity::default();
        let counts: Vec<usize> = (0..40).map(|i| v.record(i * 10, 10_000)).collect();
        assert_eq!(
            counts[..VELOCITY_CAP],
            (1..=VELOCITY_CAP).collect::<Vec<_>>()
        );
        assert!(counts[VELOCITY_CAP..].iter().all(|&c| c == VELOCITY_CAP));
    }

    #[test]
    fn velocity_counts_within_span() {
        let mut v = Velocity::default();
        for t in [0, 1000, 2000, 9000] {
            v.record(t, 5000);
        }
        assert_eq!(v.record(9500, 5000), 2);
    }

    #[test]
    fn share_alarm_against_own_baseline() {
        let mut s = ShareVsBaseline::new(50);
        for i in 0..500 {
            let (_, _, alarm) = s.observe(i % 50 == 0, 0.2, 3.0);
            assert!(!alarm);
        }
        let fired = (0..50).any(|i| s.observe(i % 2 == 0, 0.2, 3.0).2);
        assert!(fired);
    }
}
