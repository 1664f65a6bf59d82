//! Everything that knows rdkafka. The rest of the program talks to Kafka only through the
//! types here, so that the embedded broker and a real cluster look the same above this line.

pub mod admin;
pub mod broker;
pub mod consumer;
pub mod gate;
pub mod groups;
pub mod producer;

use rdkafka::ClientConfig;
use rdkafka::config::RDKafkaLogLevel;
use thiserror::Error;

use crate::config::Settings;
use streamwatch::streams::StreamKind;

#[derive(Debug, Error)]
pub enum KafkaError {
    #[error("cannot create the Kafka client: {0} (check the -X properties)")]
    Client(String),
    #[error(
        "cannot reach Kafka at {brokers} within {secs:.0}s: {reason} \
         (check --brokers / bootstrap.servers, and -X security.protocol if the cluster needs TLS or SASL)"
    )]
    Unreachable {
        brokers: String,
        secs: f64,
        reason: String,
    },
    #[error("the embedded broker failed: {0}")]
    Embedded(String),
    #[error("cannot start the {role} thread: {source}")]
    Thread {
        role: &'static str,
        source: std::io::Error,
    },
    #[error("cannot {what}: {source}")]
    Request {
        what: &'static str,
        source: rdkafka::error::KafkaError,
    },
    #[error("cannot {what} topic {topic}: {code}{hint}")]
    Topic {
        what: &'static str,
        topic: String,
        code: rdkafka::types::RDKafkaErrorCode,
        hint: &'static str,
    },
}

/// Property names whose values are secrets and must never be printed or logged.
pub fn is_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["password", "secret", "key.pem", "token", "jaas"]
        .iter()
        .any(|s| k.contains(s))
}

/// A client that could not be created or subscribe: librdkafka's reason, with the value of
/// every secret property, and of any property the reason names, masked (a misspelt
/// `sasl.pasword` would otherwise be echoed back).
pub fn client_error(settings: &Settings, e: &rdkafka::error::KafkaError) -> KafkaError {
    let mut text = e.to_string();
    for (k, v) in &settings.kafka.properties {
        if !v.is_empty() && (is_secret(k) || text.contains(k.as_str())) {
            text = text.replace(v.as_str(), "***");
        }
    }
    KafkaError::Client(text)
}

/// Every client's config, built one way: the bootstrap servers and librdkafka's log level
/// (its own logs go through `tracing` to the log file), then the role's properties (`role`
/// sets them, each with its reason), then the pass-through properties (`-X`,
/// `[kafka.properties]`), which win over both. Only their keys are logged, never their values.
pub fn client_config(
    settings: &Settings,
    brokers: &str,
    role: impl FnOnce(&mut ClientConfig),
) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", brokers);
    cfg.set_log_level(RDKafkaLogLevel::Warning);
    // Small requests go out at once: with Nagle's algorithm a fetch or a produce request can
    // wait for the previous one's acknowledgement (tens of milliseconds of latency).
    cfg.set("socket.nagle.disable", "true");
    // After an outage, reconnect within a second of the broker's return, as the Java clients
    // do (librdkafka backs off up to 10 s between attempts). A consumer then heartbeats again
    // inside its 10 s session and keeps its partitions; before, it was revoked and read again
    // from its last commit (docs/perf-journal.md).
    cfg.set("reconnect.backoff.max.ms", "1000");
    role(&mut cfg);
    for (k, v) in &settings.kafka.properties {
        // Keys only: a misspelt secret (`sasl.pasword`) would not look like one.
        tracing::debug!(key = %k, "librdkafka property");
        cfg.set(k, v);
    }
    cfg
}

/// The topic names for the given streams.
pub fn topics(settings: &Settings, kinds: &[StreamKind]) -> Vec<String> {
    kinds.iter().map(|&k| settings.topic(k)).collect()
}

/// The three topic names.
pub fn all_topics(settings: &Settings) -> Vec<String> {
    topics(settings, &StreamKind::ALL)
}
