//! The window that paces an unpaced producer by its consumer ("max" in the TUI and `bench`):
//! the producer sends a stream's next event only while the events of that stream that are
//! written and not yet analysed, plus its own not yet acknowledged, stay under the window.
//! The pipeline then runs as fast as its slowest stage, and no more than a window of events
//! is ever unconsumed: a broker's retention (the embedded one keeps 5 MiB per partition)
//! never deletes an event before it is read.
//!
//! What is written comes from two sides, each always current: the producer's delivery
//! reports (the offset of each acknowledged message) and the log end the consumer's last
//! fetch saw (which also counts other producers, but stops moving while the consumer's
//! prefetch queue is full). The consumer publishes where it is in each partition it owns.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};

use streamwatch::streams::{PerStream, StreamKind};

/// Unconsumed events per stream the producer may run ahead of the consumer: a fraction of a
/// second of the consumer's pace, and a few MiB per topic, well inside what the embedded
/// broker keeps. A larger window was no faster and held more memory at its peak
/// (docs/perf-journal.md, "Latency at a fixed load").
pub const WINDOW: u64 = 20_000;

/// Partitions per topic the gate follows; a partition beyond is not counted.
const MAX_PARTITIONS: usize = 256;

/// A partition the consumer owns without knowing its position yet.
const UNKNOWN: i64 = -2;

/// Per partition of one stream: -1 where not owned.
struct Marks([AtomicI64; MAX_PARTITIONS]);

impl Marks {
    fn new() -> Self {
        Self(std::array::from_fn(|_| AtomicI64::new(-1)))
    }

    fn get(&self, partition: i32) -> Option<&AtomicI64> {
        self.0.get(usize::try_from(partition).ok()?)
    }
}

/// Shared by one consumer (positions, log ends) and one producer (acknowledged offsets).
pub struct LagGate {
    window: u64,
    /// One past the highest partition seen: the part of the arrays in use.
    span: AtomicUsize,
    /// Whether the consumer has its partitions: until then the gate is closed.
    assigned: AtomicBool,
    /// Per stream: the consumer's position in each partition it owns (-1: not owned).
    positions: PerStream<Marks>,
    /// Per stream: the log end the consumer's last fetch saw.
    fetched_ends: PerStream<Marks>,
    /// Per stream: one past the highest offset the producer had acknowledged.
    acked_ends: PerStream<Marks>,
}

impl std::fmt::Debug for LagGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LagGate")
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl Default for LagGate {
    fn default() -> Self {
        Self::new(WINDOW)
    }
}

impl LagGate {
    pub fn new(window: u64) -> Self {
        Self {
            window,
            span: AtomicUsize::new(0),
            assigned: AtomicBool::new(false),
            positions: PerStream::from_fn(|_| Marks::new()),
            fetched_ends: PerStream::from_fn(|_| Marks::new()),
            acked_ends: PerStream::from_fn(|_| Marks::new()),
        }
    }

    /// The consumer's partitions changed: forget the old positions; `assigned` says whether
    /// it has any.
    pub fn reassigned(&self, assigned: bool) {
        for m in self.positions.values() {
            m.0.iter().for_each(|a| a.store(-1, Ordering::Relaxed));
        }
        self.assigned.store(assigned, Ordering::Release);
    }

    /// Where the consumer is in one of its partitions (`None`: not known yet, which closes
    /// the gate), and the log end its last fetch saw (-1: none yet).
    pub fn consumer_at(&self, stream: StreamKind, partition: i32, position: Option<i64>, end: i64) {
        let position = position.unwrap_or(UNKNOWN);
        let i = stream;
        if let Ok(p) = usize::try_from(partition) {
            self.span
                .fetch_max((p + 1).min(MAX_PARTITIONS), Ordering::Relaxed);
        }
        if let Some(a) = self.positions[i].get(partition) {
            a.store(position, Ordering::Relaxed);
        }
        if let Some(a) = self.fetched_ends[i].get(partition) {
            a.fetch_max(end, Ordering::Relaxed);
        }
    }

    /// The producer's message at `offset` was acknowledged.
    pub fn acked(&self, stream: StreamKind, partition: i32, offset: i64) {
        if let Some(a) = self.acked_ends[stream].get(partition) {
            a.fetch_max(offset + 1, Ordering::Relaxed);
        }
    }

    /// Whether the consumer has its partitions and knows where it is in each, for every one
    /// of `streams`: from then on what is written is read without waiting for its start.
    pub fn ready(&self, streams: &[StreamKind]) -> bool {
        streams.iter().all(|&k| self.lag(k).is_some())
    }

    /// Events of `stream` written to the consumer's partitions and not yet analysed; `None`
    /// until the consumer has its partitions and knows where it is in each.
    pub fn lag(&self, stream: StreamKind) -> Option<u64> {
        if !self.assigned.load(Ordering::Acquire) {
            return None;
        }
        let i = stream;
        let span = self.span.load(Ordering::Relaxed);
        let mut lag = 0u64;
        for (p, pos) in self.positions[i].0[..span].iter().enumerate() {
            let pos = pos.load(Ordering::Relaxed);
            if pos == UNKNOWN {
                return None;
            }
            if pos < 0 {
                continue;
            }
            let end = self.fetched_ends[i].0[p]
                .load(Ordering::Relaxed)
                .max(self.acked_ends[i].0[p].load(Ordering::Relaxed));
            lag += (end - pos).max(0).unsigned_abs();
        }
        Some(lag)
    }

    /// How many more events of `stream` the producer may send, with `in_flight` of its
    /// messages not yet acknowledged: 0 while the window is full or the consumer has no
    /// partitions yet.
    pub fn credit(&self, stream: StreamKind, in_flight: u64) -> u64 {
        self.lag(stream).map_or(0, |l| {
            self.window.saturating_sub(l.saturating_add(in_flight))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_once_every_stream_has_its_positions() {
        let g = LagGate::new(100);
        let both = [StreamKind::Sensor, StreamKind::Log];
        assert!(!g.ready(&both), "no partitions yet");
        g.reassigned(true);
        g.consumer_at(StreamKind::Sensor, 0, Some(5), 5);
        g.consumer_at(StreamKind::Log, 0, None, -1);
        assert!(!g.ready(&both), "a log partition's position is not known");
        assert!(g.ready(&[StreamKind::Sensor]));
        g.consumer_at(StreamKind::Log, 0, Some(0), 0);
        assert!(g.ready(&both));
        g.reassigned(false);
        assert!(!g.ready(&both), "partitions taken away");
    }

    #[test]
    fn closed_until_assigned_then_bounded_by_the_window() {
        let g = LagGate::new(100);
        assert_eq!(g.credit(StreamKind::Sensor, 0), 0);
        g.reassigned(true);
        g.consumer_at(StreamKind::Sensor, 0, Some(10), 40);
        g.consumer_at(StreamKind::Sensor, 1, Some(0), 0);
        assert_eq!(g.lag(StreamKind::Sensor), Some(30));
        // Acknowledged writes count before the consumer's fetch sees them.
        g.acked(StreamKind::Sensor, 1, 29);
        assert_eq!(g.lag(StreamKind::Sensor), Some(60));
        assert_eq!(g.credit(StreamKind::Sensor, 39), 1);
        assert_eq!(g.credit(StreamKind::Sensor, 40), 0);
        // A partition the consumer does not own does not count.
        g.acked(StreamKind::Sensor, 2, 1000);
        assert_eq!(g.lag(StreamKind::Sensor), Some(60));
        assert_eq!(g.lag(StreamKind::Log), Some(0), "each stream has its own");
        g.consumer_at(StreamKind::Sensor, 3, None, -1);
        assert_eq!(
            g.credit(StreamKind::Sensor, 0),
            0,
            "a partition not yet placed"
        );
        g.reassigned(false);
        assert_eq!(g.credit(StreamKind::Sensor, 0), 0);
    }
}
