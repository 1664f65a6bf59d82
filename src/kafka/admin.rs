//! Topic administration: create, describe (partitions and watermarks) and delete the stream
//! topics. Uses the Admin API on real clusters; the embedded broker has none, and its topics
//! already exist because the broker process made them.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError as RdError, RDKafkaErrorCode};
use rdkafka::metadata::Metadata;

use super::KafkaError;
use crate::config::Settings;

/// One partition's offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    pub id: i32,
    pub low: i64,
    pub high: i64,
}

/// A topic as `setup --list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    pub partitions: Vec<PartitionInfo>,
}

impl TopicInfo {
    pub fn messages(&self) -> i64 {
        self.partitions.iter().map(|p| p.high - p.low).sum()
    }
}

/// What `create` did with one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    New(String),
    Existing { name: String, partitions: usize },
}

/// A short-lived admin session against one cluster.
pub struct Admin {
    brokers: String,
    timeout: Duration,
    consumer: BaseConsumer,
    admin: AdminClient<DefaultClientContext>,
}

impl Admin {
    pub fn connect(settings: &Settings, brokers: &str) -> Result<Self, KafkaError> {
        let cfg = super::client_config(settings, brokers, |_| {});
        let consumer: BaseConsumer = cfg
            .create()
            .map_err(|e| super::client_error(settings, &e))?;
        let admin = cfg
            .create()
            .map_err(|e| super::client_error(settings, &e))?;
        let this = Self {
            brokers: brokers.to_string(),
            timeout: settings.timeout(),
            consumer,
            admin,
        };
        this.metadata()?;
        Ok(this)
    }

    /// The session's consumer (no group): metadata, watermarks, group lists.
    pub fn consumer(&self) -> &BaseConsumer {
        &self.consumer
    }

    /// How long a request may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn metadata(&self) -> Result<Metadata, KafkaError> {
        self.consumer
            .fetch_metadata(None, self.timeout)
            .map_err(|e| self.unreachable(e))
    }

    fn unreachable(&self, e: RdError) -> KafkaError {
        KafkaError::Unreachable {
            brokers: self.brokers.clone(),
            secs: self.timeout.as_secs_f64(),
            reason: e.to_string(),
        }
    }

    /// Partition counts of the topics that exist, by name.
    pub fn existing(&self) -> Result<Vec<(String, usize)>, KafkaError> {
        let md = self.metadata()?;
        Ok(md
            .topics()
            .iter()
            .filter(|t| t.error().is_none())
            .map(|t| (t.name().to_string(), t.partitions().len()))
            .collect())
    }

    /// Creates the topics that do not exist yet; existing ones are reported, not touched.
    pub async fn create(
        &self,
        topics: &[String],
        partitions: i32,
        replication: i32,
    ) -> Result<Vec<Created>, KafkaError> {
        let existing = self.existing()?;
        let mut out = Vec::new();
        let mut missing = Vec::new();
        for t in topics {
            match existing.iter().find(|(n, _)| n == t) {
                Some((name, p)) => out.push(Created::Existing {
                    name: name.clone(),
                    partitions: *p,
                }),
                None => missing.push(t.as_str()),
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let new: Vec<NewTopic> = missing
            .iter()
            .map(|t| NewTopic::new(t, partitions, TopicReplication::Fixed(replication)))
            .collect();
        let results = self
            .admin
            .create_topics(&new, &self.options())
            .await
            .map_err(|e| admin_error("create topics", e))?;
        for r in results {
            match r {
                Ok(name) => out.push(Created::New(name)),
                Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => out.push(Created::Existing {
                    name,
                    partitions: partitions as usize,
                }),
                Err((name, code)) => return Err(code_error("create", &name, code)),
            }
        }
        Ok(out)
    }

    /// Deletes the topics that exist; returns the names deleted.
    pub async fn delete(&self, topics: &[String]) -> Result<Vec<String>, KafkaError> {
        let existing = self.existing()?;
        let present: Vec<&str> = topics
            .iter()
            .filter(|t| existing.iter().any(|(n, _)| n == *t))
            .map(String::as_str)
            .collect();
        if present.is_empty() {
            return Ok(vec![]);
        }
        let results = self
            .admin
            .delete_topics(&present, &self.options())
            .await
            .map_err(|e| admin_error("delete topics", e))?;
        let mut out = Vec::new();
        for r in results {
            match r {
                Ok(name) => out.push(name),
                Err((name, code)) => return Err(code_error("delete", &name, code)),
            }
        }
        Ok(out)
    }

    /// Partitions and watermarks of each of `topics` that exists.
    pub fn describe(&self, topics: &[String]) -> Result<Vec<TopicInfo>, KafkaError> {
        let md = self.metadata()?;
        let mut out = Vec::new();
        for name in topics {
            let Some(t) = md
                .topics()
                .iter()
                .find(|t| t.name() == name && t.error().is_none())
            else {
                continue;
            };
            let mut partitions = Vec::new();
            for p in t.partitions() {
                let (low, high) = self
                    .consumer
                    .fetch_watermarks(name, p.id(), self.timeout)
                    .map_err(|e| self.unreachable(e))?;
                partitions.push(PartitionInfo {
                    id: p.id(),
                    low,
                    high,
                });
            }
            partitions.sort_by_key(|p| p.id);
            out.push(TopicInfo {
                name: name.clone(),
                partitions,
            });
        }
        Ok(out)
    }

    fn options(&self) -> AdminOptions {
        AdminOptions::new()
            .operation_timeout(Some(self.timeout))
            .request_timeout(Some(self.timeout))
    }
}

/// Fails fast, with one line, when the cluster cannot be reached (a metadata request within
/// the timeout).
pub fn check_reachable(settings: &Settings, brokers: &str) -> Result<(), KafkaError> {
    Admin::connect(settings, brokers).map(|_| ())
}

fn admin_error(what: &'static str, source: RdError) -> KafkaError {
    KafkaError::Request { what, source }
}

fn code_error(what: &'static str, topic: &str, code: RDKafkaErrorCode) -> KafkaError {
    let hint = match code {
        RDKafkaErrorCode::UnsupportedVersion | RDKafkaErrorCode::InvalidRequest => {
            " (this broker has no Admin API; the embedded broker creates its topics at start, \
             see `streamwatch broker --partitions`)"
        }
        RDKafkaErrorCode::InvalidReplicationFactor => " (lower --replication-factor)",
        _ => "",
    };
    KafkaError::Topic {
        what,
        topic: topic.to_string(),
        code,
        hint,
    }
}
