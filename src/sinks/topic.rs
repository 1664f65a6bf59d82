//! `--alerts-topic T`: every state change of an alert as one JSON message (Alertmanager's
//! alert shape plus `status` and `fingerprint`), keyed by fingerprint, so that a compacted
//! topic keeps each alert's last state and `streamwatch alerts` shows what fires now from any
//! machine. librdkafka queues and retries; what it gives up on is counted.

use std::time::Duration;

use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::http::alertmanager_body;
use super::{Msg, Slot, topic_of};
use streamwatch::analytics::{Alert, AlertState};
use streamwatch::streams::{PerStream, Timestamp};

/// The default name of the alerts topic (after the topic prefix).
pub const DEFAULT_TOPIC: &str = "streamwatch-alerts";

/// One state change as the topic carries it.
pub fn message(a: &Alert, topics: &PerStream<String>, now: Timestamp) -> Value {
    let mut v = alertmanager_body(a, topic_of(topics, a.stream), now);
    v["status"] = json!(match a.state {
        AlertState::Resolved => "resolved",
        _ => "firing",
    });
    v["fingerprint"] = json!(a.fingerprint());
    v
}

pub(super) struct Task {
    pub producer: FutureProducer,
    pub topic: String,
    pub topics: PerStream<String>,
    pub slot: Slot,
}

impl Task {
    pub async fn run(self, mut rx: mpsc::Receiver<Msg>) {
        while let Some(m) = rx.recv().await {
            // The topic is a record of state changes: an acknowledgement is not one.
            let Msg::Alert(a) = m else { continue };
            let fp = a.fingerprint();
            let body = message(&a, &self.topics, Timestamp::now()).to_string();
            let record = FutureRecord::to(&self.topic).key(&fp).payload(&body);
            let sent = self.producer.send(record, Duration::from_secs(10)).await;
            self.slot.note(|s| match sent {
                Ok(_) => {
                    s.sent += 1;
                    s.down_since = None;
                }
                Err((e, _)) => {
                    s.dropped += 1;
                    s.down_since.get_or_insert_with(Timestamp::now);
                    s.last_error = Some(e.to_string());
                }
            });
        }
    }
}
