//! Consumer groups as the cluster sees them: the groups there are (ListGroups), and for one
//! group its committed offsets against the partitions' watermarks, which is its lag, and its
//! members with their partitions where the broker describes them (DescribeGroups).
//!
//! The embedded broker (librdkafka's mock cluster) answers neither ListGroups nor
//! DescribeGroups; it does keep committed offsets, so a named group's lag works there too.

use std::collections::BTreeMap;

use rdkafka::Offset;
use rdkafka::TopicPartitionList;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde::Serialize;

use super::KafkaError;
use super::admin::Admin;
use crate::config::Settings;

/// A group as ListGroups and DescribeGroups report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupSummary {
    pub group: String,
    pub state: String,
    pub protocol_type: String,
    pub members: usize,
}

/// A member of a group and the partitions it was assigned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupMember {
    pub id: String,
    pub client_id: String,
    pub host: String,
    pub partitions: BTreeMap<String, Vec<i32>>,
}

/// One partition of a group's topics: where the group is, and how far behind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionOffsets {
    pub topic: String,
    pub partition: i32,
    /// The group's committed offset; `None` when it has committed none here.
    pub committed: Option<i64>,
    pub low: i64,
    pub high: i64,
    /// High watermark − committed offset; 0 for an empty partition; `None` when the group
    /// committed nothing in a partition that has messages.
    pub lag: Option<i64>,
    /// The client id of the member that owns the partition, where the broker says.
    pub member: Option<String>,
}

/// One group in detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupReport {
    pub group: String,
    pub state: Option<String>,
    /// `None` when the broker does not describe groups (the embedded broker).
    pub members: Option<Vec<GroupMember>>,
    pub partitions: Vec<PartitionOffsets>,
    /// The lag over the partitions with a committed offset.
    pub total_lag: i64,
    /// Partitions with messages where the group has committed nothing (lag unknown).
    pub uncommitted: usize,
}

/// The cluster's consumer groups.
pub fn list(admin: &Admin) -> Result<Vec<GroupSummary>, KafkaError> {
    let list = admin
        .consumer()
        .fetch_group_list(None, admin.timeout())
        .map_err(|source| KafkaError::Request {
            what: "list consumer groups (ListGroups)",
            source,
        })?;
    let mut groups: Vec<GroupSummary> = list
        .groups()
        .iter()
        .map(|g| GroupSummary {
            group: g.name().to_string(),
            state: g.state().to_string(),
            protocol_type: g.protocol_type().to_string(),
            members: g.members().len(),
        })
        .collect();
    groups.sort_by(|a, b| a.group.cmp(&b.group));
    Ok(groups)
}

/// `group` on `topics`: committed offsets, watermarks and lag per partition, and members.
pub fn describe(
    settings: &Settings,
    brokers: &str,
    admin: &Admin,
    group: &str,
    topics: &[String],
) -> Result<GroupReport, KafkaError> {
    let described = describe_members(admin, group);
    let (state, members) = match described {
        Some((state, members)) => (Some(state), Some(members)),
        None => (None, None),
    };
    let infos = admin.describe(topics)?;
    let mut tpl = TopicPartitionList::new();
    for t in &infos {
        for p in &t.partitions {
            tpl.add_partition(&t.name, p.id);
        }
    }
    let committed = committed_offsets(settings, brokers, group, tpl, admin)?;
    let owner = owners(members.as_deref().unwrap_or_default());
    let partitions: Vec<PartitionOffsets> = infos
        .iter()
        .flat_map(|t| t.partitions.iter().map(move |p| (t.name.as_str(), p)))
        .map(|(topic, p)| {
            let committed = committed.get(&(topic.to_string(), p.id)).copied();
            PartitionOffsets {
                topic: topic.to_string(),
                partition: p.id,
                committed,
                low: p.low,
                high: p.high,
                lag: committed
                    .map(|c| p.high - c)
                    .or((p.high == p.low).then_some(0)),
                member: owner.get(&(topic.to_string(), p.id)).cloned(),
            }
        })
        .collect();
    let total_lag = partitions.iter().filter_map(|p| p.lag).sum();
    let uncommitted = partitions.iter().filter(|p| p.lag.is_none()).count();
    Ok(GroupReport {
        group: group.to_string(),
        state,
        members,
        partitions,
        total_lag,
        uncommitted,
    })
}

/// The group's state and members, or `None` when the broker does not describe groups.
fn describe_members(admin: &Admin, group: &str) -> Option<(String, Vec<GroupMember>)> {
    let list = match admin
        .consumer()
        .fetch_group_list(Some(group), admin.timeout())
    {
        Ok(list) => list,
        Err(e) => {
            tracing::info!(error = %e, group, "the broker does not describe groups");
            return None;
        }
    };
    let g = list.groups().iter().find(|g| g.name() == group)?;
    let members = g
        .members()
        .iter()
        .map(|m| GroupMember {
            id: m.id().to_string(),
            client_id: m.client_id().to_string(),
            host: m.client_host().to_string(),
            partitions: m.assignment().map(parse_assignment).unwrap_or_default(),
        })
        .collect();
    Some((g.state().to_string(), members))
}

/// The group's committed offsets, read through a consumer with its id that never joins it.
fn committed_offsets(
    settings: &Settings,
    brokers: &str,
    group: &str,
    tpl: TopicPartitionList,
    admin: &Admin,
) -> Result<BTreeMap<(String, i32), i64>, KafkaError> {
    let cfg = super::client_config(settings, brokers, |c| {
        c.set("group.id", group);
        // Only reads the group's offsets: it never subscribes, so it never commits.
        c.set("enable.auto.commit", "false");
    });
    let consumer: BaseConsumer = cfg
        .create()
        .map_err(|e| super::client_error(settings, &e))?;
    let offsets = consumer
        .committed_offsets(tpl, admin.timeout())
        .map_err(|source| KafkaError::Request {
            what: "read the group's committed offsets (OffsetFetch)",
            source,
        })?;
    Ok(offsets
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some(((e.topic().to_string(), e.partition()), o)),
            _ => None,
        })
        .collect())
}

/// Which member's client id owns each partition.
fn owners(members: &[GroupMember]) -> BTreeMap<(String, i32), String> {
    members
        .iter()
        .flat_map(|m| {
            m.partitions.iter().flat_map(move |(t, ps)| {
                ps.iter()
                    .map(move |p| ((t.clone(), *p), m.client_id.clone()))
            })
        })
        .collect()
}

/// A member's assignment in the consumer protocol's layout: version (i16), then per topic its
/// name (i16 length, bytes) and partitions (i32 count, i32 each), then user data. Anything
/// that does not parse gives what parsed so far.
pub fn parse_assignment(bytes: &[u8]) -> BTreeMap<String, Vec<i32>> {
    let mut out = BTreeMap::new();
    let mut r = Bytes(bytes);
    let (Some(_version), Some(topics)) = (r.i16(), r.i32()) else {
        return out;
    };
    for _ in 0..topics.max(0) {
        let Some(name) = r.string() else { break };
        let Some(n) = r.i32() else { break };
        let partitions: Option<Vec<i32>> = (0..n.max(0)).map(|_| r.i32()).collect();
        let Some(partitions) = partitions else { break };
        out.insert(name, partitions);
    }
    out
}

/// A big-endian reader over the consumer protocol's bytes.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }

    fn i16(&mut self) -> Option<i16> {
        self.take().map(i16::from_be_bytes)
    }

    fn i32(&mut self) -> Option<i32> {
        self.take().map(i32::from_be_bytes)
    }

    fn string(&mut self) -> Option<String> {
        let n = usize::try_from(self.i16()?).ok()?;
        let (s, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(String::from_utf8_lossy(s).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assignment_parses_into_topics_and_partitions() {
        let mut b = vec![0, 1, 0, 0, 0, 2];
        for (topic, ps) in [("log-data", &[0i32, 2][..]), ("sensor-data", &[4][..])] {
            b.extend((topic.len() as i16).to_be_bytes());
            b.extend(topic.as_bytes());
            b.extend((ps.len() as i32).to_be_bytes());
            for p in ps {
                b.extend(p.to_be_bytes());
            }
        }
        b.extend((-1i32).to_be_bytes());
        let a = parse_assignment(&b);
        assert_eq!(a["log-data"], [0, 2]);
        assert_eq!(a["sensor-data"], [4]);
        assert_eq!(parse_assignment(&b[..9]), BTreeMap::new(), "cut short");
        assert!(parse_assignment(&[]).is_empty());
    }
}
