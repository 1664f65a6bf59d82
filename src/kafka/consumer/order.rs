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
//! other partitions of its topic back (other topics go on), for `MAX_WAIT` at most: an event
//! waits no longer than that for its turn, so a silent partition cannot stall the consumer,
//! at the price of the order. With
//! `--fit inline`, which promises the same models for the same events on every run, the
//! order is strict (a fetch late on a loaded machine would otherwise change it), and only
//! past `MAX_HELD` events is the oldest released anyway.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
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

/// The order of events in a topic: event time, then partition and offset (a tie-break that
/// is the same on every run).
type Key = (i64, i32, i64);

fn key(h: &Held) -> Key {
    (h.time_ms, h.at.partition, h.at.offset)
}

/// One topic's held events: per partition (by number), in offset order, and the first of
/// each partition that holds any, ordered, so that the next event is found in O(log n) of
/// the topic's partitions.
#[derive(Default)]
struct TopicHeld {
    queues: Vec<VecDeque<Held>>,
    fronts: BinaryHeap<Reverse<Key>>,
}

/// Per topic (by index), the events held. A topic's turn depends only on its own
/// partitions: its events go to its own shard, so one topic waiting for a partition does
/// not hold another's events.
#[derive(Default)]
pub struct Merge {
    topics: Vec<TopicHeld>,
    held: usize,
    /// How long an event waits for its turn at most (`None`: until its turn comes).
    max_wait: Option<Duration>,
}

/// An owned partition, by (topic index, partition), and whether it has been read to the end
/// its last fetch reported (nothing more to give for now).
pub type OwnedPart = (usize, i32, bool);

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
            self.topics.resize_with(topic + 1, TopicHeld::default);
        }
        let t = &mut self.topics[topic];
        if t.queues.len() <= partition {
            t.queues.resize_with(partition + 1, VecDeque::new);
        }
        if t.queues[partition].is_empty() {
            t.fronts.push(Reverse(key(&held)));
        }
        t.queues[partition].push_back(held);
        self.held += 1;
        None
    }

    pub fn is_empty(&self) -> bool {
        self.held == 0
    }

    /// The topics that have held events, by index.
    pub fn topics(&self) -> std::ops::Range<usize> {
        0..self.topics.len()
    }

    fn queue(&self, topic: usize, partition: i32) -> Option<&VecDeque<Held>> {
        let partition = usize::try_from(partition).ok()?;
        self.topics.get(topic)?.queues.get(partition)
    }

    /// The offset of a partition's first event still held, if any.
    pub fn oldest(&self, topic: usize, partition: i32) -> Option<i64> {
        self.queue(topic, partition)?.front().map(|h| h.at.offset)
    }

    /// `topic`'s events whose turn has come, in merged order: an event's turn comes once
    /// every partition of the topic in `owned` has an event waiting or nothing more to give.
    /// With `all` (at the end, or when the partitions change hands) every held event's turn
    /// has come. Neither `owned` nor the queues change while the events are taken, so which
    /// partitions the topic waits for is worked out once, and kept as events are taken.
    pub fn turns<'a>(&'a mut self, topic: usize, owned: &'a [OwnedPart], all: bool) -> Turns<'a> {
        let waiting_for = owned
            .iter()
            .filter(|&&(t, p, drained)| {
                t == topic && !drained && self.queue(t, p).is_none_or(VecDeque::is_empty)
            })
            .count();
        Turns {
            merge: self,
            topic,
            owned,
            all,
            waiting_for,
        }
    }
}

/// See `Merge::turns`.
pub struct Turns<'a> {
    merge: &'a mut Merge,
    topic: usize,
    owned: &'a [OwnedPart],
    all: bool,
    /// Owned partitions of the topic with nothing held and more to give.
    waiting_for: usize,
}

impl Iterator for Turns<'_> {
    type Item = Held;

    fn next(&mut self) -> Option<Held> {
        let m = &mut *self.merge;
        let over = m.held > MAX_HELD;
        let t = m.topics.get_mut(self.topic)?;
        let &Reverse((_, partition, _)) = t.fronts.peek()?;
        let slot = usize::try_from(partition).ok()?;
        let head = t.queues.get(slot)?.front()?;
        // The clock last: a backlog's events mostly go on the partitions' own account.
        let waited_enough = || m.max_wait.is_some_and(|w| head.held_at.elapsed() >= w);
        if !(self.all || over || self.waiting_for == 0 || waited_enough()) {
            return None;
        }
        t.fronts.pop();
        let queue = &mut t.queues[slot];
        let held = queue.pop_front()?;
        m.held -= 1;
        match queue.front() {
            Some(next) => t.fronts.push(Reverse(key(next))),
            None => {
                let topic = self.topic;
                let more = |&(t, p, drained): &OwnedPart| t == topic && p == partition && !drained;
                if self.owned.iter().any(more) {
                    self.waiting_for += 1;
                }
            }
        }
        Some(held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
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

    /// Topic 0's events whose turn has come, as (partition, offset).
    fn take(m: &mut Merge, owned: &[OwnedPart], all: bool) -> Vec<(i32, i64)> {
        m.turns(0, owned, all)
            .map(|h| (h.at.partition, h.at.offset))
            .collect()
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
                let owned = [(0, 0, given[0] == 3), (0, 1, given[1] == 3)];
                out.extend(take(&mut m, &owned, false));
            }
            out.extend(take(&mut m, &[], true));
            out
        };
        let a = run(&[(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]);
        let b = run(&[(1, 0), (1, 1), (0, 0), (1, 2), (0, 1), (0, 2)]);
        assert_eq!(a, b);
        assert_eq!(a, vec![(0, 0), (1, 0), (0, 1), (1, 1), (1, 2), (0, 2)]);
    }

    /// The merge as plainly as it can be written: the oldest first event of all the
    /// partitions, by a scan, if every partition has one or has given all it has.
    struct Plain {
        queues: Vec<VecDeque<(i64, i32, i64)>>,
    }

    impl Plain {
        fn take(&mut self, drained: &[bool], all: bool) -> Vec<(i32, i64)> {
            let mut out = Vec::new();
            loop {
                let turn = all
                    || (self.queues.iter().zip(drained))
                        .all(|(q, &drained)| !q.is_empty() || drained);
                let oldest = (self.queues.iter().enumerate())
                    .filter_map(|(i, q)| q.front().map(|&k| (k, i)))
                    .min();
                let (Some((_, i)), true) = (oldest, turn) else {
                    return out;
                };
                let (_, p, o) = self.queues[i].pop_front().expect("a first event");
                out.push((p, o));
            }
        }
    }

    proptest! {
        /// Against the plain scan: the same events released at the same moments, in the
        /// same order, whatever the event times (not in order within a partition either)
        /// and whatever the order in which the partitions' events come.
        #[test]
        fn releases_as_a_plain_scan_does(
            times in proptest::collection::vec(proptest::collection::vec(0i64..40, 0..12), 1..5),
            arrivals in proptest::collection::vec(0usize..5, 0..80),
        ) {
            let n = times.len();
            let mut m = Merge::default();
            let mut plain = Plain { queues: vec![VecDeque::new(); n] };
            let mut given = vec![0usize; n];
            let step = |m: &mut Merge, plain: &mut Plain, given: &[usize], all: bool| {
                let drained: Vec<bool> = (0..n).map(|p| given[p] == times[p].len()).collect();
                let owned: Vec<OwnedPart> =
                    (0..n).map(|p| (0, p as i32, drained[p])).collect();
                (take(m, &owned, all), plain.take(&drained, all))
            };
            for &a in &arrivals {
                let p = a % n;
                let Some(&t) = times[p].get(given[p]) else { continue };
                let offset = given[p] as i64;
                hold(&mut m, event(t), at(p as i32, offset), t);
                plain.queues[p].push_back((t, p as i32, offset));
                given[p] += 1;
                let (ours, theirs) = step(&mut m, &mut plain, &given, false);
                prop_assert_eq!(ours, theirs);
            }
            let (ours, theirs) = step(&mut m, &mut plain, &given, true);
            prop_assert_eq!(ours, theirs);
            prop_assert!(m.is_empty());
        }
    }

    #[test]
    fn a_partition_without_news_holds_the_others_until_it_is_drained() {
        let mut m = Merge::default();
        hold(&mut m, event(10), at(0, 0), 10);
        assert!(take(&mut m, &[(0, 0, false), (0, 1, false)], false).is_empty());
        assert_eq!(m.oldest(0, 0), Some(0));
        assert_eq!(
            take(&mut m, &[(0, 0, false), (0, 1, true)], false),
            [(0, 0)]
        );
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
        let owned = [(0, 0, false), (0, 1, false), (1, 0, false)];
        assert!(take(&mut m, &owned, false).is_empty());
        let other: Vec<i64> = m.turns(1, &owned, false).map(|h| h.time_ms).collect();
        assert_eq!(other, [20]);
        assert_eq!(m.oldest(0, 0), Some(0));
        assert_eq!(m.oldest(1, 0), None);
    }

    /// A partition that never answers (its broker down) delays the others' events by
    /// `MAX_WAIT`, not for ever.
    #[test]
    fn a_silent_partition_holds_the_others_for_max_wait_at_most() {
        let silent = [(0, 0, false), (0, 1, false)];
        let mut m = Order::Time.merge().expect("a merge");
        hold(&mut m, event(10), at(0, 0), 10);
        assert!(take(&mut m, &silent, false).is_empty());
        std::thread::sleep(MAX_WAIT);
        assert_eq!(take(&mut m, &silent, false), [(0, 0)]);
        // Strictly, it waits its turn however long that takes.
        let mut m = Order::StrictTime.merge().expect("a merge");
        hold(&mut m, event(10), at(0, 0), 10);
        std::thread::sleep(MAX_WAIT);
        assert!(take(&mut m, &silent, false).is_empty());
        assert!(Order::Arrival.merge().is_none());
    }
}
