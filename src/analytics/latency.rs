//! End-to-end latency: from when an event was written (its Kafka message's timestamp, else
//! the event's own) to the end of its analysis, models included. Kept as HDR histograms in
//! microseconds (two significant digits): one per second for the last ten seconds, which the
//! screen and the `stats` lines read, and one for the whole run, which `bench` reports.

use hdrhistogram::Histogram;
use serde::Serialize;

/// Seconds the recent figures cover.
pub const WINDOW_S: i64 = 10;
/// Latencies above an hour are recorded as an hour (a backlog read days later).
const MAX_US: u64 = 3_600_000_000;

/// Quantiles of a latency histogram, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    pub count: u64,
}

#[derive(Debug, Clone)]
pub struct LatencyBook {
    /// Slot `s % WINDOW_S` holds second `s` (its number beside it).
    slots: Vec<(i64, Histogram<u64>)>,
    total: Histogram<u64>,
}

fn histogram() -> Histogram<u64> {
    #[allow(clippy::expect_used)]
    Histogram::new_with_bounds(1, MAX_US, 2).expect("constant bounds within hdrhistogram's range")
}

impl Default for LatencyBook {
    fn default() -> Self {
        Self {
            slots: (0..WINDOW_S).map(|_| (i64::MIN, histogram())).collect(),
            total: histogram(),
        }
    }
}

impl LatencyBook {
    /// Records an event written at `written_us` and analysed at `now_us` (µs since the
    /// epoch). A clock that runs behind the writer's counts as no delay.
    pub fn record(&mut self, now_us: i64, written_us: i64) {
        let us = (now_us - written_us).clamp(1, MAX_US as i64) as u64;
        let second = now_us.div_euclid(1_000_000);
        let Some((at, h)) = self.slots.get_mut(second.rem_euclid(WINDOW_S) as usize) else {
            return;
        };
        if *at != second {
            h.reset();
            *at = second;
        }
        h.saturating_record(us);
        self.total.saturating_record(us);
    }

    /// The last `WINDOW_S` seconds before `now_us`.
    pub fn recent(&self, now_us: i64) -> Option<Latency> {
        let second = now_us.div_euclid(1_000_000);
        let mut merged = histogram();
        for (at, h) in &self.slots {
            if second.saturating_sub(*at) < WINDOW_S && *at <= second {
                let _ = merged.add(h);
            }
        }
        quantiles(&merged)
    }

    /// The whole run.
    pub fn total(&self) -> Option<Latency> {
        quantiles(&self.total)
    }

    /// Adds another book's figures (several streams' into one).
    pub fn merge(&mut self, other: &LatencyBook) {
        for ((at, h), (o_at, o)) in self.slots.iter_mut().zip(&other.slots) {
            if *o_at > *at {
                h.reset();
                *at = *o_at;
            }
            if o_at == at {
                let _ = h.add(o);
            }
        }
        let _ = self.total.add(&other.total);
    }
}

fn quantiles(h: &Histogram<u64>) -> Option<Latency> {
    let ms = |us: u64| us as f64 / 1000.0;
    (!h.is_empty()).then(|| Latency {
        p50: ms(h.value_at_quantile(0.5)),
        p99: ms(h.value_at_quantile(0.99)),
        max: ms(h.max()),
        count: h.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000;

    #[test]
    fn quantiles_of_the_last_ten_seconds_and_of_the_run() {
        let mut b = LatencyBook::default();
        let t0 = 1_796_000_000 * S;
        // 100 events of 1..=100 ms in the first second, then one of 5 s twenty seconds on.
        for i in 1..=100 {
            b.record(t0 + i, t0 + i - i * 1000);
        }
        let r = b.recent(t0).unwrap_or_default();
        assert_eq!(r.count, 100);
        assert!(
            (r.p50 - 50.0).abs() <= 0.5 && (r.p99 - 99.0).abs() <= 1.0,
            "{r:?}"
        );
        assert!((r.max - 100.0).abs() <= 1.0, "{r:?}");
        b.record(t0 + 20 * S, t0 + 15 * S);
        let r = b.recent(t0 + 20 * S).unwrap_or_default();
        assert_eq!(r.count, 1, "the first second has left the window");
        assert!((r.p50 - 5000.0).abs() <= 50.0, "{r:?}");
        assert_eq!(b.total().map(|t| t.count), Some(101));
        assert!(b.recent(t0 + 40 * S).is_none());
    }

    #[test]
    fn books_merge_and_a_clock_behind_counts_as_no_delay() {
        let t0 = 1_796_000_000 * S;
        let (mut a, mut b) = (LatencyBook::default(), LatencyBook::default());
        a.record(t0, t0 - 2000);
        b.record(t0, t0 + 5000);
        a.merge(&b);
        let r = a.recent(t0).unwrap_or_default();
        assert_eq!(r.count, 2);
        assert!(r.p50 <= 0.01, "{r:?}");
    }
}
