//! Where this consumer is in each partition it owns, against the partition's ends as the
//! latest fetch response gave them: the lag in events and in seconds, whether it has caught
//! up (`--until-end`), what retention deleted before the group could read it, and a log that
//! went back (a broker that lost its data).
//!
//! The lag is computed here, from the consumer's own position, rather than taken from the
//! once-a-second statistics: it is current to the last fetch (tens of milliseconds) and reads
//! 0 when the consumer has caught up.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use super::context::{ConsumerCtx, PartitionLag};
use super::order::OwnedPart;
use crate::kafka::gate::LagGate;
use streamwatch::analytics::ingest::Arrival;
use streamwatch::streams::StreamKind;

/// Where consumption of a partition was expected to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// The group's committed offset.
    Committed(i64),
    /// No commit, from the beginning: the log's original start, offset 0.
    Beginning,
    /// No commit, from the end: nothing is expected.
    End,
    /// The committed offsets could not be read (no coordinator): nothing is expected, and
    /// until its first message the partition counts as caught up.
    Unknown,
}

/// One owned partition.
#[derive(Debug, Clone)]
struct Part {
    stream: StreamKind,
    topic: String,
    /// The topic's name for librdkafka's C API, made once.
    topic_c: CString,
    partition: i32,
    start: Start,
    /// One past the last message seen since the assignment.
    next: Option<i64>,
    /// The time (ms since the epoch) of the last message seen.
    last_time_ms: Option<i64>,
    /// The log's ends at the last fetch; `None` before the first.
    ends: Option<(i64, i64)>,
    /// Where the offsets went back from and to, until the messages since tell why (`judge`).
    back: Option<(i64, i64)>,
}

impl Part {
    /// Where the consumer is: past the last message, else where it was to start.
    fn position(&self) -> Option<i64> {
        self.next.or(match (self.start, self.ends) {
            (Start::Committed(c), _) => Some(c),
            (Start::Beginning, Some((low, _))) => Some(low),
            (Start::End | Start::Unknown, Some((_, high))) => Some(high),
            _ => None,
        })
    }

    /// Messages written and not analysed; `None` until a fetch gave the log's end.
    fn lag(&self) -> Option<i64> {
        let (_, high) = self.ends?;
        Some((high - self.position()?).max(0))
    }

    fn report(&self, now_ms: i64) -> PartitionLag {
        let lag = self.lag().unwrap_or(0);
        let lag_s = match self.last_time_ms {
            Some(t) if lag > 0 => ((now_ms - t) as f64 / 1000.0).max(0.0),
            _ => 0.0,
        };
        PartitionLag {
            stream: self.stream,
            topic: self.topic.clone(),
            partition: self.partition,
            high: self.ends.map_or(-1, |(_, h)| h),
            lag,
            lag_s,
        }
    }
}

/// What a message told about its partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Where it was expected.
    InOrder,
    /// The first message after the assignment is past where the group stood: retention
    /// deleted this many before they were read.
    Expired(u64),
    /// The first message after an assignment is under where this consumer was, and the
    /// log now ends there too: the broker lost its log and started anew.
    Rewound { from: i64 },
    /// The offset went back between two messages: the broker delivered part of the log
    /// again, or lost it. The messages that follow tell which (`Positions::judge`).
    Back,
}

/// Where an owned partition's log starts: (topic index, partition) and its first offset.
type LogStart = ((usize, i32), i64);

/// An owned partition whose log now starts past where this consumer was in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overrun {
    /// The topic's index.
    pub topic: usize,
    pub partition: i32,
    /// Where this consumer was.
    pub from: i64,
    /// Where the log starts now.
    pub low: i64,
}

/// What a step back turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Back {
    /// The same log delivered again from an earlier offset: nothing was lost.
    Again { from: i64, to: i64 },
    /// Another log under the same offsets: the broker lost its data.
    Lost { from: i64, to: i64 },
}

/// Judges a step back from offset `from` to `to` by a message since, at `offset`, which
/// arrived as `arrival` (`None`: rejected, or another producer's). An event of ours seen
/// before says the log is the same; a new one under `from` says it is another. A message
/// that tells neither (malformed, another producer's, without a sequence number) leaves it
/// open until the offsets are back where they were, with nothing new on the way: the same
/// log again.
fn judge(from: i64, to: i64, offset: i64, arrival: Option<Arrival>) -> Option<Back> {
    match arrival {
        Some(Arrival::Fresh) if offset < from => Some(Back::Lost { from, to }),
        Some(Arrival::Fresh | Arrival::Duplicate) => Some(Back::Again { from, to }),
        _ if offset >= from - 1 => Some(Back::Again { from, to }),
        _ => None,
    }
}

/// What the first message after an assignment says: the log went back under where this
/// consumer last was in it, or it starts past where the group stood (retention).
fn first_step(last: Option<i64>, p: &Part, offset: i64) -> Step {
    match (last, p.ends, p.start) {
        (Some(from), Some((_, high)), _) if high < from => Step::Rewound { from },
        (_, _, Start::Committed(c)) if offset > c => Step::Expired((offset - c).unsigned_abs()),
        (_, _, Start::Beginning) if offset > 0 => Step::Expired(offset.unsigned_abs()),
        _ => Step::InOrder,
    }
}

/// The owned partitions, by (topic index, partition).
#[derive(Debug)]
pub(super) struct Positions {
    topics: Vec<(String, StreamKind)>,
    parts: HashMap<(usize, i32), Part>,
    /// Where this consumer was in every partition it read before the last assignment.
    last: HashMap<(usize, i32), i64>,
    from_beginning: bool,
    /// Partitions whose step back is not judged yet (so the hot path asks only then).
    open_backs: usize,
}

impl Positions {
    pub fn new(topics: &[(String, StreamKind)], from_beginning: bool) -> Self {
        Self {
            topics: topics.to_vec(),
            parts: HashMap::new(),
            last: HashMap::new(),
            from_beginning,
            open_backs: 0,
        }
    }

    /// Takes the consumer's current assignment and the group's committed offsets for it.
    /// Every partition's next message is checked as a first one (`first_step`).
    pub fn assigned(&mut self, consumer: &BaseConsumer<ConsumerCtx>) {
        // Where this consumer was, kept across the rebalance (not per message: the hot path).
        for (key, p) in &self.parts {
            if let Some(next) = p.next {
                self.last.insert(*key, next);
            }
        }
        let assignment = consumer.assignment().unwrap_or_default();
        if assignment.count() == 0 {
            self.parts.clear();
            return;
        }
        let committed = consumer
            .committed_offsets(assignment.clone(), Duration::from_secs(2))
            .inspect_err(|e| tracing::warn!(error = %e, "cannot read the committed offsets"))
            .ok();
        let fallback = match (&committed, self.from_beginning) {
            (None, _) => Start::Unknown,
            (Some(_), true) => Start::Beginning,
            (Some(_), false) => Start::End,
        };
        let mut parts = HashMap::new();
        for e in assignment.elements() {
            let Some(t) = self.topics.iter().position(|(n, _)| n == e.topic()) else {
                continue;
            };
            let key = (t, e.partition());
            let start = match committed
                .as_ref()
                .and_then(|c| c.find_partition(e.topic(), e.partition()))
                .map(|c| c.offset())
            {
                Some(Offset::Offset(c)) => Start::Committed(c),
                _ => fallback,
            };
            let mut part = self.parts.remove(&key).unwrap_or_else(|| Part {
                stream: self.topics[t].1,
                topic: e.topic().to_string(),
                topic_c: CString::new(e.topic()).unwrap_or_default(),
                partition: e.partition(),
                start,
                next: None,
                last_time_ms: None,
                ends: None,
                back: None,
            });
            part.start = start;
            part.next = None;
            part.back = None;
            parts.insert(key, part);
        }
        self.parts = parts;
        self.open_backs = 0;
    }

    /// Records a message of topic `topic` (its index); says whether it came where expected.
    pub fn seen(
        &mut self,
        consumer: &BaseConsumer<ConsumerCtx>,
        (topic, partition): (usize, i32),
        offset: i64,
        time_ms: Option<i64>,
    ) -> Step {
        let key = (topic, partition);
        let Some(p) = self.parts.get_mut(&key) else {
            return Step::InOrder;
        };
        let step = match p.next {
            Some(next) if offset < next => {
                // A second step back before the first is judged: from the furthest point.
                let from = p.back.map_or(next, |(from, _)| from.max(next));
                self.open_backs += usize::from(p.back.is_none());
                p.back = Some((from, offset));
                Step::Back
            }
            Some(_) => Step::InOrder,
            None => {
                // The first message since the assignment: the fetch that brought it also
                // brought the log's end, which a healthy log never moves back.
                if let Some(ends) = cached_watermarks(consumer, &p.topic_c, partition) {
                    p.ends = Some(ends);
                }
                first_step(self.last.get(&key).copied(), p, offset)
            }
        };
        p.next = Some(offset + 1);
        if time_ms.is_some() {
            p.last_time_ms = time_ms;
        }
        step
    }

    /// The owned partitions whose log now starts past this consumer's position in it
    /// (retention deleted what it had not read yet).
    pub fn overrun(&self, consumer: &BaseConsumer<ConsumerCtx>) -> Vec<Overrun> {
        let starts = self
            .starts_together(consumer)
            .unwrap_or_else(|| self.starts_one_by_one(consumer));
        starts
            .into_iter()
            .filter_map(|((topic, partition), low)| {
                let from = self.parts.get(&(topic, partition))?.position()?;
                (low > from).then_some(Overrun {
                    topic,
                    partition,
                    from,
                    low,
                })
            })
            .collect()
    }

    /// Where each owned log starts, in one request to each partition leader under one
    /// timeout; `None` when not every leader answered.
    fn starts_together(&self, consumer: &BaseConsumer<ConsumerCtx>) -> Option<Vec<LogStart>> {
        let mut asked = TopicPartitionList::new();
        for p in self.parts.values() {
            // The offset field carries the time to look up; "beginning" is the log's start.
            asked
                .add_partition_offset(&p.topic, p.partition, Offset::Beginning)
                .ok()?;
        }
        let starts = consumer
            .offsets_for_times(asked, Duration::from_secs(2))
            .inspect_err(|e| tracing::warn!(error = %e, "cannot read the logs' starts together"))
            .ok()?;
        let mut out = Vec::new();
        for e in starts.elements() {
            let topic = self.topics.iter().position(|(n, _)| n == e.topic())?;
            match (e.error(), e.offset()) {
                (Ok(()), Offset::Offset(low)) => out.push(((topic, e.partition()), low)),
                _ => return None,
            }
        }
        Some(out)
    }

    /// Where each owned log starts, a request per partition (a leader that is down costs
    /// its timeout once per partition it leads).
    fn starts_one_by_one(&self, consumer: &BaseConsumer<ConsumerCtx>) -> Vec<LogStart> {
        let mut out = Vec::new();
        for (&key, p) in &self.parts {
            match consumer.fetch_watermarks(&p.topic, p.partition, Duration::from_secs(2)) {
                Ok((low, _)) => out.push((key, low)),
                Err(e) => {
                    let (topic, partition) = (&p.topic, p.partition);
                    tracing::warn!(topic, partition, error = %e, "cannot read a log's start");
                }
            }
        }
        out
    }

    /// Partition `key` reads on from `offset` (the start of its log after an overrun).
    pub fn restart_at(&mut self, key: (usize, i32), offset: i64) {
        if let Some(p) = self.parts.get_mut(&key) {
            p.start = Start::Committed(offset);
            p.next = None;
            if p.back.take().is_some() {
                self.open_backs -= 1;
            }
        }
    }

    /// Whether a partition's step back waits for its judgement (`judge`).
    pub fn judging(&self) -> bool {
        self.open_backs > 0
    }

    /// Judges partition `key`'s open step back, if any, by a message at `offset` that
    /// arrived as `arrival`; closes it once judged.
    pub fn judge(
        &mut self,
        key: (usize, i32),
        offset: i64,
        arrival: Option<Arrival>,
    ) -> Option<Back> {
        let p = self.parts.get_mut(&key)?;
        let (from, to) = p.back?;
        let back = judge(from, to, offset, arrival)?;
        p.back = None;
        self.open_backs -= 1;
        Some(back)
    }

    /// Per owned partition that has given a message since its assignment: (topic,
    /// partition, the last offset taken).
    pub fn taken(&self) -> impl Iterator<Item = (usize, i32, i64)> + '_ {
        self.parts
            .iter()
            .filter_map(|(&(t, p), part)| part.next.map(|next| (t, p, next - 1)))
    }

    /// Every partition's log was replaced (another cluster): positions start over, from the
    /// start of the new logs, where the consumer now reads them (so their lag counts).
    pub fn log_replaced(&mut self) {
        self.last.clear();
        self.open_backs = 0;
        for p in self.parts.values_mut() {
            p.back = None;
            p.next = None;
            p.ends = None;
            p.start = Start::Beginning;
        }
    }

    /// Reads each owned partition's ends from the client's last fetch (no request).
    pub fn refresh(&mut self, consumer: &BaseConsumer<ConsumerCtx>) {
        for p in self.parts.values_mut() {
            if let Some(ends) = cached_watermarks(consumer, &p.topic_c, p.partition) {
                p.ends = Some(ends);
            }
        }
    }

    /// Tells a producer paced by this consumer where it is in each partition.
    pub fn publish(&self, gate: &LagGate) {
        for p in self.parts.values() {
            let end = p.ends.map_or(-1, |(_, high)| high);
            gate.consumer_at(p.stream, p.partition, p.position(), end);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Lag per owned partition, by topic and partition.
    pub fn lag(&self, now_ms: i64) -> Vec<PartitionLag> {
        let mut v: Vec<PartitionLag> = self.parts.values().map(|p| p.report(now_ms)).collect();
        v.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        v
    }

    /// The owned partitions, each with whether it was read to the end its last fetch
    /// reported (what the merge in event time waits on).
    pub fn owned(&self) -> Vec<OwnedPart> {
        (self.parts.iter())
            .map(|(&(topic, partition), p)| (topic, partition, p.lag() == Some(0)))
            .collect()
    }

    /// Every owned partition fetched and read to its end (and something owned).
    pub fn caught_up(&self) -> bool {
        !self.parts.is_empty() && self.parts.values().all(|p| p.lag() == Some(0))
    }

    /// Messages written to the owned partitions and not analysed.
    pub fn unconsumed(&self) -> u64 {
        self.parts
            .values()
            .filter_map(Part::lag)
            .map(i64::unsigned_abs)
            .sum()
    }
}

/// The low and high watermarks librdkafka cached from its last fetch response for the
/// partition (`rd_kafka_get_watermark_offsets`: no request, a lock); `None` before the first.
fn cached_watermarks(
    consumer: &BaseConsumer<ConsumerCtx>,
    topic: &CStr,
    partition: i32,
) -> Option<(i64, i64)> {
    let (mut low, mut high) = (-1i64, -1i64);
    // SAFETY: the client pointer is valid while `consumer` is borrowed; the call only reads
    // the partition's cached offsets under librdkafka's own lock and writes the two i64s.
    let err = unsafe {
        rdkafka::bindings::rd_kafka_get_watermark_offsets(
            consumer.client().native_ptr(),
            topic.as_ptr(),
            partition,
            &mut low,
            &mut high,
        )
    };
    let ok = err == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR;
    (ok && high >= 0 && low >= 0).then_some((low, high))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(start: Start, next: Option<i64>, ends: Option<(i64, i64)>) -> Part {
        Part {
            stream: StreamKind::Sensor,
            topic: "sensor-data".into(),
            topic_c: CString::new("sensor-data").unwrap(),
            partition: 0,
            start,
            next,
            last_time_ms: Some(1_000),
            ends,
            back: None,
        }
    }

    #[test]
    fn lag_is_the_log_end_against_the_position_and_zero_when_caught_up() {
        assert_eq!(part(Start::Committed(40), None, None).lag(), None);
        assert_eq!(
            part(Start::Committed(40), None, Some((0, 100))).lag(),
            Some(60)
        );
        assert_eq!(
            part(Start::Beginning, None, Some((10, 100))).lag(),
            Some(90)
        );
        assert_eq!(part(Start::End, None, Some((10, 100))).lag(), Some(0));
        let caught_up = part(Start::Beginning, Some(100), Some((0, 100)));
        assert_eq!(caught_up.lag(), Some(0));
        assert_eq!(caught_up.report(9_000).lag_s, 0.0, "0 s when caught up");
        let behind = part(Start::Beginning, Some(90), Some((0, 100)));
        assert_eq!(
            behind.report(4_500).lag_s,
            3.5,
            "since the last analysed was written"
        );
    }

    #[test]
    fn the_first_message_tells_retention_and_a_log_that_went_back() {
        let committed = part(Start::Committed(500), None, Some((700, 900)));
        assert_eq!(first_step(None, &committed, 700), Step::Expired(200));
        assert_eq!(first_step(None, &committed, 500), Step::InOrder);
        let fresh = part(Start::Beginning, None, Some((0, 900)));
        assert_eq!(first_step(None, &fresh, 0), Step::InOrder);
        assert_eq!(first_step(None, &fresh, 300), Step::Expired(300));
        // This consumer was at 2,000; the log now ends at 900: the broker lost it.
        let unknown = part(Start::Unknown, None, Some((0, 900)));
        assert_eq!(
            first_step(None, &unknown, 850),
            Step::InOrder,
            "no commit known"
        );
        assert_eq!(unknown.lag(), Some(0));
        let restarted = part(Start::End, None, Some((0, 900)));
        assert_eq!(
            first_step(Some(2_000), &restarted, 850),
            Step::Rewound { from: 2_000 }
        );
        // A replay from an older commit is not a rewind: the log still reaches past it.
        let replay = part(Start::Committed(1_500), None, Some((0, 2_400)));
        assert_eq!(first_step(Some(2_000), &replay, 1_500), Step::InOrder);
    }

    #[test]
    fn a_step_back_is_judged_by_the_first_message_that_tells() {
        use Arrival::{Duplicate, Fresh, Unsequenced};
        // From 7,583 back to 7,581: the re-delivered event of ours says "the same log".
        assert_eq!(
            judge(7_583, 7_581, 7_581, Some(Duplicate)),
            Some(Back::Again {
                from: 7_583,
                to: 7_581
            })
        );
        // A new event under where the consumer was: another log.
        assert_eq!(
            judge(7_583, 100, 100, Some(Fresh)),
            Some(Back::Lost {
                from: 7_583,
                to: 100
            })
        );
        // Malformed, another producer's, or without a sequence number: not yet told...
        for arrival in [None, Some(Unsequenced)] {
            assert_eq!(judge(7_583, 7_580, 7_580, arrival), None);
            assert_eq!(judge(7_583, 7_580, 7_581, arrival), None);
        }
        // ... until the offsets are back where they were with nothing new on the way.
        let again = Some(Back::Again {
            from: 7_583,
            to: 7_580,
        });
        assert_eq!(judge(7_583, 7_580, 7_582, None), again);
        assert_eq!(judge(7_583, 7_580, 7_583, Some(Fresh)), again);
    }

    #[test]
    fn an_open_step_back_closes_once_judged_or_when_the_log_is_replaced() {
        let mut positions = Positions::new(&[("sensor-data".into(), StreamKind::Sensor)], false);
        let mut p = part(Start::Committed(0), Some(7_581), Some((0, 7_583)));
        p.back = Some((7_583, 7_580));
        positions.parts.insert((0, 0), p);
        positions.open_backs = 1;
        assert!(positions.judging());
        assert_eq!(positions.judge((0, 0), 7_580, None), None, "not yet told");
        assert!(positions.judging());
        assert_eq!(
            positions.judge((0, 0), 7_581, Some(Arrival::Duplicate)),
            Some(Back::Again {
                from: 7_583,
                to: 7_580
            })
        );
        assert!(!positions.judging(), "judged once, then closed");
        assert_eq!(positions.judge((0, 0), 7_582, Some(Arrival::Fresh)), None);
        positions.log_replaced();
        assert!(!positions.judging());
    }
}
