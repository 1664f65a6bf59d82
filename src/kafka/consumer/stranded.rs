//! A member left without partitions of a topic the cluster has, while no member of its
//! group reads them either. Seen when a broker restarted without its data (tansu's memory
//! storage; a Kafka container without its volume): the group formed again before the topic
//! was made again, so it was handed out to nobody, and librdkafka did not rejoin once the
//! topic was back (half a minute on, still nothing). The consumer read nothing more and said
//! nothing while the producer's events piled up unread.
//!
//! Whether another member reads a topic is not something every broker will say (tansu
//! describes no group), but any broker tells a topic's log ends and the group's committed
//! offsets. A topic this member owns nothing of, whose logs grew over `AFTER` while the
//! group's commits on them stood still, is read by nobody: the consumer subscribes again,
//! and the new join hands the topic out.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::Offset;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::topic_partition_list::TopicPartitionList;

use super::context::ConsumerCtx;

/// How often the unowned topics' progress is looked at, and so the span over which it is
/// judged (a group forms in well under a second, a rebalance after a member leaves takes a
/// few, and members commit every second or so).
pub(super) const AFTER: Duration = Duration::from_secs(10);

/// The longest wait between looks: after each rejoin that did not help (the topic still
/// read by nobody at the next look), the wait doubles up to this, so a cluster that keeps
/// handing a topic to nobody is not rebalanced every `AFTER` for good.
const MOST_AFTER: Duration = Duration::from_secs(320);

/// How long each question to the cluster may take.
const TIMEOUT: Duration = Duration::from_secs(2);

/// A topic's partitions at one look: each log's end and the group's commit.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Progress {
    partitions: Vec<i32>,
    ends: Vec<i64>,
    committed: Vec<Option<i64>>,
}

impl Progress {
    /// Whether messages came since `before` and the group committed none of them: nobody
    /// reads the topic. A topic that did not grow says nothing (nothing waits to be read).
    fn nobody_reads_since(&self, before: &Progress) -> bool {
        self.partitions == before.partitions
            && self
                .ends
                .iter()
                .zip(&before.ends)
                .any(|(now, then)| now > then)
            && self.committed == before.committed
    }
}

/// A topic nobody in the group reads, and its partitions the group never committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Unread {
    pub topic: String,
    pub uncommitted: Vec<i32>,
}

/// What was seen of the topics unowned here at the last look, and when to look next.
#[derive(Debug)]
pub(super) struct Stranded {
    seen: BTreeMap<String, Progress>,
    next: Instant,
    /// The wait between looks: `AFTER`, doubled after each look that found a topic nobody
    /// reads, back to `AFTER` after one that found none.
    every: Duration,
}

impl Stranded {
    /// The first look comes `AFTER` the start: a group that is still forming owns nothing.
    pub fn new() -> Self {
        Self {
            seen: BTreeMap::new(),
            next: Instant::now() + AFTER,
            every: AFTER,
        }
    }

    /// Whether to look again at `now` (every `every`): the consumer thread asks every turn.
    pub fn due(&mut self, now: Instant) -> bool {
        if now < self.next {
            return false;
        }
        self.next = now + self.every;
        true
    }

    /// After a look that found topics nobody reads (`found`), the next comes later, the
    /// wait doubled; after one that found none, at the usual pace again.
    fn pace(&mut self, found: bool, now: Instant) {
        if found {
            self.every = (self.every * 2).min(MOST_AFTER);
            self.next = now + self.every;
        } else {
            self.every = AFTER;
        }
    }

    /// The subscribed `topics` this member owns nothing of (by `owned`) that grew since the
    /// last look while the group committed nothing on them: the topics to join the group
    /// again for. Asks the cluster only about topics unowned here.
    pub fn look(
        &mut self,
        consumer: &BaseConsumer<ConsumerCtx>,
        topics: &[&str],
        owned: &BTreeMap<String, Vec<i32>>,
    ) -> Vec<Unread> {
        let unowned: Vec<&str> = topics
            .iter()
            .copied()
            .filter(|t| owned.get(*t).is_none_or(Vec::is_empty))
            .collect();
        self.seen.retain(|t, _| unowned.contains(&t.as_str()));
        let (mut stranded, mut judged) = (Vec::new(), 0);
        for &topic in &unowned {
            let Some(p) = progress(consumer, topic) else {
                self.seen.remove(topic);
                continue;
            };
            let Some(before) = self.seen.insert(topic.to_string(), p.clone()) else {
                continue;
            };
            judged += 1;
            if p.nobody_reads_since(&before) {
                let uncommitted = p.partitions.iter().zip(&p.committed);
                stranded.push(Unread {
                    topic: topic.to_string(),
                    uncommitted: uncommitted
                        .filter_map(|(&id, c)| c.is_none().then_some(id))
                        .collect(),
                });
                self.seen.remove(topic);
            }
        }
        // Back to the usual pace only once every unowned topic was judged read (a look
        // that only took a new baseline, as the first after a rejoin, says nothing).
        let found = !stranded.is_empty();
        if found || judged == unowned.len() {
            self.pace(found, Instant::now());
        }
        stranded
    }
}

/// `topic`'s log ends and its group's commits, partition by partition; `None` when the
/// cluster has no partitions of it or does not answer.
fn progress(consumer: &BaseConsumer<ConsumerCtx>, topic: &str) -> Option<Progress> {
    let metadata = consumer.fetch_metadata(Some(topic), TIMEOUT).ok()?;
    let t = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())?;
    let partitions: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
    if partitions.is_empty() {
        return None;
    }
    let mut tpl = TopicPartitionList::new();
    for &p in &partitions {
        // The offset field carries the time to look up; "end" is where the log ends.
        tpl.add_partition_offset(topic, p, Offset::End).ok()?;
    }
    let ends = consumer.offsets_for_times(tpl.clone(), TIMEOUT).ok()?;
    let committed = consumer.committed_offsets(tpl, TIMEOUT).ok()?;
    let of = |list: &TopicPartitionList, p: i32| match list.find_partition(topic, p)?.offset() {
        Offset::Offset(o) => Some(o),
        _ => None,
    };
    Some(Progress {
        ends: partitions
            .iter()
            .map(|&p| of(&ends, p))
            .collect::<Option<_>>()?,
        committed: partitions.iter().map(|&p| of(&committed, p)).collect(),
        partitions,
    })
}

/// Commits, for the group, the start of each of `topic`'s logs in `partitions`: a topic
/// nobody read is then read from there when the group hands it out, where without a commit
/// it would start at the end (`auto.offset.reset`) and skip everything that piled up.
pub(super) fn commit_log_starts(
    consumer: &BaseConsumer<ConsumerCtx>,
    topic: &str,
    partitions: &[i32],
) -> rdkafka::error::KafkaResult<()> {
    if partitions.is_empty() {
        return Ok(());
    }
    let mut tpl = TopicPartitionList::new();
    for &p in partitions {
        // The offset field carries the time to look up; "beginning" is the log's start.
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    let starts = consumer.offsets_for_times(tpl, TIMEOUT)?;
    consumer.commit(&starts, rdkafka::consumer::CommitMode::Sync)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ends: &[i64], committed: &[Option<i64>]) -> Progress {
        Progress {
            partitions: (0..ends.len() as i32).collect(),
            ends: ends.to_vec(),
            committed: committed.to_vec(),
        }
    }

    /// Looks come every `AFTER`; each look that finds a topic nobody reads doubles the
    /// wait (up to `MOST_AFTER`), and one that finds none brings it back.
    #[test]
    fn a_rejoin_that_did_not_help_is_tried_again_later_and_later() {
        let mut s = Stranded::new();
        let t0 = s.next;
        assert!(!s.due(t0 - Duration::from_millis(1)));
        assert!(s.due(t0));
        assert_eq!(s.next, t0 + AFTER);
        let mut waits = Vec::new();
        for _ in 0..7 {
            s.pace(true, t0);
            waits.push((s.next - t0).as_secs());
        }
        assert_eq!(waits, [20, 40, 80, 160, 320, 320, 320]);
        s.pace(false, t0);
        assert!(s.due(s.next));
        assert_eq!(s.every, AFTER);
    }

    #[test]
    fn a_topic_that_grew_while_the_group_committed_nothing_is_read_by_nobody() {
        let before = at(&[10, 20], &[None, Some(5)]);
        assert!(at(&[10, 25], &[None, Some(5)]).nobody_reads_since(&before));
        // Another member reads it: its commits move.
        assert!(!at(&[10, 25], &[None, Some(21)]).nobody_reads_since(&before));
        assert!(!at(&[12, 20], &[Some(11), Some(5)]).nobody_reads_since(&before));
        // Nothing came: nothing waits to be read, and nothing is judged.
        assert!(!at(&[10, 20], &[None, Some(5)]).nobody_reads_since(&before));
        // The topic was made anew with other partitions: judged at the next look.
        assert!(!at(&[10, 20, 30], &[None, None, None]).nobody_reads_since(&before));
    }
}
