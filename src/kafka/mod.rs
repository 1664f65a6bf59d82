//! Everything that knows rdkafka. The rest of the program talks to Kafka only through the
//! types here, so that the embedded broker and a real cluster look the same above this line.

pub mod admin;
pub mod broker;
pub mod consumer;
pub mod producer;

use rdkafka::ClientConfig;
use rdkafka::config::RDKafkaLogLevel;
use thiserror::Error;

use crate::config::Settings;
use streamwatch::streams::StreamKind;

#[derive(Debug, Error)]
pub enum KafkaError {
    #[error("cannot create the Kafka client: {0} (check the -X properties)")]
    Client(rdkafka::error::KafkaError),
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
    #[error("{0}")]
    Admin(String),
}

/// Property names whose values are secrets and must never be printed or logged.
pub fn is_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["password", "secret", "key.pem", "token", "jaas"]
        .iter()
        .any(|s| k.contains(s))
}

/// A client config with the bootstrap servers and every pass-through property applied.
pub fn client_config(settings: &Settings, brokers: &str) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", brokers);
    cfg.set_log_level(RDKafkaLogLevel::Warning);
    for (k, v) in &settings.kafka.properties {
        let shown = if is_secret(k) { "***" } else { v.as_str() };
        tracing::debug!(key = %k, value = %shown, "librdkafka property");
        cfg.set(k, v);
    }
    cfg
}

/// The topic names for the given streams.
pub fn topics(settings: &Settings, kinds: &[StreamKind]) -> Vec<String> {
    kinds.iter().map(|k| settings.topic(k.topic())).collect()
}

/// The three topic names.
pub fn all_topics(settings: &Settings) -> Vec<String> {
    topics(settings, &StreamKind::ALL)
}
