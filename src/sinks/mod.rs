//! Where alerts go besides the screen: a real Alertmanager (`--alertmanager URL`), so that
//! its routing, grouping, silences and paging apply, or any receiver of Alertmanager's
//! webhook body (`--alerts-webhook URL`), or a Kafka topic (`--alerts-topic T`). A sink runs as a task on the tokio
//! runtime behind a bounded queue: offering an alert never waits, a sink that is down never
//! slows analysis, and what could not be queued is counted. A URL's credentials are used,
//! never printed or logged (`Target`).

mod http;
mod topic;

pub use http::Shape;
pub use topic::DEFAULT_TOPIC;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;

use crate::cli::SinkArgs;
use crate::config::Settings;
use streamwatch::analytics::Alert;
use streamwatch::streams::{PerStream, StreamKind, Timestamp};

/// Alerts waiting for a sink, at most; more are dropped and counted.
const QUEUE: usize = 4096;
/// The longest wait between two tries of a sink that is down.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A sink's address with its credentials kept apart: `display` is safe to show.
#[derive(Clone)]
pub struct Target {
    pub url: reqwest::Url,
    pub user: Option<(String, Option<String>)>,
    pub display: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display)
    }
}

impl Target {
    /// Parses `url`; a user and password in it are taken out for basic auth.
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let mut u = reqwest::Url::parse(url.trim())
            .map_err(|e| anyhow::anyhow!("{} is not a URL: {e}", redact(url)))?;
        if !matches!(u.scheme(), "http" | "https") {
            anyhow::bail!("{} is not an http(s) URL", redact(url));
        }
        let user = (!u.username().is_empty())
            .then(|| (u.username().to_string(), u.password().map(str::to_string)));
        let _ = u.set_username("");
        let _ = u.set_password(None);
        let display = u.as_str().trim_end_matches('/').to_string();
        Ok(Self {
            url: u,
            user,
            display,
        })
    }

    pub fn post(&self, client: &reqwest::Client, path: &str) -> reqwest::RequestBuilder {
        let mut url = self.url.clone();
        let base = url.path().trim_end_matches('/').to_string();
        url.set_path(&format!("{base}{path}"));
        let req = client.post(url);
        match &self.user {
            Some((user, pass)) => req.basic_auth(user, pass.as_deref()),
            None => req,
        }
    }
}

/// A URL as it may be shown: without anything between `//` and `@`.
fn redact(url: &str) -> String {
    match (url.find("//"), url.find('@')) {
        (Some(s), Some(at)) if at > s => format!("{}//…@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}

/// How a sink is doing, for the header and the summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SinkStatus {
    pub name: &'static str,
    pub target: String,
    /// Alerts delivered (each state change, and each re-send of a firing alert).
    pub sent: u64,
    /// Alerts that could not be queued (the queue was full) or were given up.
    pub dropped: u64,
    /// Waiting to be delivered.
    pub queued: usize,
    /// Wall time since which every try failed.
    pub down_since: Option<Timestamp>,
    pub last_error: Option<String>,
}

/// A sink's own entry in the shared statuses.
pub(crate) struct Slot {
    status: Arc<Mutex<Vec<SinkStatus>>>,
    index: usize,
}

impl Slot {
    /// Changes the sink's status.
    pub fn note(&self, f: impl FnOnce(&mut SinkStatus)) {
        if let Ok(mut s) = self.status.lock()
            && let Some(st) = s.get_mut(self.index)
        {
            f(st);
        }
    }
}

/// What the analysis side holds: a queue into each sink, and their statuses.
pub struct Sinks {
    queues: Vec<mpsc::Sender<Msg>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    status: Arc<Mutex<Vec<SinkStatus>>>,
    dropped: Arc<AtomicU64>,
}

/// What a sink's queue carries.
#[derive(Debug)]
pub enum Msg {
    /// An alert that fired or resolved.
    Alert(Box<Alert>),
    /// Acknowledged or silenced on the screen: not sent again (by fingerprint).
    Forget(String),
}

/// Where alerts go, from the command line.
#[derive(Debug, Clone, Default)]
pub struct SinkPlan {
    pub alertmanager: Option<Target>,
    pub webhook: Option<Target>,
    /// The alerts topic and the client that writes it (with the run's brokers).
    pub topic: Option<(String, rdkafka::ClientConfig)>,
    /// Each stream's topic, for the `topic` label.
    pub topics: PerStream<String>,
}

impl SinkPlan {
    /// The sinks the command line names; an alerts topic is written through `brokers`.
    pub fn new(settings: &Settings, args: &SinkArgs, brokers: &str) -> anyhow::Result<Self> {
        let topic = args.alerts_topic.as_ref().map(|t| {
            let name = if t.is_empty() {
                format!("{}{DEFAULT_TOPIC}", settings.kafka.topic_prefix)
            } else {
                t.clone()
            };
            let cfg = crate::kafka::client_config(settings, brokers, |c| {
                c.set("compression.type", "lz4");
            });
            (name, cfg)
        });
        Ok(Self {
            topic,
            alertmanager: args
                .alertmanager
                .as_deref()
                .map(Target::parse)
                .transpose()?,
            webhook: args
                .alerts_webhook
                .as_deref()
                .map(Target::parse)
                .transpose()?,
            topics: PerStream::from_fn(|k| settings.topic(k)),
        })
    }
}

impl Sinks {
    /// Starts the sinks the plan names on the current tokio runtime; `None` when it names
    /// none.
    pub fn spawn(plan: SinkPlan) -> anyhow::Result<Option<Self>> {
        let mut sinks = Self {
            queues: Vec::new(),
            tasks: Vec::new(),
            status: Arc::new(Mutex::new(Vec::new())),
            dropped: Arc::new(AtomicU64::new(0)),
        };
        let targets: Vec<(Shape, Target)> = [
            (Shape::Alertmanager, plan.alertmanager.clone()),
            (Shape::Webhook, plan.webhook.clone()),
        ]
        .into_iter()
        .filter_map(|(shape, t)| Some((shape, t?)))
        .collect();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        for (shape, target) in targets {
            let slot = sinks.add_status(shape.name(), &target.display);
            let task = http::Task {
                shape,
                target,
                client: client.clone(),
                topics: plan.topics.clone(),
                slot,
            };
            sinks.start(|rx| task.run(rx));
        }
        if let Some((topic, cfg)) = plan.topic {
            let slot = sinks.add_status("topic", &topic);
            let task = topic::Task {
                producer: cfg.create()?,
                topic,
                topics: plan.topics.clone(),
                slot,
            };
            sinks.start(|rx| task.run(rx));
        }
        Ok((!sinks.queues.is_empty()).then_some(sinks))
    }

    /// Runs a sink's task behind a queue of its own.
    fn start<F>(&mut self, run: impl FnOnce(mpsc::Receiver<Msg>) -> F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(QUEUE);
        self.queues.push(tx);
        self.tasks.push(tokio::spawn(run(rx)));
    }

    fn add_status(&self, name: &'static str, target: &str) -> Slot {
        let index = self.status.lock().map_or(0, |mut s| {
            s.push(SinkStatus {
                name,
                target: target.to_string(),
                ..SinkStatus::default()
            });
            s.len() - 1
        });
        Slot {
            status: self.status.clone(),
            index,
        }
    }

    /// Offers an alert that fired or resolved; never waits.
    pub fn offer(&self, a: &Alert) {
        for q in &self.queues {
            if q.try_send(Msg::Alert(Box::new(a.clone()))).is_err() {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// An alert acknowledged or silenced on the screen is not sent again.
    pub fn forget(&self, fingerprint: &str) {
        for q in &self.queues {
            let _ = q.try_send(Msg::Forget(fingerprint.to_string()));
        }
    }

    /// Closes the queues and gives the sinks up to `within` to deliver what waits; their
    /// statuses then.
    pub async fn close(mut self, within: Duration) -> Vec<SinkStatus> {
        self.queues.clear();
        for t in self.tasks.drain(..) {
            let _ = tokio::time::timeout(within, t).await;
        }
        self.status()
    }

    pub fn status(&self) -> Vec<SinkStatus> {
        let dropped = self.dropped.load(Ordering::Relaxed);
        let mut s = self.status.lock().map(|s| s.clone()).unwrap_or_default();
        for st in &mut s {
            st.dropped += dropped;
        }
        s
    }

    /// The header's word on sinks that are down: `alertmanager down since 12:00:01, 3 queued`.
    pub fn trouble(&self) -> Option<String> {
        let parts: Vec<String> = self
            .status()
            .iter()
            .filter_map(|s| {
                let since = s.down_since?;
                Some(format!(
                    "{} down since {}, {} queued",
                    s.name,
                    since.clock(),
                    s.queued
                ))
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// The label every sink gives an alert's topic.
fn topic_of(topics: &PerStream<String>, k: StreamKind) -> &str {
    &topics[k]
}

/// Doubles a backoff up to `MAX_BACKOFF`.
fn backoff(d: Duration) -> Duration {
    (d * 2).clamp(Duration::from_secs(1), MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_used_but_never_shown() {
        let t = Target::parse("http://ops:s3cret@127.0.0.1:9093/").unwrap();
        assert_eq!(t.display, "http://127.0.0.1:9093");
        assert_eq!(t.user, Some(("ops".into(), Some("s3cret".into()))));
        assert!(!format!("{t:?}").contains("s3cret"));
        let err = Target::parse("ftp://ops:s3cret@host/")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cret"), "{err}");
        let err = Target::parse("http//ops:s3cret@").unwrap_err().to_string();
        assert!(!err.contains("s3cret"), "{err}");
    }
}
