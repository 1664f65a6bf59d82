//! The HTTP sinks, one delivery loop in two shapes:
//! - Alertmanager's `POST /api/v2/alerts`: every alert that fires or resolves, at once; every
//!   firing alert again each `RESEND`, with an `endsAt` a few re-sends ahead, so that
//!   Alertmanager's resolve timeout never closes an alert that is still firing (as
//!   Prometheus does);
//! - a webhook receiving Alertmanager's webhook body (`version` "4"), the changes of
//!   `GROUP_WAIT` gathered into one notification per stream.
//!
//! While the receiver is down the changes wait (one per alert, the latest) and tries back
//! off.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{Msg, Slot, Target, backoff, topic_of};
use streamwatch::analytics::{Alert, AlertState};
use streamwatch::streams::{PerStream, StreamKind, Timestamp};

/// How often a firing alert is sent again.
const RESEND: Duration = Duration::from_secs(60);
/// A firing alert's `endsAt` is this many re-sends ahead.
const ENDS_AFTER_RESENDS: u32 = 4;
/// Changes kept while the receiver is down, at most (one per alert).
const PENDING_CAP: usize = 10_000;
/// A webhook's changes are gathered this long into one notification per stream.
const GROUP_WAIT: Duration = Duration::from_secs(1);

/// What the receiver expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Alertmanager,
    Webhook,
}

impl Shape {
    pub fn name(self) -> &'static str {
        match self {
            Shape::Alertmanager => "alertmanager",
            Shape::Webhook => "webhook",
        }
    }
}

pub(super) struct Task {
    pub shape: Shape,
    pub target: Target,
    pub client: reqwest::Client,
    pub topics: PerStream<String>,
    pub slot: Slot,
}

/// One alert in Alertmanager's shape (`postableAlert`).
pub fn alertmanager_body(a: &Alert, topic: &str, now: Timestamp) -> Value {
    let ends = match (a.state, a.resolved_at) {
        (AlertState::Resolved, Some(t)) => t,
        _ => Timestamp(now.millis() + (RESEND * ENDS_AFTER_RESENDS).as_millis() as i64),
    };
    let evidence: Vec<String> = a
        .evidence
        .iter()
        .map(|e| format!("{} ×{} (worst {:.2})", e.rule, e.count, e.value))
        .collect();
    json!({
        "labels": {
            "alertname": a.rule,
            "stream": a.stream.name(),
            "entity": a.entity,
            "severity": a.severity.name(),
            "topic": topic,
        },
        "annotations": {
            "summary": a.message,
            "description": format!("evidence: {}", evidence.join(", ")),
        },
        "startsAt": a.first_seen,
        "endsAt": ends,
    })
}

/// Alertmanager's webhook body for `alerts` of one stream (`version` "4").
pub fn webhook_body(alerts: &[Alert], topics: &PerStream<String>, now: Timestamp) -> Value {
    let items: Vec<Value> = alerts
        .iter()
        .map(|a| {
            let mut v = alertmanager_body(a, topic_of(topics, a.stream), now);
            v["status"] = json!(if a.state == AlertState::Resolved {
                "resolved"
            } else {
                "firing"
            });
            v["fingerprint"] = json!(a.fingerprint());
            v["generatorURL"] = json!("");
            v
        })
        .collect();
    let common = |key: &str| -> Value {
        let Some(first) = items.first().and_then(|i| i[key].as_object()) else {
            return json!({});
        };
        let shared: serde_json::Map<String, Value> = first
            .iter()
            .filter(|(k, v)| items.iter().all(|i| i[key][k.as_str()] == **v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Value::Object(shared)
    };
    let stream = alerts.first().map_or("", |a| a.stream.name());
    let firing = items.iter().any(|i| i["status"] == "firing");
    json!({
        "version": "4",
        "groupKey": format!("{{}}:{{stream=\"{stream}\"}}"),
        "truncatedAlerts": 0,
        "status": if firing { "firing" } else { "resolved" },
        "receiver": "streamwatch",
        "groupLabels": {"stream": stream},
        "commonLabels": common("labels"),
        "commonAnnotations": common("annotations"),
        "externalURL": "",
        "alerts": items,
    })
}

/// What a sink holds between deliveries.
#[derive(Default)]
struct Held {
    /// Firing alerts, for re-sending.
    firing: HashMap<String, Alert>,
    /// Changes not yet delivered, the latest per alert.
    pending: HashMap<String, Alert>,
    /// Since when changes gather (webhook).
    gathering: Option<Instant>,
    /// When the next try may go, and the backoff that set it.
    next_try: Option<Instant>,
    wait: Duration,
}

impl Task {
    pub async fn run(self, mut rx: mpsc::Receiver<Msg>) {
        let mut held = Held::default();
        let mut next_resend = Instant::now() + RESEND;
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                m = rx.recv() => match m {
                    Some(Msg::Alert(a)) => self.take(*a, &mut held.firing, &mut held.pending),
                    Some(Msg::Forget(fp)) => {
                        held.firing.remove(&fp);
                        held.pending.remove(&fp);
                    }
                    None => break,
                },
                _ = tick.tick() => {}
            }
            let now = Instant::now();
            if self.shape == Shape::Alertmanager && now >= next_resend {
                next_resend = now + RESEND;
                for (fp, a) in &held.firing {
                    held.pending.entry(fp.clone()).or_insert_with(|| a.clone());
                }
            }
            if self.due(&mut held, now) {
                self.deliver(&mut held).await;
            } else {
                self.slot.note(|s| s.queued = held.pending.len());
            }
        }
        // The queue closed (the consumer ended): what is pending gets one last try.
        held.next_try = None;
        if !held.pending.is_empty() {
            self.deliver(&mut held).await;
        }
    }

    /// Whether changes wait and may go now (a webhook's after gathering a while).
    fn due(&self, held: &mut Held, now: Instant) -> bool {
        if held.pending.is_empty() {
            held.gathering = None;
            return false;
        }
        let since = *held.gathering.get_or_insert(now);
        let gathered = self.shape == Shape::Alertmanager || now.duration_since(since) >= GROUP_WAIT;
        gathered && held.next_try.is_none_or(|t| now >= t)
    }

    /// Sends what waits; on failure keeps it (the latest per alert, up to a cap) and backs
    /// off.
    async fn deliver(&self, held: &mut Held) {
        let batch: Vec<Alert> = held.pending.drain().map(|(_, a)| a).collect();
        held.gathering = None;
        match self.send(&batch).await {
            Ok(()) => {
                held.wait = Duration::ZERO;
                self.slot.note(|s| {
                    s.sent += batch.len() as u64;
                    s.down_since = None;
                    s.queued = 0;
                });
            }
            Err(e) => {
                held.wait = backoff(held.wait);
                held.next_try = Some(Instant::now() + held.wait);
                tracing::warn!(target = %self.target.display, error = %e, sink = self.shape.name());
                for a in batch {
                    held.pending.entry(a.fingerprint()).or_insert(a);
                }
                let over = held.pending.len().saturating_sub(PENDING_CAP);
                let dropped: Vec<String> = held.pending.keys().take(over).cloned().collect();
                dropped.iter().for_each(|k| {
                    held.pending.remove(k);
                });
                let queued = held.pending.len();
                self.slot.note(|s| {
                    s.down_since.get_or_insert_with(Timestamp::now);
                    s.last_error = Some(e);
                    s.queued = queued;
                    s.dropped += over as u64;
                });
            }
        }
    }

    fn take(
        &self,
        a: Alert,
        firing: &mut HashMap<String, Alert>,
        pending: &mut HashMap<String, Alert>,
    ) {
        let fp = a.fingerprint();
        match a.state {
            AlertState::Firing => {
                firing.insert(fp.clone(), a.clone());
            }
            AlertState::Resolved => {
                firing.remove(&fp);
            }
            AlertState::Pending => return,
        }
        pending.insert(fp, a);
    }

    async fn send(&self, batch: &[Alert]) -> Result<(), String> {
        let now = Timestamp::now();
        match self.shape {
            Shape::Alertmanager => {
                let body: Vec<Value> = batch
                    .iter()
                    .map(|a| alertmanager_body(a, topic_of(&self.topics, a.stream), now))
                    .collect();
                self.post("/api/v2/alerts", &json!(body)).await
            }
            Shape::Webhook => {
                for k in StreamKind::ALL {
                    let group: Vec<Alert> =
                        batch.iter().filter(|a| a.stream == k).cloned().collect();
                    if !group.is_empty() {
                        self.post("", &webhook_body(&group, &self.topics, now))
                            .await?;
                    }
                }
                Ok(())
            }
        }
    }

    async fn post(&self, path: &str, body: &Value) -> Result<(), String> {
        let resp = self
            .target
            .post(&self.client, path)
            .json(body)
            .send()
            .await
            // Errors name the address without its credentials (reqwest's carry the URL).
            .map_err(|e| format!("{}: {}", self.target.display, e.without_url()))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(format!("{}: HTTP {}", self.target.display, resp.status()))
        }
    }
}
