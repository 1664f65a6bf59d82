//! The consumer thread's work: poll, decode each message through its topic's codec, account
//! for it, analyse what is new, publish a snapshot per tick, commit on the way out.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError as RdError;
use rdkafka::message::{BorrowedMessage, Message};
use tokio::sync::mpsc::UnboundedSender;

use super::context::ConsumerCtx;
use super::order::Merge;
use super::position::{Positions, Step};
use super::{
    AnalysedEvent, ConsumerControl, ConsumerEvent, ConsumerPlan, ConsumerSnapshot, E2e, Shared,
};
use crate::config::Settings;
use crate::kafka::gate::LagGate;
use streamwatch::analytics::ingest::{Arrival, IngestBook, Origin};
use streamwatch::analytics::latency::LatencyBook;
use streamwatch::analytics::{Alert, Observation, StreamAnalyzer};
use streamwatch::codec::{Codec, Notes};
use streamwatch::ml::findings::{self, Subject};
use streamwatch::ml::{MlConfig, StreamModel, store};
use streamwatch::streams::{Event, StreamKind, Timestamp};

/// Everything the consumer keeps for one topic.
struct Topic {
    name: String,
    kind: StreamKind,
    codec: Codec,
    analyzer: StreamAnalyzer,
    model: StreamModel,
    /// From each message's writing to the end of its analysis.
    latency: LatencyBook,
    /// The event every message of the topic is decoded into (no allocation per message).
    scratch: Event,
}

pub(super) struct Engine {
    topics: Vec<Topic>,
    ingest: IngestBook,
    /// What the last message carried that the analysis did not use.
    notes: Notes,
    pending_alerts: Vec<Alert>,
    forward_alerts: bool,
    forward_events: bool,
    first_message: Option<Instant>,
    /// The assignments seen so far (see `ConsumerCtx::assignments`).
    assignments: u64,
    /// The cluster id changes seen so far (see `ConsumerCtx::cluster_changes`).
    cluster_changes: u64,
    positions: Positions,
    /// Where a producer paced by this consumer learns where it is.
    gate: Option<Arc<LagGate>>,
    /// Problems found before there was anyone to tell (a model file refused).
    problems: Vec<String>,
    /// Events held until their turn in event time (`Order::Time`, `StrictTime`; see `order`).
    merge: Option<Merge>,
    /// Whose events are analysed, when only one producer's are (see `ConsumerPlan`).
    only_producer: Option<String>,
}

impl Engine {
    pub fn new(settings: &Settings, plan: &ConsumerPlan, topics: &[(String, StreamKind)]) -> Self {
        let (analyzer, ml) = (settings.analyzer(), settings.ml());
        let positions = Positions::new(topics, plan.from_beginning);
        let mut problems = Vec::new();
        let topics = topics
            .iter()
            .map(|(name, kind)| Topic {
                name: name.clone(),
                kind: *kind,
                codec: settings.codec(*kind).clone(),
                analyzer: StreamAnalyzer::new(*kind, &analyzer),
                model: open_model(name, *kind, &ml, plan.model_store.as_ref(), &mut problems),
                scratch: Event::empty(*kind),
                latency: LatencyBook::default(),
            })
            .collect();
        Self {
            problems,
            merge: plan.order.merge(),
            topics,
            ingest: IngestBook::default(),
            notes: Notes::default(),
            pending_alerts: Vec::new(),
            forward_alerts: plan.forward_alerts,
            forward_events: plan.forward_events,
            first_message: None,
            assignments: 0,
            cluster_changes: 0,
            positions,
            gate: plan.gate.clone(),
            only_producer: plan.only_producer.clone(),
        }
    }

    pub fn run(
        mut self,
        consumer: BaseConsumer<ConsumerCtx>,
        shared: Shared,
        plan: ConsumerPlan,
        control: Receiver<ConsumerControl>,
        out: UnboundedSender<ConsumerEvent>,
    ) {
        let started = Instant::now();
        let deadline = plan.duration.map(|d| started + d);
        let mut next_tick = started + plan.tick;
        let mut last_count = 0u64;
        let mut last_tick = started;
        let mut rate = 0.0;
        for why in self.problems.drain(..) {
            problem(&out, why);
        }
        loop {
            match control.try_recv() {
                Ok(ConsumerControl::Shutdown) | Err(TryRecvError::Disconnected) => break,
                Ok(ConsumerControl::ClearAlerts) => self
                    .topics
                    .iter_mut()
                    .for_each(|t| t.analyzer.clear_alerts()),
                Err(TryRecvError::Empty) => {}
            }
            if plan.count > 0 && self.ingest.consumed() + self.ingest.lost() >= plan.count {
                break;
            }
            if plan.until_end && self.positions.caught_up() {
                break;
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                break;
            }
            // A snapshot per tick while events flow; when idle, one a second (health, lag).
            let idle = self.ingest.consumed() == last_count;
            if now >= next_tick && (!idle || now - last_tick >= Duration::from_secs(1)) {
                // The rate over a second or more, whatever the tick: steady on the screen.
                if now - last_tick >= Duration::from_secs(1) {
                    rate = (self.ingest.consumed() - last_count) as f64
                        / (now - last_tick).as_secs_f64();
                    (last_count, last_tick) = (self.ingest.consumed(), now);
                }
                self.flush_alerts(&out);
                let snap = self.snapshot(&shared, started.elapsed().as_secs_f64(), rate);
                let _ = out.send(ConsumerEvent::Snapshot(Box::new(snap)));
            }
            if now >= next_tick {
                next_tick = now + plan.tick;
            }
            self.poll_batch(&consumer, &shared, &out, plan.count);
            self.release(&out, false);
            self.topics.iter_mut().for_each(|t| t.model.poll());
            self.note_cluster_change(&shared, &out);
            self.positions.refresh(&consumer);
            if let Some(gate) = &self.gate {
                self.positions.publish(gate);
            }
        }
        self.finish(&consumer, &shared, started, &out);
    }

    /// Commits what was analysed and publishes the final snapshot.
    fn finish(
        &mut self,
        consumer: &BaseConsumer<ConsumerCtx>,
        shared: &Shared,
        started: Instant,
        out: &UnboundedSender<ConsumerEvent>,
    ) {
        self.release(out, true);
        commit(consumer, shared, out);
        for t in &mut self.topics {
            t.model.settle();
            if let Err(e) = t.model.save() {
                problem(out, e.to_string());
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        let active = self
            .first_message
            .map_or(elapsed, |t| t.elapsed().as_secs_f64());
        let rate = self.ingest.consumed() as f64 / active.max(1e-3);
        self.flush_alerts(out);
        let snap = self.snapshot(shared, elapsed, rate);
        let _ = out.send(ConsumerEvent::Finished(Box::new(snap)));
    }

    /// Processes up to a few thousand messages, returning early when none is waiting.
    fn poll_batch(
        &mut self,
        consumer: &BaseConsumer<ConsumerCtx>,
        shared: &Shared,
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
            let polled = consumer.poll(wait);
            // Rebalances run inside `poll`, before the message it returns.
            self.note_assignments(consumer, shared, out);
            match polled {
                None => return,
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "poll error");
                    let _ = out.send(ConsumerEvent::Problem(format!("consume error: {e}")));
                    return;
                }
                Some(Ok(msg)) => {
                    self.first_message.get_or_insert_with(Instant::now);
                    self.process(consumer, &msg, out);
                    if let Err(e) = consumer.store_offset_from_message(&msg) {
                        tracing::warn!(error = %e, "offset store failed");
                    }
                }
            }
        }
    }

    /// Tells the ingest book and the positions when the group assigned or revoked partitions
    /// since the last poll.
    fn note_assignments(
        &mut self,
        consumer: &BaseConsumer<ConsumerCtx>,
        shared: &Shared,
        out: &UnboundedSender<ConsumerEvent>,
    ) {
        let n = shared.assignments.load(Ordering::Acquire);
        if n != self.assignments {
            // What is held was this consumer's to analyse: before the partitions move on.
            self.release(out, true);
            self.assignments = n;
            self.ingest.reassigned();
            self.positions.assigned(consumer);
            if let Some(gate) = &self.gate {
                gate.reassigned(!self.positions.is_empty());
                self.positions.publish(gate);
            }
        }
    }

    /// A broker answered with another cluster id: it restarted without its data. Every
    /// partition's log is then a new one: its trackers carry on across it (a producer's
    /// `seq` shows what the old log held and this consumer never read, as loss).
    fn note_cluster_change(&mut self, shared: &Shared, out: &UnboundedSender<ConsumerEvent>) {
        let n = shared.cluster_changes.load(Ordering::Acquire);
        if n == self.cluster_changes {
            return;
        }
        self.cluster_changes = n;
        self.ingest.log_replaced();
        self.positions.log_replaced();
        problem(
            out,
            "the broker now answers as another cluster: it restarted without its data; \
             reading on from its new logs (events it never delivered count as lost)"
                .into(),
        );
    }

    /// Says where a message stood in its partition: retention that deleted messages before
    /// they were read (counted as lost), or a log that went back (a broker that lost its data).
    fn place(
        &mut self,
        consumer: &BaseConsumer<ConsumerCtx>,
        index: usize,
        msg: &BorrowedMessage<'_>,
        out: &UnboundedSender<ConsumerEvent>,
    ) {
        let time = msg.timestamp().to_millis();
        let (partition, offset) = (msg.partition(), msg.offset());
        match self
            .positions
            .seen(consumer, (index, partition), offset, time)
        {
            Step::InOrder => {}
            Step::Expired(n) => {
                self.ingest.expired(self.topics[index].kind, n);
                let why = format!(
                    "{} [{partition}]: {n} messages before offset {offset} were deleted by the \
                     broker's retention before they could be read (counted as lost)",
                    msg.topic()
                );
                problem(out, why);
            }
            Step::Rewound { from } => {
                self.ingest.rewound(self.topics[index].kind, partition);
                let why = format!(
                    "{} [{partition}] went back from offset {from} to {offset}: the broker lost its \
                     data; reading on from there (events it never delivered count as lost)",
                    msg.topic()
                );
                problem(out, why);
            }
        }
    }

    fn process(
        &mut self,
        consumer: &BaseConsumer<ConsumerCtx>,
        msg: &BorrowedMessage<'_>,
        out: &UnboundedSender<ConsumerEvent>,
    ) {
        let Some(index) = self.topics.iter().position(|t| t.name == msg.topic()) else {
            return;
        };
        self.place(consumer, index, msg, out);
        let topic = &mut self.topics[index];
        let time = msg.timestamp().to_millis().map(Timestamp);
        let event = &mut topic.scratch;
        if let Err(r) = topic
            .codec
            .decode_into(msg.payload(), time, event, &mut self.notes)
        {
            self.ingest.reject(r);
            return;
        }
        // Another producer's event is left out whole: not consumed, analysed or noted.
        if self
            .only_producer
            .as_deref()
            .is_some_and(|p| p != event.producer_id())
        {
            self.ingest.foreign();
            return;
        }
        if !self.notes.is_empty() {
            self.ingest.note(&self.notes);
        }
        let at = Origin {
            stream: event.kind(),
            partition: msg.partition(),
            offset: msg.offset(),
        };
        let arrival = self
            .ingest
            .accept(at, event.producer_id(), event.key(), event.seq());
        // A duplicate was analysed when it first came: it is not counted twice.
        if arrival == Arrival::Duplicate {
            return;
        }
        let forward = Forward {
            events: self.forward_events,
            alerts: self.forward_alerts.then_some(&mut self.pending_alerts),
            out,
        };
        let written_ms = time.map_or_else(|| event.timestamp().millis(), |t| t.millis());
        match &mut self.merge {
            Some(merge) => merge.hold(index, event.clone(), at, written_ms),
            None => analyse(
                &mut topic.analyzer,
                &mut topic.model,
                &mut topic.latency,
                (event, at, written_ms),
                forward,
            ),
        }
    }

    /// In ordered mode, analyses the held events whose turn has come (all of them with
    /// `all`: at the end, and before the partitions change hands).
    fn release(&mut self, out: &UnboundedSender<ConsumerEvent>, all: bool) {
        let Some(merge) = &mut self.merge else { return };
        if merge.is_empty() {
            return;
        }
        let owned = self.positions.owned();
        let positions = &self.positions;
        while let Some((index, held)) = merge.next(&owned, |t, p| positions.drained(t, p), all) {
            let Some(topic) = self.topics.get_mut(index) else {
                continue;
            };
            let forward = Forward {
                events: self.forward_events,
                alerts: self.forward_alerts.then_some(&mut self.pending_alerts),
                out,
            };
            analyse(
                &mut topic.analyzer,
                &mut topic.model,
                &mut topic.latency,
                (&held.event, held.at, held.written_ms),
                forward,
            );
        }
    }

    fn flush_alerts(&mut self, out: &UnboundedSender<ConsumerEvent>) {
        for a in self.pending_alerts.drain(..) {
            let _ = out.send(ConsumerEvent::Alert(Box::new(a)));
        }
    }

    fn snapshot(&self, shared: &Shared, elapsed_s: f64, rate: f64) -> ConsumerSnapshot {
        let mut health = shared.health.lock().map(|h| h.clone()).unwrap_or_default();
        health.lag = self.positions.lag(Timestamp::now().millis());
        ConsumerSnapshot {
            streams: self.topics.iter().map(|t| t.analyzer.snapshot()).collect(),
            models: self.topics.iter().map(|t| t.model.snapshot()).collect(),
            ingest: self.ingest.snapshot(),
            health,
            membership: shared
                .membership
                .lock()
                .map(|m| m.clone())
                .unwrap_or_default(),
            elapsed_s,
            active_s: self
                .first_message
                .map_or(0.0, |t| t.elapsed().as_secs_f64()),
            events_per_s: rate,
            unconsumed: self.positions.unconsumed(),
            e2e: self.e2e(),
        }
    }

    fn e2e(&self) -> E2e {
        let now = now_us();
        let mut all = LatencyBook::default();
        for t in &self.topics {
            all.merge(&t.latency);
        }
        E2e {
            streams: self.topics.iter().map(|t| t.latency.recent(now)).collect(),
            recent: all.recent(now),
            total: all.total(),
        }
    }
}

/// Microseconds since the epoch.
fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// Where an analysed event's results go besides the analyzer and the model.
struct Forward<'a> {
    events: bool,
    alerts: Option<&'a mut Vec<Alert>>,
    out: &'a UnboundedSender<ConsumerEvent>,
}

/// The rules, the rolling statistics and the models on one new event, and the models'
/// alerts beside the rules'.
/// `written_ms`: when the message was written, for the end-to-end latency.
fn analyse(
    analyzer: &mut StreamAnalyzer,
    model: &mut StreamModel,
    latency: &mut LatencyBook,
    (event, at, written_ms): (&Event, Origin, i64),
    forward: Forward<'_>,
) {
    let mut obs = analyzer.observe(event);
    let verdict = model.observe(&obs);
    let subject = Subject {
        entity: event.key(),
        time: event.timestamp(),
    };
    findings::file(model, analyzer, &mut obs, &verdict, subject);
    latency.record(now_us(), written_ms * 1000);
    if forward.events {
        let analysed = analysed_event(at, event, &obs, analyzer.rule_names());
        let _ = forward
            .out
            .send(ConsumerEvent::Analysed(Box::new(analysed)));
    }
    if let Some(alerts) = forward.alerts {
        alerts.extend(obs.new_alerts);
    }
}

/// A stream's models: from the store's file for the topic when there is a readable one
/// (a refused file is a problem, and training starts afresh), saved there from now on.
fn open_model(
    topic: &str,
    kind: StreamKind,
    ml: &MlConfig,
    at: Option<&super::ModelStore>,
    problems: &mut Vec<String>,
) -> StreamModel {
    let model = StreamModel::new(kind, ml);
    let Some(at) = at else { return model };
    let path = store::path_for(&at.dir, topic);
    let mut model = model.with_store(path.clone());
    if at.fresh {
        return model;
    }
    match store::load(&path, kind) {
        Ok(Some(saved)) => {
            tracing::info!(path = %path.display(), version = saved.version, "models restored");
            model.restore(saved);
        }
        Ok(None) => {}
        Err(e) => problems.push(e.to_string()),
    }
    model
}

/// The final, synchronous commit. With every broker down it would wait out the session
/// timeout for a coordinator that is gone: it is skipped, and the group resumes from its last
/// commit (at least once: what came after is analysed again).
fn commit(
    consumer: &BaseConsumer<ConsumerCtx>,
    shared: &Shared,
    out: &UnboundedSender<ConsumerEvent>,
) {
    let down = shared
        .health
        .lock()
        .is_ok_and(|h| h.brokers > 0 && h.brokers_up == 0);
    if down {
        let why = "final commit skipped: no broker is up (the group resumes from its last commit)";
        let _ = out.send(ConsumerEvent::Problem(why.into()));
        return;
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
}

/// A problem worth showing: logged, and sent to the screen or stderr.
fn problem(out: &UnboundedSender<ConsumerEvent>, why: String) {
    tracing::warn!("{why}");
    let _ = out.send(ConsumerEvent::Problem(why));
}

fn analysed_event(
    at: Origin,
    e: &Event,
    obs: &Observation,
    rules: &'static [&'static str],
) -> AnalysedEvent {
    AnalysedEvent {
        stream: at.stream,
        partition: at.partition,
        offset: at.offset,
        producer: e.producer_id().to_string(),
        entity: e.key().to_string(),
        seq: e.seq(),
        rules: rules
            .iter()
            .enumerate()
            .filter(|(i, _)| obs.fired & (1 << i) != 0)
            .map(|(_, r)| *r)
            .collect(),
    }
}
