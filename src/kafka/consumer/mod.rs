//! The consumer task the TUI and `consume` share: one thread that polls librdkafka, decodes
//! each message through its topic's codec (what cannot be analysed becomes a counted
//! reject) and accounts for it (loss and duplicates per producer and entity), and one
//! analysis thread per topic (`shard`) that runs the stream's analyzer and model on what is
//! new. The consumer thread publishes a snapshot per tick from the shards' views, so the
//! screen costs the same at 10 events/s and at 500,000.
//!
//! Offsets are stored once the shards have analysed every message before them, and
//! committed by librdkafka in the background, and synchronously on shutdown: at-least-once.
//! Several processes with one `group` share the partitions; each snapshot says which this
//! member owns (`Membership`).

mod context;
mod engine;
mod offsets;
mod order;
pub use order::Order;
mod position;
mod shard;
mod stranded;

use std::sync::atomic::AtomicU64;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use serde::Serialize;
use tokio::sync::mpsc::UnboundedSender;

use super::KafkaError;
use crate::config::Settings;
use context::ConsumerCtx;
#[cfg(test)]
pub use context::PartitionLag;
pub use context::{Health, Membership};
use engine::Engine;
use streamwatch::analytics::ingest::IngestSnapshot;
use streamwatch::analytics::latency::Latency;
use streamwatch::analytics::{Alert, StreamSnapshot};
use streamwatch::ml::ModelSnapshot;
use streamwatch::streams::StreamKind;

/// What the consumer publishes.
#[derive(Debug, Clone)]
pub enum ConsumerEvent {
    Alert(Box<Alert>),
    /// An event that was analysed (sent when the plan asks for them).
    Analysed(Box<AnalysedEvent>),
    Snapshot(Box<ConsumerSnapshot>),
    /// A problem worth showing (commit failed, poll error).
    Problem(String),
    Finished(Box<ConsumerSnapshot>),
}

/// One analysed event: where it came from, whose it is, and which rules it fired.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalysedEvent {
    pub stream: StreamKind,
    pub partition: i32,
    pub offset: i64,
    pub producer: String,
    pub entity: String,
    pub seq: Option<u64>,
    pub rules: Vec<&'static str>,
}

/// One tick's view of the whole consumer.
#[derive(Debug, Clone, Serialize)]
pub struct ConsumerSnapshot {
    pub streams: Vec<StreamSnapshot>,
    pub models: Vec<ModelSnapshot>,
    pub ingest: IngestSnapshot,
    pub health: Health,
    pub membership: Membership,
    pub elapsed_s: f64,
    /// Seconds from the first message to now: the time spent consuming, not joining.
    pub active_s: f64,
    pub events_per_s: f64,
    /// Messages written to this member's partitions and not yet analysed.
    pub unconsumed: u64,
    /// From writing to the end of analysis: per stream (in `streams` order) and for all of
    /// them, over the last ten seconds and over the whole run.
    pub e2e: E2e,
}

/// End-to-end latency figures (see `analytics::latency`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct E2e {
    pub streams: Vec<Option<Latency>>,
    pub recent: Option<Latency>,
    pub total: Option<Latency>,
}

/// Runtime control of the consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerControl {
    ClearAlerts,
    Shutdown,
}

/// How the consumer starts.
#[derive(Debug, Clone)]
pub struct ConsumerPlan {
    pub streams: Vec<StreamKind>,
    pub group: String,
    pub from_beginning: bool,
    /// Stop once this many messages were consumed or lost (0 = no limit).
    pub count: u64,
    pub duration: Option<Duration>,
    pub tick: Duration,
    /// Send every new alert as it opens (`consume` prints them); a screen reads the alert
    /// books in the snapshots instead.
    pub forward_alerts: bool,
    /// Send every analysed event (`consume --events`).
    pub forward_events: bool,
    /// Stop once every owned partition is read to its end (`consume --until-end`).
    pub until_end: bool,
    /// Where to publish each stream's lag for a producer paced by it ("max").
    pub gate: Option<Arc<crate::kafka::gate::LagGate>>,
    /// Where the models are saved and read back (`None`: they start afresh and are not kept).
    pub model_store: Option<ModelStore>,
    /// Whether each topic's events are analysed merged in event time across its partitions,
    /// so that a backlog is learnt from as live (see `order`).
    pub order: Order,
    /// Analyse only this producer's events and count the others apart (`bench`: its own
    /// run's, on topics other runs and programs write).
    pub only_producer: Option<String>,
}

/// The models' directory, and whether to ignore what it holds at the start.
#[derive(Debug, Clone)]
pub struct ModelStore {
    pub dir: std::path::PathBuf,
    pub fresh: bool,
}

impl ModelStore {
    pub fn of(settings: &Settings) -> Self {
        Self {
            dir: settings.model_dir(),
            fresh: settings.ml.fresh_models,
        }
    }
}

pub struct ConsumerHandle {
    control: Sender<ConsumerControl>,
    thread: Option<JoinHandle<()>>,
}

/// What the consumer thread shares with librdkafka's callbacks.
struct Shared {
    health: Arc<Mutex<Health>>,
    membership: Arc<Mutex<Membership>>,
    assignments: Arc<AtomicU64>,
    cluster_changes: Arc<AtomicU64>,
    offset_resets: Arc<AtomicU64>,
}

impl ConsumerHandle {
    /// Subscribes (failing early on bad properties) and starts the consumer thread, which
    /// publishes into `out` until told to stop or its limits are reached.
    pub fn spawn(
        settings: &Settings,
        brokers: &str,
        plan: ConsumerPlan,
        out: UnboundedSender<ConsumerEvent>,
    ) -> Result<Self, KafkaError> {
        let topics: Vec<(String, StreamKind)> = plan
            .streams
            .iter()
            .map(|&k| (settings.topic(k), k))
            .collect();
        let shared = Shared {
            health: Arc::default(),
            membership: Arc::new(Mutex::new(Membership {
                group: plan.group.clone(),
                ..Membership::default()
            })),
            assignments: Arc::default(),
            cluster_changes: Arc::default(),
            offset_resets: Arc::default(),
        };
        let ctx = ConsumerCtx {
            health: shared.health.clone(),
            membership: shared.membership.clone(),
            assignments: shared.assignments.clone(),
            cluster_changes: shared.cluster_changes.clone(),
            offset_resets: shared.offset_resets.clone(),
            streams: topics.iter().cloned().collect(),
        };
        let consumer = create(settings, brokers, &plan, ctx)?;
        let names: Vec<&str> = topics.iter().map(|(t, _)| t.as_str()).collect();
        consumer
            .subscribe(&names)
            .map_err(|e| crate::kafka::client_error(settings, &e))?;
        let (tx, rx) = std::sync::mpsc::channel();
        let io = engine::Io {
            consumer: Arc::new(consumer),
            shared,
            out,
        };
        let engine = Engine::new(settings, &plan, &topics, io)?;
        let thread = std::thread::Builder::new()
            .name("consumer".into())
            .spawn(move || engine.run(plan, rx))
            .map_err(|source| KafkaError::Thread {
                role: "consumer",
                source,
            })?;
        Ok(Self {
            control: tx,
            thread: Some(thread),
        })
    }

    pub fn control(&self, c: ConsumerControl) {
        let _ = self.control.send(c);
    }

    /// Asks the thread to commit and stop, and waits for it.
    pub fn shutdown(mut self) {
        let _ = self.control.send(ConsumerControl::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Asks the thread to commit and stop, and waits for it at most `limit`; false if it was
    /// still closing then. The thread commits before it closes the consumer, and closing
    /// waits for the group's coordinator, which a broker outage takes away for the whole
    /// session timeout: past `limit` the close goes on by itself while the process ends.
    pub fn shutdown_within(mut self, limit: Duration) -> bool {
        let _ = self.control.send(ConsumerControl::Shutdown);
        let Some(t) = self.thread.take() else {
            return true;
        };
        let deadline = std::time::Instant::now() + limit;
        while !t.is_finished() {
            if std::time::Instant::now() >= deadline {
                tracing::warn!(?limit, "the consumer is still closing; not waiting for it");
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = t.join();
        true
    }
}

impl Drop for ConsumerHandle {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = self.control.send(ConsumerControl::Shutdown);
            let _ = t.join();
        }
    }
}

fn create(
    settings: &Settings,
    brokers: &str,
    plan: &ConsumerPlan,
    ctx: ConsumerCtx,
) -> Result<BaseConsumer<ConsumerCtx>, KafkaError> {
    let cfg = super::client_config(settings, brokers, |c| {
        c.set("group.id", &plan.group);
        // At least once: an offset is stored only after its message is analysed, and
        // librdkafka commits the stored offsets every second (and on shutdown, synchronously).
        c.set("enable.auto.commit", "true");
        c.set("enable.auto.offset.store", "false");
        c.set("auto.commit.interval.ms", "1000");
        let reset = if plan.from_beginning {
            "earliest"
        } else {
            "latest"
        };
        c.set("auto.offset.reset", reset);
        // Lag and broker health come from the statistics callback, once a second.
        c.set("statistics.interval.ms", "1000");
        // A fetch returns within 5 ms even when little is waiting: a quiet topic shows
        // new events at once.
        c.set("fetch.wait.max.ms", "5");
        // Once the messages fetched ahead reach `queued.min.messages` (counted over the
        // whole consumer queue, all partitions together), librdkafka stops fetching each
        // partition for this long. Its default, 1 s, stalled every backlog: the queue
        // drained in a fraction of that and the pipeline stood idle for the rest
        // (docs/perf-journal.md, "The one-second stall").
        c.set("fetch.queue.backoff.ms", "10");
        // A bound on the messages fetched ahead: lower than librdkafka's 100,000, it holds
        // less memory at the peak of a backlog and reads it as fast (docs/perf-journal.md).
        c.set("queued.min.messages", "20000");
        // A fetch asks for up to 64 KiB per partition (librdkafka's default is 1 MiB; a
        // larger producer batch still comes whole). A backlog then comes in shorter runs of
        // each partition in turn, and the merge in event time (`order`) holds fewer events
        // while it waits for every partition's next run: a large backlog no longer brings
        // the merge to its limit (past which order gives way), and the peak memory falls to
        // about a third (docs/perf-journal.md, "Reading a backlog in shorter runs").
        c.set("max.partition.fetch.bytes", "65536");
        // A member that stops answering leaves the group within 10 s, so its partitions
        // move on to the others.
        c.set("session.timeout.ms", "10000");
        // A member learns of a rebalance (another member joined or left) from its next
        // heartbeat: within a second instead of librdkafka's three, so the others do not
        // wait for it to rejoin.
        c.set("heartbeat.interval.ms", "1000");
    });
    cfg.create_with_context(ctx)
        .map_err(|e| crate::kafka::client_error(settings, &e))
}

/// Microseconds since the epoch.
fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// A problem worth showing: logged, and sent to the screen or stderr.
fn problem(out: &UnboundedSender<ConsumerEvent>, why: String) {
    tracing::warn!("{why}");
    let _ = out.send(ConsumerEvent::Problem(why));
}
