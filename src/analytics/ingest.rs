//! Accounting of what arrives: messages consumed, rejects by reason with a sample each,
//! fields the analysis did not use, and loss and duplicates from each producer's `seq`.
//!
//! `seq` counts a producer's events of one entity (the message key), and an entity always
//! travels on one partition, in order. So the book keeps a tracker per producer and entity
//! within each partition: a consumer that owns only some partitions (one member of a group)
//! sees every sequence it tracks whole, and a gap inside one is loss, at once. When a
//! partition comes back after a rebalance, its first offset tells whether this consumer
//! continues where it was (a replay of what it saw is duplicates, not analysed again) or
//! another member read the partition meanwhile (its entities start afresh at the first `seq`
//! seen). Messages without `seq` are counted, not tracked.

use std::collections::{BTreeMap, BTreeSet};

use compact_str::CompactString;
use hashbrown::{Equivalent, HashMap};
use serde::Serialize;

use crate::codec::{Notes, Reject, RejectReason};
use crate::streams::{PerStream, StreamKind};

/// The sequence numbers seen of one producer's entity: everything from `lo` up to `next`
/// (the usual, in-order case, in two numbers), and what came out of order above or below.
#[derive(Debug, Clone)]
pub struct SeqTracker {
    lo: u64,
    next: u64,
    above: BTreeSet<u64>,
    below: BTreeSet<u64>,
}

impl SeqTracker {
    /// A tracker that has seen `seq` and nothing else.
    pub fn starting_at(seq: u64) -> Self {
        Self {
            lo: seq,
            next: seq.saturating_add(1),
            above: BTreeSet::new(),
            below: BTreeSet::new(),
        }
    }

    /// Records `seq`; true when it had been seen before (a duplicate).
    pub fn record(&mut self, seq: u64) -> bool {
        if seq >= self.lo && seq < self.next {
            return true;
        }
        if seq == self.next {
            self.next += 1;
            while self.above.first() == Some(&self.next) {
                self.above.pop_first();
                self.next += 1;
            }
            return false;
        }
        let set = if seq > self.next {
            &mut self.above
        } else {
            &mut self.below
        };
        !set.insert(seq)
    }

    /// Sequence numbers missing between the lowest and the highest seen.
    pub fn lost(&self) -> u64 {
        let min = self.below.first().copied().unwrap_or(self.lo);
        let max = self.above.last().copied().unwrap_or(self.next - 1);
        let distinct = (self.next - self.lo) + (self.above.len() + self.below.len()) as u64;
        (max - min + 1).saturating_sub(distinct)
    }
}

/// A tracker's key: producer and entity.
type TrackerKey = (CompactString, CompactString);

/// `TrackerKey` borrowed, for lookups without allocating. Hashes as the key does: field by
/// field, and a `CompactString` hashes as its `str`.
#[derive(Hash)]
struct TrackerRef<'a>(&'a str, &'a str);

impl Equivalent<TrackerKey> for TrackerRef<'_> {
    fn equivalent(&self, key: &TrackerKey) -> bool {
        self.0 == key.0 && self.1 == key.1
    }
}

/// One partition's trackers and where this consumer is in it.
#[derive(Debug, Clone, Default)]
struct PartitionBook {
    trackers: HashMap<TrackerKey, SeqTracker>,
    /// The offset of the last message.
    last_offset: Option<i64>,
    /// A rebalance happened since the last message: the next one tells whether this
    /// consumer continues here or another member read the partition meanwhile.
    resumed: bool,
}

/// Where a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub stream: StreamKind,
    pub partition: i32,
    pub offset: i64,
}

/// What the book made of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// First time seen: analyse it.
    Fresh,
    /// Seen before (a replay or a resend): count it, do not analyse it again.
    Duplicate,
    /// No `seq`: analyse it, outside loss accounting.
    Unsequenced,
}

/// A reject reason's count and its latest sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RejectCount {
    pub count: u64,
    pub detail: String,
    pub sample: String,
}

/// Everything about arrival, for the header and the summary.
#[derive(Debug, Clone, Default)]
pub struct IngestBook {
    consumed: u64,
    analysed: u64,
    duplicates: u64,
    unsequenced: u64,
    rejected: BTreeMap<RejectReason, RejectCount>,
    rejected_total: u64,
    unknown_fields: BTreeMap<String, u64>,
    unreadable_fields: BTreeMap<&'static str, u64>,
    /// Per stream, per partition (by id).
    partitions: PerStream<Vec<PartitionBook>>,
    /// Loss found in trackers closed when their partition moved to another member and back.
    closed_lost: PerStream<u64>,
    /// The loss of the open trackers, kept as they change: the consumer asks for the loss
    /// after every batch it polls, and a walk over every producer's every entity there cost
    /// in proportion to the entities, not to the events.
    open_lost: PerStream<u64>,
    /// Messages deleted (by the broker's retention) before they could be read.
    expired: PerStream<u64>,
    /// Per stream.
    duplicates_of: PerStream<u64>,
    /// Partitions whose log went back (a broker that lost its data).
    rewinds: u64,
    producers: PerStream<BTreeSet<CompactString>>,
    /// Events of other producers, left out by a reader of one producer's events (`bench`).
    foreign: u64,
}

/// A copy of the book for screens and reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IngestSnapshot {
    pub consumed: u64,
    pub analysed: u64,
    pub rejected: u64,
    pub rejects: BTreeMap<&'static str, RejectCount>,
    /// Events that never arrived: gaps in a producer's `seq`, and `expired`.
    pub lost: u64,
    /// Of `lost`: messages the broker deleted before they could be read.
    pub expired: u64,
    /// Partitions whose log went back (a broker restarted without its data).
    pub rewinds: u64,
    pub duplicates: u64,
    /// Events without `seq` (outside loss and duplicate accounting).
    pub unsequenced: u64,
    /// Fields the schema does not know, by name, with how many messages carried them.
    pub unknown_fields: BTreeMap<String, u64>,
    /// Fields of the schema whose value could not be read (left out), by name.
    pub unreadable_fields: BTreeMap<&'static str, u64>,
    pub producers: usize,
    /// Events of other producers, left out (see `IngestBook::foreign`).
    pub foreign: u64,
    /// Loss and duplicates per stream.
    pub streams: PerStream<StreamIngest>,
}

/// One stream's share of the loss and duplicates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StreamIngest {
    pub lost: u64,
    pub duplicates: u64,
}

impl IngestBook {
    /// Counts a decoded event: checks its `seq` and says whether to analyse it.
    pub fn accept(
        &mut self,
        at: Origin,
        producer: &str,
        entity: &str,
        seq: Option<u64>,
    ) -> Arrival {
        self.consumed += 1;
        let i = at.stream;
        let book = partition_book(
            &mut self.partitions[i],
            at,
            (&mut self.closed_lost[i], &mut self.open_lost[i]),
        );
        let Some(seq) = seq else {
            self.unsequenced += 1;
            self.analysed += 1;
            return Arrival::Unsequenced;
        };
        let duplicate = match book.trackers.get_mut(&TrackerRef(producer, entity)) {
            Some(t) => {
                let before = t.lost();
                let duplicate = t.record(seq);
                self.open_lost[i] = self.open_lost[i] + t.lost() - before;
                duplicate
            }
            None => {
                let key = (CompactString::new(producer), CompactString::new(entity));
                book.trackers.insert(key, SeqTracker::starting_at(seq));
                self.producers[at.stream].insert(CompactString::new(producer));
                false
            }
        };
        if duplicate {
            self.duplicates += 1;
            self.duplicates_of[at.stream] += 1;
            Arrival::Duplicate
        } else {
            self.analysed += 1;
            Arrival::Fresh
        }
    }

    /// Partitions were assigned anew: each partition's next message decides whether its
    /// trackers continue (see `partition`).
    pub fn reassigned(&mut self) {
        for book in self.partitions.values_mut().flatten() {
            book.resumed = true;
        }
    }

    /// Counts what a decoded message carried that the analysis did not use.
    pub fn note(&mut self, notes: &Notes) {
        for name in &notes.unknown {
            match self.unknown_fields.get_mut(name.as_str()) {
                Some(n) => *n += 1,
                None => {
                    self.unknown_fields.insert(name.clone(), 1);
                }
            }
        }
        for name in &notes.unreadable {
            *self.unreadable_fields.entry(name).or_default() += 1;
        }
    }

    pub fn reject(&mut self, r: Reject) {
        self.consumed += 1;
        self.rejected_total += 1;
        let e = self
            .rejected
            .entry(r.reason)
            .or_insert_with(|| RejectCount {
                count: 0,
                detail: String::new(),
                sample: String::new(),
            });
        e.count += 1;
        e.detail = r.detail;
        e.sample = r.sample;
    }

    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// An event of another producer, read and left out: neither consumed nor analysed.
    pub fn foreign(&mut self) {
        self.foreign += 1;
    }

    /// `n` messages were deleted before they could be read: lost, though no `seq` says so.
    pub fn expired(&mut self, stream: StreamKind, n: u64) {
        self.expired[stream] += n;
    }

    /// `n` messages of a partition were deleted by retention before this consumer, reading
    /// it, got to them; it reads on after them. They count as expired, and the partition's
    /// trackers start over there, as after a rebalance, so that the `seq` gap over the
    /// same events is not counted a second time.
    pub fn deleted_unread(&mut self, stream: StreamKind, partition: i32, n: u64) {
        self.expired(stream, n);
        if let Some(b) = usize::try_from(partition)
            .ok()
            .and_then(|p| self.partitions[stream].get_mut(p))
        {
            b.resumed = true;
        }
    }

    /// A partition's log went back (its broker lost its data). Its trackers carry on, also
    /// across a rebalance: a producer whose `seq` continues past what the lost log held shows
    /// that as loss.
    pub fn rewound(&mut self, stream: StreamKind, partition: i32) {
        self.rewinds += 1;
        let books = &mut self.partitions[stream];
        if let Some(b) = usize::try_from(partition)
            .ok()
            .and_then(|p| books.get_mut(p))
        {
            b.resumed = false;
            b.last_offset = None;
        }
    }

    /// Every partition's log was replaced (a broker restarted without its data): as
    /// `rewound`, for all of them at once.
    pub fn log_replaced(&mut self) {
        self.rewinds += 1;
        for b in self.partitions.values_mut().flatten() {
            b.resumed = false;
            b.last_offset = None;
        }
    }

    /// Events that never arrived, so far.
    pub fn lost(&self) -> u64 {
        StreamKind::ALL.iter().map(|&k| self.lost_of(k)).sum()
    }

    fn lost_of(&self, stream: StreamKind) -> u64 {
        let i = stream;
        self.closed_lost[i] + self.open_lost[i] + self.expired[i]
    }

    pub fn snapshot(&self) -> IngestSnapshot {
        // Each stream's loss, kept as it changes; the total is their sum.
        let streams = PerStream::from_fn(|k| StreamIngest {
            lost: self.lost_of(k),
            duplicates: self.duplicates_of[k],
        });
        IngestSnapshot {
            foreign: self.foreign,
            consumed: self.consumed,
            analysed: self.analysed,
            rejected: self.rejected_total,
            rejects: self
                .rejected
                .iter()
                .map(|(k, v)| (k.name(), v.clone()))
                .collect(),
            lost: streams.values().map(|s| s.lost).sum(),
            expired: self.expired.values().sum(),
            rewinds: self.rewinds,
            duplicates: self.duplicates,
            unsequenced: self.unsequenced,
            unknown_fields: self.unknown_fields.clone(),
            unreadable_fields: self.unreadable_fields.clone(),
            producers: self.producers.values().map(BTreeSet::len).sum(),
            streams,
        }
    }
}

/// The book of the message's partition, once its first message after a rebalance has
/// decided whether its trackers continue (their loss moves from `open_lost` to
/// `closed_lost` if not).
fn partition_book<'a>(
    books: &'a mut Vec<PartitionBook>,
    at: Origin,
    (closed_lost, open_lost): (&mut u64, &mut u64),
) -> &'a mut PartitionBook {
    let p = usize::try_from(at.partition).unwrap_or(0);
    if books.len() <= p {
        books.resize_with(p + 1, PartitionBook::default);
    }
    let book = &mut books[p];
    if book.resumed {
        book.resumed = false;
        // Past a gap of offsets, another member read the partition meanwhile.
        if book.last_offset.is_some_and(|last| at.offset > last + 1) {
            let lost = book.trackers.values().map(SeqTracker::lost).sum::<u64>();
            *closed_lost += lost;
            *open_lost -= lost;
            book.trackers.clear();
        }
    }
    // Where this consumer is: also after a replay, or a log that went back.
    book.last_offset = Some(at.offset);
    book
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Against a plain set: duplicates, and loss as the holes between the lowest and
        /// the highest seen, whatever the order of arrival.
        #[test]
        fn tracker_matches_a_set(seqs in proptest::collection::vec(0u64..2000, 1..500)) {
            let mut t = SeqTracker::starting_at(seqs[0]);
            let mut set = std::collections::BTreeSet::from([seqs[0]]);
            for s in &seqs[1..] {
                prop_assert_eq!(t.record(*s), !set.insert(*s));
            }
            let (lo, hi) = (*set.first().unwrap(), *set.last().unwrap());
            prop_assert_eq!(t.lost(), hi - lo + 1 - set.len() as u64);
        }

        /// The loss kept as trackers change is the loss a walk over every tracker finds,
        /// through arrivals in any order, rebalances, partitions handed back further on,
        /// retention and logs that went back.
        #[test]
        fn the_kept_loss_is_the_walked_loss(
            steps in proptest::collection::vec((0u8..20, 0i32..3, 0u8..4, 0u64..60), 1..400),
        ) {
            let mut b = IngestBook::default();
            let mut offsets = [0i64; 3];
            for (op, partition, entity, seq) in steps {
                let p = usize::try_from(partition).unwrap();
                match op {
                    0 => b.reassigned(),
                    1 => offsets[p] += 50,
                    2 => b.deleted_unread(StreamKind::Sensor, partition, 3),
                    3 => b.rewound(StreamKind::Sensor, partition),
                    _ => {
                        offsets[p] += 1;
                        let producer = if seq % 7 == 0 { "q" } else { "p" };
                        let entity = format!("e{entity}");
                        b.accept(at(partition, offsets[p]), producer, &entity, Some(seq));
                    }
                }
                let walked: u64 = b.partitions[StreamKind::Sensor]
                    .iter()
                    .flat_map(|x| x.trackers.values())
                    .map(SeqTracker::lost)
                    .sum();
                prop_assert_eq!(b.lost(), b.closed_lost[StreamKind::Sensor] + walked + b.expired[StreamKind::Sensor]);
            }
        }
    }

    fn at(partition: i32, offset: i64) -> Origin {
        Origin {
            stream: StreamKind::Sensor,
            partition,
            offset,
        }
    }

    #[test]
    fn rejects_are_counted_by_reason() {
        let mut b = IngestBook::default();
        for payload in [&b"nope"[..], b"{}", b"also nope"] {
            b.reject(crate::codec::decode(StreamKind::Log, Some(payload)).unwrap_err());
        }
        b.accept(at(0, 0), "p", "s1", Some(0));
        let s = b.snapshot();
        assert_eq!((s.consumed, s.analysed, s.rejected), (4, 1, 3));
        assert_eq!(s.rejects["not_json"].count, 2);
        assert_eq!(s.rejects["missing_field"].count, 1);
    }

    /// One member's share of a topic: it sees two of a producer's entities, each whole, and
    /// reports no loss for the entities on other members' partitions.
    #[test]
    fn loss_counts_only_gaps_inside_an_entity() {
        let mut b = IngestBook::default();
        for seq in 0..10 {
            assert_eq!(
                b.accept(at(0, seq as i64), "p", "a", Some(seq)),
                Arrival::Fresh
            );
            b.accept(at(2, seq as i64), "p", "c", Some(seq + 100));
        }
        assert_eq!(b.snapshot().lost, 0);
        b.accept(at(0, 10), "p", "a", Some(13));
        assert_eq!(b.snapshot().lost, 3, "seq 10, 11, 12 of entity a");
    }

    #[test]
    fn a_replay_is_duplicates_and_an_unsequenced_event_is_counted_apart() {
        let mut b = IngestBook::default();
        for seq in 0..5 {
            b.accept(at(0, seq as i64), "p", "a", Some(seq));
        }
        b.reassigned();
        // The same member resumes from an older committed offset: a replay.
        assert_eq!(b.accept(at(0, 3), "p", "a", Some(3)), Arrival::Duplicate);
        assert_eq!(b.accept(at(0, 4), "p", "a", Some(4)), Arrival::Duplicate);
        assert_eq!(b.accept(at(0, 5), "p", "a", Some(5)), Arrival::Fresh);
        assert_eq!(b.accept(at(0, 6), "q", "a", None), Arrival::Unsequenced);
        let s = b.snapshot();
        assert_eq!((s.duplicates, s.unsequenced, s.lost), (2, 1, 0));
        assert_eq!((s.consumed, s.analysed), (9, 7));
    }

    /// A partition that another member read meanwhile comes back further on: its entities
    /// start afresh, so the events the other member analysed are not loss here.
    #[test]
    fn a_partition_handed_back_starts_its_entities_afresh() {
        let mut b = IngestBook::default();
        for seq in 0..5 {
            b.accept(at(1, seq as i64), "p", "a", Some(seq));
        }
        b.reassigned();
        assert_eq!(b.accept(at(1, 500), "p", "a", Some(500)), Arrival::Fresh);
        assert_eq!(b.accept(at(1, 501), "p", "a", Some(501)), Arrival::Fresh);
        assert_eq!(b.snapshot().lost, 0);
    }

    /// Messages deleted unread count once, as expired, not again as the `seq` gap over
    /// the same events.
    #[test]
    fn what_retention_deleted_unread_counts_once() {
        let mut b = IngestBook::default();
        for seq in 0..5 {
            b.accept(at(1, seq as i64), "p", "a", Some(seq));
        }
        b.deleted_unread(at(1, 0).stream, 1, 100);
        assert_eq!(b.accept(at(1, 105), "p", "a", Some(105)), Arrival::Fresh);
        let s = b.snapshot();
        assert_eq!((s.lost, s.expired), (100, 100));
    }

    #[test]
    fn unknown_and_unreadable_fields_are_counted_by_name() {
        let mut b = IngestBook::default();
        let notes = Notes {
            unknown: vec!["firmware".into(), "site".into()],
            unreadable: vec!["seq"],
        };
        b.note(&notes);
        b.note(&notes);
        let s = b.snapshot();
        assert_eq!(s.unknown_fields["firmware"], 2);
        assert_eq!(s.unreadable_fields["seq"], 2);
    }
}
