//! The consumer task the TUI and `consume` share: one thread that polls librdkafka, decodes
//! each message (bad bytes become counted rejects), runs the stream's analyzer and model, and
//! publishes a snapshot per tick plus alerts as they fire. The screen therefore costs the same
//! at 10 events/s and at 500,000.
//!
//! Offsets are stored after processing and committed by librdkafka in the background, and
//! synchronously on shutdown: at-least-once. Lag and broker health come from librdkafka's
//! statistics callback.

use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::KafkaError as RdError;
use rdkafka::message::Message;
use rdkafka::statistics::Statistics;
use serde::Serialize;
use tokio::sync::mpsc::UnboundedSender;

use super::KafkaError;
use crate::config::Settings;
use streamwatch::analytics::ingest::{IngestBook, IngestSnapshot};
use streamwatch::analytics::{Alert, StreamAnalyzer, StreamSnapshot};
use streamwatch::codec;
use streamwatch::ml::{ModelSnapshot, StreamModel};
use streamwatch::streams::{Event, StreamKind};

/// Lag of one partition as librdkafka last reported it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: i32,
    pub high: i64,
    pub lag: i64,
}

/// Broker connection state from the statistics callback and the error callback.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Health {
    pub brokers_up: usize,
    pub brokers: usize,
    pub rtt_ms: f64,
    pub lag: Vec<PartitionLag>,
    pub last_error: Option<String>,
}

impl Health {
    pub fn total_lag(&self) -> i64 {
        self.lag.iter().map(|l| l.lag.max(0)).sum()
    }
}

struct ConsumerCtx {
    health: Arc<Mutex<Health>>,
}

impl ClientContext for ConsumerCtx {
    fn stats(&self, s: Statistics) {
        let mut lag: Vec<PartitionLag> = s
            .topics
            .iter()
            .flat_map(|(topic, t)| {
                t.partitions
                    .values()
                    .filter(|p| p.partition >= 0 && p.desired)
                    .map(move |p| PartitionLag {
                        topic: topic.clone(),
                        partition: p.partition,
                        high: p.hi_offset,
                        lag: p.consumer_lag.max(0),
                    })
            })
            .collect();
        lag.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        let real: Vec<_> = s.brokers.values().filter(|b| b.nodeid >= 0).collect();
        let up = real.iter().filter(|b| b.state == "UP").count();
        let rtts: Vec<f64> = real
            .iter()
            .filter_map(|b| b.rtt.as_ref().map(|w| w.avg as f64 / 1000.0))
            .collect();
        if let Ok(mut h) = self.health.lock() {
            h.lag = lag;
            h.brokers = real.len();
            h.brokers_up = up;
            h.rtt_ms = if rtts.is_empty() {
                0.0
            } else {
                rtts.iter().sum::<f64>() / rtts.len() as f64
            };
            if up > 0 {
                h.last_error = None;
            }
        }
    }

    fn error(&self, error: RdError, reason: &str) {
        tracing::warn!(%error, reason, "consumer client error");
        if let Ok(mut h) = self.health.lock() {
            h.last_error = Some(format!("{error}: {reason}"));
        }
    }
}

impl ConsumerContext for ConsumerCtx {}

/// What the consumer publishes.
#[derive(Debug, Clone)]
pub enum ConsumerEvent {
    Alert(Box<Alert>),
    Snapshot(Box<ConsumerSnapshot>),
    /// A problem worth showing (commit failed, poll error).
    Problem(String),
    Finished(Box<ConsumerSnapshot>),
}

/// One tick's view of the whole consumer.
#[derive(Debug, Clone, Serialize)]
pub struct ConsumerSnapshot {
    pub streams: Vec<StreamSnapshot>,
    pub models: Vec<ModelSnapshot>,
    pub ingest: IngestSnapshot,
    pub health: Health,
    pub elapsed_s: f64,
    /// Seconds from the first message to now: the time spent consuming, not joining.
    pub active_s: f64,
    pub events_per_s: f64,
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
    /// Stop after this many messages (0 = no limit).
    pub count: u64,
    pub duration: Option<Duration>,
    pub tick: Duration,
    /// Send every new alert as it opens (`consume` prints them); a screen reads the alert
    /// books in the snapshots instead.
    pub forward_alerts: bool,
}

pub struct ConsumerHandle {
    control: Sender<ConsumerControl>,
    thread: Option<JoinHandle<()>>,
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
        let health = Arc::new(Mutex::new(Health::default()));
        let consumer = create(settings, brokers, &plan, &health)?;
        let topics: Vec<String> = plan
            .streams
            .iter()
            .map(|k| settings.topic(k.topic()))
            .collect();
        let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer.subscribe(&refs).map_err(KafkaError::Client)?;
        let (tx, rx) = std::sync::mpsc::channel();
        let engine = Engine::new(settings, &plan, &topics);
        let thread = std::thread::Builder::new()
            .name("consumer".into())
            .spawn(move || engine.run(consumer, health, plan, rx, out))
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
    health: &Arc<Mutex<Health>>,
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
        // A fetch returns within 50 ms even when little is waiting: a quiet topic shows
        // new events at once.
        c.set("fetch.wait.max.ms", "50");
        // A member that stops answering leaves the group within 10 s, so its partitions
        // move on to the others.
        c.set("session.timeout.ms", "10000");
    });
    cfg.create_with_context(ConsumerCtx {
        health: health.clone(),
    })
    .map_err(KafkaError::Client)
}

/// The per-stream work: analyzer and model, indexed by topic.
struct Engine {
    topics: Vec<(String, StreamKind)>,
    analyzers: Vec<StreamAnalyzer>,
    models: Vec<StreamModel>,
    /// One event per topic that every message is decoded into (no allocation per message).
    scratch: Vec<Event>,
    ingest: IngestBook,
    pending_alerts: Vec<Alert>,
    forward_alerts: bool,
    first_message: Option<Instant>,
}

impl Engine {
    fn new(settings: &Settings, plan: &ConsumerPlan, topics: &[String]) -> Self {
        let cfg = settings.analyzer();
        let ml = settings.ml();
        Self {
            topics: topics
                .iter()
                .cloned()
                .zip(plan.streams.iter().copied())
                .collect(),
            analyzers: plan
                .streams
                .iter()
                .map(|&k| StreamAnalyzer::new(k, &cfg))
                .collect(),
            models: plan
                .streams
                .iter()
                .map(|&k| StreamModel::new(k, &ml))
                .collect(),
            scratch: plan.streams.iter().map(|&k| Event::empty(k)).collect(),
            ingest: IngestBook::default(),
            pending_alerts: Vec::new(),
            forward_alerts: plan.forward_alerts,
            first_message: None,
        }
    }

    fn run(
        mut self,
        consumer: BaseConsumer<ConsumerCtx>,
        health: Arc<Mutex<Health>>,
        plan: ConsumerPlan,
        control: Receiver<ConsumerControl>,
        out: UnboundedSender<ConsumerEvent>,
    ) {
        let started = Instant::now();
        let deadline = plan.duration.map(|d| started + d);
        let mut next_tick = started + plan.tick;
        let mut last_count = 0u64;
        let mut last_tick = started;
        loop {
            match control.try_recv() {
                Ok(ConsumerControl::Shutdown) | Err(TryRecvError::Disconnected) => break,
                Ok(ConsumerControl::ClearAlerts) => self
                    .analyzers
                    .iter_mut()
                    .for_each(StreamAnalyzer::clear_alerts),
                Err(TryRecvError::Empty) => {}
            }
            if plan.count > 0 && self.ingest.consumed() >= plan.count {
                break;
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                break;
            }
            // A snapshot per tick while events flow; when idle, one a second (health, lag).
            let idle = self.ingest.consumed() == last_count;
            if now >= next_tick && (!idle || now - last_tick >= Duration::from_secs(1)) {
                let rate = (self.ingest.consumed() - last_count) as f64
                    / (now - last_tick).as_secs_f64().max(1e-3);
                (last_count, last_tick) = (self.ingest.consumed(), now);
                self.publish(&out, &health, started, rate);
            }
            if now >= next_tick {
                next_tick = now + plan.tick;
            }
            self.poll_batch(&consumer, &out, plan.count);
        }
        if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
            // Nothing consumed yet means nothing to commit; anything else is worth saying.
            if !matches!(
                e,
                RdError::ConsumerCommit(rdkafka::types::RDKafkaErrorCode::NoOffset)
            ) {
                let _ = out.send(ConsumerEvent::Problem(format!("final commit failed: {e}")));
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        let active = self
            .first_message
            .map_or(elapsed, |t| t.elapsed().as_secs_f64());
        let rate = self.ingest.consumed() as f64 / active.max(1e-3);
        self.flush_alerts(&out);
        let _ = out.send(ConsumerEvent::Finished(Box::new(
            self.snapshot(&health, elapsed, rate),
        )));
    }

    /// Processes up to a few thousand messages, returning early when none is waiting.
    fn poll_batch(
        &mut self,
        consumer: &BaseConsumer<ConsumerCtx>,
        out: &UnboundedSender<ConsumerEvent>,
        limit: u64,
    ) {
        for i in 0..4096 {
            if limit > 0 && self.ingest.consumed() >= limit {
                return;
            }
            let wait = if i == 0 {
                Duration::from_millis(20)
            } else {
                Duration::ZERO
            };
            match consumer.poll(wait) {
                None => return,
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "poll error");
                    let _ = out.send(ConsumerEvent::Problem(format!("consume error: {e}")));
                    return;
                }
                Some(Ok(msg)) => {
                    self.first_message.get_or_insert_with(Instant::now);
                    self.process(msg.topic(), msg.payload());
                    if let Err(e) = consumer.store_offset_from_message(&msg) {
                        tracing::warn!(error = %e, "offset store failed");
                    }
                }
            }
        }
    }

    fn process(&mut self, topic: &str, payload: Option<&[u8]>) {
        let Some(i) = self.topics.iter().position(|(t, _)| t == topic) else {
            return;
        };
        let kind = self.topics[i].1;
        let event = &mut self.scratch[i];
        match codec::decode_into(kind, payload, event) {
            Err(r) => self.ingest.reject(r),
            Ok(()) => {
                self.ingest.accept(kind, event.producer_id(), event.seq());
                let obs = self.analyzers[i].observe(event);
                self.models[i].observe(&obs);
                if self.forward_alerts {
                    self.pending_alerts.extend(obs.new_alerts);
                }
            }
        }
    }

    fn flush_alerts(&mut self, out: &UnboundedSender<ConsumerEvent>) {
        for a in self.pending_alerts.drain(..) {
            let _ = out.send(ConsumerEvent::Alert(Box::new(a)));
        }
    }

    fn publish(
        &mut self,
        out: &UnboundedSender<ConsumerEvent>,
        health: &Arc<Mutex<Health>>,
        started: Instant,
        rate: f64,
    ) {
        self.flush_alerts(out);
        let snap = self.snapshot(health, started.elapsed().as_secs_f64(), rate);
        let _ = out.send(ConsumerEvent::Snapshot(Box::new(snap)));
    }

    fn snapshot(&self, health: &Arc<Mutex<Health>>, elapsed_s: f64, rate: f64) -> ConsumerSnapshot {
        ConsumerSnapshot {
            streams: self
                .analyzers
                .iter()
                .map(StreamAnalyzer::snapshot)
                .collect(),
            models: self.models.iter().map(StreamModel::snapshot).collect(),
            ingest: self.ingest.snapshot(),
            health: health.lock().map(|h| h.clone()).unwrap_or_default(),
            elapsed_s,
            active_s: self
                .first_message
                .map_or(0.0, |t| t.elapsed().as_secs_f64()),
            events_per_s: rate,
        }
    }
}
