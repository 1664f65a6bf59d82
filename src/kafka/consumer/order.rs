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

use std::collections::VecDeque;
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

/// Per topic (by index), per partition (by number), the events held, in offset order. A
/// topic's turn depends only on its own partitions: its events go to its own shard, so one
/// topic waiting for a partition does not hold another's events.
#[derive(Default)]
pub struct Merge {
    topics: Vec<Vec<VecDeque<Held>>>,
    held: usize,
    /// How long an event waits for its turn at most (`None`: until its turn comes).
    max_wait: Option<Duration>,
}

impl Merge {
    /// Holds an event until its turn; `now` is when it came (read once per poll, not per
    /// event). An event of a partition with no number (never one from a fetch) is handed
    /// back, to be analysed at once.
    #[must_use]
    pub fn hold(
        &mut self,
        topic: usize,
        event: Event,
        at: Origin,
        written_ms: i64,
        now: Instant,
    ) -> Option<Held> {
        let held = Held {
            time_ms: event.timestamp().millis(),
            event,
            at,
            written_ms,
            held_at: now,
        };
        let Ok(partition) = usize::try_from(at.partition) else {
            return Some(held);
        };
        if self.topics.len() <= topic {
            self.topics.resize_with(topic + 1, Vec::new);
        }
        let queues = &mut self.topics[topic];
        if queues.len() <= partition {
            queues.resize_with(partition + 1, VecDeque::new);
        }
        queues[partition].push_back(held);
        self.held += 1;
        None
    }

    pub fn is_empty(&self) -> bool {
        self.held == 0
    }

    /// The topics that have events held, by index.
    pub fn topics(&self) -> std::ops::Range<usize> {
        0..self.topics.len()
    }

    fn queue(&self, topic: usize, partition: i32) -> Option<&VecDeque<Held>> {
        let partition = usize::try_from(partition).ok()?;
        self.topics.get(topic)?.get(partition)
    }

    /// The offset of a partition's first event still held, if any.
    pub fn oldest(&self, topic: usize, partition: i32) -> Option<i64> {
        self.queue(topic, partition)?.front().map(|h| h.at.offset)
    }

    /// The next event of `topic` in merged order, if its turn has come: every partition of
    /// the topic in `owned` has an event waiting or, says `drained`, nothing more to give.
    /// With `all` (at the end, or when the partitions change hands) every held event's turn
    /// has come.
    pub fn next(
        &mut self,
        topic: usize,
        owned: &[(usize, i32)],
        drained: impl Fn(usize, i32) -> bool,
        all: bool,
    ) -> Option<Held> {
        let queues = self.topics.get(topic)?;
        let (first, head) = queues
            .iter()
            .enumerate()
            .filter_map(|(p, q)| q.front().map(|h| (p, h)))
            .min_by_key(|(_, h)| (h.time_ms, h.at.partition, h.at.offset))?;
        let waiting = |&(t, p): &(usize, i32)| {
            t != topic || self.queue(t, p).is_some_and(|q| !q.is_empty()) || drained(t, p)
        };
        // The clock last: a backlog's events mostly go on the partitions' own account.
        let waited_enough = || self.max_wait.is_some_and(|w| head.held_at.elapsed() >= w);
        if !(all || self.held > MAX_HELD || owned.iter().all(waiting) || waited_enough()) {
            return None;
        }
        let held = self.topics[topic][first].pop_front()?;
        self.held -= 1;
        Some(held)
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

    fn hold(m: &mut Merge, e: Event, at: Origin, written_ms: i64) {
        assert!(m.hold(0, e, at, written_ms, Instant::now()).is_none());
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
                hold(&mut m, event(t), at(p, o), t);
                given[p as usize] += 1;
                let drained = |_: usize, p: i32| given[p as usize] == 3;
                while let Some(h) = m.next(0, &[(0, 0), (0, 1)], drained, false) {
                    out.push((h.at.partition, h.at.offset));
                }
            }
            while let Some(h) = m.next(0, &[], |_, _| true, true) {
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
        hold(&mut m, event(10), at(0, 0), 10);
        assert!(m.next(0, &[(0, 0), (0, 1)], |_, _| false, false).is_none());
        assert_eq!(m.oldest(0, 0), Some(0));
        assert!(m.next(0, &[(0, 0), (0, 1)], |_, p| p == 1, false).is_some());
        assert!(m.is_empty());
        assert_eq!(m.oldest(0, 0), None);
    }

    /// Topics go to shards of their own: a topic waiting for one of its partitions does not
    /// hold another topic's events, even later ones.
    #[test]
    fn a_topic_waits_for_its_own_partitions_only() {
        let mut m = Order::StrictTime.merge().expect("a merge");
        hold(&mut m, event(10), at(0, 0), 10);
        assert!(m.hold(1, event(20), at(0, 0), 20, Instant::now()).is_none());
        let owned = [(0, 0), (0, 1), (1, 0)];
        let silent = |_: usize, _: i32| false;
        assert!(m.next(0, &owned, silent, false).is_none());
        let other = m.next(1, &owned, silent, false);
        assert_eq!(other.map(|h| h.time_ms), Some(20));
        assert_eq!(m.oldest(0, 0), Some(0));
        assert_eq!(m.oldest(1, 0), None);
    }

    /// A partition that never answers (its broker down) delays the others' events by
    /// `MAX_WAIT`, not for ever.
    #[test]
    fn a_silent_partition_holds_the_others_for_max_wait_at_most() {
        let mut m = Order::Time.merge().expect("a merge");
        hold(&mut m, event(10), at(0, 0), 10);
        let silent = |_: usize, _: i32| false;
        assert!(m.next(0, &[(0, 0), (0, 1)], silent, false).is_none());
        std::thread::sleep(MAX_WAIT);
        let released = m.next(0, &[(0, 0), (0, 1)], silent, false);
        assert_eq!(released.map(|h| h.at.offset), Some(0));
        // Strictly, it waits its turn however long that takes.
        let mut m = Order::StrictTime.merge().expect("a merge");
        hold(&mut m, event(10), at(0, 0), 10);
        std::thread::sleep(MAX_WAIT);
        assert!(m.next(0, &[(0, 0), (0, 1)], silent, false).is_none());
        assert!(Order::Arrival.merge().is_none());
    }
}
