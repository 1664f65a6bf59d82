//! The same events in the same order, whatever the interleaving: a backlog comes from each
//! partition a fetch at a time, and a fetch returns whole producer batches (about 4,000 of
//! our events each at full speed), so a three-partition backlog is read as runs of thousands
//! of one partition's events, then another's from the same hours, in another interleaving on
//! every run. Models (like a stream's rolling statistics and drift tests) depend on the order
//! they see events in: runs of one 60,000-event backlog gave sensor forest F1s from 0.69 to
//! 0.93, and the log forest fell below the z-score in some. So the engine holds each
//! partition's decoded events here and releases them merged by (event time, partition,
//! offset), once every partition of the topic this consumer owns has an event waiting or has
//! been read to its end (Kafka Streams calls this timestamp synchronisation). Live, every
//! partition is read to its end between fetches, and nothing waits. `bench` leaves it off:
//! it measures the pipeline's own latency.
//!
//! A partition whose end is not known yet (no fetch answered, or its broker down) holds the
//! others back, for `MAX_WAIT` at most: an event waits no longer than that for its turn, so
//! a silent partition cannot stall the consumer, at the price of the order. With
//! `--fit inline`, which promises the same models for the same events on every run, the
//! order is strict (a fetch late on a loaded machine would otherwise change it), and only
//! past `MAX_HELD` events is the oldest released anyway.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::config::FitMode;
use streamwatch::analytics::ingest::Origin;
use streamwatch::streams::Event;

/// Events held at most before the oldest is released whatever the other partitions do.
pub const MAX_HELD: usize = 100_000;

/// How long an event waits for its turn at most, before it is analysed whatever the other
/// partitions do (`Order::Time`).
pub const MAX_WAIT: Duration = Duration::from_millis(250);

/// In which order a consumer analyses its partitions' events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// As librdkafka hands them over (`bench`, which measures the pipeline's own latency).
    Arrival,
    /// Merged in event time; an event waits `MAX_WAIT` at most for its turn (`consume` and
    /// the TUI).
    Time,
    /// Merged in event time however long a partition takes to answer, so the same events
    /// come in the same order on every run, on a loaded machine too (`--fit inline`).
    StrictTime,
}

impl Order {
    /// The order that fitting needs: strict where the same events must give the same
    /// models on every run.
    pub fn for_fit(fit: FitMode) -> Self {
        match fit {
            FitMode::Inline => Order::StrictTime,
            FitMode::Background => Order::Time,
        }
    }

    /// The merge this order needs, if any.
    pub fn merge(self) -> Option<Merge> {
        let max_wait = match self {
            Order::Arrival => return None,
            Order::Time => Some(MAX_WAIT),
            Order::StrictTime => None,
        };
        Some(Merge {
            max_wait,
            ..Merge::default()
        })
    }
}

/// One decoded event waiting for its turn.
pub struct Held {
    pub event: Event,
    pub at: Origin,
    /// When the message was written (ms since the epoch), for the end-to-end latency.
    pub written_ms: i64,
    time_ms: i64,
    held_at: Instant,
}

/// Per (topic index, partition), the events held, in offset order.
#[derive(Default)]
pub struct Merge {
    queues: HashMap<(usize, i32), VecDeque<Held>>,
    held: usize,
    /// How long an event waits for its turn at most (`None`: until its turn comes).
    max_wait: Option<Duration>,
}

impl Merge {
    pub fn hold(&mut self, topic: usize, event: Event, at: Origin, written_ms: i64) {
        let time_ms = event.timestamp().millis();
        self.queues
            .entry((topic, at.partition))
            .or_default()
            .push_back(Held {
                event,
                at,
                written_ms,
                time_ms,
                held_at: Instant::now(),
            });
        self.held += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.held == 0
    }

    /// The offset of a partition's first event still held, if any.
    pub fn oldest(&self, topic: usize, partition: i32) -> Option<i64> {
        let queue = self.queues.get(&(topic, partition))?;
        queue.front().map(|h| h.at.offset)
    }

    /// The next event in merged order, if its turn has come: every partition in `owned` of
    /// its topic has an event waiting or, says `drained`, nothing more to give. With `all`
    /// (at the end, or when the partitions change hands) every held event's turn has come.
    pub fn next(
        &mut self,
        owned: &[(usize, i32)],
        drained: impl Fn(usize, i32) -> bool,
        all: bool,
    ) -> Option<(usize, Held)> {
        let (&key, first) = self
            .queues
            .iter()
            .filter_map(|(k, q)| q.front().map(|h| (k, h)))
            .min_by_key(|(k, h)| (h.time_ms, k.1, h.at.offset, k.0))?;
        let waited_enough = || self.max_wait.is_some_and(|w| first.held_at.elapsed() >= w);
        let waiting = |&(t, p): &(usize, i32)| {
            t != key.0 || self.queues.get(&(t, p)).is_some_and(|q| !q.is_empty()) || drained(t, p)
        };
        // The clock last: a backlog's events mostly go on the partitions' own account.
        if !(all || self.held > MAX_HELD || owned.iter().all(waiting) || waited_enough()) {
            return None;
        }
        let held = self.queues.get_mut(&key)?.pop_front()?;
        self.held -= 1;
        Some((key.0, held))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamwatch::streams::{StreamKind, Timestamp};

    fn event(t: i64) -> Event {
        let mut e = Event::empty(StreamKind::Sensor);
        if let Event::Sensor(s) = &mut e {
            s.timestamp = Timestamp(t);
        }
        e
    }

    fn at(partition: i32, offset: i64) -> Origin {
        Origin {
            stream: StreamKind::Sensor,
            partition,
            offset,
        }
    }

    /// Two interleavings of the same two partitions come out in one order.
    #[test]
    fn any_interleaving_gives_the_same_order() {
        let p0 = [(10, 0), (30, 1), (50, 2)];
        let p1 = [(20, 0), (30, 1), (40, 2)];
        let run = |interleaving: &[(i32, usize)]| {
            let mut m = Merge::default();
            let mut out = Vec::new();
            let mut given = [0usize; 2];
            for &(p, i) in interleaving {
                let (t, o) = if p == 0 { p0[i] } else { p1[i] };
                m.hold(0, event(t), at(p, o), t);
                given[p as usize] += 1;
                let drained = |_: usize, p: i32| given[p as usize] == 3;
                while let Some((_, h)) = m.next(&[(0, 0), (0, 1)], drained, false) {
                    out.push((h.at.partition, h.at.offset));
                }
            }
            while let Some((_, h)) = m.next(&[], |_, _| true, true) {
                out.push((h.at.partition, h.at.offset));
            }
            out
        };
        let a = run(&[(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]);
        let b = run(&[(1, 0), (1, 1), (0, 0), (1, 2), (0, 1), (0, 2)]);
        assert_eq!(a, b);
        assert_eq!(a, vec![(0, 0), (1, 0), (0, 1), (1, 1), (1, 2), (0, 2)]);
    }

    #[test]
    fn a_partition_without_news_holds_the_others_until_it_is_drained() {
        let mut m = Merge::default();
        m.hold(0, event(10), at(0, 0), 10);
        assert!(m.next(&[(0, 0), (0, 1)], |_, _| false, false).is_none());
        assert_eq!(m.oldest(0, 0), Some(0));
        assert!(m.next(&[(0, 0), (0, 1)], |_, p| p == 1, false).is_some());
        assert!(m.is_empty());
        assert_eq!(m.oldest(0, 0), None);
    }

    /// A partition that never answers (its broker down) delays the others' events by
    /// `MAX_WAIT`, not for ever.
    #[test]
    fn a_silent_partition_holds_the_others_for_max_wait_at_most() {
        let mut m = Order::Time.merge().expect("a merge");
        m.hold(0, event(10), at(0, 0), 10);
        let silent = |_: usize, _: i32| false;
        assert!(m.next(&[(0, 0), (0, 1)], silent, false).is_none());
        std::thread::sleep(MAX_WAIT);
        let released = m.next(&[(0, 0), (0, 1)], silent, false);
        assert_eq!(released.map(|(_, h)| h.at.offset), Some(0));
        // Strictly, it waits its turn however long that takes.
        let mut m = Order::StrictTime.merge().expect("a merge");
        m.hold(0, event(10), at(0, 0), 10);
        std::thread::sleep(MAX_WAIT);
        assert!(m.next(&[(0, 0), (0, 1)], silent, false).is_none());
        assert!(Order::Arrival.merge().is_none());
    }
}
