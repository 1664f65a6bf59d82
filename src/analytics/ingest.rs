//! Accounting of what arrives: messages consumed, rejects by reason with a sample each, and
//! loss and duplicates detected from each producer's `seq` numbers.

use std::collections::BTreeMap;

use hashbrown::HashMap;
use serde::Serialize;

use crate::codec::{Reject, RejectReason};
use crate::streams::StreamKind;

/// The set of sequence numbers seen from one producer on one stream, as a sparse bitset.
#[derive(Debug, Clone, Default)]
pub struct SeqTracker {
    blocks: HashMap<u64, u64>,
    distinct: u64,
    duplicates: u64,
    min: Option<u64>,
    max: Option<u64>,
}

impl SeqTracker {
    /// Records `seq`; true when it had been seen before (a duplicate).
    pub fn record(&mut self, seq: u64) -> bool {
        let bit = 1u64 << (seq & 63);
        let block = self.blocks.entry(seq >> 6).or_insert(0);
        if *block & bit != 0 {
            self.duplicates += 1;
            return true;
        }
        *block |= bit;
        self.distinct += 1;
        self.min = Some(self.min.map_or(seq, |m| m.min(seq)));
        self.max = Some(self.max.map_or(seq, |m| m.max(seq)));
        false
    }

    /// Sequence numbers missing between the lowest and highest seen.
    pub fn lost(&self) -> u64 {
        match (self.min, self.max) {
            (Some(lo), Some(hi)) => (hi - lo + 1).saturating_sub(self.distinct),
            _ => 0,
        }
    }

    /// Gaps among the sequence numbers more than `grace` below the highest seen. Messages
    /// of one producer travel on several partitions, so the newest gaps are usually still in
    /// flight; counting only settled ones keeps a live view from flickering "lost".
    pub fn lost_settled(&self, grace: u64) -> u64 {
        let (Some(lo), Some(hi)) = (self.min, self.max) else {
            return 0;
        };
        let limit = hi.saturating_sub(grace);
        if limit <= lo {
            return 0;
        }
        let mut at_or_above = 0u64;
        for block in (limit >> 6)..=(hi >> 6) {
            if let Some(&bits) = self.blocks.get(&block) {
                let bits = if block == limit >> 6 {
                    bits & (!0u64 << (limit & 63))
                } else {
                    bits
                };
                at_or_above += u64::from(bits.count_ones());
            }
        }
        (limit - lo).saturating_sub(self.distinct - at_or_above)
    }

    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }
}

/// Sequence numbers a live view treats as possibly still in flight.
pub const IN_FLIGHT_GRACE: u64 = 10_000;

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
    rejected: BTreeMap<RejectReason, RejectCount>,
    rejected_total: u64,
    /// Per stream (by index), per producer id: looked up by `&str`, no allocation per event.
    seqs: [HashMap<String, SeqTracker>; 3],
}

/// A copy of the book for screens and reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IngestSnapshot {
    pub consumed: u64,
    pub analysed: u64,
    pub rejected: u64,
    pub rejects: BTreeMap<&'static str, RejectCount>,
    pub lost: u64,
    pub duplicates: u64,
    pub producers: usize,
}

impl IngestBook {
    /// Counts a valid event and checks its sequence number.
    pub fn accept(&mut self, kind: StreamKind, producer: &str, seq: u64) {
        self.consumed += 1;
        self.analysed += 1;
        let producers = &mut self.seqs[kind.index()];
        match producers.get_mut(producer) {
            Some(t) => {
                t.record(seq);
            }
            None => {
                let mut t = SeqTracker::default();
                t.record(seq);
                producers.insert(producer.to_string(), t);
            }
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

    fn trackers(&self) -> impl Iterator<Item = &SeqTracker> {
        self.seqs.iter().flat_map(HashMap::values)
    }

    /// The book for a live view: loss counts only settled gaps (see `lost_settled`).
    pub fn snapshot(&self) -> IngestSnapshot {
        let mut s = self.final_snapshot();
        s.lost = self
            .trackers()
            .map(|t| t.lost_settled(IN_FLIGHT_GRACE))
            .sum();
        s
    }

    /// The book at the end of a run: every gap counts.
    pub fn final_snapshot(&self) -> IngestSnapshot {
        IngestSnapshot {
            consumed: self.consumed,
            analysed: self.analysed,
            rejected: self.rejected_total,
            rejects: self
                .rejected
                .iter()
                .map(|(k, v)| (k.name(), v.clone()))
                .collect(),
            lost: self.trackers().map(SeqTracker::lost).sum(),
            duplicates: self.trackers().map(SeqTracker::duplicates).sum(),
            producers: self.trackers().count(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn tracker_matches_a_set(seqs in proptest::collection::vec(0u64..2000, 1..500)) {
            let mut t = SeqTracker::default();
            let mut set = std::collections::BTreeSet::new();
            let mut dups = 0;
            for s in &seqs {
                let dup = t.record(*s);
                prop_assert_eq!(dup, !set.insert(*s));
                dups += u64::from(dup);
            }
            let (lo, hi) = (*set.first().unwrap(), *set.last().unwrap());
            prop_assert_eq!(t.lost(), hi - lo + 1 - set.len() as u64);
            prop_assert_eq!(t.duplicates(), dups);
            for grace in [0u64, 1, 63, 64, 65, 500] {
                let limit = hi.saturating_sub(grace);
                let expected = if limit <= lo { 0 } else { (limit - lo) - set.range(..limit).count() as u64 };
                prop_assert_eq!(t.lost_settled(grace), expected, "grace {}", grace);
            }
        }
    }

    #[test]
    fn rejects_are_counted_by_reason() {
        let mut b = IngestBook::default();
        for payload in [&b"nope"[..], b"{}", b"also nope"] {
            b.reject(crate::codec::decode(StreamKind::Log, Some(payload)).unwrap_err());
        }
        b.accept(StreamKind::Log, "p", 0);
        let s = b.snapshot();
        assert_eq!((s.consumed, s.analysed, s.rejected), (4, 1, 3));
        assert_eq!(s.rejects["not_json"].count, 2);
        assert_eq!(s.rejects["missing_field"].count, 1);
    }
}
