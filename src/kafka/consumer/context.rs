//! What librdkafka tells the consumer on its own thread, turned into state the snapshots
//! carry: broker health and lag from the statistics callback, client errors, and this
//! member's partitions from the rebalance callbacks.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError as RdError, KafkaResult};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::TopicPartitionList;
use rdkafka::types::RDKafkaErrorCode;
use serde::Serialize;

use streamwatch::streams::StreamKind;

/// Lag of one owned partition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartitionLag {
    pub stream: StreamKind,
    pub topic: String,
    pub partition: i32,
    /// The log's end at the last fetch (-1 before the first).
    pub high: i64,
    /// Messages written and not yet analysed.
    pub lag: i64,
    /// While messages wait: seconds since the last analysed one was written (the oldest
    /// waiting message is at most this old); 0 when caught up.
    pub lag_s: f64,
}

/// Broker connection state from the statistics callback and the error callback, and the
/// lag the consumer thread computes from its own position.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Health {
    pub brokers_up: usize,
    pub brokers: usize,
    pub rtt_ms: f64,
    pub lag: Vec<PartitionLag>,
    pub last_error: Option<String>,
    /// When (ms since the epoch) the last broker was lost, while none is up.
    pub down_since_ms: Option<i64>,
}

impl Health {
    pub fn total_lag(&self) -> i64 {
        self.lag.iter().map(|l| l.lag.max(0)).sum()
    }

    /// The largest lag in seconds over the owned partitions.
    pub fn lag_s(&self) -> f64 {
        self.lag.iter().map(|l| l.lag_s).fold(0.0, f64::max)
    }

    pub fn is_down(&self) -> bool {
        self.brokers > 0 && self.brokers_up == 0
    }

    /// Notes how many brokers are up, and since when none is.
    fn set_up(&mut self, up: usize) {
        self.brokers_up = up;
        if up == 0 && self.brokers > 0 {
            self.down_since_ms
                .get_or_insert_with(|| streamwatch::streams::Timestamp::now().millis());
        } else if up > 0 {
            self.down_since_ms = None;
        }
    }
}

/// This process's place in its consumer group.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Membership {
    pub group: String,
    /// The partitions this member owns, per topic.
    pub owned: BTreeMap<String, Vec<i32>>,
    /// How many partitions each topic has.
    pub partitions: BTreeMap<String, usize>,
}

impl Membership {
    /// Whether this member reads only part of its topics: the group's other members have
    /// the rest, and stream-wide figures are this member's share.
    pub fn is_partial(&self) -> bool {
        !self.partitions.is_empty()
            && self
                .partitions
                .iter()
                .any(|(t, n)| self.owned.get(t).map_or(0, Vec::len) < *n)
    }

    /// "member of G, partitions 0, 2, 4" for a member with part of the topics (per topic when
    /// they differ), else "group G".
    pub fn describe(&self) -> String {
        if !self.is_partial() {
            return format!("group {}", self.group);
        }
        let list = |ps: &[i32]| {
            let v: Vec<String> = ps.iter().map(i32::to_string).collect();
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        let sets: Vec<&Vec<i32>> = self.owned.values().collect();
        let same =
            self.owned.len() == self.partitions.len() && sets.windows(2).all(|w| w[0] == w[1]);
        let owned = match sets.first() {
            Some(first) if same => format!("partitions {}", list(first)),
            _ => self
                .partitions
                .keys()
                .map(|t| {
                    format!(
                        "{t} {}",
                        list(self.owned.get(t).map_or(&[][..], Vec::as_slice))
                    )
                })
                .collect::<Vec<_>>()
                .join(" · "),
        };
        format!("member of {}, {owned}", self.group)
    }
}

/// The consumer's context: where librdkafka's callbacks leave what they learn.
pub(super) struct ConsumerCtx {
    pub health: Arc<Mutex<Health>>,
    pub membership: Arc<Mutex<Membership>>,
    /// Bumped on every assignment and revocation, so the consumer thread learns of one
    /// without a lock.
    pub assignments: Arc<AtomicU64>,
    /// The stream of each subscribed topic.
    pub streams: HashMap<String, StreamKind>,
    /// Bumped when a broker answers with another cluster id than before: a broker that
    /// restarted without its data (librdkafka says so only in its log).
    pub cluster_changes: Arc<AtomicU64>,
    /// Bumped when librdkafka moved a partition's position by `auto.offset.reset`, because
    /// the broker no longer had it (again said only in its log).
    pub offset_resets: Arc<AtomicU64>,
}

impl ConsumerCtx {
    /// Partitions per subscribed topic, as the statistics' metadata knows them.
    fn partition_counts(&self, s: &Statistics) -> BTreeMap<String, usize> {
        s.topics
            .iter()
            .filter(|(topic, _)| self.streams.contains_key(*topic))
            .map(|(topic, t)| {
                let n = t.partitions.values().filter(|p| p.partition >= 0).count();
                (topic.clone(), n)
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

impl ClientContext for ConsumerCtx {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        if fac == "CLUSTERID" {
            self.cluster_changes.fetch_add(1, Ordering::Release);
        }
        // A reset for lack of a commit (a new group) is only a debug line; a reset because
        // the broker no longer has the position is a warning.
        if fac == "OFFSET"
            && matches!(level, RDKafkaLogLevel::Warning)
            && message.contains("offset reset")
        {
            self.offset_resets.fetch_add(1, Ordering::Release);
        }
        forward_log(level, fac, message);
    }

    fn stats(&self, s: Statistics) {
        let real: Vec<_> = s.brokers.values().filter(|b| b.nodeid >= 0).collect();
        let up = real.iter().filter(|b| b.state == "UP").count();
        let rtts: Vec<f64> = real
            .iter()
            .filter_map(|b| b.rtt.as_ref().map(|w| w.avg as f64 / 1000.0))
            .collect();
        if let Ok(mut h) = self.health.lock() {
            h.brokers = real.len();
            h.set_up(up);
            h.rtt_ms = if rtts.is_empty() {
                0.0
            } else {
                rtts.iter().sum::<f64>() / rtts.len() as f64
            };
            if up > 0 {
                h.last_error = None;
            }
        }
        let counts = self.partition_counts(&s);
        if let Ok(mut m) = self.membership.lock()
            && !counts.is_empty()
        {
            m.partitions = counts;
        }
    }

    fn error(&self, error: RdError, reason: &str) {
        tracing::warn!(%error, reason, "consumer client error");
        if let Ok(mut h) = self.health.lock() {
            // librdkafka says so at once; the statistics would say it up to a second later.
            if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) {
                h.set_up(0);
            }
            h.last_error = Some(format!("{error}: {reason}"));
        }
    }
}

/// Each partition of a commit as `topic[partition]@offset`.
fn described(offsets: &TopicPartitionList) -> Vec<String> {
    offsets
        .elements()
        .iter()
        .map(|e| format!("{}[{}]@{:?}", e.topic(), e.partition(), e.offset()))
        .collect()
}

/// librdkafka's log line into `tracing`, as rdkafka's default does.
pub(super) fn forward_log(level: RDKafkaLogLevel, fac: &str, message: &str) {
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => {
            tracing::error!(target: "librdkafka", "librdkafka: {fac} {message}");
        }
        RDKafkaLogLevel::Warning => {
            tracing::warn!(target: "librdkafka", "librdkafka: {fac} {message}")
        }
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
            tracing::info!(target: "librdkafka", "librdkafka: {fac} {message}");
        }
        RDKafkaLogLevel::Debug => {
            tracing::debug!(target: "librdkafka", "librdkafka: {fac} {message}")
        }
    }
}

impl ConsumerContext for ConsumerCtx {
    /// Keeps `Membership::owned` as the group assigns and revokes partitions (eagerly, all
    /// at once, or cooperatively, some at a time).
    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Ok(mut m) = self.membership.lock() else {
            return;
        };
        match rebalance {
            Rebalance::Assign(tpl) => {
                for e in tpl.elements() {
                    let owned = m.owned.entry(e.topic().to_string()).or_default();
                    owned.push(e.partition());
                    owned.sort_unstable();
                    owned.dedup();
                }
                self.assignments.fetch_add(1, Ordering::Release);
                tracing::info!(owned = ?m.owned, "partitions assigned");
            }
            Rebalance::Revoke(tpl) => {
                for e in tpl.elements() {
                    if let Some(owned) = m.owned.get_mut(e.topic()) {
                        owned.retain(|p| *p != e.partition());
                    }
                }
                m.owned.retain(|_, ps| !ps.is_empty());
                self.assignments.fetch_add(1, Ordering::Release);
                tracing::info!(owned = ?m.owned, "partitions revoked");
            }
            Rebalance::Error(e) => tracing::warn!(error = %e, "rebalance failed"),
        }
    }

    /// A commit the broker refused (the automatic ones included, such as the commit of a
    /// revoked partition's offsets) goes to the log: the group resumes from the last commit
    /// that went through, and reads what came after again.
    /// (Runs at every automatic commit: the offsets are written out only where the line is
    /// logged.)
    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        match result {
            Ok(()) => tracing::debug!(committed = ?described(offsets), "offsets committed"),
            Err(e) => tracing::warn!(error = %e, committed = ?described(offsets), "commit failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(owned: &[(&str, &[i32])]) -> Membership {
        Membership {
            group: "g".into(),
            owned: owned
                .iter()
                .map(|(t, p)| (t.to_string(), p.to_vec()))
                .collect(),
            partitions: [("sensor-data", 6), ("log-data", 6)]
                .into_iter()
                .map(|(t, n)| (t.to_string(), n))
                .collect(),
        }
    }

    #[test]
    fn a_member_says_which_partitions_it_owns() {
        let all: &[i32] = &[0, 1, 2, 3, 4, 5];
        assert_eq!(
            member(&[("sensor-data", all), ("log-data", all)]).describe(),
            "group g"
        );
        let some = member(&[("sensor-data", &[0, 2, 4]), ("log-data", &[0, 2, 4])]);
        assert!(some.is_partial());
        assert_eq!(some.describe(), "member of g, partitions 0, 2, 4");
        let apart = member(&[("sensor-data", &[1]), ("log-data", &[3])]);
        assert_eq!(apart.describe(), "member of g, log-data 3 · sensor-data 1");
        assert_eq!(
            member(&[]).describe(),
            "member of g, log-data none · sensor-data none"
        );
    }
}
