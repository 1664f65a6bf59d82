//! Which offsets may be stored for the next commit: at least once means a message's offset is
//! stored only when it, and every message before it in its partition, is analysed or needs
//! no analysis (a reject, a duplicate, another producer's). Between the consumer thread and
//! that point an event can be on its way to its shard, in its shard's queue, or held for its
//! turn in event time (`order`); a crash must not commit past any of them.
//!
//! So at each cut (after a poll round, when it has sent its batches) the engine closes a
//! checkpoint: per partition, the last offset taken (which `Positions` knows), or the one
//! before the oldest event still held, stored once the shards have analysed every batch sent
//! before the cut.

use std::collections::VecDeque;

/// Offsets to store once each shard has analysed `sent[topic]` batches.
struct Checkpoint {
    sent: Vec<u64>,
    stores: Vec<(usize, i32, i64)>,
}

#[derive(Default)]
pub struct Offsets {
    /// Per (topic, partition): the last offset put in a checkpoint.
    promised: Vec<(usize, i32, i64)>,
    checkpoints: VecDeque<Checkpoint>,
}

impl Offsets {
    /// Closes a checkpoint after the shards were sent `sent` batches each: for every
    /// partition in `taken` (topic, partition, the last offset taken from it), its offset up
    /// to its oldest held event (`held`: the offset of the partition's first event still
    /// waiting for its turn, if any).
    pub fn cut(
        &mut self,
        sent: Vec<u64>,
        taken: impl IntoIterator<Item = (usize, i32, i64)>,
        held: impl Fn(usize, i32) -> Option<i64>,
    ) {
        let mut stores = Vec::new();
        for (topic, partition, last) in taken {
            let limit = match held(topic, partition) {
                Some(oldest) if oldest <= last => oldest - 1,
                _ => last,
            };
            if limit < 0 {
                continue;
            }
            let key = (topic, partition);
            match self.promised.iter_mut().find(|p| (p.0, p.1) == key) {
                Some(p) if p.2 == limit => continue,
                Some(p) => p.2 = limit,
                None => self.promised.push((topic, partition, limit)),
            }
            stores.push((topic, partition, limit));
        }
        if !stores.is_empty() {
            self.checkpoints.push_back(Checkpoint { sent, stores });
        }
    }

    /// The offsets that may be stored now that each shard has analysed `done` batches, in
    /// the order they were taken.
    pub fn ready(&mut self, done: &[u64]) -> Vec<(usize, i32, i64)> {
        let mut ready = Vec::new();
        while let Some(c) = self.checkpoints.front() {
            if c.sent.iter().zip(done).any(|(s, d)| d < s) {
                break;
            }
            if let Some(c) = self.checkpoints.pop_front() {
                ready.extend(c.stores);
            }
        }
        ready
    }

    /// Forgets what was promised (the group assigned the partitions anew): reading resumes
    /// from the committed offsets, whatever was stored before.
    pub fn reassigned(&mut self) {
        self.promised.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nothing is stored before the shards have analysed what came before it, and then
    /// in order; what needs no analysis waits its turn like the rest.
    #[test]
    fn offsets_wait_for_the_batches_sent_before_them() {
        let mut o = Offsets::default();
        o.cut(vec![1, 1], [(0, 0, 10), (1, 2, 5)], |_, _| None);
        o.cut(vec![2, 1], [(0, 0, 11), (1, 2, 5)], |_, _| None);
        assert!(o.ready(&[0, 1]).is_empty(), "topic 0's batch is not back");
        assert_eq!(o.ready(&[1, 1]), vec![(0, 0, 10), (1, 2, 5)]);
        assert_eq!(o.ready(&[2, 1]), vec![(0, 0, 11)]);
        assert!(o.ready(&[9, 9]).is_empty(), "each offset once");
    }

    /// An event held for its turn keeps its partition's offset before it, however much
    /// was taken after it; released, the rest follows.
    #[test]
    fn a_held_event_holds_its_partitions_offset_back() {
        let mut o = Offsets::default();
        let taken = [(0, 0, 20), (0, 1, 7)];
        o.cut(vec![0], taken, |_, p| (p == 0).then_some(15));
        assert_eq!(o.ready(&[0]), vec![(0, 0, 14), (0, 1, 7)]);
        o.cut(vec![0], taken, |_, p| (p == 0).then_some(15));
        assert!(o.ready(&[0]).is_empty(), "nothing new");
        o.cut(vec![1], taken, |_, _| None);
        assert_eq!(o.ready(&[1]), vec![(0, 0, 20)]);
        // The first event of a partition held: nothing to store there yet.
        o.cut(vec![1], [(0, 2, 0)], |_, p| (p == 2).then_some(0));
        assert!(o.ready(&[1]).is_empty());
    }

    /// A log that went back is stored from where it now is; after a reassignment the
    /// partitions start afresh.
    #[test]
    fn a_log_that_went_back_and_a_reassignment_store_from_where_reading_is() {
        let mut o = Offsets::default();
        o.cut(vec![0], [(0, 0, 500)], |_, _| None);
        o.cut(vec![0], [(0, 0, 3)], |_, _| None);
        assert_eq!(o.ready(&[0]), vec![(0, 0, 500), (0, 0, 3)]);
        o.reassigned();
        o.cut(vec![0], [(0, 0, 3)], |_, _| None);
        assert_eq!(o.ready(&[0]), vec![(0, 0, 3)]);
    }
}
